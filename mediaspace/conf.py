"""The portal's own settings with their defaults, so a host project only sets what it changes.

Every module reads them with `setting(name)`. The stand-alone project (mediaspace/project/settings.py) sets one
only when the environment names it, so each default is written here alone.
"""
from django.conf import settings

DEFAULTS = {
    # Role of new users: viewerRole, privateOnlyRole, adminRole or unmoderatedAdminRole.
    "MEDIASPACE_DEFAULT_ROLE": "privateOnlyRole",
    "MEDIASPACE_PAGE_SIZE": 24,
    # Bytes of rendered pages each web process keeps while the database has not changed (mediaspace/page_cache.py):
    # My Media, category and entry pages seen again are served from memory. 0 renders every page.
    "MEDIASPACE_PAGE_CACHE_BYTES": 32 * 1024 * 1024,
    # Bytes read from a source per step while streaming into storage.
    "MEDIASPACE_INGEST_CHUNK_SIZE": 256 * 1024,
    # An import whose worker has not reported progress for this long is taken to be dead and
    # may be taken over by another worker.
    "MEDIASPACE_INGEST_LEASE_SECONDS": 90,
    # A queued import or recording not taken up by a worker for this long may have lost its task with a killed
    # cluster: it is queued again (once no task waits in the queue).
    "MEDIASPACE_QUEUED_GRACE_SECONDS": 90,
    # Seconds a signed playback URL stays valid when media is in object storage: the entry's media URL checks the
    # viewer's permission, then redirects there (the bytes never pass through Django). 0 streams the bytes
    # through Django instead, with Range, as for local files.
    "MEDIASPACE_SIGNED_URL_SECONDS": 300,
    # The portal's address as people reach it (https://portal.example.edu): links in e-mails start with it.
    "MEDIASPACE_SITE_URL": "",
    # The FFmpeg programs the media pipeline runs (mediaspace/processing/): names on PATH or full paths.
    "MEDIASPACE_FFMPEG": "ffmpeg",
    "MEDIASPACE_FFPROBE": "ffprobe",
    # Threads each FFmpeg run may use (0: FFmpeg's choice, one per core), so renders can leave cores to the rest.
    "MEDIASPACE_FFMPEG_THREADS": 0,
    # The media pipeline runs after every import (probe, pictures, web rendition): entries go Processing, then
    # Ready. Off, or where FFmpeg is not found, entries are Ready as soon as their bytes are stored.
    "MEDIASPACE_PROCESSING": True,
    # Renders at once on one machine: the workers of its processing cluster (`Q_QUEUE=processing qcluster`).
    "MEDIASPACE_PROCESSING_WORKERS": 1,
    # Minutes between two rounds of the Teams recordings sync: its schedule follows this on every `migrate` and
    # worker start, unless an administrator changed it (mediaspace/schedules.py).
    "TEAMS_SYNC_MINUTES": 5,
    # Seconds a worker holds a recording without renewing its lease: it renews it by heartbeat through every
    # step (every sixth of it), so a dead worker's recording is taken over soon after (within 3 minutes).
    "TEAMS_CLAIM_LEASE_SECONDS": 90,
    # The portal's address as Microsoft reaches it (https://portal.example.edu): Teams integrations subscribe to
    # change notifications at it. Empty, or not https (plain http only on a loopback address, for the
    # simulator): they poll every TEAMS_SYNC_MINUTES instead.
    "PUBLIC_BASE_URL": "",
    # Hours between two reconciliation rounds (a sync that asks Microsoft for everything) of an integration whose
    # notifications are healthy: they catch what Microsoft never announced. A gap in the notifications runs one
    # at once.
    "TEAMS_RECONCILIATION_HOURS": 6,
    # Microsoft endpoints are settings, so national clouds and local test servers work.
    "MICROSOFT_LOGIN_URL": "https://login.microsoftonline.com",
    "MICROSOFT_GRAPH_URL": "https://graph.microsoft.com",
    # /healthz says the cluster is down when none reported within this many seconds (they report twice a second).
    "HEALTHZ_CLUSTER_SECONDS": 60,
}


def setting(name):
    return getattr(settings, name, DEFAULTS[name])
