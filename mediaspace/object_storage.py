"""What the portal needs from an object store (S3 through django-storages) beyond Django's Storage API:
ranged reads that stream, short-lived signed URLs, and removing a folder of files (on disk as well)."""
import os
import posixpath

from django.core.files.storage import FileSystemStorage
from django.utils.http import content_disposition_header

from .media_types import served_inline


def is_object_storage(storage) -> bool:
    """An S3-style store (django-storages' S3Storage or a subclass): it has a bucket and signs URLs."""
    return not isinstance(storage, FileSystemStorage) and hasattr(storage, "bucket_name") and hasattr(
        storage, "connection")


def _key(storage, name):
    from storages.utils import clean_name

    return storage._normalize_name(clean_name(name))


def read_span(storage, name, start, length, chunk_size):
    """The bytes start..start+length-1 of the object, as an iterator of chunks, fetched with one ranged GET.

    (django-storages' own file object downloads the whole object before the first read.)"""
    if length <= 0:
        return
    body = storage.bucket.Object(_key(storage, name)).get(Range=f"bytes={start}-{start + length - 1}")["Body"]
    try:
        yield from body.iter_chunks(chunk_size)
    finally:
        body.close()


def signed_url(storage, name, *, seconds, content_type=None, filename=None):
    """A URL to GET the object from the store itself, valid for `seconds`, served with this content type and,
    as the portal serves it, as a download unless it is a raster image, audio or video."""
    parameters = {"ResponseContentType": content_type or "application/octet-stream"}
    if filename or not served_inline(content_type):
        parameters["ResponseContentDisposition"] = content_disposition_header(not served_inline(content_type),
                                                                              filename)
    return storage.url(name, parameters=parameters, expire=seconds)


def remove_prefix(storage, folder):
    """Delete every object whose key starts with `folder/`, a thousand per request, and abort the multipart
    uploads still open there (a worker killed mid-upload leaves one: its parts are stored, and billed,
    until aborted; a bucket lifecycle rule AbortIncompleteMultipartUpload is the safety net)."""
    prefix = _key(storage, folder).rstrip("/") + "/"
    storage.bucket.objects.filter(Prefix=prefix).delete()
    for upload in storage.bucket.multipart_uploads.filter(Prefix=prefix):
        if upload.key.startswith(prefix):
            upload.abort()


def remove_tree(storage, folder):
    """Delete every file below `folder` of the storage. (An object store has no folders: there it deletes
    every object whose key starts with `folder/`, listed and deleted a thousand at a time.)"""
    if is_object_storage(storage):
        remove_prefix(storage, folder)
        return
    try:
        folders, files = storage.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in files:
        storage.delete(posixpath.join(folder, name))
    for name in folders:
        remove_tree(storage, posixpath.join(folder, name))
    if isinstance(storage, FileSystemStorage):  # object stores have no folders to leave behind
        try:
            os.rmdir(storage.path(folder))
        except OSError:
            pass
