"""Shared helpers of the benchmarks: a throwaway portal, `measure()` and peak memory.

`setup()` points Django at a fresh SQLite database and MEDIA_ROOT in a temporary folder (removed at
exit), so the developer's var/ is never touched, then migrates it. The benchmarks are scripts, not
tests: run them with `.venv/bin/python bench/<name>.py` from the repository root.
"""
import atexit
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024


def setup(prefix="mediaspace-bench-", database_url=None):
    """Configure and start Django on a throwaway database (SQLite, or the empty database at
    `database_url`); returns the temporary folder (a Path).

    Environment variables win over the repository's .env (django-environ does not overwrite them), so
    SECRET_KEY and FIELD_ENCRYPTION_KEY still come from .env while the database and media do not.
    """
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    (workdir / "media").mkdir()
    os.environ["DJANGO_SETTINGS_MODULE"] = "mediaspace.project.settings"
    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["MEDIA_ROOT"] = str(workdir / "media")
    os.environ["DEBUG"] = "False"
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    # The test client speaks plain HTTP to "testserver": no HTTPS redirect or secure-only cookies here.
    os.environ.setdefault("HTTPS", "false")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    return workdir


def memory_kib():
    """(current RSS, RSS high-water mark) of this process in KiB.

    From /proc/self/status (VmRSS, VmHWM); where there is no /proc, both are getrusage's ru_maxrss.
    """
    try:
        with open("/proc/self/status") as status:
            fields = dict(line.split(":", 1) for line in status if ":" in line)
        return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])
    except (OSError, KeyError, ValueError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak, peak


def reset_peak() -> bool:
    """Set the RSS high-water mark back to the current RSS (Linux ≥ 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def measure(step):
    """Run `step()` once; returns (seconds, peak RSS growth in MiB, what step returned).

    The growth is the high-water mark after the step minus the RSS before it. The mark is reset first,
    so memory used by earlier work does not count; where it cannot be reset the figure can only be too
    high, never too low.
    """
    reset_peak()
    rss_before, _peak = memory_kib()
    start = time.perf_counter()
    result = step()
    seconds = time.perf_counter() - start
    _rss, peak_after = memory_kib()
    return seconds, max(peak_after - rss_before, 0) / 1024, result


def median_seconds(step, repeat):
    """The median wall time of `repeat` calls of `step()`."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def verdict(ok: bool, text: str) -> bool:
    print(f"{'PASS' if ok else 'FAIL'}  {text}")
    return ok


def peak_rss_kib(pid):
    """The peak resident memory (VmHWM) of a live process, in KiB; 0 once it has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def shell_vars(output):
    """`A=1; B=2` lines printed by scripts/postgres.sh and scripts/services.sh."""
    values = {}
    for part in output.replace("\n", ";").split(";"):
        if "=" in part:
            name, value = part.strip().split("=", 1)
            values[name] = shlex.split(value)[0] if value else ""
    return values


def start_throwaway(script, folder):
    """Starts scripts/`script` (postgres.sh or services.sh), which the tests use too, and returns the values it
    prints (e.g. PG_URL, PGDIR); at exit `script stop` removes what it started, found by the value named `folder`."""
    started = subprocess.run(["bash", str(REPO / "scripts" / script), "start"], cwd=REPO, capture_output=True,
                             text=True)
    if started.returncode:
        raise SystemExit(f"scripts/{script} could not start:\n{started.stderr}")
    values = shell_vars(started.stdout)
    atexit.register(subprocess.run, ["bash", str(REPO / "scripts" / script), "stop", values[folder]], cwd=REPO)
    return values


def s3_bucket(prefix="bench-"):
    """A fresh bucket in the S3 that AWS_S3_ENDPOINT_URL names, or in a throwaway moto_server started here (and
    stopped at exit) when none is named; the portal's settings are pointed at it."""
    if not os.environ.get("AWS_S3_ENDPOINT_URL"):
        started = start_throwaway("services.sh", "SERVICES_DIR")
        os.environ.update(AWS_S3_ENDPOINT_URL=started["S3_URL"], AWS_ACCESS_KEY_ID="testing",
                          AWS_SECRET_ACCESS_KEY="testing")
    import boto3

    s3 = boto3.client("s3", endpoint_url=os.environ["AWS_S3_ENDPOINT_URL"], region_name="us-east-1")
    bucket = f"{prefix}{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    os.environ.update(AWS_STORAGE_BUCKET_NAME=bucket, AWS_S3_REGION_NAME="us-east-1")
    return s3, bucket
