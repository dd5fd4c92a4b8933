import functools
import io
import itertools
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import pytest
import requests
from boto3.s3.transfer import TransferConfig
from cryptography.fernet import Fernet, MultiFernet
from django.contrib.auth import get_user_model
from encrypted_model_fields import fields as encrypted_fields

from integrations.microsoft.graph import GraphClient
from integrations.teams import api, connection
from mediaspace.ingest import entry_ingest
from mediaspace.models import MediaEntry, UserRole
from mediaspace.roles import Role
from tests.microsoft import GRAPH_URL, LOGIN_URL
from tests.queue import purge_queue
from tests.simulator import Simulator
from tests.stack import free_port
from tests.storage import empty_bucket, empty_default_bucket

# The smallest bytes `sniff` recognises as each kind; enough for permission and flow tests.
WEBM_HEAD = b"\x1aE\xdf\xa3" + b"\x00" * 60
MP3_HEAD = b"ID3\x03\x00" + b"\x00" * 59
PNG_HEAD = b"\x89PNG\r\n\x1a\n" + b"\x00" * 56

_usernames = itertools.count(1)
S3_PART = 8 * 1024 * 1024  # the settings' multipart part size

# The Teams engine's fake Microsoft Graph and its fixtures (ms, graph, integration, lecture...).
pytest_plugins = ["tests.teams_fakes"]


# Used by the key-rotation tests (test_deploy.py) and the strict encrypted fields' (test_encrypted_fields.py).
@pytest.fixture
def keys(settings, monkeypatch):
    """Switch the keys of the settings and of the fields' cipher (built once when Django starts)."""
    def use(*new_keys):
        settings.FIELD_ENCRYPTION_KEY = list(new_keys)
        monkeypatch.setattr(encrypted_fields, "CRYPTER", MultiFernet([Fernet(key) for key in new_keys]))

    return use


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Every test stores its files in a folder of its own, or in an emptied bucket when the environment puts
    media in S3 (tests/storage.py reads either), and starts with an empty queue when Redis is the broker."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; not what is tested
    empty_default_bucket(settings)
    if "redis" in settings.Q_CLUSTER:  # the database broker's queue goes with each test's transaction
        purge_queue()
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def processing_off(settings):
    """The media pipeline is off, as where FFmpeg is missing: entries made of a few fake bytes (WEBM_HEAD...) are
    Ready once stored, as the tests that use them expect. The pipeline's own tests turn it on (`processing`)."""
    settings.MEDIASPACE_PROCESSING = False


@pytest.fixture
def processing(settings):
    """The media pipeline on: audio and video go Processing once stored, and are queued for the processing
    cluster (no test runs it unless it calls pipeline.process_queued)."""
    settings.MEDIASPACE_PROCESSING = True


@pytest.fixture
def make_user(db):
    def make(role=Role.PRIVATE_ONLY, username=None, **extra):
        username = username or f"user{next(_usernames)}"
        user = get_user_model().objects.create_user(
            username=username, password="pw-for-tests-1", email=extra.pop("email", f"{username}@example.com"), **extra
        )
        UserRole.objects.update_or_create(user=user, defaults={"role": role})
        return user

    return make


@pytest.fixture
def make_entry(db):
    def make(owner, *, content=WEBM_HEAD + b"video" * 100, filename="clip.webm", name="A clip", **extra):
        return entry_ingest(
            source=extra.pop("source", MediaEntry.Source.UPLOAD),
            reference_id=extra.pop("reference_id", f"ref-{next(_usernames)}"),
            owner=owner, name=name, stream=io.BytesIO(content), filename=filename, **extra,
        )

    return make


@pytest.fixture
def client_for(client):
    """A test client signed in as the given user (or anonymous for None)."""

    def sign_in(user):
        client.logout()
        if user is not None:
            client.force_login(user)
        return client

    return sign_in


@pytest.fixture
def sleeps(monkeypatch):
    """What the Graph clients of the Teams integration would have slept; nothing really sleeps."""
    slept = []
    for module in (api, connection):  # graph_for's clients, and the Test connection's own
        monkeypatch.setattr(module, "GraphClient", functools.partial(GraphClient, sleep=slept.append))
    return slept


@pytest.fixture
def microsoft_endpoints(settings, monkeypatch, sleeps):
    """Microsoft at the fake addresses that `responses` answers, with no token kept from another test
    (primary keys repeat between tests, and the integration keeps one token provider per key)."""
    settings.MICROSOFT_LOGIN_URL = LOGIN_URL
    settings.MICROSOFT_GRAPH_URL = GRAPH_URL
    monkeypatch.setattr(api, "_providers", {})


@pytest.fixture
def simulator():
    """The local Microsoft simulator in a thread (tests/simulator/README.md), for a stack of subprocesses."""
    with Simulator() as simulator:
        yield simulator


@pytest.fixture
def sim(simulator, settings, monkeypatch):
    """The simulator, with the portal in this process pointed at it."""
    settings.MICROSOFT_LOGIN_URL = settings.MICROSOFT_GRAPH_URL = simulator.url
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", simulator.ca_path)  # requests lets it override Session.verify
    return simulator


# Media in S3-compatible storage (tests/test_object_storage.py, the media pipeline's tests).
@pytest.fixture(scope="session")
def s3_endpoint():
    if os.environ.get("AWS_S3_ENDPOINT_URL"):
        yield os.environ["AWS_S3_ENDPOINT_URL"]
        return
    executable = Path(sys.executable).with_name("moto_server")
    command = [str(executable)] if executable.exists() else [shutil.which("moto_server") or "moto_server"]
    port = free_port()
    server = subprocess.Popen([*command, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(url, timeout=1)
                break
            except requests.ConnectionError:
                assert server.poll() is None, "moto_server stopped"
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def s3(s3_endpoint, settings, monkeypatch):
    """The default storage on a new bucket of the S3 server; returns a boto3 client and the bucket's name."""
    keys = {"aws_access_key_id": os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
            "aws_secret_access_key": os.environ.get("AWS_SECRET_ACCESS_KEY", "testing")}
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", **keys)
    bucket = f"test-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
        "bucket_name": bucket, "endpoint_url": s3_endpoint, "region_name": "us-east-1",
        "access_key": keys["aws_access_key_id"], "secret_key": keys["aws_secret_access_key"],
        "signature_version": "s3v4", "querystring_auth": True, "file_overwrite": True,
        "transfer_config": TransferConfig(multipart_threshold=S3_PART, multipart_chunksize=S3_PART, use_threads=False)}}}
    settings.MEDIASPACE_INGEST_CHUNK_SIZE = 1024 * 1024
    client.bucket = bucket
    yield client
    empty_bucket(client, bucket)  # the S3 server keeps everything in memory for the rest of the run
    client.delete_bucket(Bucket=bucket)
