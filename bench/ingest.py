"""Ingest benchmark: stream a large synthetic source through `entry_ingest`; print MB/s and peak RSS growth.

    .venv/bin/python bench/ingest.py [--size-mib 1024] [--rounds 7]

The source is given to the service in both forms it accepts: an open file, and a generator of chunks
of MEDIASPACE_INGEST_CHUNK_SIZE (as the integrations pass `requests`' iter_content, at that size). Targets, for each form: peak RSS growth
under 64 MiB, and at least 80% of the MB/s of a plain copy of the same bytes in the same form to a file
on the same file system, measured in the same run. See bench/README.md.
"""
import argparse
import os
import shutil
import statistics
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MIB, measure, setup, verdict  # noqa: E402

RSS_LIMIT_MIB = 64
SPEED_RATIO = 0.80
WEBM_HEAD = b"\x1aE\xdf\xa3"  # so the stored entry is recognised as video/webm, as a real upload would be


def write_source(path, size_mib):
    """A synthetic source of `size_mib` MiB, written 1 MiB at a time (each MiB stamped with its index)."""
    block = WEBM_HEAD + os.urandom(MIB - len(WEBM_HEAD))
    with open(path, "wb") as out:
        for index in range(size_mib):
            out.write(block[:4] + index.to_bytes(8, "big") + block[12:])


def read_chunks(path):
    """The file as a generator of chunks of the ingest's size, like the integrations' downloads: never all
    in memory."""
    from mediaspace.conf import setting

    chunk_size = setting("MEDIASPACE_INGEST_CHUNK_SIZE")
    with open(path, "rb") as source:
        while chunk := source.read(chunk_size):
            yield chunk


def plain_copy(source_path, target_path):
    with open(source_path, "rb") as source, open(target_path, "wb") as target:
        shutil.copyfileobj(source, target)


def plain_write(chunks, target_path):
    with open(target_path, "wb") as target:
        for chunk in chunks:
            target.write(chunk)


def ingest(owner, stream, size):
    from mediaspace.ingest import entry_ingest
    from mediaspace.models import MediaEntry

    return entry_ingest(
        source=MediaEntry.Source.UPLOAD, reference_id=uuid.uuid4().hex, owner=owner, name="bench",
        stream=stream, filename="bench.webm", bytes_expected=size,
    )


def run(args):
    workdir = setup()
    from django.contrib.auth import get_user_model

    from mediaspace.ingest import remove_entry_files

    size = args.size_mib * MIB
    source_path, copy_path = workdir / "source.bin", workdir / "copy.bin"
    owner = get_user_model().objects.create_user("bench", password=uuid.uuid4().hex)
    print(f"ingest benchmark: {args.size_mib} MiB synthetic source, {args.rounds} rounds, in {workdir}")
    write_source(source_path, args.size_mib)

    def ingest_file():
        with open(source_path, "rb") as stream:
            return ingest(owner, stream, size)

    # Each form of the source is compared with the plain copy of the same form to a file.
    pairs = {
        "ingest, file object": "plain copy, file object",
        "ingest, chunk generator": "plain write, chunk generator",
    }
    steps = {
        "plain copy, file object": lambda: plain_copy(source_path, copy_path),
        "ingest, file object": ingest_file,
        "plain write, chunk generator": lambda: plain_write(read_chunks(source_path), copy_path),
        "ingest, chunk generator": lambda: ingest(owner, read_chunks(source_path), size),
    }
    seconds = {name: [] for name in steps}
    growth = {name: [] for name in steps}
    names = list(steps)
    for round_index in range(-1, args.rounds):  # round -1 warms up (file system, imports) and is not counted
        # The order rotates, so that no step always runs first or always follows the same step.
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            step = steps[name]
            os.sync()  # every step starts with no dirty pages waiting to be written back
            elapsed, grown, entry = measure(step)
            if round_index >= 0:
                seconds[name].append(elapsed)
                growth[name].append(grown)
            if entry is None:  # a plain copy
                copy_path.unlink()
                continue
            if entry.status != entry.Status.READY or entry.size != size:
                sys.exit(f"{name}: the entry is {entry.status} with {entry.size} bytes: {entry.error}")
            remove_entry_files(entry)
            entry.delete()

    # MB/s from each step's fastest round: on a shared machine other work only ever adds time (stalls of
    # the page cache's write-back, other processes), so the fastest round is the step's own cost.
    print(f"{'step':36} {'best s':>7} {'MB/s':>6} {'median s':>9} {'peak RSS growth MiB':>20}   seconds per round")
    speed = {}
    for name in steps:
        best = min(seconds[name])
        speed[name] = size / best / 1e6
        rounds = " ".join(f"{value:.2f}" for value in seconds[name])
        print(f"{name:36} {best:7.2f} {speed[name]:6.0f} {statistics.median(seconds[name]):9.2f} "
              f"{max(growth[name]):20.1f}   {rounds}")

    ok = True
    for name, plain in pairs.items():
        baseline = speed[plain]
        grown = max(growth[name])
        ok &= verdict(grown < RSS_LIMIT_MIB, f"{name}: peak RSS growth {grown:.1f} MiB (target < {RSS_LIMIT_MIB} MiB)")
        ratio = speed[name] / baseline
        ok &= verdict(
            ratio >= SPEED_RATIO,
            f"{name}: {speed[name]:.0f} MB/s = {ratio:.1%} of {plain} {baseline:.0f} MB/s "
            f"(target ≥ {SPEED_RATIO:.0%})",
        )
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="size of the synthetic source (default 1024)")
    parser.add_argument("--rounds", type=int, default=7, help="measured rounds of each step (default 7)")
    sys.exit(0 if run(parser.parse_args()) else 1)


if __name__ == "__main__":
    main()
