"""Soak: two django-q2 clusters ingest --recordings (2,000) Teams recordings from the simulator on PostgreSQL +
Redis + S3; prints lost (target 0), duplicated (target 0), wall time and peak RSS per worker process.

    .venv/bin/python bench/soak.py [--recordings 2000] [--size-kib 128] [--workers 4] [--faults] [--kill]

The services come from the environment when it names them (DATABASE_URL of PostgreSQL, REDIS_URL,
AWS_S3_ENDPOINT_URL with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY); otherwise the script starts throwaway ones
(scripts/postgres.sh, scripts/services.sh: Debian's postgresql and redis-server, moto_server). Either way it
works in a new database, a Redis queue and a bucket of its own, and removes them at the end. The simulator
runs as a process of its own (`python -m tests.simulator --scenario ...`); `--faults` makes it throttle 5% of
Graph answers (Retry-After 1 s) and cut 2% of downloads mid-stream. `--kill` kills the first cluster with
SIGKILL once half the recordings are ready, restarts it at once, and prints the recovery time: how long after
the kill the recordings being ingested at that moment were all ready (target 180 s), with the default leases.

Lost: a recording of the simulator without a ready entry of its exact size whose object is in the bucket.
Duplicated: entries beyond one per recording, objects beyond one per entry, and recordings whose content was
downloaded in full more than once (a repeated download is no second entry, but it is work done twice).
"""
import argparse
import atexit
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peak_rss_kib, start_throwaway  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def start_services():
    """{DATABASE_URL (a server), REDIS_URL, AWS_S3_ENDPOINT_URL}: the environment's, or throwaway ones."""
    services = {}
    if os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        services["DATABASE_URL"] = os.environ["DATABASE_URL"]
    else:
        started = start_throwaway("postgres.sh", "PGDIR")
        services["DATABASE_URL"] = started["PG_URL"]
    if os.environ.get("REDIS_URL") and os.environ.get("AWS_S3_ENDPOINT_URL"):
        services["REDIS_URL"] = os.environ["REDIS_URL"]
        services["AWS_S3_ENDPOINT_URL"] = os.environ["AWS_S3_ENDPOINT_URL"]
    else:
        started = start_throwaway("services.sh", "SERVICES_DIR")
        services["REDIS_URL"], services["AWS_S3_ENDPOINT_URL"] = started["REDIS_URL"], started["S3_URL"]
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    return services


def scenario(recordings, size, organizers, faults):
    users = [{"upn": f"user{index}@contoso.edu", "display_name": f"User {index}"} for index in range(organizers)]
    meetings = [{"organizer": users[index % organizers]["upn"], "subject": f"Lecture {index}", "recordings": [size]}
                for index in range(recordings)]
    app = {"client_id": str(uuid.uuid4()), "secret": "soak-secret-" + uuid.uuid4().hex, "billing": True}
    data = {"tenants": [{"name": "Contoso", "apps": [app], "users": users, "meetings": meetings}]}
    if faults:
        data["faults"] = {"throttle_ratio": 0.05, "retry_after": 1, "cut_ratio": 0.02}
    return data, app


def start_simulator(workdir, data):
    (workdir / "scenario.json").write_text(json.dumps(data))
    ready = workdir / "ready.json"
    process = subprocess.Popen([PYTHON, "-m", "tests.simulator", "--port", "0",
                                "--scenario", str(workdir / "scenario.json"), "--state-file",
                                str(workdir / "state.json"), "--ready-file", str(ready)],
                               cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    atexit.register(process.terminate)
    deadline = time.monotonic() + 120
    while not ready.exists():
        assert process.poll() is None and time.monotonic() < deadline, "the simulator did not start"
        time.sleep(0.1)
    return json.loads(ready.read_text()), json.loads((workdir / "state.json").read_text())


def process_tree(pid):
    """pid and all its descendants (from /proc)."""
    children = {}
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(status.parent.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recordings", type=int, default=2000)
    parser.add_argument("--size-kib", type=int, default=128, help="size of each recording")
    parser.add_argument("--organizers", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4, help="workers per cluster")
    parser.add_argument("--faults", action="store_true", help="throttle 5%% of Graph answers, cut 2%% of downloads")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds to wait for every recording")
    parser.add_argument("--kill", action="store_true", help="kill -9 a cluster halfway, restart it, print the "
                                                           "recovery time (with the default leases)")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    workdir = Path(tempfile.mkdtemp(prefix="mediaspace-soak-"))
    services = start_services()
    name = f"soak_{uuid.uuid4().hex[:10]}"

    import boto3
    import psycopg

    with psycopg.connect(services["DATABASE_URL"], autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    database_url = urlunsplit(urlsplit(services["DATABASE_URL"])._replace(path=f"/{name}"))
    s3 = boto3.client("s3", endpoint_url=services["AWS_S3_ENDPOINT_URL"], region_name="us-east-1")
    bucket = name.replace("_", "-")
    s3.create_bucket(Bucket=bucket)

    data, app = scenario(args.recordings, args.size_kib * 1024, args.organizers, args.faults)
    ready, state = start_simulator(workdir, data)
    expected = {recording["id"]: recording["size"] for meeting in state["meetings"]
                for recording in meeting["recordings"]}
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "mediaspace.project.settings", "DATABASE_URL": database_url,
        "REDIS_URL": services["REDIS_URL"], "Q_CLUSTER_NAME": name, "Q_WORKERS": str(args.workers),
        "AWS_STORAGE_BUCKET_NAME": bucket, "AWS_S3_ENDPOINT_URL": services["AWS_S3_ENDPOINT_URL"],
        "AWS_S3_REGION_NAME": "us-east-1", "MICROSOFT_LOGIN_URL": ready["url"], "MICROSOFT_GRAPH_URL": ready["url"],
        "REQUESTS_CA_BUNDLE": ready["ca_path"], "DEBUG": "false", "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    })
    if not args.kill:  # the recovery time is measured with the default leases
        os.environ.update({"MEDIASPACE_INGEST_LEASE_SECONDS": "30", "TEAMS_CLAIM_LEASE_SECONDS": "60"})
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    from django.db import connection
    from django.db.models import Count
    from django_q.tasks import async_task

    from integrations.teams.models import Recording, TeamsIntegration
    from mediaspace.models import MediaEntry

    integration = TeamsIntegration.objects.create(name="Soak", tenant_id=state["default_tenant"],
                                                  client_id=app["client_id"], client_secret=app["secret"], enabled=True)

    def start_cluster(number):
        log = open(workdir / f"cluster{number}.log", "a")
        return subprocess.Popen([PYTHON, "manage.py", "qcluster"], cwd=REPO, stdout=log, stderr=log,
                                start_new_session=True)

    clusters = [start_cluster(1), start_cluster(2)]

    def stop_clusters():
        for cluster in clusters:
            if cluster.poll() is None:
                os.killpg(cluster.pid, signal.SIGTERM)
        for cluster in clusters:
            try:
                cluster.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(cluster.pid, signal.SIGKILL)

    atexit.register(stop_clusters)
    peaks = {}  # (cluster, pid) -> peak RSS KiB, sampled every second (workers are recycled)
    print(f"{args.recordings} recordings of {args.size_kib} KiB, 2 clusters x {args.workers} workers, "
          f"PostgreSQL + Redis + S3{', with faults' if args.faults else ''}; work folder {workdir}", flush=True)
    started = time.monotonic()
    last_round = -1e9
    ready_count = 0
    killed_at = recovered_at = None
    in_flight = set()  # the recordings being ingested when the first cluster was killed
    while time.monotonic() - started < args.timeout:
        if args.kill and killed_at is None and ready_count >= len(expected) // 2:
            os.killpg(clusters[0].pid, signal.SIGKILL)
            clusters[0].wait()
            killed_at = time.monotonic()
            in_flight = set(Recording.objects.filter(state=Recording.State.DOWNLOADING).values_list("pk", flat=True))
            clusters[0] = start_cluster(1)  # restarted at once
        if time.monotonic() - last_round >= 20:  # a sync round now and then, as the schedule would
            for _ in range(2):  # two at once, taken by both clusters
                async_task("integrations.teams.tasks.sync_integration", integration.pk)
            last_round = time.monotonic()
        for number, cluster in enumerate(clusters, 1):
            for pid in process_tree(cluster.pid):
                peaks[(number, pid)] = max(peaks.get((number, pid), 0), peak_rss_kib(pid))
        ready_count = MediaEntry.objects.filter(status=MediaEntry.Status.READY).count()
        if killed_at and recovered_at is None and not Recording.objects.filter(pk__in=in_flight).exclude(
                state=Recording.State.READY).exists():
            recovered_at = time.monotonic()
        connection.close()
        if ready_count >= len(expected):
            break
        time.sleep(1)
    wall = time.monotonic() - started
    time.sleep(3)  # anything still running finishes (and would show as a duplicate)
    stop_clusters()

    entries = list(MediaEntry.objects.filter(source=MediaEntry.Source.TEAMS).values_list(
        "reference_id", "status", "size", "media"))
    stored = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="entries/"):
        for item in page.get("Contents", []):
            stored[item["Key"]] = item["Size"]
    good = {reference.split(":", 1)[1] for reference, status, size, media in entries
            if status == MediaEntry.Status.READY and stored.get(media) == size}
    lost = sum(1 for recording_id, size in expected.items() if recording_id not in good)
    extra_entries = len(entries) - len({reference for reference, *_ in entries})
    extra_objects = len(stored) - sum(1 for *_, media in entries if media in stored)
    log = json.loads(subprocess.run(["curl", "-s", "--cacert", ready["ca_path"], f"{ready['url']}/_simulator/log"],
                                    check=True, capture_output=True, text=True).stdout)["requests"]
    downloads = {}
    for request in log:
        if request["path"].endswith("/content") and "/recordings/" in request["path"] and request["status"] == 200:
            downloads[request["path"]] = downloads.get(request["path"], 0) + 1
    repeated = sum(count - 1 for count in downloads.values() if count > 1)
    states = dict(Recording.objects.values_list("state").annotate(n=Count("pk")).order_by())
    throttled = sum(1 for request in log if request["status"] in (429, 503))
    print(f"ready entries {ready_count} of {len(expected)}; ledger states {states}; throttled answers {throttled}")
    print(f"lost {lost} (target 0)")
    print(f"duplicated {extra_entries + extra_objects} (target 0): {extra_entries} extra entries, "
          f"{extra_objects} extra objects; content downloads beyond one per recording (retries of cut ones "
          f"included): {repeated}")
    print(f"wall time {wall:.1f} s ({len(expected) / wall:.1f} recordings/s)")
    recovered = True
    if killed_at is not None:
        recovery = None if recovered_at is None else recovered_at - killed_at
        recovered = recovery is not None and recovery <= 180
        print(f"recovery after kill -9 of cluster 1 (restarted at once) at {len(expected) // 2} ready: the "
              f"{len(in_flight)} recordings being ingested were all ready "
              + (f"{recovery:.0f} s after the kill" if recovery is not None else "never")
              + f" (target 180 s); every recording {wall - (killed_at - started):.0f} s after the kill")
    for number in (1, 2):
        sizes = sorted((kib for (cluster, _pid), kib in peaks.items() if cluster == number), reverse=True)
        print(f"peak RSS, cluster {number} ({len(sizes)} processes: guard, sentinel, pusher, monitor, workers "
              f"incl. recycled): " + ", ".join(f"{kib / 1024:.0f}" for kib in sizes) + " MiB")

    connection.close()
    with psycopg.connect(services["DATABASE_URL"], autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    for key in stored:
        s3.delete_object(Bucket=bucket, Key=key)
    for upload in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    s3.delete_bucket(Bucket=bucket)
    return 0 if lost == 0 and extra_entries + extra_objects == 0 and recovered else 1


if __name__ == "__main__":
    sys.exit(main())
