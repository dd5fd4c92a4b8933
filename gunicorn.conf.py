"""gunicorn settings of the portal (the Procfile's web process): `gunicorn --config gunicorn.conf.py mediaspace.project.wsgi`.

Why these values (docs/operations.md has the rest):

- Threads, not only processes (`gthread`). A portal's requests are long for a web application: an upload
  of a recording is read for minutes, and with media on local disk a player's Range requests are streamed
  through Django. With sync workers each of those holds a whole process, and a handful of viewers would block
  every page. With threads they hold one thread each while the process keeps answering pages.
- The worker class is gthread's, in mediaspace/project/workers.py: a process whose threads are all taken leaves a
  new connection to an idle sibling for a moment. Without it, a burst of keep-alive connections (a lecture hall, a
  proxy's pool) often went nearly all to one process, which then served them on one CPU while the rest idled.
- WEB_CONCURRENCY processes (default: the machine's CPUs, at least 2) x GUNICORN_THREADS threads (8): Python
  runs one thread at a time per process, so processes give CPU parallelism and threads cover waiting on the
  network and the disk.
- `timeout` is not a request time limit with gthread: it is how long the worker's main loop may stay silent
  before the arbiter kills the process as hung. Request threads do not block that loop, so a 40-minute upload
  is not cut, and a stuck process is still replaced after 60 s.
- `graceful_timeout`: on a restart (deploy) requests in flight get this long to finish before their process
  is stopped. Raise GUNICORN_GRACEFUL_TIMEOUT when long uploads must survive deploys.
- `max_requests`: 0, a process is never replaced for its number of requests (gunicorn's default). A process's
  memory stayed at 76-77 MiB over 200,000 page requests (bench/load.py's set-up), and each replacement costs:
  Django starts again, the pages, cards, templates and connections the process keeps are dropped, and the
  keep-alive connections of the replaced process all go to its sibling while it starts, which then serves them on
  one CPU for as long as they stay open (the entry page at 0.28 x the static file instead of 0.5 x, in the run that
  found it). Set GUNICORN_MAX_REQUESTS (and GUNICORN_MAX_REQUESTS_JITTER) if memory grows in a deployment.
- `keepalive`: seconds an idle client connection stays open. Behind a load balancer, set it above the
  balancer's idle timeout (e.g. 75 behind one with 60), or the balancer may reuse a connection gunicorn has
  just closed and answer 502.
"""
import os

from mediaspace.project.log import logging_config


def _int(name, default):
    return int(os.environ.get(name) or default)


bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{os.environ.get('PORT') or 8000}"
worker_class = "mediaspace.project.workers.FairThreadWorker"  # gthread, sharing connections fairly
workers = _int("WEB_CONCURRENCY", max(2, os.cpu_count() or 1))
threads = _int("GUNICORN_THREADS", 8)
timeout = _int("GUNICORN_TIMEOUT", 60)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 120)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
max_requests = _int("GUNICORN_MAX_REQUESTS", 0)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 0)
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"  # the workers' heartbeat files: never on a slow or full disk
# Which proxies may set X-Forwarded-Proto/-For for gunicorn: FORWARDED_ALLOW_IPS (gunicorn reads it itself).
# Django trusts its own header only when SECURE_PROXY_SSL_HEADER is set (settings.py).

if os.environ.get("LOG_FORMAT") == "json":
    # gunicorn's own lines as JSON too; one line per request comes from mediaspace.project.log.RequestLogMiddleware.
    logconfig_dict = logging_config("json", os.environ.get("LOG_LEVEL") or "INFO")
    accesslog = None
else:
    # Plain access lines without the query string (%(U)s): a redirect's `code=` or a signed URL stays out.
    accesslog = "-"
    access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
