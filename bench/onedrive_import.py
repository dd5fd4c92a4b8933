"""OneDrive import benchmark against the local Microsoft simulator (HTTPS).

1. A file of --file-mib (default 1024) imported by the real task, `onedrive.imports.import_file`, after
   `start_imports` created its entry, from a forked copy of the simulator: seconds, MB/s and peak RSS
   growth of the worker, against `curl` fetching the item's pre-authenticated download URL in the same run.
   Targets: RSS growth < 64 MiB, throughput >= 70% of curl.
2. A folder of --folder-items (default 5,000) items shown by the picker (Django's test client, signed in,
   `GET /onedrive/?folder=<id>`): Graph requests and wall time of the first page, and of paging to the last.

    .venv/bin/python bench/onedrive_import.py [--file-mib 1024] [--rounds 5] [--folder-items 5000]
"""
import argparse
import html
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MIB, measure, setup, verdict
from teams_sync import serve_elsewhere

NEXT_LINK = re.compile(r'<a href="([^"]+)" rel="next">')
ROW = '<tr class="'  # one per file or folder in the picker's table (the header row has no class)


def cpu_seconds(before, after):
    """(user, system) CPU seconds between two getrusage() answers."""
    return after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def cpu_text(rounds):
    user, system = statistics.median(u for u, _s in rounds), statistics.median(s for _u, s in rounds)
    return f"{user:.2f} + {system:.2f} = {user + system:.2f} s"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=5, help="import and curl each run this many times")
    parser.add_argument("--folder-items", type=int, default=5_000)
    args = parser.parse_args()
    workdir = setup(prefix="mediaspace-bench-onedrive-")

    import requests
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from mediaspace.models import MediaEntry, UserRole
    from mediaspace.roles import Role
    from onedrive import imports, signin
    from onedrive.models import MicrosoftAccount, OneDriveModule
    from tests.simulator import Simulator

    ok = True
    with Simulator() as sim:
        settings.MICROSOFT_LOGIN_URL = settings.MICROSOFT_GRAPH_URL = sim.url
        os.environ["REQUESTS_CA_BUNDLE"] = sim.ca_path
        app = sim.add_app(secret=False, name="KMS onedrive integration",
                          redirect_uris=["http://testserver/onedrive/index/blank-page"])
        module = OneDriveModule.load()
        module.enabled, module.application_id = True, app.client_id
        module.save()
        ann = sim.add_user("ann.lee@contoso.edu", "Ann Lee")
        user = get_user_model().objects.create_user(username="ann", password="bench-password-1")
        UserRole.objects.update_or_create(user=user, defaults={"role": Role.PRIVATE_ONLY})
        token = sim.user_token(ann, app)  # what the sign-in would have kept; the forked copy accepts it too
        MicrosoftAccount.objects.create(
            user=user, tenant_id=sim.tenant_id, object_id=ann.id, username=ann.upn, display_name=ann.display_name,
            application_id=app.client_id, access_token=token, expires_at=timezone.now() + timedelta(minutes=50))

        # 1. One large file, served by a simulator in a process of its own (in this process it would share the
        #    interpreter lock with the import it serves, and curl would not pay that).
        big = sim.add_file(ann, "Videos/Big lecture.mp4", args.file_mib * MIB)
        server_url = serve_elsewhere(sim)
        settings.MICROSOFT_LOGIN_URL = settings.MICROSOFT_GRAPH_URL = server_url
        queued = []
        imports.async_task = lambda func, *task_args, **options: queued.append((func, task_args))
        key = f"{ann.drive_id}/{big.id}"

        def import_once():
            """One import, from the picker's selection to a ready entry; returns (seconds, RSS growth, CPU)."""
            queued.clear()
            outcome = imports.start_imports(user, module, signin.graph_for_user(user, module), [key])
            assert len(outcome.started) == 1 and queued == [(imports.TASK, (outcome.started[0].pk,))], outcome
            entry_id = queued[0][1][0]
            os.sync()
            cpu_before = resource.getrusage(resource.RUSAGE_SELF)
            seconds, growth, status = measure(lambda: imports.import_file(entry_id))
            cpu = cpu_seconds(cpu_before, resource.getrusage(resource.RUSAGE_SELF))
            entry = MediaEntry.objects.get(pk=entry_id)
            assert status == MediaEntry.Status.READY and entry.size == big.size, (status, entry.error)
            with entry.media.open("rb") as stored:  # the right bytes, at the right places (not timed)
                for offset in (0, big.size // 2, max(0, big.size - 70_000)):  # each 64 KiB block is numbered
                    stored.seek(offset)
                    assert stored.read(70_000) == b"".join(big.content(offset, offset + 69_999))[:70_000], offset
            entry.media.delete(save=False)
            entry.delete()  # so that the next round imports again
            return seconds, growth, cpu

        def curl_once():
            item = requests.get(f"{server_url}/v1.0/me/drive/items/{big.id}",
                                headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
            url = item["@microsoft.graph.downloadUrl"]  # pre-authenticated: no token goes with it
            output = workdir / "curl.out"
            os.sync()
            cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(["curl", "-sS", "--fail", "--cacert", sim.ca_path, "-o", str(output), url], check=True)
            seconds = time.perf_counter() - start
            cpu = cpu_seconds(cpu_before, resource.getrusage(resource.RUSAGE_CHILDREN))
            assert output.stat().st_size == big.size
            output.unlink()
            return seconds, cpu

        import_times, curl_times, growths, import_cpu, curl_cpu = [], [], [], [], []
        for round_number in range(max(1, args.rounds)):
            steps = ["import", "curl"] if round_number % 2 == 0 else ["curl", "import"]
            for step in steps:
                if step == "import":
                    seconds, growth, cpu = import_once()
                    import_times.append(seconds)
                    growths.append(growth)
                    import_cpu.append(cpu)
                else:
                    seconds, cpu = curl_once()
                    curl_times.append(seconds)
                    curl_cpu.append(cpu)
        size = big.size
        import_rate, curl_rate = size / min(import_times) / 1e6, size / min(curl_times) / 1e6
        growth = max(growths)
        print(f"file {args.file_mib} MiB, {len(import_times)} rounds: import best {min(import_times):.1f} s "
              f"({import_rate:.0f} MB/s, median {statistics.median(import_times):.1f} s), curl best "
              f"{min(curl_times):.1f} s ({curl_rate:.0f} MB/s, median {statistics.median(curl_times):.1f} s), "
              f"peak RSS growth {growth:.1f} MiB (largest of the rounds)")
        print(f"  import rounds s: {' '.join(f'{s:.1f}' for s in import_times)}; "
              f"curl rounds s: {' '.join(f'{s:.1f}' for s in curl_times)}")
        print(f"  CPU seconds (user + sys), median of the rounds: worker {cpu_text(import_cpu)}, "
              f"curl {cpu_text(curl_cpu)}")
        ok &= verdict(growth < 64, f"peak RSS growth {growth:.1f} MiB (target < 64 MiB)")
        median_ratio = statistics.median(curl_times) / statistics.median(import_times)
        ok &= verdict(import_rate >= 0.7 * curl_rate,
                      f"throughput {import_rate / curl_rate:.0%} of curl, best rounds (target >= 70%; "
                      f"medians: {median_ratio:.0%})")

        # 2. A large folder in the picker, served by the simulator in this process (its request log counts).
        settings.MICROSOFT_LOGIN_URL = settings.MICROSOFT_GRAPH_URL = sim.url
        small = sim.add_folder(ann, "Small folder")
        for index in range(10):
            sim.add_file(ann, f"Small folder/Clip {index}.mp4", 1000)
        large = sim.add_folder(ann, "Large folder")
        for index in range(args.folder_items):
            name = f"Notes {index:05d}.pdf" if index % 10 == 9 else f"Clip {index:05d}.mp4"
            sim.add_file(ann, f"Large folder/{name}", 1000)
        client = Client()
        client.force_login(user)
        client.get("/onedrive/")  # warms up templates, URL resolvers and the session

        def show(url):
            """(Graph requests, seconds, rows, next page URL) of one picker page."""
            before = len(sim.graph_requests())
            start = time.perf_counter()
            response = client.get(url)
            seconds = time.perf_counter() - start
            assert response.status_code == 200, (url, response.status_code)
            page = response.content.decode()
            found = NEXT_LINK.search(page)
            return (len(sim.graph_requests()) - before, seconds, page.count(ROW),
                    html.unescape(found.group(1)) if found else None)

        small_requests, small_seconds, small_rows, _next = show(f"/onedrive/?folder={small.id}")
        assert small_rows == 10, small_rows
        first_requests, first_seconds, rows, next_url = show(f"/onedrive/?folder={large.id}")
        total_requests, total_seconds, total_rows, pages = first_requests, first_seconds, rows, 1
        page_seconds, page_requests = [], [first_requests]
        while next_url:
            requests_made, seconds, rows, next_url = show(next_url)
            page_requests.append(requests_made)
            total_requests += requests_made
            total_seconds += seconds
            total_rows += rows
            page_seconds.append(seconds)
            pages += 1
        expected_pages = max(1, math.ceil(args.folder_items / 100))
        print(f"folder of {args.folder_items} items: first page {first_requests} Graph requests, "
              f"{first_seconds * 1000:.0f} ms (a folder of 10: {small_requests} requests, "
              f"{small_seconds * 1000:.0f} ms); last page reached after {pages} pages, {total_requests} Graph "
              f"requests, {total_seconds:.1f} s in all (median further page "
              f"{statistics.median(page_seconds or [0]) * 1000:.0f} ms); {total_rows} rows shown")
        ok &= verdict(total_rows == args.folder_items, f"{total_rows} of {args.folder_items} items shown")
        ok &= verdict(first_requests == small_requests <= 2,
                      f"first page: {first_requests} Graph requests, as for a folder of 10 ({small_requests}) "
                      f"(target: the same, <= 2)")
        further = page_requests[1:] or [0]
        ok &= verdict(pages == expected_pages and set(further) <= {1},
                      f"paging: {pages} pages of 100 (expected {expected_pages}), Graph requests per further page "
                      f"{min(further)}..{max(further)} (target: 1, the kept nextLink; the folder is kept too)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
