"""The apps install into an existing Django project with only the lines the README lists."""
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parent.parent

HOST_SETTINGS = """
SECRET_KEY = "host-project-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
ROOT_URLCONF = "host_urls"
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": {db!r}}}}}
MEDIA_ROOT = {media!r}
STATIC_URL = "static/"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [{{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {{"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]}},
}}]
INSTALLED_APPS = [
    "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
    "django.contrib.sessions", "django.contrib.messages", "django.contrib.staticfiles",
]

# --- The lines the README's "Add to your Django project" section asks for ---
INSTALLED_APPS += ["django_q", "encrypted_model_fields", "mediaspace", "integrations.teams", "onedrive"]
TEMPLATES[0]["OPTIONS"]["context_processors"].append("mediaspace.context_processors.portal")
FIELD_ENCRYPTION_KEY = {key!r}
Q_CLUSTER = {{"name": "host", "orm": "default"}}
LOGIN_URL = "mediaspace:login"
"""

HOST_URLS = """
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("portal/", include("mediaspace.urls")),
    path("portal/", include("onedrive.urls")),
    path("portal/", include("integrations.teams.urls")),
]
"""

HOST_CHECK = """
import io, os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "host_settings"
import django
django.setup()
import mediaspace
assert mediaspace.__file__.startswith(sys.argv[1]), f"imported from {mediaspace.__file__}, not the wheel"
from django.core.management import call_command
call_command("migrate", verbosity=0)
call_command("check", fail_level="ERROR")
from django.contrib.auth import get_user_model
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
User = get_user_model()
admin = User.objects.create_superuser("boss", "boss@example.com", "pw-for-tests-1")
client = Client()
assert client.get("/portal/my-media/").status_code == 302
client.force_login(admin)
pages = ["/portal/my-media/", "/portal/upload/", "/portal/categories/", "/admin/",
         "/admin/mediaspace/mediaentry/", "/admin/mediaspace/uploadmodule/1/change/", "/admin/auth/user/"]
for page in pages:
    response = client.get(page)
    assert response.status_code == 200, (page, response.status_code)
assert b"Upload media" in client.get("/portal/my-media/").content
import subprocess
subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                "testsrc2=size=160x120:rate=10:duration=1", "-c:v", "libvpx-vp9", "-deadline", "realtime",
                "-b:v", "100k", "host.webm"], check=True, timeout=60)
with open("host.webm", "rb") as video:
    response = client.post("/portal/upload/", {"file": video, "name": "From the host"})
assert response.status_code == 302, response.status_code
from django_q.brokers import get_broker
from mediaspace.models import MediaEntry
from mediaspace.processing import pipeline
entry = MediaEntry.objects.get(name="From the host")
assert entry.status == "processing" and get_broker("host-processing").queue_size() == 1  # the second cluster's
pipeline.process_queued(entry.pk)  # what that cluster does with it
response = client.get(response["Location"])
assert b"From the host" in response.content and b"<video" in response.content, response.content
from integrations.teams.models import TeamsIntegration
teams = TeamsIntegration.objects.create(name="Host tenant", tenant_id="72f988bf-86f1-41af-91ab-2d7cd011db47",
                                        client_id="00000000-0000-4000-8000-000000000001", client_secret="x" * 40)
for page in ("/admin/integrations/teamsintegration/", f"/admin/integrations/teamsintegration/{teams.pk}/toggle/"):
    response = client.get(page)
    assert response.status_code == 200 and b"Host tenant" in response.content, (page, response.status_code)
print("HOST PROJECT OK")
"""


@pytest.mark.slow
def test_wheel_works_in_a_minimal_host_project(tmp_path):
    # Build from a copy, so the checkout gets no build/ folder and no stale file reaches the wheel.
    source = tmp_path / "source"
    for package in ("mediaspace", "integrations", "onedrive"):
        shutil.copytree(REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("setup.cfg", "pyproject.toml", "MANIFEST.in", "README.md"):
        shutil.copy(REPO / name, source / name)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", str(wheels),
         str(source)],
        check=True, cwd=tmp_path, capture_output=True,
    )
    (wheel,) = wheels.glob("mediaspace_m365-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        archive.extractall(site)
    for needed in ("mediaspace/templates/mediaspace/base.html", "mediaspace/static/mediaspace/portal.css",
                   "mediaspace/migrations/0001_initial.py", "integrations/teams/static/integrations/admin.css",
                   "integrations/teams/templates/admin/integrations/teamsintegration/_row_actions.html"):
        assert needed in names, f"{needed} is missing from the wheel"
    assert not any(name.startswith("tests/") for name in names)

    host = tmp_path / "host"
    host.mkdir()
    (host / "host_settings.py").write_text(HOST_SETTINGS.format(
        db=str(tmp_path / "host.sqlite3"), media=str(tmp_path / "media"), key=Fernet.generate_key().decode()))
    (host / "host_urls.py").write_text(textwrap.dedent(HOST_URLS))
    (host / "check_host.py").write_text(textwrap.dedent(HOST_CHECK))
    result = subprocess.run(
        [sys.executable, "check_host.py", str(site)],
        cwd=host, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{site}:{host}"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "HOST PROJECT OK" in result.stdout
