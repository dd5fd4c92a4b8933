"""Entry page benchmark: the page of an entry with a two-hour transcript (every cue rendered as a button of the
interactive transcript); prints SQL queries, page size and median time.

    .venv/bin/python bench/entry_page.py [--cues 2400] [--requests 20] [--show-queries]

Targets: at most 10 queries, the same as with a 10-cue transcript (the cues are one query), and a median
under 100 ms. See bench/README.md.
"""
import argparse
import io
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median_seconds, setup, verdict  # noqa: E402

MAX_QUERIES = 10
MAX_MEDIAN = 0.100  # seconds
SHOW_QUERIES = False


def transcript(cues):
    from mediaspace.playback import vtt_time

    # Cues of three seconds, sentences of ordinary length: 2,400 cues are two hours.
    return ("WEBVTT\n\n" + "".join(
        f"{vtt_time(3 * n)} --> {vtt_time(3 * n + 3)}\nThis is sentence number {n} of the lecture, about as long as "
        f"people speak in three seconds.\n\n" for n in range(cues))).encode()


def entry_with_transcript(cues, name):
    from django.contrib.auth import get_user_model

    from mediaspace import services
    from mediaspace.ingest import entry_ingest
    from mediaspace.models import MediaEntry, UserRole
    from mediaspace.roles import Role

    user, _ = get_user_model().objects.get_or_create(username="owner")
    UserRole.objects.update_or_create(user=user, defaults={"role": Role.PRIVATE_ONLY})
    entry = entry_ingest(source=MediaEntry.Source.UPLOAD, reference_id=name, owner=user, name=name,
                         stream=io.BytesIO(b"\x1aE\xdf\xa3" + bytes(200)), filename="clip.webm")
    MediaEntry.objects.filter(pk=entry.pk).update(status=MediaEntry.Status.READY)  # whether processing is on or not
    services.caption_add(entry=entry, label="English", language="en", content=transcript(cues))
    return user, entry


def measure(client, entry, requests):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = entry.get_absolute_url()
    client.get(url)  # warm-up: templates compiled, as on a running server
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.status_code
    if SHOW_QUERIES:
        print("\n".join(query["sql"][:200] for query in queries.captured_queries))
    buttons = response.content.count(b"data-start=")
    return len(queries.captured_queries), len(response.content), buttons, median_seconds(lambda: client.get(url),
                                                                                         requests)


def run(args):
    workdir = setup()
    from django.test import Client

    print(f"entry page benchmark: a {args.cues}-cue transcript, {args.requests} requests, in {workdir}")
    client = Client()
    results = {}
    for cues in (10, args.cues):
        user, entry = entry_with_transcript(cues, f"Lecture with {cues} cues")
        client.force_login(user)
        results[cues] = queries, size, buttons, seconds = measure(client, entry, args.requests)
        print(f"{cues:>6} cues: {queries} queries, {buttons} cue buttons, {size / 1024:.0f} KiB of HTML, "
              f"median {seconds * 1000:.1f} ms")
    few, (many, _, buttons, seconds) = results[10][0], results[args.cues]
    ok = verdict(many <= MAX_QUERIES and many == few, f"queries: {many} (at most {MAX_QUERIES}, as with 10 cues)")
    ok &= verdict(buttons == args.cues, f"every cue listed: {buttons} of {args.cues}")
    ok &= verdict(seconds < MAX_MEDIAN, f"median {seconds * 1000:.1f} ms under {MAX_MEDIAN * 1000:.0f} ms")
    return ok


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cues", type=int, default=2400)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--show-queries", action="store_true", help="print the SQL of the page")
    arguments = parser.parse_args()
    SHOW_QUERIES = arguments.show_queries
    sys.exit(0 if run(arguments) else 1)
