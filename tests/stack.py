"""The real stack for end-to-end tests: migrate, runserver and a django-q2 cluster as processes of their own,
pointed at the Microsoft simulator, and an administrator using the admin through plain HTTP forms."""
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
ADMIN_PASSWORD = "stack-admin-pw-1"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Stack:
    """migrate, runserver and qcluster as subprocesses sharing a SQLite database in a folder of their own."""

    def __init__(self, folder, simulator, **env):
        self.database = folder / "stack.sqlite3"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "DATABASE_URL": f"sqlite:///{self.database}", "MEDIA_ROOT": str(folder / "media"),
                    "MICROSOFT_LOGIN_URL": simulator.url, "MICROSOFT_GRAPH_URL": simulator.url,
                    "REQUESTS_CA_BUNDLE": simulator.ca_path, "DEBUG": "false", "Q_WORKERS": "2",
                    "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD, "PYTHONUNBUFFERED": "1", **env}
        self.processes = []

    def manage(self, *args):
        return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=self.env, check=True,
                              capture_output=True, text=True, timeout=120)

    def start(self, *args):
        process = subprocess.Popen([sys.executable, "manage.py", *args], cwd=REPO, env=self.env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.processes.append(process)
        return process

    def up(self, *runserver_options):
        """`runserver_options`: e.g. "--insecure", so that a browser gets the static files with DEBUG off."""
        self.manage("migrate", "--noinput")
        self.manage("createsuperuser", "--noinput", "--username", "admin", "--email", "admin@example.edu")
        self.start("runserver", "--noreload", *runserver_options, f"127.0.0.1:{self.port}")
        self.cluster = self.start("qcluster")
        for _ in range(100):
            try:
                requests.get(f"{self.url}/login/", timeout=2)
                return self
            except requests.ConnectionError:
                time.sleep(0.1)
        raise AssertionError("the web server did not start")

    def down(self):
        for process in self.processes:
            if process.poll() is None:
                self.kill(process)  # a test stack: nothing to finish gracefully

    def kill(self, process):
        """kill -9 of the process and its children (a cluster's workers)."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)

    def query(self, sql, *params):
        with sqlite3.connect(self.database, timeout=30) as connection:
            return connection.execute(sql, params).fetchall()

    def wait_for(self, sql, expected, seconds=90):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            rows = self.query(sql)
            if rows == expected:
                return rows
            time.sleep(0.5)
        raise AssertionError(f"{sql!r} gave {rows!r}, not {expected!r}, within {seconds} s")


class AdminBrowser(requests.Session):
    """An administrator using the admin through plain HTTP forms."""

    def __init__(self, stack):
        super().__init__()
        self.stack = stack
        self.get(f"{stack.url}/admin/login/")
        self.submit("/admin/login/", {"username": "admin", "password": ADMIN_PASSWORD, "next": "/admin/"})

    def submit(self, path, data):
        response = self.post(f"{self.stack.url}{path}", data={**data, "csrfmiddlewaretoken": self.cookies["csrftoken"]},
                             headers={"Referer": f"{self.stack.url}{path}"})
        assert response.status_code < 400, response.text[:2000]
        return response
