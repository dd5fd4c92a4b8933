"""Transcript search benchmark: 10,000 entries with one-hour transcripts on PostgreSQL; prints the median
time of a search and whether the query plan uses the full-text index.

    .venv/bin/python bench/transcript_search.py [--entries 10000] [--cues 720] [--searches 30]
                                                [--database-url postgres://...]

Without --database-url (or DATABASE_URL) a throwaway PostgreSQL server is started with
scripts/postgres.sh. One user owns every entry (the worst case for My Media); each entry has one
caption track of `--cues` cues (one every 5 s: an hour) of words drawn from a vocabulary of 5,000, and
the searched words are rare (a few hundred entries say them). The timed step is what My Media does
for `?q=`: count the matches, fetch the first page and its first matching cues. Targets: index used,
median under 100 ms. See bench/README.md.
"""
import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, setup, verdict  # noqa: E402

INDEX = "mediaspace_captioncue_text_search"
RARE_WORDS = ["photoelectric", "thermodynamics", "mitochondria", "renaissance", "keynesian"]


def throwaway_postgres():
    started = subprocess.run(["bash", str(REPO / "scripts/postgres.sh"), "start"], check=True, text=True,
                             capture_output=True).stdout
    values = dict(part.split("=", 1) for part in started.strip().split("; "))
    return values["PG_URL"], values["PGDIR"]


def fill(entries, cues, rng):
    """The entries, their tracks and cues, written with COPY-sized bulk inserts."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from mediaspace.models import CaptionCue, CaptionTrack, MediaEntry

    owner = get_user_model().objects.create_user("lecturer", password="x" * 20)
    vocabulary = [f"word{number}" for number in range(5000)]
    started = time.perf_counter()
    for first in range(0, entries, 500):
        batch = MediaEntry.objects.bulk_create(
            MediaEntry(name=f"Lecture {number:05d}", owner=owner, status=MediaEntry.Status.READY,
                       content_type="video/mp4", source=MediaEntry.Source.TEAMS, reference_id=f"bench:{number}")
            for number in range(first, min(first + 500, entries)))
        tracks = CaptionTrack.objects.bulk_create(
            CaptionTrack(entry=entry, label="Teams transcript", language="en", file=f"captions/{entry.pk}.vtt")
            for entry in batch)
        rows = []
        for track in tracks:
            rare = rng.random() < 0.03  # about 300 entries of 10,000 mention a rare word, once
            said_at = rng.randrange(cues)
            for number in range(cues):
                words = rng.choices(vocabulary, k=12)
                if rare and number == said_at:
                    words[5] = rng.choice(RARE_WORDS)
                rows.append(CaptionCue(track=track, entry_id=track.entry_id, start=number * 5.0,
                                       end=number * 5.0 + 4.5, text=" ".join(words)))
        CaptionCue.objects.bulk_create(rows, batch_size=5000)
        print(f"\r  {min(first + 500, entries)}/{entries} entries", end="", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE mediaspace_captioncue")
        cursor.execute("ANALYZE mediaspace_mediaentry")
    print(f"\r  {entries} entries, {entries * cues} cues written in {time.perf_counter() - started:.0f} s")
    return owner


def my_media_search(owner, query):
    """What My Media does for ?q=: the count, the first page and its first matching cues."""
    from mediaspace.models import CaptionCue, MediaEntry

    matches = MediaEntry.objects.owned_by(owner).search(query)
    total = matches.count()
    page = list(matches.order_by("-created", "-pk")[:24])
    cues = CaptionCue.objects.matching(query).filter(entry_id__in=[entry.pk for entry in page])
    first = {cue.entry_id: cue for cue in cues.first_per_entry()}
    return total, len(page), len(first)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--cues", type=int, default=720, help="cues per transcript (720 = one hour, one per 5 s)")
    parser.add_argument("--searches", type=int, default=30)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    args = parser.parse_args()

    pgdir = None
    url = args.database_url
    if not url:
        url, pgdir = throwaway_postgres()
    try:
        setup(prefix="mediaspace-bench-search-", database_url=url)
        from django.db import connection

        from mediaspace.models import CaptionCue

        assert connection.vendor == "postgresql", "this benchmark measures PostgreSQL's full-text search"
        owner = fill(args.entries, args.cues, random.Random(7))
        plan = CaptionCue.objects.matching(RARE_WORDS[0]).explain()
        uses_index = INDEX in plan
        times, found = [], []
        for number in range(args.searches):
            query = RARE_WORDS[number % len(RARE_WORDS)]
            start = time.perf_counter()
            found.append(my_media_search(owner, query))
            times.append(time.perf_counter() - start)
        median_ms = statistics.median(times) * 1000
        print(f"{args.entries} entries, {args.entries * args.cues} cues; {args.searches} searches of rare words: "
              f"median {median_ms:.1f} ms, slowest {max(times) * 1000:.1f} ms; matches per search "
              f"{min(f[0] for f in found)}..{max(f[0] for f in found)}")
        print("query plan of the cue search:\n  " + plan.replace("\n", "\n  "))
        ok = verdict(uses_index, f"the full-text index {INDEX} is used")
        ok &= verdict(median_ms < 100, f"median search {median_ms:.1f} ms (target < 100 ms)")
        ok &= verdict(all(f[1] == min(24, f[0]) and f[2] == f[1] for f in found),
                      "every result on the first page shows its matching cue")
    finally:
        if pgdir:
            subprocess.run(["bash", str(REPO / "scripts/postgres.sh"), "stop", pgdir], check=False)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
