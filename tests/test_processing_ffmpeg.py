"""The FFmpeg operations of the media pipeline on real files (tests/media_files.py): probe, plan, faststart,
render and pictures."""
import http.server
import json
import subprocess
import threading
from pathlib import Path

import pytest

from mediaspace.processing import ffmpeg
from mediaspace.processing.ffmpeg import FFmpegFailed, MediaUnreadable
from mediaspace.processing.probe import Probe, probe
from tests.media_files import MEDIA, media_file

pytestmark = pytest.mark.skipif(not ffmpeg.available(), reason="FFmpeg is not installed")

READABLE = [name for name, expected in MEDIA.items() if expected.plan != "unreadable"]
UNREADABLE = [name for name, expected in MEDIA.items() if expected.plan == "unreadable"]
UNREADABLE_MESSAGE = "The file could not be read as audio or video."


def streams(path):
    """ffprobe's streams of a file, with their packet counts."""
    done = subprocess.run(["ffprobe", "-v", "error", "-count_packets", "-show_streams", "-show_format",
                           "-of", "json", str(path)], capture_output=True, check=True)
    return json.loads(done.stdout)


@pytest.mark.parametrize("name", READABLE)
def test_probe_finds_what_each_file_holds(name):
    expected = MEDIA[name]

    found = probe(str(media_file(name)))

    assert (found.has_video, found.has_audio) == (expected.has_video, expected.has_audio)
    assert (found.width, found.height) == (expected.width, expected.height)
    assert found.duration == pytest.approx(expected.duration, abs=0.15)
    assert bool(found.video_codec) == expected.has_video and bool(found.audio_codec) == expected.has_audio
    assert Probe.from_dict(json.loads(json.dumps(found.as_dict()))) == found


@pytest.mark.parametrize("name, container, video, audio, pixels", [
    ("teams.mp4", "mp4", "h264", "aac", "yuv420p"),
    ("iphone_hevc.mov", "mov", "hevc", "aac", "yuv420p"),
    ("camera_prores.mov", "mov", "prores", "pcm_s16le", "yuv422p10le"),
    ("lecture.wmv", "asf", "wmv2", "wmav2", "yuv420p"),
    ("clip.avi", "avi", "mpeg4", "mp3", "yuv420p"),
    ("clip.mkv", "matroska", "vp9", "opus", "yuv420p"),
    ("clip.webm", "webm", "vp9", "opus", "yuv420p"),
    ("song.mp3", "mp3", "", "mp3", ""),
    ("tone.wav", "wav", "", "pcm_s16le", ""),
])
def test_probe_names_the_container_and_codecs(name, container, video, audio, pixels):
    found = probe(str(media_file(name)))

    assert (found.container, found.video_codec, found.audio_codec, found.pixel_format) == (
        container, video, audio, pixels)


def test_a_phone_video_turned_upright_has_its_rotation_and_a_portrait_size():
    found = probe(str(media_file("phone_portrait.mov")))

    assert found.rotation == 90
    assert (found.width, found.height) == (240, 320)


def test_the_rotate_tag_of_older_phones_counts_too():
    from mediaspace.processing.probe import _rotation

    assert _rotation({"tags": {"rotate": "270"}}) == 270
    assert _rotation({"side_data_list": [{"side_data_type": "Display Matrix", "rotation": 90}]}) == 270


def test_cover_art_of_a_song_is_not_video():
    found = probe(str(media_file("song.mp3")))

    assert not found.has_video and found.width is None and found.video_codec == ""


@pytest.mark.parametrize("name, front", [("teams.mp4", True), ("index_end.mp4", False), ("voice.m4a", True)])
def test_the_index_position_of_an_mp4_is_read_from_its_boxes(name, front):
    assert probe(str(media_file(name))).index_at_front is front


@pytest.mark.parametrize("name", UNREADABLE)
def test_empty_truncated_and_corrupt_files_are_unreadable(name):
    with pytest.raises(MediaUnreadable) as raised:
        probe(str(media_file(name)))

    assert str(raised.value) == UNREADABLE_MESSAGE


def test_a_file_that_is_not_media_is_unreadable(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a video\n" * 100)

    with pytest.raises(MediaUnreadable, match=UNREADABLE_MESSAGE):
        probe(str(text))


def test_a_video_whose_frames_do_not_decode_is_unreadable(tmp_path):
    """Headers intact, picture data overwritten: ffprobe names an H.264 stream, but no frame comes out."""
    whole = bytearray(media_file("teams.mp4").read_bytes())
    mdat = whole.index(b"mdat") + 4
    whole[mdat:] = bytes(len(whole) - mdat)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(bytes(whole))

    with pytest.raises(MediaUnreadable, match=UNREADABLE_MESSAGE):
        probe(str(broken))


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder with Range support, as S3 and the portal's media views do."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = Path(self.translate_path(self.path))
        data = path.read_bytes() if path.is_file() else None
        if data is None:
            self.send_error(404)
            return
        first, last, status = 0, len(data) - 1, 200
        if self.headers.get("Range", "").startswith("bytes="):
            start, _dash, end = self.headers["Range"][6:].partition("-")
            first, last, status = int(start), min(int(end or last), last), 206
            self.server.ranges.append((first, last))
        self.send_response(status)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(last - first + 1))
        if status == 206:
            self.send_header("Content-Range", f"bytes {first}-{last}/{len(data)}")
        self.end_headers()
        try:
            self.wfile.write(data[first:last + 1])
        except (BrokenPipeError, ConnectionResetError):
            pass  # FFmpeg closes a connection once it has read enough


@pytest.fixture
def http_media():
    """An http:// URL prefix serving tests/media_files.py's folder, with Range; `.ranges` lists the ranges asked."""
    folder = media_file("teams.mp4").parent
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *args: RangeHandler(*args, directory=str(folder)))
    server.ranges = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("name", ["index_end.mp4", "phone_portrait.mov", "clip.webm"])
def test_probe_reads_a_url_with_range_requests(http_media, name):
    server, base = http_media
    media_file(name)

    found = probe(base + name)

    assert found == probe(str(media_file(name)))
    assert server.ranges  # the index at the end is read by seeking, not by fetching the whole file


def test_probe_of_a_missing_url_is_a_failure_to_fetch_not_an_unreadable_file(http_media):
    _server, base = http_media

    with pytest.raises(FFmpegFailed):
        probe(base + "gone.mp4")


def test_ffmpeg_is_unavailable_when_its_program_is_not_found(settings):
    assert ffmpeg.available()
    settings.MEDIASPACE_FFPROBE = "no-such-ffprobe"

    assert not ffmpeg.available()


def test_run_reports_rising_percents_up_to_100(tmp_path):
    percents = []

    ffmpeg.run(["-i", media_file("teams.mp4"), "-c:v", "libx264", "-preset", "ultrafast", "-f", "mp4",
                tmp_path / "out.mp4"], duration=3.0, on_progress=percents.append)

    assert percents == sorted(set(percents)) and percents[-1] == 100 and len(percents) > 1


def test_run_raises_ffmpeg_failed_with_ffmpegs_last_lines(tmp_path):
    with pytest.raises(FFmpegFailed) as raised:
        ffmpeg.run(["-i", tmp_path / "missing.mp4", tmp_path / "out.mp4"])

    assert "No such file or directory" in raised.value.reason


def test_run_stops_ffmpeg_when_the_caller_is_interrupted(monkeypatch):
    children = []

    class Recorded(subprocess.Popen):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            children.append(self)

    def stop(percent):
        raise KeyboardInterrupt

    monkeypatch.setattr(ffmpeg.subprocess, "Popen", Recorded)
    with pytest.raises(KeyboardInterrupt):
        ffmpeg.run(["-re", "-i", media_file("teams.mp4"), "-f", "null", "-"], duration=3.0, on_progress=stop)

    assert [child.returncode for child in children] == [-9]  # killed, not left playing the file in real time
