"""integrations.microsoft.identity: a user's delegated sign-in with msal (DelegatedApp), against Microsoft's answers
faked with `responses` (tests/microsoft/*.json). The whole flow runs against the simulator in
tests/test_onedrive_flow.py; here, what Microsoft can answer that the simulator does not."""
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from integrations.microsoft import identity
from integrations.microsoft.errors import GraphUnreachable
from tests.microsoft import (CLIENT_ID, LOGIN_URL, OPENID_CONFIGURATION_URL, TENANT_ID, TOKEN_URL, UNKNOWN_TENANT_ID,
                             load)

SECRET = "Qx58Q~not.a.real.secret.but.long.enough-1"
REDIRECT_URI = "https://media.contoso.edu/onedrive/index/blank-page"
SCOPES = ["User.Read", "Files.Read.All"]


@pytest.fixture(autouse=True)
def microsoft(settings):
    settings.MICROSOFT_LOGIN_URL = LOGIN_URL
    identity._DISCOVERY_CACHE.clear()  # each test says what the tenant's configuration answers
    yield
    identity._DISCOVERY_CACHE.clear()


def app(tenant=TENANT_ID):
    return identity.DelegatedApp(CLIENT_ID, SECRET, tenant)


def start(delegated):
    return delegated.start_code_flow(SCOPES, redirect_uri=REDIRECT_URI, state="s-1", response_mode="query")


@responses.activate
def test_the_code_flow_starts_at_the_tenants_authorize_endpoint_with_pkce():
    responses.get(OPENID_CONFIGURATION_URL, json=load("openid_configuration.json"))

    flow = start(app())

    url = urlsplit(flow["auth_uri"])
    query = {name: values[0] for name, values in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{LOGIN_URL}/{TENANT_ID}/oauth2/v2.0/authorize"
    assert query["state"] == "s-1" and query["response_mode"] == "query" and query["redirect_uri"] == REDIRECT_URI
    assert query["code_challenge_method"] == "S256" and flow["code_verifier"] and flow["nonce"]


@responses.activate
@pytest.mark.parametrize("tenant, answer", [
    (TENANT_ID, {"body": requests.ConnectionError("Name or service not known")}),
    (UNKNOWN_TENANT_ID, {"status": 400, "json": load("token_error_90002.json")}),
])
def test_a_tenant_whose_configuration_cannot_be_read_is_unreachable(tenant, answer):
    responses.get(f"{LOGIN_URL}/{tenant}/v2.0/.well-known/openid-configuration", **answer)

    with pytest.raises(GraphUnreachable):
        start(app(tenant))


@responses.activate
def test_an_answer_to_another_flow_is_a_value_error():
    responses.get(OPENID_CONFIGURATION_URL, json=load("openid_configuration.json"))
    flow = start(app())

    with pytest.raises(ValueError):
        app().redeem_code(flow, {"code": "M.C507_BAY.2.U", "state": "another state"}, SCOPES)
    assert not [call for call in responses.calls if call.request.url == TOKEN_URL]  # no code was sent


@responses.activate
def test_a_token_endpoint_that_cannot_be_reached_is_unreachable():
    responses.get(OPENID_CONFIGURATION_URL, json=load("openid_configuration.json"))
    responses.post(TOKEN_URL, body=requests.ConnectionError("Connection reset by peer"))
    flow = start(app())

    with pytest.raises(GraphUnreachable):
        app().redeem_code(flow, {"code": "M.C507_BAY.2.U", "state": "s-1"}, SCOPES)
    with pytest.raises(GraphUnreachable):
        app().refresh("M.C507_BAY.0.U.-refresh", SCOPES)


@responses.activate
def test_a_refused_refresh_gives_microsofts_error():
    responses.get(OPENID_CONFIGURATION_URL, json=load("openid_configuration.json"))
    responses.post(TOKEN_URL, status=400, json={
        "error": "invalid_grant", "error_codes": [70008], "trace_id": "0b2c0d6e-1f2a-4b3c-9d4e-5f6a7b8c9d0e",
        "error_description": "AADSTS70008: The provided authorization code or refresh token has expired due to "
                             "inactivity. Send a new interactive authorization request for this user and resource.",
    })

    result = app().refresh("M.C507_BAY.0.U.-refresh", SCOPES)

    assert result["error"] == "invalid_grant" and "access_token" not in result
