"""The one error family of the Microsoft kit: what Graph or the identity platform refused or failed to answer.

Each error carries only what Microsoft said (code, message, AADSTS numbers): never a secret, a bearer token or
a query string.
"""
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from requests.structures import CaseInsensitiveDict


class GraphError(Exception):
    """Microsoft refused or failed a request. str() is Microsoft's own code and message."""

    def __init__(self, message, *, status=None, code=None, error_codes=None, request_id=None,
                 retry_after=None):
        super().__init__(f"{code}: {message}" if code else message)
        self.status = status
        self.code = code
        self.message = message
        self.error_codes = list(error_codes or [])
        self.request_id = request_id
        self.retry_after = retry_after

    @classmethod
    def from_response(cls, response):
        """Read a Graph (``{"error": {...}}``) or identity platform (``{"error": "..."}``) answer."""
        try:
            body = response.json()
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        fields = {"request_id": response.headers.get("request-id") or response.headers.get("x-ms-request-id")}
        if isinstance(error, dict):  # Graph
            inner = error.get("innerError") or error.get("innererror") or {}
            code, message = error.get("code"), error.get("message")
            fields["request_id"] = inner.get("request-id") or fields["request_id"]
        elif isinstance(error, str):  # identity platform (login.microsoftonline.com)
            code, message = error, body.get("error_description")
            fields["error_codes"] = body.get("error_codes")
            fields["request_id"] = body.get("trace_id") or fields["request_id"]
        else:  # HTML error page, empty body...: the body is not Microsoft's message, leave it out
            code, message = None, None
        if cls is GraphError:
            cls = _ERROR_BY_STATUS.get(response.status_code, GraphError)
        return cls(
            message or f"HTTP {response.status_code} {response.reason or ''}".strip(),
            status=response.status_code, code=code, retry_after=retry_after_seconds(response.headers), **fields,
        )


class GraphUnauthorized(GraphError):
    """401: the token is missing, expired or not valid for Graph."""


class GraphPaymentRequired(GraphError):
    """402: a metered API (e.g. meeting recording content) without billing, or over its allowance."""


class GraphForbidden(GraphError):
    """403: a missing permission, or a missing Teams application access policy."""


class GraphNotFound(GraphError):
    """404"""


class GraphThrottled(GraphError):
    """429/503 still answered after every try; ``retry_after`` is Microsoft's wait in seconds, if given."""


class GraphUnreachable(GraphError):
    """No answer: connection refused or reset, timeout, or a server error from the sign-in service."""


class TokenError(GraphError):
    """The identity platform refused to issue a token (wrong secret, unknown tenant...)."""

    @classmethod
    def from_result(cls, result, *, status=None):
        # msal answers failures with a dict instead of raising.
        return cls(
            result.get("error_description") or result.get("error") or "No access token was issued",
            status=status, code=result.get("error"), error_codes=result.get("error_codes"),
            request_id=result.get("trace_id"),
        )


_ERROR_BY_STATUS = {
    401: GraphUnauthorized,
    402: GraphPaymentRequired,
    403: GraphForbidden,
    404: GraphNotFound,
    429: GraphThrottled,
    503: GraphThrottled,
}


def retry_after_seconds(headers):
    """Seconds from a Retry-After header (delta-seconds or HTTP date), None when absent or unreadable.
    `headers`: a response's, or a JSON batch sub-response's dict."""
    value = str(CaseInsensitiveDict(headers or {}).get("Retry-After") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return int(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0, round((when - datetime.now(timezone.utc)).total_seconds()))
