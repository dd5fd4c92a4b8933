"""Teams sync benchmark against the local Microsoft simulator (HTTPS, in this process).

1. A recording of --recording-mib (default 1024) streamed by the sync's ingest: seconds, MB/s, peak
   RSS growth, against `curl` fetching the same URL to a file in the same run.
2. A tenant of --users (10,000) users and --recordings (2,000) recordings, one in --transcribed-every (2) with
   a transcript, the integration's Teams transcription on: Graph requests of the first round and of a quiet
   round, requests per new recording (with and without a transcript), wall time of the first full sync
   (discovery and ingest, one worker), and database queries per recording.

    .venv/bin/python bench/teams_sync.py [--recording-mib 1024] [--users 10000] [--recordings 2000] \
        [--transcribed-every 2]
"""
import argparse
import atexit
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MIB, measure, setup, verdict  # noqa: E402

VTT = "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n<v User>Welcome.</v>\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recording-mib", type=int, default=1024)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--recordings", type=int, default=2_000)
    parser.add_argument("--transcribed-every", type=int, default=2, help="one recording in N has a transcript")
    args = parser.parse_args()
    workdir = setup(prefix="mediaspace-bench-teams-")

    from django.conf import settings
    from django.db import connection, reset_queries

    from integrations.teams.models import Recording, TeamsIntegration
    from integrations.teams import api, sync
    from mediaspace.models import MediaEntry
    from tests.simulator import Simulator

    ok = True
    with Simulator() as sim:
        settings.MICROSOFT_LOGIN_URL = settings.MICROSOFT_GRAPH_URL = sim.url
        os.environ["REQUESTS_CA_BUNDLE"] = sim.ca_path
        app = sim.add_app()
        integration = TeamsIntegration.objects.create(
            name="Bench", tenant_id=sim.tenant_id, client_id=app.client_id, client_secret=app.secret, enabled=True)

        # 1. One large recording, served by a simulator in a process of its own: in this process it would
        #    share the interpreter lock with the ingest it serves, and curl would not pay that.
        owner = sim.add_user("ann.lee@contoso.edu", "Ann Lee")
        big = sim.add_recording(organizer=owner, subject="Big", size=args.recording_mib * MIB)
        server_url = serve_elsewhere(sim)
        settings.MICROSOFT_LOGIN_URL = settings.MICROSOFT_GRAPH_URL = server_url
        queued = []
        sync.run(integration, queue=queued.append)
        seconds, growth, row = measure(lambda: sync.ingest(queued[0]))
        assert row.state == Recording.State.READY and row.entry.size == big.size, row.reason
        url = server_url + sim._recording_json(big)["recordingContentUrl"].removeprefix(sim.url)
        token = api.graph_for(integration).token_provider()
        start = time.perf_counter()
        subprocess.run(["curl", "-sS", "--fail", "--cacert", sim.ca_path, "-H", f"Authorization: Bearer {token}",
                        "-o", str(workdir / "curl.out"), url], check=True)
        curl_seconds = time.perf_counter() - start
        assert (workdir / "curl.out").stat().st_size == big.size
        (workdir / "curl.out").unlink()
        ingest_rate, curl_rate = big.size / seconds / 1e6, big.size / curl_seconds / 1e6
        print(f"recording {args.recording_mib} MiB: ingest {seconds:.1f} s ({ingest_rate:.0f} MB/s), "
              f"curl {curl_seconds:.1f} s ({curl_rate:.0f} MB/s), peak RSS growth {growth:.1f} MiB")
        ok &= verdict(growth < 64, f"peak RSS growth {growth:.1f} MiB (target < 64 MiB)")
        ok &= verdict(ingest_rate >= 0.7 * curl_rate,
                      f"throughput {ingest_rate / curl_rate:.0%} of curl (target >= 70%)")
        settings.MICROSOFT_LOGIN_URL = settings.MICROSOFT_GRAPH_URL = sim.url
        MediaEntry.objects.all().delete()
        Recording.objects.all().delete()
        sim.recordings.clear()
        api._providers.clear()  # tokens of the forked server are no good here

        # 2. A large tenant.
        users = [sim.add_user(f"user{index}@contoso.edu", f"User {index}") for index in range(args.users - 1)]
        transcribed = set()
        for index in range(args.recordings):
            with_transcript = index % args.transcribed_every == 0
            recording = sim.add_recording(organizer=users[index % len(users)], subject=f"Lecture {index}",
                                          size=64 * 1024, transcript=VTT if with_transcript else None)
            if with_transcript:
                transcribed.add(recording.meeting.id)
        integration.synced_until = None
        integration.transcription = True
        integration.save()

        def graph_requests():
            return len(sim.graph_requests())

        before = graph_requests()
        queued = []
        start = time.perf_counter()
        result = sync.run(integration, queue=queued.append)
        discovery_requests = graph_requests() - before
        before = graph_requests()
        settings.DEBUG = True  # counts the queries
        query_counts = {True: [], False: []}  # database queries of each ingest, by the same
        asked = {True: [], False: []}  # Graph requests of each ingest, by whether its meeting has a transcript
        meetings = dict(Recording.objects.values_list("pk", "meeting_id"))
        for recording_id in queued:
            reset_queries()
            requests_before = graph_requests()
            sync.ingest(recording_id)
            asked[meetings[recording_id] in transcribed].append(graph_requests() - requests_before)
            query_counts[meetings[recording_id] in transcribed].append(len(connection.queries))
        settings.DEBUG = False
        first_sync = time.perf_counter() - start
        ingest_requests = graph_requests() - before
        # per new recording: its ingest, and its share of the round that found it
        per_recording = (ingest_requests + discovery_requests) / max(1, len(queued))
        with_transcript = sum(asked[True]) / max(1, len(asked[True]))
        without_transcript = sum(asked[False]) / max(1, len(asked[False]))
        ready = Recording.objects.filter(state=Recording.State.READY).count()
        before = graph_requests()
        quiet = sync.run(integration, queue=queued.append)
        quiet_requests = graph_requests() - before
        print(f"tenant of {len(sim.users)} users, {args.recordings} recordings ({len(transcribed)} with a transcript), "
              f"transcription on: first round discovered {result['discovered']} with {discovery_requests} Graph "
              f"requests; ingest {ingest_requests / max(1, len(queued)):.2f} requests per recording "
              f"({with_transcript:.2f} with a transcript, {without_transcript:.2f} without); "
              f"{per_recording:.2f} per new recording with its share of the round; "
              f"first full sync {first_sync:.0f} s ({ready} ready); quiet round "
              f"{quiet_requests} requests ({quiet}); queries per recording: "
              + ", ".join(f"{'with' if kind else 'without'} a transcript {min(counts)}..{max(counts)}"
                          for kind, counts in query_counts.items() if counts))
        ok &= verdict(ready == args.recordings, f"{ready} of {args.recordings} recordings ready")
        ok &= verdict(quiet_requests <= 600, f"quiet round: {quiet_requests} Graph requests (target <= 600)")
        ok &= verdict(per_recording <= 3, f"{per_recording:.2f} Graph requests per new recording, transcription on "
                                          f"(target <= 3)")
        for kind, counts in query_counts.items():
            if counts:
                ok &= verdict(max(counts) == min(counts), f"queries per recording {'with' if kind else 'without'} "
                                                          f"a transcript constant ({min(counts)}..{max(counts)})")
    sys.exit(0 if ok else 1)


def serve_elsewhere(simulator):
    """A forked copy of the simulator (same tenant, same certificate) serving on a port of its own."""
    from tests.simulator import Simulator

    read, write = os.pipe()
    parent = os.getpid()
    child = os.fork()
    if child == 0:
        try:  # never return into the parent's code (its atexit handlers would remove its work folder)
            os.close(read)
            copy = Simulator.__new__(Simulator)
            copy.__dict__.update(simulator.__dict__)
            copy.start()
            os.write(write, copy.url.encode())
            os.close(write)
            while os.getppid() == parent:  # serve until the benchmark has gone
                time.sleep(1)
        finally:
            os._exit(0)
    os.close(write)
    url = os.read(read, 200).decode()
    os.close(read)
    atexit.register(os.kill, child, signal.SIGKILL)
    return url


if __name__ == "__main__":
    main()
