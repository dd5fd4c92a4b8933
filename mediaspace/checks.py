from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured

from . import encryption
from .conf import setting
from .processing import ffmpeg
from .roles import Role


@register()
def check_encryption_key(app_configs, **kwargs):
    try:
        encryption.configured_keys()
    except encryption.KeyNotSet:
        return [Error(encryption.NOT_SET, hint=encryption.HOW_TO_MAKE, id="mediaspace.E001")]
    except encryption.InvalidKey:
        return [Error(encryption.INVALID, hint=encryption.HOW_TO_MAKE, id="mediaspace.E002")]
    return []


@register(Tags.database)
def check_encrypted_values(app_configs, databases=None, **kwargs):
    """Stored secrets the configured keys cannot decrypt: the key is wrong, and starting would lose them.

    A database check, so `migrate` (before `make run` and the Procfile's release) and `check --database default`
    (before the Procfile's worker) run it; the web server runs the same probe at start-up (mediaspace/project/wsgi.py).
    """
    if not databases:
        return []
    try:
        unreadable = list(encryption.unreadable_columns(databases=databases, app_configs=app_configs))
    except ImproperlyConfigured:
        return []  # no key or an invalid one: mediaspace.E001/E002 say so
    return [Error(f"Stored values of {label} cannot be decrypted with the configured keys ({error}), so "
                  "FIELD_ENCRYPTION_KEY is wrong. Starting now would lose these secrets.",
                  hint=encryption.HINT, obj=label, id="mediaspace.E004")
            for label, error in unreadable]


@register()
def check_default_role(app_configs, **kwargs):
    value = setting("MEDIASPACE_DEFAULT_ROLE")
    if value not in Role.values or value == Role.ANONYMOUS:
        return [Error(f"MEDIASPACE_DEFAULT_ROLE is {value!r}, which is not a role a signed-in user can have.",
                      hint="Use one of: " + ", ".join(v for v in Role.values if v != Role.ANONYMOUS),
                      id="mediaspace.E003")]
    return []


@register()
def check_broker_retry(app_configs, **kwargs):
    """The database broker hands a task out again after `retry`: at or below `timeout`, a task still running would
    be handed out a second time (a no-op, as the claims decide, but a worker spent on it for hours)."""
    q_cluster = getattr(settings, "Q_CLUSTER", {})
    timeout, retry = q_cluster.get("timeout"), q_cluster.get("retry")
    if timeout and retry and retry <= timeout:
        return [Error(f"Q_RETRY ({retry} s) must exceed Q_TIMEOUT ({timeout} s), or the broker hands a task that is "
                      f"still running out a second time.", hint="Set Q_RETRY to Q_TIMEOUT plus 10 minutes.",
                      id="mediaspace.E005")]
    return []


@register()
def check_ffmpeg(app_configs, **kwargs):
    """Without FFmpeg the media pipeline is off: entries are Ready as soon as they are stored, unprocessed."""
    if not setting("MEDIASPACE_PROCESSING") or ffmpeg.available():
        return []
    return [Warning(f"FFmpeg was not found (MEDIASPACE_FFMPEG={setting('MEDIASPACE_FFMPEG')!r}, "
                    f"MEDIASPACE_FFPROBE={setting('MEDIASPACE_FFPROBE')!r}), so media processing is off: new "
                    "entries are Ready without posters, durations or web renditions, and files that browsers "
                    "cannot play stay unplayable.",
                    hint="Install FFmpeg (Debian: apt-get install ffmpeg; `make run` does it) or point these settings "
                         "at ffmpeg and ffprobe, restart, then run `manage.py media_process --missing`.",
                    id="mediaspace.W001")]
