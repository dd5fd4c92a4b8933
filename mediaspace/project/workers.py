"""gunicorn's gthread worker, sharing new connections fairly between the processes (gunicorn.conf.py uses it).

Every process waits on the same listening socket, and whichever wakes first accepts. When many clients connect at
once (a lecture hall, a proxy's pool of keep-alive connections, a load test), one process often took them all: they
stay with it for their whole keep-alive life, so that process ran at 100% of one CPU while the other sat idle, and
pages were served at half the machine's rate (measured with bench/load.py: My Media 140 or 390 req/s from one run to
the next, depending on that split alone). Here a process whose threads are all taken waits a moment before it
accepts: a sibling with a free thread, woken by the same connection, takes it meanwhile. When every process is busy,
the first to be back accepts it, so no connection waits longer than that moment.
"""
import time

from gunicorn.workers.gthread import ThreadWorker

BUSY_ACCEPT_DELAY = 0.002  # seconds: enough for an idle sibling to wake and accept; short enough not to be felt


class FairThreadWorker(ThreadWorker):
    def accept(self, listener):
        if self.busy_connections() >= self.cfg.threads:
            time.sleep(BUSY_ACCEPT_DELAY)
        super().accept(listener)  # the socket is non-blocking: a sibling may have taken the connection (EAGAIN)

    def busy_connections(self):
        """Connections with a request in a thread or queued for one (idle keep-alive ones do not count)."""
        return self.nr_conns - len(self.keepalived_conns) - len(self.pending_conns)
