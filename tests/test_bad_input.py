"""Bad input of every kind: a clear 4xx message, nothing changed, never a 500.

The Django test client re-raises any exception a view lets escape, so a 500 shows up here as an error
of the test itself. Each test checks the status, the message the user reads (where a user sees one),
and that neither the database nor the files in MEDIA_ROOT changed.
"""
import html
import io

import pytest
from django.core.files.uploadedfile import InMemoryUploadedFile, SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from mediaspace import services
from mediaspace.forms import CaptionForm
from mediaspace.models import CaptionTrack, Category, Collaborator, MediaEntry, Publication, UploadModule
from mediaspace.roles import Role

from .conftest import WEBM_HEAD
from .storage import stored_files

MiB = 1024 * 1024
CONTENT = WEBM_HEAD + bytes(range(256)) * 4  # 1088 bytes, every offset distinguishable
SIZE = len(CONTENT)
VTT = b"WEBVTT\n\n00:00:01.000 --> 00:00:03.500\nHello there\n"
HUGE = "99999999999999999999999"  # matches <int:...> but fits no database integer
NOT_FOUND = "There is nothing at this address."
PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + b"0" * 200


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def body(response):
    return b"".join(response.streaming_content) if response.streaming else response.content


def page_text(response):
    return html.unescape(body(response).decode("utf-8", "replace"))


@pytest.fixture
def owner(make_user):
    return make_user(role=Role.ADMIN, username="owner")


@pytest.fixture
def entry(owner, make_entry):
    return make_entry(owner, content=CONTENT, name="Original name")


@pytest.fixture
def other_entry(make_user, make_entry):
    other = make_user(role=Role.ADMIN, username="someone-else")
    entry = make_entry(other, name="Someone else's")
    services.caption_add(entry=entry, label="English", language="en", content=VTT)
    Collaborator.objects.create(entry=entry, user=make_user(), is_co_viewer=True)
    return entry


@pytest.fixture
def category(db):
    return Category.objects.create(name="Lectures")


@pytest.fixture
def world(entry, other_entry, category, make_user):
    """The owner's entry with a caption track and a collaborator, plus someone else's entry."""
    track = services.caption_add(entry=entry, label="English", language="en", content=VTT)
    helper = make_user(role=Role.VIEWER, username="helper")
    collaborator = Collaborator.objects.create(entry=entry, user=helper, is_co_viewer=True)
    Publication.objects.create(entry=entry, category=category, status=Publication.Status.APPROVED)
    return type("World", (), {"entry": entry, "track": track, "collaborator": collaborator, "other": other_entry,
                              "category": category})


@pytest.fixture
def owner_client(owner, client_for):
    return client_for(owner)


@pytest.fixture
def snapshot():
    """Everything a bad request must leave as it was: rows, the entries' fields, and the stored files."""

    def take():
        return {
            "entries": list(MediaEntry.objects.order_by("pk").values_list("pk", "name", "description", "tags",
                                                                          "status", "media")),
            "captions": list(CaptionTrack.objects.order_by("pk").values_list("pk", "entry", "label", "language")),
            "collaborators": list(Collaborator.objects.order_by("pk").values_list(
                "pk", "entry", "user", "is_co_viewer", "is_co_editor", "is_co_publisher")),
            "publications": list(Publication.objects.order_by("pk").values_list("pk", "entry", "category", "status")),
            "categories": list(Category.objects.order_by("pk").values_list("pk", "name", "parent")),
            "files": stored_files(),
        }

    return take


# =================================================================================================
# Unknown and malformed ids
# =================================================================================================

UNKNOWN = {
    # name: (method, url from the world)
    "entry page": ("GET", lambda w: reverse("mediaspace:entry", args=[999999])),
    "edit page": ("GET", lambda w: reverse("mediaspace:entry_edit", args=[999999])),
    "edit": ("POST", lambda w: reverse("mediaspace:entry_edit", args=[999999])),
    "delete page": ("GET", lambda w: reverse("mediaspace:entry_delete", args=[999999])),
    "delete": ("POST", lambda w: reverse("mediaspace:entry_delete", args=[999999])),
    "media file": ("GET", lambda w: reverse("mediaspace:entry_media", args=[999999])),
    "caption file": ("GET", lambda w: reverse("mediaspace:caption_file", args=[999999])),
    "caption add": ("POST", lambda w: reverse("mediaspace:caption_add", args=[999999])),
    "caption remove, unknown entry": ("POST", lambda w: reverse("mediaspace:caption_remove",
                                                                args=[999999, w.track.pk])),
    "caption remove, unknown track": ("POST", lambda w: reverse("mediaspace:caption_remove",
                                                                args=[w.entry.pk, 999999])),
    "caption remove, another entry's track": ("POST", lambda w: reverse(
        "mediaspace:caption_remove", args=[w.entry.pk, w.other.captions.get().pk])),
    "collaborator add": ("POST", lambda w: reverse("mediaspace:collaborator_add", args=[999999])),
    "collaborator remove, unknown entry": ("POST", lambda w: reverse("mediaspace:collaborator_remove",
                                                                     args=[999999, w.collaborator.pk])),
    "collaborator remove, unknown collaborator": ("POST", lambda w: reverse("mediaspace:collaborator_remove",
                                                                            args=[w.entry.pk, 999999])),
    "collaborator remove, another entry's collaborator": ("POST", lambda w: reverse(
        "mediaspace:collaborator_remove", args=[w.entry.pk, w.other.collaborators.get().pk])),
    "publish": ("POST", lambda w: reverse("mediaspace:publish", args=[999999])),
    "unpublish, unknown entry": ("POST", lambda w: reverse("mediaspace:unpublish", args=[999999, w.category.pk])),
    "unpublish, unknown category": ("POST", lambda w: reverse("mediaspace:unpublish", args=[w.entry.pk, 999999])),
    "category page": ("GET", lambda w: reverse("mediaspace:category", args=[999999])),
}


def _request(client, method, url, data=None):
    return client.get(url) if method == "GET" else client.post(url, data or {})


@pytest.mark.parametrize("case", UNKNOWN)
def test_unknown_id_is_404_with_a_readable_page(world, owner_client, case):
    method, url = UNKNOWN[case]
    response = _request(owner_client, method, url(world))
    assert (response.status_code, NOT_FOUND in page_text(response)) == (404, True)


@pytest.mark.parametrize("case", UNKNOWN)
def test_unknown_id_changes_nothing(world, owner_client, snapshot, case):
    method, url = UNKNOWN[case]
    before = snapshot()
    _request(owner_client, method, url(world))
    assert snapshot() == before


MALFORMED = {
    "letters": ("GET", lambda w: "/media/abc/"),
    "negative": ("GET", lambda w: "/media/-1/"),
    "zero": ("GET", lambda w: "/media/0/"),
    "fraction": ("GET", lambda w: "/media/1.5/"),
    "hex": ("GET", lambda w: "/media/0x1/"),
    "full-width digit": ("GET", lambda w: "/media/%EF%BC%91/"),
    "superscript digit": ("GET", lambda w: "/media/%C2%B2/"),
    "space": ("GET", lambda w: "/media/%20/"),
    "huge entry": ("GET", lambda w: f"/media/{HUGE}/"),
    "huge entry, media file": ("GET", lambda w: f"/media/{HUGE}/file/"),
    "huge entry, edit": ("POST", lambda w: f"/media/{HUGE}/edit/"),
    "huge entry, delete": ("POST", lambda w: f"/media/{HUGE}/delete/"),
    "caption file, letters": ("GET", lambda w: "/captions/abc.vtt"),
    "caption file, huge": ("GET", lambda w: f"/captions/{HUGE}.vtt"),
    "caption file, wrong suffix": ("GET", lambda w: f"/captions/{w.track.pk}.srt"),
    "category, letters": ("GET", lambda w: "/categories/abc/"),
    "category, huge": ("GET", lambda w: f"/categories/{HUGE}/"),
    "caption remove, letters": ("POST", lambda w: f"/media/{w.entry.pk}/captions/abc/delete/"),
    "caption remove, huge": ("POST", lambda w: f"/media/{w.entry.pk}/captions/{HUGE}/delete/"),
    "collaborator remove, huge": ("POST", lambda w: f"/media/{w.entry.pk}/collaborators/{HUGE}/delete/"),
    "unpublish, huge": ("POST", lambda w: f"/media/{w.entry.pk}/unpublish/{HUGE}/"),
    "unpublish, letters": ("POST", lambda w: f"/media/{w.entry.pk}/unpublish/abc/"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_id_is_404_with_a_readable_page(world, owner_client, case):
    method, url = MALFORMED[case]
    response = _request(owner_client, method, url(world))
    assert (response.status_code, NOT_FOUND in page_text(response)) == (404, True)


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_id_changes_nothing(world, owner_client, snapshot, case):
    method, url = MALFORMED[case]
    before = snapshot()
    _request(owner_client, method, url(world))
    assert snapshot() == before


# =================================================================================================
# List pages: ?page, ?q, ?tab
# =================================================================================================

@pytest.fixture
def three_published(owner, make_entry, category, settings):
    settings.MEDIASPACE_PAGE_SIZE = 2
    entries = [make_entry(owner, name=f"Lecture {n}") for n in range(3)]
    for published in entries:
        Publication.objects.create(entry=published, category=category, status=Publication.Status.APPROVED)
    return entries


def _list_url(name, category):
    if name == "my media":
        return reverse("mediaspace:my_media")
    if name == "my media, shared":
        return reverse("mediaspace:my_media") + "?tab=shared&"
    return reverse("mediaspace:category", args=[category.pk])


def _with(url, query):
    return url + ("" if url.endswith("&") else "?") + query


@pytest.mark.parametrize("page_name", ["my media", "category"])
@pytest.mark.parametrize("query, shown", [
    ("page=abc", "Page 1 of 2"),
    ("page=", "Page 1 of 2"),
    ("page=1.5", "Page 1 of 2"),
    ("page=-1", "Page 2 of 2"),
    ("page=0", "Page 2 of 2"),
    ("page=99999", "Page 2 of 2"),
    (f"page={HUGE}", "Page 2 of 2"),
    ("page=%00", "Page 1 of 2"),
    ("page=2&page=abc", "Page 1 of 2"),
])
def test_bad_page_number_shows_a_real_page(owner_client, three_published, category, page_name, query, shown):
    response = owner_client.get(_with(_list_url(page_name, category), query))
    assert (response.status_code, shown in page_text(response)) == (200, True)


@pytest.mark.parametrize("page_name", ["my media", "my media, shared", "category"])
@pytest.mark.parametrize("query", [
    "q=" + "x" * 10000,
    "q=%00",
    "q=a%00b",
    "q=%25%5F%5C",            # % _ \ : LIKE wildcards and the escape character
    "q=%F0%9F%8E%A5%20caf%C3%A9",
    "q=%ff%fe",               # not UTF-8
    "q=<script>alert(1)</script>",
    "q=a&q=b",
    "tab=" + "y" * 5000,
])
def test_strange_search_gives_an_empty_result_page(owner_client, three_published, category, page_name, query):
    response = owner_client.get(_with(_list_url(page_name, category), query))
    page = page_text(response)
    assert (response.status_code, "Nothing" in page or "Nobody" in page or "Lecture" in page) == (200, True)


def test_very_long_search_is_echoed_shortened(owner_client, three_published):
    page = page_text(owner_client.get(reverse("mediaspace:my_media") + "?q=" + "x" * 10000))
    assert ("x" * 200 in page, "x" * 201 in page) == (True, False)


def test_search_text_is_escaped_in_the_page(owner_client, three_published):
    response = owner_client.get(reverse("mediaspace:my_media") + "?q=<script>alert(1)</script>")
    assert b"<script>alert(1)</script>" not in response.content


# =================================================================================================
# The status JSON: ?ids=garbage
# =================================================================================================

@pytest.mark.parametrize("ids", [
    "garbage", "", ",,,", "-1", "1.5", "0x1", "%00", "1;2", " , ", "abc,def", "1e3", "%EF%BC%91",
    HUGE, f"{HUGE},1", "%C2%B2", "%D9%A1", ",".join(["7"] * 5000),
], ids=lambda value: value[:30])
def test_status_json_ignores_garbage_ids(owner_client, entry, ids):
    response = owner_client.get(reverse("mediaspace:my_media_status") + "?ids=" + ids)
    assert (response.status_code, response["Content-Type"], set(response.json()) - {str(entry.pk)}) == (
        200, "application/json", set())


def test_status_json_keeps_the_good_ids_among_garbage(owner_client, entry):
    response = owner_client.get(reverse("mediaspace:my_media_status") + f"?ids=abc,{entry.pk},,-3,x")
    assert list(response.json()) == [str(entry.pk)]


def test_status_json_does_not_report_someone_elses_entry(owner_client, other_entry):
    response = owner_client.get(reverse("mediaspace:my_media_status") + f"?ids={other_entry.pk}")
    assert response.json() == {}


# =================================================================================================
# Uploads: too large, wrong type, broken captions
# =================================================================================================

def _upload_module(**values):
    module = UploadModule.load()
    for name, value in values.items():
        setattr(module, name, value)
    module.save()
    return module


def _upload(client, filename, content, **fields):
    data = {"file": SimpleUploadedFile(filename, content), "name": "Uploaded", **fields}
    return client.post(reverse("mediaspace:upload"), data)


@pytest.fixture
def uploader_client(make_user, client_for):
    return client_for(make_user(role=Role.PRIVATE_ONLY, username="uploader"))


TOO_LARGE = "The file is larger than the 1 MiB this portal accepts."


@pytest.mark.parametrize("size", [MiB + 1, 2 * MiB, 12 * MiB], ids=["1 MiB + 1 byte", "2 MiB", "12 MiB"])
def test_oversize_upload_is_413_with_the_limit(uploader_client, size):
    _upload_module(max_size_mb=1)
    response = _upload(uploader_client, "big.webm", WEBM_HEAD + b"\0" * (size - len(WEBM_HEAD)))
    assert (response.status_code, TOO_LARGE in page_text(response)) == (413, True)


@pytest.mark.parametrize("size", [MiB + 1, 2 * MiB, 12 * MiB], ids=["1 MiB + 1 byte", "2 MiB", "12 MiB"])
def test_oversize_upload_stores_nothing(uploader_client, snapshot, size):
    _upload_module(max_size_mb=1)
    before = snapshot()
    _upload(uploader_client, "big.webm", WEBM_HEAD + b"\0" * (size - len(WEBM_HEAD)))
    assert snapshot() == before


def test_oversize_upload_leaves_no_stored_file(uploader_client):
    _upload_module(max_size_mb=1)
    _upload(uploader_client, "big.webm", WEBM_HEAD + b"\0" * (2 * MiB))
    assert (MediaEntry.objects.count(), stored_files()) == (0, [])


def test_upload_of_exactly_the_limit_is_accepted(uploader_client):
    _upload_module(max_size_mb=1)
    response = _upload(uploader_client, "exact.webm", WEBM_HEAD + b"\0" * (MiB - len(WEBM_HEAD)))
    assert (response.status_code, MediaEntry.objects.get().size) == (302, MiB)


NOT_MEDIA = "This file is not a media file this portal accepts."

WRONG_TYPE = {
    # name: (filename, bytes, module settings, message)
    "text file": ("notes.txt", b"just some text\n" * 20, {}, NOT_MEDIA + " Allowed: video, audio, image."),
    "PDF renamed .mp4": ("movie.mp4", PDF, {}, NOT_MEDIA),
    "HTML renamed .webm": ("page.webm", b"<!doctype html><script>alert(1)</script>", {}, NOT_MEDIA),
    "empty file": ("empty.webm", b"", {}, "The submitted file is empty."),
    "video while video is off": ("clip.webm", CONTENT, {"allow_video": False}, NOT_MEDIA + " Allowed: audio, image."),
    "anything while every type is off": ("clip.webm", CONTENT,
                                         {"allow_video": False, "allow_audio": False, "allow_image": False},
                                         "nothing (uploads of every type are turned off)"),
}


@pytest.mark.parametrize("case", WRONG_TYPE)
def test_wrong_type_upload_is_400_with_a_reason(uploader_client, case):
    filename, content, module, message = WRONG_TYPE[case]
    _upload_module(**module)
    response = _upload(uploader_client, filename, content)
    assert (response.status_code, message in page_text(response)) == (400, True)


@pytest.mark.parametrize("case", WRONG_TYPE)
def test_wrong_type_upload_stores_nothing(uploader_client, snapshot, case):
    filename, content, module, _message = WRONG_TYPE[case]
    _upload_module(**module)
    before = snapshot()
    _upload(uploader_client, filename, content)
    assert snapshot() == before


def test_upload_without_a_file_is_400(uploader_client, snapshot):
    before = snapshot()
    response = uploader_client.post(reverse("mediaspace:upload"), {"name": "No file"})
    assert (response.status_code, "This field is required." in page_text(response), snapshot() == before) == (
        400, True, True)


def test_upload_with_a_broken_multipart_body_is_400(uploader_client, snapshot):
    before = snapshot()
    response = uploader_client.generic("POST", reverse("mediaspace:upload"), b"--x\r\ngarbage",
                                       content_type="multipart/form-data; boundary=")
    assert (response.status_code, snapshot() == before) == (400, True)


BROKEN_CAPTIONS = {
    # name: (caption file bytes, language, message)
    "plain text": (b"Hello, this is not a caption file\n", "en",
                   "This is not a WebVTT (.vtt) or SubRip (.srt) caption file."),
    "not UTF-8": (b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nCaf\xe9 cr\xe8me\n", "en",
                  "The caption file is not UTF-8 text."),
    "UTF-16": ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHi\n".encode("utf-16"), "en",
               "The caption file is not UTF-8 text."),
    "WebVTT without cues": (b"WEBVTT\n\nno timing here\n", "en", "The WebVTT file has no cues"),
    "binary": (PDF, "en", "This is not a WebVTT (.vtt) or SubRip (.srt) caption file."),
    "empty": (b"", "en", "The submitted file is empty."),
    "too large": (b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n" + b"a" * (5 * MiB), "en",
                  "The caption file is larger than 5 MiB."),
    "bad language tag": (VTT, "english!", "Enter a language tag such as en, de or pt-BR."),
    "language with a space": (VTT, "en US", "Enter a language tag such as en, de or pt-BR."),
    "language too long": (VTT, "en-" + "a" * 30, "Ensure this value has at most 16 characters"),
}


def _add_caption(client, entry, case, follow=False):
    content, language, _message = BROKEN_CAPTIONS[case]
    return client.post(reverse("mediaspace:caption_add", args=[entry.pk]), {
        "caption_label": "Broken", "caption_language": language,
        "caption_file": SimpleUploadedFile("broken.vtt", content),
    }, follow=follow)


@pytest.mark.parametrize("case", BROKEN_CAPTIONS)
def test_broken_caption_is_refused_with_a_4xx(owner_client, entry, case):
    assert _add_caption(owner_client, entry, case).status_code == (413 if case == "too large" else 400)


@pytest.mark.parametrize("case", BROKEN_CAPTIONS)
def test_broken_caption_tells_the_user_why(owner_client, entry, case):
    response = _add_caption(owner_client, entry, case, follow=True)
    assert BROKEN_CAPTIONS[case][2] in page_text(response)


@pytest.mark.parametrize("case", BROKEN_CAPTIONS)
def test_broken_caption_changes_nothing(owner_client, entry, snapshot, case):
    before = snapshot()
    _add_caption(owner_client, entry, case)
    assert snapshot() == before


@pytest.mark.parametrize("case", BROKEN_CAPTIONS)
def test_upload_with_a_broken_caption_is_400_with_the_reason(uploader_client, case):
    content, language, message = BROKEN_CAPTIONS[case]
    response = _upload(uploader_client, "clip.webm", CONTENT, caption_language=language,
                       caption_file=SimpleUploadedFile("broken.vtt", content))
    assert (response.status_code, message in page_text(response)) == (400, True)


@pytest.mark.parametrize("case", BROKEN_CAPTIONS)
def test_upload_with_a_broken_caption_stores_nothing(uploader_client, snapshot, case):
    content, language, _message = BROKEN_CAPTIONS[case]
    before = snapshot()
    _upload(uploader_client, "clip.webm", CONTENT, caption_language=language,
            caption_file=SimpleUploadedFile("broken.vtt", content))
    assert snapshot() == before


# --- an oversized caption costs no memory: refused unread, or read no further than the limit -----

CAPTION_TOO_LARGE = "The caption file is larger than 5 MiB."


class CountingBody(io.BytesIO):
    """A request body or uploaded file that counts how many of its bytes were read."""

    bytes_read = 0

    def read(self, size=-1):
        data = super().read(size)
        self.bytes_read += len(data)
        return data

    def readline(self, size=-1):
        data = super().readline(size)
        self.bytes_read += len(data)
        return data


def test_caption_post_declaring_a_huge_body_is_refused_before_it_is_read(owner_client, entry, snapshot):
    boundary = "BoUnDaRy"
    start = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"caption_file\"; filename=\"huge.vtt\"\r\n"
             "Content-Type: text/vtt\r\n\r\nWEBVTT\n\n").encode() + b"a" * MiB  # the first MiB of 400
    sent = CountingBody(start)
    before = snapshot()
    response = owner_client.generic("POST", reverse("mediaspace:caption_add", args=[entry.pk]), b"x",
                                     content_type=f"multipart/form-data; boundary={boundary}",
                                     CONTENT_LENGTH=str(400 * MiB), **{"wsgi.input": sent})
    assert (response.status_code, CAPTION_TOO_LARGE in page_text(response), sent.bytes_read) == (413, True, 0)
    assert snapshot() == before


def test_caption_post_just_over_the_limit_is_413_and_stores_nothing(owner_client, entry, snapshot):
    before = snapshot()
    response = owner_client.post(reverse("mediaspace:caption_add", args=[entry.pk]), {
        "caption_label": "Big", "caption_language": "en",
        "caption_file": SimpleUploadedFile("big.vtt", VTT + b"a" * (5 * MiB + 1 - len(VTT)))})
    assert (response.status_code, CAPTION_TOO_LARGE in page_text(response)) == (413, True)
    assert snapshot() == before


@pytest.mark.parametrize("size, claimed", [
    (5 * MiB + 1, None), (8 * MiB, None), (8 * MiB, 100),
], ids=["limit + 1 byte", "8 MiB", "8 MiB claiming 100 bytes"])
def test_caption_form_reads_no_more_than_the_limit_plus_one_byte(size, claimed):
    content = CountingBody(VTT + b"a" * (size - len(VTT)))
    upload = InMemoryUploadedFile(content, "caption_file", "big.vtt", "text/vtt", claimed or size, None)
    form = CaptionForm({"caption_label": "Big", "caption_language": "en"}, {"caption_file": upload})
    assert (form.is_valid(), form.errors.get("caption_file")) == (False, [CAPTION_TOO_LARGE])
    assert content.bytes_read <= 5 * MiB + 1


# =================================================================================================
# Range headers on the media file
# =================================================================================================

RANGES = [
    # header            status  Content-Range                     bytes sent
    ("bytes=abc",       200,    None,                             CONTENT),
    ("bytes=5-2",       200,    None,                             CONTENT),
    ("bytes=0-1,5-6",   200,    None,                             CONTENT),
    ("bytes=-",         200,    None,                             CONTENT),
    ("bytes=1-2-3",     200,    None,                             CONTENT),
    ("lines=1-2",       200,    None,                             CONTENT),
    ("bytes=%s-" % HUGE, 416,   f"bytes */{SIZE}",                b""),
    ("bytes=999999-",   416,    f"bytes */{SIZE}",                b""),
    (f"bytes={SIZE}-",  416,    f"bytes */{SIZE}",                b""),
    ("bytes=-0",        416,    f"bytes */{SIZE}",                b""),
    ("bytes=-10",       206,    f"bytes {SIZE - 10}-{SIZE - 1}/{SIZE}", CONTENT[-10:]),
    ("bytes=10-",       206,    f"bytes 10-{SIZE - 1}/{SIZE}",    CONTENT[10:]),
    ("bytes=0-0",       206,    f"bytes 0-0/{SIZE}",              CONTENT[:1]),
    ("bytes=100-199",   206,    f"bytes 100-199/{SIZE}",          CONTENT[100:200]),
    ("bytes=1000-999999", 206,  f"bytes 1000-{SIZE - 1}/{SIZE}",  CONTENT[1000:]),
    (f"bytes=0-{HUGE}", 206,    f"bytes 0-{SIZE - 1}/{SIZE}",     CONTENT),
    ("bytes=-999999",   206,    f"bytes 0-{SIZE - 1}/{SIZE}",     CONTENT),
]


@pytest.mark.parametrize("header, status, content_range, sent", RANGES, ids=[r[0][:30] for r in RANGES])
def test_range_header_on_the_media_file(owner_client, entry, header, status, content_range, sent):
    response = owner_client.get(reverse("mediaspace:entry_media", args=[entry.pk]), HTTP_RANGE=header)
    data = body(response)
    assert (response.status_code, response.get("Content-Range"), response["Content-Length"], data) == (
        status, content_range, str(len(sent)), sent)


@pytest.mark.parametrize("header", ["bytes=abc", "bytes=999999-", "bytes=-10"])
def test_range_header_changes_nothing(owner_client, entry, snapshot, header):
    before = snapshot()
    body(owner_client.get(reverse("mediaspace:entry_media", args=[entry.pk]), HTTP_RANGE=header))
    assert snapshot() == before


def test_unsatisfiable_range_on_a_caption_is_416(owner_client, world):
    response = owner_client.get(reverse("mediaspace:caption_file", args=[world.track.pk]), HTTP_RANGE="bytes=9999-")
    assert (response.status_code, response["Content-Range"]) == (416, f"bytes */{len(VTT)}")


def test_media_of_a_failed_entry_is_404_with_a_readable_text(owner_client, entry):
    MediaEntry.objects.filter(pk=entry.pk).update(status=MediaEntry.Status.FAILED, error="Broken")
    response = owner_client.get(reverse("mediaspace:entry_media", args=[entry.pk]), HTTP_RANGE="bytes=0-10")
    assert (response.status_code, "This entry has no playable media yet." in page_text(response)) == (404, True)


# =================================================================================================
# Tampered forms
# =================================================================================================

def _publish_url(w):
    return reverse("mediaspace:publish", args=[w.entry.pk])


def _collaborator_url(w):
    return reverse("mediaspace:collaborator_add", args=[w.entry.pk])


def _edit_url(w):
    return reverse("mediaspace:entry_edit", args=[w.entry.pk])


TAMPERED = {
    # name: (url, posted data, message the user reads)
    "publish to an unknown category": (
        _publish_url, lambda w: {"category": "999999"}, "Select a valid choice."),
    "publish to a huge category id": (
        _publish_url, lambda w: {"category": HUGE}, "Select a valid choice."),
    "publish to a category named by letters": (
        _publish_url, lambda w: {"category": "abc"}, "Select a valid choice."),
    "publish without a category": (
        _publish_url, lambda w: {}, "This field is required."),
    "collaborator: unknown user": (
        _collaborator_url, lambda w: {"user": "nobody-by-this-name", "is_co_viewer": "on"},
        "No user with this name or e-mail."),
    "collaborator: the owner": (
        _collaborator_url, lambda w: {"user": "owner", "is_co_editor": "on"},
        "The owner already has every permission on this entry."),
    "collaborator: the owner's e-mail": (
        _collaborator_url, lambda w: {"user": "OWNER@example.com", "is_co_editor": "on"},
        "The owner already has every permission on this entry."),
    "collaborator: no permission ticked": (
        _collaborator_url, lambda w: {"user": "helper"}, "Choose at least one permission."),
    "collaborator: empty user": (
        _collaborator_url, lambda w: {"user": "", "is_co_viewer": "on"}, "This field is required."),
    "collaborator: over-long user": (
        _collaborator_url, lambda w: {"user": "u" * 300, "is_co_viewer": "on"},
        "Ensure this value has at most 254 characters"),
    "edit: empty name": (
        _edit_url, lambda w: {"name": "", "description": "changed", "tags": "changed"}, "This field is required."),
    "edit: blank name": (
        _edit_url, lambda w: {"name": "   ", "description": "changed", "tags": "changed"},
        "This field is required."),
    "edit: no fields at all": (
        _edit_url, lambda w: {}, "This field is required."),
    "edit: over-long name": (
        _edit_url, lambda w: {"name": "n" * 300, "description": "changed", "tags": ""},
        "Ensure this value has at most 255 characters (it has 300)."),
    "edit: over-long tags": (
        _edit_url, lambda w: {"name": "Fine", "description": "", "tags": "t" * 501},
        "Ensure this value has at most 500 characters (it has 501)."),
    "edit: NUL character in the name": (
        _edit_url, lambda w: {"name": "a\x00b", "description": "", "tags": ""}, "Null characters are not allowed."),
}


def _tamper(client, w, case, follow=False):
    url, data, _message = TAMPERED[case]
    return client.post(url(w), data(w), follow=follow)


@pytest.mark.parametrize("case", TAMPERED)
def test_tampered_form_is_refused_with_a_4xx(owner_client, world, case):
    assert _tamper(owner_client, world, case).status_code == 400


@pytest.mark.parametrize("case", TAMPERED)
def test_tampered_form_tells_the_user_why(owner_client, world, case):
    assert TAMPERED[case][2] in page_text(_tamper(owner_client, world, case, follow=True))


@pytest.mark.parametrize("case", TAMPERED)
def test_tampered_form_changes_nothing(owner_client, world, snapshot, case):
    before = snapshot()
    _tamper(owner_client, world, case)
    assert snapshot() == before


def test_unpublish_from_a_category_the_entry_is_not_in_keeps_the_other_publications(owner_client, world, snapshot):
    elsewhere = Category.objects.create(name="Elsewhere")
    before = snapshot()
    owner_client.post(reverse("mediaspace:unpublish", args=[world.entry.pk, elsewhere.pk]))
    assert snapshot() == before


def test_edit_form_keeps_what_the_user_typed_after_an_error(owner_client, world):
    response = owner_client.post(_edit_url(world), {"name": "", "description": "kept text", "tags": ""})
    assert "kept text" in page_text(response)


# =================================================================================================
# Wrong HTTP method
# =================================================================================================

WRONG_METHOD = {
    # name: (method, url, allowed methods)
    "caption add": ("GET", lambda w: reverse("mediaspace:caption_add", args=[w.entry.pk]), "POST"),
    "caption remove": ("GET", lambda w: reverse("mediaspace:caption_remove", args=[w.entry.pk, w.track.pk]),
                       "POST"),
    "collaborator add": ("GET", lambda w: reverse("mediaspace:collaborator_add", args=[w.entry.pk]), "POST"),
    "collaborator remove": ("GET", lambda w: reverse("mediaspace:collaborator_remove",
                                                     args=[w.entry.pk, w.collaborator.pk]), "POST"),
    "publish": ("GET", lambda w: reverse("mediaspace:publish", args=[w.entry.pk]), "POST"),
    "unpublish": ("GET", lambda w: reverse("mediaspace:unpublish", args=[w.entry.pk, w.category.pk]), "POST"),
    "entry page, POST": ("POST", lambda w: reverse("mediaspace:entry", args=[w.entry.pk]), "GET"),
    "media file, POST": ("POST", lambda w: reverse("mediaspace:entry_media", args=[w.entry.pk]), "GET, HEAD"),
    "caption file, POST": ("POST", lambda w: reverse("mediaspace:caption_file", args=[w.track.pk]), "GET"),
    "my media, POST": ("POST", lambda w: reverse("mediaspace:my_media"), "GET"),
    "status, POST": ("POST", lambda w: reverse("mediaspace:my_media_status"), "GET"),
    "categories, POST": ("POST", lambda w: reverse("mediaspace:categories"), "GET"),
    "category, POST": ("POST", lambda w: reverse("mediaspace:category", args=[w.category.pk]), "GET"),
    "edit, PUT": ("PUT", lambda w: reverse("mediaspace:entry_edit", args=[w.entry.pk]), "GET, POST"),
    "delete, DELETE": ("DELETE", lambda w: reverse("mediaspace:entry_delete", args=[w.entry.pk]), "GET, POST"),
    "upload, PUT": ("PUT", lambda w: reverse("mediaspace:upload"), "GET, POST"),
}


@pytest.mark.parametrize("case", WRONG_METHOD)
def test_wrong_method_is_405_with_the_allowed_methods(owner_client, world, case):
    method, url, allowed = WRONG_METHOD[case]
    response = owner_client.generic(method, url(world))
    assert (response.status_code, response["Allow"]) == (405, allowed)


@pytest.mark.parametrize("case", WRONG_METHOD)
def test_wrong_method_changes_nothing(owner_client, world, snapshot, case):
    method, url, _allowed = WRONG_METHOD[case]
    before = snapshot()
    owner_client.generic(method, url(world))
    assert snapshot() == before


# =================================================================================================
# CSRF
# =================================================================================================

CSRF_FAILED = "CSRF verification failed. Request aborted."

CSRF_CASES = {
    "edit": lambda w: (reverse("mediaspace:entry_edit", args=[w.entry.pk]),
                       {"name": "Hijacked", "description": "", "tags": ""}),
    "delete": lambda w: (reverse("mediaspace:entry_delete", args=[w.entry.pk]), {}),
    "publish": lambda w: (reverse("mediaspace:publish", args=[w.entry.pk]),
                          {"category": Category.objects.create(name="Elsewhere").pk}),
    "unpublish": lambda w: (reverse("mediaspace:unpublish", args=[w.entry.pk, w.category.pk]), {}),
    "caption add": lambda w: (reverse("mediaspace:caption_add", args=[w.entry.pk]),
                              {"caption_label": "Hijack", "caption_language": "en",
                               "caption_file": SimpleUploadedFile("x.vtt", VTT)}),
    "caption remove": lambda w: (reverse("mediaspace:caption_remove", args=[w.entry.pk, w.track.pk]), {}),
    "collaborator add": lambda w: (reverse("mediaspace:collaborator_add", args=[w.entry.pk]),
                                   {"user": "someone-else", "is_co_editor": "on"}),
    "collaborator remove": lambda w: (reverse("mediaspace:collaborator_remove",
                                              args=[w.entry.pk, w.collaborator.pk]), {}),
    "upload": lambda w: (reverse("mediaspace:upload"),
                         {"file": SimpleUploadedFile("clip.webm", CONTENT), "name": "Hijacked upload"}),
}


@pytest.fixture
def csrf_client(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    return client


@pytest.mark.parametrize("case", CSRF_CASES)
def test_post_without_csrf_token_is_403_with_a_reason(csrf_client, world, case):
    url, data = CSRF_CASES[case](world)
    response = csrf_client.post(url, data)
    assert (response.status_code, CSRF_FAILED in page_text(response)) == (403, True)


@pytest.mark.parametrize("case", CSRF_CASES)
def test_post_without_csrf_token_changes_nothing(csrf_client, world, snapshot, case):
    url, data = CSRF_CASES[case](world)
    before = snapshot()
    csrf_client.post(url, data)
    assert snapshot() == before


def test_post_with_a_wrong_csrf_token_is_403(csrf_client, world, snapshot):
    csrf_client.get(reverse("mediaspace:entry_edit", args=[world.entry.pk]))  # sets the CSRF cookie
    before = snapshot()
    response = csrf_client.post(reverse("mediaspace:entry_edit", args=[world.entry.pk]),
                                {"name": "Hijacked", "csrfmiddlewaretoken": "x" * 64})
    assert (response.status_code, snapshot() == before) == (403, True)


def test_post_with_the_csrf_token_works(csrf_client, world):
    """The control case: the same client with the token from the form is let through."""
    url = reverse("mediaspace:entry_edit", args=[world.entry.pk])
    token = csrf_client.get(url).context["csrf_token"]
    response = csrf_client.post(url, {"name": "Renamed", "description": "", "tags": "",
                                      "csrfmiddlewaretoken": str(token)})
    assert (response.status_code, MediaEntry.objects.get(pk=world.entry.pk).name) == (302, "Renamed")
