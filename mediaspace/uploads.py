"""Streamed uploads with a size limit that is enforced while the body arrives, not after."""
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

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


def body_too_large(request, max_bytes) -> bool:
    """True when the declared body is so far over the limit that it is not worth reading at all."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return declared > max_bytes + ENVELOPE_BYTES
