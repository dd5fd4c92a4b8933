"""Stored media as the tests see it: through Django's default storage, so that the same assertions hold for
files under MEDIA_ROOT (the embedded default) and for objects in an S3 bucket (a scaled portal, as
scripts/test.sh's second pass configures it from the environment).

Every test starts with an empty storage: conftest's `media_root` fixture gives it a folder of its own and, when
the default storage is S3, empties the bucket first (`empty_default_bucket`)."""
import posixpath

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

S3_BACKEND = "storages.backends.s3.S3Storage"


def stored_files(prefix=""):
    """The sorted names of every stored file below the folder `prefix` ("" for all of them)."""
    return sorted(_walk(prefix.strip("/")))


def _walk(folder):
    try:
        folders, files = default_storage.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):  # a folder that was never made (object stores have none)
        return []
    names = [posixpath.join(folder, name) for name in files]
    for name in folders:
        names += _walk(posixpath.join(folder, name))
    return names


def is_stored(name):
    return default_storage.exists(name)


def read_stored(name):
    """The bytes of the stored file `name`."""
    with default_storage.open(name, "rb") as stored:
        return stored.read()


def stored_size(name):
    return default_storage.size(name)


def store(name, content):
    """Store `content` under exactly `name` (as a worker that died mid-import would have left it)."""
    saved = default_storage.save(name, ContentFile(content))
    assert saved == name, (saved, name)
    return saved


_clients = {}


def _s3_client(options):
    """One boto3 client per server and key for the session (making one takes longer than a test)."""
    import boto3

    key = (options.get("endpoint_url"), options.get("region_name"), options.get("access_key"))
    if key not in _clients:
        _clients[key] = boto3.client("s3", endpoint_url=options.get("endpoint_url"),
                                     region_name=options.get("region_name") or "us-east-1",
                                     aws_access_key_id=options.get("access_key"),
                                     aws_secret_access_key=options.get("secret_key"))
    return _clients[key]


def empty_default_bucket(settings):
    """When the default storage is S3, empty its bucket (objects and open multipart uploads), so that the test
    starts with nothing stored. The same bucket and storage serve every test: a storage of django-storages
    makes a boto3 session of its own, which takes longer than most tests, and emptying a bucket of moto's
    takes a few milliseconds."""
    default = settings.STORAGES["default"]
    if default["BACKEND"] == S3_BACKEND:
        options = default.get("OPTIONS", {})
        empty_bucket(_s3_client(options), options["bucket_name"])


def empty_bucket(s3, bucket):
    """Every object of the bucket deleted (page by page) and its open multipart uploads aborted."""
    for upload in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
