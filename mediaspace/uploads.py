"""Streamed uploads with a size limit that is enforced while the body arrives, not after."""
from functools import wraps

from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.views.decorators.csrf import csrf_exempt, csrf_protect

# Form fields and multipart framing travel beside the file; allow for them before refusing outright.
ENVELOPE_BYTES = 10 * 1024 * 1024


class MaxSizeUploadHandler(FileUploadHandler):
    """Stops receiving a file as soon as it grows past `max_bytes`; `exceeded` tells the view."""

    def __init__(self, max_bytes, request=None):
        super().__init__(request)
        self.max_bytes = max_bytes
        self.exceeded = False

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.max_bytes:
            self.exceeded = True
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size):
        return None


def body_too_large(request, max_bytes, *, envelope=ENVELOPE_BYTES) -> bool:
    """True when the declared body is so far over the limit that it is not worth reading at all (`envelope`: what
    a multipart form adds around the file; 0 for a body that is all content)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return declared > max_bytes + envelope


def size_limited(max_bytes, too_large):
    """Decorator for a view that receives a file of at most `max_bytes(request)` bytes.

    A POST that declares a body far over the limit gets `too_large(request, *args)` before a byte of it is
    read; any other POST gets a MaxSizeUploadHandler, passed to the view as `size_limit` (None otherwise),
    that stops the file at the limit. The CSRF check reads the body, so it runs after that, inside.
    """

    def decorator(view):
        checked = csrf_protect(view)

        @csrf_exempt
        @wraps(view)
        def limited(request, *args, **kwargs):
            size_limit = None
            if request.method == "POST":
                limit = max_bytes(request)
                if body_too_large(request, limit):
                    return too_large(request, *args, **kwargs)
                size_limit = MaxSizeUploadHandler(limit, request)
                request.upload_handlers.insert(0, size_limit)
            return checked(request, *args, size_limit=size_limit, **kwargs)

        return limited

    return decorator
