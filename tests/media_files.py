"""Real media files for the tests, made by FFmpeg on first use instead of being committed.

    from tests.media_files import MEDIA, media_file
    path = media_file("iphone_hevc.mov")     # a pathlib.Path, made once and kept for later runs
    MEDIA["iphone_hevc.mov"].plan            # what the pipeline should do with it: as_is, faststart, render
                                             # or unreadable; with .duration, .width, .height (display size)

Each file is a few seconds of `testsrc2` (a moving, colourful picture, never black) and a `sine` tone, at low
resolution, shaped like what phones, cameras, lecture capture and Teams produce. Files are kept in a folder of
the system's temporary directory named after this module's contents, so editing a recipe makes them again; a
file is written under a temporary name and renamed, so parallel test runs never see half a file.
"""
import hashlib
import os
import random
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path
from typing import NamedTuple

SECONDS = 3
SIZE = (320, 240)


class Expected(NamedTuple):
    plan: str              # as_is, faststart, render, or unreadable (probe raises MediaUnreadable)
    duration: float = SECONDS
    width: int | None = SIZE[0]     # display size, after rotation
    height: int | None = SIZE[1]
    has_video: bool = True
    has_audio: bool = True
    what: str = ""


AUDIO_ONLY = {"width": None, "height": None, "has_video": False}
MEDIA = {
    "teams.mp4": Expected("as_is", what="a Teams recording: H.264/AAC MP4, index at the front"),
    "index_end.mp4": Expected("faststart", what="H.264/AAC MP4 with its index at the end"),
    "iphone_hevc.mov": Expected("render", what="HEVC (hvc1) and AAC in QuickTime, as an iPhone films"),
    "phone_portrait.mov": Expected("render", width=SIZE[1], height=SIZE[0],
                                   what="a phone's portrait video: HEVC stored landscape, turned 90° on display"),
    "camera_prores.mov": Expected("render", what="ProRes 422 Proxy and PCM audio in QuickTime, as cameras record"),
    "camera_422.mp4": Expected("render", what="H.264 High 4:2:2 in MP4, as some cameras record"),
    "lecture.wmv": Expected("render", what="Windows Media Video 8 and Audio 2 in ASF"),
    "clip.avi": Expected("render", what="MPEG-4 part 2 and MP3 in AVI"),
    "clip.mkv": Expected("render", what="VP9 and Opus in Matroska"),
    "clip.webm": Expected("as_is", what="VP9 and Opus in WebM"),
    "song.mp3": Expected("as_is", what="MP3 with cover art (an attached picture, not video)", **AUDIO_ONLY),
    "tone.wav": Expected("as_is", what="16-bit PCM WAV", **AUDIO_ONLY),
    "voice.m4a": Expected("as_is", what="AAC in MP4 (M4A), index at the front", **AUDIO_ONLY),
    "voice.wma": Expected("render", what="Windows Media Audio alone", **AUDIO_ONLY),
    "corrupt.mp4": Expected("unreadable", None, None, None, False, False, "an MP4 header followed by random bytes"),
    "truncated.mp4": Expected("unreadable", None, None, None, False, False,
                              "the first half of an MP4 whose index is at the end"),
    "empty.mp4": Expected("unreadable", None, None, None, False, False, "no bytes at all"),
}

_VIDEO = ["-f", "lavfi", "-i", f"testsrc2=size={SIZE[0]}x{SIZE[1]}:rate=25:duration={SECONDS}"]
_AUDIO = ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={SECONDS}"]
_BOTH = [*_VIDEO, *_AUDIO]
_H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
_AAC = ["-c:a", "aac", "-b:a", "64k"]


def _hevc():
    if "libx265" in subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True).stdout:
        return ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error", "-tag:v", "hvc1"]
    return ["-c:v", "mpeg4", "-tag:v", "mp4v"]  # an FFmpeg without x265: still a codec browsers do not play


RECIPES = {
    "teams.mp4": [*_BOTH, *_H264, "-profile:v", "high", *_AAC, "-movflags", "+faststart"],
    "index_end.mp4": [*_BOTH, *_H264, *_AAC],
    "iphone_hevc.mov": [*_BOTH, "HEVC", *_AAC],
    "phone_portrait.mov": [*_BOTH, "HEVC", *_AAC],
    "camera_prores.mov": [*_BOTH, "-c:v", "prores_ks", "-profile:v", "0", "-c:a", "pcm_s16le"],
    "camera_422.mp4": [*_BOTH, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv422p", *_AAC],
    "lecture.wmv": [*_BOTH, "-c:v", "wmv2", "-b:v", "300k", "-c:a", "wmav2", "-b:a", "64k"],
    "clip.avi": [*_BOTH, "-c:v", "mpeg4", "-q:v", "5", "-c:a", "libmp3lame", "-b:a", "64k"],
    "clip.mkv": [*_BOTH, "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "200k",
                 "-c:a", "libopus", "-b:a", "48k"],
    "clip.webm": [*_BOTH, "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "200k",
                  "-c:a", "libopus", "-b:a", "48k"],
    "song.mp3": [*_AUDIO, "-f", "lavfi", "-i", "color=c=orange:size=64x64", "-map", "0:a", "-map", "1:v",
                 "-frames:v", "1", "-c:v", "mjpeg", "-disposition:v", "attached_pic", "-c:a", "libmp3lame",
                 "-b:a", "64k", "-id3v2_version", "3"],
    "tone.wav": [*_AUDIO, "-c:a", "pcm_s16le"],
    "voice.m4a": [*_AUDIO, *_AAC, "-movflags", "+faststart"],
    "voice.wma": [*_AUDIO, "-c:a", "wmav2", "-b:a", "64k"],
}


def media_dir() -> Path:
    """The folder that keeps the files, named after this module's contents (a changed recipe makes new files)."""
    key = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    folder = Path(tempfile.gettempdir()) / f"mediaspace-test-media-{key}"
    folder.mkdir(exist_ok=True)
    return folder


def media_file(name: str) -> Path:
    """The path of the test file `name` (a key of MEDIA), made now if this machine has not made it yet."""
    if name not in MEDIA:
        raise KeyError(f"no test media named {name!r}; see tests/media_files.py MEDIA")
    path = media_dir() / name
    if not path.exists():
        partial = path.with_name(f".{os.getpid()}.{name}")
        _make(name, partial)
        os.replace(partial, path)
    return path


def _make(name, out):
    if name == "empty.mp4":
        out.write_bytes(b"")
    elif name == "corrupt.mp4":
        noise = random.Random(15).randbytes(64 * 1024)
        out.write_bytes(struct.pack(">I4s4sI", 24, b"ftyp", b"isom", 512) + b"isomiso2" + noise)
    elif name == "truncated.mp4":
        whole = media_file("index_end.mp4").read_bytes()
        out.write_bytes(whole[:len(whole) // 2])
    else:
        args = [arg for part in RECIPES[name] for arg in (_hevc() if part == "HEVC" else [part])]
        muxer = {"mov": "mov", "mp4": "mp4", "m4a": "ipod", "webm": "webm", "mkv": "matroska", "avi": "avi",
                 "wmv": "asf", "wma": "asf", "mp3": "mp3", "wav": "wav"}[name.rpartition(".")[2]]
        subprocess.run([shutil.which("ffmpeg") or "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
                        *args, "-t", str(SECONDS), "-f", muxer, str(out)], check=True)
        if name == "phone_portrait.mov":
            _turn_quarter(out, SIZE[1])


def _turn_quarter(path, coded_height):
    """Write a 90° clockwise display matrix into the first track's header (tkhd), as phones filming upright do:
    the pictures stay stored landscape. (FFmpeg 5.1 has no option to write one.)"""
    data = bytearray(path.read_bytes())
    offset = 0
    while data[offset + 4:offset + 8] != b"moov":
        offset += struct.unpack(">I", data[offset:offset + 4])[0]
    tkhd = data.index(b"tkhd", offset)
    matrix = tkhd + 4 + 40  # after version and flags, times, track id, duration, layer, group, volume
    data[matrix:matrix + 36] = struct.pack(">9i", 0, 1 << 16, 0, -(1 << 16), 0, 0, coded_height << 16, 0, 1 << 30)
    path.write_bytes(bytes(data))
