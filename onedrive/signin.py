"""Sign-in with Microsoft for OneDrive, checked before anything is trusted.

With only the application id (the seed's Azure steps) the implicit grant is used: Microsoft sends the
tokens in the redirect URI's fragment, which the blank page relays to us with a same-site POST (a
cross-site form_post would arrive without the session cookie under SameSite=Lax). With a client secret
the authorization-code flow with PKCE runs through msal (the Microsoft kit's `DelegatedApp`) and gives a
refresh token.

Whatever arrives is checked: the `state` must be one this server issued to this user and not used
before; the ID token's signature (the tenant's published keys), audience, issuer, nonce and expiry are
verified (the kit's `openid.verify_id_token`). The access token is kept encrypted on the server
(`MicrosoftAccount`), never sent to the browser.

This module keeps what is OneDrive's own: the sign-ins (`SignInRequest`), the module's settings and which
flow they call for, and what to tell the reader when something fails.
"""
import hashlib
import json
import logging
import re
import secrets
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _, gettext_lazy

from integrations.microsoft import openid
from integrations.microsoft.errors import GraphUnauthorized, GraphUnreachable
from integrations.microsoft.graph import GraphClient
from integrations.microsoft.identity import DelegatedApp, authority

from .models import ANY_ORGANIZATION, MicrosoftAccount, SignInRequest

logger = logging.getLogger(__name__)

# The seed's delegated permissions (openid and profile are added by the identity platform and msal).
SCOPES = ["User.Read", "Files.Read.All"]
REFRESH_MARGIN = timedelta(minutes=2)
# Microsoft's access tokens last about an hour (a day at most with continuous access evaluation): a longer
# `expires_in` is not Microsoft's.
MAX_TOKEN_SECONDS = 2 * 24 * 3600
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
MAX_SIGN_INS = 10  # kept per user, open or used: a few tabs may each start one; more is a flood, the oldest give way


class SignInProblem(Exception):
    """A sign-in that cannot be completed; the message says what to do, and for whom."""

    def __init__(self, message, *, for_administrator=False):
        super().__init__(message)
        self.message = message
        self.for_administrator = for_administrator


def _unreadable_tokens():
    return SignInProblem(_("Microsoft's answer could not be read (token type or lifetime). Please sign in again."))


class SignInRequired(GraphUnauthorized):
    """The user's Microsoft sign-in has expired (or was never made): sign in again."""

    def __init__(self):
        super().__init__(_("Your Microsoft sign-in has expired. Sign in again to continue."),
                         status=401, code="signInRequired")


def redirect_uri(request) -> str:
    """The redirect URI to register in Azure, exactly as the portal sends it."""
    return request.build_absolute_uri(reverse("onedrive:blank_page"))


def redirect_uri_accepted(uri) -> bool:
    """Microsoft accepts a Web redirect URI on https, and on plain http only for this computer (localhost)."""
    parts = urlsplit(uri)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS)


def _delegated_app(module, tenant=None) -> DelegatedApp:
    """One per use, never shared: see DelegatedApp."""
    return DelegatedApp(module.application_id, module.client_secret, tenant or module.tenant)


# -- Starting ---------------------------------------------------------------------------------------------


def start(request, module, next_url="") -> str:
    """Record a new sign-in for this user and return the Microsoft URL to send the browser to."""
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    uri = redirect_uri(request)
    code_flow = ""
    if module.uses_code_flow:
        try:  # the answer comes in the query: a form_post would not survive SameSite=Lax cookies
            flow = _delegated_app(module).start_code_flow(SCOPES, redirect_uri=uri, state=state, response_mode="query")
        except GraphUnreachable as e:
            logger.warning("OneDrive sign-in could not start: %s", e)
            raise SignInProblem(_("Microsoft sign-in could not be reached. Try again in a few minutes.")) from e
        # msal sends the nonce's SHA-256 (OpenID Connect's advice), so that is what the ID token carries.
        nonce, code_flow = hashlib.sha256(flow["nonce"].encode("ascii")).hexdigest(), json.dumps(flow)
        authorize_url = flow["auth_uri"]
    else:
        authorize_url = f"{authority(module.tenant)}/oauth2/v2.0/authorize?" + urlencode({
            "client_id": module.application_id, "response_type": "id_token token", "redirect_uri": uri,
            "scope": " ".join(["openid", "profile", *SCOPES]), "response_mode": "fragment",
            "state": state, "nonce": nonce,
        })
    _forget_stale_sign_ins(request.user)
    SignInRequest.objects.create(user=request.user, state=state, nonce=nonce, code_flow=code_flow,
                                 application_id=module.application_id, redirect_uri=uri, next_url=next_url)
    return authorize_url


def _forget_stale_sign_ins(user):
    """Make room for one more sign-in of `user`: unused ones end with their 15 minutes, used ones are kept a day
    (a replay is then told "already used"), and only the newest MAX_SIGN_INS - 1 stay, used ones counted too
    (answering a sign-in with a made-up error uses it: two requests would otherwise keep a row for a day)."""
    now = timezone.now()
    mine = SignInRequest.objects.filter(user=user)
    mine.filter(Q(used__isnull=True, created__lt=now - timedelta(seconds=SignInRequest.LIFETIME_SECONDS))
                | Q(created__lt=now - timedelta(days=1))).delete()
    newest = list(mine.order_by("-created", "-pk").values_list("pk", flat=True)[:MAX_SIGN_INS - 1])
    mine.exclude(pk__in=newest).delete()


# -- Completing -------------------------------------------------------------------------------------------


def complete(request, module, answer) -> SignInRequest:
    """Check Microsoft's answer (query or relayed fragment) and keep the tokens. Returns the sign-in,
    whose `next_url` is where the user was going. Raises SignInProblem."""
    sign_in = _take_state(request.user, answer.get("state"))
    if answer.get("error"):
        raise problem_from_error(answer.get("error"), answer.get("error_description"), redirect_uri(request))
    if sign_in.application_id != module.application_id:
        raise SignInProblem(_("The OneDrive module's settings changed during the sign-in. Please sign in again."))
    if sign_in.code_flow:
        tokens = _redeem_code(module, sign_in, answer, redirect_uri(request))
    else:
        tokens = _implicit_tokens(answer)
    claims = verify_id_token(tokens["id_token"], client_id=module.application_id, tenant=module.tenant,
                             nonce=sign_in.nonce, access_token=tokens["access_token"])
    _keep_tokens(request.user, module, claims, tokens)
    return sign_in


def _take_state(user, state) -> SignInRequest:
    """The sign-in this state belongs to, marked used, or SignInProblem."""
    start_again = _("Start again from “Import from OneDrive”.")
    if not state or not isinstance(state, str) or len(state) > 64:
        raise SignInProblem(_("This answer from Microsoft does not belong to a sign-in started here "
                              "(it has no state). ") + start_again)
    with transaction.atomic():
        sign_in = SignInRequest.objects.select_for_update().filter(user=user, state=state).first()
        if sign_in is None:
            raise SignInProblem(_("This answer from Microsoft does not belong to a sign-in you started "
                                  "here. ") + start_again)
        if sign_in.used is not None:
            raise SignInProblem(_("This sign-in answer was already used once and cannot be used again. ")
                                + start_again)
        sign_in.used = timezone.now()
        sign_in.save(update_fields=["used"])
    if sign_in.expired:
        raise SignInProblem(_("The sign-in took too long and has expired. ") + start_again)
    return sign_in


def _implicit_tokens(answer):
    tokens = {name: answer.get(name) for name in ("access_token", "id_token", "token_type", "expires_in")}
    if not tokens["access_token"] or not tokens["id_token"]:
        raise SignInProblem(_("Microsoft's answer has no access token or no ID token. Administrator: in Azure, "
                              "under the app's Authentication, check both “Access tokens” and “ID tokens”."),
                            for_administrator=True)
    tokens["expires_in"] = token_lifetime(tokens["expires_in"])
    if (tokens["token_type"] or "").lower() != "bearer" or tokens["expires_in"] is None:
        raise _unreadable_tokens()
    return tokens


def _redeem_code(module, sign_in, answer, uri):
    if not answer.get("code"):
        raise SignInProblem(_("Microsoft's answer has no authorization code. Please sign in again."))
    flow = json.loads(sign_in.code_flow)
    try:
        result = _delegated_app(module).redeem_code(flow, {k: answer[k] for k in ("code", "state") if k in answer},
                                               SCOPES)
    except ValueError as e:  # msal's own state or nonce check
        raise SignInProblem(_("Microsoft's answer did not match this sign-in. Please sign in again.")) from e
    except GraphUnreachable as e:
        raise SignInProblem(_("Microsoft sign-in could not be reached. Try again in a few minutes.")) from e
    if "error" in result:
        raise problem_from_error(result.get("error"), result.get("error_description"), uri,
                                 codes=result.get("error_codes"))
    lifetime = token_lifetime(result.get("expires_in"))
    if lifetime is None:
        raise _unreadable_tokens()
    # We keep the refresh token ourselves, encrypted.
    return {**{name: result.get(name) for name in ("access_token", "id_token", "refresh_token")},
            "expires_in": lifetime}


def token_lifetime(expires_in):
    """The seconds a token lasts, from Microsoft's `expires_in` (a number, or digits in a fragment), or None when
    it is not a lifetime Microsoft gives: missing, not a whole number, zero or less, or longer than its longest."""
    if isinstance(expires_in, bool) or not isinstance(expires_in, (int, str)):
        return None
    text = str(expires_in)
    return int(text) if re.fullmatch(r"[0-9]{1,9}", text) and 0 < int(text) <= MAX_TOKEN_SECONDS else None


def _expires_at(lifetime):
    """When a token expires that lasts `lifetime` seconds (as token_lifetime read them) from now."""
    return timezone.now() + timedelta(seconds=lifetime)


def _keep_tokens(user, module, claims, tokens):
    MicrosoftAccount.objects.update_or_create(user=user, defaults={
        "tenant_id": claims["tid"], "object_id": claims.get("oid", ""),
        "username": claims.get("preferred_username", "")[:255], "display_name": claims.get("name", "")[:255],
        "application_id": module.application_id, "access_token": tokens["access_token"],
        "expires_at": _expires_at(tokens["expires_in"]),
        "refresh_token": tokens.get("refresh_token") or "",
    })


# -- What Microsoft's errors mean -------------------------------------------------------------------------


def problem_from_error(error, description, uri, *, codes=None) -> SignInProblem:
    """Microsoft's `error` and `error_description` (AADSTS code first) as a page the reader can act on."""
    description = str(description or "")
    codes = {str(code) for code in codes or []}
    first_line = description.replace("\\r\\n", "\n").splitlines()[0][:300] if description else ""

    def has(code):
        return code in codes or f"AADSTS{code}:" in description

    if has("50011"):
        return SignInProblem(_("Microsoft refused the sign-in because this portal's redirect URI is not registered "
                               "for the app. Administrator: in Azure, open the app registration, Authentication, "
                               "platform Web, and add exactly this redirect URI: %(uri)s") % {"uri": uri},
                             for_administrator=True)
    if error == "access_denied":
        return SignInProblem(_("The sign-in with Microsoft was cancelled, or the permissions were not accepted, "
                               "so nothing can be imported. Sign in again and accept the permissions to import "
                               "from OneDrive."))
    if error == "consent_required" or has("65001") or has("90094"):
        return SignInProblem(_("Your organisation requires an administrator to approve this portal's access to "
                               "OneDrive. Ask your Microsoft 365 administrator to grant consent to the app for "
                               "the permissions Files.Read.All, openid, profile and User.Read, then sign in "
                               "again."), for_administrator=True)
    if error == "unsupported_response_type":
        return SignInProblem(_("The app registration does not allow this sign-in. Administrator: in Azure, under "
                               "the app's Authentication, check “Access tokens” and “ID tokens” (implicit grant), "
                               "then save."), for_administrator=True)
    if error in ("login_required", "interaction_required"):
        return SignInProblem(_("Microsoft needs you to sign in again. Please sign in again."))
    if has("700016") or has("90002") or has("7000215") or has("7000222") or error == "unauthorized_client":
        return SignInProblem(_("Microsoft does not accept the OneDrive module's app settings (%(detail)s). "
                               "Administrator: check the applicationId (and the client secret, if one is set) "
                               "in the OneDrive module, and that the app is multitenant.") % {"detail": first_line},
                             for_administrator=True)
    return SignInProblem(_("Microsoft refused the sign-in: %(detail)s") % {"detail": first_line or error})


# -- ID token verification --------------------------------------------------------------------------------


# What each failed check of the kit's verification tells the reader.
NOT_VALID_BECAUSE = {
    openid.IdTokenInvalid.UNREADABLE: gettext_lazy("the ID token is not readable"),
    openid.IdTokenInvalid.NO_TENANT: gettext_lazy("the ID token names no organisation"),
    openid.IdTokenInvalid.UNKNOWN_KEY: gettext_lazy("it is not signed with a key of your organisation"),
    openid.IdTokenInvalid.SIGNATURE: gettext_lazy("the signature does not match"),
    openid.IdTokenInvalid.EXPIRED: gettext_lazy("the ID token has expired"),
    openid.IdTokenInvalid.AUDIENCE: gettext_lazy("the ID token was issued to another app"),
    openid.IdTokenInvalid.ISSUER: gettext_lazy("the ID token has an unexpected issuer"),
    openid.IdTokenInvalid.NONCE: gettext_lazy("the ID token does not answer this sign-in"),
    openid.IdTokenInvalid.AT_HASH: gettext_lazy("the access token does not belong to the ID token"),
}


def verify_id_token(token, *, client_id, tenant, nonce, access_token=None) -> dict:
    """The ID token's claims once the kit has checked signature, audience, issuer, nonce, expiry (and at_hash);
    the module's `tenant` says whose accounts are accepted. Raises SignInProblem."""
    try:
        return openid.verify_id_token(token, client_id=client_id, nonce=nonce, access_token=access_token,
                                      tenant=None if tenant == ANY_ORGANIZATION else tenant)
    except openid.SigningKeysUnavailable as e:
        raise SignInProblem(_("Microsoft's signing keys could not be read, so the sign-in cannot be checked. "
                              "Try again in a few minutes.")) from e
    except openid.IdTokenInvalid as e:
        if e.reason == e.OTHER_TENANT:
            raise SignInProblem(_("This portal accepts Microsoft accounts of one organisation only, and yours "
                                  "belongs to another. Sign in with your account of the portal's "
                                  "organisation.")) from e
        raise SignInProblem(_("The sign-in could not be verified (%(why)s). Please sign in again.")
                            % {"why": NOT_VALID_BECAUSE.get(e.reason, e.detail)}) from e


# -- Tokens for Graph -------------------------------------------------------------------------------------


class UserToken:
    """The token provider for a user's Graph calls: refreshed with the refresh token when there is one,
    otherwise SignInRequired once it has expired."""

    def __init__(self, account, module):
        self.account, self.module = account, module

    def __call__(self):
        account = self.account
        if account.expires_at - REFRESH_MARGIN > timezone.now():
            return account.access_token
        if account.refresh_token and self.module.uses_code_flow:
            return self._refresh()
        raise SignInRequired()

    def invalidate(self):  # after a 401: the token was revoked before its time
        self.account.expires_at = timezone.now()
        MicrosoftAccount.objects.filter(pk=self.account.pk).update(expires_at=self.account.expires_at)

    def _refresh(self):
        account = self.account
        try:
            result = _delegated_app(self.module, account.tenant_id).refresh(account.refresh_token, SCOPES)
        except GraphUnreachable as e:
            raise SignInRequired() from e
        if "access_token" not in result:
            logger.info("Refresh of %s's Microsoft sign-in refused: %s", account.user_id, result.get("error"))
            raise SignInRequired()
        lifetime = token_lifetime(result.get("expires_in"))
        if lifetime is None:
            logger.info("Refresh of %s's Microsoft sign-in answered an unreadable lifetime", account.user_id)
            raise SignInRequired()
        account.access_token = result["access_token"]
        account.expires_at = _expires_at(lifetime)
        account.refresh_token = result.get("refresh_token") or account.refresh_token
        account.save(update_fields=["access_token", "expires_at", "refresh_token", "updated"])
        return account.access_token


def graph_for_user(user, module, **options) -> GraphClient:
    """A Graph client with the user's delegated token; SignInRequired when they have none."""
    account = MicrosoftAccount.objects.filter(user=user, application_id=module.application_id).first()
    if account is None:
        raise SignInRequired()
    return GraphClient(UserToken(account, module), **options)


def is_signed_in(user, module) -> bool:
    account = MicrosoftAccount.objects.filter(user=user, application_id=module.application_id).first()
    return account is not None and (account.expires_at - REFRESH_MARGIN > timezone.now()
                                    or bool(account.refresh_token and module.uses_code_flow))
