"""People asking for an entry's processing again: an administrator's Reprocess (admin) and an owner's Retry of a
failed processing (the pages). Both queue through `pipeline.queue`; this module says, in words, why it would not
queue an entry now, so that the pages refuse clearly instead of doing nothing.
"""
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from mediaspace.conf import setting
from mediaspace.media_types import kind_of
from mediaspace.models import MediaEntry

from . import ffmpeg, pipeline

Status = MediaEntry.Status


class Refused(Exception):
    """The entry cannot be queued now; the message says why (for an administrator or the owner)."""


def refusal(entry, *, retry=False) -> str:
    """Why `reprocess` (or, with `retry`, `retry`) would not queue the entry now; '' when it would."""
    if not setting("MEDIASPACE_PROCESSING"):
        return _("processing is turned off on this portal (MEDIASPACE_PROCESSING).")
    if not ffmpeg.available():
        return _("FFmpeg was not found on this server, so nothing can be processed.")
    if entry.status in (Status.PENDING, Status.IMPORTING):
        return _("it is still being imported; it is processed once it is stored.")
    if not entry.media:
        return _("it has no media file: its import failed.")
    if kind_of(entry.content_type) not in pipeline.PROCESSED_KINDS:
        return _("it is a picture, which is shown as it is; only audio and video are processed.")
    if entry.processing_progress is not None:
        if _held(entry):
            return _("it is being processed now (%(percent)d%%).") % {"percent": entry.processing_progress}
        return _("it is queued for processing already.")
    if retry and not pipeline.processing_failed(entry):
        return _("its processing did not fail.")
    return ""


def reprocess(entry):
    """An administrator's Reprocess: a Ready entry stays Ready (and playable) while it is processed again; a
    failed one shows Processing. Raises Refused."""
    _queue(entry, force=True, retry=False)


def retry(entry):
    """The owner's Retry of a failed processing: its original is processed again, not imported again. Raises
    Refused."""
    _queue(entry, force=False, retry=True)


def _queue(entry, *, force, retry):
    reason = refusal(entry, retry=retry)
    if reason:
        raise Refused(reason)
    if not pipeline.queue(entry, force=force):  # it changed since it was read (a worker, another click)
        raise Refused(_("it changed meanwhile; reload the page to see its state."))
    entry.refresh_from_db()


def _held(entry) -> bool:
    """A live worker reports progress on the run (the pipeline's lease)."""
    stale = timezone.now() - timedelta(seconds=setting("MEDIASPACE_INGEST_LEASE_SECONDS"))
    return entry.heartbeat_at is not None and entry.heartbeat_at >= stale
