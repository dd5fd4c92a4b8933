"""Test connection: the checks an integration must pass, in the order the seed's set-up steps go."""
from dataclasses import dataclass, field
from datetime import timedelta
from datetime import timezone as dt_timezone

from django.utils import timezone

from integrations.microsoft.graph import AppTokenProvider, GraphClient, GraphError

from . import diagnosis
from .diagnosis import Problem, explain, missing_permission

_providers = {}


def token_provider_for(integration, *, fresh=False) -> AppTokenProvider:
    """One token provider per integration and secret in this process, so tokens are reused until they expire.

    `fresh` starts over: a new token, with the permissions granted now (msal would otherwise hand back the
    cached token, and replay a refusal for a minute)."""
    key = (integration.pk, integration.tenant_id, integration.client_id, integration.client_secret)
    provider = None if fresh else _providers.get(key)
    if provider is None:
        for stale in [k for k in _providers if k[0] == integration.pk]:
            del _providers[stale]
        provider = _providers[key] = AppTokenProvider(
            integration.tenant_id, integration.client_id, integration.client_secret)
    return provider


BILLING_CHECK = "Metered API billing (downloading recordings)"

# The sync does not hold a worker for a long Retry-After: it tries the recording again later.
SYNC_MAX_WAIT_SECONDS = 120


def graph_for(integration, **options) -> GraphClient:
    options.setdefault("max_wait", SYNC_MAX_WAIT_SECONDS)
    options.setdefault("max_tries", 8)  # background work: a throttled tenant is waited out, within max_wait
    return GraphClient(token_provider_for(integration), **options)


def required_permissions(integration):
    """The application permissions of the seed's Step 1, in the seed's order, and the one that opt-in and
    opt-out groups need to read their members."""
    permissions = [diagnosis.RECORDING_PERMISSION, diagnosis.MEETINGS_PERMISSION]
    if integration.transcription:
        permissions.append(diagnosis.TRANSCRIPT_PERMISSION)
    permissions.append(diagnosis.USERS_PERMISSION)
    if integration.upload_policy != integration.UploadPolicy.ALL:
        permissions.append(diagnosis.GROUPS_PERMISSION)  # beyond the seed's four: group members
    return permissions


# Broader permissions that include a required one.
INCLUDED_IN = {
    diagnosis.MEETINGS_PERMISSION: {"OnlineMeetings.ReadWrite.All"},
    diagnosis.USERS_PERMISSION: {"User.Read.All", "User.ReadWrite.All", "Directory.Read.All",
                                 "Directory.ReadWrite.All"},
    diagnosis.GROUPS_PERMISSION: {"Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All",
                                  "Directory.ReadWrite.All"},
}


def missing_permissions(integration, granted):
    return [permission for permission in required_permissions(integration)
            if permission not in granted and not INCLUDED_IN.get(permission, set()) & set(granted)]


@dataclass
class Check:
    label: str
    ok: bool | None  # None: not run (an earlier check failed, or nothing to check it with)
    detail: str = ""


@dataclass
class ConnectionReport:
    checks: list = field(default_factory=list)
    problem: Problem | None = None

    @property
    def ok(self):
        return self.problem is None

    @property
    def download_checked(self):
        """A recording was downloaded, so metered billing works."""
        return any(check.ok and check.label == BILLING_CHECK for check in self.checks)


def all_recordings_path(user_id, since):
    """getAllRecordings for meetings organised by `user_id` (Graph needs the organiser in the call)."""
    since = since.astimezone(dt_timezone.utc)  # the Z below says UTC: a local time would shift the window
    return (f"/users/{user_id}/onlineMeetings/getAllRecordings(meetingOrganizerUserId='{user_id}',"
            f"startDateTime={since:%Y-%m-%dT%H:%M:%SZ})")


def test_connection(integration, *, graph=None) -> ConnectionReport:
    """Sign in, compare the granted permissions, then make a call the access policy governs and,
    when a recording exists, one that metered billing governs. Stops at the first problem."""
    report = ConnectionReport()
    provider = token_provider_for(integration, fresh=True)
    graph = graph or GraphClient(provider, max_tries=2)

    def fail(label, problem):
        report.checks.append(Check(label, False, problem.message))
        report.problem = problem
        return report

    try:
        roles = set(provider.roles())
    except GraphError as error:
        return fail("Sign in with the application (client) secret", explain(error))
    report.checks.append(Check("Sign in with the application (client) secret", True))

    missing = missing_permissions(integration, roles)
    if missing:
        return fail("Application permissions (granted with admin consent)", missing_permission(missing[0]))
    report.checks.append(Check("Application permissions (granted with admin consent)", True,
                               ", ".join(required_permissions(integration))))

    try:
        users = graph.get("/users", **{"$top": "1", "$select": "id,userPrincipalName"}).get("value", [])
        user_id = users[0]["id"] if users else None
        recordings = []
        if user_id:
            since = timezone.now() - timedelta(days=30)
            recordings = graph.get(all_recordings_path(user_id, since), **{"$top": "1"}).get("value", [])
    except GraphError as error:
        return fail("Application access policy (reading meeting recordings)", explain(error))
    if not user_id:
        report.checks.append(Check("Application access policy (reading meeting recordings)", None,
                                   "The directory has no users to check with."))
        return report
    report.checks.append(Check("Application access policy (reading meeting recordings)", True))

    content_url = recordings[0].get("recordingContentUrl") if recordings else None
    if not content_url:
        report.checks.append(Check(BILLING_CHECK, None,
                                   "No recording of the last 30 days to check with; checked again at the first "
                                   "download."))
        return report
    try:
        with graph.stream(content_url, chunk_size=1024) as download:
            next(iter(download), None)
    except GraphError as error:
        return fail(BILLING_CHECK, explain(error))
    report.checks.append(Check(BILLING_CHECK, True))
    return report
