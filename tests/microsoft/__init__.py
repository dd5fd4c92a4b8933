"""Microsoft's answers, as fixture files shaped like the real ones, and helpers to build tokens.

Bodies follow Microsoft's documentation and real answers quoted in public issues: identity platform
errors (``error``, ``error_description`` "AADSTS...", ``error_codes``, ``trace_id``...) and Graph errors
(``{"error": {"code", "message", "innerError": {"date", "request-id", "client-request-id"}}}``).
"""
import base64
import http.client
import io
import json
from pathlib import Path

HERE = Path(__file__).parent

# The identifiers the fixture files were written with.
TENANT_ID = "5f2b7b2c-9c1e-4b8e-a3d3-6f1c2e0a9b41"
UNKNOWN_TENANT_ID = "d1a4c0de-2f3b-4c5d-8e9f-0a1b2c3d4e5f"  # token_error_90002.json
CLIENT_ID = "0c3e8f4a-1b2d-4e6f-8a9b-7c5d3e2f1a06"
LOGIN_URL = "https://login.microsoftonline.com"
GRAPH_URL = "https://graph.microsoft.com"
# What msal asks for first (instance_discovery=False still fetches the tenant's OpenID configuration)
# and where it then posts the client credentials.
OPENID_CONFIGURATION_URL = f"{LOGIN_URL}/{TENANT_ID}/v2.0/.well-known/openid-configuration"
TOKEN_URL = f"{LOGIN_URL}/{TENANT_ID}/oauth2/v2.0/token"


def load(name):
    """The parsed JSON of tests/microsoft/<name>."""
    return json.loads((HERE / name).read_text())


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(payload, header=None):
    """A JWT string shaped like Microsoft's access tokens, with a placeholder signature (not signed)."""
    header = header or {"typ": "JWT", "alg": "RS256", "x5t": "JDNa_4i4r7FgigL3sHIlI3xV-IU",
                        "kid": "JDNa_4i4r7FgigL3sHIlI3xV-IU"}
    return ".".join([
        _b64url(json.dumps(header, separators=(",", ":")).encode()),
        _b64url(json.dumps(payload, separators=(",", ":")).encode()),
        _b64url(b"not-a-signature"),
    ])


def app_token_payload(**overrides):
    """Claims of an application-only Graph access token (v1.0 token, as Graph is issued)."""
    payload = {
        "aud": GRAPH_URL,
        "iss": f"https://sts.windows.net/{TENANT_ID}/",
        "iat": 1718010867,
        "nbf": 1718010867,
        "exp": 1718014767,
        "aio": "E2dgYJjYfdn3kLyX9hx6qE0lPJ7cAA==",
        "app_displayname": "MediaSpace Teams ingest",
        "appid": CLIENT_ID,
        "appidacr": "1",
        "idp": f"https://sts.windows.net/{TENANT_ID}/",
        "idtyp": "app",
        "oid": "6b1e7c3a-04f5-4a1d-9d7e-2c8b5f0e4a17",
        "rh": "0.AXkALHsrXx6cjkuj02ccLgqbQQMAAAAAAAAAwAAAAAAAAAB5AAA.",
        "roles": [
            "OnlineMeetingRecording.Read.All",
            "OnlineMeetingTranscript.Read.All",
            "OnlineMeetings.Read.All",
            "User.Read.All",
        ],
        "sub": "6b1e7c3a-04f5-4a1d-9d7e-2c8b5f0e4a17",
        "tenant_region_scope": "EU",
        "tid": TENANT_ID,
        "uti": "Xq3cP0l9bU6yX2m0k0FAAA",
        "ver": "1.0",
        "wids": ["0997a1d0-0d1d-4acb-b408-d5ca73121e90"],
        "xms_tcdt": 1600000000,
    }
    payload.update(overrides)
    return payload


class _CutConnection(io.RawIOBase):
    def __init__(self, data):
        self.data = data

    def readable(self):
        return True

    def readinto(self, buffer):
        if not self.data:
            raise http.client.IncompleteRead(b"")
        size = min(len(buffer), len(self.data))
        buffer[:size], self.data = self.data[:size], self.data[size:]
        return size


def cut_body(data):
    """A response body for `responses` that sends `data`, then breaks off like a dropped connection."""
    return io.BufferedReader(_CutConnection(data))
