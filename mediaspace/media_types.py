"""What kind of media a file is, told from its first bytes (and its name where bytes are ambiguous).

The one rule for every source (upload, Teams, OneDrive): `media_type` of the stored bytes is what is stored and
served, and markup a browser would run scripts from (SVG, HTML, XML) is refused, whatever the source claimed.
"""
import codecs
import posixpath

from django.utils.translation import gettext as _

MEDIA_KINDS = ("video", "audio", "image")
# Images a browser only draws: SVG, the one image type that holds scripts, is not among them.
RASTER_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/heic", "image/heif",
                           "image/avif", "image/bmp", "image/tiff", "image/x-icon", "image/vnd.microsoft.icon"})
HEAD_SIZE = 1024  # bytes needed by `media_type` (markup may follow a byte-order mark and some blank lines)
_BLANK = b" \t\r\n\x0c"


class NotMedia(ValueError):
    """Bytes that are never stored as media; the message tells the owner why."""


def kind_of(content_type: str) -> str:
    """video, audio, image (raster only), or '' for anything else."""
    base = (content_type or "").partition(";")[0].strip().lower()
    major = base.partition("/")[0]
    if major == "image":
        return major if base in RASTER_IMAGES else ""
    return major if major in MEDIA_KINDS else ""


def served_inline(content_type: str) -> bool:
    """Video, audio and raster images are shown in the page; anything else is only ever downloaded."""
    return bool(kind_of(content_type))


def media_type(head: bytes, filename: str = "") -> str:
    """The content type to store for a file that begins with `head`: the media type its bytes show, or '' when
    they show none we know (stored, and served only as a download). Raises NotMedia for markup."""
    if _is_markup(head):  # first: a UTF-16 byte-order mark looks like an MPEG audio frame to `sniff`
        raise NotMedia(_("This file holds web markup (SVG, HTML or XML), which could run scripts in the portal, "
                         "so it was not imported. Only video, audio and image files (PNG, JPEG, GIF, WebP) are "
                         "accepted."))
    return sniff(head, filename)


def _is_markup(head: bytes) -> bool:
    """The first character that is not blank is '<' (in UTF-8 or UTF-16), or there is nothing but blanks
    to tell what the file is."""
    if head.startswith(codecs.BOM_UTF16_LE) or head[:1] not in (b"", b"\x00") and head[1:2] == b"\x00":
        text = head.removeprefix(codecs.BOM_UTF16_LE)[0::2]  # UTF-16 LE: the ASCII byte of each character
    elif head.startswith(codecs.BOM_UTF16_BE) or head[:1] == b"\x00" and head[1:2] not in (b"", b"\x00"):
        text = head.removeprefix(codecs.BOM_UTF16_BE)[1::2]
    else:
        text = head.removeprefix(codecs.BOM_UTF8)
    text = text.lstrip(_BLANK)
    return text.startswith(b"<") or bool(head) and not text


def sniff(head: bytes, filename: str = "") -> str:
    """The content type of a media file from its first bytes, or '' when it is not a media file we know."""
    extension = posixpath.splitext(filename.lower())[1]
    if head.startswith(b"\x1aE\xdf\xa3"):
        if extension == ".weba":
            return "audio/webm"
        return "video/x-matroska" if extension == ".mkv" else "video/webm"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"M4A ", b"M4B ") or extension in (".m4a", ".m4b"):
            return "audio/mp4"
        if brand in (b"heic", b"heix", b"mif1", b"heim"):
            return "image/heic"
        if brand == b"qt  ":
            return "video/quicktime"
        return "video/mp4"
    if head.startswith(b"OggS"):
        return "video/ogg" if extension == ".ogv" else "audio/ogg"
    if head.startswith(b"RIFF") and len(head) >= 12:
        return {b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo", b"WEBP": "image/webp"}.get(head[8:12], "")
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"0&\xb2u\x8ef\xcf\x11"):
        return "video/x-ms-wmv" if extension == ".wmv" else "video/x-ms-asf"
    if head.startswith(b"ID3"):
        return "audio/mpeg"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return "audio/aac"  # ADTS frame header
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "audio/mpeg"  # MPEG audio frame header
    return ""
