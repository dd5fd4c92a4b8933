"""Settings of the stand-alone portal. Every value comes from the environment (or an optional .env)."""
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. `make run` writes one into .env; elsewhere set it in the environment."
    )
FIELD_ENCRYPTION_KEY = env.str("FIELD_ENCRYPTION_KEY", default="")
if not FIELD_ENCRYPTION_KEY:
    raise ImproperlyConfigured(
        "FIELD_ENCRYPTION_KEY is not set, so stored secrets cannot be encrypted. `make run` writes one "
        "into .env; elsewhere generate one with `python -c 'from cryptography.fernet import Fernet; "
        "print(Fernet.generate_key().decode())'` and set it in the environment. Keep it: without it "
        "the stored secrets cannot be read."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

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
    "integrations",
    "onedrive",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "mediaspace.project_urls"
WSGI_APPLICATION = "mediaspace.wsgi.application"

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
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
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

# Background work: django-q2 on the database (the embedded default).
Q_CLUSTER = {
    "name": "mediaspace",
    "orm": "default",
    "workers": env.int("Q_WORKERS", default=2),
    # A large recording may take a long time to download; a task is never cut short by a timeout
    # shorter than its download, and is only handed out again after `retry` seconds.
    "timeout": env.int("Q_TIMEOUT", default=3 * 3600),
    "retry": env.int("Q_RETRY", default=3 * 3600 + 600),
    "max_attempts": env.int("Q_MAX_ATTEMPTS", default=3),
    "catch_up": False,
    "ack_failures": True,
    "save_limit": 1000,
}

# Minutes between two rounds of the Teams recordings sync (read when the schedule is created).
TEAMS_SYNC_MINUTES = env.int("TEAMS_SYNC_MINUTES", default=5)
# Seconds a worker holds a recording for the steps before its download (which has its own heartbeat).
TEAMS_CLAIM_LEASE_SECONDS = env.int("TEAMS_CLAIM_LEASE_SECONDS", default=600)

# Microsoft endpoints are settings, so national clouds and local test servers work.
MICROSOFT_LOGIN_URL = env.str("MICROSOFT_LOGIN_URL", default="https://login.microsoftonline.com")
MICROSOFT_GRAPH_URL = env.str("MICROSOFT_GRAPH_URL", default="https://graph.microsoft.com")

MEDIASPACE_DEFAULT_ROLE = env.str("MEDIASPACE_DEFAULT_ROLE", default="privateOnlyRole")
# Seconds without progress after which an import's worker is taken to be dead and its work taken over.
MEDIASPACE_INGEST_LEASE_SECONDS = env.int("MEDIASPACE_INGEST_LEASE_SECONDS", default=120)

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
# The portal's address as people reach it (https://portal.example.edu): links in e-mails start with it.
MEDIASPACE_SITE_URL = env.str("MEDIASPACE_SITE_URL", default="")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # urllib3 logs whole URLs at DEBUG, and pre-authenticated download URLs carry tokens in their query.
    "loggers": {"urllib3": {"level": "INFO"}, "msal": {"level": "INFO"}},
}
