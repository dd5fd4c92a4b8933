"""Caption files: WebVTT is stored as is; SubRip (.srt) is converted to WebVTT."""
import html
import re

MAX_CAPTION_BYTES = 5 * 1024 * 1024
TOO_LARGE = "The caption file is larger than 5 MiB."

_SRT_TIMING = re.compile(r"^(\d{1,2}:\d{2}:\d{2}),(\d{3}) --> (\d{1,2}:\d{2}:\d{2}),(\d{3})", re.MULTILINE)
_VTT_SIGNATURE = re.compile(r"^WEBVTT(?:[ \t\n]|$)")
_VTT_TIMING = re.compile(r"^(?:\d{1,2}:)?\d{2}:\d{2}\.\d{3}\s+-->\s+(?:\d{1,2}:)?\d{2}:\d{2}\.\d{3}", re.MULTILINE)


class CaptionError(ValueError):
    pass


def to_webvtt(raw: bytes) -> str:
    """The WebVTT text of a caption file, or CaptionError saying why it cannot be used."""
    if len(raw) > MAX_CAPTION_BYTES:
        raise CaptionError(TOO_LARGE)
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


_CUE_TIMING = re.compile(r"^((?:\d{1,2}:)?\d{2}:\d{2}\.\d{3})\s+-->\s+((?:\d{1,2}:)?\d{2}:\d{2}\.\d{3})")
_TAG = re.compile(r"<[^>]*>")


def seconds(timestamp: str) -> float:
    parts = [float(part) for part in timestamp.split(":")]
    return sum(part * 60 ** power for power, part in enumerate(reversed(parts)))


def cues(webvtt: str):
    """(start, end, text) of each cue of a WebVTT text, the text without markup (voice tags, styling) and with
    its character references (&amp; &lt; &nbsp; &#233; ...) decoded, as a player shows it."""
    for block in re.split(r"\n{2,}", webvtt.replace("\r\n", "\n")):
        lines = block.strip("\n").split("\n")
        for index, line in enumerate(lines):
            timing = _CUE_TIMING.match(line.strip())
            if timing:
                # markup first: a decoded "&lt;b&gt;" is text, not a tag
                text = html.unescape(" ".join(_TAG.sub("", part).strip() for part in lines[index + 1:]))
                if text.strip():
                    yield seconds(timing.group(1)), seconds(timing.group(2)), " ".join(text.split())
                break
