"""The local Microsoft simulator (tests/simulator) answers the portal's real msal and Graph client over HTTPS the
way Microsoft does: identity errors, paging, batching, meetings only, metered content, policies, throttling,
cut downloads, OneDrive, and the sign-in flows. No database: each test runs in a few milliseconds."""
import base64
import hashlib
import html
import json
import re
import secrets
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from unittest.mock import ANY
from urllib.parse import parse_qs, parse_qsl, urlsplit

import jwt
import msal
import pytest
import requests

from integrations.microsoft.errors import GraphError, GraphForbidden, GraphPaymentRequired, GraphUnreachable, TokenError
from integrations.microsoft.graph import AppTokenProvider, GraphClient
from integrations.teams.api import all_recordings_path
from tests.microsoft import CLIENT_ID, UNKNOWN_TENANT_ID, load
from tests.simulator import TEAMS_ROLES, Faults, sign_in
from tests.simulator.model import BLOCK, now

REPO = Path(__file__).resolve().parent.parent
VTT = "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n<v Ann Lee>Welcome.</v>\n"
REDIRECT = "https://portal.example.edu/onedrive/index/blank-page"


@pytest.fixture
def app(sim):
    return sim.add_app()


@pytest.fixture
def ann(sim):
    return sim.add_user("ann.lee@contoso.edu", "Ann Lee")


def graph_for(sim, app, secret=None, **options):
    return GraphClient(AppTokenProvider(sim.tenant_id, app.client_id, secret or app.secret), **options)


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def public_key(sim, token):
    keys = requests.get(f"{sim.url}/{sim.tenant_id}/discovery/v2.0/keys").json()["keys"]
    return jwt.PyJWK(next(key for key in keys if key["kid"] == jwt.get_unverified_header(token)["kid"])).key


# -- identity platform -----------------------------------------------------------------------------------------


def test_msal_gets_an_rs256_token_signed_with_the_published_keys(sim, app):
    token = AppTokenProvider(sim.tenant_id, app.client_id, app.secret)()
    requests_made = [(entry.method, entry.path, entry.status, entry.client) for entry in sim.log]

    claims = jwt.decode(token, public_key(sim, token), algorithms=["RS256"], audience="https://graph.microsoft.com")
    assert (claims["roles"], claims["tid"], claims["appid"], claims["idtyp"]) == (
        TEAMS_ROLES, sim.tenant_id, app.client_id, "app")
    assert claims["exp"] > time.time() + 3000
    assert requests_made == [
        ("GET", f"/{sim.tenant_id}/v2.0/.well-known/openid-configuration", 200, ""),
        ("POST", f"/{sim.tenant_id}/oauth2/v2.0/token", 200, app.client_id)]
    configuration = requests.get(f"{sim.url}/{sim.tenant_id}/v2.0/.well-known/openid-configuration").json()
    assert set(configuration) == set(load("openid_configuration.json"))


def wrong_secret(sim, app):
    return sim.tenant_id, app.client_id, "Sim8Q~a-wrong-secret"


def expired_secret(sim, app):
    sim.expire_secret(app)
    return sim.tenant_id, app.client_id, app.secret


def disabled_app(sim, app):
    app.enabled = False
    return sim.tenant_id, app.client_id, app.secret


def unknown_app(sim, app):
    return sim.tenant_id, CLIENT_ID, app.secret


def unknown_tenant(sim, app):
    return UNKNOWN_TENANT_ID, app.client_id, app.secret


IDENTITY_ERRORS = {7000215: (401, wrong_secret), 7000222: (401, expired_secret), 7000112: (400, disabled_app),
                   700016: (400, unknown_app), 90002: (400, unknown_tenant)}  # AADSTS code: (HTTP status, cause)


@pytest.mark.parametrize("code", IDENTITY_ERRORS)
def test_identity_errors_come_in_microsofts_words(sim, code):
    app = sim.add_app(client_id=CLIENT_ID if code != 700016 else None, name="MediaSpace Teams ingest")
    status, breakage = IDENTITY_ERRORS[code]
    tenant, client_id, secret = breakage(sim, app)

    with pytest.raises(TokenError) as refused:
        AppTokenProvider(tenant, client_id, secret)()

    assert refused.value.error_codes == [code]
    assert sim.log[-1].status == status
    body = (requests.get(f"{sim.url}/{tenant}/v2.0/.well-known/openid-configuration") if code == 90002 else
            requests.post(f"{sim.url}/{tenant}/oauth2/v2.0/token", data={
                "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret,
                "scope": "https://graph.microsoft.com/.default"})).json()
    fixture = load(f"token_error_{code}.json")
    assert set(body) == set(fixture) and body["error"] == fixture["error"] and body["error_codes"] == [code]
    assert body["error_description"].split("\r\n")[0] == fixture["error_description"].split("\r\n")[0]


def test_graph_refuses_missing_malformed_and_expired_tokens(sim, app):
    users = f"{sim.url}/v1.0/users"
    answers = [requests.get(users), requests.get(users, headers=bearer("not-a-jwt")),
               requests.get(users, headers=bearer(sim.app_token(app, lifetime=-60)))]

    assert [answer.status_code for answer in answers] == [401, 401, 401]
    assert [answer.json()["error"]["message"] for answer in answers] == [
        "Access token is empty.", "CompactToken parsing failed with error code: 80049217",
        "Access token has expired or is not yet valid."]
    fixture = load("graph_error_unauthorized.json")["error"]
    error = answers[2].json()["error"]
    assert (set(error), set(error["innerError"]), error["code"]) == (
        set(fixture), set(fixture["innerError"]), fixture["code"])
    assert [entry.authorized for entry in sim.log] == [False, True, True]


def test_an_expired_secret_stops_the_running_tokens_and_a_new_one_resumes(sim, app, ann):
    graph = graph_for(sim, app)
    assert graph.get("/users")["value"]

    sim.expire_secret(app)
    with pytest.raises(TokenError) as refused:
        graph.get("/users")  # the cached token gets 401, msal asks again: the secret has expired
    assert refused.value.error_codes == [7000222]

    assert graph_for(sim, app, secret=sim.new_secret(app)).get("/users")["value"]


# -- directory ---------------------------------------------------------------------------------------------


def test_users_come_in_pages_along_next_link_keeping_select(sim, app):
    for index in range(250):
        sim.add_user(f"user{index}@contoso.edu", f"User {index}")
    sim.add_user("stranger@fabrikam.example", tenant=sim.add_tenant())

    users = list(graph_for(sim, app).iter_pages("/users", **{"$top": "100", "$select": "id,userPrincipalName"}))

    assert len(users) == 250 and set(users[0]) == {"id", "userPrincipalName"}
    pages = sim.graph_requests()
    assert len(pages) == 3 and parse_qs(pages[2].query)["$select"] == ["id,userPrincipalName"]


def test_transitive_members_flatten_nested_groups(sim, app, ann):
    bob, cat = sim.add_user("bob@contoso.edu"), sim.add_user("cat@contoso.edu")
    inner = sim.add_group("Inner", [cat])
    staff = sim.add_group("Staff", [ann, sim.add_group("Middle", [bob, inner, ann])])
    app.roles.append("GroupMember.Read.All")
    graph = graph_for(sim, app)

    users = list(graph.iter_pages(f"/groups/{staff.id}/transitiveMembers/microsoft.graph.user", **{"$top": "2"}))
    everyone = list(graph.iter_pages(f"/groups/{staff.id}/transitiveMembers"))

    assert [user["userPrincipalName"] for user in users] == [ann.upn, bob.upn, cat.upn]
    assert [item["@odata.type"] for item in everyone] == ["#microsoft.graph.user", "#microsoft.graph.group",
                                                         "#microsoft.graph.user", "#microsoft.graph.group",
                                                         "#microsoft.graph.user"]
    app.roles.remove("GroupMember.Read.All")
    with pytest.raises(GraphForbidden) as refused:
        graph_for(sim, app).get(f"/groups/{staff.id}/transitiveMembers")
    assert refused.value.code == "Authorization_RequestDenied"


def test_a_batch_answers_each_request_like_the_single_call(sim, app, ann):
    sim.add_meeting(ann, "Physics", recordings=[10])
    path = all_recordings_path(ann.id, now() - timedelta(days=1))
    graph = graph_for(sim, app)

    answer = graph.post("/$batch", {"requests": [
        {"id": "1", "method": "GET", "url": path}, {"id": "2", "method": "GET", "url": "users?$top=1"},
        {"id": "3", "method": "GET", "url": "/users/nobody@contoso.edu"}]})

    by_id = {item["id"]: item for item in answer["responses"]}
    assert by_id["1"]["body"]["value"] == graph.get(path)["value"] and len(by_id["1"]["body"]["value"]) == 1
    assert by_id["2"]["body"]["value"][0]["id"] == ann.id
    assert by_id["3"]["status"] == 404 and by_id["3"]["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert [entry.path for entry in sim.graph_requests()] == ["/v1.0/$batch", "/v1.0" + path]
    with pytest.raises(GraphError) as refused:
        graph.post("/$batch", {"requests": [{"id": str(n), "method": "GET", "url": "/users"} for n in range(21)]})
    assert refused.value.status == 400


# -- Teams -------------------------------------------------------------------------------------------------


def test_check_member_groups_answers_which_groups_hold_the_user_nested_included(sim, ann):
    app = sim.add_app(roles=TEAMS_ROLES + ["GroupMember.Read.All"])
    bob = sim.add_user("bob.ray@contoso.edu")
    physics = sim.add_group("Physics", [ann])
    science = sim.add_group("Science", [physics])
    sim.add_group("Chemistry", [bob])
    graph = graph_for(sim, app)
    asked = [group.id for group in sim.groups] + [str(uuid.uuid4())]

    assert sorted(graph.post(f"/users/{ann.id}/checkMemberGroups", {"groupIds": asked})["value"]) == sorted(
        [physics.id, science.id])
    with pytest.raises(GraphError):
        graph.post(f"/users/{ann.id}/checkMemberGroups", {"groupIds": asked * 7})  # more than 20


def test_get_all_recordings_lists_the_organizers_meetings_not_calls(sim, app, ann):
    meeting = sim.add_meeting(ann, "Physics", recordings=[100, 200])
    sim.add_meeting(ann, "Quick call", recordings=[300], ad_hoc=True)
    sim.add_meeting(ann, "Last month", now() - timedelta(days=30), recordings=[50])
    sim.add_meeting(sim.add_user("bob@contoso.edu"), "Bob's", recordings=[10])
    graph = graph_for(sim, app)

    listed = list(graph.iter_pages(all_recordings_path(ann.id, now() - timedelta(days=7)), **{"$top": "1"}))

    assert [item["id"] for item in listed] == [recording.id for recording in meeting.recordings]
    assert set(listed[0]) == {"@odata.type", "id", "meetingId", "callId", "contentCorrelationId", "createdDateTime",
                              "endDateTime", "recordingContentUrl", "meetingOrganizer"}
    assert listed[0]["meetingOrganizer"]["user"]["id"] == ann.id
    assert listed[0]["recordingContentUrl"] == sim.content_url(meeting.recordings[0])
    assert len(sim.graph_requests()) == 2


def test_delta_of_get_all_recordings_brings_only_what_was_added(sim, app, ann):
    sim.add_meeting(ann, "Before", recordings=[10, 20])
    graph = graph_for(sim, app)
    path = all_recordings_path(ann.id, now() - timedelta(days=7)) + "/delta"

    first = graph.iter_pages(path, **{"$top": "1"})
    assert len(list(first)) == 2 and "$deltatoken" in parse_qs(urlsplit(first.delta_link).query)
    later = sim.add_meeting(ann, "After", recordings=[30])
    second = graph.iter_pages(first.delta_link)

    assert [item["id"] for item in second] == [later.recordings[0].id]
    assert list(graph.iter_pages(second.delta_link)) == []


def test_meeting_participants_and_the_coorganizer_role_behind_prefer(sim, app, ann):
    bob, cat = sim.add_user("bob@contoso.edu", "Bob Ray"), sim.add_user("cat@contoso.edu", "Cat Li")
    guest = sim.add_guest("gus@fabrikam.example", "Gus")
    meeting = sim.add_meeting(ann, "Physics", participants=[(bob, "coorganizer"), (cat, "presenter"),
                                                            (guest, "attendee")], recordings=[10])
    path = f"/users/{ann.id}/onlineMeetings/{meeting.id}"

    with_prefer = graph_for(sim, app).get(path)  # GraphClient sends Prefer: include-unknown-enum-members
    without = requests.get(f"{sim.url}/v1.0{path}", headers=bearer(sim.app_token(app))).json()

    participants = with_prefer["participants"]
    assert (participants["organizer"]["upn"], participants["organizer"]["role"]) == (ann.upn, "presenter")
    assert [(item["upn"], item["role"]) for item in participants["attendees"]] == [
        (bob.upn, "coorganizer"), (cat.upn, "presenter"), (guest.upn, "attendee")]
    assert participants["attendees"][2]["identity"]["user"]["tenantId"] != sim.tenant_id
    assert without["participants"]["attendees"][0]["role"] == "unknownFutureValue"
    assert (with_prefer["subject"], with_prefer["id"]) == ("Physics", meeting.id)


def test_recording_content_honours_range(sim, app, ann):
    recording = sim.add_meeting(ann, recordings=[3 * BLOCK + 17]).recordings[0]
    graph = graph_for(sim, app)

    with graph.stream(sim.content_url(recording)) as whole:
        data = b"".join(whole)
    with graph.stream(sim.content_url(recording), start=100_000) as rest:
        tail = b"".join(rest)

    assert hashlib.sha256(data).hexdigest() == recording.sha256() and len(data) == recording.size
    assert (rest.status_code, rest.resumed, rest.headers["Content-Range"]) == (
        206, True, f"bytes 100000-{recording.size - 1}/{recording.size}")
    assert tail == data[100_000:]
    assert sim.log[-1].range == "bytes=100000-"


def test_a_redirected_download_is_fetched_without_the_bearer_token(sim, app, ann):
    sim.redirect_recordings = True
    recording = sim.add_meeting(ann, recordings=[BLOCK]).recordings[0]

    with graph_for(sim, app).stream(sim.content_url(recording), start=10) as download:
        data = b"".join(download)

    assert data == b"".join(recording.content(10))
    content = [entry for entry in sim.log if entry.path.endswith("/content") or entry.path.startswith("/download/")]
    assert [(entry.status, entry.authorized) for entry in content] == [(302, True), (206, False)]
    location = requests.get(sim.content_url(recording), headers=bearer(sim.app_token(app)),
                            allow_redirects=False).headers["Location"]
    assert urlsplit(location).hostname == "localhost"  # another host than Graph's, as Microsoft's are
    assert requests.get(location, headers=bearer(sim.app_token(app))).status_code == 401  # a leaked token fails


def test_content_is_402_once_the_evaluation_allowance_is_spent(sim, ann):
    app = sim.add_app(billing=False, evaluation_allowance=1)
    recordings = sim.add_meeting(ann, recordings=[10, 20]).recordings
    graph = graph_for(sim, app)

    with graph.stream(sim.content_url(recordings[0])) as download:
        assert b"".join(download)
    with pytest.raises(GraphPaymentRequired) as refused:
        graph.stream(sim.content_url(recordings[1]))

    assert (refused.value.status, refused.value.code) == (402, "PaymentRequired")
    assert len(list(graph.iter_pages(all_recordings_path(ann.id, now() - timedelta(days=1))))) == 2  # not metered


def test_a_missing_access_policy_is_403_general_and_a_missing_role_403(sim, ann):
    meeting = sim.add_meeting(ann, recordings=[10])
    no_policy = graph_for(sim, sim.add_app(access_policy=False))
    no_role = graph_for(sim, sim.add_app(roles=["User.ReadBasic.All"]))
    no_users = graph_for(sim, sim.add_app(roles=["OnlineMeetingRecording.Read.All"]))

    with pytest.raises(GraphForbidden) as policy:
        no_policy.get(f"/users/{ann.id}/onlineMeetings/{meeting.id}")
    with pytest.raises(GraphForbidden) as role:
        no_role.get(all_recordings_path(ann.id, now() - timedelta(days=1)))
    with pytest.raises(GraphForbidden) as directory:
        no_users.get("/users")

    fixture = load("graph_error_forbidden_policy.json")["error"]
    assert (policy.value.code, policy.value.message) == (fixture["code"], fixture["message"])
    assert role.value.code == "Forbidden" and "OnlineMeetingRecording.Read.All" in role.value.message
    assert directory.value.code == "Authorization_RequestDenied"


def test_transcripts_are_listed_by_get_all_transcripts_and_served_as_webvtt(sim, app, ann):
    meeting = sim.add_meeting(ann, "Physics", recordings=[10], transcript=VTT)
    graph = graph_for(sim, app)

    [listed] = graph.iter_pages(f"/users/{ann.id}/onlineMeetings/getAllTranscripts(meetingOrganizerUserId="
                                f"'{ann.id}',startDateTime={now() - timedelta(days=1):%Y-%m-%dT%H:%M:%SZ})")
    with graph.stream(listed["transcriptContentUrl"] + "?$format=text/vtt") as download:
        text = b"".join(download).decode()

    assert listed["contentCorrelationId"] == meeting.recordings[0].correlation_id
    assert (text, download.headers["Content-Type"]) == (VTT, "text/vtt")


# -- faults ------------------------------------------------------------------------------------------------


def test_throttling_is_obeyed_by_the_graph_client_and_logged(sim, app, ann):
    sim.faults.throttle_next, sim.faults.retry_after = 1, 1
    graph = graph_for(sim, app)  # sleeps for real

    assert graph.get("/users")["value"]

    throttled, retried = sim.graph_requests()
    assert (throttled.status in (429, 503), throttled.retry_after, retried.status) == (True, 1, 200)
    assert retried.time - throttled.time >= 1 and sim.early_requests() == []


def test_a_throttle_ratio_is_deterministic_and_every_call_gets_through(sim, app, ann):
    sim.faults.throttle_ratio, sim.faults.retry_after = 0.5, 3
    slept = []
    graph = graph_for(sim, app, sleep=slept.append, max_tries=20)

    for _ in range(10):
        assert graph.get("/users")["value"]

    throttled = [entry for entry in sim.graph_requests() if entry.status in (429, 503)]
    assert throttled and slept == [3] * len(throttled)
    assert {entry.status for entry in throttled} == {429, 503}
    first, second = Faults(seed=7), Faults(seed=7)
    first.throttle_ratio = second.throttle_ratio = 0.5
    assert [first.throttle() for _ in range(20)] == [second.throttle() for _ in range(20)]


def test_a_cut_download_raises_graph_unreachable_and_the_next_one_arrives_whole(sim, app, ann):
    recording = sim.add_meeting(ann, recordings=[4 * BLOCK]).recordings[0]
    sim.faults.cut_next = 1
    graph = graph_for(sim, app)

    with pytest.raises(GraphUnreachable):
        with graph.stream(sim.content_url(recording)) as download:
            b"".join(download)
    with graph.stream(sim.content_url(recording)) as download:
        assert len(b"".join(download)) == recording.size


def test_a_gibibyte_recording_costs_nothing_until_read(sim, app, ann):
    recording = sim.add_meeting(ann, recordings=[1 << 30]).recordings[0]

    with graph_for(sim, app).stream(sim.content_url(recording), start=(1 << 30) - 10) as end:
        assert b"".join(end) == b"".join(recording.content((1 << 30) - 10))
    assert b"".join(recording.content(0, 15)) != b"".join(recording.content(BLOCK, BLOCK + 15))  # no period


# -- OneDrive ------------------------------------------------------------------------------------------------


def test_onedrive_children_search_item_and_content(sim, ann):
    videos = sim.add_folder(ann, "Videos")
    lectures = [sim.add_file(ann, f"Videos/Lecture {n}.mp4", size=1000 + n) for n in range(5)]
    sim.add_file(ann, "Notes.pdf", 300)
    graph = GraphClient(lambda: sim.user_token(ann))

    root = list(graph.iter_pages("/me/drive/root/children"))
    inside = list(graph.iter_pages(f"/me/drive/items/{videos.id}/children", **{"$top": "2"}))
    found = list(graph.iter_pages("/me/drive/root/search(q='lecture 3')"))
    item = graph.get(f"/me/drive/items/{lectures[3].id}")
    with graph.stream(f"/me/drive/items/{lectures[3].id}/content", start=5) as download:
        data = b"".join(download)

    assert [(entry["name"], entry.get("folder"), entry.get("file")) for entry in root] == [
        ("Videos", {"childCount": 5}, None), ("Notes.pdf", None, {"mimeType": "application/pdf"})]
    assert [entry["name"] for entry in inside] == [f"Lecture {n}.mp4" for n in range(5)]
    assert inside[0]["parentReference"] == {"driveType": "business", "driveId": ann.drive_id, "id": videos.id,
                                            "path": "/drive/root:/Videos"}
    assert [entry["id"] for entry in found] == [lectures[3].id]
    assert (item["size"], item["file"]["mimeType"], item["lastModifiedDateTime"][-1]) == (1003, "video/mp4", "Z")
    assert data == b"".join(lectures[3].content(5))
    content = [entry for entry in sim.log if entry.path.endswith("/content") or entry.path.startswith("/download/")]
    assert [(entry.status, entry.authorized, entry.client) for entry in content] == [
        (302, True, ann.upn), (206, False, "")]
    assert graph.get("/me")["userPrincipalName"] == ann.upn


def test_onedrive_refuses_an_application_token_and_unknown_items(sim, app, ann):
    with pytest.raises(GraphError) as refused:
        graph_for(sim, app).get("/me/drive/root/children")
    with pytest.raises(GraphError) as missing:
        GraphClient(lambda: sim.user_token(ann)).get("/me/drive/items/01NOPE")

    assert (refused.value.status, refused.value.code) == (400, "BadRequest")
    fixture = load("graph_error_item_not_found.json")["error"]
    assert (missing.value.status, missing.value.code, missing.value.message) == (
        404, fixture["code"], fixture["message"])


# -- sign-in flows -----------------------------------------------------------------------------------------


def authorize_url(sim, app, **params):
    query = {"client_id": app.client_id, "redirect_uri": REDIRECT, "state": "s-123", "nonce": "n-456",
             "scope": "openid profile User.Read Files.Read.All", **params}
    return requests.Request("GET", f"{sim.url}/organizations/oauth2/v2.0/authorize", params=query).prepare().url


def test_the_implicit_flow_returns_signed_tokens_in_the_fragment(sim, ann):
    portal = sim.add_app(secret=False, redirect_uris=[REDIRECT])

    page = requests.get(authorize_url(sim, portal, response_type="id_token token"))
    answer = sign_in(page.url, ann.upn)

    assert "Ann Lee (ann.lee@contoso.edu)" in page.text and 'name="cancel"' in page.text
    assert answer.status_code == 302 and answer.headers["Location"].startswith(REDIRECT + "#")
    fields = dict(parse_qsl(urlsplit(answer.headers["Location"]).fragment))
    claims = jwt.decode(fields["id_token"], public_key(sim, fields["id_token"]), algorithms=["RS256"],
                        audience=portal.client_id, issuer=f"{sim.url}/{sim.tenant_id}/v2.0")
    assert (claims["nonce"], claims["preferred_username"], fields["state"], fields["token_type"]) == (
        "n-456", ann.upn, "s-123", "Bearer")
    assert claims["exp"] > time.time()
    assert GraphClient(lambda: fields["access_token"]).get("/me")["id"] == ann.id


def test_cancel_and_an_unregistered_redirect_uri(sim, ann):
    portal = sim.add_app(secret=False, redirect_uris=[REDIRECT])

    cancelled = sign_in(authorize_url(sim, portal, response_type="id_token token"), ann.upn, cancel="1")
    mismatch = requests.get(authorize_url(sim, portal, response_type="id_token token",
                                          redirect_uri="https://elsewhere.example/blank-page"), allow_redirects=False)

    fields = dict(parse_qsl(urlsplit(cancelled.headers["Location"]).fragment))
    assert (fields["error"], fields["state"]) == ("access_denied", "s-123")
    assert fields["error_description"].startswith("AADSTS65004: ")
    assert mismatch.status_code == 400 and "Location" not in mismatch.headers
    assert "AADSTS50011: The redirect URI 'https://elsewhere.example/blank-page' specified" in mismatch.text


def test_the_code_flow_checks_pkce_and_refreshes(sim, ann):
    web = sim.add_app(redirect_uris=[REDIRECT])
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    scope = "openid offline_access User.Read Files.Read.All"
    answer = sign_in(authorize_url(sim, web, response_type="code", code_challenge=challenge,
                                   code_challenge_method="S256", scope=scope), ann.upn)
    fields = dict(parse_qsl(urlsplit(answer.headers["Location"]).query))
    token_url = f"{sim.url}/organizations/oauth2/v2.0/token"
    redeem = {"grant_type": "authorization_code", "client_id": web.client_id, "client_secret": web.secret,
              "code": fields["code"], "redirect_uri": REDIRECT}

    wrong = requests.post(token_url, data={**redeem, "code_verifier": "x" * 43})
    tokens = requests.post(token_url, data={**redeem, "code_verifier": verifier}).json()
    again = requests.post(token_url, data={**redeem, "code_verifier": verifier})
    refreshed = requests.post(token_url, data={"grant_type": "refresh_token", "client_id": web.client_id,
                                               "client_secret": web.secret, "refresh_token": tokens["refresh_token"]})

    assert (fields["state"], wrong.status_code, wrong.json()["error_codes"]) == ("s-123", 400, [50148])
    assert set(tokens) >= {"access_token", "refresh_token", "id_token", "expires_in", "scope", "token_type"}
    assert jwt.decode(tokens["id_token"], options={"verify_signature": False})["nonce"] == "n-456"
    assert again.json()["error_codes"] == [54005]
    assert GraphClient(lambda: refreshed.json()["access_token"]).get("/me")["userPrincipalName"] == ann.upn
    sim.sign_out(ann)
    assert requests.post(token_url, data={"grant_type": "refresh_token", "client_id": web.client_id,
                                          "client_secret": web.secret, "refresh_token": tokens["refresh_token"]}
                         ).json()["error_codes"] == [50173]
    assert requests.get(f"{sim.url}/v1.0/me", headers=bearer(tokens["access_token"])).status_code == 401


def test_msal_completes_the_code_flow_against_the_simulator(sim, ann):
    web = sim.add_app(redirect_uris=[REDIRECT])
    cca = msal.ConfidentialClientApplication(web.client_id, client_credential=web.secret,
                                             authority=f"{sim.url}/organizations", instance_discovery=False)
    flow = cca.initiate_auth_code_flow(["Files.Read.All"], redirect_uri=REDIRECT, response_mode="form_post")

    answer = sign_in(flow["auth_uri"], ann.upn)  # a page whose form posts the code to the redirect URI
    posted = {name: html.unescape(value) for name, value in re.findall(r'name="([^"]+)" value="([^"]*)"', answer.text)}
    result = cca.acquire_token_by_auth_code_flow(flow, posted)

    assert f'action="{REDIRECT}"' in answer.text and set(posted) == {"code", "state", "session_state"}
    assert "access_token" in result, result
    assert result["id_token_claims"]["preferred_username"] == ann.upn


# -- change notifications ----------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # the postman's 16 threads connect at once


class Subscriber:
    """A notification endpoint on loopback http: answers the validation handshake (or not, by `validation`), and
    keeps what it was sent; `answers` lists statuses to give change deliveries in turn (then 202), `slow` seconds
    to sleep before answering them."""

    def __init__(self):
        subscriber = self
        self.validations, self.received, self.answers, self.slow = [], [], [], 0.0
        self.validation = "echo"  # echo | wrong | json | 500

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                token = parse_qs(urlsplit(self.path).query).get("validationToken")
                if token:
                    subscriber.validations.append((urlsplit(self.path).path, token[0], self.headers["Content-Type"]))
                    status, kind, text = {"echo": (200, "text/plain", token[0]),
                                          "wrong": (200, "text/plain", "something else"),
                                          "json": (200, "application/json", json.dumps(token[0])),
                                          "500": (500, "text/plain", token[0])}[subscriber.validation]
                else:
                    time.sleep(subscriber.slow)
                    subscriber.received.append((self.path, json.loads(body)))
                    status, kind, text = subscriber.answers.pop(0) if subscriber.answers else 202, "text/plain", ""
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(text.encode())))
                    self.end_headers()
                    self.wfile.write(text.encode())
                except OSError:  # a caller that gave up waiting
                    pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def subscriber():
    subscriber = Subscriber()
    yield subscriber
    subscriber.close()


def subscribe(sim, app, subscriber, *, resource="communications/onlineMeetings/getAllRecordings", minutes=4000,
              lifecycle=True, **body):
    expires = now() + timedelta(minutes=minutes)
    return requests.post(f"{sim.url}/v1.0/subscriptions", headers=bearer(sim.app_token(app)), json={
        "changeType": "created", "notificationUrl": f"{subscriber.url}/teams/notifications/", "resource": resource,
        "expirationDateTime": expires.isoformat().replace("+00:00", "Z"), "clientState": "s3cret-state",
        **({"lifecycleNotificationUrl": f"{subscriber.url}/teams/notifications/lifecycle/"} if lifecycle else {}),
        **body})


def test_a_subscription_is_created_after_the_validation_handshake_of_both_endpoints(sim, app, subscriber):
    answer = subscribe(sim, app, subscriber)

    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert {name: body[name] for name in ("resource", "applicationId", "changeType", "clientState",
                                          "notificationUrl", "lifecycleNotificationUrl")} == {
        "resource": "communications/onlineMeetings/getAllRecordings", "applicationId": app.client_id,
        "changeType": "created", "clientState": "s3cret-state",
        "notificationUrl": f"{subscriber.url}/teams/notifications/",
        "lifecycleNotificationUrl": f"{subscriber.url}/teams/notifications/lifecycle/"}
    assert sim.find_subscription(body["id"]).expires.isoformat()[:19] == body["expirationDateTime"][:19]
    [(first, token, kind), (second, token_again, _)] = subscriber.validations  # the decoded token, as a string
    assert (first, second) == ("/teams/notifications/", "/teams/notifications/lifecycle/")
    assert token.startswith("Validation: Testing client application reachability") and token != token_again
    assert kind.startswith("text/plain")
    assert [(item.kind, item.outcome) for item in sim.deliveries] == [("validation", "delivered")] * 2


@pytest.mark.parametrize("validation", ["wrong", "json", "500"])
def test_an_endpoint_that_fails_the_validation_request_gets_no_subscription(sim, app, subscriber, validation):
    subscriber.validation = validation

    answer = subscribe(sim, app, subscriber)

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "ValidationError"
    assert answer.json()["error"]["message"] == ("Subscription validation request failed. Notification endpoint "
                                                 "must respond with 200 OK to validation request.")
    assert sim.subscriptions == {}


def test_an_endpoint_nobody_answers_gets_no_subscription(sim, app, subscriber):
    subscriber.close()
    assert subscribe(sim, app, subscriber).status_code == 400
    assert sim.subscriptions == {}


@pytest.mark.parametrize("change, status, code, message", [
    ({"resource": "users"}, 400, "InvalidRequest", "Resource 'users' is not supported"),
    ({"minutes": 4330}, 400, "ExtensionError", "Subscription expiration can only be 4320 minutes in the future."),
    ({"minutes": 61, "lifecycle": False}, 400, "ValidationError",
     "lifecycleNotificationUrl is required for subscription creation on this resource when the expirationDateTime "
     "value exceeds 1 hour."),
    ({"changeType": "updated"}, 400, "InvalidRequest", "The change type 'updated' is not supported"),
    ({"resource": "communications/onlineMeetings/getAllTranscripts", "roles": ["OnlineMeetingRecording.Read.All"]},
     403, "Forbidden", "Application is not authorized to perform this operation."),
    ({"notificationUrl": "http://portal.example.edu/teams/notifications/"}, 400, "InvalidRequest",
     "The notification URL must be an absolute HTTPS URL."),
])
def test_a_subscription_is_refused_in_graphs_words(sim, subscriber, change, status, code, message):
    app = sim.add_app(roles=change.pop("roles", TEAMS_ROLES))

    answer = subscribe(sim, app, subscriber, **change)

    assert answer.status_code == status
    assert (answer.json()["error"]["code"], answer.json()["error"]["message"][:len(message)]) == (code, message)
    assert sim.subscriptions == {} and subscriber.validations == []


def test_a_subscription_within_the_hour_needs_no_lifecycle_url(sim, app, subscriber):
    assert subscribe(sim, app, subscriber, minutes=59, lifecycle=False).status_code == 201


def test_a_subscription_is_read_renewed_reauthorized_and_deleted_and_unknown_or_expired_is_404(sim, app, subscriber):
    headers = bearer(sim.app_token(app))
    created = subscribe(sim, app, subscriber, minutes=60).json()
    url = f"{sim.url}/v1.0/subscriptions/{created['id']}"
    later = (now() + timedelta(minutes=4300)).isoformat()

    assert requests.get(url, headers=headers).json()["expirationDateTime"] == created["expirationDateTime"]
    renewed = requests.patch(url, headers=headers, json={"expirationDateTime": later})
    too_far = requests.patch(url, headers=headers, json={"expirationDateTime": (now() + timedelta(days=4)).isoformat()})
    listed = requests.get(f"{sim.url}/v1.0/subscriptions", headers=headers).json()["value"]
    other_app = requests.get(url, headers=bearer(sim.app_token(sim.add_app())))
    reauthorized = requests.post(f"{url}/reauthorize", headers=headers)

    assert renewed.status_code == 200 and renewed.json()["expirationDateTime"][:19] == later[:19]
    assert too_far.status_code == 400 and too_far.json()["error"]["code"] == "ExtensionError"
    assert [item["id"] for item in listed] == [created["id"]]
    assert other_app.status_code == 404
    assert reauthorized.status_code == 204
    assert requests.delete(url, headers=headers).status_code == 204
    for method in ("get", "patch", "delete"):
        gone = requests.request(method, url, headers=headers, json={"expirationDateTime": later})
        assert (gone.status_code, gone.json()["error"]["code"]) == (404, "ResourceNotFound")

    expiring = subscribe(sim, app, subscriber).json()
    sim.expire_subscription(expiring["id"])
    assert requests.get(f"{sim.url}/v1.0/subscriptions/{expiring['id']}", headers=headers).status_code == 404
    assert requests.post(f"{sim.url}/v1.0/subscriptions/{expiring['id']}/reauthorize",
                         headers=headers).status_code == 404


def test_a_new_recording_and_transcript_are_announced_in_microsofts_shape(sim, app, ann, subscriber):
    recordings = subscribe(sim, app, subscriber).json()
    transcripts = subscribe(sim, app, subscriber, resource="communications/onlineMeetings/getAllTranscripts").json()
    fabrikam = sim.add_tenant()
    sim.add_meeting(sim.add_user("eve@fabrikam.edu", tenant=fabrikam), recordings=[100])  # another tenant
    sim.add_meeting(ann, "A call", recordings=[100], ad_hoc=True)  # calls are not announced

    recording = sim.add_recording(organizer=ann, subject="Physics", size=1000, transcript=VTT)
    assert sim.wait_for_deliveries(10)

    by_subscription = {body["value"][0]["subscriptionId"]: (path, body) for path, body in subscriber.received}
    assert set(by_subscription) == {recordings["id"], transcripts["id"]} and len(subscriber.received) == 2
    path, body = by_subscription[recordings["id"]]
    resource = f"communications/onlineMeetings('{recording.meeting.id}')/recordings('{recording.id}')"
    assert path == "/teams/notifications/"
    assert body == {"value": [{
        "subscriptionId": recordings["id"], "subscriptionExpirationDateTime": recordings["expirationDateTime"],
        "changeType": "created", "resource": resource,
        "resourceData": {"id": recording.id, "@odata.type": "#Microsoft.Graph.callRecording", "@odata.id": resource},
        "clientState": "s3cret-state", "tenantId": sim.tenant_id}]}
    transcript = recording.meeting.transcripts[0]
    assert by_subscription[transcripts["id"]][1]["value"][0]["resourceData"] == {
        "id": transcript.id, "@odata.type": "#Microsoft.Graph.callTranscript",
        "@odata.id": f"communications/onlineMeetings('{recording.meeting.id}')/transcripts('{transcript.id}')"}
    assert [(item.kind, item.status, item.outcome) for item in sim.deliveries[4:]] == [
        ("notification", 202, "delivered")] * 2


def test_a_failed_or_slow_delivery_is_sent_again_with_backoff(sim, app, ann, subscriber):
    sim.notification_timeout, sim.notification_retry_delays = 0.3, (0.2, 0.4)
    subscribe(sim, app, subscriber)
    subscriber.answers = [500, 503]

    sim.add_recording(organizer=ann, subject="Physics", size=1000)
    assert sim.wait_for_deliveries(10)
    subscriber.slow = 0.6  # longer than the timeout: Microsoft counts it failed, and gives up after the retries
    sim.add_recording(organizer=ann, subject="Chemistry", size=1000)
    assert sim.wait_for_deliveries(10)

    attempts = [(item.attempt, item.status, item.outcome) for item in sim.deliveries if item.kind == "notification"]
    assert attempts == [(1, 500, "failed"), (2, 503, "failed"), (3, 202, "delivered"),
                        (1, None, "failed"), (2, None, "failed"), (3, None, "failed")]
    times = [item.time for item in sim.deliveries if item.kind == "notification"][:3]
    assert times[1] - times[0] >= 0.2 and times[2] - times[1] >= 0.4  # the backoff


def test_dropped_and_repeated_notifications_are_seeded(sim, app, ann, subscriber):
    subscribe(sim, app, subscriber)

    def run(**faults):
        sim.faults.reseed(7)
        for name, value in faults.items():
            setattr(sim.faults, name, value)
        start = len(sim.deliveries)
        added = [sim.add_recording(organizer=ann, subject=f"Lecture {index}", size=1000).id for index in range(20)]
        assert sim.wait_for_deliveries(10)
        outcomes = {}  # by the recording's place in the run, whatever order the threads delivered in
        for item in [item for item in sim.deliveries[start:] if item.outcome != "failed"]:  # (then retried)
            outcomes.setdefault(added.index(item.body["value"][0]["resourceData"]["id"]), []).append(item.outcome)
        return [outcomes[index] for index in range(20)]

    dropped = run(drop_notifications=0.3)
    assert 2 <= dropped.count(["dropped"]) <= 12 and dropped.count(["delivered"]) == 20 - dropped.count(["dropped"])
    assert run(drop_notifications=0.3) == dropped  # the same decisions at every run
    assert run(drop_notifications=0, repeat_notifications=True) == [["delivered", "delivered"]] * 20
    ids = [body["value"][0]["resourceData"]["id"] for _path, body in subscriber.received[-40:]]
    assert len(set(ids)) == 20 and all(ids.count(item) == 2 for item in ids)


def test_reauthorization_required_holds_notifications_until_reauthorized(sim, app, ann, subscriber):
    subscription = sim.find_subscription(subscribe(sim, app, subscriber).json()["id"])

    sent = sim.send_lifecycle(subscription, "reauthorizationRequired")
    sim.add_recording(organizer=ann, subject="While waiting", size=1000)  # never announced: a gap to reconcile
    requests.post(f"{sim.url}/v1.0/subscriptions/{subscription.id}/reauthorize",
                  headers=bearer(sim.app_token(app)))
    sim.add_recording(organizer=ann, subject="After", size=1000)
    assert sim.wait_for_deliveries(10)

    assert sent == {"value": [{"subscriptionId": subscription.id, "subscriptionExpirationDateTime": ANY,
                               "tenantId": sim.tenant_id, "clientState": "s3cret-state",
                               "lifecycleEvent": "reauthorizationRequired"}]}
    assert [path for path, _body in subscriber.received] == ["/teams/notifications/lifecycle/",
                                                             "/teams/notifications/"]
    assert [item.outcome for item in sim.deliveries if item.kind == "notification"] == ["held", "delivered"]


def test_a_removed_or_expired_subscription_announces_nothing(sim, app, ann, subscriber):
    removed = sim.find_subscription(subscribe(sim, app, subscriber).json()["id"])
    expired = sim.find_subscription(subscribe(sim, app, subscriber).json()["id"])

    sim.send_lifecycle(removed, "subscriptionRemoved")
    sim.expire_subscription(expired)
    sim.add_recording(organizer=ann, subject="Unheard", size=1000)
    assert sim.wait_for_deliveries(10)

    assert [body["value"][0]["lifecycleEvent"] for _path, body in subscriber.received] == ["subscriptionRemoved"]
    assert sim.find_subscription(removed.id) is None and sim.find_subscription(expired.id) is None
    with pytest.raises(ValueError):
        sim.send_lifecycle(expired, "renamed")


# -- the simulator as a process of its own ---------------------------------------------------------------------


def test_the_simulator_runs_as_a_process_with_a_scenario(tmp_path, monkeypatch):
    client_id, secret = str(uuid.uuid4()), "Sim8Q~scenario-secret-value"
    (tmp_path / "scenario.json").write_text(json.dumps({"tenants": [{
        "apps": [{"client_id": client_id, "secret": secret}],
        "users": [{"upn": "ann.lee@contoso.edu", "display_name": "Ann Lee"}],
        "meetings": [{"organizer": "ann.lee@contoso.edu", "subject": "Physics", "recordings": [1000]}]}]}))
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.simulator", "--port", "0", "--scenario", str(tmp_path / "scenario.json"),
         "--state-file", str(tmp_path / "state.json"), "--ready-file", str(tmp_path / "ready.json")],
        cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        ready = json.loads(process.stdout.readline())
        state = json.loads((tmp_path / "state.json").read_text())
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", ready["ca_path"])
        url, tenant = ready["url"], state["default_tenant"]
        token = requests.post(f"{url}/{tenant}/oauth2/v2.0/token", data={
            "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret,
            "scope": "https://graph.microsoft.com/.default"}).json()["access_token"]
        requests.post(f"{url}/_simulator/faults", json={"throttle_next": 1})

        statuses = [requests.get(f"{url}/v1.0/users", headers=bearer(token)).status_code for _ in range(2)]
        log = requests.get(f"{url}/_simulator/log").json()["requests"]

        assert json.loads((tmp_path / "ready.json").read_text()) == ready
        assert statuses[0] in (429, 503) and statuses[1] == 200
        assert [(entry["path"], entry["status"]) for entry in log][-2:] == [("/v1.0/users", statuses[0]),
                                                                          ("/v1.0/users", 200)]
        assert state["meetings"][0]["recordings"][0]["size"] == 1000
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
    assert not Path(ready["ca_path"]).exists()
