"""The portal's own settings with their defaults, so a host project only sets what it changes."""
from django.conf import settings

DEFAULTS = {
    "MEDIASPACE_DEFAULT_ROLE": "privateOnlyRole",
    "MEDIASPACE_PAGE_SIZE": 24,
    # Bytes read from a source per step while streaming into storage.
    "MEDIASPACE_INGEST_CHUNK_SIZE": 256 * 1024,
    # An import whose worker has not reported progress for this long is taken to be dead and
    # may be taken over by another worker.
    "MEDIASPACE_INGEST_LEASE_SECONDS": 90,
    # A queued import not taken up by a worker for this long may have lost its task: it is queued again.
    "MEDIASPACE_QUEUED_GRACE_SECONDS": 90,
    # Seconds a signed playback URL stays valid when media is in object storage (0: stream through Django).
    "MEDIASPACE_SIGNED_URL_SECONDS": 300,
    "TEAMS_SYNC_MINUTES": 5,
    "TEAMS_CLAIM_LEASE_SECONDS": 90,
    "MICROSOFT_LOGIN_URL": "https://login.microsoftonline.com",
    "MICROSOFT_GRAPH_URL": "https://graph.microsoft.com",
}


def setting(name):
    return getattr(settings, name, DEFAULTS[name])
