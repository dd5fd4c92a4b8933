"""The identity platform (login.microsoftonline.com): OpenID configuration, signing keys, the token endpoint
(client credentials, authorization code with PKCE, refresh token) and the authorize page, with Microsoft's
error bodies (https://learn.microsoft.com/entra/identity-platform/reference-error-codes)."""
import base64
import functools
import hashlib
import html
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from .server import HttpResponse

GRAPH = "https://graph.microsoft.com"
GRAPH_AUDIENCES = (GRAPH, "00000003-0000-0000-c000-000000000000")
MULTI_TENANT = ("common", "organizations")
OIDC_SCOPES = {"openid", "profile", "email", "offline_access"}
CODE_LIFETIME = timedelta(minutes=10)

# AADSTS code: (HTTP status, error, description). Wording from Microsoft's answers (see tests/microsoft/).
ERRORS = {
    90002: (400, "invalid_tenant", "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and "
                                   "are signing into the correct cloud. Check with your subscription administrator, "
                                   "this may happen if there are no active subscriptions for the tenant."),
    700016: (400, "unauthorized_client", "Application with identifier '{client}' was not found in the directory "
                                         "'{directory}'. This can happen if the application has not been installed by "
                                         "the administrator of the tenant or consented to by any user in the tenant. "
                                         "You may have sent your authentication request to the wrong tenant."),
    7000112: (400, "unauthorized_client", "Application '{client}'({name}) is disabled."),
    7000215: (401, "invalid_client", "Invalid client secret provided. Ensure the secret being sent in the request is "
                                     "the client secret value, not the client secret ID, for a secret added to app "
                                     "'{client}'."),
    7000222: (401, "invalid_client", "The provided client secret keys for app '{client}' are expired. Visit the Azure "
                                     "portal to create new keys for your app: https://aka.ms/NewClientSecret, or "
                                     "consider using certificate credentials for added security: "
                                     "https://aka.ms/certCreds."),
    7000218: (401, "invalid_client", "The request body must contain the following parameter: 'client_assertion' or "
                                     "'client_secret'."),
    1002012: (400, "invalid_scope", "The provided value for scope {scope} is not valid. Client credential flows must "
                                    "have a scope value with /.default suffixed to the resource identifier "
                                    "(application ID URI)."),
    70008: (400, "invalid_grant", "The provided authorization code or refresh token has expired due to inactivity. "
                                  "Send a new interactive authorization request for this user and resource."),
    54005: (400, "invalid_grant", "OAuth2 Authorization code was already redeemed, please retry with a new valid code "
                                  "or use an existing refresh token."),
    70000: (400, "invalid_grant", "The provided value for the 'redirect_uri' is not valid. The value must exactly "
                                  "match the redirect URI used to obtain the authorization code."),
    50148: (400, "invalid_grant", "The code_verifier does not match the code_challenge supplied in the authorization "
                                  "request for PKCE."),
    50173: (400, "invalid_grant", "The provided grant has expired due to it being revoked, a fresh auth token is "
                                  "needed. The user might have changed or reset their password."),
    9002313: (400, "invalid_grant", "Invalid request. Request is malformed or invalid."),
    70003: (400, "unsupported_grant_type", "The app requested an unsupported grant type '{grant}'."),
}
PAGE_ERRORS = {  # shown on Microsoft's sign-in page; the browser is not sent back to the app
    50011: "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured "
           "for the application '{client}'. Make sure the redirect URI sent in the request matches one added to your "
           "application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about "
           "how to fix this.",
    700016: ERRORS[700016][2],
    90002: ERRORS[90002][2],
}
REDIRECT_ERRORS = {  # sent back to the app's redirect URI
    65004: ("access_denied", "User declined to consent to access the app."),
    700054: ("unsupported_response_type", "response_type '{response_type}' is not enabled for the application."),
    50058: ("login_required", "A silent sign-in request was sent but no user is signed in."),
}


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _stamp():
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


class SigningKey:
    """An RSA key with a self-signed certificate, published like Microsoft's (kid = x5t = certificate thumbprint)."""

    def __init__(self):
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "accounts.accesscontrol.simulator")])
        moment = datetime.now(timezone.utc)
        certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                       .public_key(self.private.public_key()).serial_number(x509.random_serial_number())
                       .not_valid_before(moment - timedelta(days=1)).not_valid_after(moment + timedelta(days=365))
                       .sign(self.private, hashes.SHA256()))
        der = certificate.public_bytes(serialization.Encoding.DER)
        self.kid = _b64(hashlib.sha1(der).digest())
        numbers = self.private.public_key().public_numbers()
        self.jwk = {"kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid,
                    "n": _b64(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
                    "e": _b64(numbers.e.to_bytes(3, "big")), "x5c": [base64.b64encode(der).decode()]}

    def sign(self, claims):
        return jwt.encode(claims, self.private, algorithm="RS256", headers={"typ": "JWT", "kid": self.kid,
                                                                            "x5t": self.kid})

    def claims(self, token):
        """The claims of a token this key signed; jwt.InvalidTokenError otherwise. Expiry is the caller's check."""
        return jwt.decode(token, self.private.public_key(), algorithms=["RS256"],
                          options={"verify_aud": False, "verify_exp": False, "verify_nbf": False, "verify_iat": False})


@functools.cache
def signing_key():
    return SigningKey()  # one per process: making an RSA key takes a moment


@dataclass
class Code:
    user: object
    client_id: str
    redirect_uri: str
    scopes: list
    nonce: str | None
    challenge: str | None
    challenge_method: str
    expires: datetime


def error(code, **values):
    status, error_name, description = ERRORS[code]
    return HttpResponse(status, error_body(code, error_name, description.format(**values)))


def error_body(code, error_name, description):
    trace, correlation, stamp = str(uuid.uuid4()), str(uuid.uuid4()), _stamp()
    return {"error": error_name,
            "error_description": f"AADSTS{code}: {description}\r\nTrace ID: {trace}\r\nCorrelation ID: "
                                 f"{correlation}\r\nTimestamp: {stamp}",
            "error_codes": [code], "timestamp": stamp, "trace_id": trace, "correlation_id": correlation,
            "error_uri": f"https://login.microsoftonline.com/error?code={code}"}


# -- tokens ------------------------------------------------------------------------------------------------


def issue(sim, subject, claims, lifetime):
    moment = int(time.time())
    uti = _b64(secrets.token_bytes(16))
    with sim._lock:
        sim._issued[subject].add(uti)
    return signing_key().sign({"aud": GRAPH, "iat": moment, "nbf": moment, "exp": moment + lifetime, "uti": uti,
                               "ver": "1.0", **claims})


def app_token(sim, app, lifetime=None):
    tid, principal = app.tenant.id, str(uuid.uuid5(uuid.NAMESPACE_URL, app.client_id))  # the service principal
    return issue(sim, app.client_id, {
        "iss": f"https://sts.windows.net/{tid}/", "idp": f"https://sts.windows.net/{tid}/", "app_displayname": app.name,
        "appid": app.client_id, "appidacr": "1", "idtyp": "app", "oid": principal, "roles": list(app.roles),
        "sub": principal, "tid": tid,
    }, lifetime or sim.token_lifetime)


def user_token(sim, user, client_id, scopes, lifetime=None):
    tid = user.tenant.id
    return issue(sim, user.id, {
        "iss": f"https://sts.windows.net/{tid}/", "appid": client_id, "idtyp": "user", "name": user.display_name,
        "oid": user.id, "scp": " ".join(scopes), "sub": _pairwise(user, client_id), "tid": tid, "upn": user.upn,
        "unique_name": user.upn,
    }, lifetime or sim.token_lifetime)


def id_token(base, user, client_id, *, nonce=None, scopes=(), access_token=None, code=None):
    moment, tid = int(time.time()), user.tenant.id
    claims = {"aud": client_id, "iss": f"{base}/{tid}/v2.0", "iat": moment, "nbf": moment, "exp": moment + 3600,
              "name": user.display_name, "oid": user.id, "preferred_username": user.upn,
              "sub": _pairwise(user, client_id), "tid": tid, "uti": _b64(secrets.token_bytes(16)), "ver": "2.0"}
    if nonce:
        claims["nonce"] = nonce
    if "email" in scopes and user.mail:
        claims["email"] = user.mail
    for name, value in (("at_hash", access_token), ("c_hash", code)):
        if value:
            claims[name] = _b64(hashlib.sha256(value.encode()).digest()[:16])
    return signing_key().sign(claims)


def _pairwise(user, client_id):
    return _b64(hashlib.sha256(f"{user.id}:{client_id}".encode()).digest())


def graph_scopes(scopes):
    """Delegated permissions asked for, without the resource prefix: 'https://graph.microsoft.com/Files.Read.All'
    and 'Files.Read.All' are the same; OpenID scopes stay (Microsoft lists them in scp too)."""
    names = [scope.rsplit("/", 1)[-1] for scope in scopes if scope != "offline_access"]
    return [name for name in names if name != ".default"] or ["User.Read"]


# -- endpoints ---------------------------------------------------------------------------------------------


def answer(sim, request):
    parts = request.path.strip("/").split("/")
    if parts == ["common", "discovery", "instance"]:
        return HttpResponse(200, instance_metadata(request))
    if len(parts) < 2:
        return HttpResponse(404, "Not found")
    segment, rest = parts[0], "/".join(parts[1:])
    tenant = sim.find_tenant(segment)
    if tenant is None and segment.lower() not in MULTI_TENANT:
        if rest == "oauth2/v2.0/authorize":
            return _page(90002, tenant=segment)
        return error(90002, tenant=segment)
    if rest == "v2.0/.well-known/openid-configuration":
        return HttpResponse(200, openid_configuration(request.base, tenant.id if tenant else segment, tenant))
    if rest == "discovery/v2.0/keys":
        return HttpResponse(200, {"keys": [{**signing_key().jwk, "issuer": f"{request.base}/{{tenantid}}/v2.0"}]})
    if rest == "oauth2/v2.0/token" and request.method == "POST":
        return token(sim, request, segment, tenant)
    if rest == "oauth2/v2.0/authorize" and request.method in ("GET", "POST"):
        return authorize(sim, request, tenant)
    return HttpResponse(404, "Not found")


def instance_metadata(request):
    host = request.headers.get("Host", "")
    return {"tenant_discovery_endpoint": f"{request.base}/common/v2.0/.well-known/openid-configuration",
            "api-version": "1.1", "metadata": [{"preferred_network": host, "preferred_cache": host,
                                                "aliases": [host]}]}


def openid_configuration(base, segment, tenant):
    authority = f"{base}/{segment}"
    return {
        "token_endpoint": f"{authority}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"{authority}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{base}/{tenant.id if tenant else '{tenantid}'}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{GRAPH}/oidc/userinfo",
        "authorization_endpoint": f"{authority}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{authority}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{authority}/oauth2/v2.0/logout",
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
                             "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username",
                             "name", "tid", "ver", "at_hash", "c_hash", "email"],
        "kerberos_endpoint": f"{authority}/kerberos",
        "tenant_region_scope": "EU" if tenant else None,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }


def token(sim, request, segment, tenant):
    form = request.form
    client_id, secret = form.get("client_id", ""), form.get("client_secret")
    basic = request.headers.get("Authorization", "")
    if basic.startswith("Basic "):
        client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
    request.client = client_id
    grant = form.get("grant_type", "")
    app = sim.apps.get(client_id)
    if app is None or (grant == "client_credentials" and app.tenant is not tenant):
        return error(700016, client=client_id, directory=tenant.name if tenant else segment)
    if not app.enabled:
        return error(7000112, client=client_id, name=app.name)
    if secret is not None or grant == "client_credentials" or app.secrets:
        state = "missing" if secret is None else app.check_secret(secret)
        if state != "valid":
            return error({"missing": 7000218, "wrong": 7000215, "expired": 7000222}[state], client=client_id)
    if grant == "client_credentials":
        scope = form.get("scope", "")
        if not any(name.endswith("/.default") for name in scope.split()):
            return error(1002012, scope=scope)
        access = app_token(sim, app)
        return HttpResponse(200, {"token_type": "Bearer", "expires_in": sim.token_lifetime,
                                  "ext_expires_in": sim.token_lifetime, "access_token": access})
    if grant == "authorization_code":
        return _redeem_code(sim, request, app, form)
    if grant == "refresh_token":
        with sim._lock:
            granted = sim._refresh_tokens.get(form.get("refresh_token", ""))
        if granted is None or granted[1] != client_id:
            return error(9002313)
        user, _client, scopes = granted
        if form.get("refresh_token") in sim._revoked:
            return error(50173)
        return _user_tokens(sim, request, user, app, scopes, client_info=form.get("client_info"))
    return error(70003, grant=grant)


def _redeem_code(sim, request, app, form):
    value = form.get("code", "")
    code = sim._codes.get(value)
    if code is None:
        return error(54005 if value in sim._redeemed else 70008)
    if code.expires < datetime.now(timezone.utc) or code.client_id != app.client_id:
        return error(70008)
    if form.get("redirect_uri") != code.redirect_uri:
        return error(70000)
    if code.challenge:
        verifier = form.get("code_verifier", "")
        expected = _b64(hashlib.sha256(verifier.encode()).digest()) if code.challenge_method == "S256" else verifier
        if not verifier or not secrets.compare_digest(expected, code.challenge):
            return error(50148)
    with sim._lock:
        if sim._codes.pop(value, None) is None:  # another request redeemed it meanwhile
            return error(54005)
        sim._redeemed.add(value)
    return _user_tokens(sim, request, code.user, app, code.scopes, nonce=code.nonce,
                        client_info=form.get("client_info"))


def _user_tokens(sim, request, user, app, scopes, *, nonce=None, client_info=None):
    permissions = graph_scopes(scopes)
    access = user_token(sim, user, app.client_id, permissions)
    lifetime = sim.token_lifetime if sim.answered_lifetime is None else sim.answered_lifetime
    body = {"token_type": "Bearer", "scope": " ".join(permissions), "expires_in": lifetime,
            "ext_expires_in": lifetime, "access_token": access}
    if "offline_access" in scopes:
        body["refresh_token"] = refresh = _b64(secrets.token_bytes(48))
        with sim._lock:
            sim._refresh_tokens[refresh] = (user, app.client_id, scopes)
            sim._issued[user.id].add(refresh)
    if "openid" in scopes:
        body["id_token"] = id_token(request.base, user, app.client_id, nonce=nonce, scopes=scopes)
    if client_info == "1":
        body["client_info"] = _b64(f'{{"uid":"{user.id}","utid":"{user.tenant.id}"}}'.encode())
    return HttpResponse(200, body)


def authorize(sim, request, tenant):
    """GET: the sign-in page (one button per user, and Cancel). POST (the page's form): back to the app."""
    params = {**request.params, **(request.form if request.method == "POST" else {})}
    app = sim.apps.get(params.get("client_id", ""))
    redirect_uri = params.get("redirect_uri", "")
    if app is None:
        return _page(700016, client=params.get("client_id", ""), directory=tenant.name if tenant else "common")
    if redirect_uri not in app.redirect_uris:
        return _page(50011, redirect_uri=redirect_uri, client=app.client_id)
    request.client = app.client_id
    response_type = params.get("response_type", "code").split()
    mode = params.get("response_mode") or ("query" if response_type == ["code"] else "fragment")
    back = functools.partial(_back_to_app, redirect_uri, mode, state=params.get("state"))
    implicit = [kind for kind in response_type if kind in ("token", "id_token")]
    if implicit and not app.implicit_grant:
        return back(_redirect_error(700054, response_type=implicit[0]))
    if params.get("prompt") == "none":
        return back(_redirect_error(50058))
    users = [user for user in sim.users if tenant is None or user.tenant is tenant]
    if request.method == "GET":
        return _sign_in_page(request, app, users)
    if "cancel" in params:
        return back(_redirect_error(65004))
    user = next((user for user in users if user.upn == params.get("login")), None)
    if user is None:
        return _sign_in_page(request, app, users, status=400)
    request.client = user.upn
    scopes, answer = params.get("scope", "openid").split(), {}
    code = access = None
    if "code" in response_type:
        code = _b64(secrets.token_bytes(32))
        with sim._lock:
            sim._codes[code] = Code(user, app.client_id, redirect_uri, scopes, params.get("nonce"),
                                    params.get("code_challenge"), params.get("code_challenge_method", "plain"),
                                    datetime.now(timezone.utc) + CODE_LIFETIME)
        answer["code"] = code
    if "token" in response_type:
        permissions = graph_scopes(scopes)
        access = user_token(sim, user, app.client_id, permissions)
        answer.update(access_token=access, token_type="Bearer", expires_in=str(sim.token_lifetime),
                      scope=" ".join(permissions))
    if "id_token" in response_type:
        answer["id_token"] = id_token(request.base, user, app.client_id, nonce=params.get("nonce"),
                                      scopes=scopes, access_token=access, code=code)
    answer["session_state"] = str(uuid.uuid4())
    return back(answer)


def _redirect_error(code, **values):
    name, description = REDIRECT_ERRORS[code]
    body = error_body(code, name, description.format(**values))
    return {"error": name, "error_description": body["error_description"], "error_uri": body["error_uri"]}


def _back_to_app(redirect_uri, mode, answer, *, state=None):
    fields = {**answer, **({"state": state} if state is not None else {})}
    if mode == "form_post":
        inputs = "".join(f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}">'
                         for name, value in fields.items())
        return HttpResponse(200, f'<!doctype html><html><head><title>Working...</title></head>'
                                 f'<body onload="document.forms[0].submit()"><form method="POST" '
                                 f'action="{html.escape(redirect_uri)}">{inputs}<noscript><button>Continue</button>'
                                 f'</noscript></form></body></html>')
    separator = "#" if mode == "fragment" else ("&" if "?" in redirect_uri else "?")
    return HttpResponse(302, headers={"Location": f"{redirect_uri}{separator}{urlencode(fields)}"})


def _sign_in_page(request, app, users, status=200):
    buttons = "".join(f'<li><button type="submit" name="login" value="{html.escape(user.upn)}">'
                      f'{html.escape(user.display_name)} ({html.escape(user.upn)})</button></li>' for user in users)
    action = html.escape(f"{request.path}?{request.query}")
    return HttpResponse(status, f'<!doctype html><html><head><title>Sign in to your account</title></head><body>'
                                f'<h1>Sign in</h1><p>{html.escape(app.name)} wants to sign you in.</p>'
                                f'<form method="post" action="{action}"><ul>{buttons}</ul>'
                                f'<button type="submit" name="cancel" value="1">Cancel</button></form></body></html>')


def _page(code, **values):
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    message = html.escape(f"AADSTS{code}: {PAGE_ERRORS[code].format(**values)}", quote=False)
    return HttpResponse(400, f"<!doctype html><html><head><title>Sign in to your account</title></head><body>"
                             f"<h1>Sorry, but we’re having trouble signing you in.</h1><p id=\"error\">{message}</p>"
                             f"<p>Request Id: {trace}<br>Correlation Id: {correlation}<br>Timestamp: {_stamp()}</p>"
                             f"</body></html>")
