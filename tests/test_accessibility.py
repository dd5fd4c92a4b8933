"""Accessibility in a real browser: axe-core (from npm, package.json; scripts/test.sh runs `npm ci`) checks My Media,
an entry page with its interactive transcript, a category page, the upload page and the OneDrive picker in
Chromium, and finds no serious or critical violation."""
from pathlib import Path

import pytest
from django.conf import settings

from integrations.microsoft import openid
from mediaspace import services
from mediaspace.models import Category, MediaEntry, Publication
from mediaspace.roles import Role
from onedrive.models import OneDriveModule
from tests.browsers import chromium
from tests.processed import make_files, store_processed

from .conftest import PNG_HEAD

AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
CAPTIONS = b"WEBVTT\n\n00:00:00.500 --> 00:00:03.000\nWelcome to the lecture\n\n" \
           b"00:00:03.000 --> 00:00:06.000\nToday: colour and contrast\n"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return make_files(tmp_path_factory.mktemp("processed"))


@pytest.fixture
def page(browser):
    assert AXE.exists(), f"{AXE} is missing: run `npm ci` at the top of the repository (scripts/test.sh does)"
    # axe is injected as a script: the portal's Content-Security-Policy (which test_browser.py holds the pages
    # to) would refuse it, so this context alone bypasses it.
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def serious_violations(page, url):
    """axe's serious and critical violations of the page at `url`, one readable line each."""
    page.goto(url)
    page.wait_for_load_state("load")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    # What axe could not decide counts too (an aria-describedby naming no element is one), except a contrast
    # over a picture (the duration badge on a thumbnail), which it cannot measure.
    undecided = [violation for violation in result["incomplete"] if violation["id"] != "color-contrast"]
    return [f"{violation['impact']}: {violation['id']} ({violation['help']}) at "
            + "; ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
            for violation in result["violations"] + undecided if violation["impact"] in ("serious", "critical")]


def share_session(page, live_server, client):
    """The browser takes the test client's session (signing in through the pages has tests of its own)."""
    name = settings.SESSION_COOKIE_NAME
    page.context.add_cookies([{"name": name, "value": client.cookies[name].value, "url": live_server.url}])


@pytest.fixture
def lecturer(make_user, client, live_server, page):
    user = make_user(username="lecturer", role=Role.PRIVATE_ONLY)
    client.force_login(user)
    share_session(page, live_server, client)
    return user


@pytest.fixture
def entries(lecturer, make_entry, files):
    """A processed video with captions, one still processing, an image and a failed import, all published."""
    video = store_processed(make_entry(lecturer, name="Lecture with captions"), files)
    services.caption_add(entry=video, label="English", language="en", content=CAPTIONS)
    processing = make_entry(lecturer, name="Still processing", reference_id="processing")
    MediaEntry.objects.filter(pk=processing.pk).update(status=MediaEntry.Status.PROCESSING, processing_progress=42)
    image = make_entry(lecturer, name="A photo", content=PNG_HEAD, filename="photo.png", reference_id="image")
    failed = make_entry(lecturer, name="Broken", reference_id="failed")
    MediaEntry.objects.filter(pk=failed.pk).update(status=MediaEntry.Status.FAILED,
                                                  error="The file could not be read as audio or video.")
    category = Category.objects.create(name="Lectures")
    for entry in (video, image):
        Publication.objects.create(entry=entry, category=category, status=Publication.Status.APPROVED)
    return {"video": video, "category": category}


def test_my_media_has_no_serious_accessibility_violation(page, live_server, entries):
    assert serious_violations(page, f"{live_server.url}/my-media/") == []


def test_an_entry_page_with_its_transcript_has_no_serious_accessibility_violation(page, live_server, entries):
    assert serious_violations(page, f"{live_server.url}{entries['video'].get_absolute_url()}") == []
    assert page.locator(".transcript button").count() == 2


def test_the_page_of_an_entry_still_processing_has_no_serious_accessibility_violation(page, live_server, entries):
    processing = MediaEntry.objects.get(name="Still processing")
    assert serious_violations(page, f"{live_server.url}{processing.get_absolute_url()}") == []
    assert page.get_by_role("status").inner_text().startswith("Processing 42 %")


def test_a_category_page_has_no_serious_accessibility_violation(page, live_server, entries):
    assert serious_violations(page, f"{live_server.url}{entries['category'].get_absolute_url()}") == []


def test_the_upload_page_has_no_serious_accessibility_violation(page, live_server, lecturer):
    assert serious_violations(page, f"{live_server.url}/upload/") == []


def test_the_onedrive_picker_has_no_serious_accessibility_violation(page, live_server, make_user, client, sim):
    from tests.test_onedrive_flow import CLIP, REDIRECT, signed_in

    openid.signing_keys.clear()  # keys are per simulator run
    app = sim.add_app(secret=False, redirect_uris=[REDIRECT], name="KMS onedrive integration")
    module = OneDriveModule.load()
    module.enabled, module.application_id = True, app.client_id
    module.save()
    ann = sim.add_user("ann.lee@contoso.edu", "Ann Lee")
    sim.add_file(ann, "Lecture 1.webm", data=CLIP)
    sim.add_file(ann, "Notes.pdf", 5_000)
    sim.add_file(ann, "Videos/Intro.mp4", 300_000)
    client.force_login(make_user(username="ann", role=Role.PRIVATE_ONLY))
    signed_in(client)  # Microsoft's sign-in, through the test client: the picker's own tests cover it
    share_session(page, live_server, client)
    assert serious_violations(page, f"{live_server.url}/onedrive/") == []
    assert page.get_by_text("Lecture 1.webm").count() == 1
