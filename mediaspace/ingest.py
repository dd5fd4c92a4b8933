"""The ingest service: one place that turns a byte stream plus metadata into a media entry.

Both integrations and the upload page call it. The stream is copied to storage chunk by chunk (memory
stays flat whatever the size); (source, reference id) identifies the entry, so a retry never makes a
second one; a worker holds an import by reporting progress, so a dead worker's import can be taken
over; a failed import leaves the entry `failed` with the reason and no file behind.
"""
import logging
import posixpath
import time
from datetime import timedelta

from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from .conf import setting
from .media_types import HEAD_SIZE, NotMedia, media_type
from .models import MediaEntry, entry_folder, entry_media_path
from .object_storage import remove_tree
from .processing import pipeline

logger = logging.getLogger(__name__)

PROGRESS_INTERVAL_SECONDS = 1.0


class IngestAborted(Exception):
    """The import was taken over by another worker, or the entry was deleted meanwhile."""


class _ChunkReader:
    """read() over an iterator of byte chunks (for example `requests`' iter_content), handing whole
    chunks on without copying them when the reader asks for exactly a chunk, and `size` bytes (fewer only at
    the end) when it asks for more."""

    def __init__(self, chunks):
        self._chunks = iter(chunks)
        self._pending = b""

    def read(self, size=-1):
        while not self._pending:
            self._pending = next(self._chunks, None)
            if self._pending is None:
                self._pending = b""
                return b""
        if size is None or size < 0 or size == len(self._pending):
            data, self._pending = self._pending, b""
        elif size < len(self._pending):
            data, self._pending = self._pending[:size], self._pending[size:]
        else:
            # More than a chunk: join chunks up to `size`, since a short read means the end to some readers
            # (s3transfer takes it for the last part of a multipart upload).
            parts, have = [self._pending], len(self._pending)
            while have < size:
                chunk = next(self._chunks, None)
                if chunk is None:
                    break
                parts.append(chunk)
                have += len(chunk)
            joined = b"".join(parts)
            data, self._pending = joined[:size], joined[size:]
        return data


class _ProgressReader:
    """Reads the source for storage, counting bytes, keeping the head and reporting progress.

    The source is read at most `piece_size` bytes at a time, with a progress report (the heartbeat that holds
    the import, and the check that it is still ours) between pieces, however much the storage asks for at once:
    an object store asks for a whole multipart part (8 MiB), which a slow download takes minutes to deliver,
    longer than the lease after which another worker takes the import over."""

    def __init__(self, source, entry, piece_size, filename):
        self._filename = filename
        self._read = (source if hasattr(source, "read") else _ChunkReader(source)).read
        self._entry = entry
        self._piece_size = piece_size
        self._last_report = time.monotonic()
        self.count = 0
        self.head = b""
        self.content_type = None  # told by the bytes (`media_type`) once the head has arrived

    closed = False  # a forward-only stream, as storages ask before reading (django-storages' S3 does)

    def seekable(self):
        return False

    def read(self, size=-1):
        if size is None or size < 0 or size <= self._piece_size:
            return self._read_piece(size)
        pieces, have = [], 0
        while have < size:  # `size` bytes, fewer only at the end: a short read means the end to some readers
            piece = self._read_piece(min(self._piece_size, size - have))
            if not piece:
                break
            pieces.append(piece)
            have += len(piece)
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def _read_piece(self, size):
        data = self._read(size)
        self.count += len(data)
        if len(self.head) < HEAD_SIZE:
            self.head += data[: HEAD_SIZE - len(self.head)]
        if len(self.head) >= HEAD_SIZE or not data:
            self.tell_type()  # markup: NotMedia stops the copy here, before the rest is read
        if time.monotonic() - self._last_report >= PROGRESS_INTERVAL_SECONDS:
            self._report()
        return data

    def tell_type(self):
        """Tell the content type from the head, once; raises NotMedia for markup."""
        if self.content_type is None:
            self.content_type = media_type(self.head, self._filename)

    def _report(self):
        self._last_report = time.monotonic()
        still_ours = MediaEntry.objects.filter(
            pk=self._entry.pk, status=MediaEntry.Status.IMPORTING, heartbeat_at=self._entry.heartbeat_at
        ).update(bytes_received=self.count, heartbeat_at=_now_for(self._entry))
        if not still_ours:
            raise IngestAborted(f"Import of entry {self._entry.pk} was taken over or the entry was deleted.")


def _now_for(entry):
    entry.heartbeat_at = timezone.now()
    return entry.heartbeat_at


def entry_prepare(*, source, reference_id, owner, name, description="", tags="", bytes_expected=None):
    """The entry for (source, reference_id): created `pending` on the first call, returned as is after.

    Returns (entry, created).
    """
    defaults = {
        "owner": owner,
        "name": name[:255],
        "description": description,
        "tags": tags[:500],
        "bytes_expected": bytes_expected,
    }
    try:
        with transaction.atomic():
            return MediaEntry.objects.get_or_create(source=source, reference_id=reference_id, defaults=defaults)
    except IntegrityError:  # created by a concurrent call between the get and the create
        return MediaEntry.objects.get(source=source, reference_id=reference_id), False


def _stale_before():
    """A worker whose last progress report is older than this is taken to be dead."""
    return timezone.now() - timedelta(seconds=setting("MEDIASPACE_INGEST_LEASE_SECONDS"))


def entry_is_held(entry) -> bool:
    """A live worker is importing the entry (it reported progress within the lease)."""
    return (entry.status == MediaEntry.Status.IMPORTING and entry.heartbeat_at is not None
            and entry.heartbeat_at >= _stale_before())


def entry_claim(entry) -> bool:
    """Take the import of `entry` for this worker, unless another live worker holds it or it is ready."""
    stale = _stale_before()
    claimable = Q(status__in=[MediaEntry.Status.PENDING, MediaEntry.Status.FAILED]) | Q(
        status=MediaEntry.Status.IMPORTING
    ) & (Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True))
    claimed = (
        MediaEntry.objects.filter(claimable, pk=entry.pk)
        .update(status=MediaEntry.Status.IMPORTING, heartbeat_at=_now_for(entry), bytes_received=0, error="")
    )
    if claimed:
        entry.status, entry.bytes_received, entry.error = MediaEntry.Status.IMPORTING, 0, ""
    return bool(claimed)


def entry_expect(entry, size: int):
    """Record how many bytes the import will bring (shown as progress), once the source has said."""
    MediaEntry.objects.filter(pk=entry.pk).update(bytes_expected=size)


def entry_fail(entry, reason: str):
    """Mark the entry failed with a reason the owner can read and remove any partial file.
    A ready entry is left as it is."""
    failed = MediaEntry.objects.filter(pk=entry.pk).exclude(status=MediaEntry.Status.READY).update(
        status=MediaEntry.Status.FAILED, error=reason[:2000], heartbeat_at=None, media=""
    )
    if failed:
        remove_entry_files(entry)
    return entry.reloaded()


def entry_requeue(entry):
    """The entry's import is handed out again: a failed one waits for a worker (pending) afresh, and any counts
    as queued just now (`updated`), so that the check for lost tasks gives the new task its grace."""
    MediaEntry.objects.filter(pk=entry.pk, status=MediaEntry.Status.FAILED).update(
        status=MediaEntry.Status.PENDING, error="", bytes_received=0)
    MediaEntry.objects.filter(pk=entry.pk).update(updated=timezone.now())


def entry_explain_failure(entry, reason: str):
    """Replace a failed entry's reason with a better one the source knows (the ingest saw only a stream that
    broke off). An entry that is not failed (any more) is left alone."""
    MediaEntry.objects.filter(pk=entry.pk, status=MediaEntry.Status.FAILED).update(error=reason[:2000])
    return entry.reloaded()


def entry_receive(entry, *, stream, filename, bytes_expected=None, duration=None):
    """Stream `stream` (a file-like object or an iterator of byte chunks) into the entry's media file.

    Its content type is told by its bytes, never by what the source says (`media_types.media_type`); markup is
    refused from its first bytes: the entry fails with the reason and nothing is kept.

    Returns the entry: `ready` (`processing` when the media pipeline takes it on: `MediaEntry.is_received`), or
    `failed` with the reason. An entry that is already ready, or that another live worker is importing, is
    returned unchanged and the stream is not read.
    """
    if entry.status == MediaEntry.Status.READY or not entry_claim(entry):
        return entry.reloaded()
    if bytes_expected is not None:
        entry_expect(entry, bytes_expected)
    remove_entry_files(entry)  # left behind by a worker that died mid-import
    reader = _ProgressReader(stream, entry, setting("MEDIASPACE_INGEST_CHUNK_SIZE"), filename)
    storage = entry.media.storage
    target = entry_media_path(entry, filename)
    try:
        stored_name = storage.save(target, _chunked_file(reader, filename))
        reader.tell_type()  # a short file, when the storage did not read past its end
    except IngestAborted:
        logger.info("Import of entry %s stopped: another worker holds it now, or it was deleted.", entry.pk)
        remove_tree(storage, posixpath.dirname(target))
        return entry.reloaded()
    except NotMedia as refusal:
        logger.info("Import of entry %s refused: %s", entry.pk, refusal)
        remove_tree(storage, posixpath.dirname(target))
        _finish_if_ours(entry, status=MediaEntry.Status.FAILED, error=str(refusal), media="")
        return entry.reloaded()
    except Exception as exc:
        logger.warning("Import of entry %s failed: %s", entry.pk, exc, exc_info=True)
        remove_tree(storage, posixpath.dirname(target))
        _finish_if_ours(entry, status=MediaEntry.Status.FAILED, error=_reason(exc)[:2000], media="")
        return entry.reloaded()
    expected = MediaEntry.objects.filter(pk=entry.pk).values_list("bytes_expected", flat=True).first()
    if expected is not None and reader.count != expected:  # a stream that ended early without an error
        logger.warning("Import of entry %s ended after %s of %s bytes", entry.pk, reader.count, expected)
        remove_tree(storage, posixpath.dirname(target))
        _finish_if_ours(entry, status=MediaEntry.Status.FAILED, media="", error=(
            f"The transfer ended early: {reader.count} of {expected} bytes arrived. Try again."))
        return entry.reloaded()
    # Audio and video go on to the media pipeline (Processing, then Ready); without it they are Ready now.
    processing = pipeline.processes(reader.content_type)
    finished = _finish_if_ours(
        entry,
        status=MediaEntry.Status.PROCESSING if processing else MediaEntry.Status.READY,
        processing_progress=0 if processing else None,
        media=stored_name,
        size=reader.count,
        bytes_received=reader.count,
        content_type=reader.content_type,
        duration=duration,
        error="",
    )
    if not finished:  # deleted (or taken over) while we were copying: do not leave our file behind
        remove_tree(storage, posixpath.dirname(target))
    elif processing:
        pipeline.queue(entry)
    return entry.reloaded()


def _chunked_file(reader, filename):
    content = File(reader, name=filename)
    content.DEFAULT_CHUNK_SIZE = setting("MEDIASPACE_INGEST_CHUNK_SIZE")  # what storage.save() reads per step
    return content


def _finish_if_ours(entry, **fields) -> bool:
    """Record the outcome of this worker's import, unless another worker has taken it over since."""
    return bool(
        MediaEntry.objects.filter(
            pk=entry.pk, status=MediaEntry.Status.IMPORTING, heartbeat_at=entry.heartbeat_at
        ).update(heartbeat_at=None, **fields)
    )


def entry_ingest(*, source, reference_id, owner, name, stream, filename, description="", tags="",
                 bytes_expected=None, duration=None):
    """Prepare and receive in one call: the whole ingest for a source whose bytes are at hand."""
    entry, _created = entry_prepare(
        source=source, reference_id=reference_id, owner=owner, name=name, description=description,
        tags=tags, bytes_expected=bytes_expected,
    )
    return entry_receive(
        entry, stream=stream, filename=filename, bytes_expected=bytes_expected, duration=duration,
    )


def remove_entry_files(entry):
    """Delete whatever lies in the entry's own folder of the storage (partial or orphaned files)."""
    remove_tree(entry.media.storage, entry_folder(entry))


def _reason(exc) -> str:
    message = str(exc).strip()
    return message if message else f"The import stopped unexpectedly ({type(exc).__name__})."
