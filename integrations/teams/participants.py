"""Meeting participants and the collaborator permissions the integration gives them.

The sync grants them when a recording arrives; "Apply to existing recordings" recomputes them for the
recordings already in the portal (the ledger keeps each meeting's participants), showing what would
change before it changes anything. Guests (another tenant, or no tenant at all) get nothing unless the
integration opts in.
"""
import hashlib
from dataclasses import dataclass

from django.db import transaction

from integrations.teams.models import Recording, TeamsIntegration
from mediaspace.models import Collaborator
from mediaspace.services import collaborator_grant, collaborator_set

from .owners import TeamsUser, match_portal_user

PERMISSION_FLAGS = {
    TeamsIntegration.Permission.NONE: {},
    TeamsIntegration.Permission.CO_VIEWERS: {"co_viewer": True},
    TeamsIntegration.Permission.CO_EDITORS: {"co_editor": True},
    TeamsIntegration.Permission.CO_PUBLISHERS: {"co_publisher": True},
    TeamsIntegration.Permission.CO_EDITORS_AND_PUBLISHERS: {"co_editor": True, "co_publisher": True},
}
ROLE_SETTING = {"coorganizer": "co_organizer_permission", "presenter": "presenter_permission",
                "producer": "presenter_permission", "attendee": "attendee_permission"}
FLAGS = ("co_viewer", "co_editor", "co_publisher")


def of_meeting(meeting) -> list:
    """The meeting's participants (not the organizer) as the ledger keeps them."""
    kept = []
    for participant in (meeting.get("participants") or {}).get("attendees") or []:
        identity = (participant.get("identity") or {}).get("user") or {}
        kept.append({"id": identity.get("id") or "", "upn": participant.get("upn") or "",
                     "name": identity.get("displayName") or "", "tenant": identity.get("tenantId") or "",
                     "role": participant.get("role") or "attendee"})
    return kept


def is_guest(integration, participant) -> bool:
    return (participant.get("tenant") or "").lower() != integration.tenant_id.lower()


def _role_flags(integration, participant) -> dict:
    setting_name = ROLE_SETTING.get(participant.get("role") or "attendee")
    return PERMISSION_FLAGS.get(getattr(integration, setting_name, "none"), {}) if setting_name else {}


def why_none(integration, participant) -> str:
    """Why the settings give this participant no permission; '' when they give some."""
    if not participant.get("id") or not participant.get("tenant"):
        return "anonymous, or of no known tenant"  # nobody to match safely
    if is_guest(integration, participant) and not integration.guest_permissions:
        return "a guest from another tenant (guests get none unless the integration gives them permissions)"
    if not _role_flags(integration, participant):
        return f"the integration gives {participant.get('role') or 'attendee'}s none"
    return ""


def flags_for(integration, participant) -> dict:
    """The permissions the settings give this participant ({} for none)."""
    return {} if why_none(integration, participant) else _role_flags(integration, participant)


def grant(integration, participants, entry, *, create=True):
    """Give each participant the permissions the settings give them (matched by the owner rules)."""
    for participant in participants:
        flags = flags_for(integration, participant)
        if not flags:
            continue
        user = match_portal_user(integration, teams_user(participant), create=create)
        if user is not None and user.pk != entry.owner_id:
            collaborator_grant(entry=entry, user=user, **flags)


def teams_user(participant):
    return TeamsUser(id=participant["id"], upn=participant.get("upn", ""), display_name=participant.get("name", ""))


FLAG_LABELS = {"co_viewer": "co-viewer", "co_editor": "co-editor", "co_publisher": "co-publisher"}


@dataclass
class Change:
    entry: object
    user: object
    before: dict  # {flag: bool}
    after: dict

    @staticmethod
    def _label(flags):
        return ", ".join(FLAG_LABELS[flag] for flag, on in flags.items() if on) or "—"

    @property
    def before_label(self):
        return self._label(self.before)

    @property
    def after_label(self):
        return self._label(self.after)


def plan(integration) -> list:
    """What the current settings would change on the recordings already in the portal: one Change per
    (entry, existing portal user) whose permissions differ. Nothing is written, nobody is created.

    Each person is looked up once however many meetings they attended, and the entries' collaborators
    are read in one query."""
    recordings = list(Recording.objects.filter(integration=integration, state=Recording.State.READY,
                                               entry__isnull=False).exclude(participants=[]).select_related("entry"))
    people = {}  # participant id -> portal user (or None)
    wanted = {}  # (entry id, user id) -> (entry, user, flags)
    for recording in recordings:
        entry = recording.entry
        for participant in recording.participants:
            if not participant.get("id") or not participant.get("tenant"):
                continue
            if participant["id"] not in people:
                people[participant["id"]] = match_portal_user(integration, teams_user(participant), create=False)
            user = people[participant["id"]]
            if user is None or user.pk == entry.owner_id:
                continue
            flags = flags_for(integration, participant)
            held = wanted.setdefault((entry.pk, user.pk), (entry, user, dict.fromkeys(FLAGS, False)))[2]
            for flag in FLAGS:
                held[flag] |= bool(flags.get(flag))
    current = {(row.entry_id, row.user_id): row for row in Collaborator.objects.filter(
        entry_id__in={entry_id for entry_id, _user_id in wanted}, user_id__in={user_id for _e, user_id in wanted})}
    changes = []
    for key, (entry, user, after) in wanted.items():
        row = current.get(key)
        before = {flag: bool(row and getattr(row, f"is_{flag}")) for flag in FLAGS}
        if before != after:
            changes.append(Change(entry=entry, user=user, before=before, after=after))
    return changes


def fingerprint(changes) -> str:
    """A short digest of a plan, so that what is applied is exactly what the administrator saw."""
    text = "|".join(f"{c.entry.pk}:{c.user.pk}:{sorted(c.after.items())}" for c in changes)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def apply(changes) -> int:
    """Set each participant's permissions as planned (a participant left with none is no longer a
    collaborator). Returns how many were changed."""
    with transaction.atomic():
        for change in changes:
            collaborator_set(entry=change.entry, user=change.user, **change.after)
    return len(changes)
