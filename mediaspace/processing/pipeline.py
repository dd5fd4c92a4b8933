"""The media pipeline's run of one entry: after the ingest stored the original, FFmpeg probes it, makes its
pictures and, when browsers cannot play it as it is, a web rendition. The entry goes Processing → Ready, or
Failed with the reason (its original kept, so that Retry processes it again without importing it again).

- Leases, as the ingest's: a worker holds an entry's run by reporting progress (`heartbeat_at`, at most every
  second, with `processing_progress`), each report checking that the run is still its own; a run whose worker
  went quiet for MEDIASPACE_INGEST_LEASE_SECONDS is taken over (`requeue_stalled`, the minute schedule).
- Waiting for a run is `processing_progress` set (0 when queued): a Processing entry, or a Ready one being
  processed again (it stays Ready, and playable, meanwhile). A late duplicate task finds nothing waiting.
- Files: made in a temporary folder, then stored complete in a fresh folder of the run beside the original
  (`entry_derived_path`); one guarded update puts them on the entry; then every other run's folder (the previous
  run's, an abandoned one's) is removed. A run that does not finish removes its own folder, or, killed, leaves
  it to the next run. Nothing half-written is ever stored.
- The original is read where it lies: a local path, a signed URL of the object store (FFmpeg reads it with
  Range requests), or else a local spool copied chunk by chunk; worker memory never grows with the file.
"""
import logging
import posixpath
import re
import shutil
import tempfile
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from django.core.files import File
from django.db.models import Case, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django_q.tasks import async_task

from mediaspace.conf import setting
from mediaspace.media_types import kind_of
from mediaspace.models import MediaEntry, UploadModule, entry_derived_path, entry_folder
from mediaspace.object_storage import is_object_storage, remove_tree, signed_url
from mediaspace.queueing import processing_cluster, queued_grace, tasks_waiting

from . import ffmpeg, pictures, renditions
from .ffmpeg import FFmpegFailed, MediaUnreadable
from .probe import probe as probe_file

logger = logging.getLogger(__name__)

TASK = "mediaspace.tasks.process_entry"
# Audio, video, and files of no type we know (FFmpeg reads more than `sniff` knows, and tells an empty or
# non-media file from media); pictures are shown as they are.
PROCESSED_KINDS = ("video", "audio", "")
SOURCE_URL_SECONDS = 24 * 3600  # FFmpeg's signed URL of the original outlives the longest run (Q_TIMEOUT)
SPOOL_CHUNK = 1024 * 1024
PROGRESS_INTERVAL_SECONDS = 1.0  # progress (and the lease's heartbeat) written at most this often
Status = MediaEntry.Status


class TakenOver(Exception):
    """Another worker took the run over (this one was thought dead), or the entry was deleted."""


# -- what is processed, and when ----------------------------------------------------------------------------------

def enabled() -> bool:
    """Processing is on (MEDIASPACE_PROCESSING) and FFmpeg is there; otherwise entries are Ready once stored."""
    return bool(setting("MEDIASPACE_PROCESSING")) and ffmpeg.available()


def processes(content_type: str) -> bool:
    """A file of this type goes through the pipeline when it is on: audio, video, or a type we do not know."""
    return enabled() and kind_of(content_type) in PROCESSED_KINDS


def needs_processing(entry) -> bool:
    """A Ready entry (not a picture) that was never processed (from before the pipeline, or made while it was
    off): `media_process --missing` picks these."""
    return (entry.status == Status.READY and bool(entry.media) and entry.processed is None
            and kind_of(entry.content_type) in PROCESSED_KINDS)


def processing_failed(entry) -> bool:
    """Failed in processing, its original still stored: Retry processes it again (`queue`) rather than
    importing it again. (A failed import keeps no file.)"""
    return entry.status == Status.FAILED and bool(entry.media)


def queue(entry, *, force=False) -> bool:
    """Hand the entry's processing to the processing cluster; True when queued.

    Queued: a Processing entry, a failed processing (Retry: it shows Processing again), a Ready one never
    processed, and with `force` (Reprocess) any Ready one, which stays Ready and playable meanwhile. Nothing
    is queued while processing is off, or for an entry without its original."""
    if not enabled():
        return False
    wanted = Q(status__in=[Status.PROCESSING, Status.FAILED]) | Q(status=Status.READY, processed__isnull=True)
    if force:
        wanted |= Q(status=Status.READY)
    marked = MediaEntry.objects.filter(wanted, pk=entry.pk).exclude(media="").update(
        status=Case(When(status=Status.READY, then=Value(Status.READY)), default=Value(Status.PROCESSING)),
        processing_progress=Coalesce("processing_progress", 0), error="", updated=timezone.now())
    if marked:
        _enqueue(entry.pk)
    return bool(marked)


def _enqueue(entry_id):
    async_task(TASK, entry_id, cluster=processing_cluster(), task_name=f"Processing of entry {entry_id}",
               group="processing")


def requeue_stalled() -> int:
    """The minute schedule's task: queue again the runs whose worker died (heartbeat older than the lease) and
    those whose task was lost (queued, not started within the grace, and no task waits in the processing
    queue: see mediaspace/queueing.py). The claim makes a duplicate a no-op."""
    now = timezone.now()
    waiting = Q(processing_progress__isnull=False, status__in=[Status.PROCESSING, Status.READY])
    stalled = Q(heartbeat_at__lt=now - timedelta(seconds=setting("MEDIASPACE_INGEST_LEASE_SECONDS")))
    if not tasks_waiting(processing_cluster()):
        stalled |= Q(heartbeat_at__isnull=True, updated__lt=now - queued_grace())
    count = 0
    for entry_id in MediaEntry.objects.filter(waiting & stalled).values_list("pk", flat=True):
        MediaEntry.objects.filter(pk=entry_id).update(updated=now)  # the new task's grace starts now
        _enqueue(entry_id)
        count += 1
    if count:
        logger.info("Handed out again %s stalled processing runs", count)
    return count


# -- one run ------------------------------------------------------------------------------------------------------

def process(entry_id, *, on_progress=None):
    """Process the entry now, whatever its state (`media_process`): Processing, Ready or a failed processing,
    unless a live worker holds it. Returns the entry as it is after the run (None if there is none)."""
    return _run(entry_id, on_progress=on_progress, queued_only=False)


def process_queued(entry_id):
    """The task: process the entry if it still waits for a run (a late duplicate task does nothing)."""
    return _run(entry_id, on_progress=None, queued_only=True)


def _run(entry_id, *, on_progress, queued_only):
    entry = MediaEntry.objects.filter(pk=entry_id).first()
    if entry is None:
        return None
    if not enabled():
        return _ready_unprocessed(entry)
    if not _claim(entry, queued_only=queued_only):
        return entry.reloaded()
    run = _Run(entry, on_progress)
    storage = entry.media.storage
    folder = posixpath.dirname(entry_derived_path(entry, "run"))
    _remove_other_runs(entry, keep=folder)  # an abandoned run's files (the entry's own are kept)
    try:
        with tempfile.TemporaryDirectory(prefix="mediaspace-processing-") as work:
            fields = _make(entry, run, Path(work), storage, folder)
    except TakenOver:
        logger.info("Processing of entry %s stopped: another worker holds it now, or it was deleted.", entry.pk)
        remove_tree(storage, folder)
        return entry.reloaded()
    except Exception as error:  # any failure leaves the entry failed with the reason, and its run's files gone
        reason = _reason(error, entry)
        logger.warning("Processing of entry %s failed: %s", entry.pk, reason, exc_info=not _expected(error))
        remove_tree(storage, folder)
        run.finish(status=Status.FAILED, error=reason[:2000])
        return entry.reloaded()
    if run.finish(status=Status.READY, error="", processed=timezone.now(), **fields):
        _remove_other_runs(entry, keep=folder)  # the previous run's files
    else:
        remove_tree(storage, folder)
    return entry.reloaded()


def _claim(entry, *, queued_only) -> bool:
    """Take the entry's run for this worker, unless a live worker holds it (a fresh heartbeat)."""
    stale = timezone.now() - timedelta(seconds=setting("MEDIASPACE_INGEST_LEASE_SECONDS"))
    claimable = Q(status__in=[Status.PROCESSING, Status.READY, Status.FAILED]) & (
        Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=stale))
    if queued_only:
        claimable &= Q(processing_progress__isnull=False, status__in=[Status.PROCESSING, Status.READY])
    claimed = MediaEntry.objects.filter(claimable, pk=entry.pk).exclude(media="").update(  # failed: in processing
        status=Case(When(status=Status.READY, then=Value(Status.READY)), default=Value(Status.PROCESSING)),
        heartbeat_at=timezone.now(), processing_progress=0, error="")
    if claimed:
        entry.refresh_from_db()
    return bool(claimed)


class _Run:
    """This worker's hold on the entry: progress reports that are heartbeats, and the guarded last update."""

    def __init__(self, entry, on_progress):
        self.entry = entry
        self._on_progress = on_progress
        self._last_report = time.monotonic()

    def report(self, percent):
        """Progress (0-100): told to the caller at once, written (and the lease renewed) at most every second.
        Raises TakenOver when the run is no longer this worker's."""
        percent = max(0, min(100, int(percent)))
        if self._on_progress:
            self._on_progress(percent)
        if time.monotonic() - self._last_report < PROGRESS_INTERVAL_SECONDS:
            return
        self._last_report = time.monotonic()
        now = timezone.now()
        if not self._ours().update(heartbeat_at=now, processing_progress=percent):
            raise TakenOver()
        self.entry.heartbeat_at = now

    def part(self, start, end):
        """A progress callback for a step that covers start..end of the whole run."""
        return lambda percent: self.report(start + (end - start) * percent / 100)

    def finish(self, **fields) -> bool:
        return bool(self._ours().update(heartbeat_at=None, processing_progress=None, **fields))

    def _ours(self):
        return MediaEntry.objects.filter(pk=self.entry.pk, heartbeat_at=self.entry.heartbeat_at)


def _make(entry, run, work, storage, folder) -> dict:
    """Probe, pictures and rendition of the entry, stored in `folder`: the entry's new fields."""
    module = UploadModule.load()
    if entry.size == 0:  # nothing to read (and an object store answers an empty object's Range with 416)
        raise MediaUnreadable()
    with readable(entry.media, content_type=entry.content_type) as source:
        found = probe_file(source)
        run.report(2)
        plan = renditions.plan(found, make_renditions=module.make_renditions)
        pictures_end = 10 if plan != "as_is" else 95
        made = {}
        if found.has_video:
            pictures.poster(source, found, work / "poster.jpg")
            run.report(2 + (pictures_end - 2) // 3)
            pictures.thumbnail(work / "poster.jpg", work / "thumbnail.jpg")
            grid = pictures.sprite(source, found, work / "sprite.jpg")
            made.update(poster="poster.jpg", thumbnail="thumbnail.jpg", sprite="sprite.jpg")
        else:
            pictures.waveform(source, found, work / "waveform.png")
            grid = {}
            made.update(poster="waveform.png", thumbnail="waveform.png")
        run.report(pictures_end)
        if plan == "faststart":
            renditions.faststart(source, work / "playback.mp4", duration=found.duration,
                                  on_progress=run.part(pictures_end, 99))
            made["playback"] = "playback.mp4"
        elif plan == "render":
            renditions.render(source, found, work / "playback.mp4", max_height=module.rendition_max_height,
                              on_progress=run.part(pictures_end, 99))
            made["playback"] = "playback.mp4"
    stored = {}
    for filename in dict.fromkeys(made.values()):  # the waveform is poster and thumbnail: stored once
        run.report(99)  # a heartbeat between files, which may be large
        with open(work / filename, "rb") as content:
            stored[filename] = storage.save(posixpath.join(folder, filename), File(content, name=filename))
    return {"probe": found.as_dict(), "duration": found.duration, "width": found.width, "height": found.height,
            "sprite_grid": grid, "playback": "", "poster": "", "thumbnail": "", "sprite": "",
            **{field: stored[filename] for field, filename in made.items()}}


@contextmanager
def readable(field_file, *, content_type=""):
    """What FFmpeg reads a stored file from: its local path, a signed URL of the object store (read with Range),
    or else a local spool copied chunk by chunk; never the file in memory."""
    storage, name = field_file.storage, field_file.name
    if is_object_storage(storage):
        yield signed_url(storage, name, seconds=SOURCE_URL_SECONDS, content_type=content_type)
        return
    try:
        path = storage.path(name)
    except NotImplementedError:
        path = None
    if path is not None:
        yield path
        return
    with tempfile.NamedTemporaryFile(prefix="mediaspace-spool-", suffix=Path(name).suffix) as spool:
        with storage.open(name, "rb") as original:
            shutil.copyfileobj(original, spool, SPOOL_CHUNK)
        spool.flush()
        yield spool.name


def _remove_other_runs(entry, *, keep):
    """Remove every run folder of the entry's derived files but `keep` and those the entry shows now."""
    storage = entry.media.storage
    derived = posixpath.join(entry_folder(entry), "derived")
    entry = entry.reloaded()
    shown = {posixpath.dirname(field.name) for field in (entry.poster, entry.thumbnail, entry.sprite, entry.playback)
             if field}
    try:
        folders, _files = storage.listdir(derived)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in folders:
        folder = posixpath.join(derived, name.rstrip("/"))
        if folder != keep and folder not in shown:
            remove_tree(storage, folder)


def _ready_unprocessed(entry):
    """Processing is off (or FFmpeg went missing) for an entry that waited for it: Ready, as without the
    pipeline, unless a live worker holds it."""
    stale = timezone.now() - timedelta(seconds=setting("MEDIASPACE_INGEST_LEASE_SECONDS"))
    MediaEntry.objects.filter(Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=stale), pk=entry.pk,
                              processing_progress__isnull=False,
                              status__in=[Status.PROCESSING, Status.READY]).update(
        status=Status.READY, processing_progress=None, heartbeat_at=None)
    return entry.reloaded()


def _expected(error) -> bool:
    return isinstance(error, (MediaUnreadable, FFmpegFailed))


def _reason(error, entry) -> str:
    """What the owner reads. FFmpeg's own words may name the signed URL it read: the file's name instead."""
    if isinstance(error, MediaUnreadable):
        return str(error)
    if isinstance(error, FFmpegFailed):
        reason = _("FFmpeg could not process the file: %(reason)s") % {"reason": error.reason}
    else:
        reason = _("The processing stopped unexpectedly: %(error)s") % {
            "error": str(error).strip() or type(error).__name__}
    return _scrub(reason, entry)


def _scrub(text, entry):
    """The text without any URL (the object store's signed URL is a credential): the file's name instead."""
    return re.sub(r"https?://\S+", entry.media.name, text)
