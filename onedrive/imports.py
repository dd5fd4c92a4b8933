"""Imports from OneDrive: entries are created at once (pending), one django-q2 task per file streams it in.

An entry's reference is the importing user, the drive id and the item id, so importing the same file
twice gives the same entry (per user); the ingest service's claim makes a duplicate task a no-op, and
`requeue_stalled` (scheduled) hands out again an import whose worker died.
"""
import logging
from functools import partial
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django_q.tasks import async_task

from integrations.microsoft.errors import GraphError, GraphNotFound
from mediaspace.conf import setting
from mediaspace.ingest import (entry_expect, entry_explain_failure, entry_fail, entry_is_held, entry_prepare,
                               entry_receive, entry_requeue)
from mediaspace.models import MediaEntry
from mediaspace.queueing import queued_grace, tasks_waiting

from . import drive
from .models import OneDriveModule
from .signin import SignInRequired, graph_for_user

logger = logging.getLogger(__name__)

TASK = "onedrive.tasks.import_file"
MAX_SELECTED = 100
# A worker does not hold a download for a long Retry-After: the import fails visibly and can be retried.
MAX_WAIT_SECONDS = 120


@dataclass
class ImportOutcome:
    started: list = field(default_factory=list)  # entries queued now
    already: list = field(default_factory=list)  # entries that were already there (ready or importing)
    refused: list = field(default_factory=list)  # (name, reason)


def reference_for(user, drive_id, item_id) -> str:
    return f"{user.pk}/{drive_id}/{item_id}"


def parse_key(key):
    """(drive id, item id) from a picker checkbox value, or None when it is not one."""
    drive_id, _slash, item_id = str(key).partition("/")
    if drive.ID.match(drive_id) and drive.ID.match(item_id):
        return drive_id, item_id
    return None


def start_imports(user, module, graph, keys) -> ImportOutcome:
    """Create the entries of the selected files (checked again with Microsoft) and queue their imports."""
    outcome = ImportOutcome()
    for key in dict.fromkeys(keys):  # once each, in order
        parsed = parse_key(key)
        if parsed is None:
            outcome.refused.append((str(key)[:80], _("This is not a OneDrive file of yours.")))
            continue
        try:
            item = drive.item(graph, module, *parsed)
        except GraphNotFound:
            outcome.refused.append((parsed[1], _("The file is no longer in your OneDrive.")))
            continue
        except ValueError:
            outcome.refused.append((parsed[1], _("Microsoft's answer for this file could not be read.")))
            continue
        if not item.importable:
            outcome.refused.append((item.name, item.refusal or _("A folder cannot be imported.")))
            continue
        entry, created = entry_prepare(
            source=MediaEntry.Source.ONEDRIVE, reference_id=reference_for(user, *parsed), owner=user,
            name=item.name.rsplit(".", 1)[0] or item.name, tags="OneDrive", bytes_expected=item.size)
        if created or entry.status == MediaEntry.Status.FAILED:
            queue(entry)
            outcome.started.append(entry)
        else:
            outcome.already.append(entry)
    return outcome


def queue(entry):
    """Hand the import to the cluster (a failed entry shows as pending again)."""
    entry_requeue(entry)
    async_task(TASK, entry.pk, task_name=f"OneDrive import of entry {entry.pk}", group="onedrive")


def import_file(entry_id):
    """The task: stream the file from OneDrive into the entry. Returns the entry's status."""
    entry = MediaEntry.objects.select_related("owner").filter(
        pk=entry_id, source=MediaEntry.Source.ONEDRIVE).first()
    # Received (ready, or processing), or failed: a failed import runs again only through queue() (Retry), which
    # makes it pending first, never because a duplicate task of the first attempt arrives late.
    if entry is None or entry.is_received or entry.status == MediaEntry.Status.FAILED:
        return entry and entry.status
    if entry_is_held(entry):  # a duplicate task: the import is under way elsewhere
        return entry.status
    module = OneDriveModule.load()
    if not module.enabled:
        return entry_fail(entry, _("The OneDrive module is turned off on this portal.")).status
    _user_id, drive_id, item_id = entry.reference_id.split("/", 2)
    try:
        graph = graph_for_user(entry.owner, module, max_wait=MAX_WAIT_SECONDS, max_tries=8)
        item = drive.item(graph, module, drive_id, item_id)
        if not item.importable:
            return entry_fail(entry, item.refusal).status
        download = drive.item_content(graph, drive_id, item_id, on_length=partial(entry_expect, entry))
    except (GraphError, ValueError) as error:
        return entry_fail(entry, failure_reason(error)).status
    # What OneDrive calls the file is not trusted: the ingest service tells its type from the bytes.
    entry = entry_receive(entry, stream=download, filename=item.name, bytes_expected=item.size)
    if entry.status == MediaEntry.Status.FAILED and download.error is not None:
        entry = entry_explain_failure(entry, failure_reason(download.error))
    return entry.status


def failure_reason(error) -> str:
    if isinstance(error, SignInRequired):
        return _("Your Microsoft sign-in expired before the import could start. Open “Import from OneDrive” to "
                 "sign in again, then choose Retry.")
    if isinstance(error, GraphNotFound):
        return _("The file is no longer in your OneDrive (it was moved or deleted).")
    if isinstance(error, ValueError):
        return _("Microsoft's answer for this file could not be read.")
    return _("OneDrive refused or interrupted the download: %(error)s") % {"error": error}


def requeue_stalled() -> int:
    """The minute schedule's task: hand out again the imports whose worker died (its heartbeat stopped) or
    whose task was lost (not started within the grace, once no task waits in the queue, where it may be: see
    mediaspace/queueing.py). A duplicate task is a no-op."""
    now = timezone.now()
    stale_heartbeat = now - timedelta(seconds=setting("MEDIASPACE_INGEST_LEASE_SECONDS"))
    stalled = Q(status=MediaEntry.Status.IMPORTING, heartbeat_at__lt=stale_heartbeat)
    if not tasks_waiting():
        stalled |= Q(status=MediaEntry.Status.PENDING, updated__lt=now - queued_grace())
    stalled = MediaEntry.objects.filter(stalled, source=MediaEntry.Source.ONEDRIVE)
    count = 0
    for entry in stalled.only("pk"):
        queue(entry)
        count += 1
    if count:
        logger.info("Handed out again %s stalled OneDrive imports", count)
    return count
