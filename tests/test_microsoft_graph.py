"""integrations.microsoft.graph against Microsoft's answers (tests/microsoft/*.json), faked with `responses`."""
import logging
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs

import pytest
import requests
import responses

from integrations.microsoft.errors import (
    GraphError,
    GraphForbidden,
    GraphNotFound,
    GraphPaymentRequired,
    GraphThrottled,
    GraphUnauthorized,
    GraphUnreachable,
    TokenError,
)
from integrations.microsoft.graph import AppTokenProvider, GraphClient, token_claims
from tests.microsoft import (
    cut_body,
    CLIENT_ID,
    GRAPH_URL,
    LOGIN_URL,
    OPENID_CONFIGURATION_URL,
    TENANT_ID,
    TOKEN_URL,
    UNKNOWN_TENANT_ID,
    app_token_payload,
    load,
    make_jwt,
)

SECRET = "Qx58Q~not.a.real.secret.but.long.enough-1"
ACCESS_TOKEN = load("token_success.json")["access_token"]
USERS = f"{GRAPH_URL}/v1.0/users"
CONTENT = f"{GRAPH_URL}/v1.0/me/drive/items/01BYE5RZ6QN3ZWBTUFOFD3GSPGOHDJD36K/content"
# /content answers 302 to a short-lived pre-authenticated URL; its query carries a token of its own.
DOWNLOAD = (
    "https://contoso-my.sharepoint.com/personal/adelev_contoso_onmicrosoft_com/_layouts/15/download.aspx"
    "?UniqueId=7d6c6fa3-6a31-4a8e-b3e2-1f8f6a9c0d2e&Translate=false&tempauth=eyJ0eXAiOiJKV1Qi.tempauth"
    "&ApiVersion=2.0"
)


@pytest.fixture(autouse=True)
def microsoft_urls(settings):
    settings.MICROSOFT_LOGIN_URL = LOGIN_URL
    settings.MICROSOFT_GRAPH_URL = GRAPH_URL


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def graph(sleeps):
    return GraphClient(lambda: ACCESS_TOKEN, sleep=sleeps.append)


def fake_sign_in(token_status=200, token_body=None):
    responses.get(OPENID_CONFIGURATION_URL, json=load("openid_configuration.json"))
    body = load("token_success.json") if token_body is None else token_body
    return responses.post(TOKEN_URL, status=token_status, json=body)


# --- tokens -------------------------------------------------------------------------------------


@responses.activate
def test_app_token_is_fetched_once_and_reused():
    token_call = fake_sign_in()
    provider = AppTokenProvider(TENANT_ID, CLIENT_ID, SECRET)

    assert provider() == ACCESS_TOKEN
    assert provider() == ACCESS_TOKEN

    assert token_call.call_count == 1  # the second token came from msal's cache
    assert [c.request.method for c in responses.calls] == ["GET", "POST"]
    form = parse_qs(responses.calls[1].request.body)
    assert form["grant_type"] == ["client_credentials"]
    assert form["scope"] == [f"{GRAPH_URL}/.default"]
    assert form["client_id"] == [CLIENT_ID]


@responses.activate
def test_invalidate_makes_the_next_call_ask_microsoft_again():
    token_call = fake_sign_in()
    provider = AppTokenProvider(TENANT_ID, CLIENT_ID, SECRET)
    provider()
    provider.invalidate()
    provider()
    assert token_call.call_count == 2


@responses.activate
def test_roles_are_read_from_the_access_token():
    fake_sign_in()
    provider = AppTokenProvider(TENANT_ID, CLIENT_ID, SECRET)
    assert provider.roles() == app_token_payload()["roles"]
    assert provider.claims()["tid"] == TENANT_ID
    assert provider.claims()["appid"] == CLIENT_ID


def test_token_claims_of_something_else_than_a_jwt():
    assert token_claims(make_jwt({"roles": ["User.Read.All"]})) == {"roles": ["User.Read.All"]}
    with pytest.raises(TokenError):
        token_claims("EwBwA8l6BAAUs5+HQn0N+h2FxWzLS31ZgQVuHsYAAQ")  # opaque (consumer) token


@responses.activate
@pytest.mark.parametrize("fixture, status, code, error_code", [
    ("token_error_7000215.json", 401, "invalid_client", 7000215),  # wrong secret (or the secret's ID)
    ("token_error_7000222.json", 401, "invalid_client", 7000222),  # expired secret
    ("token_error_7000112.json", 400, "unauthorized_client", 7000112),  # application disabled
    ("token_error_700016.json", 400, "unauthorized_client", 700016),  # application not in tenant
])
def test_identity_errors_become_token_errors(fixture, status, code, error_code):
    fake_sign_in(token_status=status, token_body=load(fixture))
    with pytest.raises(TokenError) as caught:
        AppTokenProvider(TENANT_ID, CLIENT_ID, SECRET)()
    error = caught.value
    assert (error.status, error.code, error.error_codes) == (status, code, [error_code])
    assert error.message.startswith(f"AADSTS{error_code}:")
    assert error.request_id == load(fixture)["trace_id"]


@responses.activate
def test_unknown_tenant_is_a_token_error_with_aadsts90002():
    # Microsoft answers the OpenID discovery of an unknown tenant with 400; msal raises ValueError.
    responses.get(f"{LOGIN_URL}/{UNKNOWN_TENANT_ID}/v2.0/.well-known/openid-configuration",
                  status=400, json=load("token_error_90002.json"))
    with pytest.raises(TokenError) as caught:
        AppTokenProvider(UNKNOWN_TENANT_ID, CLIENT_ID, SECRET)()
    assert caught.value.code == "invalid_tenant"
    assert caught.value.error_codes == [90002]
    assert "AADSTS90002" in str(caught.value)


@responses.activate
def test_sign_in_unreachable():
    responses.get(OPENID_CONFIGURATION_URL, body=requests.ConnectionError("Name or service not known"))
    with pytest.raises(GraphUnreachable):
        AppTokenProvider(TENANT_ID, CLIENT_ID, SECRET)()


@responses.activate
def test_sign_in_server_error_is_unreachable_not_a_credentials_problem():
    fake_sign_in(token_status=503, token_body={"error": "temporarily_unavailable"})
    with pytest.raises(GraphUnreachable) as caught:
        AppTokenProvider(TENANT_ID, CLIENT_ID, SECRET)()
    assert not isinstance(caught.value, TokenError)
    assert caught.value.status == 503


# --- requests -----------------------------------------------------------------------------------


@responses.activate
def test_get_sends_the_token_and_asks_for_unknown_enum_members(graph):
    responses.get(f"{USERS}/{load('users_page3.json')['value'][0]['id']}", json={"id": "x"})
    assert graph.get("/users/8b081ef6-4792-4def-b2c9-c363a1bf41d5") == {"id": "x"}
    headers = responses.calls[0].request.headers
    assert headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert headers["Prefer"] == "include-unknown-enum-members"


@responses.activate
def test_post_batch(graph):
    batch = {"requests": [{"id": "1", "method": "GET", "url": "/users?$top=1"}]}
    responses.post(f"{GRAPH_URL}/v1.0/$batch", json={"responses": [{"id": "1", "status": 200, "body": {}}]})
    assert graph.post("/$batch", batch)["responses"][0]["status"] == 200
    assert responses.calls[0].request.body == b'{"requests": [{"id": "1", "method": "GET", "url": "/users?$top=1"}]}'


@responses.activate
def test_iter_pages_follows_next_link_across_three_pages(graph):
    page1, page2, page3 = load("users_page1.json"), load("users_page2.json"), load("users_page3.json")
    responses.get(f"{USERS}?$top=2&$select=id,displayName,userPrincipalName,mail", json=page1)
    responses.get(page1["@odata.nextLink"], json=page2)
    responses.get(page2["@odata.nextLink"], json=page3)

    pages = graph.iter_pages("/users", **{"$top": 2, "$select": "id,displayName,userPrincipalName,mail"})
    ids = [user["id"] for user in pages]

    assert ids == [u["id"] for page in (page1, page2, page3) for u in page["value"]]
    assert len(responses.calls) == 3
    assert pages.delta_link is None


@responses.activate
def test_iter_pages_keeps_the_delta_link(graph):
    delta = f"{USERS}/delta?$deltatoken=oEcOySpF_hWYmTIUZBOIfPzcwisr_rPe8o9M54L45qEXQGmvQC6T2dbL"
    responses.get(f"{USERS}/delta", json={
        "@odata.context": f"{GRAPH_URL}/v1.0/$metadata#users", "@odata.deltaLink": delta,
        "value": [{"id": "6ea91a8d-e32e-41a1-b7bd-d2d185eed0e0"}]})
    pages = graph.iter_pages("/users/delta")
    assert [u["id"] for u in pages] == ["6ea91a8d-e32e-41a1-b7bd-d2d185eed0e0"]
    assert pages.delta_link == delta


@responses.activate
def test_next_link_to_another_host_is_refused(graph):
    page1 = load("users_page1.json")
    page1["@odata.nextLink"] = "https://graph.microsoft.com.evil.example/v1.0/users?$skiptoken=x"
    responses.get(USERS, json=page1)
    with pytest.raises(GraphError, match="Refusing"):
        list(graph.iter_pages("/users"))
    assert len(responses.calls) == 1


@responses.activate
def test_429_waits_for_retry_after_then_succeeds(graph, sleeps):
    responses.get(USERS, status=429, json=load("graph_error_throttled.json"), headers={"Retry-After": "7"})
    responses.get(USERS, json=load("users_page3.json"))
    assert graph.get("/users")["value"][0]["displayName"] == "Megan Bowen"
    assert sleeps == [7]


@responses.activate
def test_retry_after_as_an_http_date(graph, sleeps):
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    responses.get(USERS, status=503, headers={"Retry-After": when})
    responses.get(USERS, json={"value": []})
    graph.get("/users")
    assert 28 <= sleeps[0] <= 30


@responses.activate
def test_503_without_retry_after_backs_off_exponentially(graph, sleeps):
    responses.get(USERS, status=503, body="")
    responses.get(USERS, status=504, body="")
    responses.get(USERS, status=503, body="")
    responses.get(USERS, json={"value": []})
    assert graph.get("/users") == {"value": []}
    assert sleeps == [1, 2, 4]


@responses.activate
def test_too_many_429_raise_graph_throttled(graph, sleeps):
    responses.get(USERS, status=429, json=load("graph_error_throttled.json"), headers={"Retry-After": "3"})
    with pytest.raises(GraphThrottled) as caught:
        graph.get("/users")
    assert len(responses.calls) == 5
    assert sleeps == [3, 3, 3, 3]
    assert (caught.value.status, caught.value.code, caught.value.retry_after) == (429, "TooManyRequests", 3)


@responses.activate
def test_connection_errors_are_retried_then_unreachable(graph, sleeps):
    responses.get(USERS, body=requests.ConnectionError("Connection reset by peer"))
    with pytest.raises(GraphUnreachable) as caught:
        graph.get("/users")
    assert sleeps == [1, 2, 4, 8]
    assert isinstance(caught.value.__cause__, requests.ConnectionError)


@responses.activate
def test_missing_application_access_policy_is_forbidden(graph):
    url = f"{GRAPH_URL}/v1.0/users/8b081ef6-4792-4def-b2c9-c363a1bf41d5/onlineMeetings"
    responses.get(url, status=403, json=load("graph_error_forbidden_policy.json"))
    with pytest.raises(GraphForbidden) as caught:
        graph.get("/users/8b081ef6-4792-4def-b2c9-c363a1bf41d5/onlineMeetings")
    error = caught.value
    assert (error.status, error.code) == (403, "General")
    assert error.message == "No application access policy found for this app."
    assert error.request_id == "599d9cb0-56ac-4dc5-b6f8-1456a1414609"
    assert error.error_codes == []


@responses.activate
def test_item_not_found(graph):
    responses.get(CONTENT.removesuffix("/content"), status=404, json=load("graph_error_item_not_found.json"))
    with pytest.raises(GraphNotFound) as caught:
        graph.get("/me/drive/items/01BYE5RZ6QN3ZWBTUFOFD3GSPGOHDJD36K")
    assert caught.value.code == "itemNotFound"
    assert str(caught.value) == "itemNotFound: The resource could not be found."


@responses.activate
def test_payment_required(graph):
    responses.get(CONTENT, status=402, json={"error": {"code": "PaymentRequired", "message": "Payment Required"}})
    with pytest.raises(GraphPaymentRequired):
        graph.stream(CONTENT)


@responses.activate
def test_error_page_that_is_not_json(graph):
    responses.get(USERS, status=502, body="<html><body>Bad Gateway</body></html>", content_type="text/html")
    with pytest.raises(GraphError) as caught:
        graph.get("/users")
    assert (caught.value.status, caught.value.code, str(caught.value)) == (502, None, "HTTP 502 Bad Gateway")


@responses.activate
def test_401_asks_the_provider_for_a_fresh_token_once(sleeps):
    class Provider:
        tokens = iter(["expired-token", "fresh-token", "fresher-token"])
        token = None

        def __call__(self):
            self.token = self.token or next(self.tokens)
            return self.token

        def invalidate(self):
            self.token = None

    responses.get(USERS, status=401, json=load("graph_error_unauthorized.json"))
    responses.get(USERS, json={"value": []})
    assert GraphClient(Provider(), sleep=sleeps.append).get("/users") == {"value": []}
    assert [c.request.headers["Authorization"] for c in responses.calls] == [
        "Bearer expired-token", "Bearer fresh-token"]

    responses.get(USERS, status=401, json=load("graph_error_unauthorized.json"))
    with pytest.raises(GraphUnauthorized):
        GraphClient(lambda: "plain-token", sleep=sleeps.append).get("/users")  # no invalidate(): no retry
    assert sleeps == []


# --- downloads ----------------------------------------------------------------------------------


@responses.activate
def test_stream_follows_the_redirect_without_the_token(graph):
    responses.get(CONTENT, status=302, headers={"Location": DOWNLOAD})
    responses.get(DOWNLOAD, body=b"x" * 2500, headers={"Content-Length": "2500"})

    with graph.stream(CONTENT, chunk_size=1000) as download:
        chunks = list(download)

    assert b"".join(chunks) == b"x" * 2500
    assert [len(c) for c in chunks] == [1000, 1000, 500]
    assert (download.status_code, download.content_length, download.resumed) == (200, 2500, False)
    assert responses.calls[0].request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert "Authorization" not in responses.calls[1].request.headers
    assert "Prefer" not in responses.calls[1].request.headers


@responses.activate
def test_stream_resumes_with_range(graph):
    responses.get(CONTENT, status=302, headers={"Location": DOWNLOAD})
    responses.get(DOWNLOAD, status=206, body=b"y" * 500,
                  headers={"Content-Length": "500", "Content-Range": "bytes 2000-2499/2500"})

    with graph.stream(CONTENT, start=2000) as download:
        assert b"".join(download) == b"y" * 500

    assert download.resumed is True
    assert download.content_length == 500
    assert [c.request.headers["Range"] for c in responses.calls] == ["bytes=2000-", "bytes=2000-"]


@responses.activate
def test_stream_reports_a_range_that_was_ignored(graph):
    responses.get(CONTENT, body=b"z" * 2500)
    with graph.stream(CONTENT, start=2000) as download:
        assert download.resumed is False  # the whole file again, from byte 0
        assert len(b"".join(download)) == 2500


@responses.activate
def test_stream_cut_mid_download_is_unreachable(graph):
    responses.get(CONTENT, body=cut_body(b"aaaa"), headers={"Content-Length": "2500"},
                  auto_calculate_content_length=False)
    received = bytearray()
    with pytest.raises(GraphUnreachable), graph.stream(CONTENT, chunk_size=2) as download:
        for chunk in download:
            received += chunk
    assert received == b"aaaa"  # the caller resumes with start=len(received)


@responses.activate
def test_stream_redirect_on_graph_keeps_the_token(graph):
    moved = f"{GRAPH_URL}/v1.0/drives/b!xyz/items/01BYE5RZ6QN3ZWBTUFOFD3GSPGOHDJD36K/content"
    responses.get(CONTENT, status=307, headers={"Location": moved})
    responses.get(moved, body=b"ok")
    with graph.stream(CONTENT) as download:
        assert b"".join(download) == b"ok"
    assert responses.calls[1].request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"


# --- secrets ------------------------------------------------------------------------------------


@responses.activate
def test_secret_and_tokens_never_in_errors_or_logs(caplog, sleeps):
    caplog.set_level(logging.DEBUG)
    errors = []

    def expect(error_class, call):
        with pytest.raises(error_class) as caught:
            call()
        errors.append(caught.value)

    provider = AppTokenProvider(TENANT_ID, CLIENT_ID, SECRET)
    fake_sign_in(token_status=401, token_body=load("token_error_7000215.json"))
    expect(TokenError, provider)

    responses.reset()
    fake_sign_in()
    graph = GraphClient(provider, sleep=sleeps.append, max_tries=2)
    responses.get(USERS, status=403, json=load("graph_error_forbidden_policy.json"))
    expect(GraphForbidden, lambda: graph.get("/users"))
    responses.get(f"{USERS}/x", status=429, json=load("graph_error_throttled.json"))
    expect(GraphThrottled, lambda: graph.get("/users/x"))
    responses.get(f"{USERS}/y", body=requests.ConnectionError(f"failed: {DOWNLOAD}"))
    expect(GraphUnreachable, lambda: graph.get("/users/y"))
    responses.get(CONTENT, status=302, headers={"Location": DOWNLOAD})
    responses.get(DOWNLOAD, status=404, json=load("graph_error_item_not_found.json"))
    expect(GraphNotFound, lambda: graph.stream(CONTENT))
    expect(GraphError, lambda: graph.get("https://evil.example/steal"))

    assert "Authorization" not in caplog.text
    for error in errors:
        for text in (str(error), repr(error), *map(str, error.args)):
            assert SECRET not in text
            assert ACCESS_TOKEN not in text
            assert "tempauth" not in text
    assert SECRET not in caplog.text
    assert ACCESS_TOKEN not in caplog.text
    assert "tempauth" not in caplog.text
    assert SECRET not in repr(provider)
    assert caplog.records, "DEBUG logging was on, so something should have been logged"


@responses.activate
def test_a_retry_after_longer_than_max_wait_is_not_waited_out(sleeps):
    responses.get(f"{GRAPH_URL}/v1.0/users", status=429, json=load("graph_error_throttled.json"),
                  headers={"Retry-After": "3600"})
    client = GraphClient(lambda: "token", max_wait=120, sleep=sleeps.append)
    with pytest.raises(GraphThrottled) as raised:
        client.get("/users")
    assert raised.value.retry_after == 3600
    assert sleeps == [] and len(responses.calls) == 1
