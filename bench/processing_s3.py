"""The media pipeline's run of a large Teams-like recording stored in S3: seconds and the worker's peak RSS growth.

    .venv/bin/python bench/processing_s3.py [--size-mib 512]

A Teams-like H.264/AAC MP4 (index at the front) of about --size-mib is made by FFmpeg (a 720p clip, looped by a
stream copy), ingested into S3 (AWS_S3_ENDPOINT_URL when set, otherwise a throwaway moto_server started with
scripts/services.sh: give it the RAM), then processed by `pipeline.process_queued` as the processing cluster does:
FFmpeg reads the original through a signed URL with Range requests. Targets: no render (it plays as it is), and
the worker's peak RSS growth under 64 MiB whatever the size (the file never passes through Python).
"""
import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MIB, measure, s3_bucket, setup, verdict  # noqa: E402


def teams_like(folder, size_mib):
    """An H.264/AAC MP4 of about `size_mib`, index at the front, made in seconds (one short encode, then copies)."""
    clip, looped = folder / "clip.mp4", folder / "recording.mp4"
    run = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"]
    subprocess.run([*run, "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30:duration=10", "-f", "lavfi", "-i",
                    "sine=duration=10", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "8M", "-pix_fmt",
                    "yuv420p", "-c:a", "aac", "-movflags", "+faststart", str(clip)], check=True)
    loops = max(0, round(size_mib * MIB / clip.stat().st_size) - 1)
    subprocess.run([*run, "-stream_loop", str(loops), "-i", str(clip), "-c", "copy", "-movflags", "+faststart",
                    str(looped)], check=True)
    return looped


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=512)
    args = parser.parse_args()
    s3, bucket = s3_bucket()
    os.environ["MEDIASPACE_PROCESSING"] = "true"
    workdir = setup(prefix="mediaspace-bench-processing-")

    from django.contrib.auth import get_user_model

    from mediaspace import services
    from mediaspace.ingest import entry_ingest
    from mediaspace.processing import pipeline

    recording = teams_like(workdir, args.size_mib)
    size = recording.stat().st_size
    owner = get_user_model().objects.create_user("bench", password="bench-pw-1")
    with recording.open("rb") as stream:
        entry = entry_ingest(source="teams", reference_id="bench", owner=owner, name="Bench", stream=stream,
                             filename="recording.mp4")
    assert entry.status == "processing", (entry.status, entry.error)

    seconds, growth, entry = measure(lambda: pipeline.process_queued(entry.pk))
    assert entry.status == "ready", entry.error
    print(f"processing of a {size / MIB:.0f} MiB H.264/AAC MP4 ({entry.duration / 60:.1f} min) in S3: "
          f"{seconds:.1f} s, plan {'as is' if not entry.playback else 'rendition'}, "
          f"peak RSS growth {growth:.1f} MiB")
    ok = verdict(not entry.playback, "no render: a Teams-like recording plays as it is")
    ok &= verdict(growth < 64, f"peak RSS growth {growth:.1f} MiB (target < 64 MiB, whatever the size)")
    services.entry_delete(entry=entry)
    s3.delete_bucket(Bucket=bucket)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
