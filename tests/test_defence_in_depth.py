"""Defence in depth of the stand-alone portal: a Content-Security-Policy on every page, and sign-in that locks
a username out from one address after repeated wrong passwords."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.http import HttpResponse
from django.template import loader
from django.urls import include, path
from django.utils import timezone

from mediaspace.models import Category
from mediaspace.roles import Role
from tests.test_deploy import production_env

REPO = Path(__file__).resolve().parent.parent


def policy(response):
    """The response's Content-Security-Policy as {directive: [sources]}."""
    header = response.headers.get("Content-Security-Policy", "")
    return {name: sources for name, *sources in (part.split() for part in header.split(";") if part.strip())}


def assert_strict(directives):
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval'
    assert "'unsafe-inline'" not in directives["style-src"]
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["form-action"][0] == "'self'"


# --- Content-Security-Policy -----------------------------------------------------------------------------

def test_every_kind_of_page_answers_with_the_strict_policy(client, client_for, make_user, make_entry):
    anonymous = [client.get("/login/"), client.get("/no-such-page/")]
    user = make_user(role=Role.PRIVATE_ONLY)
    entry = make_entry(user)
    Category.objects.create(name="Physics", parent=Category.objects.create(name="Lectures"))
    client_for(user)
    pages = [client.get(url) for url in ("/my-media/", f"/media/{entry.pk}/", "/categories/", "/upload/")]
    client_for(make_user(is_staff=True, is_superuser=True))
    admin = [client.get(url) for url in ("/admin/", "/admin/mediaspace/mediaentry/",
                                         f"/admin/mediaspace/mediaentry/{entry.pk}/change/", "/admin/login/")]
    assert [response.status_code for response in anonymous + pages + admin] == [
        200, 404, *[200] * len(pages), 200, 200, 200, 302]  # the admin's sign-in page sends a signed-in user on
    for response in anonymous + pages + admin:
        assert_strict(policy(response))
    # Nothing inline that the policy would block (the admin's own pages are Django's).
    server_error = loader.get_template("500.html").render()  # as Django's handler renders it: no context
    for html in [response.content.decode() for response in anonymous + pages] + [server_error]:
        assert not re.search(r"<script(?![^>]*\bsrc=)", html) and not re.search(r"\sstyle=", html), html


def test_the_sign_in_with_microsoft_may_leave_through_a_form(client):
    # The picker's search form (a GET) is sent on to Microsoft's sign-in when the session's token has expired:
    # browsers apply form-action to that redirect too.
    assert "https://login.microsoftonline.com" in policy(client.get("/login/"))["form-action"]


urlpatterns = [
    path("own-policy/", lambda request: HttpResponse(headers={"Content-Security-Policy": "sandbox"})),
    path("", include("mediaspace.project.urls")),
]


@pytest.mark.urls(__name__)
def test_a_view_that_sets_its_own_policy_keeps_it(client):
    # Media files are served with `sandbox` of their own: the portal's policy must not replace it.
    assert client.get("/own-policy/").headers["Content-Security-Policy"] == "sandbox"


def test_media_files_keep_their_sandbox(client_for, make_user, make_entry):
    owner = make_user()
    response = client_for(owner).get(f"/media/{make_entry(owner).pk}/file/")
    assert response.status_code == 200 and response.headers["Content-Security-Policy"] == "sandbox"


def printed_policy(tmp_path, **env):
    script = ("from django.conf import settings; from csp.utils import build_policy; "
              "print(build_policy(config=settings.CONTENT_SECURITY_POLICY['DIRECTIVES']))")
    result = subprocess.run([sys.executable, "manage.py", "shell", "--no-imports", "-c", script], cwd=REPO,
                            env=production_env(tmp_path, **env), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return {name: sources for name, *sources in (part.split() for part in result.stdout.strip().split(";"))}


def test_media_from_object_storage_and_another_microsoft_cloud_are_allowed(tmp_path):
    directives = printed_policy(tmp_path, AWS_STORAGE_BUCKET_NAME="recordings",
                                AWS_S3_ENDPOINT_URL="https://objects.example.edu:9000/",
                                MICROSOFT_LOGIN_URL="https://login.microsoftonline.us")
    assert_strict(directives)
    for directive in ("media-src", "img-src"):  # the player's <video>/<audio>/<img> follow signed URLs there
        assert {"https://objects.example.edu:9000", "https://*.objects.example.edu:9000"} <= set(
            directives[directive])
    assert "https://login.microsoftonline.us" in directives["form-action"]
    assert "https://login.microsoftonline.com" not in directives["form-action"]


def test_media_from_amazon_s3_is_allowed(tmp_path):
    # Named empty, so that a test run whose own media are in a local bucket (scripts/test.sh) does not leak in.
    directives = printed_policy(tmp_path, AWS_STORAGE_BUCKET_NAME="recordings", AWS_S3_ENDPOINT_URL="")
    assert "https://*.amazonaws.com" in directives["media-src"]
    without_bucket = printed_policy(tmp_path, AWS_STORAGE_BUCKET_NAME="", AWS_S3_ENDPOINT_URL="")
    assert "https://*.amazonaws.com" not in without_bucket["media-src"]


# --- Sign-in lock-out ------------------------------------------------------------------------------------

LIMIT, COOL_OFF = 5, timezone.timedelta(minutes=15)  # wrong passwords in a row, and how long the lock lasts


def sign_in(client, username, password, url="/login/", address="192.0.2.10"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=address)


def test_repeated_wrong_passwords_lock_the_username_out_from_that_address(client, make_user):
    user = make_user(username="lecturer")
    for _ in range(LIMIT - 1):
        response = sign_in(client, "lecturer", "wrong")
        assert response.status_code == 200 and "_auth_user_id" not in client.session
    locked = sign_in(client, "lecturer", "wrong")
    assert locked.status_code == 429
    text = locked.content.decode()
    assert "Too many failed sign-ins" in text and "lecturer" in text and "15 minutes" in text
    assert "Content-Security-Policy" in locked.headers  # the lock-out page is a portal page too

    # The right password is refused too while the lock lasts.
    assert sign_in(client, "lecturer", "pw-for-tests-1").status_code == 429
    assert "_auth_user_id" not in client.session

    # Other users, and the same user from another address, are not locked out.
    make_user(username="student")
    assert sign_in(client, "student", "pw-for-tests-1").status_code == 302
    client.logout()
    assert sign_in(client, "lecturer", "pw-for-tests-1", address="198.51.100.7").status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_the_lock_ends_after_the_cool_off(client, make_user):
    make_user(username="lecturer")
    for _ in range(LIMIT):
        sign_in(client, "lecturer", "wrong")
    assert sign_in(client, "lecturer", "pw-for-tests-1").status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - COOL_OFF - timezone.timedelta(seconds=1))
    assert sign_in(client, "lecturer", "pw-for-tests-1").status_code == 302


def test_a_successful_sign_in_resets_the_count(client, make_user):
    make_user(username="lecturer")
    for _ in range(LIMIT - 1):
        sign_in(client, "lecturer", "wrong")
    assert sign_in(client, "lecturer", "pw-for-tests-1").status_code == 302
    client.logout()
    for _ in range(LIMIT - 1):
        assert sign_in(client, "lecturer", "wrong").status_code == 200
    assert sign_in(client, "lecturer", "pw-for-tests-1").status_code == 302


def test_the_admin_sign_in_is_covered_too(client, make_user):
    make_user(username="boss", is_staff=True, is_superuser=True)
    for _ in range(LIMIT):
        sign_in(client, "boss", "wrong", url="/admin/login/")
    locked = sign_in(client, "boss", "pw-for-tests-1", url="/admin/login/")
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.content.decode()
    assert "_auth_user_id" not in client.session
