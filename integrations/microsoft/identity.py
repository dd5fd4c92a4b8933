"""Signing in to Microsoft with msal, for both integrations.

- ``confidential_app`` builds the msal application: the Teams app-only ``AppTokenProvider`` (graph.py) and
  OneDrive's delegated sign-in use the same one.
- ``MsalHttp`` is the HTTP client msal is given: timeouts, and the last error answer kept.
- ``DelegatedApp`` is a user's delegated sign-in (authorization-code flow with PKCE, token refresh); what the
  product does with the tokens (state, storage, its messages) is the product's business.
"""
import warnings

import msal
import requests
from django.views.decorators.debug import sensitive_variables

from mediaspace.conf import setting

from .errors import GraphUnreachable

TIMEOUT = (10, 30)  # seconds to connect, to read

# For a kit method that signs in to Microsoft or sends a token: its frame and msal's and requests' frames below
# it hold the client secret, the code, a refresh or access token in their local variables, which Django's error
# reports and the technical 500 page (DEBUG, as `make run` runs) would show. A method marked so shows none.
holds_secrets = sensitive_variables()


def authority(tenant) -> str:
    """The identity platform's URL for `tenant` (a directory id, or "organizations")."""
    return f"{setting('MICROSOFT_LOGIN_URL')}/{tenant}"


class MsalHttp:
    """The HTTP client handed to msal: timeouts, and the last error answer kept.

    msal reports an unknown tenant (a 400 from OpenID discovery) as a bare ValueError; the kept
    answer lets us report Microsoft's own AADSTS code instead.
    """

    def __init__(self, timeout=TIMEOUT):
        self.session = requests.Session()
        self.timeout = timeout
        self.last_error = None

    def get(self, url, **kwargs):
        return self._request("GET", url, **kwargs)

    def post(self, url, **kwargs):
        return self._request("POST", url, **kwargs)

    def close(self):
        self.session.close()

    def _request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        response = self.session.request(method, url, **kwargs)
        if response.status_code >= 400:
            self.last_error = response
        return response


def confidential_app(client_id, client_secret, tenant, *, http_client=None, **options):
    """msal's application for `tenant`. msal reads the tenant's OpenID configuration as it is built (a bare
    ValueError for an unknown tenant, a requests error when unreachable). `options`: msal's, e.g. token_cache."""
    return msal.ConfidentialClientApplication(
        client_id, client_credential=client_secret, authority=authority(tenant),
        instance_discovery=False,  # trust the configured login URL (the simulator too)
        http_client=http_client or MsalHttp(), **options,
    )


# msal reads the authority's OpenID configuration whenever an application is built; this keeps it for the
# delegated sign-ins, which build one application per use.
_DISCOVERY_CACHE = {}


class DelegatedApp:
    """A user's delegated sign-in with msal: one per use, not one shared, so that its token cache never hands
    one user's refresh token to another. Raises GraphUnreachable when Microsoft cannot be reached."""

    def __init__(self, client_id, client_secret, tenant):
        self.client_id, self._client_secret, self.tenant = client_id, client_secret, tenant
        self._app = None

    def __repr__(self):
        return f"<DelegatedApp tenant={self.tenant} client={self.client_id}>"

    @holds_secrets
    def start_code_flow(self, scopes, *, redirect_uri, state, response_mode) -> dict:
        """msal's authorization-code flow (PKCE): `auth_uri` is where to send the browser; keep the whole flow
        for `redeem_code`. Its `nonce` is msal's, and the ID token carries its SHA-256."""
        try:
            with warnings.catch_warnings():  # msal advises form_post; the caller chose its response_mode
                warnings.simplefilter("ignore", UserWarning)
                return self._application().initiate_auth_code_flow(
                    scopes, redirect_uri=redirect_uri, state=state, response_mode=response_mode)
        except ValueError as e:
            raise GraphUnreachable(f"Microsoft sign-in could not start ({type(e).__name__})") from e

    @holds_secrets
    def redeem_code(self, flow, answer, scopes) -> dict:
        """Microsoft's tokens for the code in `answer` (its `code` and `state`), or its `error`. The refresh
        token msal keeps in its cache comes out as `refresh_token` ("" when none was given).
        Raises ValueError when the answer does not match `flow` (msal's own state and nonce check)."""
        app = self._application()
        try:
            result = app.acquire_token_by_auth_code_flow(flow, answer, scopes=scopes)
        except requests.RequestException as e:
            raise _unreachable(e) from e
        if "error" in result:
            return result
        refresh = next(iter(app.token_cache.search(msal.TokenCache.CredentialType.REFRESH_TOKEN)), {})
        return {**result, "refresh_token": refresh.get("secret", "")}

    @holds_secrets
    def refresh(self, refresh_token, scopes) -> dict:
        """New tokens for `refresh_token`: `access_token`, `expires_in` and perhaps a new `refresh_token`, or
        Microsoft's `error`."""
        try:
            return self._application().acquire_token_by_refresh_token(refresh_token, scopes=scopes)
        except requests.RequestException as e:
            raise _unreachable(e) from e
        except ValueError:  # msal could not read the answer (an `expires_in` that is no number): no tokens
            return {"error": "unreadable_answer"}

    def _application(self):
        if self._app is None:
            try:
                self._app = confidential_app(self.client_id, self._client_secret, self.tenant,
                                             http_cache=_DISCOVERY_CACHE)
            except ValueError as e:  # msal could not read the tenant's OpenID configuration
                raise GraphUnreachable("Microsoft has no sign-in configuration for this tenant") from e
            except requests.RequestException as e:
                raise _unreachable(e) from e
        return self._app


def _unreachable(error):
    return GraphUnreachable(f"Microsoft sign-in could not be reached ({type(error).__name__})")
