"""Who owns a recording in the portal: the seed's "Set owner for recordings" rules, step by step.

The sync and any preview call `resolve_owner`, so what an administrator is shown is what the sync does.
"""
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q

from integrations.teams.models import Recording, TeamsIntegration


@dataclass(frozen=True)
class TeamsUser:
    """A Microsoft Entra user as Graph describes it (id, userPrincipalName, displayName, mail)."""

    id: str
    upn: str
    display_name: str = ""
    mail: str = ""

    @classmethod
    def from_graph(cls, user: dict):
        return cls(id=user.get("id") or "", upn=user.get("userPrincipalName") or "",
                   display_name=user.get("displayName") or "", mail=user.get("mail") or "")


FOUND, CREATED, WOULD_CREATE, DEFAULT_USER, CANNOT = "found", "created", "would create", "default user", "cannot"
MISSING, AMBIGUOUS = "missing", "ambiguous"  # why the default user holds a recording (or none can)


@dataclass
class OwnerResolution:
    """The owner found (or None) and the steps that led there, in words an administrator reads.

    `outcome` says which rule decided: FOUND, CREATED (WOULD_CREATE in a dry run), DEFAULT_USER or CANNOT;
    `fallback` why no single portal user was found (MISSING or AMBIGUOUS), when that is what happened."""

    user: object = None
    steps: list = field(default_factory=list)
    created: bool = False
    problem: str = ""
    outcome: str = ""
    fallback: str = ""

    @property
    def went_to_default_user(self) -> bool:
        return self.outcome == DEFAULT_USER

    @property
    def rule(self) -> str:
        """The ledger's record of this outcome (a Recording.OwnerRule; NONE for a dry run's WOULD_CREATE)."""
        return LEDGER_RULES.get((self.outcome, self.fallback), Recording.OwnerRule.NONE)


LEDGER_RULES = {
    (FOUND, ""): Recording.OwnerRule.FOUND,
    (CREATED, ""): Recording.OwnerRule.CREATED,
    (DEFAULT_USER, MISSING): Recording.OwnerRule.DEFAULT_NO_MATCH,
    (DEFAULT_USER, AMBIGUOUS): Recording.OwnerRule.DEFAULT_AMBIGUOUS,
    (CANNOT, AMBIGUOUS): Recording.OwnerRule.AMBIGUOUS,
    (CANNOT, MISSING): Recording.OwnerRule.NO_MATCH,
    (CANNOT, ""): Recording.OwnerRule.CANNOT_CREATE,  # the user name the rules make is not a valid one
}


def organizer_of(recording) -> TeamsUser:
    """The Teams user whose recording a ledger row is, as the owner rules take it."""
    return TeamsUser(recording.organizer_id, recording.organizer_upn, recording.organizer_name,
                     recording.organizer_mail)


def portal_user_id(integration: TeamsIntegration, teams_user: TeamsUser) -> str:
    """The portal user ID the rules make of a Teams user: the UPN as is, without or with the postfix,
    or the Azure user ID."""
    if integration.user_id_source == TeamsIntegration.UserIdSource.AZURE_ID:
        return teams_user.id
    upn, postfix = teams_user.upn, integration.postfix
    if integration.upn_rule == TeamsIntegration.UpnRule.REMOVE_POSTFIX and postfix:
        if upn.lower().endswith(postfix.lower()):
            return upn[: -len(postfix)]
    if integration.upn_rule == TeamsIntegration.UpnRule.ADD_POSTFIX and postfix:
        if not upn.lower().endswith(postfix.lower()):
            return upn + postfix
    return upn


def find_portal_users(integration: TeamsIntegration, *, user_id: str, email: str):
    """Portal users matching by user ID, e-mail or both (case-insensitive), at most two."""
    by = integration.find_user_by
    conditions = Q(pk__in=[])
    if by in (TeamsIntegration.FindUserBy.USER_ID, TeamsIntegration.FindUserBy.BOTH) and user_id:
        conditions |= Q(username__iexact=user_id)
    if by in (TeamsIntegration.FindUserBy.EMAIL, TeamsIntegration.FindUserBy.BOTH) and email:
        conditions |= Q(email__iexact=email)
    return list(get_user_model().objects.filter(conditions).order_by("pk")[:2])


def email_of(teams_user: TeamsUser) -> str:
    """The Teams user's e-mail address: their mail, or their UPN when it looks like an address."""
    return teams_user.mail or (teams_user.upn if "@" in teams_user.upn else "")


def match_portal_user(integration: TeamsIntegration, teams_user: TeamsUser, *, create=True):
    """A meeting participant's portal user by the owner rules: found, or created when the rules say
    "create" (and `create`); None when none can be (or more than one matches). The default user never
    stands in for a participant: it would become a collaborator on every entry."""
    return participant_match(integration, teams_user, create=create)[0]


def participant_match(integration, teams_user: TeamsUser, *, create=True, dry_run=False):
    """match_portal_user with what happened: (user or None, FOUND / CREATED / WOULD_CREATE / CANNOT /
    AMBIGUOUS / MISSING). With `dry_run` nobody is created (WOULD_CREATE)."""
    user_id, email = portal_user_id(integration, teams_user), email_of(teams_user)
    matches = find_portal_users(integration, user_id=user_id, email=email)
    if len(matches) == 1:
        return matches[0], FOUND
    if matches:
        return None, AMBIGUOUS
    if create and integration.missing_user == TeamsIntegration.MissingUser.CREATE:
        result = _create(OwnerResolution(), user_id=user_id, email=email, teams_user=teams_user, dry_run=dry_run)
        return result.user, result.outcome
    return None, MISSING


def resolve_owner(integration: TeamsIntegration, teams_user: TeamsUser, *, dry_run=False) -> OwnerResolution:
    """Apply the integration's owner rules to a Teams user. With `dry_run` nothing is created."""
    result = OwnerResolution()
    user_id = portal_user_id(integration, teams_user)
    email = email_of(teams_user)
    source = ("Azure user ID" if integration.user_id_source == TeamsIntegration.UserIdSource.AZURE_ID
              else f"UPN {teams_user.upn!r}, {integration.get_upn_rule_display().lower()}")
    result.steps.append(f"Portal user ID {user_id!r} (from the {source}).")

    matches = find_portal_users(integration, user_id=user_id, email=email)
    looked_by = integration.get_find_user_by_display().lower()
    if len(matches) == 1:
        result.user, result.outcome = matches[0], FOUND
        result.steps.append(f"Found portal user {matches[0].get_username()!r} by {looked_by}.")
        return result
    if len(matches) > 1:  # at most two are fetched: "at least" these two
        result.steps.append(f"More than one portal user matches by {looked_by}: "
                            f"{', '.join(repr(user.get_username()) for user in matches)}.")
        return _fall_back(integration, result, reason=AMBIGUOUS)
    result.steps.append(f"No portal user matches by {looked_by}.")
    if integration.missing_user == TeamsIntegration.MissingUser.CREATE:
        return _create(result, user_id=user_id, email=email, teams_user=teams_user, dry_run=dry_run)
    return _fall_back(integration, result, reason=MISSING)


def _fall_back(integration, result, *, reason):
    result.fallback = reason
    if integration.default_user_id:
        result.user, result.outcome = integration.default_user, DEFAULT_USER
        name = result.user.get_username()
        if reason == AMBIGUOUS:
            result.steps.append(f"Using the default user {name!r}: with more than one match the recording is not "
                                f"given to any of them.")
        else:
            result.steps.append(f"Using the default user {name!r}: the rule “In case the user doesn't exist” is "
                                f"“Use default user”.")
        return result
    result.outcome = CANNOT
    if reason == AMBIGUOUS:
        result.problem = "More than one portal user matches the recording's owner, and no default user is set."
    else:
        result.problem = "No portal user matches the recording's owner, and no default user is set."
    return result


def _create(result, *, user_id, email, teams_user, dry_run):
    User = get_user_model()
    first_name, _space, last_name = teams_user.display_name.partition(" ")
    candidate = User(username=user_id, email=email, first_name=first_name[:150], last_name=last_name[:150])
    try:
        candidate.clean_fields(exclude=["password"])
    except ValidationError:
        result.outcome = CANNOT
        result.problem = (f"The portal cannot create a user named {user_id!r} (user names may hold letters, digits "
                          f"and @ . + - _ only, up to 150 characters).")
        return result
    if dry_run:
        result.outcome = WOULD_CREATE
        result.steps.append(f"Would create portal user {user_id!r}.")
        return result
    candidate.set_unusable_password()
    try:
        with transaction.atomic():
            candidate.save()
    except IntegrityError:  # created meanwhile by a concurrent sync
        candidate = User.objects.get(username=user_id)
    else:
        result.created = True
    result.user, result.outcome = candidate, CREATED
    result.steps.append(f"Created portal user {user_id!r} from the Teams user {teams_user.display_name!r}.")
    return result
