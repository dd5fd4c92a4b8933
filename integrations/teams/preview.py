"""Owner mapping you can see before it acts.

- `preview_owner`: the steps the owner rules take for one Teams user, by the sync's own `resolve_owner` in a
  dry run (the admin's "Preview owner mapping").
- `plan`: what the next sync round of an integration would ingest (`manage.py teams_sync --dry-run`): each
  recording's meeting, date, owner and why, and the collaborators with their permission. It lists through
  the sync's own discovery (`sync.listed`) and reads users, recording lists and meetings only: no ledger row,
  entry, user or file is written, the watermark stays, no recording or transcript content is asked for.
"""
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import F, Max
from django.utils import timezone

from integrations.microsoft.errors import GraphError, GraphNotFound
from integrations.teams.models import Recording

from . import api, participants, sync
from .diagnosis import explain
from .owners import (AMBIGUOUS, CANNOT, CREATED, DEFAULT_USER, FOUND, MISSING, WOULD_CREATE, TeamsUser,
                     organizer_of, participant_match, portal_user_id, resolve_owner)

RECENT_ORGANIZERS = 20


# -- one Teams user ------------------------------------------------------------------------------


def recent_organizers(integration, limit=RECENT_ORGANIZERS) -> list:
    """The integration's distinct recording organizers, most recent recording first, as Teams users with the
    id, name and e-mail the ledger stored for them (from their latest ledger row)."""
    latest = (integration.recordings.exclude(organizer_upn="").values("organizer_upn")
              .annotate(last_recorded=Max("recorded_at"), last_row=Max("pk"))
              .order_by(F("last_recorded").desc(nulls_last=True), "-last_row")[:limit])
    order = [row["last_row"] for row in latest]
    rows = Recording.objects.in_bulk(order)
    return [organizer_of(rows[pk]) for pk in order]


def preview_owner(integration, teams_user: TeamsUser):
    """What the sync would do with a recording of `teams_user`: the sync's resolve_owner, in a dry run."""
    return resolve_owner(integration, teams_user, dry_run=True)


OUTCOME_LABELS = {
    FOUND: "found",
    CREATED: "created",
    WOULD_CREATE: "will create",
    DEFAULT_USER: "default user",
    CANNOT: "cannot",
}


def owner_summary(resolution) -> str:
    """One line: who would own the recording, and by which rule."""
    if resolution.outcome == FOUND:
        return f"{resolution.user.get_username()} (found)"
    if resolution.outcome == CREATED:
        return f"{resolution.user.get_username()} (created)"
    if resolution.outcome == WOULD_CREATE:
        return "a new portal user (will create)"
    if resolution.outcome == DEFAULT_USER:
        why = "more than one portal user matches" if resolution.fallback == AMBIGUOUS else "no portal user matches"
        return f"{resolution.user.get_username()} (default user: {why})"
    return f"nobody (cannot: {resolution.problem}) - the recording would fail"


# -- the next sync round -------------------------------------------------------------------------


@dataclass
class PlannedCollaborator:
    name: str
    upn: str
    role: str
    permission: str  # "co-viewer", "co-editor, co-publisher"... or "" for none
    user: str = ""  # the portal user name it would go to
    note: str = ""  # why none, or "will create"

    def __str__(self):
        who = self.name or self.upn or "anonymous"
        if not self.permission:
            return f"{who} ({self.role}): no permission - {self.note}"
        target = self.user or "nobody"
        return f"{who} ({self.role}): {self.permission} -> {target}" + (f" ({self.note})" if self.note else "")


@dataclass
class PlannedRecording:
    recording: Recording  # unsaved for a recording not yet in the ledger
    new: bool
    name: str = ""  # the entry's name: the meeting's subject and start
    subject: str = ""
    start: datetime | None = None
    owner: object = None  # OwnerResolution
    collaborators: list = field(default_factory=list)
    problem: str = ""

    @property
    def owner_summary(self):
        return owner_summary(self.owner) if self.owner else ""


@dataclass
class Plan:
    integration: object
    window_start: datetime
    recordings: list = field(default_factory=list)  # PlannedRecording, in the order the sync takes them
    listed: int = 0  # meeting recordings Microsoft lists in the window
    known: int = 0  # of those, already in the ledger and not due (ready, discarded, waiting for a retry...)


def plan(integration, *, since=None, graph=None, progress=None) -> Plan:
    """What the next sync round of `integration` would ingest, changing nothing. A problem that concerns the
    whole integration (credentials, permissions) raises the GraphError, as the round would stop there."""
    graph = graph or api.graph_for(integration)
    now = timezone.now()
    result = Plan(integration, sync.window_start(integration, since=since, now=now))
    rows = list(sync.listed(integration, graph, since=since, now=now, progress=progress))
    result.listed = len(rows)
    in_ledger = set()
    ids = [row.recording_id for row in rows]
    for first in range(0, len(ids), 500):
        in_ledger.update(integration.recordings.filter(recording_id__in=ids[first:first + 500])
                         .values_list("recording_id", flat=True))
    due = list(sync.due(integration, now))
    due_ids = {row.recording_id for row in due}
    result.known = len(in_ledger - due_ids)
    new, seen = [], set()
    for row in rows:
        if row.recording_id not in in_ledger and row.recording_id not in seen:
            seen.add(row.recording_id)
            new.append(row)
    # The round writes the new ones, then takes every due one closest to expiry first (sync.queue_due).
    todo = [(row, False) for row in due] + [(row, True) for row in new]
    todo.sort(key=lambda pair: (pair[0].recorded_at is None, pair[0].recorded_at or now))
    result.recordings = [_planned(integration, graph, row, new=is_new) for row, is_new in todo]
    return result


def _planned(integration, graph, row, *, new) -> PlannedRecording:
    planned = PlannedRecording(recording=row, new=new)
    try:
        meeting = sync.meeting_of(graph, row)
    except sync.INTEGRATION_WIDE:
        raise
    except GraphNotFound:
        meeting = {}
        planned.problem = "Microsoft no longer has this meeting (it expired or was deleted): it would fail."
    except GraphError as error:
        meeting = {}
        planned.problem = f"The meeting could not be read: {explain(error).message}"
    planned.subject, planned.start = sync.meeting_subject(meeting), sync.meeting_start(meeting, row)
    planned.name = sync.entry_name(meeting, row)
    organizer = organizer_of(row)
    planned.owner = resolve_owner(integration, organizer, dry_run=True)
    owner_name = (planned.owner.user.get_username() if planned.owner.user is not None else
                  portal_user_id(integration, organizer) if planned.owner.outcome == WOULD_CREATE else None)
    planned.collaborators = collaborators(integration, meeting, owner_name)
    return planned


def collaborators(integration, meeting, owner_name=None) -> list:
    """The meeting's participants and the permission each would get (participants.grant, in a dry run).
    The owner (`owner_name`, their portal user name) is left out, as grant leaves them out."""
    planned = []
    for person in participants.of_meeting(meeting):
        flags = participants.flags_for(integration, person)
        entry = PlannedCollaborator(name=person.get("name", ""), upn=person.get("upn", ""),
                                    role=person.get("role") or "attendee",
                                    permission=", ".join(participants.FLAG_LABELS[flag] for flag in flags))
        if not flags:
            entry.note = participants.why_none(integration, person)
        else:
            teams_user = participants.teams_user(person)
            user, outcome = participant_match(integration, teams_user, dry_run=True)
            name = user.get_username() if user is not None else portal_user_id(integration, teams_user)
            if owner_name is not None and outcome in (FOUND, WOULD_CREATE) and name.lower() == owner_name.lower():
                continue  # the owner is no collaborator of their own entry
            if outcome == FOUND:
                entry.user = name
            elif outcome == WOULD_CREATE:
                entry.user, entry.note = name, "will create"
            elif outcome == AMBIGUOUS:
                entry.note = "more than one portal user matches: given to none"
            elif outcome == MISSING:
                entry.note = "no portal user matches: given to none"
            else:
                entry.note = "the portal cannot create this user: given to none"
        planned.append(entry)
    return planned
