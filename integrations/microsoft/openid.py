"""OpenID Connect with the identity platform: each tenant's configuration and signing keys, and the ID token's
verification (signature, audience, issuer, nonce, expiry and at_hash).

The errors say which check failed (`IdTokenInvalid.reason`); the product words it for its readers.
"""
import base64
import hashlib
import hmac
import logging
import threading
import time
from datetime import timedelta

import jwt
import requests

from mediaspace.conf import setting

from .identity import TIMEOUT, authority
from .validators import GUID

logger = logging.getLogger(__name__)

CLOCK_SKEW = timedelta(minutes=5)
KEYS_LIFETIME_SECONDS = 3600
UNKNOWN_KID_SECONDS = 300  # a key id the tenant does not publish is looked up again at most this often


class SigningKeysUnavailable(Exception):
    """The tenant's signing keys could not be read, so none of its ID tokens can be checked now."""


class IdTokenInvalid(Exception):
    """The ID token failed a check: `reason` says which, `detail` is the JWT library's word for the others."""

    UNREADABLE = "unreadable"
    NO_TENANT = "no_tenant"
    OTHER_TENANT = "other_tenant"
    UNKNOWN_KEY = "unknown_key"
    SIGNATURE = "signature"
    EXPIRED = "expired"
    AUDIENCE = "audience"
    ISSUER = "issuer"
    NONCE = "nonce"
    AT_HASH = "at_hash"
    OTHER = "other"

    def __init__(self, reason, detail=""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


def configuration(tenant) -> dict:
    """The tenant's OpenID configuration (its issuer, endpoints and jwks_uri)."""
    return requests.get(f"{authority(tenant)}/v2.0/.well-known/openid-configuration", timeout=TIMEOUT).json()


class SigningKeys:
    """The signing keys each tenant publishes (its OpenID configuration's jwks_uri), kept an hour.

    A key id that is not among them is looked up again (keys roll over), but at most every
    UNKNOWN_KID_SECONDS: tokens with made-up key ids cost one fetch per interval, not one each. The lock
    guards the dictionary only; a slow fetch holds up nobody else's sign-in."""

    def __init__(self, clock=time.monotonic):
        self._keys, self._lock, self._clock = {}, threading.Lock(), clock

    def key(self, tenant_id, kid):
        """The tenant's key `kid`, None when it publishes no such key. Raises SigningKeysUnavailable."""
        with self._lock:
            fetched_at, keys = self._keys.get(tenant_id, (None, {}))
        age = None if fetched_at is None else self._clock() - fetched_at
        if age is not None and age <= KEYS_LIFETIME_SECONDS and (kid in keys or age <= UNKNOWN_KID_SECONDS):
            return keys.get(kid)
        keys = self._fetch(tenant_id)
        with self._lock:
            self._keys[tenant_id] = (self._clock(), keys)
        return keys.get(kid)

    def clear(self):
        with self._lock:
            self._keys.clear()

    @staticmethod
    def _fetch(tenant_id):
        try:
            key_set = requests.get(configuration(tenant_id)["jwks_uri"], timeout=TIMEOUT).json()
            return {key.key_id: key for key in jwt.PyJWKSet.from_dict(key_set).keys}
        except (requests.RequestException, ValueError, KeyError, TypeError, jwt.PyJWTError) as e:
            logger.warning("Signing keys of tenant %s could not be read: %s", tenant_id, type(e).__name__)
            raise SigningKeysUnavailable(f"The signing keys of tenant {tenant_id} could not be read") from e


signing_keys = SigningKeys()


def verify_id_token(token, *, client_id, nonce, tenant=None, access_token=None) -> dict:
    """The ID token's claims once signature, audience, issuer, nonce, expiry (and at_hash, with the access
    token given with it) are checked. `tenant`: the one directory id accepted, None for any organisation.
    Raises IdTokenInvalid, or SigningKeysUnavailable."""
    try:
        header = jwt.get_unverified_header(token or "")
        tenant_id = jwt.decode(token, options={"verify_signature": False}).get("tid", "")
    except jwt.PyJWTError as e:
        raise IdTokenInvalid(IdTokenInvalid.UNREADABLE) from e
    if not isinstance(tenant_id, str) or not GUID.match(tenant_id):
        raise IdTokenInvalid(IdTokenInvalid.NO_TENANT)
    if tenant is not None and tenant_id.lower() != tenant.lower():
        raise IdTokenInvalid(IdTokenInvalid.OTHER_TENANT)
    key = signing_keys.key(tenant_id, header.get("kid"))
    if key is None:
        raise IdTokenInvalid(IdTokenInvalid.UNKNOWN_KEY)
    try:
        claims = jwt.decode(token, key, algorithms=["RS256"], audience=client_id,
                            issuer=f"{setting('MICROSOFT_LOGIN_URL')}/{tenant_id}/v2.0",
                            leeway=CLOCK_SKEW, options={"require": ["exp", "aud", "iss"]})
    except jwt.InvalidSignatureError as e:
        raise IdTokenInvalid(IdTokenInvalid.SIGNATURE) from e
    except jwt.ExpiredSignatureError as e:
        raise IdTokenInvalid(IdTokenInvalid.EXPIRED) from e
    except jwt.InvalidAudienceError as e:
        raise IdTokenInvalid(IdTokenInvalid.AUDIENCE) from e
    except jwt.InvalidIssuerError as e:
        raise IdTokenInvalid(IdTokenInvalid.ISSUER) from e
    except jwt.PyJWTError as e:
        raise IdTokenInvalid(IdTokenInvalid.OTHER, str(e)) from e
    if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
        raise IdTokenInvalid(IdTokenInvalid.NONCE)
    if access_token and "at_hash" in claims and not hmac.compare_digest(claims["at_hash"], _at_hash(access_token)):
        raise IdTokenInvalid(IdTokenInvalid.AT_HASH)
    return claims


def _at_hash(access_token) -> str:
    digest = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()
