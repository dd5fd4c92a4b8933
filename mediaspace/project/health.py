"""`/healthz`: is this portal able to work? The database answers a query, the django-q2 broker answers, and a
cluster reported its heartbeat recently.

200 `{"database": "ok", "broker": "ok", "cluster": "ok"}`, or 503 with the failing parts named
(`"failed: <exception class>"`, never an exception's text, which could quote a URL with a password). No
sign-in, no secret, no query string, and nothing proportional to the data: one `SELECT 1`, one broker ping and
queue length, one read of the clusters' statistics.

`HealthCheckMiddleware` answers it first in the middleware chain, before the host check and the HTTPS
redirect: load balancers and orchestrators probe over plain HTTP with the machine's address as Host.
"""
import logging

from django.db import connection
from django.http import JsonResponse
from django.utils import timezone

from mediaspace.conf import setting

logger = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
_broker = None


def broker():
    """One broker per process (a Redis connection pool is made once)."""
    global _broker
    if _broker is None:
        from django_q.brokers import get_broker

        _broker = get_broker()
    return _broker


def check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_broker():
    current = broker()
    if not current.ping():
        raise ConnectionError("the broker did not answer")
    current.queue_size()


def check_cluster():
    """A cluster (any of them: they share the broker) reported within HEALTHZ_CLUSTER_SECONDS and runs."""
    from django_q.conf import Conf
    from django_q.status import Stat

    window = setting("HEALTHZ_CLUSTER_SECONDS")
    now = timezone.now()
    for stat in Stat.get_all(broker=broker()):
        if stat.status != Conf.STOPPED and (now - stat.timestamp).total_seconds() <= window:
            return
    raise LookupError(f"no cluster reported within {window} s")


CHECKS = {"database": check_database, "broker": check_broker, "cluster": check_cluster}


def healthz(request):
    parts, healthy = {}, True
    for name, check in CHECKS.items():
        try:
            check()
            parts[name] = "ok"
        except Exception as error:  # noqa: BLE001 - any failure is an unhealthy part, and is reported as such
            healthy = False
            parts[name] = f"failed: {type(error).__name__}"
            logger.warning("health check: %s failed (%s)", name, type(error).__name__)
    response = JsonResponse(parts, status=200 if healthy else 503)
    response["Cache-Control"] = "no-store"
    return response


class HealthCheckMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info == HEALTH_PATH and request.method in ("GET", "HEAD"):
            return healthz(request)
        return self.get_response(request)
