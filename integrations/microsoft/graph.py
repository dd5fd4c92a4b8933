"""One small Microsoft Graph client shared by the Teams integration and the OneDrive module.

- ``GraphError`` and its subclasses (errors.py) carry only what Microsoft said (code, message, AADSTS
  numbers): never a secret, a bearer token or a query string.
- ``AppTokenProvider`` gets application tokens with msal and keeps them until they expire.
  Any callable returning a token string (a delegated user token) works as well.
- ``GraphClient`` retries throttling and dropped connections, follows ``@odata.nextLink`` and
  streams downloads, following pre-authenticated redirects without the bearer token.
"""
import base64
import json
import logging
import threading
import time
from urllib.parse import urljoin, urlsplit

import msal
import requests
from msal.exceptions import MsalServiceError

from mediaspace.conf import setting

from .errors import GraphError, GraphThrottled, GraphUnreachable, TokenError, retry_after_seconds
from .identity import MsalHttp, confidential_app, holds_secrets

logger = logging.getLogger(__name__)

# Without it Graph reports evolvable enum values such as onlineMeetingRole "coorganizer" as
# "unknownFutureValue".
PREFER = "include-unknown-enum-members"
RETRY_STATUSES = {429, 503, 504}
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
MAX_BACKOFF = 60


def token_claims(token):
    """The payload of a JWT access token, not verified: it came straight from the token endpoint over TLS."""
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (AttributeError, IndexError, ValueError) as e:
        raise TokenError("The access token is not a readable JWT", code="invalid_token") from e


class AppTokenProvider:
    """Application (client credentials) tokens for Graph in one tenant; call it for a token string.

    Keep one instance per integration: its msal token cache hands back the same token until it
    expires, so calling it before every request costs nothing.
    """

    def __init__(self, tenant_id, client_id, client_secret, *, timeout=(10, 30)):
        self.tenant_id = tenant_id
        self.client_id = client_id
        self._client_secret = client_secret
        self.cache = msal.SerializableTokenCache()
        self._http = MsalHttp(timeout)
        self._app = None  # built on first use: msal fetches the tenant's OpenID configuration then
        self._lock = threading.Lock()

    def __repr__(self):
        return f"<AppTokenProvider tenant={self.tenant_id} client={self.client_id}>"

    @holds_secrets
    def __call__(self):
        with self._lock:
            self._http.last_error = None
            try:
                result = self._application().acquire_token_for_client(
                    scopes=[f"{setting('MICROSOFT_GRAPH_URL')}/.default"])
            except requests.RequestException as e:
                raise GraphUnreachable("Microsoft sign-in could not be reached") from e
            except MsalServiceError as e:  # msal raises this for a 5xx answer
                status = getattr(self._http.last_error, "status_code", None)
                raise GraphUnreachable("Microsoft sign-in answered with a server error", status=status) from e
            except ValueError as e:  # unknown tenant or malformed authority
                raise self._discovery_error() from e
        if "access_token" not in result:
            raise TokenError.from_result(result, status=getattr(self._http.last_error, "status_code", None))
        return result["access_token"]

    def invalidate(self):
        """Forget cached tokens, so the next call asks Microsoft again (used after a 401)."""
        with self._lock:
            if self._app is not None:
                self._app.remove_tokens_for_client()

    def claims(self):
        return token_claims(self())

    def roles(self):
        """Application permissions granted (with admin consent) to the app, e.g. ["User.Read.All"]."""
        return list(self.claims().get("roles", []))

    def _application(self):
        if self._app is None:
            self._app = confidential_app(self.client_id, self._client_secret, self.tenant_id,
                                         token_cache=self.cache, http_client=self._http)
        return self._app

    def _discovery_error(self):
        answer = self._http.last_error
        if answer is not None and answer.status_code in RETRY_STATUSES:
            return GraphThrottled.from_response(answer)  # msal cannot read a throttled answer either
        if answer is not None and answer.status_code < 500:
            return TokenError.from_response(answer)
        return TokenError("Microsoft has no sign-in configuration for this tenant", code="invalid_tenant")


class Pages:
    """Items of a Graph collection, page after page along ``@odata.nextLink``.

    Iterate it for the items; once iteration is complete, ``delta_link`` holds the final page's
    ``@odata.deltaLink`` (None for collections that are not delta queries). Save it and pass it as
    the path of the next round.
    """

    def __init__(self, client, url, params):
        self._client, self._url, self._params = client, url, params
        self.delta_link = None

    def __iter__(self):
        url, params = self._url, self._params
        while url:
            page = self._client._json("GET", self._client._url(url), params=params)
            yield from page.get("value", [])
            # nextLink already carries the query of the first request.
            url, params = page.get("@odata.nextLink"), None
            self.delta_link = page.get("@odata.deltaLink")


class Download:
    """An open download: iterate for byte chunks, then close() (or use ``with``).

    ``resumed`` is True when a Range request was honoured (206) and the bytes continue from
    ``start``; False means the server sent the whole content from byte 0. ``content_length`` is
    the length of what this answer carries (the rest of the file for a 206).
    """

    def __init__(self, response, *, start, chunk_size):
        self._response = response
        self._chunk_size = chunk_size
        self.status_code = response.status_code
        self.headers = response.headers
        self.resumed = start > 0 and response.status_code == 206
        length = response.headers.get("Content-Length", "")
        self.content_length = int(length) if length.isdigit() else None

    def __iter__(self):
        try:
            for chunk in self._response.iter_content(self._chunk_size):
                if chunk:
                    yield chunk
        except requests.RequestException as e:  # downloads may be cut mid-stream: resume with start=
            raise GraphUnreachable("The download was interrupted") from e

    def close(self):
        self._response.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class ResumingDownload:
    """The content's bytes, chunk by chunk: a download cut mid-stream resumes where it stopped with Range,
    up to ``max_resumes`` times (a server that ignores Range starts over, and what already arrived is skipped).

    ``on_length(n)`` is called with the content's length when the first answer gives it. After a failure,
    ``error`` holds the GraphError that ended the download, for callers whose consumer only keeps a message.
    """

    def __init__(self, client, url, *, max_resumes=5, on_length=None, chunk_size=None):
        self._client, self._url, self._chunk_size = client, url, chunk_size
        self._max_resumes, self._on_length = max_resumes, on_length
        self.error = None

    def __iter__(self):
        received, resumes = 0, 0
        while True:
            try:
                with self._client.stream(self._url, start=received, chunk_size=self._chunk_size) as download:
                    if received == 0 and download.content_length and self._on_length:
                        self._on_length(download.content_length)
                    skip = received if received and not download.resumed else 0  # the server started over
                    for chunk in download:
                        if skip:
                            dropped = min(skip, len(chunk))
                            chunk, skip = chunk[dropped:], skip - dropped
                            if not chunk:
                                continue
                        received += len(chunk)
                        yield chunk
                return
            except GraphUnreachable as error:
                resumes += 1
                if resumes > self._max_resumes:
                    self.error = error
                    raise
                logger.info("Download of %s cut after %s bytes; resuming", urlsplit(self._url).path, received)
            except GraphError as error:
                self.error = error
                raise


class GraphClient:
    """Calls Microsoft Graph with a token from ``token_provider`` (a callable returning a token string)."""

    def __init__(self, token_provider, *, base_url=None, session=None, timeout=(10, 60), max_tries=5,
                 max_wait=None, sleep=None):
        self.token_provider = token_provider
        self.base_url = (base_url or f"{setting('MICROSOFT_GRAPH_URL')}/v1.0").rstrip("/")
        self.session = session or requests.Session()
        self.timeout = timeout
        self.max_tries = max_tries
        # A Retry-After longer than this is not waited out here: GraphThrottled goes to the caller, which
        # can reschedule the work instead of holding a worker (None: wait however long Microsoft asks).
        self.max_wait = max_wait
        self.sleep = sleep or (lambda seconds: time.sleep(seconds))  # looked up late, so tests can patch it

    def get(self, path, **params) -> dict:
        return self._json("GET", self._url(path), params=params or None)

    def post(self, path, json) -> dict:
        """POST a JSON body, e.g. ``$batch`` of reads (retried like a GET: do not use for writes)."""
        return self._json("POST", self._url(path), json=json)

    def patch(self, path, json) -> dict:
        """PATCH a JSON body: an update that sets the same values if repeated, so retried like a GET."""
        return self._json("PATCH", self._url(path), json=json)

    def delete(self, path):
        """DELETE a Graph object (a GraphNotFound says it is gone already)."""
        self._send("DELETE", self._url(path)).close()

    def iter_pages(self, path, **params) -> Pages:
        return Pages(self, path, params or None)

    def stream(self, path_or_url, *, start=0, chunk_size=None) -> Download:
        """Download content from ``start``; a redirect to another host is followed without the token."""
        url = self._url(path_or_url)
        headers = {"Range": f"bytes={start}-"} if start > 0 else {}
        authorize = True
        for _ in range(5):
            response = self._send("GET", url, authorize=authorize, headers=headers, stream=True,
                                  allow_redirects=False)
            if response.status_code not in REDIRECT_STATUSES:
                # The ingest's chunk size too, so its reader passes the chunks on without copying them.
                return Download(response, start=start,
                                chunk_size=chunk_size or setting("MEDIASPACE_INGEST_CHUNK_SIZE"))
            location = response.headers.get("Location")
            response.close()
            if not location:
                break
            url = urljoin(url, location)
            # /content answers with a short-lived pre-authenticated URL: our token must not follow.
            authorize = authorize and self._on_graph(url)
        raise GraphError("The download redirect could not be followed", status=response.status_code)

    def download(self, path_or_url, **options) -> ResumingDownload:
        """Stream content that survives cuts: see ``ResumingDownload``."""
        return ResumingDownload(self, path_or_url, **options)

    def _url(self, path):
        if "://" not in path:
            return f"{self.base_url}/{path.lstrip('/')}"
        if not self._on_graph(path):
            raise GraphError(f"Refusing to send the Graph token to {urlsplit(path).hostname}")
        return path

    def _on_graph(self, url):
        ours, theirs = urlsplit(self.base_url), urlsplit(url)
        return (theirs.scheme, theirs.netloc.lower()) == (ours.scheme, ours.netloc.lower())

    def _json(self, method, url, **kwargs):
        response = self._send(method, url, **kwargs)
        if not response.content:
            return {}
        try:
            return response.json()
        except ValueError as e:
            raise GraphError("Microsoft answered with something other than JSON",
                             status=response.status_code) from e

    @holds_secrets  # the access token in the headers, and any token of a pre-authenticated URL
    def _send(self, method, url, *, authorize=True, headers=None, **kwargs):
        """One request with retries; returns a response below 400 or raises a GraphError."""
        path = urlsplit(url).path  # never log query strings: pre-authenticated URLs carry tokens there
        tries, refreshed = 0, False
        while True:
            tries += 1
            sent = dict(headers or {})
            if authorize:
                sent["Authorization"] = f"Bearer {self.token_provider()}"
                sent["Prefer"] = PREFER
            logger.debug("%s %s", method, path)
            try:
                response = self.session.request(method, url, headers=sent, timeout=self.timeout, **kwargs)
            except requests.RequestException as e:
                retry = isinstance(e, (requests.ConnectionError, requests.Timeout)) and tries < self.max_tries
                if not retry:
                    raise GraphUnreachable(f"{type(e).__name__} on {method} {path}") from e
                delay = self.backoff(tries)
                logger.info("%s %s: %s, retrying in %s s", method, path, type(e).__name__, delay)
                self.sleep(delay)
                continue
            status = response.status_code
            if status == 401 and authorize and not refreshed and hasattr(self.token_provider, "invalidate"):
                response.close()
                self.token_provider.invalidate()
                refreshed = True
                continue
            delay = retry_after_seconds(response.headers) if status in RETRY_STATUSES else None
            too_long = delay is not None and self.max_wait is not None and delay > self.max_wait
            if status in RETRY_STATUSES and tries < self.max_tries and not too_long:
                delay = self.backoff(tries) if delay is None else delay
                response.close()
                logger.info("%s %s: HTTP %s, retrying in %s s", method, path, status, delay)
                self.sleep(delay)
                continue
            if status >= 400:
                error = GraphError.from_response(response)
                response.close()
                raise error
            return response

    @staticmethod
    def backoff(tries):
        """Seconds to wait before try number `tries` + 1 when Microsoft did not say."""
        return min(MAX_BACKOFF, 2 ** (tries - 1))
