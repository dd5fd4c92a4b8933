"""One place that turns what Microsoft answers into the administrator's message.

The seed's own wording is used wherever the seed has a message; the others are as plain as those.
"""
from dataclasses import dataclass

from integrations.microsoft.errors import GraphError, GraphForbidden, GraphThrottled, GraphUnreachable, TokenError

RECORDING_PERMISSION = "OnlineMeetingRecording.Read.All"
TRANSCRIPT_PERMISSION = "OnlineMeetingTranscript.Read.All"
MEETINGS_PERMISSION = "OnlineMeetings.Read.All"
USERS_PERMISSION = "User.ReadBasic.All"
GROUPS_PERMISSION = "GroupMember.Read.All"

POLICY_MISSING = "Application policy is missing for the configured application registration."
ACCESS_DENIED = "Access to the Microsoft API was denied."
SECRET_EXPIRED = "The provided application secret has expired."
SECRET_INVALID = "The provided application secret is invalid."
APP_DISABLED = "Application is disabled"
APP_NOT_FOUND = (
    "The application (client) ID was not found in this directory (tenant). Copy both IDs again from the "
    "Overview tab of the app registration, and check that the app is registered in this tenant."
)
TENANT_NOT_FOUND = "The directory (tenant) ID was not found. Copy it again from the Overview tab of the app registration."
BILLING_MISSING = (
    "Metered API billing is not set up for the application, so Microsoft refuses to hand out recordings. "
    "Link the app to an Azure subscription (Step 4 - Enable metered API on Microsoft Graph)."
)
UNREACHABLE = "Microsoft could not be reached. The integration tries again by itself."
THROTTLED = "Microsoft kept throttling the requests for too long. The integration tries again by itself later."



class Code:
    """What kind of problem it is (stored with the marker as `last_error_code`). The portal decides by the code
    (the tip, whether a success clears the marker); the message is for people."""

    POLICY_MISSING, ACCESS_DENIED = "policy_missing", "access_denied"
    SECRET_EXPIRED, SECRET_INVALID = "secret_expired", "secret_invalid"
    APP_DISABLED, APP_NOT_FOUND, TENANT_NOT_FOUND = "app_disabled", "app_not_found", "tenant_not_found"
    BILLING_MISSING, PERMISSION_MISSING = "billing_missing", "permission_missing"
    UNREACHABLE, THROTTLED, GRAPH_FAILED = "unreachable", "throttled", "graph_failed"


MESSAGES = {
    Code.POLICY_MISSING: POLICY_MISSING, Code.ACCESS_DENIED: ACCESS_DENIED, Code.SECRET_EXPIRED: SECRET_EXPIRED,
    Code.SECRET_INVALID: SECRET_INVALID, Code.APP_DISABLED: APP_DISABLED, Code.APP_NOT_FOUND: APP_NOT_FOUND,
    Code.TENANT_NOT_FOUND: TENANT_NOT_FOUND, Code.BILLING_MISSING: BILLING_MISSING, Code.UNREACHABLE: UNREACHABLE,
    Code.THROTTLED: THROTTLED,
}

# AADSTS codes of the identity platform (https://login.microsoftonline.com/error).
IDENTITY_CODES = {
    7000222: Code.SECRET_EXPIRED,
    7000215: Code.SECRET_INVALID,
    7000112: Code.APP_DISABLED,
    700016: Code.APP_NOT_FOUND,
    90002: Code.TENANT_NOT_FOUND,
    900023: Code.TENANT_NOT_FOUND,
}


PERMISSIONS_TIP = "Double-check the permissions of Step 1 - Request permissions, and that admin consent was granted."
TROUBLESHOOTING = {
    Code.PERMISSION_MISSING: PERMISSIONS_TIP,
    Code.POLICY_MISSING: "This likely means the application access policy wasn't created or granted correctly. "
                    "Check Step 3 - Configure an application access policy.",
    Code.ACCESS_DENIED: "This means we failed to access the Microsoft API using the configured credentials.",
    Code.SECRET_EXPIRED: "Create a new client secret in Azure (Certificates & secrets) and enter it with "
                    "'Update application (client) secret'.",
    Code.SECRET_INVALID: "This probably means the application secret was deleted in the Azure console. Create a new "
                    "client secret and enter it with 'Update application (client) secret'.",
    Code.APP_DISABLED: "The Azure app you registered for the Teams integration is currently disabled. Ask your Azure "
                  "administrator to enable the app in your organization's Azure tenant, then test the connection "
                  "again.",
    Code.BILLING_MISSING: "Follow Step 4 - Enable metered API on Microsoft Graph, then test the connection again.",
}


def troubleshooting(code: str) -> str:
    """The seed's troubleshooting tip for a kind of problem (a Code; '' when there is none)."""
    return TROUBLESHOOTING.get(code, "")


@dataclass(frozen=True)
class Problem:
    message: str
    transient: bool = False  # passes by itself (unreachable, throttled); a configuration problem does not
    code: str = ""  # a Code

    @classmethod
    def of(cls, code, *, transient=False):
        """The problem a Code names, in its fixed words."""
        return cls(MESSAGES[code], transient=transient, code=code)

    @property
    def tip(self) -> str:
        return troubleshooting(self.code)

    def __str__(self):
        return self.message


def missing_permission(permission: str) -> Problem:
    return Problem(f"The provided application credentials are missing the '{permission}' permission.",
                   code=Code.PERMISSION_MISSING)


def explain(error: GraphError) -> Problem:
    """The administrator's message for an error Microsoft answered (or for Microsoft not answering)."""
    if isinstance(error, GraphUnreachable):
        return Problem.of(Code.UNREACHABLE, transient=True)
    if isinstance(error, GraphThrottled):
        return Problem.of(Code.THROTTLED, transient=True)
    for code in error.error_codes or ():
        if code in IDENTITY_CODES:
            return Problem.of(IDENTITY_CODES[code])
    if isinstance(error, TokenError):
        return Problem.of(Code.ACCESS_DENIED)
    message = (error.message or "").lower()
    # Recognised by its message: the code has been seen both as "Forbidden" and as "General".
    if "application access policy" in message:
        return Problem.of(Code.POLICY_MISSING)
    if error.status == 402 or (error.code or "").lower() == "paymentrequired":
        return Problem.of(Code.BILLING_MISSING)
    if error.status is not None and error.status >= 500:
        return Problem(f"Microsoft Graph failed to answer (HTTP {error.status}). The integration tries again "
                       f"by itself.", transient=True, code=Code.GRAPH_FAILED)
    return Problem.of(Code.ACCESS_DENIED)


def explain_transcript_error(error: GraphError) -> Problem:
    """As `explain`, for a transcript request: a refusal (403) that is not about the access policy means the
    transcript permission is missing (the recording, read with the other permissions, came through)."""
    problem = explain(error)
    if isinstance(error, GraphForbidden) and problem.code != Code.POLICY_MISSING:
        return missing_permission(TRANSCRIPT_PERMISSION)
    return problem


NOTIFICATION_ADDRESS_UNREACHABLE = (
    "Microsoft could not validate the portal's notification address ({url}): it must be reachable from the "
    "internet over HTTPS and answer Microsoft's validation request. The integration polls until it can.")


def explain_subscription_error(error: GraphError, *, permission: str, notification_url: str) -> Problem:
    """As `explain`, for creating or renewing a change-notification subscription: Microsoft could not validate
    our notification address (its POST with ?validationToken= failed or timed out), or a refusal (403) that is
    not about the access policy means the resource's `permission` is missing."""
    problem = explain(error)
    if error.status == 400 and "validation request" in (error.message or "").lower():
        return Problem(NOTIFICATION_ADDRESS_UNREACHABLE.format(url=notification_url))
    if isinstance(error, GraphForbidden) and problem.code != Code.POLICY_MISSING:
        return missing_permission(permission)
    return problem
