"""Settings of the stand-alone portal. Every value comes from the environment (or an optional .env)."""
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from mediaspace.conf import DEFAULTS as APP_DEFAULTS
from mediaspace.encryption import fernet_keys, key_list

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)
# Values marked sensitive (tokens, secrets) are blanked on the debug page too, not only in mailed reports,
# and in the query string as well as in a POST body.
DEFAULT_EXCEPTION_REPORTER_FILTER = "mediaspace.project.debug.AlwaysSafeExceptionReporterFilter"
DEFAULT_EXCEPTION_REPORTER = "mediaspace.project.debug.QuerySafeExceptionReporter"
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. `make run` writes one into .env; elsewhere set it in the environment."
    )
# Several keys, comma separated, to rotate: the first encrypts, every one decrypts (a list is what
# django-encrypted-model-fields turns into a MultiFernet; a comma-separated string would be one invalid key).
# `manage.py rotate_encryption_key` re-encrypts everything with the first; docs/operations.md has the steps.
FIELD_ENCRYPTION_KEY = key_list(env.str("FIELD_ENCRYPTION_KEY", default=""))
fernet_keys(FIELD_ENCRYPTION_KEY)  # refuses to start without a valid key, and says how to make one

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
# Origins (scheme and host) allowed to POST, e.g. https://portal.example.edu: needed behind a proxy that
# terminates TLS on another name or port than the one Django sees.
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- Production: HTTPS only ------------------------------------------------------------------------------
# HTTPS is on when DEBUG is off and ALLOWED_HOSTS names a host other than this machine's loopback names (and
# Django's test client's "testserver"): a deployed portal. A portal that answers only on 127.0.0.1 (make run,
# the end-to-end tests' servers, the benchmarks) stays on plain HTTP. HTTPS=true/false decides it outright,
# and each setting below can be set too.
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]", "testserver"}
HTTPS = env.bool("HTTPS", default=not DEBUG and any(host not in _LOOPBACK for host in ALLOWED_HOSTS))
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=HTTPS)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=HTTPS)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=HTTPS)
# HSTS: browsers keep to HTTPS for this long (a year) once they have seen the header. includeSubDomains
# covers the names under the portal's own (portal.example.edu's, not example.edu's). Preloading is a
# separate commitment (hstspreload.org, hard to undo, and anyone can submit a domain whose header asks for
# it): off unless SECURE_HSTS_PRELOAD=true, and its deploy check (W021) is silenced for that reason only.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# Behind a reverse proxy or load balancer that terminates TLS, Django sees plain HTTP and would redirect
# forever. Set SECURE_PROXY_SSL_HEADER to the header that proxy sets (X-Forwarded-Proto, meaning "https"),
# and only behind a proxy that sets it and strips it from what clients send: otherwise any client could
# claim HTTPS. Unset, no header is trusted.
_proxy_ssl_header = env.str("SECURE_PROXY_SSL_HEADER", default="")
if _proxy_ssl_header:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
    "encrypted_model_fields",
    "mediaspace",
    "integrations.teams",  # the Teams app (label "integrations"); integrations.microsoft is the shared kit
    "onedrive",
    "axes",  # sign-in lock-out (below)
]

MIDDLEWARE = [
    "mediaspace.project.health.HealthCheckMiddleware",  # /healthz, before the host check and the HTTPS redirect
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",  # Content-Security-Policy (below)
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files, in production too (gunicorn serves them)
    "mediaspace.page_cache.GenerationMiddleware",  # has the database changed? (what pages and sessions may keep)
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "mediaspace.project.sessions.AuthenticationMiddleware",  # Django's, keeping each user while nothing changed
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out sign-in into the lock-out page
]

ROOT_URLCONF = "mediaspace.project.urls"
WSGI_APPLICATION = "mediaspace.project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "mediaspace.context_processors.portal",
            ],
        },
    },
]

# SQLite by default; DATABASE_URL switches to PostgreSQL. The web server and the django-q2
# cluster write to SQLite at the same time, hence WAL, IMMEDIATE transactions and a busy timeout.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
# Persistent connections: each web thread keeps its connection between requests instead of opening one per
# request (SQLite: opening the file and setting up WAL; PostgreSQL: a TCP connection and a sign-in). The health
# check replaces a connection the server closed. Seconds; 0 closes after every request.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Sign-in lock-out (django-axes), for the portal's and the admin's sign-in pages: after AXES_FAILURE_LIMIT
# wrong passwords in a row for one username from one address, that username is refused from that address
# (right password included) for AXES_COOLOFF_MINUTES after the last attempt. Per username and address, so
# one lecture hall behind one NAT address is not locked out by one person, and nobody can lock a colleague
# out from elsewhere. A successful sign-in resets the count. Behind a reverse proxy every client has the
# proxy's address (REMOTE_ADDR): the lock then applies to the username. `manage.py axes_reset` lifts them.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "mediaspace.project.lockout.locked_out"  # says what happened and when to try again
AXES_DISABLE_ACCESS_LOG = True  # a row per successful sign-in is not needed, and would grow without end
LOGIN_URL = "mediaspace:login"
LOGIN_REDIRECT_URL = "mediaspace:my_media"
LOGOUT_REDIRECT_URL = "mediaspace:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=BASE_DIR / "var" / "static")
MEDIA_ROOT = env.str("MEDIA_ROOT", default=BASE_DIR / "var" / "media")
MEDIA_URL = "/media-files/"  # never served directly: media goes through permission-checked views
FILE_UPLOAD_TEMP_DIR = env.str("FILE_UPLOAD_TEMP_DIR", default="") or None

# Media storage: files under MEDIA_ROOT (the embedded default), or an S3-compatible object store when
# AWS_STORAGE_BUCKET_NAME is set (django-storages; AWS_S3_ENDPOINT_URL for MinIO, Ceph, moto...; keys from
# AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or the instance's role when unset).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    from boto3.s3.transfer import TransferConfig

    STORAGES["default"] = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
        "bucket_name": AWS_STORAGE_BUCKET_NAME,
        "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
        "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
        "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
        "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
        "location": env.str("AWS_LOCATION", default=""),  # a prefix inside the bucket
        "addressing_style": env.str("AWS_S3_ADDRESSING_STYLE", default="") or None,  # "path" for most local servers
        "signature_version": "s3v4",
        "default_acl": None,  # the bucket stays private: every read goes through a permission check
        "querystring_auth": True,
        "file_overwrite": True,  # every import writes to a fresh attempt folder: no name ever collides
        # Uploads and imports are multipart uploads of 8 MiB parts, read and sent one at a time by the
        # thread that calls storage.save(): memory holds one part whatever the size (bench/README.md), and
        # the ingest's progress reports (database writes) stay in the worker's own thread and connection.
        # A failed or abandoned upload is aborted, so no parts are left behind.
        "transfer_config": TransferConfig(
            multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024, use_threads=False
        ),
    }}
# Static files: whitenoise serves them from the web server itself (no separate file server needed). With
# DEBUG off, `collectstatic` (the release step) writes hashed and compressed copies into STATIC_ROOT, served
# as immutable for a year; before it has run, the plain files are served from the apps
# (mediaspace.project.staticfiles), so runserver with DEBUG off still works. With DEBUG on, nothing changes.
if not DEBUG:
    STORAGES["staticfiles"] = {"BACKEND": "mediaspace.project.staticfiles.PortalStaticFilesStorage"}
    WHITENOISE_USE_FINDERS = not (Path(STATIC_ROOT) / "staticfiles.json").exists()
if not Path(STATIC_ROOT).is_dir():  # nothing collected (development, tests): whitenoise need not say so
    import warnings

    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)

# Background work: django-q2. The broker is the database (the embedded default), or Redis when REDIS_URL
# is set: several clusters, on as many machines, then share one Redis and one database.
#
# - workers: processes per cluster. Imports spend their time waiting on the network, so a few per CPU.
# - timeout: a task is killed after this many seconds. A 2 GB recording on a slow line takes long, and a
#   download cut short by the timeout would only start again from nothing, so it is 3 hours.
# - retry (database broker only): a task not acknowledged after this many seconds is handed out again. It
#   must exceed the timeout, or a task still running would be handed out a second time (a no-op, as the
#   claim below decides, but a worker spent). Redis hands a task out once (no acknowledgement): a task that a
#   killed worker held is gone from Redis. Either way a killed cluster's work is not waited for by the
#   broker: it is found again from the database within 3 minutes, by schedules that run every minute ("Teams
#   stalled recordings", "OneDrive stalled imports"): a recording or import whose worker stopped its
#   heartbeat (TEAMS_CLAIM_LEASE_SECONDS, MEDIASPACE_INGEST_LEASE_SECONDS) or whose task was not taken up
#   within MEDIASPACE_QUEUED_GRACE_SECONDS (mediaspace/queueing.py) is queued again. The ledger row's claim
#   and the ingest's claim let only one worker have a recording or an entry at a time: nothing is lost,
#   nothing imported twice.
# - max_attempts: a task that fails (raises) is not retried by the broker beyond this; the Teams ledger
#   has its own retries with backoff, which survive restarts.
Q_CLUSTER = {
    "name": env.str("Q_CLUSTER_NAME", default="mediaspace"),  # clusters of one portal share the name
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": env.int("Q_TIMEOUT", default=3 * 3600),
    "retry": env.int("Q_RETRY", default=3 * 3600 + 600),
    "max_attempts": env.int("Q_MAX_ATTEMPTS", default=3),
    "catch_up": False,
    "ack_failures": True,
    "save_limit": 1000,
}
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# The clusters' heartbeats (django-q2's Stat, read by /healthz and the admin's monitor): Redis holds them when
# it is the broker; with the database broker they are in this cache, which must be shared by the web server
# and the clusters: files beside the SQLite database by default (one machine), or Q_STAT_CACHE_URL, e.g.
# dbcache://django_q_stats (then `manage.py createcachetable`, which the release step runs) when the clusters
# run on several machines.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if not REDIS_URL:
    _database_folder = (Path(DATABASES["default"]["NAME"]).parent
                        if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" else BASE_DIR / "var")
    CACHES["django_q"] = env.cache("Q_STAT_CACHE_URL", default=f"filecache://{_database_folder / 'django-q-stats'}")
    Q_CLUSTER["cache"] = "django_q"
# Sessions: in the database by default, where every process sees a sign-out at once (a cache of each process's
# own could keep serving a session that another process has ended). With Redis, every process shares one cache:
# sessions are read from it and still written to the database (`cached_db`), so a Redis restart signs nobody out.
# The user, their role and an entry's visibility are never in the session: each request reads them afresh, or
# keeps them while the database has not changed (mediaspace/page_cache.py); so are the database sessions' rows.
SESSION_ENGINE = "mediaspace.project.sessions"
if REDIS_URL:
    CACHES["sessions"] = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                          "KEY_PREFIX": "mediaspace-sessions"}
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    SESSION_CACHE_ALIAS = "sessions"
# Rendered entry cards (mediaspace/includes/entry_cards.html), keyed by everything a card shows: never out of date,
# so each process keeps its own, in memory (about 1 KiB a card).
CACHES["template_fragments"] = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                "LOCATION": "template-fragments", "OPTIONS": {"MAX_ENTRIES": 5000}}

# The apps' own settings (MEDIASPACE_*, TEAMS_*, MICROSOFT_*, HEALTHZ_*): mediaspace/conf.py holds their
# defaults and says what each does. One is set here only when the environment names it, as its default's type.
for _name, _default in APP_DEFAULTS.items():
    if _name in env.ENVIRON:
        globals()[_name] = env(_name, cast=type(_default))

# Media processing (renders that take minutes) has a queue and clusters of its own, so a render never holds a
# worker that downloads or sync rounds need: `Q_QUEUE=processing manage.py qcluster` serves it, with
# MEDIASPACE_PROCESSING_WORKERS workers. (django-q2's ALT_CLUSTERS pick theirs by Q_CLUSTER_NAME, which here
# already names all of the portal's clusters: the tasks are signed with it.) mediaspace/queueing.py routes to it.
if env.str("Q_QUEUE", default="") == "processing":
    Q_CLUSTER["cluster_name"] = f"{Q_CLUSTER['name']}-processing"
    Q_CLUSTER["workers"] = globals().get("MEDIASPACE_PROCESSING_WORKERS",
                                         APP_DEFAULTS["MEDIASPACE_PROCESSING_WORKERS"])
elif env.str("Q_QUEUE", default=""):
    raise ImproperlyConfigured(f"Q_QUEUE is {env.str('Q_QUEUE')!r}: leave it empty, or set it to processing.")

# Content-Security-Policy (django-csp) of every page: scripts, styles and everything else from the portal
# only, nothing inline, no plug-ins, no framing. Exceptions: a form may lead to Microsoft's sign-in (the
# picker's search sends a user whose token expired there), and with media in object storage the player
# follows signed URLs to the storage's origin (and its bucket sub-domains). A view that sets a policy of its
# own (media files: `sandbox`) keeps it.
def _origin(url):
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


_storage_origins = []
if AWS_STORAGE_BUCKET_NAME:
    _endpoint = env.str("AWS_S3_ENDPOINT_URL", default="")
    _storage_origins = ([_origin(_endpoint), _origin(_endpoint).replace("://", "://*.", 1)] if _endpoint
                        else ["https://*.amazonaws.com"])
CONTENT_SECURITY_POLICY = {"DIRECTIVES": {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:", *_storage_origins],  # data: for the pages' empty favicon
    "media-src": ["'self'", *_storage_origins],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'", _origin(env.str("MICROSOFT_LOGIN_URL", default=APP_DEFAULTS["MICROSOFT_LOGIN_URL"]))],
}}

# E-mail (Django's mail framework): the Teams integration tells a recording's organizer when the default user
# holds it, and asks owners to keep or discard new recordings. By default mails are printed to the console
# (the worker's output); set EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend and EMAIL_HOST... to send.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)  # STARTTLS, usually port 587
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)  # TLS from the start, usually port 465
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)  # seconds: a mail server that hangs must not hold a worker
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Video portal <noreply@localhost>")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)

# Logs: plain lines (development) or LOG_FORMAT=json, one JSON object per line with method, path and status
# for each request (mediaspace.project.log). Anything looking like a credential is blanked in every line.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
from mediaspace.project.log import logging_config  # noqa: E402 - needs nothing from Django

LOGGING = logging_config(LOG_FORMAT, env.str("LOG_LEVEL", default="INFO"))
LOGGING["loggers"]["axes"] = {"level": "WARNING"}  # lock-outs, not a line for every sign-in and start-up
if LOG_FORMAT == "json":
    MIDDLEWARE.insert(MIDDLEWARE.index("whitenoise.middleware.WhiteNoiseMiddleware") + 1,
                      "mediaspace.project.log.RequestLogMiddleware")
