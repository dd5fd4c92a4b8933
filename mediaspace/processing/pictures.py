"""The pictures of an entry: poster, card thumbnail, seek-preview sprite sheet, and a waveform for audio.

No picture of a video comes from decoding the whole file: the poster from a few frames found by seeking (`-ss`
before `-i`), the sprite from key frames alone, so a one-hour recording costs little more than a short clip, and
a file in S3 is read by Range. FFmpeg turns each frame upright by its rotation before the filters see it.
"""
import concurrent.futures
import math
import os
import shutil
import tempfile
from pathlib import Path

from mediaspace.processing import ffmpeg
from mediaspace.processing.ffmpeg import FFmpegFailed

POSTER_WIDTH = 1280         # at most; smaller videos keep their size
POSTER_SECONDS = 10         # the poster is taken a tenth of the way in, at most this far
POSTER_CANDIDATES = 30      # frames the `thumbnail` filter picks the most typical of
POSTER_SEARCH_SECONDS = 60  # how far past the poster's time a frame that is not black is looked for
DARK_LUMA = 40              # average luma (16 is black, 235 white) at or below which a frame counts as black
THUMBNAIL_WIDTH = 320
TILE_WIDTH = 160
SPRITE_COLUMNS = 10
SPRITE_TILES = 100          # at most; a tile every SPRITE_INTERVAL seconds for shorter files
SPRITE_INTERVAL = 2.0
# Codecs whose every frame is a key frame (cameras' and editors' files): reading key frames alone would read
# and decode the whole file, so their sprite seeks to each tile instead.
INTRA_ONLY = {"prores", "dnxhd", "dvvideo", "mjpeg", "jpeg2000", "rawvideo", "v210", "ffv1", "huffyuv", "utvideo",
              "cfhd", "png", "hqx", "hq_hqa"}
WAVEFORM_SIZE = "1280x360"
WAVEFORM_COLOUR = "#1d4ed8"


def poster_time(duration) -> float:
    """A tenth of the way in, at most 10 s; the middle of a clip shorter than 2 s."""
    if not duration:
        return 0.0
    return duration / 2 if duration < 2 else min(duration / 10, POSTER_SECONDS)


def poster(source, probe, out_path):
    """A JPEG of a frame a little way in, at its display size (at most 1280 px wide, square pixels): the most
    typical of the first frames there that are not black (a recording that opens on a black screen or a fade
    gets a picture of what follows), else, in a dark video, of the frames there whatever their light."""
    width = f"min({POSTER_WIDTH},iw*sar)"
    scale = f"scale=w='trunc({width}/2)*2':h='trunc({width}*ih/(iw*sar)/2)*2',setsar=1"
    typical = f"thumbnail=n={POSTER_CANDIDATES}"  # after the scale: the filter holds its candidates in memory
    not_black = f"signalstats,metadata=mode=select:key=lavfi.signalstats.YAVG:function=greater:value={DARK_LUMA}"
    for seconds, filters in dict.fromkeys([(poster_time(probe.duration), f"{scale},{not_black},{typical}"),
                                           (poster_time(probe.duration), f"{scale},{typical}"),
                                           (0.0, f"{scale},{typical}")]):  # a wrong duration: the start
        _frame(source, seconds, filters, out_path, ["-q:v", "3"], within=POSTER_SEARCH_SECONDS)
        if _written(out_path):
            return
    raise FFmpegFailed("FFmpeg found no frame to take a poster from.")


def thumbnail(poster_path, out_path):
    """A small JPEG for the cards, from the poster (or a waveform picture)."""
    ffmpeg.run(["-i", poster_path, "-vf", f"scale={THUMBNAIL_WIDTH}:-2", "-frames:v", "1", "-q:v", "4",
                "-f", "image2", "-c:v", "mjpeg", out_path])


def sprite_grid(probe) -> dict:
    """The tiles of the seek-preview sheet: one every `interval` seconds (at least 2 s, at most 100 tiles),
    `columns` across, each `width` x `height` pixels (the video's shape)."""
    duration = probe.duration or 0
    interval = max(SPRITE_INTERVAL, duration / SPRITE_TILES)
    count = max(1, min(SPRITE_TILES, math.ceil(duration / interval)))
    columns = min(SPRITE_COLUMNS, count)
    height = 2 * round(TILE_WIDTH * (probe.height or 9) / (probe.width or 16) / 2)
    return {"interval": round(interval, 3), "columns": columns, "rows": math.ceil(count / columns),
            "count": count, "width": TILE_WIDTH, "height": max(2, height)}


def sprite(source, probe, out_path) -> dict:
    """A JPEG sheet of small frames, row by row, for previews while seeking; returns its `sprite_grid`.

    Tile k shows the key frame at or before the middle of its interval. Only key frames are read and decoded:
    from a local file in one pass that skips every other frame unread (`-discard nokey`); from a URL, or when
    every frame is a key frame, by one short run per tile that seeks there, a few at a time, so only those
    places are read (with Range from a URL).
    """
    grid = sprite_grid(probe)
    if str(source).startswith(("http://", "https://")) or probe.video_codec in INTRA_ONLY:
        _sprite_by_seeking(source, probe, grid, out_path)
    else:
        interval = grid["interval"]
        # Shifted by half an interval so that the frame rate filter's ticks fall in the middles; the last key
        # frame is repeated past the end, so the tiles after it are filled and not black.
        ffmpeg.run(["-threads", _decoder_threads(), "-discard", "nokey", "-skip_frame", "nokey", "-i", source,
                    "-map", "0:V:0", "-an", "-sn", "-dn", "-vf",
                    f"setpts=PTS-{interval / 2}/TB,"
                    f"tpad=stop_mode=clone:stop_duration={(probe.duration or 0) + interval},"
                    f"fps=fps=1/{interval}:start_time=0,{_tile_size(grid)},{_sheet(grid)}",
                    "-frames:v", "1", "-q:v", "5", "-f", "image2", "-update", "1", "-c:v", "mjpeg", out_path])
    return grid


def _tile_size(grid):
    return f"scale={grid['width']}:{grid['height']},setsar=1"


def _sheet(grid):
    return f"tile={grid['columns']}x{grid['rows']}"


def _sprite_by_seeking(source, probe, grid, out_path):
    """The sheet from one FFmpeg run per tile; a tile past the real end of the file repeats the one before."""
    interval, count, duration = grid["interval"], grid["count"], probe.duration or 0
    with tempfile.TemporaryDirectory(prefix="sprite-") as folder:
        tiles = [Path(folder) / f"{index:03d}.jpg" for index in range(count)]

        def take(index):
            start = index * interval
            middle = (start + min(start + interval, duration or start + interval)) / 2
            try:
                _frame(source, middle, _tile_size(grid), tiles[index], ["-q:v", "5"], key_frame_only=True)
            except FFmpegFailed:
                pass  # a tile FFmpeg cannot read repeats its neighbour below

        with concurrent.futures.ThreadPoolExecutor(_parallel_runs()) as pool:
            list(pool.map(take, range(count)))
        _fill_gaps(tiles)
        ffmpeg.run(["-framerate", "1", "-start_number", "0", "-i", Path(folder) / "%03d.jpg",
                    "-vf", _sheet(grid), "-frames:v", "1", "-q:v", "5",
                    "-f", "image2", "-c:v", "mjpeg", out_path])


def waveform(source, probe, out_path):
    """A PNG of the sound's waveform, the picture of an audio entry (poster and thumbnail)."""
    ffmpeg.run([*ffmpeg.threads(), "-i", source, "-filter_complex",
                f"[0:a:0]aformat=channel_layouts=mono,showwavespic=s={WAVEFORM_SIZE}:colors={WAVEFORM_COLOUR}",
                "-frames:v", "1", "-f", "image2", "-c:v", "png", out_path], duration=probe.duration)


def _frame(source, seconds, filters, out_path, quality, *, key_frame_only=False, within=None):
    """One picture at `seconds` (input seeking: FFmpeg jumps to the key frame before it), reading at most
    `within` seconds from there. With `key_frame_only`, that key frame itself is taken and nothing else is
    decoded."""
    seek = ["-skip_frame", "nokey", "-noaccurate_seek"] if key_frame_only else []
    if within:
        seek += ["-t", str(within)]
    # passthrough: a key frame before `seconds` has a negative time, which the default frame rate would drop
    ffmpeg.run(["-threads", "1" if key_frame_only else _decoder_threads(), *seek, "-ss", f"{seconds:.3f}",
                "-i", source, "-map", "0:V:0", "-an", "-sn", "-dn", "-vf", filters, "-fps_mode", "passthrough",
                "-frames:v", "1", *quality, "-f", "image2", "-update", "1", "-c:v", "mjpeg", out_path])


def _written(path) -> bool:
    return os.path.exists(path) and os.path.getsize(path) > 0


def _fill_gaps(tiles):
    """Repeat the tile before (or, at the start, after) each one FFmpeg could not make."""
    made = [tile for tile in tiles if _written(tile)]
    if not made:
        raise FFmpegFailed("FFmpeg found no frame to make the seek previews from.")
    previous = made[0]
    for tile in tiles:
        if _written(tile):
            previous = tile
        else:
            shutil.copyfile(previous, tile)


def _parallel_runs() -> int:
    """FFmpeg runs at once for the tiles: one a core, within the threads setting."""
    threads = int(ffmpeg.threads()[1]) if ffmpeg.threads() else 0
    return max(1, min(threads or os.cpu_count() or 1, 4))


def _decoder_threads() -> str:
    return ffmpeg.threads()[1] if ffmpeg.threads() else "0"
