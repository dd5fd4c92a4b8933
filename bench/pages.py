"""Pages benchmark: My Media and a category page with many entries; prints SQL queries and median time per page.

    .venv/bin/python bench/pages.py [--sizes 100,10000] [--requests 20] [--show-queries] [--database-url URL | --postgres]

For each size, one user owns that many ready entries (no files), all published to one category. Each
page is requested by the Django test client signed in as that user, in two ways: kept in memory while the
database has not changed (mediaspace/page_cache.py), and built, with keeping off, as after any change.
Targets, for each way: the number of queries of every page is the same for every size (constant) and at most
10; the median time of every page is under 5 ms and the same at every size (within 1 ms, or 25 % above 4 ms).
See bench/README.md.
"""
import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import setup, verdict  # noqa: E402

MAX_QUERIES = 10
MAX_MEDIAN = 0.005  # seconds
SAME_WITHIN = 0.001  # seconds, or 25 % of the smallest size's median when that is more
TAGS = ["physics", "chemistry", "biology", "history", "music", "art", "law", "economics", "sport", "news"]
SEARCH = TAGS[0]  # a tag one entry in ten has, so a search has many pages of results at full size


def create_entries(size):
    """A user owning `size` ready entries, all published (approved) to one category of their own."""
    from django.contrib.auth import get_user_model

    from mediaspace.models import Category, MediaEntry, Publication, UserRole
    from mediaspace.roles import Role

    user = get_user_model().objects.create_user(f"owner{size}", password=uuid.uuid4().hex)
    UserRole.objects.update_or_create(user=user, defaults={"role": Role.PRIVATE_ONLY})
    category = Category.objects.create(name=f"Category with {size} entries")
    entries = MediaEntry.objects.bulk_create(
        (
            MediaEntry(
                name=f"Lecture {number:05d}", description=f"Recording {number} of the series.",
                tags=f"{TAGS[number % len(TAGS)]}, lecture", owner=user, status=MediaEntry.Status.READY,
                content_type="video/webm", size=1_000_000 + number,
            )
            for number in range(size)
        ),
        batch_size=1000,
    )
    Publication.objects.bulk_create(
        (
            Publication(category=category, entry=entry, status=Publication.Status.APPROVED, published_by=user)
            for entry in entries
        ),
        batch_size=1000,
    )
    from django.db import connection

    if connection.vendor == "postgresql":  # what autovacuum does soon after a bulk insert: statistics for the planner,
        with connection.cursor() as cursor:  # and the search's trigram indexes take in their pending entries
            cursor.execute("VACUUM ANALYZE")
    return user, category


def pages_for(size, category):
    """(label, url, entry cards expected on the page) of each page measured."""
    from django.urls import reverse

    from mediaspace.conf import setting

    page_size = setting("MEDIASPACE_PAGE_SIZE")
    middle = max(1, -(-size // page_size) // 2)
    found = sum(1 for number in range(size) if number % len(TAGS) == 0)
    my_media, category_url = reverse("mediaspace:my_media"), reverse("mediaspace:category", args=[category.pk])

    def cards(total, page):
        return max(0, min(page_size, total - (page - 1) * page_size))

    return [
        ("My Media, page 1", my_media, cards(size, 1)),
        (f"My Media, middle page ({middle})", f"{my_media}?page={middle}", cards(size, middle)),
        (f"My Media, search '{SEARCH}'", f"{my_media}?q={SEARCH}", cards(found, 1)),
        ("category, page 1", category_url, cards(size, 1)),
        (f"category, middle page ({middle})", f"{category_url}?page={middle}", cards(size, middle)),
    ]


MODES = {"kept": "served from memory (nothing changed since it was built)",
         "built": "built (MEDIASPACE_PAGE_CACHE_BYTES=0: as the first view after a change)"}


def measure_page(client, url, cards, requests):
    """(SQL queries run by one request, median seconds of `requests` requests, the queries)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm-up: templates compiled and cached, the page kept, as on a running server
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    sql = [query["sql"] for query in queries.captured_queries]  # now: each request clears the query log
    if response.status_code != 200 or response.content.count(b'data-entry="') != cards:
        sys.exit(f"{url}: status {response.status_code}, {response.content.count(b'data-entry=')} entry cards, "
                 f"expected 200 and {cards}")
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        client.get(url)
        times.append(time.perf_counter() - start)
    return len(sql), statistics.median(times), sql


def run(args):
    from load import start_postgres

    workdir = setup(database_url=start_postgres() if args.postgres else args.database_url)
    from django.db import connection
    from django.test import Client
    from django.test.utils import override_settings
    print(f"pages benchmark: {' and '.join(map(str, args.sizes))} entries, {args.requests} requests per page, "
          f"{connection.vendor}, in {workdir}")
    results = {}  # (mode, label without the page number, size) -> (queries, seconds)
    for size in args.sizes:
        start = time.perf_counter()
        user, category = create_entries(size)
        print(f"created {size} entries and publications in {time.perf_counter() - start:.1f}s")
        client = Client()
        client.force_login(user)
        for label, url, cards in pages_for(size, category):
            for mode in MODES:
                with override_settings(**({"MEDIASPACE_PAGE_CACHE_BYTES": 0} if mode == "built" else {})):
                    count, seconds, sql = measure_page(client, url, cards, args.requests)
                results[mode, label.split(" (")[0], size] = (count, seconds)
                if args.show_queries:
                    print(f"--- {label}, {size} entries, {mode}: {count} queries")
                    for number, statement in enumerate(sql, 1):
                        print(f"  {number:2}. {statement}")
    ok = True
    for mode, meaning in MODES.items():
        print(f"\npages {meaning}")
        ok &= report({(label, size): value for (kind, label, size), value in results.items() if kind == mode},
                     args.sizes, mode)
    return ok


def report(results, sizes, mode):
    labels = list(dict.fromkeys(label for label, _size in results))
    print(f"{'page':32}" + "".join(f" {f'queries@{size}':>14}" for size in sizes)
          + "".join(f" {f'median ms@{size}':>16}" for size in sizes))
    for label in labels:
        print(f"{label:32}" + "".join(f" {results[label, size][0]:14d}" for size in sizes)
              + "".join(f" {results[label, size][1] * 1000:16.1f}" for size in sizes))

    varying = [label for label in labels if len({results[label, size][0] for size in sizes}) > 1]
    most = max(count for count, _seconds in results.values())
    ok = verdict(not varying, f"{mode}: queries constant across sizes" + (
        f": they vary on {', '.join(varying)}" if varying else f" ({', '.join(map(str, sizes))})"))
    ok &= verdict(most <= MAX_QUERIES, f"{mode}: queries at most {MAX_QUERIES} per page: the most on any page is {most}")
    slowest = max(results, key=lambda key: results[key][1])
    ok &= verdict(results[slowest][1] < MAX_MEDIAN, f"{mode}: median under {MAX_MEDIAN * 1000:.0f} ms for every page: "
                  f"the slowest is {slowest[0]} at {slowest[1]} entries, {results[slowest][1] * 1000:.1f} ms")
    smallest, largest = min(sizes), max(sizes)
    growing = [f"{label} ({results[label, smallest][1] * 1000:.1f} -> {results[label, largest][1] * 1000:.1f} ms)"
               for label in labels
               if results[label, largest][1] - results[label, smallest][1]
               > max(SAME_WITHIN, 0.25 * results[label, smallest][1])]
    ok &= verdict(not growing, f"{mode}: median the same at {smallest} and {largest} entries"
                  + (f": it grows on {', '.join(growing)}" if growing else ""))
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=lambda text: [int(part) for part in text.split(",")], default=[100, 10_000],
                        help="entries per user and category, comma-separated (default 100,10000)")
    parser.add_argument("--requests", type=int, default=20, help="timed requests per page (default 20)")
    parser.add_argument("--show-queries", action="store_true", help="print the SQL of every page")
    database = parser.add_mutually_exclusive_group()
    database.add_argument("--database-url", help="an empty PostgreSQL database to use instead of SQLite")
    database.add_argument("--postgres", action="store_true",
                          help="start a throwaway PostgreSQL server (scripts/postgres.sh) and use it")
    sys.exit(0 if run(parser.parse_args()) else 1)


if __name__ == "__main__":
    main()
