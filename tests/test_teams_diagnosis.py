"""Every administrator message of the Teams integration, produced end to end by a Microsoft answer.

Each test saves a TeamsIntegration, fakes Microsoft with `responses` (identity platform errors with
their AADSTS codes, Graph's ``{"error": {"code", "message", "innerError"}}``, bodies shaped like the
documented ones) and runs the connection test the admin runs (``services.integration_check``, which
calls ``integrations.teams.connection.test_connection``). It then checks the administrator's message
word for word (the seed's wording where the seed has one), the list marker (``last_error`` /
``last_error_at``) and that the next successful test clears it.
"""
import json
import re
from urllib.parse import parse_qs, unquote

import pytest
import requests
import responses

from integrations.teams import services
from integrations.teams.models import TeamsIntegration
from integrations.teams import api, connection, diagnosis
from tests.microsoft import (
    CLIENT_ID,
    GRAPH_URL,
    LOGIN_URL,
    TENANT_ID,
    UNKNOWN_TENANT_ID,
    app_token_payload,
    load,
    make_jwt,
)
from tests.teams_fakes import SEED, needs_the_seed

# The seed's troubleshooting table, copied letter for letter. A changed constant fails these tests.
SEED_MISSING_RECORDING = (
    "The provided application credentials are missing the 'OnlineMeetingRecording.Read.All' permission.")
SEED_MISSING_TRANSCRIPT = (
    "The provided application credentials are missing the 'OnlineMeetingTranscript.Read.All' permission.")
SEED_POLICY_MISSING = "Application policy is missing for the configured application registration."
SEED_ACCESS_DENIED = "Access to the Microsoft API was denied."
SEED_SECRET_EXPIRED = "The provided application secret has expired."
SEED_SECRET_INVALID = "The provided application secret is invalid."
SEED_APP_DISABLED = "Application is disabled"

# Step 1 of the seed: the four application permissions.
SEED_ROLES = [
    "OnlineMeetingRecording.Read.All",
    "OnlineMeetings.Read.All",
    "OnlineMeetingTranscript.Read.All",
    "User.ReadBasic.All",
]

SECRET = "Zk88Q~diagnosis.Secret_value-0123456789abcdef"
ORGANIZER_ID = "8b081ef6-4792-4def-b2c9-c363a1bf41d5"
MEETING_ID = ("MSoxYzkxNjVmZi1hZTkyLTQ5YWYtODliNC00MTU1NTRhMzZhNTEqMCoqMTk6bWVldGluZ19PVEJsT1RjeE16QXROemMwWVMwMFl6"
              "QTFMVGhpWldFdFpUaGtNMlk0WkRKaFlUQTFAdGhyZWFkLnYy")
RECORDING_ID = (
    "VjIjIzExYzkxNjVmZi1hZTkyLTQ5YWYtODliNC00MTU1NTRhMzZhNTFhMWQyODZkYi02MTQ5LTRiM2QtOTVhZC0yM2M5ZTFiZjY4"
    "NTMwNDAwMDAwMDgyMDBFMDAwNzRDNUI3MTAxQTgyRTAwODA3ZTcwYzAyM2U4MGEwOWVmN2ZmZDkwMTAwMDAwMDAwMDAwMDAwMDAx"
    "MDAwMDAwMDI3N2Q3NzZjYmNmMjQ5NGNiNDk0NDExZGE3YzRhMmM1IyM3YTM2NDRjYi1mMDA3LTRjMDAtOWJiMy1jMTUzYzE4ODY4NGY=")
USERS_URL = f"{GRAPH_URL}/v1.0/users"
RECORDINGS_URL = re.compile(
    re.escape(f"{GRAPH_URL}/v1.0/users/{ORGANIZER_ID}/onlineMeetings/getAllRecordings(") + r".*")
CONTENT_URL = f"{GRAPH_URL}/v1.0/users/{ORGANIZER_ID}/onlineMeetings/{MEETING_ID}/recordings/{RECORDING_ID}/content"

# GET /users?$top=1&$select=id,userPrincipalName
USERS_PAGE = {
    "@odata.context": f"{GRAPH_URL}/v1.0/$metadata#users(id,userPrincipalName)",
    "@odata.nextLink": f"{GRAPH_URL}/v1.0/users?$top=1&$select=id,userPrincipalName&$skiptoken=RFNwdAIAAQAAAB06"
                       "TWVnYW5CQGNvbnRvc28ub25taWNyb3NvZnQuY29tKVVzZXJfOGIwODFlZjYtNDc5Mi00ZGVmLWIyYzktYzM2M2ExYmY0"
                       "MWQ1uQAAAAAAAAAAAAA",
    "value": [{"id": ORGANIZER_ID, "userPrincipalName": "MeganB@contoso.onmicrosoft.com"}],
}
# onlineMeeting: getAllRecordings (v1.0), as in Microsoft's example response.
RECORDINGS_PAGE = {
    "@odata.context": f"{GRAPH_URL}/v1.0/$metadata#Collection(callRecording)",
    "@odata.count": 1,
    "value": [{
        "@odata.type": "#microsoft.graph.callRecording",
        "id": RECORDING_ID,
        "meetingId": MEETING_ID,
        "callId": "af630fe0-04d3-4559-8cf9-91fe45e36296",
        "contentCorrelationId": "e87c8bbe-5a2b-4fd2-8ec0-0d1e2b8d4b51",
        "createdDateTime": "2024-06-10T08:59:34.7411768Z",
        "endDateTime": "2024-06-10T09:41:12.1234567Z",
        "recordingContentUrl": CONTENT_URL,
        "meetingOrganizer": {
            "application": None,
            "device": None,
            "user": {
                "@odata.type": "#microsoft.graph.teamworkUserIdentity",
                "id": ORGANIZER_ID,
                "displayName": None,
                "userIdentityType": "aadUser",
                "tenantId": TENANT_ID,
            },
        },
    }],
}
NO_RECORDINGS_PAGE = {"@odata.context": f"{GRAPH_URL}/v1.0/$metadata#Collection(callRecording)", "@odata.count": 0,
                      "value": []}
INNER_ERROR = {"date": "2024-06-10T09:30:02", "request-id": "b7a3e6c1-2f0d-4c1e-9a8b-5d4c3b2a1f09",
               "client-request-id": "b7a3e6c1-2f0d-4c1e-9a8b-5d4c3b2a1f09"}


def graph_error(code, message):
    return {"error": {"code": code, "message": message, "innerError": dict(INNER_ERROR)}}


# 402 answers of the metered meeting content APIs ("Payment-related errors" in Microsoft's Teams licensing page).
PAYMENT_REQUIRED_NO_SUBSCRIPTION = graph_error(
    "PaymentRequired",
    "To call this API, the app must be associated with an Azure subscription, see "
    "https://aka.ms/teams-api-payment-requirements for details.")
PAYMENT_REQUIRED_EVALUATION_EXCEEDED = graph_error(
    "PaymentRequired",
    "Evaluation capacity for the month has exceeded. To continue beyond the evalution limits complete billing "
    "onboarding, see https://aka.ms/teams-api-payment-requirements for details.")
# A Graph call the app has no permission for.
AUTHORIZATION_DENIED = graph_error("Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
FORBIDDEN = graph_error("Forbidden", "Access is denied to the requested resource.")
# Conditional Access for workload identities refusing the token: an AADSTS code the diagnosis has no own message for.
BLOCKED_BY_CONDITIONAL_ACCESS = {
    "error": "invalid_grant",
    "error_description": "AADSTS53003: Access has been blocked by Conditional Access policies. The access policy does "
                         "not allow token issuance.\r\nTrace ID: 4d3115e2-773f-413d-ac57-9a69025d2e00\r\nCorrelation "
                         "ID: 37810be3-b3dd-4f6a-9e87-5bab1e14d910\r\nTimestamp: 2024-06-10 09:12:36Z",
    "error_codes": [53003],
    "timestamp": "2024-06-10 09:12:36Z",
    "trace_id": "4d3115e2-773f-413d-ac57-9a69025d2e00",
    "correlation_id": "37810be3-b3dd-4f6a-9e87-5bab1e14d910",
    "error_uri": f"{LOGIN_URL}/error?code=53003",
}


pytestmark = pytest.mark.usefixtures("microsoft_endpoints")


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def make_integration(db):
    def make(**fields):
        values = {"name": "Contoso recordings", "tenant_id": TENANT_ID, "client_id": CLIENT_ID,
                  "client_secret": SECRET, **fields}
        return TeamsIntegration.objects.create(**values)

    return make


@pytest.fixture
def integration(make_integration):
    return make_integration()


# --- Microsoft, faked -----------------------------------------------------------------------------


def openid_configuration_url(tenant_id=TENANT_ID):
    return f"{LOGIN_URL}/{tenant_id}/v2.0/.well-known/openid-configuration"


def token_url(tenant_id=TENANT_ID):
    return f"{LOGIN_URL}/{tenant_id}/oauth2/v2.0/token"


def token_body(roles, tenant_id=TENANT_ID):
    body = load("token_success.json")
    body["access_token"] = make_jwt(app_token_payload(
        roles=list(roles), tid=tenant_id, iss=f"https://sts.windows.net/{tenant_id}/",
        idp=f"https://sts.windows.net/{tenant_id}/"))
    return body


def fake_sign_in(roles=SEED_ROLES, *, tenant_id=TENANT_ID, status=200, body=None):
    """The tenant's OpenID configuration (msal reads it first), then the client credentials token."""
    configuration = json.loads(json.dumps(load("openid_configuration.json")).replace(TENANT_ID, tenant_id))
    responses.get(openid_configuration_url(tenant_id), json=configuration)
    return responses.post(token_url(tenant_id), status=status,
                          json=token_body(roles, tenant_id) if body is None else body)


def fake_graph(*, recordings=RECORDINGS_PAGE, content_status=200):
    responses.get(USERS_URL, json=USERS_PAGE)
    responses.get(RECORDINGS_URL, json=recordings)
    if content_status == 200:
        responses.get(CONTENT_URL, body=b"\x00\x00\x00\x20ftypisom" + b"\x00" * 4096,
                      content_type="application/octet-stream")


def fake_success(**graph):
    fake_sign_in()
    fake_graph(**graph)


def check(integration):
    """What the admin's Test connection / Enable run."""
    return services.integration_check(integration=integration)


def assert_reported(integration, report, message, *, transient=False):
    assert report.problem is not None, [(c.label, c.ok, c.detail) for c in report.checks]
    assert report.problem.message == message
    assert report.problem.transient is transient
    assert not report.ok
    failed = [c for c in report.checks if c.ok is False]
    assert len(failed) == 1 and failed[0].detail == message  # the check that failed says why, in the same words
    assert report.checks[-1] is failed[0]  # and the checks stop there
    stored = TeamsIntegration.objects.get(pk=integration.pk)
    assert stored.last_error == message
    assert stored.last_error_at is not None
    return stored


def assert_next_success_clears(integration, **graph):
    """The administrator fixes the problem; the next successful check clears the marker.

    The next check starts without this process's token providers, as in the background worker or
    after the cached token expired: whether an immediate re-test in the same process asks Microsoft
    again is the subject of the two `..._is_seen_by_the_next_test` tests below.
    """
    failed_at = TeamsIntegration.objects.get(pk=integration.pk).last_error_at
    api._providers.clear()
    responses.reset()
    fake_sign_in(tenant_id=integration.tenant_id)
    fake_graph(**graph)
    report = check(integration)
    assert report.problem is None, report.problem and report.problem.message
    stored = TeamsIntegration.objects.get(pk=integration.pk)
    assert stored.last_error == ""
    assert stored.last_success_at is not None and stored.last_success_at >= failed_at


# --- the seed's words ---------------------------------------------------------------------------


def test_the_diagnosis_constants_are_the_seeds_words():
    assert diagnosis.missing_permission("OnlineMeetingRecording.Read.All").message == SEED_MISSING_RECORDING
    assert diagnosis.missing_permission("OnlineMeetingTranscript.Read.All").message == SEED_MISSING_TRANSCRIPT
    assert diagnosis.POLICY_MISSING == SEED_POLICY_MISSING
    assert diagnosis.ACCESS_DENIED == SEED_ACCESS_DENIED
    assert diagnosis.SECRET_EXPIRED == SEED_SECRET_EXPIRED
    assert diagnosis.SECRET_INVALID == SEED_SECRET_INVALID
    assert diagnosis.APP_DISABLED == SEED_APP_DISABLED
    assert [diagnosis.RECORDING_PERMISSION, diagnosis.MEETINGS_PERMISSION, diagnosis.TRANSCRIPT_PERMISSION,
            diagnosis.USERS_PERMISSION] == SEED_ROLES


@needs_the_seed
def test_the_literals_of_these_tests_are_in_the_seed():
    seed = SEED.read_text()
    for message in (SEED_MISSING_RECORDING, SEED_MISSING_TRANSCRIPT, SEED_POLICY_MISSING, SEED_ACCESS_DENIED,
                    SEED_SECRET_EXPIRED, SEED_SECRET_INVALID, SEED_APP_DISABLED):
        assert f"<i>{message}</i>" in seed
    for role in SEED_ROLES:
        assert f"  - {role}" in seed or f". {role}" in seed


# --- permissions (the token's roles claim) --------------------------------------------------------


@responses.activate
def test_missing_recording_permission(integration):
    token_call = fake_sign_in(roles=[r for r in SEED_ROLES if r != "OnlineMeetingRecording.Read.All"])

    report = check(integration)

    assert_reported(integration, report, SEED_MISSING_RECORDING)
    assert report.problem.message == ("The provided application credentials are missing the "
                                      "'OnlineMeetingRecording.Read.All' permission.")
    form = parse_qs(token_call.calls[0].request.body)
    assert form["grant_type"] == ["client_credentials"]
    assert form["client_id"] == [CLIENT_ID]
    assert form["client_secret"] == [SECRET]  # the stored secret, decrypted
    assert form["scope"] == [f"{GRAPH_URL}/.default"]
    assert not any(call.request.url.startswith(GRAPH_URL) for call in responses.calls)  # stopped before Graph
    assert_next_success_clears(integration)


@responses.activate
def test_missing_transcript_permission_when_transcription_is_on(make_integration):
    integration = make_integration(transcription=True)
    fake_sign_in(roles=[r for r in SEED_ROLES if r != "OnlineMeetingTranscript.Read.All"])

    report = check(integration)

    assert_reported(integration, report, SEED_MISSING_TRANSCRIPT)
    assert report.problem.message == ("The provided application credentials are missing the "
                                      "'OnlineMeetingTranscript.Read.All' permission.")
    assert_next_success_clears(integration)


@responses.activate
def test_transcript_permission_is_not_required_when_transcription_is_off(make_integration):
    integration = make_integration(transcription=False)
    fake_sign_in(roles=[r for r in SEED_ROLES if r != "OnlineMeetingTranscript.Read.All"])
    fake_graph()

    report = check(integration)

    assert report.problem is None, report.problem and report.problem.message
    assert "OnlineMeetingTranscript.Read.All" not in " ".join(c.detail for c in report.checks)
    assert TeamsIntegration.objects.get(pk=integration.pk).last_error == ""


@responses.activate
@pytest.mark.parametrize("permission", ["OnlineMeetings.Read.All", "User.ReadBasic.All"])
def test_missing_meetings_or_users_permission(integration, permission):
    fake_sign_in(roles=[r for r in SEED_ROLES if r != permission])

    report = check(integration)

    assert_reported(integration, report,
                    f"The provided application credentials are missing the '{permission}' permission.")
    assert_next_success_clears(integration)


@responses.activate
def test_permission_granted_after_a_failed_test_is_seen_by_the_next_test(integration):
    # The administrator sees the missing permission, grants it (with admin consent) in Azure and tests
    # again at once: Microsoft issues a token carrying the new role only when asked for a new token.
    token_call = fake_sign_in(roles=[r for r in SEED_ROLES if r != "OnlineMeetingRecording.Read.All"])
    assert_reported(integration, check(integration), SEED_MISSING_RECORDING)
    assert token_call.call_count == 1

    responses.reset()
    token_call = fake_sign_in()
    fake_graph()
    report = check(integration)

    assert token_call.call_count == 1, "the second test reused the token issued before the permission was granted"
    assert report.problem is None, report.problem and report.problem.message


@responses.activate
def test_application_enabled_after_a_failed_test_is_seen_by_the_next_test(integration):
    # "Ask your Azure administrator to enable the app ..., then try setting up the integration again."
    fake_sign_in(status=400, body=load("token_error_7000112.json"))
    assert_reported(integration, check(integration), SEED_APP_DISABLED)

    responses.reset()
    token_call = fake_sign_in()
    fake_graph()
    report = check(integration)

    assert token_call.call_count == 1, "the second test did not ask Microsoft: the first 400 answer was replayed"
    assert report.problem is None, report.problem and report.problem.message


# --- application access policy -------------------------------------------------------------------


@responses.activate
@pytest.mark.parametrize("fixture", [
    "graph_error_forbidden_policy.json",  # seen in practice: code "General"
    "graph_error_forbidden_policy_documented.json",  # in Microsoft's documentation: code "Forbidden"
])
def test_application_access_policy_missing(integration, fixture):
    fake_sign_in()
    responses.get(USERS_URL, json=USERS_PAGE)
    recordings = responses.get(RECORDINGS_URL, status=403, json=load(fixture))

    report = check(integration)

    assert_reported(integration, report, SEED_POLICY_MISSING)
    assert report.problem.message == "Application policy is missing for the configured application registration."
    url = unquote(recordings.calls[0].request.url)
    assert f"meetingOrganizerUserId='{ORGANIZER_ID}'" in url  # getAllRecordings needs the organiser
    assert_next_success_clears(integration)


# --- access denied ---------------------------------------------------------------------------------


@responses.activate
def test_access_denied_by_graph_authorization_request_denied(integration):
    fake_sign_in()
    responses.get(USERS_URL, status=403, json=AUTHORIZATION_DENIED)

    report = check(integration)

    assert_reported(integration, report, SEED_ACCESS_DENIED)
    assert report.problem.message == "Access to the Microsoft API was denied."
    assert_next_success_clears(integration)


@responses.activate
def test_access_denied_by_a_generic_403_on_recordings(integration):
    fake_sign_in()
    responses.get(USERS_URL, json=USERS_PAGE)
    responses.get(RECORDINGS_URL, status=403, json=FORBIDDEN)

    report = check(integration)

    assert_reported(integration, report, "Access to the Microsoft API was denied.")
    assert_next_success_clears(integration)


@responses.activate
def test_access_denied_when_graph_keeps_refusing_the_token(integration):
    token_call = fake_sign_in()
    users = responses.get(USERS_URL, status=401, json=load("graph_error_unauthorized.json"))

    report = check(integration)

    assert_reported(integration, report, "Access to the Microsoft API was denied.")
    assert users.call_count == 2 and token_call.call_count == 2  # one fresh token was tried
    assert_next_success_clears(integration)


@responses.activate
def test_access_denied_when_the_identity_platform_refuses_for_another_reason(integration):
    fake_sign_in(status=400, body=BLOCKED_BY_CONDITIONAL_ACCESS)

    report = check(integration)

    assert_reported(integration, report, "Access to the Microsoft API was denied.")
    assert_next_success_clears(integration)


# --- the identity platform's AADSTS codes ---------------------------------------------------------


@responses.activate
def test_secret_expired(integration):
    fake_sign_in(status=401, body=load("token_error_7000222.json"))
    report = check(integration)
    assert_reported(integration, report, SEED_SECRET_EXPIRED)
    assert report.checks[0].ok is False  # signing in is what failed
    assert_next_success_clears(integration)


@responses.activate
def test_secret_invalid(integration):
    fake_sign_in(status=401, body=load("token_error_7000215.json"))
    report = check(integration)
    assert_reported(integration, report, SEED_SECRET_INVALID)
    assert report.checks[0].ok is False  # signing in is what failed
    assert_next_success_clears(integration)


@responses.activate
def test_application_disabled(integration):
    fake_sign_in(status=400, body=load("token_error_7000112.json"))
    report = check(integration)
    assert_reported(integration, report, SEED_APP_DISABLED)
    assert report.checks[0].ok is False  # signing in is what failed
    assert_next_success_clears(integration)


@responses.activate
def test_application_not_found_in_the_tenant(integration):
    fake_sign_in(status=400, body=load("token_error_700016.json"))

    report = check(integration)

    stored = assert_reported(integration, report, diagnosis.APP_NOT_FOUND)
    assert "application (client) ID was not found" in stored.last_error
    assert "AADSTS" not in stored.last_error  # the administrator's words, not Microsoft's
    assert_next_success_clears(integration)


@responses.activate
def test_tenant_not_found_at_discovery(make_integration):
    integration = make_integration(tenant_id=UNKNOWN_TENANT_ID)
    # Microsoft answers the OpenID discovery of an unknown tenant with 400 and AADSTS90002: no token request follows.
    responses.get(openid_configuration_url(UNKNOWN_TENANT_ID), status=400, json=load("token_error_90002.json"))

    report = check(integration)

    stored = assert_reported(integration, report, diagnosis.TENANT_NOT_FOUND)
    assert "directory (tenant) ID was not found" in stored.last_error
    assert len(responses.calls) == 1
    assert_next_success_clears(integration)  # e.g. a tenant that had not propagated yet


# --- metered API billing ---------------------------------------------------------------------------


@responses.activate
@pytest.mark.parametrize("body", [PAYMENT_REQUIRED_NO_SUBSCRIPTION, PAYMENT_REQUIRED_EVALUATION_EXCEEDED],
                         ids=["no-azure-subscription", "evaluation-capacity-exceeded"])
def test_metered_billing_missing_on_the_recording_download(integration, body):
    fake_sign_in()
    fake_graph(content_status=None)
    content = responses.get(CONTENT_URL, status=402, json=body)

    report = check(integration)

    stored = assert_reported(integration, report, diagnosis.BILLING_MISSING)
    assert "Step 4 - Enable metered API on Microsoft Graph" in stored.last_error
    assert content.call_count == 1
    assert content.calls[0].request.headers["Authorization"].startswith("Bearer ")
    assert [c.ok for c in report.checks] == [True, True, True, False]  # listing passed, the download did not
    assert_next_success_clears(integration)


# --- transient problems ---------------------------------------------------------------------------


@responses.activate
def test_microsoft_unreachable_at_sign_in(integration):
    responses.get(openid_configuration_url(), body=requests.ConnectionError("Name or service not known"))

    report = check(integration)

    stored = assert_reported(integration, report, diagnosis.UNREACHABLE, transient=True)
    assert stored.last_error == "Microsoft could not be reached. The integration tries again by itself."
    assert_next_success_clears(integration)


@responses.activate
def test_microsoft_graph_unreachable(integration, sleeps):
    fake_sign_in()
    users = responses.get(USERS_URL, body=requests.ConnectionError("Connection reset by peer"))

    report = check(integration)

    assert_reported(integration, report, diagnosis.UNREACHABLE, transient=True)
    assert users.call_count == len(sleeps) + 1  # retried, without really waiting
    assert_next_success_clears(integration)


@responses.activate
def test_throttled_for_too_long(integration, sleeps):
    fake_sign_in()
    users = responses.get(USERS_URL, status=429, json=load("graph_error_throttled.json"), headers={"Retry-After": "30"})

    report = check(integration)

    stored = assert_reported(integration, report, diagnosis.THROTTLED, transient=True)
    assert stored.last_error == ("Microsoft kept throttling the requests for too long. The integration tries again "
                                 "by itself later.")
    assert users.call_count >= 2  # retried...
    assert sleeps == [30] * (users.call_count - 1)  # ...after Microsoft's Retry-After, every time
    assert_next_success_clears(integration)


@responses.activate
def test_throttled_at_sign_in(integration):
    # The identity platform throttles token requests with 429, Retry-After and a plain-text body.
    responses.get(openid_configuration_url(), json=load("openid_configuration.json"))
    responses.post(token_url(), status=429, body="Too Many Requests", content_type="text/plain",
                   headers={"Retry-After": "60"})

    report = check(integration)

    assert_reported(integration, report, diagnosis.THROTTLED, transient=True)
    assert_next_success_clears(integration)


@responses.activate
def test_throttled_with_503_service_unavailable(integration, sleeps):
    fake_sign_in()
    responses.get(USERS_URL, json=USERS_PAGE)
    responses.get(RECORDINGS_URL, status=503, headers={"Retry-After": "5"},
                  json=graph_error("serviceNotAvailable", "The service is temporarily unavailable."))

    report = check(integration)

    assert_reported(integration, report, diagnosis.THROTTLED, transient=True)
    assert sleeps and set(sleeps) == {5}


# --- a passing test ------------------------------------------------------------------------------


@responses.activate
def test_passing_test_connection_reports_each_check_passed(make_integration):
    integration = make_integration(transcription=True)
    fake_success()

    report = connection.test_connection(integration)

    assert report.ok and report.problem is None
    assert [c.ok for c in report.checks] == [True, True, True, True]
    labels = " ".join(c.label for c in report.checks).lower()
    for word in ("sign in", "permission", "policy", "billing"):
        assert word in labels
    permissions = report.checks[1].detail
    assert all(role in permissions for role in SEED_ROLES)
    # The billing check downloaded (the start of) the listed recording, with the token.
    content_calls = [c for c in responses.calls if c.request.url == CONTENT_URL]
    assert len(content_calls) == 1


@responses.activate
def test_billing_is_not_checked_when_there_is_no_recording(integration):
    fake_success(recordings=NO_RECORDINGS_PAGE)

    report = check(integration)

    assert report.ok
    assert [c.ok for c in report.checks] == [True, True, True, None]
    assert "billing" in report.checks[-1].label.lower()
    assert report.checks[-1].detail  # says why it was not checked
    assert not any(c.request.url == CONTENT_URL for c in responses.calls)
    stored = TeamsIntegration.objects.get(pk=integration.pk)
    assert stored.last_error == "" and stored.last_success_at is not None


@responses.activate
def test_one_token_serves_every_graph_call_of_a_test(integration):
    token_call = fake_sign_in()
    fake_graph()
    assert check(integration).ok
    assert token_call.call_count == 1  # one token for the users, recordings and content calls
    for call in responses.calls:
        if call.request.url.startswith(GRAPH_URL):
            assert call.request.headers["Authorization"] == f"Bearer {token_body(SEED_ROLES)['access_token']}"


@responses.activate
@pytest.mark.parametrize("policy", ["opt_in", "opt_out"])
def test_group_policies_need_the_group_member_permission(make_integration, policy):
    integration = make_integration(upload_policy=policy)
    fake_sign_in(roles=SEED_ROLES)

    report = check(integration)

    assert report.problem.message == ("The provided application credentials are missing the "
                                      "'GroupMember.Read.All' permission.")


@responses.activate
def test_a_broader_group_permission_is_enough_for_group_policies(make_integration):
    integration = make_integration(upload_policy="opt_in")
    fake_sign_in(roles=[*SEED_ROLES, "Group.Read.All"])
    fake_graph()

    report = check(integration)

    assert report.problem is None, report.problem
