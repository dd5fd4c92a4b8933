"""The web server's workers (gunicorn.conf.py, mediaspace/project/workers.py) share connections fairly."""
import collections
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mediaspace.project.workers import FairThreadWorker
from tests.stack import free_port

REPO = Path(__file__).resolve().parent.parent


def ask(connection):
    """One keep-alive GET on an open connection; the pid that answered."""
    connection.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < int(
            data.split(b"Content-Length: ", 1)[1].split(b"\r\n", 1)[0]):
        chunk = connection.recv(4096)
        assert chunk, data
        data += chunk
    return int(data.split(b"\r\n\r\n", 1)[1])


@pytest.mark.slow
def test_connections_opened_at_once_are_shared_between_the_processes():
    """A burst of keep-alive connections (a lecture hall, a proxy's pool, a load test): gunicorn's own gthread worker
    often let one process take nearly all of them, 15 of 16 here, and the other process idled for their whole life."""
    port = free_port()
    env = {**os.environ, "WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "2", "LOG_FORMAT": ""}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "--config", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
         "--keep-alive", "30", "--access-logfile", "/dev/null", "tests.pid_app:app"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as probe:
                    ask(probe)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        shares = []
        with ThreadPoolExecutor(16) as pool:
            for _ in range(3):
                connections = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(16)]
                try:
                    served_by = {}
                    for _ in range(3):
                        for connection, pid in zip(connections, pool.map(ask, connections)):
                            assert served_by.setdefault(connection, pid) == pid  # a connection stays with its process
                    shares.append(sorted(collections.Counter(served_by.values()).values()))
                finally:
                    for connection in connections:
                        connection.close()
                time.sleep(0.3)
    finally:
        server.terminate()
        server.wait(timeout=30)

    assert all(len(share) == 2 and share[0] >= 4 for share in shares), shares


def test_the_web_server_runs_the_fair_worker():
    namespace = {}
    exec((REPO / "gunicorn.conf.py").read_text(), namespace)
    assert namespace["worker_class"] == f"{FairThreadWorker.__module__}.{FairThreadWorker.__name__}"
