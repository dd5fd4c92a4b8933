"""The pages' side of the media pipeline (issue 15, item 6): the pictures and the rendition served like the media
(permission, Range, sandbox, private caching with validators, a new address when reprocessed), the seek-preview
WebVTT, the cards' thumbnail and duration, and the entry page's player and interactive transcript."""
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from mediaspace import playback, services
from mediaspace.models import CaptionCue, Category, MediaEntry, Publication
from mediaspace.roles import Role
from tests.processed import GRID, make_files, store_processed
from tests.storage import read_stored

from .conftest import MP3_HEAD, PNG_HEAD

MAX_QUERIES = 10


@pytest.fixture(scope="session")
def files(tmp_path_factory):
    return make_files(tmp_path_factory.mktemp("processed"))


@pytest.fixture
def owner(make_user):
    return make_user(username="owner")


@pytest.fixture
def entry(owner, make_entry, files):
    return store_processed(make_entry(owner), files)


def picture_url(entry, name):
    return reverse("mediaspace:entry_picture", args=[entry.pk, name])


# --- pictures and rendition: served like the media ---------------------------------------------------------------


@pytest.mark.parametrize("name, field, content_type", [
    ("poster", "poster", "image/jpeg"), ("thumbnail", "thumbnail", "image/jpeg"), ("sprite", "sprite", "image/jpeg")])
def test_a_picture_is_served_to_who_may_watch_with_its_type_sandboxed(client_for, entry, name, field, content_type):
    response = client_for(entry.owner).get(picture_url(entry, name))
    assert (response.status_code, response["Content-Type"]) == (200, content_type)
    assert b"".join(response.streaming_content) == read_stored(getattr(entry, field).name)
    assert (response["Content-Security-Policy"], response["X-Content-Type-Options"]) == ("sandbox", "nosniff")
    assert response["Content-Disposition"].startswith("inline")


def test_a_private_entry_s_picture_is_private_too(client_for, entry, make_user):
    for name in ("poster", "thumbnail", "sprite"):
        assert client_for(make_user()).get(picture_url(entry, name)).status_code == 403
        anonymous = client_for(None).get(picture_url(entry, name))
        assert (anonymous.status_code, anonymous["Location"].startswith(reverse("mediaspace:login"))) == (302, True)
    for url in (reverse("mediaspace:entry_playback", args=[entry.pk]),
                reverse("mediaspace:entry_seek_track", args=[entry.pk])):
        assert client_for(make_user()).get(url).status_code == 403


def test_a_published_entry_s_picture_is_shown_to_viewers(client_for, entry, make_user):
    category = Category.objects.create(name="Lectures")
    Publication.objects.create(entry=entry, category=category, status=Publication.Status.APPROVED)
    assert client_for(make_user(role=Role.VIEWER)).get(picture_url(entry, "thumbnail")).status_code == 200


def test_a_picture_is_kept_privately_by_the_browser_and_revalidated_with_304(client_for, entry):
    client = client_for(entry.owner)
    first = client.get(picture_url(entry, "thumbnail"))
    assert first["Cache-Control"] == f"private, max-age={playback.PICTURE_MAX_AGE}"
    assert first["ETag"].startswith('"') and first["Last-Modified"]
    again = client.get(picture_url(entry, "thumbnail"), HTTP_IF_NONE_MATCH=first["ETag"])
    assert (again.status_code, again.content, again["ETag"]) == (304, b"", first["ETag"])
    since = client.get(picture_url(entry, "thumbnail"), HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert since.status_code == 304
    stale = client.get(picture_url(entry, "thumbnail"), HTTP_IF_NONE_MATCH='"something-else"')
    assert stale.status_code == 200


def test_a_reprocessed_picture_gets_a_new_address_and_validator(client_for, entry, files):
    client = client_for(entry.owner)
    before_url, before_etag = playback.picture_url(entry, "poster"), client.get(picture_url(entry, "poster"))["ETag"]
    entry.processed = timezone.now() + timedelta(seconds=5)
    store_processed(entry, files)  # a new run stores into a new folder
    assert playback.picture_url(entry, "poster") != before_url
    assert re.fullmatch(re.escape(picture_url(entry, "poster")) + r"\?v=[0-9a-f]{12}", before_url)
    response = client.get(picture_url(entry, "poster"), HTTP_IF_NONE_MATCH=before_etag)
    assert response.status_code == 200 and response["ETag"] != before_etag


def test_pictures_serve_ranges(client_for, entry):
    response = client_for(entry.owner).get(picture_url(entry, "poster"), HTTP_RANGE="bytes=0-9")
    assert (response.status_code, response["Content-Range"].startswith("bytes 0-9/")) == (206, True)
    assert b"".join(response.streaming_content) == read_stored(entry.poster.name)[:10]


def test_a_missing_or_unknown_picture_is_404_with_a_readable_text(client_for, owner, make_entry, entry):
    bare = make_entry(owner, reference_id="bare")
    client = client_for(owner)
    for url in (picture_url(bare, "poster"), picture_url(entry, "media"), picture_url(entry, "playback"),
                reverse("mediaspace:entry_playback", args=[bare.pk]),
                reverse("mediaspace:entry_seek_track", args=[bare.pk])):
        response = client.get(url)
        assert (response.status_code, response["Content-Type"]) == (404, "text/plain"), url
        assert response.content.decode().startswith("This entry has no")


def test_the_rendition_plays_with_ranges_and_validators_and_only_when_ready(client_for, entry):
    client, url = client_for(entry.owner), reverse("mediaspace:entry_playback", args=[entry.pk])
    response = client.get(url, HTTP_RANGE="bytes=0-99")
    assert (response.status_code, response["Content-Type"], response["Accept-Ranges"]) == (206, "video/mp4", "bytes")
    assert b"".join(response.streaming_content) == read_stored(entry.playback.name)[:100]
    assert client.get(url, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
    MediaEntry.objects.filter(pk=entry.pk).update(status=MediaEntry.Status.PROCESSING)
    assert client.get(url).status_code == 404


def test_the_original_is_still_served_beside_the_rendition(client_for, entry):
    response = client_for(entry.owner).get(reverse("mediaspace:entry_media", args=[entry.pk]))
    assert b"".join(response.streaming_content) == read_stored(entry.media.name)


# --- the seek-preview track -------------------------------------------------------------------------------------


def test_the_seek_track_names_each_tile_of_the_sprite(client_for, entry):
    entry.duration = 15.0
    response = client_for(entry.owner).get(reverse("mediaspace:entry_seek_track", args=[entry.pk]))
    assert (response.status_code, response["Content-Type"]) == (200, "text/vtt; charset=utf-8")
    assert response["Cache-Control"].startswith("private") and response["ETag"]
    sprite = playback.picture_url(entry, "sprite")
    text = response.content.decode()
    assert text.startswith("WEBVTT\n\n")
    cues = re.findall(r"(\S+) --> (\S+)\n(\S+)", text)
    assert cues[:2] == [("00:00:00.000", "00:00:02.000", f"{sprite}#xywh=0,0,80,45"),
                        ("00:00:02.000", "00:00:04.000", f"{sprite}#xywh=80,0,80,45")]
    assert cues[4] == ("00:00:08.000", "00:00:10.000", f"{sprite}#xywh=0,45,80,45")
    # The last tile ends with the video, not past it.
    assert cues[-1] == ("00:00:14.000", "00:00:15.000", f"{sprite}#xywh=240,45,80,45")
    assert len(cues) == GRID["count"]
    head = client_for(entry.owner).head(reverse("mediaspace:entry_seek_track", args=[entry.pk]))
    assert (head.status_code, head["ETag"]) == (200, response["ETag"])


@pytest.mark.parametrize("grid", [{}, {"interval": 2}, {**GRID, "count": 9}, {**GRID, "width": 0},
                                  {**GRID, "columns": "4"}, [1, 2]])
def test_an_incomplete_sprite_grid_has_no_seek_track(client_for, entry, grid):
    MediaEntry.objects.filter(pk=entry.pk).update(sprite_grid=grid)
    entry.refresh_from_db()
    assert client_for(entry.owner).get(reverse("mediaspace:entry_seek_track", args=[entry.pk])).status_code == 404
    assert playback.seek_track_url(entry) == ""


# --- durations ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seconds, label, spoken", [
    (0.4, "0:00", "Duration: 0 seconds"), (5, "0:05", "Duration: 5 seconds"), (59.6, "1:00", "Duration: 1 minute"),
    (125, "2:05", "Duration: 2 minutes 5 seconds"), (3600, "1:00:00", "Duration: 1 hour"),
    (3723.2, "1:02:03", "Duration: 1 hour 2 minutes 3 seconds"), (None, "", "")])
def test_durations_read_as_clock_and_as_words(seconds, label, spoken):
    assert (playback.duration_label(seconds), playback.duration_spoken(seconds)) == (label, spoken)


# --- cards: thumbnail and duration --------------------------------------------------------------------------------


def cards_of(html):
    return re.findall(r'<li class="card".*?</li>', html, re.S)


def card_pages(client, entry):
    """The pages that show `entry`'s card: My Media, its search, the category, the category's search."""
    category = Category.objects.get_or_create(name="Lectures")[0]
    Publication.objects.get_or_create(entry=entry, category=category, status=Publication.Status.APPROVED)
    my_media, category_url = reverse("mediaspace:my_media"), reverse("mediaspace:category", args=[category.pk])
    urls = [my_media, f"{my_media}?q={entry.name}", category_url, f"{category_url}?q={entry.name}"]
    return {url: client.get(url).content.decode() for url in urls}


def test_a_card_shows_the_thumbnail_and_the_duration_everywhere(client_for, entry):
    MediaEntry.objects.filter(pk=entry.pk).update(duration=3723.4)
    thumbnail = playback.picture_url(entry, "thumbnail")
    for url, html in card_pages(client_for(entry.owner), entry).items():
        card, = cards_of(html)
        img = re.search(r"<img [^>]*>", card).group(0)
        assert f'src="{thumbnail}"' in img and 'loading="lazy"' in img, url
        assert 'width="320" height="180"' in img and "alt=\"Picture from “A clip”\"" in img, url
        assert '<span aria-hidden="true">1:02:03</span>' in card, url
        assert '<span class="visually-hidden">Duration: 1 hour 2 minutes 3 seconds</span>' in card, url


def test_an_audio_entry_s_card_shows_its_waveform(client_for, owner, make_entry, files):
    audio = store_processed(make_entry(owner, content=MP3_HEAD * 4, filename="talk.mp3", name="Talk"), files,
                            playback=False, sprite=False, picture="waveform", duration=95)
    card, = cards_of(client_for(owner).get(reverse("mediaspace:my_media")).content.decode())
    assert playback.picture_url(audio, "thumbnail").endswith(playback.version(audio.thumbnail))
    assert audio.thumbnail.name.endswith(".png")
    assert f'src="{playback.picture_url(audio, "thumbnail")}"' in card and ">1:35<" in card


@pytest.mark.parametrize("kind, content, filename, status", [
    ("video", None, "clip.webm", MediaEntry.Status.PROCESSING), ("image", PNG_HEAD, "photo.png", None),
    ("video", None, "clip.webm", None)], ids=["processing", "image", "processing-off"])
def test_a_card_without_a_thumbnail_shows_a_placeholder(client_for, owner, make_entry, kind, content, filename,
                                                         status):
    entry = make_entry(owner, **({"content": content} if content else {}), filename=filename)
    if status:
        MediaEntry.objects.filter(pk=entry.pk).update(status=status)
    card, = cards_of(client_for(owner).get(reverse("mediaspace:my_media")).content.decode())
    assert "<img" not in card
    assert f'<span class="placeholder" data-kind="{kind}" aria-hidden="true"></span>' in card


def test_a_processing_entry_s_card_says_how_far_it_is(client_for, owner, make_entry):
    entry = make_entry(owner)
    MediaEntry.objects.filter(pk=entry.pk).update(status=MediaEntry.Status.PROCESSING, processing_progress=42)
    client = client_for(owner)
    card, = cards_of(client.get(reverse("mediaspace:my_media")).content.decode())
    assert re.search(r'status-label">Processing</span>\s*<span class="status-percent">42 %</span>', card)
    assert 'value="42"' in card and 'aria-label="Processing progress"' in card
    html = client.get(reverse("mediaspace:my_media")).content.decode()
    assert "mediaspace/progress" in html  # the page keeps it up to date
    status = client.get(reverse("mediaspace:my_media_status") + f"?ids={entry.pk}").json()
    assert status[str(entry.pk)] == {"status": "processing", "status_label": "Processing", "percent": 42,
                                     "error": ""}
    MediaEntry.objects.filter(pk=entry.pk).update(processing_progress=70)
    assert 'value="70"' in client.get(reverse("mediaspace:my_media")).content.decode()


def test_a_reprocessed_thumbnail_shows_on_the_cached_card_at_once(client_for, entry, files):
    client = client_for(entry.owner)
    before = playback.picture_url(entry, "thumbnail")
    assert before in client.get(reverse("mediaspace:my_media")).content.decode()
    store_processed(entry, files)
    page = client.get(reverse("mediaspace:my_media")).content.decode()
    assert (before in page, playback.picture_url(entry, "thumbnail") in page) == (False, True)


def queries_of(client, url):
    client.get(url)  # the first request may fill caches; the second is what every later one costs
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries.captured_queries)


def processed_entries(owner, category, files, count, start):
    """`count` ready entries with pictures and a duration, published to `category` (all share one stored set of
    files: only the pages are measured)."""
    template = store_processed(MediaEntry.objects.create(name="template", owner=owner, reference_id=f"t-{start}",
                                                         content_type="video/webm"), files)
    fields = {name: getattr(template, name).name for name in ("poster", "thumbnail", "sprite", "playback")}
    entries = MediaEntry.objects.bulk_create(
        MediaEntry(name=f"Lecture {number:05d}", owner=owner, status=MediaEntry.Status.READY, content_type="video/webm",
                   reference_id=f"bulk-{number}", duration=60 + number, width=320, height=180,
                   sprite_grid=GRID, processed=template.processed, **fields)
        for number in range(start, start + count))
    Publication.objects.bulk_create(
        Publication(category=category, entry=entry, status=Publication.Status.APPROVED) for entry in entries)


@pytest.mark.parametrize("name", ["my media", "search", "category", "category search"])
def test_pages_of_cards_with_thumbnails_issue_the_same_queries_at_two_sizes(client_for, owner, files, name):
    category = Category.objects.create(name="Lectures")
    client = client_for(owner)
    url = {"my media": reverse("mediaspace:my_media"), "search": reverse("mediaspace:my_media") + "?q=Lecture",
           "category": reverse("mediaspace:category", args=[category.pk]),
           "category search": reverse("mediaspace:category", args=[category.pk]) + "?q=Lecture"}[name]
    url += "&" if "?" in url else "?"
    processed_entries(owner, category, files, 60, 0)
    few = queries_of(client, url + "page=2")
    processed_entries(owner, category, files, 600, 60)
    many = queries_of(client, url + "page=20")
    html = client.get(url + "page=20").content.decode()
    assert html.count('loading="lazy"') == 24 and html.count('class="duration"') == 24
    assert (few, many <= MAX_QUERIES) == (many, True)


# --- the entry page: player, poster, rendition, transcript -------------------------------------------------------


def vtt(cues):
    """WebVTT of (start, end, text) cues."""
    from mediaspace.playback import vtt_time

    return ("WEBVTT\n\n" + "".join(f"{vtt_time(start)} --> {vtt_time(end)}\n{text}\n\n" for start, end, text in cues)
            ).encode()


LECTURE = [(0.5, 3, "Welcome to the lecture"), (3, 6.25, "Today: <b>markup</b> & entities"),
           (6.25, 9, "Questions at the end")]


def entry_html(client, entry):
    response = client.get(entry.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def test_the_player_plays_the_rendition_over_the_poster_with_captions_and_seek_previews(client_for, entry):
    track = services.caption_add(entry=entry, label="English", language="en", content=vtt(LECTURE))
    html = entry_html(client_for(entry.owner), entry)
    video = re.search(r"<video [^>]*>", html).group(0)
    assert f'src="{playback.playback_url(entry)}"' in video
    assert playback.playback_url(entry).startswith(reverse("mediaspace:entry_playback", args=[entry.pk]) + "?v=")
    assert f'poster="{playback.picture_url(entry, "poster")}"' in video and 'width="320" height="180"' in video
    assert (f'<track kind="captions" src="{reverse("mediaspace:caption_file", args=[track.pk])}" srclang="en" '
            'label="English" default>') in html
    assert f'<track kind="metadata" label="Seek previews" src="{playback.seek_track_url(entry)}"' in html
    assert "mediaspace/player" in html


def test_a_file_that_plays_as_it_is_plays_the_original(client_for, owner, make_entry, files):
    entry = store_processed(make_entry(owner), files, playback=False, sprite=False)
    html = entry_html(client_for(owner), entry)
    assert f'src="{reverse("mediaspace:entry_media", args=[entry.pk])}"' in re.search(r"<video [^>]*>", html).group(0)
    assert "Download the original" not in html and 'kind="metadata"' not in html


def test_the_original_is_offered_for_download_to_the_owner_and_co_editors_only(client_for, entry, make_user):
    category = Category.objects.create(name="Lectures")
    Publication.objects.create(entry=entry, category=category, status=Publication.Status.APPROVED)
    co_editor, co_viewer, viewer = make_user(), make_user(), make_user(role=Role.VIEWER)
    services.collaborator_grant(entry=entry, user=co_editor, co_editor=True)
    services.collaborator_grant(entry=entry, user=co_viewer, co_viewer=True)
    link = f'<a href="{reverse("mediaspace:entry_media", args=[entry.pk])}" download>Download the original file</a>'
    assert [link in entry_html(client_for(user), entry) for user in (entry.owner, co_editor, co_viewer, viewer)] == [
        True, True, False, False]


def test_an_audio_entry_shows_its_waveform_above_the_player(client_for, owner, make_entry, files):
    audio = store_processed(make_entry(owner, content=MP3_HEAD * 4, filename="talk.mp3"), files, playback=False,
                            sprite=False, picture="waveform")
    html = entry_html(client_for(owner), audio)
    assert f'<img class="audio-picture" src="{playback.picture_url(audio, "poster")}" alt=""' in html
    assert '<audio id="player"' in html


def test_a_processing_entry_s_page_says_how_far_it_is_and_keeps_up_to_date(client_for, entry):
    MediaEntry.objects.filter(pk=entry.pk).update(status=MediaEntry.Status.PROCESSING, processing_progress=42)
    html = entry_html(client_for(entry.owner), entry)
    assert re.search(r'<strong class="status-label">Processing</strong>\s*<span class="status-percent">42 %</span>',
                     html)
    assert 'value="42"' in html and "mediaspace/progress" in html and "<video" not in html


def test_the_transcript_lists_every_cue_as_a_button_that_seeks(client_for, entry):
    services.caption_add(entry=entry, label="English", language="en", content=vtt(LECTURE))
    services.caption_add(entry=entry, label="French", language="fr", content=vtt([(1, 2, "Bienvenue")]))
    html = entry_html(client_for(entry.owner), entry)
    section = re.search(r'<section class="transcript".*?</section>', html, re.S).group(0)
    assert '<label for="transcript-filter"' in section and '<input type="search" id="transcript-filter"' in section
    buttons = re.findall(r'<button type="button" data-start="([^"]+)" data-end="([^"]+)">'
                         r'<span class="cue-time">([^<]+)</span> (.*?)</button>', section)
    # The default track's cues (English sorts first), in order, as plain text, escaped.
    assert buttons == [("0.5", "3.0", "0:00", "Welcome to the lecture"),
                       ("3.0", "6.25", "0:03", "Today: markup &amp; entities"),
                       ("6.25", "9.0", "0:06", "Questions at the end")]


def test_an_entry_without_captions_has_no_transcript(client_for, entry):
    assert "transcript" not in entry_html(client_for(entry.owner), entry)


@pytest.mark.parametrize("count", [10, 2400])
def test_the_entry_page_with_a_transcript_takes_at_most_ten_queries(client_for, entry, count):
    services.caption_add(entry=entry, label="English", language="en",
                         content=vtt([(3 * n, 3 * n + 3, f"Sentence number {n}") for n in range(count)]))
    client = client_for(entry.owner)
    assert queries_of(client, entry.get_absolute_url()) <= MAX_QUERIES
    assert entry_html(client, entry).count('<button type="button" data-start=') == count
    assert CaptionCue.objects.filter(entry=entry).count() == count


def test_a_file_typed_as_video_that_holds_only_sound_gets_the_audio_player(client_for, owner, make_entry, files):
    entry = store_processed(make_entry(owner, content=MP3_HEAD * 4, filename="voice.wma"), files, sprite=False,
                            picture="waveform")
    MediaEntry.objects.filter(pk=entry.pk).update(content_type="video/x-ms-asf",
                                                  probe={"has_video": False, "has_audio": True})
    html = entry_html(client_for(owner), entry)
    assert '<audio id="player"' in html and "<video" not in html
    MediaEntry.objects.filter(pk=entry.pk).update(probe={"has_video": True, "has_audio": True})
    assert "<video" in entry_html(client_for(owner), entry)


# --- on S3 --------------------------------------------------------------------------------------------------------


def test_on_s3_a_picture_is_a_signed_url_given_after_the_permission_check(s3, owner, client_for, settings, make_entry,
                                                                         files, make_user):
    import requests

    settings.MEDIASPACE_SIGNED_URL_SECONDS = 120
    entry = store_processed(make_entry(owner), files)
    response = client_for(owner).get(picture_url(entry, "thumbnail"))
    assert (response.status_code, response["Cache-Control"]) == (302, "private, no-store")
    assert "X-Amz-Expires=120" in response["Location"] and "X-Amz-Signature=" in response["Location"]
    fetched = requests.get(response["Location"], timeout=30)
    assert (fetched.headers["Content-Type"], fetched.content) == ("image/jpeg", files["thumbnail"].read_bytes())
    rendition = client_for(owner).get(reverse("mediaspace:entry_playback", args=[entry.pk]))
    assert rendition.status_code == 302 and "X-Amz-Signature=" in rendition["Location"]
    assert client_for(make_user()).get(picture_url(entry, "thumbnail")).status_code == 403


def test_on_s3_without_signed_urls_a_picture_streams_with_its_validators(s3, owner, client_for, settings, make_entry,
                                                                         files):
    settings.MEDIASPACE_SIGNED_URL_SECONDS = 0
    entry = store_processed(make_entry(owner), files)
    client = client_for(owner)
    response = client.get(picture_url(entry, "poster"))
    assert (response.status_code, b"".join(response.streaming_content)) == (200, files["poster"].read_bytes())
    assert client.get(picture_url(entry, "poster"), HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
