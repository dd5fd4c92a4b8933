"""Media in S3-compatible object storage (django-storages), against a local S3 server: imports streamed as
multipart uploads with flat memory, nothing left behind by a failed, abandoned or deleted import, playback by a
short-lived signed URL after the permission check, or streamed with Range through Django.

The S3 server is the environment's (AWS_S3_ENDPOINT_URL, as scripts/test.sh's second pass sets it) or a
`moto_server` started for the session; every test gets a bucket of its own (conftest's `s3` fixture)."""
import hashlib
import io
import time
import tracemalloc
from datetime import timedelta

import pytest
import requests
from django.urls import reverse
from django.utils import timezone

from mediaspace import services
from mediaspace.ingest import entry_fail, entry_ingest, entry_prepare, entry_receive
from mediaspace.models import MediaEntry

from .conftest import S3_PART, WEBM_HEAD

Status = MediaEntry.Status
MiB = 1024 * 1024
PART = S3_PART  # the fixture's multipart part size
VTT = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHello\n"


def objects(s3, prefix=""):
    listing = s3.get_paginator("list_objects_v2").paginate(Bucket=s3.bucket, Prefix=prefix)
    return sorted((item["Key"], item["Size"]) for page in listing for item in page.get("Contents", []))


def open_uploads(s3):
    return [upload["Key"] for upload in s3.list_multipart_uploads(Bucket=s3.bucket).get("Uploads", [])]


def stored_bytes(s3, key):
    return s3.get_object(Bucket=s3.bucket, Key=key)["Body"].read()


def varied(size):
    """`size` bytes, starting as a WebM file, where no 32-byte piece repeats nearby (misplaced bytes show)."""
    block = hashlib.sha256(b"seed").digest() * (MiB // 32)
    data = WEBM_HEAD + b"".join(bytes([i % 256]) + block[i % 97:] + block[:i % 97] for i in range(size // MiB + 1))
    return data[:size]


def chunks(data, size=MiB):
    for start in range(0, len(data), size):
        yield data[start:start + size]


@pytest.fixture
def owner(make_user):
    return make_user()


def ingest(owner, stream, reference_id="ref-1", filename="clip.webm"):
    return entry_ingest(source=MediaEntry.Source.UPLOAD, reference_id=reference_id, owner=owner, name="A clip",
                        stream=stream, filename=filename)


# --- imports ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["chunk iterator", "file object"])
def test_an_import_is_a_multipart_upload_of_every_byte(s3, owner, kind):
    data = varied(20 * MiB + 12345)  # three parts, the last one short
    entry = ingest(owner, chunks(data) if kind == "chunk iterator" else io.BytesIO(data))
    assert (entry.status, entry.error, entry.size) == (Status.READY, "", len(data))
    assert objects(s3) == [(entry.media.name, len(data))]
    assert stored_bytes(s3, entry.media.name) == data
    head = s3.head_object(Bucket=s3.bucket, Key=entry.media.name)
    assert head["ETag"].strip('"').endswith("-3")  # S3 names a multipart object's ETag by its part count
    assert head["ContentType"] == "video/webm"


def test_small_chunks_from_the_source_still_fill_whole_parts(s3, owner):
    """s3transfer takes a short read for the end of the stream: the ingest must not hand it one early."""
    data = varied(17 * MiB)
    entry = ingest(owner, chunks(data, 100_000))
    assert (entry.status, entry.size, stored_bytes(s3, entry.media.name) == data) == (Status.READY, len(data), True)


@pytest.mark.slow
def test_a_large_import_keeps_memory_flat(s3, owner):
    chunk = WEBM_HEAD + b"\x5a" * (MiB - len(WEBM_HEAD))
    total = 96 * MiB
    tracemalloc.start()
    started = time.perf_counter()
    try:
        entry = ingest(owner, (chunk for _ in range(total // MiB)), filename="big.webm")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    seconds = time.perf_counter() - started
    print(f"\n[S3 memory] {total // MiB} MiB in {seconds:.2f} s, peak traced {peak / MiB:.1f} MiB")
    assert (entry.status, objects(s3)) == (Status.READY, [(entry.media.name, total)])
    assert peak < 4 * PART  # a part or two in flight, whatever the size


def failing_source(after, exc=ConnectionError("the connection was reset")):
    sent = 0
    while sent < after:
        yield WEBM_HEAD + b"v" * (MiB - len(WEBM_HEAD))
        sent += MiB
    raise exc


def test_a_failure_mid_upload_leaves_no_object_and_no_open_upload(s3, owner):
    entry = ingest(owner, failing_source(after=20 * MiB))  # two parts sent, then the source fails
    assert (entry.status, entry.media.name) == (Status.FAILED, "")
    assert "connection was reset" in entry.error
    assert (objects(s3), open_uploads(s3)) == ([], [])


def test_a_failed_import_can_be_retried(s3, owner):
    ingest(owner, failing_source(after=9 * MiB))
    data = varied(9 * MiB)
    entry = ingest(owner, chunks(data))
    assert (entry.status, objects(s3), open_uploads(s3)) == (Status.READY, [(entry.media.name, len(data))], [])


def test_taking_over_a_dead_import_removes_its_object_and_aborts_its_upload(s3, owner, settings):
    settings.MEDIASPACE_INGEST_LEASE_SECONDS = 60
    entry, _created = entry_prepare(source=MediaEntry.Source.TEAMS, reference_id="m-1", owner=owner, name="Meeting")
    folder = f"entries/{entry.pk}"
    s3.put_object(Bucket=s3.bucket, Key=f"{folder}/deadattempt0/clip.webm", Body=b"half a file")
    s3.create_multipart_upload(Bucket=s3.bucket, Key=f"{folder}/deadattempt1/clip.webm")  # killed mid-upload
    s3.put_object(Bucket=s3.bucket, Key=f"entries/{entry.pk}0/other/clip.webm", Body=b"another entry's")
    MediaEntry.objects.filter(pk=entry.pk).update(status=Status.IMPORTING,
                                                  heartbeat_at=timezone.now() - timedelta(minutes=5))
    entry.refresh_from_db()
    data = varied(MiB)
    entry = entry_receive(entry, stream=chunks(data), filename="clip.webm")
    assert entry.status == Status.READY
    assert objects(s3, f"{folder}/") == [(entry.media.name, len(data))]
    assert open_uploads(s3) == []
    neighbour = f"entries/{entry.pk}0/"  # another entry's folder, whose name starts the same
    assert objects(s3, neighbour) == [(f"{neighbour}other/clip.webm", 15)]


def test_markup_is_refused_from_its_first_bytes_and_leaves_no_object_and_no_open_upload(s3, owner):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>' + b" " * (20 * MiB)
    entry = ingest(owner, chunks(svg), filename="logo.svg")
    assert (entry.status, entry.media.name) == (Status.FAILED, "") and "SVG, HTML or XML" in entry.error
    assert (objects(s3), open_uploads(s3)) == ([], [])


def test_entry_fail_removes_the_partial_object(s3, owner):
    entry, _created = entry_prepare(source=MediaEntry.Source.TEAMS, reference_id="m-2", owner=owner, name="Meeting")
    s3.put_object(Bucket=s3.bucket, Key=f"entries/{entry.pk}/deadattempt0/clip.webm", Body=b"half")
    entry = entry_fail(entry, "The recording expired.")
    assert (entry.status, objects(s3)) == (Status.FAILED, [])


def test_deleting_an_entry_removes_its_media_and_captions_and_nothing_else(s3, owner):
    entry = ingest(owner, chunks(varied(MiB)))
    services.caption_add(entry=entry, label="English", language="en", content=VTT.encode())
    other = ingest(owner, chunks(varied(MiB)), reference_id="ref-2")
    assert len(objects(s3)) == 3
    services.entry_delete(entry=entry)
    assert objects(s3) == [(other.media.name, MiB)]


# --- playback --------------------------------------------------------------------------------------

@pytest.fixture
def ready_entry(s3, owner):
    data = varied(3 * MiB)
    return ingest(owner, chunks(data)), data


def media_url(entry):
    return reverse("mediaspace:entry_media", args=[entry.pk])


def test_playback_redirects_to_a_short_lived_signed_url_that_serves_ranges(ready_entry, owner, client_for, settings):
    settings.MEDIASPACE_SIGNED_URL_SECONDS = 120
    entry, data = ready_entry
    response = client_for(owner).get(media_url(entry))
    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
    url = response["Location"]
    assert "X-Amz-Expires=120" in url and "X-Amz-Signature=" in url
    start, end = MiB + 1000, 2 * MiB + 5000
    ranged = requests.get(url, headers={"Range": f"bytes={start}-{end}"}, timeout=30)
    assert (ranged.status_code, ranged.content == data[start:end + 1]) == (206, True)
    assert ranged.headers["Content-Type"] == "video/webm"
    # (moto does not check signatures, so a tampered URL is not tried here: the bucket's privacy is S3's job.)


def test_signed_urls_carry_the_served_type_and_disposition(s3, owner, client_for, settings):
    # The store serves the bytes itself: it is told the sniffed type, and to send anything that is not a raster
    # image, audio or video as a download (it cannot add a sandbox header: a download is never rendered).
    settings.MEDIASPACE_SIGNED_URL_SECONDS = 120
    video = ingest(owner, io.BytesIO(varied(1000)))
    other = ingest(owner, io.BytesIO(b"%PDF-1.7\n" + bytes(1000)), reference_id="ref-2", filename="notes.pdf")
    client = client_for(owner)
    played, downloaded = (client.get(media_url(entry))["Location"] for entry in (video, other))
    assert "response-content-disposition=inline" in played
    assert "response-content-disposition=attachment" in downloaded
    played, downloaded = requests.get(played, timeout=30), requests.get(downloaded, timeout=30)
    assert (played.headers["Content-Type"], played.headers["Content-Disposition"]) == (
        "video/webm", 'inline; filename="clip.webm"')
    assert (downloaded.headers["Content-Type"], downloaded.headers["Content-Disposition"]) == (
        "application/octet-stream", 'attachment; filename="notes.pdf"')


def test_no_signed_url_without_permission(ready_entry, make_user, client_for, settings):
    settings.MEDIASPACE_SIGNED_URL_SECONDS = 120
    entry, _data = ready_entry
    assert client_for(make_user()).get(media_url(entry)).status_code == 403
    anonymous = client_for(None).get(media_url(entry))
    assert anonymous.status_code == 302 and "X-Amz-Signature" not in anonymous["Location"]


def body(response):
    return b"".join(response.streaming_content)


def test_with_signed_urls_off_ranges_stream_through_django(ready_entry, owner, client_for, settings):
    settings.MEDIASPACE_SIGNED_URL_SECONDS = 0
    entry, data = ready_entry
    client = client_for(owner)
    whole = client.get(media_url(entry))
    assert (whole.status_code, whole["Content-Length"], body(whole) == data) == (200, str(len(data)), True)
    start, end = 12345, 2 * MiB + 54321
    ranged = client.get(media_url(entry), HTTP_RANGE=f"bytes={start}-{end}")
    chunk_sizes = [len(chunk) for chunk in ranged.streaming_content]
    assert (ranged.status_code, ranged["Content-Range"]) == (206, f"bytes {start}-{end}/{len(data)}")
    assert sum(chunk_sizes) == end - start + 1 and max(chunk_sizes) < MiB
    tail = client.get(media_url(entry), HTTP_RANGE="bytes=-100")
    assert body(tail) == data[-100:]
    assert client.get(media_url(entry), HTTP_RANGE=f"bytes={len(data)}-").status_code == 416


def test_captions_are_served_from_object_storage(ready_entry, owner, client_for):
    entry, _data = ready_entry
    track = services.caption_add(entry=entry, label="English", language="en", content=VTT.encode())
    assert track.file.name.startswith("captions/")
    response = client_for(owner).get(reverse("mediaspace:caption_file", args=[track.pk]))
    assert (response.status_code, body(response).decode()) == (200, VTT)
