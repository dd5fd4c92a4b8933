"""A deployable portal: `check --deploy` clean in production, /healthz, static files without collectstatic,
structured logs with no secret in them, and FIELD_ENCRYPTION_KEY rotation."""
import io
import json
import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError, connection
from django.utils import timezone

from integrations.teams.models import TeamsIntegration
from mediaspace.project import health
from mediaspace.project.log import JsonFormatter, RedactSecrets, logging_config, redact
from tests.microsoft import CLIENT_ID, TENANT_ID
from tests.secrets import assert_every_secret_reads, make_secrets

REPO = Path(__file__).resolve().parent.parent


def production_env(tmp_path, **overrides):
    """What an operator sets: DEBUG off, real secrets, the portal's name. Nothing from .env is needed."""
    return {**os.environ, "DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(50),
            "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(), "ALLOWED_HOSTS": "portal.example.edu",
            "CSRF_TRUSTED_ORIGINS": "https://portal.example.edu",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}", "STATIC_ROOT": str(tmp_path / "static"),
            "MEDIA_ROOT": str(tmp_path / "media"), **overrides}


def manage(env, *args):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


# --- Production settings ---------------------------------------------------------------------------------

def test_check_deploy_is_clean_with_the_production_settings(tmp_path):
    result = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


def test_the_production_settings_are_what_check_deploy_cannot_see(tmp_path):
    script = ("from django.conf import settings as s; import json; print(json.dumps([s.SECURE_SSL_REDIRECT, "
              "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, s.ALLOWED_HOSTS, "
              "s.CSRF_TRUSTED_ORIGINS, getattr(s, 'SECURE_PROXY_SSL_HEADER', None), s.STORAGES['staticfiles']]))")
    result = manage(production_env(tmp_path), "shell", "--no-imports", "-c", script)
    assert result.returncode == 0, result.stderr
    redirect, session, csrf, hsts, hosts, origins, proxy, static = json.loads(result.stdout)
    assert (redirect, session, csrf) == (True, True, True) and hsts >= 365 * 24 * 3600
    assert hosts == ["portal.example.edu"] and origins == ["https://portal.example.edu"]
    assert proxy is None  # no header is trusted unless the operator says a proxy sets it
    assert static["BACKEND"] == "mediaspace.project.staticfiles.PortalStaticFilesStorage"

    behind_proxy = production_env(tmp_path, SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto")
    result = manage(behind_proxy, "shell", "--no-imports", "-c", script)
    assert json.loads(result.stdout)[6] == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_a_loopback_portal_with_debug_off_stays_on_plain_http(tmp_path):
    """The end-to-end tests' servers and the benchmarks: DEBUG off on 127.0.0.1, no HTTPS to redirect to."""
    env = production_env(tmp_path, ALLOWED_HOSTS="127.0.0.1,localhost")
    result = manage(env, "shell", "--no-imports", "-c", "from django.conf import settings as s; "
                                        "print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.SECURE_HSTS_SECONDS)")
    assert result.stdout.split() == ["False", "False", "0"]


def test_collectstatic_writes_hashed_compressed_files_for_the_pages(tmp_path):
    env = production_env(tmp_path)
    result = manage(env, "collectstatic", "--noinput")
    assert result.returncode == 0, result.stderr
    static = tmp_path / "static"
    manifest = json.loads((static / "staticfiles.json").read_text())["paths"]
    for name in ("mediaspace/portal.css", "mediaspace/progress.js", "mediaspace/upload.js", "onedrive/relay.js"):
        assert (static / manifest[name]).exists() and (static / (manifest[name] + ".gz")).exists()
    result = manage(env, "shell", "--no-imports", "-c", "from django.templatetags.static import static; "
                                        "print(static('onedrive/relay.js'))")
    assert result.stdout.strip() == "/static/" + manifest["onedrive/relay.js"]


def test_without_collectstatic_the_plain_static_names_are_used(settings):
    """DEBUG off before collectstatic (runserver in the end-to-end tests): pages still render."""
    from mediaspace.project.staticfiles import PortalStaticFilesStorage

    settings.STATIC_ROOT = "/nonexistent-static-root"
    assert PortalStaticFilesStorage().url("onedrive/relay.js") == "/static/onedrive/relay.js"


def test_whitenoise_serves_the_static_files(client, settings):
    settings.WHITENOISE_USE_FINDERS = True  # as in production before collectstatic (DEBUG off in settings.py)
    for name in ("mediaspace/portal.css", "mediaspace/progress.js", "mediaspace/upload.js", "onedrive/relay.js"):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200, name
        assert b"".join(response.streaming_content)


# --- /healthz --------------------------------------------------------------------------------------------

class FakeStat:
    def __init__(self, seconds_ago, status="Idle"):
        self.timestamp = timezone.now() - timezone.timedelta(seconds=seconds_ago)
        self.status = status


@pytest.fixture(autouse=True)
def fresh_broker(monkeypatch):
    monkeypatch.setattr(health, "_broker", None)


@pytest.fixture
def cluster_reported(monkeypatch):
    stats = [FakeStat(1)]
    monkeypatch.setattr("django_q.status.Stat.get_all", staticmethod(lambda broker=None: stats))
    return stats


@pytest.mark.django_db
def test_healthz_is_ok_when_everything_is(client, cluster_reported):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok", "cluster": "ok"}
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_healthz_needs_no_sign_in_no_allowed_host_and_no_https(client, settings, cluster_reported):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["portal.example.edu"]
    response = client.get("/healthz", HTTP_HOST="10.0.0.7:8000")  # a load balancer's probe
    assert response.status_code == 200
    assert client.get("/login/", HTTP_HOST="10.0.0.7:8000").status_code == 400  # the rest is still guarded


@pytest.mark.django_db
def test_healthz_reports_a_database_that_does_not_answer(client, monkeypatch, cluster_reported):
    def broken():
        raise OperationalError("could not connect to server: password=hunter2")

    monkeypatch.setitem(health.CHECKS, "database", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "failed: OperationalError", "broker": "ok", "cluster": "ok"}
    assert b"hunter2" not in response.content  # the reason is the error's kind, never its text


@pytest.mark.django_db
def test_healthz_checks_the_database_with_a_query(client, monkeypatch, cluster_reported):
    class Refusing:
        def cursor(self):
            raise ConnectionRefusedError("no database")

    monkeypatch.setattr(health, "connection", Refusing())
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "failed: ConnectionRefusedError"


@pytest.mark.django_db
def test_healthz_reports_a_broker_that_does_not_answer(client, monkeypatch, cluster_reported):
    class DeadBroker:
        def ping(self):
            raise ConnectionError("Error 111 connecting to redis:6379")

    monkeypatch.setattr(health, "_broker", DeadBroker())
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "broker": "failed: ConnectionError", "cluster": "ok"}


@pytest.mark.django_db
def test_healthz_reports_a_broker_whose_queue_cannot_be_read(client, monkeypatch, cluster_reported):
    class Broker:
        def ping(self):
            return True

        def queue_size(self):
            raise TimeoutError

    monkeypatch.setattr(health, "_broker", Broker())
    assert client.get("/healthz").json()["broker"] == "failed: TimeoutError"


@pytest.mark.django_db
@pytest.mark.parametrize("stats", [[], [FakeStat(600)], [FakeStat(1, status="Stopped")]],
                         ids=["no cluster", "silent for ten minutes", "stopped"])
def test_healthz_reports_a_cluster_without_a_recent_heartbeat(client, monkeypatch, stats):
    monkeypatch.setattr("django_q.status.Stat.get_all", staticmethod(lambda broker=None: stats))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "broker": "ok", "cluster": "failed: LookupError"}


@pytest.mark.django_db
def test_healthz_sees_a_real_cluster_heartbeat_through_the_shared_cache(client, settings, tmp_path):
    """With the database broker, a cluster's Stat goes to the shared cache, where the web server reads it."""
    from django_q.brokers import get_broker

    settings.CACHES = {**settings.CACHES, "django_q": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(tmp_path / "stats")}}
    from django_q.status import Stat

    class Sentinel:  # what Stat reads from a running cluster's sentinel
        parent_pid, pid, cluster_id, tob, reincarnations, monitor, pusher, pool = 1, 2, "c-1", None, 0, None, None, []
        broker = get_broker()

        class result_queue:
            qsize = staticmethod(lambda: 0)

        task_queue = result_queue

        def status(self):
            return "Idle"

    if not getattr(settings, "REDIS_URL", ""):  # Redis may hold other clusters' heartbeats
        assert client.get("/healthz").status_code == 503
    Stat(Sentinel()).save()
    try:
        assert client.get("/healthz").json()["cluster"] == "ok"
    finally:
        Sentinel.broker.cache.clear()


# --- Structured logs -------------------------------------------------------------------------------------

SECRETS = ["eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.payload.signature", "s3cr3t~Value.With-Marks", "M.C507_BAY.2.U.abc"]


@pytest.mark.parametrize("text", [
    "GET /me Authorization: Bearer {0}",
    "POST /token body=grant_type=client_credentials&client_secret={1}&scope=x",
    "redirect to https://portal/onedrive/index/blank-page?code={2}&state=abc",
    "fragment #access_token={0}&token_type=Bearer",
    'token response {{"access_token": "{0}", "refresh_token": "{1}"}}',
])
def test_the_redaction_filter_blanks_credentials(text):
    line = text.format(*SECRETS)
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "%s", (line,), None)
    RedactSecrets().filter(record)
    message = record.getMessage()
    assert not any(secret in message for secret in SECRETS), message
    assert "[redacted]" in message


def test_redaction_leaves_ordinary_text_alone():
    text = "error_code=5 status code 200 for /my-media/?page=2 (Graph said: Forbidden)"
    assert redact(text) == text


def test_json_lines_carry_request_fields_and_no_secret(client, caplog, settings):
    """LOG_FORMAT=json: one object per line, with the request's method, path (no query string) and status."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactSecrets())
    logger = logging.getLogger("mediaspace.request")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "mediaspace.project.log.RequestLogMiddleware"]
    try:
        client.get("/login/?next=/my-media/&code=" + SECRETS[2])
        try:
            raise ValueError("refused: client_secret=" + SECRETS[1])
        except ValueError:
            logging.getLogger("mediaspace.request").exception("an error with Bearer %s", SECRETS[0])
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    request_line, error_line = (json.loads(line) for line in lines)
    assert {"time", "level", "logger", "message"} <= request_line.keys()
    assert (request_line["method"], request_line["path"], request_line["status"]) == ("GET", "/login/", 200)
    assert request_line["level"] == "INFO" and request_line["logger"] == "mediaspace.request"
    assert error_line["level"] == "ERROR" and "ValueError" in error_line["exception"]
    assert not any(secret in stream.getvalue() for secret in SECRETS)


def test_log_format_json_is_switched_by_the_environment(tmp_path):
    env = production_env(tmp_path, LOG_FORMAT="json")
    script = ("import logging; logging.getLogger('mediaspace.x').warning('hello %s', 'access_token=abc123'); "
              "from django.conf import settings; print('RequestLogMiddleware' in str(settings.MIDDLEWARE))")
    result = manage(env, "shell", "--no-imports", "-c", script)
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["message"] == "hello access_token=[redacted]" and line["logger"] == "mediaspace.x"
    assert result.stdout.strip() == "True"
    assert logging_config()["handlers"]["console"]["formatter"] == "plain"  # the development default


@pytest.mark.parametrize("debug", ["true", "false"])
def test_runserver_access_lines_and_django_lines_are_redacted(tmp_path, debug):
    """runserver's access line (the `django.server` logger) and Django's own lines (its `django` logger, which
    has handlers of its own in Django's default logging) go through the redaction filter too."""
    env = production_env(tmp_path, DEBUG=debug, ALLOWED_HOSTS="127.0.0.1")
    script = (
        "import logging; "
        # What WSGIRequestHandler.log_message sends for the code flow's redirect URI.
        "logging.getLogger('django.server').info('\"%s\" %s %s', "
        "'GET /onedrive/sign-in/done/?code=0.AQ-code-secret&state=s1 HTTP/1.1', '302', '0', "
        "extra={'status_code': 302, 'request': None}); "
        "logging.getLogger('django.request').warning('Bad request: %s', 'client_secret=django-secret')")
    result = manage(env, "shell", "--no-imports", "-c", script)
    assert result.returncode == 0, result.stderr
    assert "GET /onedrive/sign-in/done/?code=[redacted]" in result.stderr
    assert "client_secret=[redacted]" in result.stderr
    assert "code-secret" not in result.stderr and "django-secret" not in result.stderr
    assert result.stderr.count("Bad request") == 1  # once, not also through Django's own console handler


# --- FIELD_ENCRYPTION_KEY rotation -----------------------------------------------------------------------

def raw(model, field, pk):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {field} FROM {model._meta.db_table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_rotation_re_encrypts_every_secret_so_the_old_key_can_go(keys, make_user):
    old, new = Fernet.generate_key(), Fernet.generate_key()
    keys(old)
    stored = make_secrets(make_user)
    Fernet(old).decrypt(raw(*stored[0]).encode())  # written under the old key

    keys(new, old)  # step 1: the new key first, the old one still reads
    out = io.StringIO()
    call_command("rotate_encryption_key", stdout=out)
    assert "integrations.TeamsIntegration.client_secret: 1 re-encrypted" in out.getvalue()
    for model, field, pk in stored:
        Fernet(new).decrypt(raw(model, field, pk).encode())  # under the new key now

    out = io.StringIO()
    call_command("rotate_encryption_key", stdout=out)  # again: nothing left to do
    assert "1 re-encrypted" not in out.getvalue() and "0 re-encrypted, 1 already under the first key" in out.getvalue()

    keys(new)  # step 3: the old key is gone, every secret still reads
    assert_every_secret_reads()


@pytest.mark.django_db
def test_rotation_refuses_to_bless_a_value_no_key_reads(keys):
    lost, new = Fernet.generate_key(), Fernet.generate_key()
    keys(lost)
    integration = TeamsIntegration.objects.create(name="Contoso", tenant_id=TENANT_ID, client_id=CLIENT_ID,
                                                  client_secret="teams-secret")
    before = raw(TeamsIntegration, "client_secret", integration.pk)
    keys(new)  # the key it was written with was dropped too early
    with pytest.raises(CommandError, match="could not be read with any key"):
        call_command("rotate_encryption_key", stdout=io.StringIO(), stderr=io.StringIO())
    assert raw(TeamsIntegration, "client_secret", integration.pk) == before  # left as it was, for the right key


@pytest.mark.django_db
def test_rotation_dry_run_writes_nothing(keys):
    old, new = Fernet.generate_key(), Fernet.generate_key()
    keys(old)
    integration = TeamsIntegration.objects.create(name="Contoso", tenant_id=TENANT_ID, client_id=CLIENT_ID,
                                                  client_secret="teams-secret")
    before = raw(TeamsIntegration, "client_secret", integration.pk)
    keys(new, old)
    out = io.StringIO()
    call_command("rotate_encryption_key", "--dry-run", stdout=out)
    assert "integrations.TeamsIntegration.client_secret: 1 to re-encrypt" in out.getvalue()
    assert raw(TeamsIntegration, "client_secret", integration.pk) == before


def test_several_keys_in_the_environment_become_a_list(tmp_path):
    first, second = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    env = production_env(tmp_path, FIELD_ENCRYPTION_KEY=f"{first}, {second}")
    result = manage(env, "shell", "--no-imports", "-c", "from django.conf import settings; import json; "
                                        "print(json.dumps(settings.FIELD_ENCRYPTION_KEY))")
    assert json.loads(result.stdout) == [first, second]
    assert manage(env, "check").returncode == 0
