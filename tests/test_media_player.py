"""The pages of processed media in a real browser (Debian's Chromium driven by Playwright): the card's thumbnail and
duration, the player's poster and rendition playing, the seek previews, and the interactive transcript following
playback, seeking on click and on Enter, and narrowing to a filter. No page breaks the Content-Security-Policy."""
import pytest
from django.conf import settings

from mediaspace import playback, services
from mediaspace.models import MediaEntry
from mediaspace.roles import Role
from tests.browsers import chromium, record_csp_violations
from tests.processed import make_files, store_processed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Two-second cues over the 15-second test video.
WORDS = ["Welcome", "Colour", "Contrast", "Motion", "Sound", "Questions", "Thanks"]
CAPTIONS = ("WEBVTT\n\n" + "".join(f"{playback.vtt_time(2 * n)} --> {playback.vtt_time(2 * n + 2)}\n{word}\n\n"
                                   for n, word in enumerate(WORDS))).encode()


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return make_files(tmp_path_factory.mktemp("processed"))


@pytest.fixture
def problems():
    return []


@pytest.fixture
def page(browser, problems):
    context = browser.new_context()
    record_csp_violations(context, problems)
    page = context.new_page()
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.set_default_timeout(15_000)
    yield page
    context.close()
    assert problems == [], "a page broke its Content-Security-Policy or raised an error"


def open_as(page, live_server, client, user, path):
    """The browser at `path`, signed in as `user` (with the test client's session: sign-in has its own tests)."""
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    page.context.add_cookies([{"name": name, "value": client.cookies[name].value, "url": live_server.url}])
    page.goto(f"{live_server.url}{path}")


@pytest.fixture
def entry(make_user, make_entry, files):
    """A processed entry whose original is a few bytes no browser plays: only its rendition can play."""
    owner = make_user(role=Role.PRIVATE_ONLY, username="lecturer")
    entry = store_processed(make_entry(owner, name="Processed lecture"), files)
    services.caption_add(entry=entry, label="English", language="en", content=CAPTIONS)
    return entry


def wait_playing_past(page, seconds):
    page.wait_for_function("(s) => (v => v.readyState >= 2 && !v.paused && v.currentTime > s)"
                           "(document.querySelector('video#player'))", arg=seconds)


def test_the_card_shows_the_thumbnail_and_duration(page, live_server, client, entry):
    open_as(page, live_server, client, entry.owner, "/my-media/")
    thumbnail = page.get_by_role("img", name="Picture from “Processed lecture”")
    thumbnail.scroll_into_view_if_needed()
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle())
    assert thumbnail.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [160, 90]
    assert page.locator(".card .duration [aria-hidden]").inner_text() == "0:15"
    assert page.locator(".card .duration .visually-hidden").text_content() == "Duration: 15 seconds"


def test_the_player_shows_its_poster_and_plays_the_rendition(page, live_server, client, entry):
    open_as(page, live_server, client, entry.owner, entry.get_absolute_url())
    video = page.locator("video#player")
    # The poster: the browser loads it (same address, same cookie) to a real picture.
    poster = video.evaluate("v => v.poster")
    assert poster.endswith(playback.picture_url(entry, "poster"))
    assert page.evaluate("(url) => new Promise((done) => { const img = new Image(); img.onload = () => "
                         "done(img.naturalWidth); img.onerror = () => done(0); img.src = url; })", poster) == 320
    assert video.evaluate("v => v.currentSrc").endswith(playback.playback_url(entry))
    video.evaluate("v => { v.muted = true; return v.play(); }")
    wait_playing_past(page, 0.5)
    assert video.evaluate("v => [v.videoWidth, v.videoHeight]") == [320, 180]
    assert video.evaluate("v => v.duration") == pytest.approx(15, abs=0.2)


def test_the_seek_previews_show_the_tile_under_the_pointer(page, live_server, client, entry):
    open_as(page, live_server, client, entry.owner, entry.get_absolute_url())
    video = page.locator("video#player")
    page.wait_for_function("() => (v => v.readyState >= 1 && v.textTracks.length === 2 && "
                           "v.textTracks[1].cues && v.textTracks[1].cues.length === 8)"
                           "(document.querySelector('video#player'))")
    box = video.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] - 20)  # 11 s: the sixth tile
    preview = page.locator(".seek-preview")
    preview.wait_for(state="visible")
    style = preview.evaluate("p => [p.style.backgroundImage, p.style.backgroundPosition, p.style.width]")
    assert playback.picture_url(entry, "sprite") in style[0] and style[1:] == ["-80px -45px", "80px"]
    page.mouse.move(box["x"] + 10, box["y"] + 10)  # the middle of the picture: no preview
    preview.wait_for(state="hidden")


def test_a_seek_from_the_keyboard_shows_its_tile_for_a_moment(page, live_server, client, entry):
    open_as(page, live_server, client, entry.owner, entry.get_absolute_url())
    video = page.locator("video#player")
    page.wait_for_function("() => (v => v.readyState >= 1 && v.textTracks[1].cues && v.textTracks[1].cues.length)"
                           "(document.querySelector('video#player'))")
    video.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.querySelector('video#player').currentTime > 0")
    preview = page.locator(".seek-preview")
    preview.wait_for(state="visible")
    assert playback.picture_url(entry, "sprite") in preview.evaluate("p => p.style.backgroundImage")
    preview.wait_for(state="hidden")


def current_cue(page):
    return page.locator(".transcript button[aria-current='true']").inner_text()


def test_the_transcript_follows_playback_and_seeks_on_click_and_enter(page, live_server, client, entry):
    open_as(page, live_server, client, entry.owner, entry.get_absolute_url())
    video = page.locator("video#player")
    cues = page.get_by_role("list").filter(has=page.locator(".cue-time")).get_by_role("button")
    assert cues.all_inner_texts() == [f"0:{2 * n:02} {word}" for n, word in enumerate(WORDS)]

    video.evaluate("v => { v.muted = true; return v.play(); }")
    wait_playing_past(page, 0.2)
    page.wait_for_function("() => document.querySelector('.transcript [aria-current]')")
    assert current_cue(page).endswith("Welcome")
    wait_playing_past(page, 2.3)
    page.wait_for_function("() => document.querySelector('.transcript [aria-current]').textContent.includes('Colour')")

    # A click seeks there, and the cue becomes the current one.
    page.get_by_role("button", name="0:08 Sound").click()
    page.wait_for_function("() => (v => v.currentTime >= 8 && v.currentTime < 9.5)"
                           "(document.querySelector('video#player'))")
    assert current_cue(page).endswith("Sound")
    assert page.locator(".transcript [aria-current]").count() == 1

    # From the keyboard: Tab from the filter reaches the first cue; Enter seeks.
    video.evaluate("v => v.pause()")
    page.get_by_label("Filter the transcript").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "0:00 Welcome"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_function("() => (v => Math.abs(v.currentTime - 4) < 0.01)(document.querySelector('video#player'))")
    assert current_cue(page).endswith("Contrast")


def test_the_current_cue_of_a_long_transcript_is_kept_in_sight(page, live_server, client, make_user, make_entry,
                                                                 files):
    owner = make_user(role=Role.PRIVATE_ONLY, username="lecturer")
    entry = store_processed(make_entry(owner, name="Long transcript"), files)
    cues = "".join(f"{playback.vtt_time(n * 0.25)} --> {playback.vtt_time(n * 0.25 + 0.25)}\nLine {n}\n\n"
                   for n in range(60))
    services.caption_add(entry=entry, label="English", language="en", content=f"WEBVTT\n\n{cues}".encode())
    open_as(page, live_server, client, owner, entry.get_absolute_url())
    page.set_viewport_size({"width": 1280, "height": 600})
    page.locator("video#player").evaluate("v => { v.currentTime = 13.1; }")
    page.wait_for_function("() => (b => b && b.textContent.endsWith('Line 52'))"
                           "(document.querySelector('.transcript [aria-current]'))")
    inside = page.evaluate("""() => {
        const list = document.querySelector('.transcript ol').getBoundingClientRect();
        const cue = document.querySelector('.transcript [aria-current]').getBoundingClientRect();
        return cue.top >= list.top && cue.bottom <= list.bottom; }""")
    assert inside and page.evaluate("() => document.querySelector('.transcript ol').scrollTop") > 0


def test_the_transcript_filter_narrows_the_list(page, live_server, client, entry):
    open_as(page, live_server, client, entry.owner, entry.get_absolute_url())
    page.get_by_label("Filter the transcript").fill("OU")
    page.wait_for_function("() => document.querySelector('[data-transcript-count]').textContent !== ''")
    visible = page.locator(".transcript li:not([hidden]) button")
    assert visible.all_inner_texts() == ["0:02 Colour", "0:08 Sound"]
    assert page.locator("[data-transcript-count]").inner_text() == "2 of 7 cues"
    page.get_by_label("Filter the transcript").fill("")
    page.wait_for_function("() => document.querySelector('[data-transcript-count]').textContent === ''")
    assert visible.count() == 7


def test_processing_shows_its_percent_as_it_goes_then_the_player(page, live_server, client, entry):
    MediaEntry.objects.filter(pk=entry.pk).update(status=MediaEntry.Status.PROCESSING, processing_progress=42)
    open_as(page, live_server, client, entry.owner, entry.get_absolute_url())
    assert page.get_by_role("status").inner_text().startswith("Processing 42 %")
    MediaEntry.objects.filter(pk=entry.pk).update(processing_progress=70)
    page.wait_for_function("() => document.querySelector('.status-percent').textContent === '70 %'")
    assert page.get_by_label("Processing progress").evaluate("bar => bar.value") == 70
    MediaEntry.objects.filter(pk=entry.pk).update(status=MediaEntry.Status.READY, processing_progress=None)
    page.locator("video#player").wait_for()  # the page shows itself anew, with the player


# --- every kind of video, processed by the pipeline -------------------------------------------------------------

VIDEOS = ["iphone_hevc.mov", "camera_prores.mov", "lecture.wmv", "clip.avi", "clip.mkv", "index_end.mp4",
          "phone_portrait.mov", "teams.mp4", "clip.webm"]


@pytest.fixture
def renders(monkeypatch):
    """The names of the entries' sources that the pipeline rendered (re-encoded)."""
    from mediaspace.processing import renditions

    rendered, render = [], renditions.render
    monkeypatch.setattr(renditions, "render", lambda source, *args, **kwargs: (
        rendered.append(source), render(source, *args, **kwargs))[1])
    return rendered


@pytest.mark.parametrize("name", VIDEOS)
def test_every_kind_of_video_plays_with_its_poster_thumbnail_and_duration(processing, renders, page, live_server,
                                                                          client, make_user, make_entry, name):
    from mediaspace.processing import pipeline
    from tests.media_files import MEDIA, media_file

    expected = MEDIA[name]
    owner = make_user(role=Role.PRIVATE_ONLY, username="lecturer")
    entry = make_entry(owner, content=media_file(name).read_bytes(), filename=name, name=f"Lecture {name}")
    entry = pipeline.process(entry.pk)
    assert (entry.status, entry.error) == ("ready", "")
    # A rendition only for what browsers cannot play as it is; an H.264/AAC MP4 is not re-encoded.
    assert bool(renders) == (expected.plan == "render")
    assert bool(entry.playback) == (expected.plan in ("render", "faststart"))

    open_as(page, live_server, client, owner, "/my-media/")
    thumbnail = page.get_by_role("img", name=f"Picture from “Lecture {name}”")
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle())
    seconds = round(expected.duration)
    assert page.locator(".card .duration [aria-hidden]").inner_text() == f"0:{seconds:02}"

    page.goto(f"{live_server.url}{entry.get_absolute_url()}")
    video = page.locator("video#player")
    poster = video.evaluate("v => v.poster")
    assert poster.endswith(playback.picture_url(entry, "poster"))
    assert page.evaluate("(url) => new Promise((done) => { const img = new Image(); img.onload = () => "
                         "done([img.naturalWidth, img.naturalHeight]); img.onerror = () => done(null); "
                         "img.src = url; })", poster) == [expected.width, expected.height]
    video.evaluate("v => { v.muted = true; return v.play(); }")
    wait_playing_past(page, 0.3)
    # The picture as displayed: a portrait phone video stands upright.
    assert video.evaluate("v => [v.videoWidth, v.videoHeight]") == [expected.width, expected.height]


@pytest.mark.parametrize("name", ["song.mp3", "tone.wav", "voice.wma"])
def test_audio_shows_its_waveform_on_the_card_and_above_the_player(processing, page, live_server, client, make_user,
                                                                   make_entry, name):
    from mediaspace.processing import pipeline
    from tests.media_files import media_file

    owner = make_user(role=Role.PRIVATE_ONLY, username="lecturer")
    entry = make_entry(owner, content=media_file(name).read_bytes(), filename=name, name=f"Talk {name}")
    entry = pipeline.process(entry.pk)
    assert entry.status == "ready"
    open_as(page, live_server, client, owner, "/my-media/")
    thumbnail = page.get_by_role("img", name=f"Picture from “Talk {name}”")
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle())
    page.goto(f"{live_server.url}{entry.get_absolute_url()}")
    page.wait_for_function("() => (img => img.complete && img.naturalWidth > 0)"
                           "(document.querySelector('img.audio-picture'))")
    audio = page.locator("audio#player")
    audio.evaluate("a => { a.muted = true; return a.play(); }")
    page.wait_for_function("() => (a => !a.paused && a.currentTime > 0.3)(document.querySelector('audio#player'))")
