"""Caption files: WebVTT is stored as is; SubRip (.srt) is converted to WebVTT."""
import re

MAX_CAPTION_BYTES = 5 * 1024 * 1024

_SRT_TIMING = re.compile(r"^(\d{1,2}:\d{2}:\d{2}),(\d{3}) --> (\d{1,2}:\d{2}:\d{2}),(\d{3})", re.MULTILINE)
_VTT_SIGNATURE = re.compile(r"^WEBVTT(?:[ \t\n]|$)")
_VTT_TIMING = re.compile(r"^(?:\d{1,2}:)?\d{2}:\d{2}\.\d{3}\s+-->\s+(?:\d{1,2}:)?\d{2}:\d{2}\.\d{3}", re.MULTILINE)


class CaptionError(ValueError):
    pass


def to_webvtt(raw: bytes) -> str:
    """The WebVTT text of a caption file, or CaptionError saying why it cannot be used."""
    if len(raw) > MAX_CAPTION_BYTES:
        raise CaptionError("The caption file is larger than 5 MiB.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CaptionError("The caption file is not UTF-8 text.") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _VTT_SIGNATURE.match(text):
        if not _VTT_TIMING.search(text):
            raise CaptionError("The WebVTT file has no cues (no 'start --> end' timing line).")
        return text
    if _SRT_TIMING.search(text):
        return "WEBVTT\n\n" + _SRT_TIMING.sub(r"\1.\2 --> \3.\4", text.strip()) + "\n"
    raise CaptionError("This is not a WebVTT (.vtt) or SubRip (.srt) caption file.")
