"""What kind of media a file is, told from its first bytes (and its name where bytes are ambiguous)."""
import posixpath

MEDIA_KINDS = ("video", "audio", "image")
HEAD_SIZE = 64  # bytes needed by `sniff`


def kind_of(content_type: str) -> str:
    """video, audio, image, or '' for anything else."""
    major = (content_type or "").partition("/")[0].lower()
    return major if major in MEDIA_KINDS else ""


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
