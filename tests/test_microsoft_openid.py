"""integrations.microsoft.openid: the tenants' signing keys and the ID token's verification, against Microsoft's
answers faked with `responses` (tests/microsoft/openid_configuration.json) and a key of the simulator's."""
import base64
import hashlib
import json
import time

import pytest
import requests
import responses

from integrations.microsoft import openid
from integrations.microsoft.openid import IdTokenInvalid
from tests.microsoft import CLIENT_ID, LOGIN_URL, OPENID_CONFIGURATION_URL, TENANT_ID, load
from tests.simulator.identity import signing_key

CONFIGURATION = load("openid_configuration.json")
ACCESS_TOKEN = "eyJ0eXAiOiJKV1QiLCJub25jZSI6Im5vdC1yZWFsIn0.an-access-token"


@pytest.fixture(autouse=True)
def microsoft(settings):
    settings.MICROSOFT_LOGIN_URL = LOGIN_URL
    openid.signing_keys.clear()
    yield
    openid.signing_keys.clear()


@pytest.fixture
def published():
    """The tenant publishes the simulator's key."""
    with responses.RequestsMock() as rsps:
        rsps.get(OPENID_CONFIGURATION_URL, json=CONFIGURATION)
        rsps.get(CONFIGURATION["jwks_uri"], json={"keys": [signing_key().jwk]})
        yield rsps


def at_hash(access_token):
    digest = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def id_token(**changes):
    moment = int(time.time())
    claims = {"aud": CLIENT_ID, "iss": f"{LOGIN_URL}/{TENANT_ID}/v2.0", "iat": moment, "nbf": moment,
              "exp": moment + 3600, "tid": TENANT_ID, "oid": "a-user", "nonce": "n-1",
              "at_hash": at_hash(ACCESS_TOKEN)}
    return signing_key().sign({name: value for name, value in {**claims, **changes}.items() if value is not None})


def verify(token, **options):
    return openid.verify_id_token(token, **{"client_id": CLIENT_ID, "nonce": "n-1",
                                            "access_token": ACCESS_TOKEN, **options})


# -- the ID token ------------------------------------------------------------------------------------------


def test_a_good_id_token_gives_its_claims_for_any_organisation_or_its_own(published):
    assert verify(id_token())["oid"] == "a-user"
    assert verify(id_token(), tenant=TENANT_ID.upper())["tid"] == TENANT_ID


@pytest.mark.parametrize("token, options, reason", [
    ("not.a.token", {}, IdTokenInvalid.UNREADABLE),
    (lambda: id_token(tid=None), {}, IdTokenInvalid.NO_TENANT),
    (lambda: id_token(), {"tenant": "00000000-0000-0000-0000-000000000001"}, IdTokenInvalid.OTHER_TENANT),
    (lambda: id_token(aud="another-app"), {}, IdTokenInvalid.AUDIENCE),
    (lambda: id_token(iss=f"{LOGIN_URL}/other/v2.0"), {}, IdTokenInvalid.ISSUER),
    (lambda: id_token(exp=1_000_000_000), {}, IdTokenInvalid.EXPIRED),
    (lambda: id_token(nonce="n-2"), {}, IdTokenInvalid.NONCE),
    (lambda: id_token(), {"access_token": "another access token"}, IdTokenInvalid.AT_HASH),
    (lambda: id_token()[:-4] + "AAAA", {}, IdTokenInvalid.SIGNATURE),
    (lambda: id_token(exp=None), {}, IdTokenInvalid.OTHER),
])
def test_each_failed_check_says_which(published, token, options, reason):
    published.assert_all_requests_are_fired = False  # the first checks need no key
    with pytest.raises(IdTokenInvalid) as refused:
        verify(token() if callable(token) else token, **options)
    assert refused.value.reason == reason
    assert refused.value.detail == ("" if reason != IdTokenInvalid.OTHER else str(refused.value.__cause__))


def test_a_key_the_tenant_does_not_publish_is_an_unknown_key(published):
    token = id_token()
    header, rest = token.split(".", 1)
    forged = base64.urlsafe_b64encode(json.dumps({"alg": "RS256", "kid": "made-up"}).encode()).rstrip(b"=")
    with pytest.raises(IdTokenInvalid) as refused:
        verify(forged.decode() + "." + rest)
    assert refused.value.reason == IdTokenInvalid.UNKNOWN_KEY


@responses.activate
@pytest.mark.parametrize("configuration, key_set", [
    (requests.ConnectionError("Name or service not known"), None),
    ({"issuer": "no jwks_uri"}, None),
    (CONFIGURATION, {"keys": "not a key set"}),
])
def test_keys_that_cannot_be_read_are_unavailable_not_a_500(configuration, key_set, caplog):
    if isinstance(configuration, Exception):
        responses.get(OPENID_CONFIGURATION_URL, body=configuration)
    else:
        responses.get(OPENID_CONFIGURATION_URL, json=configuration)
        responses.get(CONFIGURATION["jwks_uri"], json=key_set)
    with pytest.raises(openid.SigningKeysUnavailable):
        verify(id_token())
    assert f"Signing keys of tenant {TENANT_ID} could not be read" in caplog.text


# -- the signing keys --------------------------------------------------------------------------------------


@responses.activate
def test_made_up_key_ids_cost_one_key_fetch_per_interval_fetched_without_the_lock():
    key, now = signing_key(), [1000.0]
    keys = openid.SigningKeys(clock=lambda: now[0])
    responses.get(OPENID_CONFIGURATION_URL, json=CONFIGURATION)
    locked_while_fetching = []

    def key_set(request):
        locked_while_fetching.append(keys._lock.locked())
        return 200, {}, json.dumps({"keys": [key.jwk]})

    responses.add_callback(responses.GET, CONFIGURATION["jwks_uri"], callback=key_set)

    assert keys.key(TENANT_ID, key.kid) is not None
    assert [keys.key(TENANT_ID, f"made-up-{n}") for n in range(50)] == [None] * 50  # a flood of forged tokens
    assert len(locked_while_fetching) == 1
    now[0] += openid.UNKNOWN_KID_SECONDS + 1  # a new key may have been published since: looked up once more
    assert [keys.key(TENANT_ID, f"made-up-{n}") for n in range(50)] == [None] * 50
    assert keys.key(TENANT_ID, key.kid) is not None
    assert len(locked_while_fetching) == 2
    now[0] += openid.KEYS_LIFETIME_SECONDS + 1  # the keys are read again every hour
    assert keys.key(TENANT_ID, key.kid) is not None
    assert locked_while_fetching == [False, False, False]  # other sign-ins are not held up by a slow fetch
