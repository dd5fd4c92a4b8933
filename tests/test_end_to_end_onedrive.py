"""The OneDrive module end to end, in a real browser (Debian's Chromium driven by Playwright) against the real
stack (runserver and a django-q2 cluster as processes) and the Microsoft simulator over HTTPS.

An administrator follows the seed's portal steps in the admin (enabled = Yes, allowedRoles, applicationId of an
app registered with the redirect URI the admin page shows); a user signs in to the portal, opens "Import from
OneDrive", signs in to Microsoft, comes back through the redirect URI's fragment relay, browses into a folder,
searches, selects two videos and one audio file (a PDF cannot be selected) and imports them; My Media shows all
three ready and each plays in the browser. No page or console error, and no download carried a bearer token."""
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.browsers import chromium
from tests.stack import ADMIN_PASSWORD, Stack

MEDIA = Path(__file__).parent / "fixtures" / "media"
CLIP = (MEDIA / "clip.webm").read_bytes()  # 4 s, VP8 + Opus
TONE = (MEDIA / "tone.ogg").read_bytes()  # 2 s, Opus in Ogg

USER, USER_PASSWORD = "lecturer", "lecturer-pw-1"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def stack(tmp_path, simulator):
    stack = Stack(tmp_path, simulator)
    try:
        # DEBUG is off, as in production: --insecure lets runserver serve the static files (relay.js among them).
        yield stack.up("--insecure")
    finally:
        stack.down()


@pytest.fixture
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture
def problems():
    """Uncaught page errors and console errors of every page opened through `open_context`."""
    return []


@pytest.fixture
def open_context(browser, problems):
    contexts = []

    def open_context():
        # The simulator's certificate comes from a test CA that Chromium does not know: the simpler way to let
        # the browser in is ignore_https_errors on the context. (The portal's Python side trusts that CA through
        # REQUESTS_CA_BUNDLE in the stack's environment, so it still verifies the certificate.)
        context = browser.new_context(ignore_https_errors=True)
        context.on("page", lambda page: watch(page, problems))
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield open_context
    for context in contexts:
        context.close()


def watch(page, problems):
    def console(message):
        # Chromium asks for /favicon.ico on pages without an icon link (the Django admin's, Microsoft's sign-in
        # page): a 404 there is the browser's own request, not an error of the page.
        if message.type == "error" and urlsplit(message.location.get("url", "")).path != "/favicon.ico":
            problems.append(f"{page.url}: console: {message.text} at {message.location}")

    page.on("pageerror", lambda error: problems.append(f"{page.url}: page error: {error}"))
    page.on("console", console)
    page.on("response", lambda response: problems.append(f"{page.url}: {response.status} for {response.url}")
            if response.status >= 400 else None)


def create_user(stack, username, password, role):
    """A portal user with a password and a portal role, made the way an operator would: `manage.py shell`."""
    stack.manage("shell", "-c", (
        "from django.contrib.auth import get_user_model; from mediaspace.models import UserRole; "
        f"user = get_user_model().objects.create_user({username!r}, {username + '@contoso.edu'!r}, {password!r}); "
        f"UserRole.objects.update_or_create(user=user, defaults={{'role': {role!r}}})"))


def configure_module(page, stack, simulator):
    """The seed's steps: register the app with the redirect URI (the admin page shows it), then in the portal
    enabled = Yes, allowedRoles, applicationId, Save. Returns the app."""
    page.goto(f"{stack.url}/admin/login/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.locator("#onedrive-onedrivemodule").get_by_role("link", name="OneDrive module", exact=True).click()
    page.wait_for_url("**/admin/onedrive/onedrivemodule/1/change/")

    redirect_uri = page.locator("#redirect-uri").inner_text().strip()
    assert redirect_uri == f"{stack.url}/onedrive/index/blank-page"
    # Azure: a multitenant app, Web redirect URI, access and ID tokens (implicit grant), no secret entered.
    app = simulator.add_app(secret=False, redirect_uris=[redirect_uri], name="KMS onedrive integration",
                            implicit_grant=True)

    page.get_by_label("enabled").select_option(label="Yes")
    page.get_by_label("allowedRoles").select_option("adminRole")
    page.get_by_label("applicationId").fill(app.client_id)
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("was changed successfully").wait_for()
    assert stack.query("SELECT enabled, allowed_roles, application_id FROM onedrive_onedrivemodule") == [
        (1, "adminRole", app.client_id)]
    return app


def names_listed(page):
    return [" ".join(name.split()) for name in page.locator("table.files tbody tr td:nth-child(2)").all_inner_texts()]


def wait_until_ready(page, stack, count, seconds=30):
    """My Media until `count` cards are ready (the page polls and reloads itself; reloading here too is fine)."""
    deadline = time.monotonic() + seconds
    while True:
        cards = page.locator("[data-entry]")
        statuses = [cards.nth(index).get_attribute("data-status") for index in range(cards.count())]
        if statuses == ["ready"] * count:
            return
        failed = page.locator("[data-status=failed] .status-error").all_inner_texts()
        assert not failed, f"imports failed: {failed}"
        assert time.monotonic() < deadline, f"not all ready within {seconds} s: {statuses}"
        time.sleep(0.5)
        page.goto(f"{stack.url}/my-media/")


def plays(page, tag, seconds):
    """The entry page's player decodes the file and its clock moves."""
    player = page.locator(f"{tag}#player")
    player.wait_for()
    player.evaluate("media => { media.muted = true; return media.play(); }")
    page.wait_for_function(
        "() => (media => media.readyState >= 2 && !media.paused && media.currentTime > 0.2)"
        f"(document.querySelector('{tag}#player'))")
    assert player.evaluate("media => media.duration") == pytest.approx(seconds, abs=0.3)
    if tag == "video":
        assert player.evaluate("video => video.getVideoPlaybackQuality().totalVideoFrames") > 0


def test_the_seed_setup_then_import_two_videos_and_an_audio_file_from_onedrive_in_a_browser(
        simulator, stack, open_context, problems):
    ann = simulator.add_user("ann.lee@contoso.edu", "Ann Lee")
    simulator.add_file(ann, "Course/Lecture 1.webm", data=CLIP)
    simulator.add_file(ann, "Course/Lecture 2.webm", data=CLIP)
    simulator.add_file(ann, "Course/Lecture notes.pdf", 5_000)
    simulator.add_file(ann, "Course/Lecture intro tone.ogg", data=TONE)
    simulator.add_file(ann, "Holiday.jpg", 2_000)
    create_user(stack, USER, USER_PASSWORD, "adminRole")

    # 1. The administrator, in the admin.
    app = configure_module(open_context(), stack, simulator)

    # 2. The user: portal sign-in, Add new → Import from OneDrive, Microsoft sign-in.
    page = open_context()
    visited = []
    page.on("framenavigated", lambda frame: visited.append(frame.url) if frame == page.main_frame else None)
    page.goto(f"{stack.url}/login/")
    page.get_by_label("Username").fill(USER)
    page.get_by_label("Password").fill(USER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/my-media/")
    page.get_by_text("Add new").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Import from OneDrive").click()

    page.wait_for_url(f"{simulator.url}/**")
    assert page.title() == "Sign in to your account"
    assert "KMS onedrive integration wants to sign you in" in page.inner_text("body")
    page.get_by_role("button", name="Ann Lee (ann.lee@contoso.edu)").click()
    page.wait_for_url(f"{stack.url}/onedrive/")

    blank_page = f"{stack.url}/onedrive/index/blank-page"
    relayed = [url for url in visited if url.startswith(blank_page)]
    assert relayed and "#" in relayed[0] and "access_token=" in relayed[0]  # the implicit grant's fragment
    assert visited[-1] == f"{stack.url}/onedrive/" and "access_token" not in page.content()
    assert not any("access_token" in cookie["value"] for cookie in page.context.cookies())
    [(authorize_query,)] = {(entry.query,) for entry in simulator.log if entry.path.endswith("/authorize")
                            and entry.method == "GET"}
    assert f"client_id={app.client_id}" in authorize_query

    # The picker: OneDrive's root, a folder, search.
    assert "Signed in to Microsoft as Ann Lee." in page.inner_text("main")
    assert names_listed(page) == ["Course", "Holiday.jpg"]  # the folder icon is a drawing, hidden from readers
    page.get_by_role("link", name="Course", exact=True).click()
    page.wait_for_url("**/onedrive/?folder=*")
    assert page.locator("nav.breadcrumb [aria-current=page]").inner_text() == "Course"
    refused_pdf = "Lecture notes.pdf Not a video, audio or image file"  # its name and why it cannot be chosen
    assert names_listed(page) == ["Lecture 1.webm", "Lecture 2.webm", refused_pdf, "Lecture intro tone.ogg"]
    pdf_row = page.locator("table.files tbody tr", has_text="Lecture notes.pdf")
    assert pdf_row.locator("input").count() == 0 and "refused" in pdf_row.get_attribute("class")
    assert page.get_by_role("checkbox").count() == 3

    page.get_by_role("searchbox", name="Search your OneDrive").fill("lecture")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/onedrive/?q=lecture")
    assert sorted(names_listed(page)) == ["Lecture 1.webm", "Lecture 2.webm", "Lecture intro tone.ogg", refused_pdf]
    page.get_by_role("checkbox", name="Select Lecture 1.webm").check()
    page.get_by_role("checkbox", name="Select Lecture 2.webm").check()
    page.get_by_role("checkbox", name="Select Lecture intro tone.ogg").check()
    # The PDF cannot be selected: no checkbox of its own, and clicking its name selects nothing.
    assert page.get_by_role("checkbox", name="Select Lecture notes.pdf").count() == 0
    page.locator("table.files tbody tr", has_text="Lecture notes.pdf").locator("td").nth(1).click()
    assert page.get_by_role("checkbox").count() == 3
    assert page.locator("input[type=checkbox]:checked").count() == 3
    page.get_by_role("button", name="Import", exact=True).click()

    # 3. My Media: three entries, ready, each playable.
    page.wait_for_url(f"{stack.url}/my-media/")
    assert "3 files are being imported" in page.inner_text("main")
    wait_until_ready(page, stack, 3)
    assert sorted(page.locator("[data-entry] .card-title").all_inner_texts()) == [
        "Lecture 1", "Lecture 2", "Lecture intro tone"]
    assert stack.query("SELECT name, content_type, size, source FROM mediaspace_mediaentry ORDER BY name") == [
        ("Lecture 1", "video/webm", len(CLIP), "onedrive"), ("Lecture 2", "video/webm", len(CLIP), "onedrive"),
        ("Lecture intro tone", "audio/ogg", len(TONE), "onedrive")]
    for name, tag, seconds in [("Lecture 1", "video", 4), ("Lecture 2", "video", 4), ("Lecture intro tone", "audio", 2)]:
        page.goto(f"{stack.url}/my-media/")
        page.get_by_role("link", name=name, exact=True).click()
        page.wait_for_url("**/media/*/")
        plays(page, tag, seconds)

    # 4. Nothing went wrong in the browser, and no pre-authenticated download carried the bearer token.
    assert problems == [], "\n".join(problems)
    downloads = [entry for entry in simulator.log if entry.path.startswith("/download/")]
    assert len(downloads) >= 3 and not any(entry.authorized for entry in downloads)
    contents = [entry for entry in simulator.log if entry.path.endswith("/content")]
    assert len(contents) >= 3 and all(entry.authorized and entry.status == 302 for entry in contents)
