"""What a media file holds, as FFmpeg's ffprobe reads it: container, codecs, duration, display size, rotation.

`probe(source)` reads a local path or an http(s) URL (FFmpeg reads a URL with Range requests, so a file in S3 is
read through its signed URL without being downloaded). The result is a `Probe`, kept on the entry as a dict.
"""
import dataclasses
import json
import os
import struct
import subprocess
import urllib.request

from mediaspace.processing import ffmpeg
from mediaspace.processing.ffmpeg import FFmpegFailed, MediaUnreadable

PROBE_TIMEOUT = 120  # seconds; ffprobe reads headers and one frame, far less on any readable file
MP4_FAMILY = "mov,mp4,m4a,3gp,3g2,mj2"  # ffprobe's format_name of the MP4 demuxer, QuickTime included
# Demuxers of still pictures (and the *_pipe ones) and of text shown as a picture (tty: any text file): they
# name a "video" stream, but a picture or a text is not audio or video to the pipeline.
NOT_MEDIA_FORMATS = {"image2", "gif", "webp", "apng", "tty", "bin", "xbin", "adf", "idf"}
# ffprobe's messages when it could not fetch a URL at all: the file may be fine, so this is not "unreadable".
TRANSPORT_ERRORS = ("Server returned", "Connection refused", "Connection timed out", "timed out",
                    "Name or service not known", "Failed to resolve")


@dataclasses.dataclass
class Probe:
    container: str = ""        # mp4, mov (QuickTime brand), webm, matroska, avi, asf, mp3, wav, ogg...
    video_codec: str = ""      # ffprobe's codec_name (h264, hevc, prores, vp9...); "" without video
    audio_codec: str = ""      # aac, mp3, opus, pcm_s16le...; "" without audio
    duration: float | None = None  # seconds
    width: int | None = None   # display size: sample aspect ratio and rotation applied
    height: int | None = None
    rotation: int = 0          # degrees clockwise the picture is turned when shown: 0, 90, 180 or 270
    has_video: bool = False    # cover art of a song is not video
    has_audio: bool = False
    pixel_format: str = ""     # yuv420p, yuv420p10le, yuv422p...
    index_at_front: bool | None = None  # MP4/MOV: the moov box comes before the mdat box; None for others

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Probe":
        """The probe kept on an entry; keys it does not know (or no longer knows) are left out."""
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in (data or {}).items() if key in names})


def probe(source: str) -> Probe:
    """Probe a local path or an http(s) URL. Raises MediaUnreadable for empty, truncated, corrupt or non-media
    input and for a file whose audio or video stream cannot be decoded; FFmpegFailed when a URL cannot be
    fetched at all."""
    source = str(source)
    if not _is_url(source) and os.path.getsize(source) == 0:
        raise MediaUnreadable()
    found = _ffprobe(source, "-show_format", "-show_streams")
    streams = found.get("streams") or []
    file_format = found.get("format") or {}
    format_name = file_format.get("format_name", "")
    video = next((s for s in streams if s.get("codec_type") == "video"
                  and not (s.get("disposition") or {}).get("attached_pic")), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if not (video or audio) or any(name in NOT_MEDIA_FORMATS or name.endswith("_pipe")
                                   for name in format_name.split(",")):
        raise MediaUnreadable()
    # Headers can name a stream whose data is missing or garbage: a frame must decode from its first packets
    # (not the first alone: AAC drops its first packet's priming samples).
    if not _decodes_a_frame(source, (video or audio)["index"]):
        raise MediaUnreadable()

    result = Probe(container=_container(source, format_name, file_format.get("tags") or {}),
                   video_codec=(video or {}).get("codec_name", ""), audio_codec=(audio or {}).get("codec_name", ""),
                   duration=_duration(file_format, [s for s in (video, audio) if s]),
                   has_video=video is not None, has_audio=audio is not None)
    if video:
        result.pixel_format = video.get("pix_fmt", "")
        result.rotation = _rotation(video)
        result.width, result.height = _display_size(video, result.rotation)
    if format_name == MP4_FAMILY:
        result.index_at_front = index_at_front(source)
    return result


def _is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def _ffprobe(source, *options) -> dict:
    command = [ffmpeg.ffprobe_path() or "ffprobe", "-v", "error", *options, "-of", "json"]
    if _is_url(source):
        command += ["-rw_timeout", "30000000"]  # microseconds without a byte before ffprobe gives up
    try:
        done = subprocess.run([*command, source], capture_output=True, timeout=PROBE_TIMEOUT,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise FFmpegFailed(f"ffprobe did not finish within {PROBE_TIMEOUT} s") from None
    messages = done.stderr.decode("utf-8", "replace").strip()
    if done.returncode != 0:
        if _is_url(source) and any(error in messages for error in TRANSPORT_ERRORS):
            raise FFmpegFailed(messages[-1000:])
        raise MediaUnreadable()
    try:
        return json.loads(done.stdout or b"{}")
    except ValueError:
        raise MediaUnreadable() from None


def _decodes_a_frame(source, stream_index) -> bool:
    found = _ffprobe(source, "-select_streams", str(stream_index), "-read_intervals", "%+#8",
                     "-show_entries", "frame=pts")
    return bool(found.get("frames"))


def _container(source, format_name, tags) -> str:
    if format_name == MP4_FAMILY:
        return "mov" if tags.get("major_brand", "").strip() == "qt" else "mp4"
    if format_name == "matroska,webm":
        return "webm" if _ebml_doctype(source) == "webm" else "matroska"
    return format_name.split(",")[0]


def _duration(file_format, streams):
    for value in (file_format.get("duration"), *(s.get("duration") for s in streams)):
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            continue
        if seconds > 0:
            return round(seconds, 3)
    return None


def _rotation(stream) -> int:
    """Clockwise degrees: the display matrix (ffprobe gives it counter-clockwise) or the older `rotate` tag."""
    for side_data in stream.get("side_data_list") or []:
        if "rotation" in side_data:
            return int(-float(side_data["rotation"])) % 360
    try:
        return int(float((stream.get("tags") or {}).get("rotate", 0))) % 360
    except ValueError:
        return 0


def _display_size(stream, rotation):
    width, height = stream.get("width"), stream.get("height")
    if not width or not height:
        return None, None
    numerator, _colon, denominator = (stream.get("sample_aspect_ratio") or "1:1").partition(":")
    if numerator.isdigit() and denominator.isdigit() and int(numerator) and int(denominator):
        width = round(width * int(numerator) / int(denominator))
    return (height, width) if rotation in (90, 270) else (width, height)


def _reader(source):
    """read(offset, size) -> bytes of a local file or, with a Range request, of a URL."""
    if not _is_url(source):
        def read_file(offset, size):
            with open(source, "rb") as file:
                file.seek(offset)
                return file.read(size)
        return read_file

    def read_url(offset, size):
        request = urllib.request.Request(source, headers={"Range": f"bytes={offset}-{offset + size - 1}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            if response.status != 206 and offset:
                return b""  # no Range support: the answer would start at byte 0
            return response.read(size)
    return read_url


def index_at_front(source) -> bool | None:
    """MP4/MOV: whether the index (moov box) comes before the media data (mdat), from the top-level box headers
    alone (a few reads of 16 bytes); None when neither is found."""
    read = _reader(str(source))
    offset = 0
    try:
        for _box in range(100):
            header = read(offset, 16)
            if len(header) < 8:
                return None
            size, kind = struct.unpack(">I4s", header[:8])
            if kind == b"moov":
                return True
            if kind == b"mdat":
                return False
            if size == 1 and len(header) == 16:
                size = struct.unpack(">Q", header[8:16])[0]
            if size < 8:
                return None  # 0: the box runs to the end of the file; anything else is not a box
            offset += size
    except OSError:
        return None
    return None


def _ebml_doctype(source) -> str:
    """webm or matroska, from the EBML header's DocType element (ffprobe names one demuxer for both)."""
    try:
        head = _reader(source)(0, 64)
    except OSError:
        return ""
    at = head.find(b"\x42\x82")
    if at < 0 or at + 3 > len(head):
        return ""
    length = head[at + 2] & 0x7F  # a one-byte size (0x80 | n), what every muxer writes for the doctype
    return head[at + 3:at + 3 + length].decode("ascii", "replace")
