"""The real stack for end-to-end tests: migrate, runserver and the django-q2 clusters (the default one and the
media processing's) as processes of their own, pointed at the Microsoft simulator, and an administrator using
the admin through plain HTTP forms. Media processing is off unless a test turns it on
(MEDIASPACE_PROCESSING="true"): the simulator's recordings and files are made-up bytes unless given real media.

By default the stack has a SQLite database and a media folder of its own. When the tests' environment names
services, the stack uses them instead, each stack on its own part of them: DATABASE_URL of PostgreSQL (a new
database on that server, dropped at the end), REDIS_URL (django-q2 on Redis, under a cluster name of its own)
and AWS_STORAGE_BUCKET_NAME with AWS_S3_ENDPOINT_URL (media in a new bucket of that S3 server)."""
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

from tests.storage import empty_bucket

REPO = Path(__file__).resolve().parent.parent
ADMIN_PASSWORD = "stack-admin-pw-1"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Stack:
    """migrate, runserver and qcluster as subprocesses sharing a database (SQLite in a folder of their own, or the
    environment's PostgreSQL), a broker and a media storage."""

    def __init__(self, folder, simulator, **env):
        self.database = folder / "stack.sqlite3"
        self.media = folder / "media"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "DATABASE_URL": f"sqlite:///{self.database}", "MEDIA_ROOT": str(self.media),
                    "MICROSOFT_LOGIN_URL": simulator.url, "MICROSOFT_GRAPH_URL": simulator.url,
                    "REQUESTS_CA_BUNDLE": simulator.ca_path, "DEBUG": "false", "Q_WORKERS": "2",
                    "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD, "PYTHONUNBUFFERED": "1",
                    "MEDIASPACE_PROCESSING": "false"}
        self.processes = []
        self.postgres_url = self.bucket = None
        name = f"stack_{uuid.uuid4().hex[:10]}"
        if os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
            self.postgres_url = self._create_database(os.environ["DATABASE_URL"], name)
            self.env["DATABASE_URL"] = self.postgres_url
        if os.environ.get("REDIS_URL"):
            self.env["Q_CLUSTER_NAME"] = name  # its own queue in the shared Redis
        if os.environ.get("AWS_STORAGE_BUCKET_NAME"):
            self.bucket = name.replace("_", "-")
            self._s3().create_bucket(Bucket=self.bucket)
            self.env["AWS_STORAGE_BUCKET_NAME"] = self.bucket
        self.env.update(env)

    @staticmethod
    def _create_database(server_url, name):
        import psycopg

        with psycopg.connect(server_url, autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))

    def _s3(self):
        import boto3

        return boto3.client("s3", endpoint_url=os.environ.get("AWS_S3_ENDPOINT_URL") or None,
                            region_name=os.environ.get("AWS_S3_REGION_NAME") or "us-east-1")

    def manage(self, *args):
        return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=self.env, check=True,
                              capture_output=True, text=True, timeout=120)

    def start(self, *args, env=None):
        process = subprocess.Popen([sys.executable, "manage.py", *args], cwd=REPO, env={**self.env, **(env or {})},
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.processes.append(process)
        return process

    def up(self, *runserver_options):
        """`runserver_options`: e.g. "--insecure", so that a browser gets the static files with DEBUG off."""
        self.manage("migrate", "--noinput")
        self.manage("createsuperuser", "--noinput", "--username", "admin", "--email", "admin@example.edu")
        self.start("runserver", "--noreload", *runserver_options, f"127.0.0.1:{self.port}")
        self.cluster = self.start("qcluster")
        self.processing = self.start_processing()
        for _ in range(100):
            try:
                requests.get(f"{self.url}/login/", timeout=2)
                return self
            except requests.ConnectionError:
                time.sleep(0.1)
        raise AssertionError("the web server did not start")

    def start_processing(self):
        """The media processing's cluster (Procfile's `processing`)."""
        return self.start("qcluster", env={"Q_QUEUE": "processing"})

    def down(self):
        for process in self.processes:
            if process.poll() is None:
                self.kill(process)  # a test stack: nothing to finish gracefully
        if self.postgres_url:
            import psycopg

            with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as connection:
                connection.execute(f"DROP DATABASE IF EXISTS {urlsplit(self.postgres_url).path[1:]} WITH (FORCE)")
        if self.bucket:
            s3 = self._s3()
            empty_bucket(s3, self.bucket)
            s3.delete_bucket(Bucket=self.bucket)

    def kill(self, process):
        """kill -9 of the process and its children (a cluster's workers)."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)

    def query(self, sql, *params):
        """Rows as tuples; `?` placeholders. (PostgreSQL gives booleans where SQLite gives 0 and 1: equal.)"""
        if self.postgres_url:
            import psycopg

            with psycopg.connect(self.postgres_url, autocommit=True) as connection:
                return connection.execute(sql.replace("%", "%%").replace("?", "%s"), params).fetchall()
        with sqlite3.connect(self.database, timeout=30) as connection:
            return connection.execute(sql, params).fetchall()

    def media_files(self, folder="entries"):
        """[(name, size)] of the stored media files below `folder`, in the media folder or the stack's bucket."""
        if self.bucket:
            listing = self._s3().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=f"{folder}/")
            return sorted((item["Key"], item["Size"]) for page in listing for item in page.get("Contents", []))
        return sorted((path.relative_to(self.media).as_posix(), path.stat().st_size)
                      for path in (self.media / folder).rglob("*") if path.is_file())

    def open_uploads(self):
        """Multipart uploads begun and neither completed nor aborted (object storage only; parts cost money)."""
        if not self.bucket:
            return []
        return [upload["Key"] for upload in self._s3().list_multipart_uploads(Bucket=self.bucket).get("Uploads", [])]

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
