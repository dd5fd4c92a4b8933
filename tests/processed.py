"""Entries as the media pipeline leaves them, for the pages' tests: a small real poster, thumbnail, seek sprite and
H.264/AAC rendition, made once per session with FFmpeg, stored into an entry's fields the way the pipeline
stores them (a fresh folder per run), without running the pipeline."""
import subprocess
from pathlib import Path

from django.core.files import File
from django.utils import timezone

FFMPEG = "/usr/bin/ffmpeg"
# 4 columns x 2 rows of 80x45 tiles, one every 2 seconds of a 15-second video (8 tiles).
GRID = {"interval": 2, "columns": 4, "rows": 2, "count": 8, "width": 80, "height": 45}


def ffmpeg(*args):
    subprocess.run([FFMPEG, "-v", "error", "-nostdin", "-y", *args], check=True, timeout=120)


def make_files(folder: Path, *, seconds=15) -> dict:
    """{"poster": jpg, "thumbnail": jpg, "sprite": jpg, "playback": mp4, "waveform": png} under `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {name: folder / name for name in ("poster.jpg", "thumbnail.jpg", "sprite.jpg", "playback.mp4",
                                              "waveform.png")}
    pattern = ["-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=25:duration={seconds}"]
    ffmpeg(*pattern, "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", "-c:a", "aac", "-movflags", "+faststart", "-shortest",
           str(files["playback.mp4"]))
    ffmpeg("-ss", "1", "-i", str(files["playback.mp4"]), "-frames:v", "1", str(files["poster.jpg"]))
    ffmpeg("-i", str(files["poster.jpg"]), "-vf", "scale=160:90", str(files["thumbnail.jpg"]))
    ffmpeg("-i", str(files["playback.mp4"]), "-vf", "fps=1/2,scale=80:45,tile=4x2", "-frames:v", "1",
           str(files["sprite.jpg"]))
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-filter_complex",
           "showwavespic=s=320x180", "-frames:v", "1", str(files["waveform.png"]))
    return {path.stem: path for path in files.values()}


def store_processed(entry, files, *, playback=True, sprite=True, duration=15.0, picture="poster"):
    """Give `entry` what processing would have given it: pictures, grid, duration, size, and a rendition unless
    `playback` is False (the original plays as it is). `picture` "waveform" stores an audio entry's picture."""
    pictures = {"poster": files[picture], "thumbnail": files["thumbnail" if picture == "poster" else picture]}
    if sprite:
        pictures["sprite"] = files["sprite"]
    if playback:
        pictures["playback"] = files["playback"]
    for field, path in pictures.items():
        with path.open("rb") as opened:
            getattr(entry, field).save(f"{field}{path.suffix}", File(opened), save=False)
    entry.sprite_grid = dict(GRID) if sprite else {}
    entry.duration, entry.width, entry.height = duration, 320, 180
    entry.processed = timezone.now()
    entry.save()
    return entry
