"""Serving media and captions with HTTP Range support (mediaspace/http_range.py, views entry_media/caption_file)."""
import hashlib

import pytest
from django.urls import reverse

from mediaspace import services
from mediaspace.http_range import RangeNotSatisfiable, parse_range
from mediaspace.ingest import entry_prepare
from mediaspace.models import MediaEntry

from .conftest import WEBM_HEAD

MiB = 1024 * 1024
CONTENT = WEBM_HEAD + bytes(range(256)) * 40  # 10304 bytes
VTT = "WEBVTT\n\n00:00:01.000 --> 00:00:03.500\nHello there\n"


# --- parse_range ---------------------------------------------------------------------------------

@pytest.mark.parametrize("header, size, expected", [
    ("bytes=0-499", 1000, (0, 499)),
    ("bytes=100-100", 1000, (100, 100)),
    ("bytes=500-", 1000, (500, 999)),
    ("bytes=0-", 1000, (0, 999)),
    ("bytes=-200", 1000, (800, 999)),
    ("bytes=-1", 1000, (999, 999)),
    ("bytes=-5000", 1000, (0, 999)),
    ("bytes=900-5000", 1000, (900, 999)),
    ("bytes=999-999", 1000, (999, 999)),
    (" bytes=10-20 ", 1000, (10, 20)),
], ids=["single", "one-byte", "open-ended", "from-start", "suffix", "suffix-1", "suffix-longer-than-file",
        "end-clamped", "last-byte", "surrounding-spaces"])
def test_parse_range_satisfiable(header, size, expected):
    assert parse_range(header, size) == expected


@pytest.mark.parametrize("header", [
    "", None, "bytes=", "bytes=-", "bytes=abc", "bytes=a-b", "bytes=1-2-3", "bytes=0x10-20", "items=0-10", "0-10",
    "bytes 0-10", "bytes=-1.5", "bytes=0-1,5-6", "bytes=0-1, 5-6", "bytes=-5,0-1",
], ids=["empty", "none", "no-spec", "dash-only", "letters", "letter-bounds", "three-parts", "hex", "other-unit",
        "no-unit", "no-equals", "fraction", "multi", "multi-spaced", "multi-suffix"])
def test_parse_range_malformed_or_multi_range_means_whole_file(header):
    assert parse_range(header, 1000) is None


@pytest.mark.parametrize("header", ["bytes=5-3", "bytes=999-0", "bytes=1500-1200"])
def test_parse_range_end_before_start_is_ignored(header):
    assert parse_range(header, 1000) is None


@pytest.mark.parametrize("header, size", [
    ("bytes=1000-", 1000), ("bytes=1000-1005", 1000), ("bytes=5000-6000", 1000), ("bytes=-0", 1000),
    ("bytes=0-", 0), ("bytes=-10", 0),
], ids=["start-at-size", "start-at-size-closed", "start-past-size", "suffix-zero", "empty-file", "empty-file-suffix"])
def test_parse_range_outside_the_file_is_not_satisfiable(header, size):
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, size)


@pytest.mark.parametrize("header, expected", [
    ("bytes=" + "9" * 5000 + "-", RangeNotSatisfiable),
    ("bytes=0-" + "9" * 5000, (0, 999)),
    ("bytes=-" + "9" * 5000, (0, 999)),
    ("bytes=" + "0" * 5000 + "5-9", (5, 9)),
], ids=["huge-start", "huge-end", "huge-suffix", "zeros-before-a-small-number"])
def test_parse_range_with_numbers_longer_than_python_reads_is_answered(header, expected):
    # int() refuses strings of more than 4300 digits (ValueError): such a number lies beyond every file.
    if expected is RangeNotSatisfiable:
        with pytest.raises(RangeNotSatisfiable):
            parse_range(header, 1000)
    else:
        assert parse_range(header, 1000) == expected


# --- entry_media through the view ----------------------------------------------------------------

@pytest.fixture
def owner(make_user):
    return make_user()


@pytest.fixture
def entry(owner, make_entry):
    return make_entry(owner, content=CONTENT)


@pytest.fixture
def owner_client(owner, client_for):
    return client_for(owner)


def media_url(entry):
    return reverse("mediaspace:entry_media", args=[entry.pk])


def body(response):
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_full_body_is_sent_with_status_200(owner_client, entry):
    response = owner_client.get(media_url(entry))
    assert (response.status_code, body(response)) == (200, CONTENT)


def test_full_body_advertises_ranges_and_length(owner_client, entry):
    response = owner_client.get(media_url(entry))
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Length"] == str(len(CONTENT))
    assert response["Content-Type"] == "video/webm"


def test_range_gives_206_with_exactly_those_bytes(owner_client, entry):
    response = owner_client.get(media_url(entry), HTTP_RANGE="bytes=100-1099")
    assert (response.status_code, body(response)) == (206, CONTENT[100:1100])


def test_range_response_headers(owner_client, entry):
    response = owner_client.get(media_url(entry), HTTP_RANGE="bytes=100-1099")
    assert response["Content-Range"] == f"bytes 100-1099/{len(CONTENT)}"
    assert response["Content-Length"] == "1000"
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Type"] == "video/webm"


def test_open_ended_range_runs_to_the_end(owner_client, entry):
    response = owner_client.get(media_url(entry), HTTP_RANGE="bytes=10000-")
    assert (response.status_code, response["Content-Range"], body(response)) == (
        206, f"bytes 10000-{len(CONTENT) - 1}/{len(CONTENT)}", CONTENT[10000:]
    )


def test_suffix_range_gives_the_last_bytes(owner_client, entry):
    response = owner_client.get(media_url(entry), HTTP_RANGE="bytes=-10")
    assert (response.status_code, body(response)) == (206, CONTENT[-10:])


def test_range_past_the_end_is_416_with_the_size(owner_client, entry):
    response = owner_client.get(media_url(entry), HTTP_RANGE=f"bytes={len(CONTENT)}-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(CONTENT)}"


def test_a_range_of_5000_digits_is_416_not_500(owner_client, entry):
    response = owner_client.get(media_url(entry), HTTP_RANGE="bytes=" + "9" * 5000 + "-")
    assert (response.status_code, response["Content-Range"]) == (416, f"bytes */{len(CONTENT)}")


def test_zero_length_suffix_is_416(owner_client, entry):
    response = owner_client.get(media_url(entry), HTTP_RANGE="bytes=-0")
    assert (response.status_code, response["Content-Range"]) == (416, f"bytes */{len(CONTENT)}")


@pytest.mark.parametrize("header", ["bytes=abc", "bytes=0-1,5-6", "bytes=50-10", "pages=1-2"])
def test_unusable_range_header_sends_the_whole_file(owner_client, entry, header):
    response = owner_client.get(media_url(entry), HTTP_RANGE=header)
    assert (response.status_code, body(response)) == (200, CONTENT)


def test_head_gives_the_headers_without_a_body(owner_client, entry):
    response = owner_client.head(media_url(entry))
    assert (response.status_code, response["Content-Length"], response["Accept-Ranges"]) == (
        200, str(len(CONTENT)), "bytes"
    )
    assert body(response) == b""


def test_head_with_a_range_gives_the_range_headers(owner_client, entry):
    response = owner_client.head(media_url(entry), HTTP_RANGE="bytes=0-99")
    assert (response.status_code, response["Content-Range"], response["Content-Length"]) == (
        206, f"bytes 0-99/{len(CONTENT)}", "100"
    )


def test_post_is_not_allowed(owner_client, entry):
    assert owner_client.post(media_url(entry)).status_code == 405


def test_range_from_the_middle_of_a_large_file_is_exact(owner, owner_client, make_entry):
    block = hashlib.sha256(b"seed").digest() * (MiB // 32)  # 1 MiB, no two 32-byte neighbours equal
    content = WEBM_HEAD + b"".join(bytes([i]) + block[i:] + block[:i] for i in range(6))  # ~6 MiB, varied
    big = make_entry(owner, content=content)
    start, end = 2 * MiB + 12345, 4 * MiB + 54321
    response = owner_client.get(media_url(big), HTTP_RANGE=f"bytes={start}-{end}")
    data = body(response)
    assert (response.status_code, response["Content-Range"]) == (206, f"bytes {start}-{end}/{len(content)}")
    assert (len(data), data == content[start:end + 1]) == (end - start + 1, True)


def test_large_range_response_is_streamed(owner, owner_client, make_entry):
    big = make_entry(owner, content=WEBM_HEAD + b"z" * (3 * MiB))
    response = owner_client.get(media_url(big), HTTP_RANGE="bytes=1-")
    chunks = list(response.streaming_content)
    assert response.streaming
    assert max(len(chunk) for chunk in chunks) < MiB


@pytest.mark.parametrize("status", [MediaEntry.Status.PENDING, MediaEntry.Status.IMPORTING, MediaEntry.Status.FAILED])
def test_entry_without_ready_media_is_404_with_a_readable_text(owner, owner_client, status):
    entry, _created = entry_prepare(source=MediaEntry.Source.TEAMS, reference_id=f"m-{status}", owner=owner,
                                    name="Not yet")
    MediaEntry.objects.filter(pk=entry.pk).update(status=status)
    response = owner_client.get(media_url(entry))
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/plain")
    assert "no playable media" in response.content.decode()


def test_unknown_entry_is_404(owner_client):
    assert owner_client.get(reverse("mediaspace:entry_media", args=[999999])).status_code == 404


def test_other_users_unpublished_media_is_forbidden(make_user, client_for, entry):
    response = client_for(make_user()).get(media_url(entry))
    assert response.status_code == 403


# --- caption_file --------------------------------------------------------------------------------

@pytest.fixture
def track(entry):
    return services.caption_add(entry=entry, label="English", language="en", content=VTT.encode())


def caption_url(track):
    return reverse("mediaspace:caption_file", args=[track.pk])


def test_caption_is_served_as_text_vtt(owner_client, track):
    response = owner_client.get(caption_url(track))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/vtt; charset=utf-8"
    assert body(response).decode("utf-8") == VTT


def test_caption_supports_ranges(owner_client, track):
    response = owner_client.get(caption_url(track), HTTP_RANGE="bytes=0-5")
    assert (response.status_code, body(response)) == (206, b"WEBVTT")


def test_caption_of_someone_elses_entry_is_forbidden(make_user, client_for, track):
    assert client_for(make_user()).get(caption_url(track)).status_code == 403


def test_unknown_caption_is_404(owner_client):
    assert owner_client.get(reverse("mediaspace:caption_file", args=[999999])).status_code == 404
