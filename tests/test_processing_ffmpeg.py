"""The FFmpeg operations of the media pipeline on real files (tests/media_files.py): probe, plan, faststart,
render and pictures."""
import http.server
import json
import subprocess
import threading
from pathlib import Path

import pytest

from mediaspace.processing import ffmpeg, pictures, renditions
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


# What to do with each file

@pytest.mark.parametrize("name", READABLE)
def test_each_file_gets_the_plan_browsers_need(name):
    assert renditions.plan(probe(str(media_file(name)))) == MEDIA[name].plan


def video(**fields):
    return Probe(**{"container": "mp4", "video_codec": "h264", "audio_codec": "aac", "pixel_format": "yuv420p",
                    "has_video": True, "has_audio": True, "index_at_front": True, "duration": 60.0, **fields})


@pytest.mark.parametrize("fields, expected", [
    ({}, "as_is"),                                            # a Teams recording
    ({"index_at_front": False}, "faststart"),
    ({"index_at_front": None}, "faststart"),                  # not found: the copy is safe
    ({"container": "mov"}, "faststart"),                      # H.264/AAC QuickTime from a phone: copied into MP4
    ({"has_audio": False, "audio_codec": ""}, "as_is"),       # a screen recording without sound
    ({"audio_codec": "mp3"}, "as_is"),
    ({"audio_codec": "pcm_s16le"}, "render"),                 # cameras' PCM sound does not play in MP4
    ({"pixel_format": "yuv420p10le"}, "render"),              # H.264 High 10
    ({"pixel_format": "yuv422p"}, "render"),                  # H.264 4:2:2 from cameras
    ({"video_codec": "hevc"}, "render"),
    ({"container": "matroska"}, "render"),
    ({"container": "webm", "video_codec": "vp9", "audio_codec": "opus"}, "as_is"),
    ({"container": "webm", "video_codec": "av1", "audio_codec": "vorbis"}, "as_is"),
    ({"container": "webm", "video_codec": "h264"}, "render"),
    ({"container": "ogg", "has_video": False, "video_codec": "", "audio_codec": "opus"}, "as_is"),
    ({"container": "flac", "has_video": False, "video_codec": "", "audio_codec": "flac"}, "render"),
])
def test_plan_plays_as_is_only_what_every_browser_plays(fields, expected):
    assert renditions.plan(video(**fields)) == expected


def test_with_renditions_off_nothing_is_rendered_but_the_index_is_still_moved():
    assert renditions.plan(video(video_codec="hevc"), make_renditions=False) == "as_is"
    assert renditions.plan(video(index_at_front=False), make_renditions=False) == "faststart"


def packets(path):
    return [(stream["codec_type"], stream["codec_name"], stream["nb_read_packets"])
            for stream in streams(path)["streams"]]


def test_faststart_moves_the_index_to_the_front_without_re_encoding(tmp_path):
    source, out = media_file("index_end.mp4"), tmp_path / "fast.mp4"
    percents = []

    renditions.faststart(str(source), str(out), on_progress=percents.append)

    assert probe(str(out)).index_at_front is True
    assert packets(out) == packets(source) and len(packets(out)) == 2
    assert percents[-1] == 100


RENDERED = ["iphone_hevc.mov", "phone_portrait.mov", "camera_prores.mov", "camera_422.mp4", "lecture.wmv",
            "clip.avi", "clip.mkv"]


@pytest.mark.parametrize("name", RENDERED)
def test_render_makes_an_upright_h264_aac_mp4_no_higher_than_asked(tmp_path, name):
    source, out = media_file(name), tmp_path / "web.mp4"
    before = probe(str(source))

    renditions.render(str(source), before, str(out), max_height=180)

    after = probe(str(out))
    assert (after.container, after.video_codec, after.audio_codec, after.pixel_format) == (
        "mp4", "h264", "aac", "yuv420p")
    assert after.index_at_front is True and after.rotation == 0
    assert after.height == 180 and after.width % 2 == 0
    assert after.width / after.height == pytest.approx(before.width / before.height, rel=0.02)  # shape kept
    assert after.duration == pytest.approx(before.duration, abs=0.2)
    assert renditions.plan(after) == "as_is"


def test_a_portrait_phone_video_becomes_portrait_pictures_without_a_rotation_flag(tmp_path):
    out = tmp_path / "web.mp4"

    renditions.render(str(media_file("phone_portrait.mov")), probe(str(media_file("phone_portrait.mov"))), str(out))

    video_stream = next(s for s in streams(out)["streams"] if s["codec_type"] == "video")
    assert (video_stream["width"], video_stream["height"]) == (240, 320)  # the pixels themselves stand upright
    assert "side_data_list" not in video_stream and "rotate" not in video_stream.get("tags", {})


def test_render_keeps_a_small_video_at_its_size(tmp_path):
    out = tmp_path / "web.mp4"

    renditions.render(str(media_file("clip.avi")), probe(str(media_file("clip.avi"))), str(out))

    assert (probe(str(out)).width, probe(str(out)).height) == (320, 240)


def test_render_of_audio_alone_makes_aac_in_m4a(tmp_path):
    out = tmp_path / "web.m4a"

    renditions.render(str(media_file("voice.wma")), probe(str(media_file("voice.wma"))), str(out))

    after = probe(str(out))
    assert (after.has_video, after.audio_codec, after.index_at_front) == (False, "aac", True)
    assert out.read_bytes()[8:12] == b"M4A "
    assert renditions.plan(after) == "as_is"


def test_render_reports_rising_percents_up_to_100(tmp_path):
    percents = []

    renditions.render(str(media_file("lecture.wmv")), probe(str(media_file("lecture.wmv"))),
                      str(tmp_path / "web.mp4"), on_progress=percents.append)

    assert percents == sorted(set(percents)) and len(percents) > 2 and percents[-1] == 100


def test_a_failed_render_leaves_no_partial_file(tmp_path):
    out = tmp_path / "web.mp4"
    out.write_bytes(b"from an earlier try")

    with pytest.raises(FFmpegFailed):
        renditions.render(str(media_file("corrupt.mp4")), video(), str(out))

    assert not out.exists()


def test_render_respects_the_threads_setting(settings):
    settings.MEDIASPACE_FFMPEG_THREADS = 1
    args = renditions.render_args("in.mov", video(video_codec="hevc"), "out.mp4")

    assert args[:2] == ["-threads", "1"] and args.count("-threads") == 2  # the decoder's and the encoder's


# Pictures

def luma(picture, crop=""):
    """The average luma (16 black .. 235 white) of a picture, or of the part `crop` (w:h:x:y) of it."""
    done = subprocess.run(["ffprobe", "-v", "error", "-f", "lavfi", "-i",
                           f"movie={picture}{f',crop={crop}' if crop else ''},signalstats",
                           "-show_entries", "frame_tags=lavfi.signalstats.YAVG", "-of", "csv=p=0"],
                          capture_output=True, text=True, check=True)
    return float(done.stdout.split()[0])


def size(picture):
    stream = streams(picture)["streams"][0]
    return stream["width"], stream["height"]


@pytest.mark.parametrize("name", ["teams.mp4", "phone_portrait.mov", "camera_prores.mov", "clip.webm"])
def test_the_poster_is_a_picture_at_the_display_size(tmp_path, name):
    found = probe(str(media_file(name)))

    pictures.poster(str(media_file(name)), found, str(tmp_path / "poster.jpg"))

    assert size(tmp_path / "poster.jpg") == (found.width, found.height)
    assert luma(tmp_path / "poster.jpg") > 60


def test_the_poster_of_a_recording_that_opens_on_black_shows_what_follows(tmp_path):
    clip = tmp_path / "black_start.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=black:size=320x240:rate=25:duration=3",
                    "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=3", "-filter_complex",
                    "[0:v][1:v]concat=n=2:v=1", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                    str(clip)], check=True)
    found = probe(str(clip))
    assert pictures.poster_time(found.duration) < 3  # the poster's time itself is still black

    pictures.poster(str(clip), found, str(tmp_path / "poster.jpg"))

    assert luma(tmp_path / "poster.jpg") > 60


def test_the_poster_of_a_dark_video_is_still_made(tmp_path):
    clip = tmp_path / "dark.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=black:size=160x120:rate=25:duration=2",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(clip)], check=True)

    pictures.poster(str(clip), probe(str(clip)), str(tmp_path / "poster.jpg"))

    assert size(tmp_path / "poster.jpg") == (160, 120)


def test_the_poster_time_is_a_little_way_in():
    assert pictures.poster_time(3600) == 10
    assert pictures.poster_time(30) == 3
    assert pictures.poster_time(1) == 0.5
    assert pictures.poster_time(None) == 0


def test_the_thumbnail_is_a_small_jpeg_of_the_poster(tmp_path):
    found = probe(str(media_file("teams.mp4")))
    pictures.poster(str(media_file("teams.mp4")), found, str(tmp_path / "poster.jpg"))

    pictures.thumbnail(str(tmp_path / "poster.jpg"), str(tmp_path / "thumb.jpg"))

    assert size(tmp_path / "thumb.jpg") == (320, 240)
    assert (tmp_path / "thumb.jpg").read_bytes()[:3] == b"\xff\xd8\xff"


@pytest.mark.parametrize("duration, interval, count, columns, rows", [
    (3600, 36, 100, 10, 10), (60, 2, 30, 10, 3), (3, 2, 2, 2, 1), (None, 2, 1, 1, 1)])
def test_the_sprite_grid_has_a_tile_every_few_seconds_and_at_most_100(duration, interval, count, columns, rows):
    grid = pictures.sprite_grid(video(duration=duration, width=1920, height=1080))

    assert (grid["interval"], grid["count"], grid["columns"], grid["rows"]) == (interval, count, columns, rows)
    assert (grid["width"], grid["height"]) == (160, 90)


@pytest.mark.parametrize("name", ["teams.mp4", "phone_portrait.mov"])
def test_the_sprite_sheet_holds_its_grid_of_tiles(tmp_path, name):
    found = probe(str(media_file(name)))

    grid = pictures.sprite(str(media_file(name)), found, str(tmp_path / "sprite.jpg"))

    assert grid == pictures.sprite_grid(found)
    assert size(tmp_path / "sprite.jpg") == (grid["columns"] * grid["width"], grid["rows"] * grid["height"])
    assert grid["height"] == 2 * round(160 * found.height / found.width / 2)
    assert min(tiles_luma(tmp_path / "sprite.jpg", grid)) > 60


def tiles_luma(sheet, grid):
    return [luma(sheet, f"{grid['width']}:{grid['height']}:{grid['width'] * (index % grid['columns'])}:"
                        f"{grid['height'] * (index // grid['columns'])}") for index in range(grid["count"])]


@pytest.fixture
def long_clip(tmp_path):
    """25 s with a key frame every 2 s; a black first second."""
    clip = tmp_path / "long.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=5:duration=25",
                    "-vf", "drawbox=t=fill:c=black:enable='lt(t,1)'", "-c:v", "libx264", "-preset", "ultrafast",
                    "-g", "10", "-pix_fmt", "yuv420p", str(clip)], check=True)
    return clip


def test_a_longer_sprite_sheet_has_rows_of_ten_tiles_each_from_its_interval(tmp_path, long_clip):
    grid = pictures.sprite(str(long_clip), probe(str(long_clip)), str(tmp_path / "sprite.jpg"))

    assert (grid["count"], grid["columns"], grid["rows"], grid["interval"]) == (13, 10, 2, 2)
    assert size(tmp_path / "sprite.jpg") == (1600, 240)
    lumas = tiles_luma(tmp_path / "sprite.jpg", grid)
    assert lumas[0] < 30 and min(lumas[1:]) > 60  # tile 0 is the black first second; none is padding


def test_the_sprite_of_an_intra_only_file_is_made_from_seeks_into_it(tmp_path, monkeypatch):
    """ProRes: every frame is a key frame, so reading key frames alone would decode the whole file."""
    found = probe(str(media_file("camera_prores.mov")))
    runs, real_frame = [], pictures._frame

    def recorded(source, seconds, *args, **kwargs):
        runs.append(seconds)
        return real_frame(source, seconds, *args, **kwargs)

    monkeypatch.setattr(pictures, "_frame", recorded)

    grid = pictures.sprite(str(media_file("camera_prores.mov")), found, str(tmp_path / "sprite.jpg"))

    assert runs == [1.0, 2.5]  # one seek to the middle of each interval (the second ends with the file)
    assert min(tiles_luma(tmp_path / "sprite.jpg", grid)) > 60


def test_the_sprite_of_a_url_is_made_from_seeks_into_it(tmp_path, long_clip, http_media):
    server, base = http_media
    shared = media_file("teams.mp4").parent / f"long-{tmp_path.name}.mp4"
    shared.write_bytes(long_clip.read_bytes())
    try:
        grid = pictures.sprite(base + shared.name, probe(str(long_clip)), str(tmp_path / "sprite.jpg"))
    finally:
        shared.unlink()

    assert grid == pictures.sprite_grid(probe(str(long_clip)))
    assert size(tmp_path / "sprite.jpg") == (1600, 240)
    lumas = tiles_luma(tmp_path / "sprite.jpg", grid)
    assert lumas[0] < 30 and min(lumas[1:]) > 60
    assert len(server.ranges) >= grid["count"]


@pytest.mark.parametrize("name", ["song.mp3", "tone.wav"])
def test_audio_gets_a_waveform_picture(tmp_path, name):
    pictures.waveform(str(media_file(name)), probe(str(media_file(name))), str(tmp_path / "wave.png"))

    assert (tmp_path / "wave.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert size(tmp_path / "wave.png") == (1280, 360)
