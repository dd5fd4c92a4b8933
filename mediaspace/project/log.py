"""Logging of the stand-alone portal: plain lines for development, one JSON object per line in production
(`LOG_FORMAT=json`), and a filter that blanks anything looking like a credential in every line.

The code already avoids logging tokens; `RedactSecrets` is the safety net for what slips through (a library's
debug line with a URL, an exception message quoting a request body). `logging_config()` is used by
settings.py and by gunicorn.conf.py, so the server's own lines have the same shape as Django's.
"""
import json
import logging
import re
import time
from datetime import UTC, datetime

REDACTED = "[redacted]"

# `Bearer <token>`, `key=value` in query strings and form bodies, and `"key": "value"` in JSON bodies.
_SECRET_KEYS = (r"client_secret|access_token|refresh_token|id_token|code|code_verifier|client_assertion"
                r"|password|secret|token|sig|signature|X-Amz-Signature|X-Amz-Credential|tempauth")
_PATTERNS = [
    (re.compile(r"(?i)\b(Bearer)\s+[A-Za-z0-9\-._~+/]+=*"), r"\1 " + REDACTED),
    (re.compile(r"(?i)(?<![\w-])(" + _SECRET_KEYS + r")=([^&\s\"'<>,;]+)"), r"\1=" + REDACTED),
    (re.compile(r"(?i)([\"'](?:" + _SECRET_KEYS + r")[\"']\s*:\s*)[\"'][^\"']*[\"']"), r'\1"' + REDACTED + '"'),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Rewrites the record's message (and formatted exception) with credentials blanked. On handlers, so
    it sees the records of every logger, libraries included."""

    _exception_formatter = logging.Formatter()

    def filter(self, record):
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self._exception_formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message; method, path and status for requests
    (never the query string, where a redirect's `code=` or a signed URL would be)."""

    def format(self, record):
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request = getattr(record, "request", None)
        method = getattr(record, "method", None) or getattr(request, "method", None)
        path = getattr(record, "path", None) or getattr(request, "path", None)
        status = getattr(record, "status", None) or getattr(record, "status_code", None)
        if method:
            line["method"] = str(method)
        if isinstance(path, str):
            line["path"] = path.split("?", 1)[0]
        if status:
            line["status"] = int(status)
        if getattr(record, "duration_ms", None) is not None:
            line["duration_ms"] = record.duration_ms
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class RequestLogMiddleware:
    """One line per request at INFO on the `mediaspace.request` logger: method, path (without the query
    string), status and duration. Used when LOG_FORMAT=json, where no runserver logs requests."""

    logger = logging.getLogger("mediaspace.request")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        start = time.perf_counter()
        response = self.get_response(request)
        duration_ms = round((time.perf_counter() - start) * 1000, 1)
        self.logger.info("%s %s %s", request.method, request.path, response.status_code,
                         extra={"method": request.method, "path": request.path,
                                "status": response.status_code, "duration_ms": duration_ms})
        return response


def logging_config(log_format="plain", level="INFO"):
    """The dictConfig of the portal (and of gunicorn's own loggers)."""
    formatter = "json" if log_format == "json" else "plain"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": "mediaspace.project.log.RedactSecrets"}},
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
            "json": {"()": "mediaspace.project.log.JsonFormatter"},
            # runserver's access lines keep their usual look: "[time] "GET /path HTTP/1.1" 200 123".
            "server": {"()": "django.utils.log.ServerFormatter", "format": "[{server_time}] {message}", "style": "{"},
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": formatter, "filters": ["redact"]},
            "server": {"class": "logging.StreamHandler", "formatter": "json" if formatter == "json" else "server",
                       "filters": ["redact"]},
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's default logging gives its loggers handlers of their own, without the redaction filter:
            # `django` a console handler (DEBUG only; its lines then came out twice) and `django.server`
            # (runserver's access line, with the redirect URI's `?code=`) one of its own. Naming them here
            # replaces those handlers: `django` goes to the root's handler, `django.server` to a redacting one.
            # (Django's mail_admins handler goes too; ADMINS is not set, so it never sent anything.)
            "django": {"level": "INFO"},
            "django.server": {"handlers": ["server"], "level": "INFO", "propagate": False},
            # urllib3 logs whole URLs at DEBUG, and pre-authenticated download URLs carry tokens in their query.
            "urllib3": {"level": "INFO"},
            "msal": {"level": "INFO"},
            # In JSON, gunicorn's own lines go through the same handler (gunicorn.conf.py) and its access log
            # is silent: the request lines come from RequestLogMiddleware. In plain text gunicorn keeps its
            # own loggers, access log included.
            **({"gunicorn.error": {"level": "INFO", "handlers": ["console"], "propagate": False},
                "gunicorn.access": {"level": "WARNING", "handlers": ["console"], "propagate": False}}
               if log_format == "json" else {}),
        },
    }
