"""Media pipeline benchmark: FFmpeg's work on long and large recordings, against issue 15's targets.

    .venv/bin/python bench/media.py [--hour-minutes 60] [--teams-mib 1024] [--hevc-seconds 120] [--rounds 2]
    .venv/bin/python bench/media.py --quick     # a smoke run: 3 minutes, 64 MiB, 10 s, 1 round

1. probe + poster + thumbnail + sprite of a 1-hour 1080p H.264 recording: under 15 s, and peak RSS growth of
   the worker with its FFmpeg children under 200 MiB;
2. a Teams-like 1 GiB H.264/AAC MP4: plays as is (no re-encode), probe + pictures under 5 s;
3. render of a 2-minute 1080p HEVC clip by `renditions.render` against the bare `ffmpeg` command with the same
   arguments, in the same run: at least 95% as fast, and the Python process's peak RSS growth under 100 MiB.

The recordings are made once by FFmpeg (a minute of `testsrc2`, then repeated by a stream copy) and kept in
var/bench/media/: about 4 GB at full size. See bench/README.md.
"""
import argparse
import math
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MIB, REPO, measure, peak_rss_kib, setup, verdict  # noqa: E402

MEDIA = REPO / "var" / "bench" / "media"
PICTURES_SECONDS, PICTURES_TREE_MIB = 15, 200
TEAMS_SECONDS = 5
RENDER_RATIO, RENDER_RSS_MIB = 0.95, 100
FULL_HD = "1920x1080"


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *map(str, args)], check=True)


def made(path, make):
    """`path`, made by `make(partial)` unless an earlier run made it."""
    if not path.exists():
        print(f"making {path.relative_to(REPO)} ...", flush=True)
        partial = path.with_name("partial-" + path.name)
        make(partial)
        partial.rename(path)
    return path


def h264_minute():
    """A minute of 1080p25 H.264 (key frame every 10 s, x264's default) and AAC, index at the front."""
    return made(MEDIA / "minute-1080p-h264.mp4", lambda out: ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=size={FULL_HD}:rate=25:duration=60",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=60",
        "-c:v", "libx264", "-preset", "ultrafast", "-crf", "32", "-g", "250", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "96k", "-movflags", "+faststart", out))


def repeated(source, times, name, size_limit=None):
    """`source` played `times` times over, by a stream copy (no encoding), index at the front, cut at
    `size_limit` bytes if given."""
    limit = ["-fs", size_limit] if size_limit else []
    return made(MEDIA / name, lambda out: ffmpeg(
        "-stream_loop", times - 1, "-i", source, "-c", "copy", *limit, "-movflags", "+faststart", "-f", "mp4", out))


def hevc_clip(seconds):
    base_seconds = min(20, seconds)
    base = made(MEDIA / f"hevc-1080p-{base_seconds}s.mov", lambda out: ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=size={FULL_HD}:rate=25:duration={base_seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={base_seconds}",
        "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error", "-tag:v", "hvc1",
        "-c:a", "aac", "-b:a", "96k", "-f", "mov", out))
    times = math.ceil(seconds / base_seconds)
    return made(MEDIA / f"hevc-1080p-{seconds}s.mov", lambda out: ffmpeg(
        "-stream_loop", times - 1, "-i", base, "-t", seconds, "-c", "copy", "-tag:v", "hvc1", "-f", "mov", out))


class ChildrenMemory:
    """Samples, every few milliseconds, the peak RSS (VmHWM) of this process's live children (the FFmpeg runs)
    and keeps the largest sum seen at once and the largest single one. A run shorter than the interval can be
    missed; the pictures' runs last from a tenth of a second to seconds."""

    def __init__(self, interval=0.005):
        self.interval, self.largest_sum, self.largest_one = interval, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _sample(self):
        while not self._stop.is_set():
            peaks = [peak_rss_kib(pid) for pid in _children()]
            self.largest_sum = max(self.largest_sum, sum(peaks))
            self.largest_one = max([self.largest_one, *peaks])
            time.sleep(self.interval)


def _children():
    pids = []
    for task in os.listdir("/proc/self/task"):
        try:
            pids += Path(f"/proc/self/task/{task}/children").read_text().split()
        except OSError:
            pass
    return pids


def _children_cpu():
    """CPU seconds (user + system) of this process's finished children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def pictures_of(source, folder):
    """What the pipeline does to a file that plays as is: probe, plan, poster, thumbnail, sprite."""
    from mediaspace.processing import pictures, renditions
    from mediaspace.processing.probe import probe

    found = probe(str(source))
    plan = renditions.plan(found)
    pictures.poster(str(source), found, folder / "poster.jpg")
    pictures.thumbnail(folder / "poster.jpg", folder / "thumbnail.jpg")
    grid = pictures.sprite(str(source), found, folder / "sprite.jpg")
    return found, plan, grid


def timed_pictures(source):
    with tempfile.TemporaryDirectory(prefix="bench-media-") as folder, ChildrenMemory() as children:
        seconds, python_mib, (found, plan, grid) = measure(lambda: pictures_of(source, Path(folder)))
    tree_mib = python_mib + children.largest_sum / 1024
    print(f"{source.name}: {source.stat().st_size / MIB:.0f} MiB, {found.duration / 60:.1f} min "
          f"{found.width}x{found.height} {found.video_codec}/{found.audio_codec}, plan {plan}, "
          f"sprite {grid['count']} tiles every {grid['interval']} s")
    print(f"  probe + poster + thumbnail + sprite {seconds:.2f} s; peak RSS growth: Python {python_mib:.1f} MiB, "
          f"FFmpeg children at once {children.largest_sum / 1024:.1f} MiB (largest run "
          f"{children.largest_one / 1024:.1f} MiB), tree {tree_mib:.1f} MiB")
    return seconds, tree_mib, plan


def render_rounds(source, rounds):
    """The pipeline's render and the bare command, interleaved, the order alternating; fastest rounds."""
    from mediaspace.processing import ffmpeg as pipeline_ffmpeg, renditions
    from mediaspace.processing.probe import probe

    found = probe(str(source))
    out = MEDIA / "rendered.mp4"
    bare_command = [pipeline_ffmpeg.ffmpeg_path(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
                    *map(str, renditions.render_args(str(source), found, str(out)))]
    progress = []

    def pipeline():
        renditions.render(str(source), found, str(out), on_progress=progress.append)

    def bare():
        subprocess.run(bare_command, check=True)

    times, cpu = {"pipeline": [], "bare": []}, {"pipeline": [], "bare": []}
    largest_growth = 0.0
    for index in range(rounds):
        for name in (("pipeline", "bare") if index % 2 else ("bare", "pipeline")):
            os.sync()
            cpu_before = _children_cpu()
            seconds, growth, _result = measure(pipeline if name == "pipeline" else bare)
            cpu[name].append(_children_cpu() - cpu_before)
            times[name].append(seconds)
            if name == "pipeline":
                largest_growth = max(largest_growth, growth)
            out.unlink()
    best = {name: min(values) for name, values in times.items()}
    print(f"{source.name}: {found.duration:.0f} s {found.width}x{found.height} {found.video_codec}, "
          f"{rounds} round(s); progress reports {len(progress)} (last {progress[-1] if progress else None})")
    for name, values in times.items():
        print(f"  {name:8} best {best[name]:.1f} s, rounds s: {' '.join(f'{value:.1f}' for value in values)}; "
              f"FFmpeg CPU s (user + sys): {' '.join(f'{value:.1f}' for value in cpu[name])}")
    print(f"  bare command: {' '.join(bare_command)}")
    return best["bare"] / best["pipeline"], largest_growth


def run(args):
    workdir = setup(prefix="mediaspace-bench-media-")
    from mediaspace.conf import setting

    MEDIA.mkdir(parents=True, exist_ok=True)
    print(f"work folder {workdir}; media in {MEDIA.relative_to(REPO)}; {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}; MEDIASPACE_FFMPEG_THREADS={setting('MEDIASPACE_FFMPEG_THREADS')}")
    minute = h264_minute()
    long = repeated(minute, args.hour_minutes, f"recording-1080p-{args.hour_minutes}min.mp4")
    teams_times = max(1, math.ceil(args.teams_mib * MIB / minute.stat().st_size))
    teams = repeated(minute, teams_times, f"teams-like-{args.teams_mib}mib.mp4", args.teams_mib * MIB)
    hevc = hevc_clip(args.hevc_seconds)
    results = []

    print("\n1. a long 1080p H.264 recording")
    seconds, tree_mib, _plan = timed_pictures(long)
    results.append(verdict(seconds < PICTURES_SECONDS, f"{args.hour_minutes} min: probe + pictures {seconds:.2f} s "
                                                        f"(target < {PICTURES_SECONDS} s)"))
    results.append(verdict(tree_mib < PICTURES_TREE_MIB, f"peak RSS growth of the worker and its FFmpeg runs "
                                                         f"{tree_mib:.1f} MiB (target < {PICTURES_TREE_MIB} MiB)"))

    print("\n2. a Teams-like H.264/AAC MP4")
    seconds, _tree_mib, plan = timed_pictures(teams)
    results.append(verdict(plan == "as_is", f"plan {plan} (target as_is: no re-encode, no copy)"))
    results.append(verdict(seconds < TEAMS_SECONDS, f"{teams.stat().st_size / MIB:.0f} MiB: processing "
                                                    f"{seconds:.2f} s (target < {TEAMS_SECONDS} s)"))

    print("\n3. render of a 1080p HEVC clip")
    ratio, growth = render_rounds(hevc, args.rounds)
    results.append(verdict(ratio >= RENDER_RATIO, f"pipeline at {ratio:.0%} of the bare command's speed, best "
                                                  f"rounds (target >= {RENDER_RATIO:.0%})"))
    results.append(verdict(growth < RENDER_RSS_MIB, f"Python peak RSS growth during the render {growth:.1f} MiB "
                                                    f"(target < {RENDER_RSS_MIB} MiB)"))
    return all(results)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hour-minutes", type=int, default=60, help="length of the long recording (minutes)")
    parser.add_argument("--teams-mib", type=int, default=1024, help="size of the Teams-like recording (MiB)")
    parser.add_argument("--hevc-seconds", type=int, default=120, help="length of the HEVC clip rendered")
    parser.add_argument("--rounds", type=int, default=2, help="renders of each kind, interleaved")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 3 min, 64 MiB, 10 s, 1 round")
    args = parser.parse_args()
    if args.quick:
        args.hour_minutes, args.teams_mib, args.hevc_seconds, args.rounds = 3, 64, 10, 1
    sys.exit(0 if run(args) else 1)


if __name__ == "__main__":
    main()
