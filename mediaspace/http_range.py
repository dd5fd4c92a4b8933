"""Serving stored media with HTTP Range support (RFC 9110 §14), so players can seek."""
import re
from pathlib import PurePath

from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header

from .media_types import served_inline
from .object_storage import is_object_storage, read_span

_SINGLE_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK_SIZE = 256 * 1024
BEYOND_ANY_FILE = 10**18  # what a byte position of more digits counts as


def _number(digits: str) -> int:
    """A byte position from the header's digits; one too long to be any file's (int() refuses more than 4300
    digits) is beyond every file."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) < 19 else BEYOND_ANY_FILE


class RangeNotSatisfiable(Exception):
    pass


def parse_range(header: str, size: int):
    """(start, end) inclusive for a single satisfiable byte range; None to send the whole file.

    A malformed header, or one asking for several ranges, is ignored (the whole file is sent), as
    RFC 9110 allows. A well-formed range that lies outside the file raises RangeNotSatisfiable.
    """
    match = _SINGLE_RANGE.match(header.strip().replace(" ", "")) if header else None
    if not match or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":  # suffix range: the last N bytes
        length = _number(last)
        if length == 0 or size == 0:
            raise RangeNotSatisfiable
        return max(0, size - length), size - 1
    start = _number(first)
    end = min(_number(last), size - 1) if last else size - 1
    if last and _number(last) < start:
        return None  # invalid: ignore it
    if start >= size:
        raise RangeNotSatisfiable
    return start, end


def _read_span(fileobj, start, length):
    try:
        fileobj.seek(start)
        while length > 0:
            data = fileobj.read(min(CHUNK_SIZE, length))
            if not data:
                break
            length -= len(data)
            yield data
    finally:
        fileobj.close()


def protect(response):
    """Stored files never run in the portal's origin: a browser opening one gets a sandbox without scripts,
    and takes the content type as given (never guessing HTML from the bytes)."""
    response["Content-Security-Policy"] = "sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def serve_file(request, fieldfile, *, content_type, filename=None):
    """A 200 or 206 response that streams `fieldfile` (never read whole into memory); anything but a raster
    image, audio or video is sent as a download."""
    size = fieldfile.size
    try:
        span = parse_range(request.headers.get("Range", ""), size)
    except RangeNotSatisfiable:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        response["Accept-Ranges"] = "bytes"
        return protect(response)
    storage = fieldfile.storage
    if is_object_storage(storage):  # one ranged GET to the store, streamed on as it arrives
        start, end = span or (0, size - 1)
        response = StreamingHttpResponse(read_span(storage, fieldfile.name, start, end - start + 1, CHUNK_SIZE),
                                         status=200 if span is None else 206, content_type=content_type)
    elif span is None:
        response = FileResponse(storage.open(fieldfile.name, "rb"), content_type=content_type)
    else:
        start, end = span
        response = StreamingHttpResponse(_read_span(storage.open(fieldfile.name, "rb"), start, end - start + 1),
                                         status=206, content_type=content_type)
    if span is None:
        response["Content-Length"] = str(size)
    else:
        start, end = span
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    response["Content-Disposition"] = content_disposition_header(not served_inline(content_type),
                                                                 filename or PurePath(fieldfile.name).name)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, max-age=3600"
    return protect(response)
