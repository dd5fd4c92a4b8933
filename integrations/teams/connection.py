"""Test connection: the checks an integration must pass, in the order the seed's set-up steps go."""
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from integrations.microsoft.errors import GraphError
from integrations.microsoft.graph import GraphClient

from . import api, diagnosis
from .diagnosis import Problem, explain, missing_permission

BILLING_CHECK = "Metered API billing (downloading recordings)"


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


def test_connection(integration, *, graph=None) -> ConnectionReport:
    """Sign in, compare the granted permissions, then make a call the access policy governs and,
    when a recording exists, one that metered billing governs. Stops at the first problem."""
    report = ConnectionReport()
    provider = api.token_provider_for(integration, fresh=True)
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
        users = api.users_page(graph, **{"$top": "1", "$select": "id,userPrincipalName"})
        user_id = users[0]["id"] if users else None
        recordings = []
        if user_id:
            since = timezone.now() - timedelta(days=30)
            recordings = api.all_recordings_page(graph, user_id, since=since, **{"$top": "1"})
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
        api.recording_first_bytes(graph, content_url)
    except GraphError as error:
        return fail(BILLING_CHECK, explain(error))
    report.checks.append(Check(BILLING_CHECK, True))
    return report
