"""In a real browser (Debian's Chromium driven by Playwright): sign in, upload, watch with captions, seek."""
import re
from pathlib import Path

import pytest

from mediaspace.models import MediaEntry, UploadModule
from mediaspace.roles import Role
from tests.browsers import chromium, record_csp_violations
from tests.storage import stored_files

MEDIA = Path(__file__).parent / "fixtures" / "media"


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture
def csp_violations():
    return []


@pytest.fixture
def page(browser, csp_violations):
    context = browser.new_context()
    record_csp_violations(context, csp_violations)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
    assert csp_violations == [], "the portal's pages broke its own Content-Security-Policy"


def sign_in(page, live_server, user):
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill("pw-for-tests-1")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/my-media/")


def test_upload_a_video_with_captions_then_watch_and_seek(page, live_server, make_user, tmp_path, csp_violations):
    user = make_user(role=Role.PRIVATE_ONLY, username="lecturer")
    media_responses, script_errors = [], []
    page.on("response", lambda response: media_responses.append(response) if "/file/" in response.url else None)
    page.on("pageerror", lambda error: script_errors.append(str(error)))

    sign_in(page, live_server, user)
    page.get_by_text("Add new").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Upload media").click()
    page.get_by_label("Media file").set_input_files(MEDIA / "clip.webm")
    page.get_by_label("Name").fill("Test pattern")
    page.get_by_label("Caption file (.vtt or .srt, optional)").set_input_files(MEDIA / "clip.vtt")
    page.get_by_role("button", name="Upload").click()
    page.wait_for_selector("video#player")

    entry = MediaEntry.objects.get(owner=user)
    assert (entry.name, entry.status, entry.content_type) == ("Test pattern", "ready", "video/webm")
    assert "/media/%d/" % entry.pk in page.url

    # It plays: the browser decodes frames and the clock moves.
    video = page.locator("video#player")
    video.evaluate("v => { v.muted = true; return v.play(); }")
    # wait_for_function gets functions, not expressions: Playwright evaluates an expression with eval, which
    # the portal's Content-Security-Policy refuses.
    page.wait_for_function("() => (v => v.readyState >= 2 && !v.paused && v.currentTime > 0.2)"
                           "(document.querySelector('video#player'))")
    assert video.evaluate("v => v.getVideoPlaybackQuality().totalVideoFrames") > 0
    assert video.evaluate("v => v.duration") == pytest.approx(4, abs=0.3)

    # Captions are on: the default track shows, and it has the file's three cues.
    track = "document.querySelector('video#player').textTracks[0]"
    page.wait_for_function(f"() => {track}.cues && {track}.cues.length === 3")
    assert page.evaluate(f"{track}.mode") == "showing"

    # Seek into the second cue: the player lands there and shows that caption.
    video.evaluate("""v => new Promise(resolve => {
        v.pause();
        v.addEventListener("seeked", resolve, {once: true});
        v.currentTime = 2.5;
    })""")
    assert video.evaluate("v => v.currentTime") == pytest.approx(2.5, abs=0.05)
    page.wait_for_function(f"() => {track}.activeCues.length === 1")
    assert page.evaluate(f"{track}.activeCues[0].text") == "Second caption: halfway through."

    # The browser fetched the media with Range requests, and the server answered them partially.
    partial = [response for response in media_responses if response.status == 206]
    assert partial, [(response.url, response.status) for response in media_responses]
    assert all(f"/media/{entry.pk}/file/" in response.url for response in partial)
    assert re.fullmatch(rf"bytes \d+-\d+/{entry.size}", partial[0].headers["content-range"])

    assert script_errors == []

    # The pages carry their Content-Security-Policy and the browser enforces it: nothing on the way here
    # broke it, and a script injected into the page does not run.
    assert csp_violations == []
    assert page.evaluate("""() => {
        const script = document.createElement("script");
        script.textContent = "window.injected = true";
        document.body.append(script);
        return window.injected;
    }""") is None
    for _ in range(100):  # the console message that reports the violation comes asynchronously
        if csp_violations:
            break
        page.wait_for_timeout(50)
    assert csp_violations and "Executing inline script violates" in csp_violations[0]
    csp_violations.clear()


def test_upload_page_refuses_a_file_over_the_limit_before_sending_it(page, live_server, make_user, tmp_path):
    module = UploadModule.load()
    module.max_size_mb = 1
    module.save()
    big = tmp_path / "big.webm"
    big.write_bytes((MEDIA / "clip.webm").read_bytes()[:4096] + b"\0" * (2 * 1024 * 1024))
    requests_sent = []
    page.on("request", lambda request: requests_sent.append(request) if request.method == "POST" else None)

    sign_in(page, live_server, make_user(role=Role.PRIVATE_ONLY))
    page.goto(f"{live_server.url}/upload/")
    page.get_by_label("Media file").set_input_files(big)
    page.get_by_role("button", name="Upload").click()

    error = page.locator("#upload-client-error")
    error.wait_for(state="visible")
    assert error.inner_text() == "The file is larger than the 1 MiB this portal accepts."
    assert [request for request in requests_sent if "/upload/" in request.url] == []
    assert not MediaEntry.objects.exists()
    assert stored_files() == []


def test_the_admin_pages_keep_the_content_security_policy(page, live_server, make_user, make_entry, csp_violations):
    make_entry(make_user(username="boss", is_staff=True, is_superuser=True))
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill("pw-for-tests-1")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/")
    # Every list and add page the index links to, and an entry's change page (widgets, inlines, scripts).
    urls = dict.fromkeys(page.eval_on_selector_all("#content-main a", "links => links.map(a => a.href)"))
    urls[f"{live_server.url}/admin/mediaspace/mediaentry/{MediaEntry.objects.get().pk}/change/"] = None
    for url in urls:
        response = page.goto(url)
        assert response.ok and "frame-ancestors 'none'" in response.headers["content-security-policy"], url
    assert len(urls) > 10 and csp_violations == []
