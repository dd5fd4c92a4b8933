"""The ingest service (mediaspace/ingest.py): streaming, idempotency, progress, take-over and clean-up."""
import io
import time
import tracemalloc
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from mediaspace import ingest, services
from mediaspace.ingest import entry_fail, entry_ingest, entry_prepare, entry_receive
from mediaspace.models import MediaEntry
from mediaspace.object_storage import is_object_storage

from .conftest import MP3_HEAD, PNG_HEAD, WEBM_HEAD
from .storage import is_stored, read_stored, store, stored_files, stored_size

MiB = 1024 * 1024
Status = MediaEntry.Status
UPLOAD = MediaEntry.Source.UPLOAD
TEAMS = MediaEntry.Source.TEAMS
ONEDRIVE = MediaEntry.Source.ONEDRIVE


# --- helpers -------------------------------------------------------------------------------------

class UnreadableStream:
    """A source that must not be touched."""

    def __init__(self):
        self.touched = False

    def read(self, size=-1):
        self.touched = True
        raise AssertionError("the stream must not be read")

    def __iter__(self):
        self.touched = True
        raise AssertionError("the stream must not be iterated")


class FailingStream:
    """Delivers `fail_after` bytes (a webm head first) and then fails like a dropped connection."""

    def __init__(self, fail_after, exc):
        self.fail_after, self.exc, self.sent = fail_after, exc, 0

    def read(self, size=-1):
        if self.sent >= self.fail_after:
            raise self.exc
        size = 64 * 1024 if size is None or size < 0 else size
        size = min(size, self.fail_after - self.sent)
        data = (WEBM_HEAD + b"v" * size)[:size] if self.sent == 0 else b"v" * size
        self.sent += len(data)
        return data


def failing_chunks(fail_after, exc):
    """The same failure as an iterator of chunks (as `requests`' iter_content would give)."""
    yield WEBM_HEAD
    sent = len(WEBM_HEAD)
    while sent < fail_after:
        yield b"v" * MiB
        sent += MiB
    raise exc


class ObservingStream:
    """A file-like source that calls `on_read(stream)` before handing out each piece of data."""

    def __init__(self, data, on_read):
        self.data, self.position, self.on_read, self.reads = data, 0, on_read, 0

    def read(self, size=-1):
        self.on_read(self)
        self.reads += 1
        size = len(self.data) - self.position if size is None or size < 0 else size
        piece = self.data[self.position:self.position + size]
        self.position += len(piece)
        return piece


def files_of(entry):
    """The names of the stored files in the entry's own folder, on disk or in the bucket."""
    return stored_files(f"entries/{entry.pk}")


def put_leftover(entry, content=b"half a file"):
    """A file as a worker that died mid-import leaves it: in an attempt folder of the entry's own."""
    return store(f"entries/{entry.pk}/deadattempt0/clip.webm", content)


@pytest.fixture(autouse=True)
def small_chunks(settings):
    """Storage reads 64 KiB per step, so the few hundred KiB these tests stream take several reads."""
    settings.MEDIASPACE_INGEST_CHUNK_SIZE = 64 * 1024


@pytest.fixture
def owner(make_user):
    return make_user()


@pytest.fixture
def ingest_one(owner):
    def run(stream, *, source=UPLOAD, reference_id="ref-1", filename="clip.webm", **extra):
        return entry_ingest(source=source, reference_id=reference_id, owner=owner, name="A clip", stream=stream,
                            filename=filename, **extra)

    return run


@pytest.fixture
def pending_entry(owner):
    entry, _created = entry_prepare(source=TEAMS, reference_id="meeting-1", owner=owner, name="Weekly meeting")
    return entry


def mark_importing(entry, heartbeat_at):
    MediaEntry.objects.filter(pk=entry.pk).update(status=Status.IMPORTING, heartbeat_at=heartbeat_at,
                                                  bytes_received=12345)
    entry.refresh_from_db()


# --- a plain ingest ------------------------------------------------------------------------------

CONTENT = WEBM_HEAD + bytes(range(256)) * 400


def test_ingest_creates_a_ready_entry(ingest_one):
    entry = ingest_one(io.BytesIO(CONTENT))
    assert (entry.status, entry.error, entry.heartbeat_at) == (Status.READY, "", None)


def test_ingest_records_size_and_bytes_received(ingest_one):
    entry = ingest_one(io.BytesIO(CONTENT))
    assert (entry.size, entry.bytes_received) == (len(CONTENT), len(CONTENT))


def test_ingest_stores_identical_bytes(ingest_one):
    entry = ingest_one(io.BytesIO(CONTENT))
    (stored,) = files_of(entry)
    assert read_stored(stored) == CONTENT
    assert stored == entry.media.name


def test_ingest_keeps_the_metadata(ingest_one, owner):
    entry = ingest_one(io.BytesIO(CONTENT), description="About things", tags="a, b", bytes_expected=len(CONTENT),
                       duration=12.5)
    entry = MediaEntry.objects.get(pk=entry.pk)
    assert (entry.owner, entry.name, entry.description, entry.tags, entry.bytes_expected, entry.duration) == (
        owner, "A clip", "About things", "a, b", len(CONTENT), 12.5
    )


@pytest.mark.parametrize("head, filename, expected", [
    (WEBM_HEAD, "clip.webm", "video/webm"),
    (MP3_HEAD, "song.mp3", "audio/mpeg"),
    (PNG_HEAD, "picture.png", "image/png"),
    (b"just some text, not media", "notes.txt", ""),
], ids=["webm", "mp3", "png", "text"])
def test_ingest_sniffs_the_content_type_when_none_is_given(ingest_one, head, filename, expected):
    entry = ingest_one(io.BytesIO(head + b"\x00" * 1000), filename=filename)
    assert entry.content_type == expected


def test_ingest_takes_the_content_type_from_the_bytes_not_the_name(ingest_one):
    # (callers no longer pass a content type: what a source claims is never stored; issue 13)
    entry = ingest_one(io.BytesIO(CONTENT), filename="picture.png")
    assert entry.content_type == "video/webm"


def test_ingest_sniffs_a_head_that_arrives_in_small_pieces(ingest_one):
    entry = ingest_one(iter([bytes([byte]) for byte in WEBM_HEAD] + [b"rest" * 100]))
    assert entry.content_type == "video/webm"


# --- idempotency ---------------------------------------------------------------------------------

def test_ingest_again_returns_the_same_entry(ingest_one):
    first = ingest_one(io.BytesIO(CONTENT))
    again = ingest_one(UnreadableStream())
    assert (again.pk, again.status, MediaEntry.objects.count()) == (first.pk, Status.READY, 1)


def test_ingest_again_does_not_read_the_stream(ingest_one):
    ingest_one(io.BytesIO(CONTENT))
    stream = UnreadableStream()
    ingest_one(stream)
    assert not stream.touched


def test_ingest_again_leaves_exactly_one_unchanged_file(ingest_one):
    first = ingest_one(io.BytesIO(CONTENT))
    ingest_one(UnreadableStream())
    (stored,) = files_of(first)
    assert read_stored(stored) == CONTENT


def test_same_reference_id_from_different_sources_makes_different_entries(ingest_one):
    entries = [ingest_one(io.BytesIO(CONTENT), source=source, reference_id="item-42")
               for source in (UPLOAD, TEAMS, ONEDRIVE)]
    assert len({entry.pk for entry in entries}) == 3
    assert all(entry.status == Status.READY for entry in entries)


def test_entry_receive_on_a_ready_entry_does_not_read(ingest_one):
    entry = ingest_one(io.BytesIO(CONTENT))
    stream = UnreadableStream()
    assert entry_receive(entry, stream=stream, filename="other.webm").status == Status.READY
    assert not stream.touched


# --- streams given as chunks ---------------------------------------------------------------------

def test_ingest_accepts_an_iterator_of_chunks(ingest_one):
    chunks = [CONTENT[:10], b"", CONTENT[10:5000], CONTENT[5000:5001], CONTENT[5001:]]
    entry = ingest_one(iter(chunks))
    (stored,) = files_of(entry)
    assert (entry.status, entry.size, read_stored(stored)) == (Status.READY, len(CONTENT), CONTENT)


def test_ingest_accepts_a_generator_of_large_chunks(ingest_one):
    data = WEBM_HEAD + bytes(range(256)) * (3 * 4096 + 7)  # ~3 MiB, not a multiple of any chunk size

    def iter_content(chunk_size=MiB):
        for start in range(0, len(data), chunk_size):
            yield data[start:start + chunk_size]

    entry = ingest_one(iter_content())
    (stored,) = files_of(entry)
    assert read_stored(stored) == data


# --- failure and clean-up ------------------------------------------------------------------------

def _dropped(kind):
    exc = ConnectionError("Connection reset by peer")
    return FailingStream(3 * MiB, exc) if kind == "file" else failing_chunks(3 * MiB, exc)


@pytest.mark.parametrize("kind", ["file", "chunks"])
def test_failure_mid_stream_marks_the_entry_failed_with_the_reason(ingest_one, kind):
    entry = ingest_one(_dropped(kind))
    entry.refresh_from_db()
    assert entry.status == Status.FAILED
    assert "Connection reset by peer" in entry.error


@pytest.mark.parametrize("kind", ["file", "chunks"])
def test_failure_mid_stream_leaves_no_file(ingest_one, kind):
    entry = ingest_one(_dropped(kind))
    assert files_of(entry) == []
    assert not MediaEntry.objects.get(pk=entry.pk).media


def test_failure_mid_stream_clears_the_heartbeat(ingest_one):
    entry = ingest_one(_dropped("file"))
    assert MediaEntry.objects.get(pk=entry.pk).heartbeat_at is None


def test_failure_without_a_message_still_gives_a_readable_reason(ingest_one):
    entry = ingest_one(FailingStream(100, ConnectionError()))
    assert entry.status == Status.FAILED
    assert entry.error == "The import stopped unexpectedly (ConnectionError)."


def test_failed_entry_can_be_retried_and_becomes_ready(ingest_one):
    failed = ingest_one(_dropped("file"))
    entry = entry_receive(failed, stream=io.BytesIO(CONTENT), filename="clip.webm")
    (stored,) = files_of(entry)
    assert (entry.status, entry.error, entry.size, read_stored(stored)) == (Status.READY, "", len(CONTENT), CONTENT)


def test_ingest_again_after_a_failure_retries_the_same_entry(ingest_one):
    failed = ingest_one(_dropped("file"))
    entry = ingest_one(io.BytesIO(CONTENT))
    assert (entry.pk, entry.status, MediaEntry.objects.count()) == (failed.pk, Status.READY, 1)


def test_entry_fail_marks_an_importing_entry_failed_and_removes_its_partial_file(pending_entry):
    mark_importing(pending_entry, timezone.now())
    leftover = put_leftover(pending_entry)
    assert is_stored(leftover)
    entry = entry_fail(pending_entry, "The source file was deleted.")
    assert (entry.status, entry.error, is_stored(leftover)) == (Status.FAILED, "The source file was deleted.", False)
    assert files_of(entry) == []


def test_entry_fail_leaves_a_ready_entry_and_its_file_alone(ingest_one):
    entry = ingest_one(io.BytesIO(CONTENT))
    entry = entry_fail(entry, "too late")
    assert entry.status == Status.READY
    assert [read_stored(name) for name in files_of(entry)] == [CONTENT]


def test_entry_requeue_makes_a_failed_entry_wait_for_a_worker_afresh(ingest_one):
    failed = ingest_one(_dropped("file"))
    MediaEntry.objects.filter(pk=failed.pk).update(updated=timezone.now() - timedelta(hours=1))

    ingest.entry_requeue(failed)

    entry = MediaEntry.objects.get(pk=failed.pk)
    assert (entry.status, entry.error, entry.bytes_received) == (Status.PENDING, "", 0)
    assert entry.updated > timezone.now() - timedelta(minutes=1)  # counts as queued just now


def test_entry_requeue_leaves_a_pending_importing_or_ready_entry_as_it_is_but_queued_now(pending_entry, ingest_one):
    ready = ingest_one(io.BytesIO(CONTENT))
    mark_importing(pending_entry, timezone.now())
    hour_ago = timezone.now() - timedelta(hours=1)
    MediaEntry.objects.update(updated=hour_ago)

    for entry in (ready, pending_entry):
        ingest.entry_requeue(entry)

    assert MediaEntry.objects.get(pk=ready.pk).status == Status.READY
    importing = MediaEntry.objects.get(pk=pending_entry.pk)
    assert (importing.status, importing.bytes_received) == (Status.IMPORTING, 12345)
    assert not MediaEntry.objects.filter(updated=hour_ago).exists()


def test_entry_explain_failure_rewords_only_a_failed_entry(ingest_one, pending_entry):
    failed = ingest_one(_dropped("file"))

    assert ingest.entry_explain_failure(failed, "OneDrive interrupted the download.").error == (
        "OneDrive interrupted the download.")
    assert ingest.entry_explain_failure(pending_entry, "nothing happened").error == ""
    assert MediaEntry.objects.get(pk=pending_entry.pk).status == Status.PENDING


# --- concurrent and dead workers -----------------------------------------------------------------

def test_live_import_is_not_taken_over(pending_entry):
    mark_importing(pending_entry, timezone.now())
    stream = UnreadableStream()
    entry = entry_receive(pending_entry, stream=stream, filename="clip.webm")
    assert not stream.touched
    assert (entry.status, entry.bytes_received) == (Status.IMPORTING, 12345)


def test_live_import_keeps_its_partial_file(pending_entry):
    mark_importing(pending_entry, timezone.now())
    partial = put_leftover(pending_entry)
    entry_receive(pending_entry, stream=UnreadableStream(), filename="clip.webm")
    assert read_stored(partial) == b"half a file"


def test_stale_import_is_taken_over_and_ends_ready(pending_entry, settings):
    settings.MEDIASPACE_INGEST_LEASE_SECONDS = 5
    mark_importing(pending_entry, timezone.now() - timedelta(seconds=60))
    entry = entry_receive(pending_entry, stream=io.BytesIO(CONTENT), filename="clip.webm")
    assert (entry.status, entry.size, entry.bytes_received) == (Status.READY, len(CONTENT), len(CONTENT))


def test_stale_import_taken_over_leaves_one_file_and_removes_the_dead_attempt(pending_entry, settings):
    settings.MEDIASPACE_INGEST_LEASE_SECONDS = 5
    mark_importing(pending_entry, timezone.now() - timedelta(seconds=60))
    leftover = put_leftover(pending_entry)
    entry = entry_receive(pending_entry, stream=io.BytesIO(CONTENT), filename="clip.webm")
    assert not is_stored(leftover)
    assert files_of(entry) == [entry.media.name] and read_stored(entry.media.name) == CONTENT


def test_import_with_a_heartbeat_within_the_lease_is_not_taken_over(pending_entry, settings):
    settings.MEDIASPACE_INGEST_LEASE_SECONDS = 120
    mark_importing(pending_entry, timezone.now() - timedelta(seconds=60))
    stream = UnreadableStream()
    assert entry_receive(pending_entry, stream=stream, filename="clip.webm").status == Status.IMPORTING
    assert not stream.touched


def test_importing_entry_without_a_heartbeat_is_taken_over(pending_entry):
    mark_importing(pending_entry, None)
    assert entry_receive(pending_entry, stream=io.BytesIO(CONTENT), filename="clip.webm").status == Status.READY


def test_old_worker_stops_when_its_import_was_taken_over(pending_entry, monkeypatch):
    """A worker that was thought dead comes back: its next progress report tells it to stop."""
    monkeypatch.setattr(ingest, "PROGRESS_INTERVAL_SECONDS", 0)

    def another_worker_takes_over(stream):
        if stream.reads == 2:
            MediaEntry.objects.filter(pk=pending_entry.pk).update(heartbeat_at=timezone.now() + timedelta(seconds=1))

    stream = ObservingStream(CONTENT * 10, another_worker_takes_over)
    entry = entry_receive(pending_entry, stream=stream, filename="clip.webm")
    assert entry.status == Status.IMPORTING  # still the other worker's
    assert stream.reads == 3
    assert files_of(entry) == []


# --- deleted mid-import --------------------------------------------------------------------------

def _delete_after_progress(entry_pk, deleted):
    def on_read(stream):
        row = MediaEntry.objects.filter(pk=entry_pk).values_list("bytes_received", flat=True).first()
        if row and not deleted:  # progress has been reported at least once
            services.entry_delete(entry=MediaEntry.objects.get(pk=entry_pk))
            deleted.append(stream.reads)

    return on_read


def test_deleting_the_entry_mid_import_stops_it(pending_entry, monkeypatch):
    monkeypatch.setattr(ingest, "PROGRESS_INTERVAL_SECONDS", 0)
    deleted = []
    stream = ObservingStream(CONTENT * 100, _delete_after_progress(pending_entry.pk, deleted))
    entry_receive(pending_entry, stream=stream, filename="clip.webm")
    assert deleted, "the stream never saw progress reported"
    assert stream.reads == deleted[0] + 1  # not one read after the one during which it was deleted
    assert stream.position < len(stream.data)


def test_deleting_the_entry_mid_import_leaves_no_file(pending_entry, monkeypatch):
    monkeypatch.setattr(ingest, "PROGRESS_INTERVAL_SECONDS", 0)
    stream = ObservingStream(CONTENT * 100, _delete_after_progress(pending_entry.pk, []))
    entry_receive(pending_entry, stream=stream, filename="clip.webm")
    assert not MediaEntry.objects.filter(pk=pending_entry.pk).exists()
    assert files_of(pending_entry) == []


def test_deleting_the_entry_before_any_progress_report_leaves_no_file(pending_entry):
    """Without a progress report in between, the finish notices the entry is gone and removes the file."""
    def delete_once(stream):
        if stream.reads == 1:
            MediaEntry.objects.filter(pk=pending_entry.pk).delete()

    entry_receive(pending_entry, stream=ObservingStream(CONTENT, delete_once), filename="clip.webm")
    assert files_of(pending_entry) == []


# --- progress ------------------------------------------------------------------------------------

def test_progress_is_recorded_during_the_copy(pending_entry, monkeypatch):
    monkeypatch.setattr(ingest, "PROGRESS_INTERVAL_SECONDS", 0)
    seen = []

    def observe(stream):
        row = MediaEntry.objects.values("status", "bytes_received", "heartbeat_at").get(pk=pending_entry.pk)
        seen.append((stream.position, row))

    data = WEBM_HEAD + b"x" * (5 * 64 * 1024)
    entry_receive(pending_entry, stream=ObservingStream(data, observe), filename="clip.webm", bytes_expected=len(data))
    assert all(row["status"] == Status.IMPORTING for _position, row in seen)
    assert [row["bytes_received"] for _position, row in seen] == [position for position, _row in seen]
    assert seen[-1][1]["bytes_received"] == len(data)


def test_heartbeat_advances_during_the_copy(pending_entry, monkeypatch):
    monkeypatch.setattr(ingest, "PROGRESS_INTERVAL_SECONDS", 0)
    beats = []

    def observe(stream):
        beats.append(MediaEntry.objects.values_list("heartbeat_at", flat=True).get(pk=pending_entry.pk))
        time.sleep(0.002)

    before = timezone.now()
    entry_receive(pending_entry, stream=ObservingStream(CONTENT * 20, observe), filename="clip.webm")
    assert None not in beats
    assert beats == sorted(beats)
    assert beats[0] >= before
    assert beats[-1] > beats[0]


def test_progress_percent_follows_bytes_received(pending_entry, monkeypatch):
    monkeypatch.setattr(ingest, "PROGRESS_INTERVAL_SECONDS", 0)
    data = WEBM_HEAD + b"x" * (4 * 64 * 1024 - len(WEBM_HEAD))
    seen = []

    def observe(stream):
        seen.append((stream.position, MediaEntry.objects.get(pk=pending_entry.pk).progress_percent))

    entry = entry_receive(pending_entry, stream=ObservingStream(data, observe), filename="clip.webm",
                          bytes_expected=len(data))
    assert len(seen) > 2
    assert [percent for _position, percent in seen] == [min(99, position * 100 // len(data)) for position, _ in seen]
    assert entry.progress_percent == 100


# --- memory --------------------------------------------------------------------------------------

@pytest.mark.slow
def test_streaming_256_mib_keeps_memory_flat(ingest_one):
    chunk = WEBM_HEAD + b"\x5a" * (MiB - len(WEBM_HEAD))  # one object, yielded again and again
    total = 256 * MiB

    def source():
        for _ in range(total // MiB):
            yield chunk

    tracemalloc.start()
    started = time.perf_counter()
    try:
        entry = ingest_one(source(), filename="big.webm")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.perf_counter() - started
    print(f"\n[memory test] 256 MiB ingested in {elapsed:.2f} s, peak traced memory {peak / MiB:.2f} MiB")
    (stored,) = files_of(entry)
    assert (entry.status, entry.size, stored_size(stored)) == (Status.READY, total, total)
    # An object store is sent whole multipart parts: add the part being sent and the one being gathered.
    parts = 2 * default_storage.transfer_config.multipart_chunksize if is_object_storage(default_storage) else 0
    assert peak < 16 * MiB + parts


# --- a stream that ends early --------------------------------------------------------------------


def test_a_stream_that_ends_before_the_expected_size_fails_and_leaves_no_file(ingest_one):
    entry = ingest_one(iter([CONTENT[:1000]]), bytes_expected=len(CONTENT))

    assert entry.status == Status.FAILED and not entry.media
    assert entry.error == f"The transfer ended early: 1000 of {len(CONTENT)} bytes arrived. Try again."
    assert stored_files() == []


def test_the_expected_size_reported_while_streaming_is_checked_too(pending_entry):
    def chunks():
        ingest.entry_expect(pending_entry, len(CONTENT))  # as a download's Content-Length arrives
        yield CONTENT[:500]

    entry = entry_receive(pending_entry, stream=chunks(), filename="clip.webm")

    assert entry.status == Status.FAILED and "500 of" in entry.error
