"""Load benchmark: gunicorn on loopback serving the portal, measured with wrk.

    .venv/bin/python bench/load.py [--connections 64] [--seconds 30] [--entries 200] [--category-entries 10000]
                                   [--page-cache-bytes N] [--database-url URL | --postgres]

Sets up a throwaway portal (SQLite and media in a temporary folder, as bench/_common.py does; `--database-url`
an empty PostgreSQL database instead, or `--postgres` a throwaway PostgreSQL server started and removed by
scripts/postgres.sh): one user owning `--entries` ready entries, one of them a 1 GiB video (a sparse file: made
at once, read from the page cache), and a category of `--category-entries` ready entries of another user,
`collectstatic` (hashed, compressed files, as in production). Then starts gunicorn with the Procfile's
configuration (gunicorn.conf.py, DEBUG off) on 127.0.0.1 and runs wrk, at `--connections` connections for
`--seconds` each, on:

- a static file (portal.css through whitenoise): the yardstick the pages are compared with;
- My Media, signed in (the session cookie of the user);
- an entry page (the player page of the 1 GiB video);
- the category page (its first page);
- search results: a search in that category that one entry in ten matches;
- Range requests of 1 MiB at random offsets in the 1 GiB video (what a player asks for while it plays);
- My Media and the Range requests at the same time (half the connections each): pages under streaming load.

Prints requests per second of each, as a ratio to the static file's, the latencies and the errors: responses
that are not 2xx (redirects included: a lost session would show as 302s to the sign-in page) and socket errors
and timeouts. Targets (issue 17): 0 errors; My Media at least 0.2 x the static file's req/s, the entry page and
the category page at least 0.3 x, each with a p99 under 500 ms. wrk repeats one user's requests, so after the
first the pages come from memory (mediaspace/page_cache.py): `--page-cache-bytes 0` builds every page, which is
what each first view after a change costs. wrk comes from Debian's `wrk` package,
installed with apt-get when missing.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, setup, start_throwaway, verdict
from pages import SEARCH, create_entries

GIB = 1024 ** 3
MIB = 1024 ** 2
WEBM_HEAD = b"\x1aE\xdf\xa3" + b"\x00" * 60

# Counts every response that is not 2xx (wrk's own count leaves out 3xx) across wrk's threads.
COUNT_STATUS = r"""
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) non2xx = 0 end
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
function done(summary, latency, requests)
  local n = 0
  for _, thread in ipairs(threads) do n = n + thread:get("non2xx") end
  io.write(string.format("NON2XX %d\n", n))
end
"""
RANGES = COUNT_STATUS + r"""
local size, span = __SIZE__, __SPAN__
function request()
  local start = math.random(0, size - span)
  wrk.headers["Range"] = string.format("bytes=%d-%d", start, start + span - 1)
  return wrk.format("GET", "__PATH__")
end
"""

# Each request as the next of many users (a lecture hall): every user's first view of the page is built.
USERS = COUNT_STATUS + r"""
local cookies = {__COOKIES__}
local next_user = 0
function init(args) non2xx = 0; next_user = math.random(#cookies) end
function request()
  next_user = next_user % #cookies + 1
  wrk.headers["Cookie"] = cookies[next_user]
  return wrk.format("GET", "__PATH__")
end
"""


def ensure_wrk():
    if shutil.which("wrk"):
        return shutil.which("wrk")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    print("Installing Debian's wrk package...")
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "wrk"], check=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    return shutil.which("wrk")


def create_portal(entries, media_root):
    """A user owning `entries` ready entries, the first a 1 GiB sparse video; returns (session key, video pk)."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    from mediaspace.models import MediaEntry, UserRole
    from mediaspace.roles import Role

    user = get_user_model().objects.create_user("viewer", password=uuid.uuid4().hex)
    UserRole.objects.update_or_create(user=user, defaults={"role": Role.PRIVATE_ONLY})
    MediaEntry.objects.bulk_create(
        MediaEntry(name=f"Lecture {number:04d}", description=f"Recording {number} of the series.",
                   tags="lecture, physics", owner=user, status=MediaEntry.Status.READY,
                   content_type="video/webm", size=1_000_000 + number)
        for number in range(entries - 1)
    )
    name = "bench/big.webm"
    path = Path(media_root) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as video:
        video.write(WEBM_HEAD)
        video.truncate(GIB)  # sparse: no 1 GiB written, reads come back as zeros from the page cache
    video = MediaEntry.objects.create(name="One GiB lecture", owner=user, status=MediaEntry.Status.READY,
                                      content_type="video/webm", size=GIB, media=name)
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value, video.pk


def create_audience(count, category, video):
    """`count` viewers signed in (a session each), and the video published to `category`; returns their cookies."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    from mediaspace.models import MediaEntry, Publication, UserRole
    from mediaspace.roles import Role

    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"student{number:05d}", password="!") for number in range(count))
    UserRole.objects.bulk_create(UserRole(user=user, role=Role.VIEWER) for user in users)
    Publication.objects.create(category=category, entry=MediaEntry.objects.get(pk=video),
                               status=Publication.Status.APPROVED)
    cookies = []
    for user in users:
        session = SessionStore()
        session.update({SESSION_KEY: str(user.pk), BACKEND_SESSION_KEY: settings.AUTHENTICATION_BACKENDS[-1],
                        HASH_SESSION_KEY: user.get_session_auth_hash()})
        session.create()
        cookies.append(f"{settings.SESSION_COOKIE_NAME}={session.session_key}")
    return cookies


def start_postgres():
    """A throwaway PostgreSQL server (scripts/postgres.sh, as the tests use); returns its URL. Removed at exit."""
    return start_throwaway("postgres.sh", "PGDIR")["PG_URL"]


def milliseconds(text):
    """wrk's '512.34ms', '1.20s' or '980.00us' in ms (None when wrk printed none)."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text or "")
    return float(match.group(1)) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000}[match.group(2)] if match else None


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_gunicorn(port, env):
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "--config", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
         "mediaspace.project.wsgi"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            if process.poll() is not None:
                raise SystemExit("gunicorn did not start:\n" + process.stderr.read().decode())
            time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)  # its own session: nothing else would stop it
    raise SystemExit("gunicorn did not start within 60 s")


def wrk(binary, url, *, connections, seconds, script, cookie=None):
    """Runs wrk; returns a Popen whose result `parse()` reads."""
    folder = Path(os.environ["MEDIA_ROOT"]).parent  # the throwaway folder of setup(), removed at exit
    with tempfile.NamedTemporaryFile("w", suffix=".lua", dir=folder, delete=False) as handle:
        handle.write(script)
    command = [binary, f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
               "--latency", "-s", handle.name, url]
    if cookie:
        command[1:1] = ["-H", f"Cookie: {cookie}"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def parse(process):
    output, _ = process.communicate()
    requests = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", output)
    non2xx = int(re.search(r"NON2XX (\d+)", output).group(1))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    latency = re.search(r"Latency\s+([\d.]+\w+)\s+([\d.]+\w+)\s+([\d.]+\w+)", output)
    total = int(re.search(r"(\d+) requests in", output).group(1))
    return {"rps": requests, "non2xx": non2xx, "socket": errors, "total": total,
            "latency": latency.group(1) if latency else "?", "p99": _p99(output),
            "transfer": f"{transfer.group(1)} {transfer.group(2)}/s" if transfer else "?", "raw": output}


def _p99(output):
    match = re.search(r"99%\s+([\d.]+\w+)", output)
    return match.group(1) if match else "?"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--entries", type=int, default=200, help="entries of the signed-in user (My Media)")
    parser.add_argument("--category-entries", type=int, default=10_000, help="entries of the category page")
    parser.add_argument("--users", type=int, default=0,
                        help="also run the category and entry pages with each request from the next of this many "
                             "signed-in viewers (a lecture hall: each one's first view is built)")
    parser.add_argument("--page-cache-bytes", type=int,
                        help="MEDIASPACE_PAGE_CACHE_BYTES of the server; 0 builds every page, as after each change")
    database = parser.add_mutually_exclusive_group()
    database.add_argument("--database-url", help="an empty PostgreSQL database to use instead of SQLite")
    database.add_argument("--postgres", action="store_true",
                          help="start a throwaway PostgreSQL server (scripts/postgres.sh) and use it")
    options = parser.parse_args()

    binary = ensure_wrk()
    database_url = start_postgres() if options.postgres else options.database_url
    workdir = setup(prefix="mediaspace-load-", database_url=database_url)
    from django.conf import settings
    from django.core.management import call_command

    static_root = workdir / "static"
    os.environ["STATIC_ROOT"] = str(static_root)
    settings.STATIC_ROOT = str(static_root)
    call_command("collectstatic", "--noinput", verbosity=0)
    session, video = create_portal(options.entries, settings.MEDIA_ROOT)
    _lecturer, category = create_entries(options.category_entries)
    category_path, search_path = f"/categories/{category.pk}/", f"/categories/{category.pk}/?q={SEARCH}"
    audience = create_audience(options.users, category, video) if options.users else []
    engine = "PostgreSQL" if settings.DATABASES["default"]["ENGINE"].endswith("postgresql") else "SQLite"
    cookie = f"{settings.SESSION_COOKIE_NAME}={session}"
    manifest = json.loads((static_root / "staticfiles.json").read_text())["paths"]
    static_path = "/static/" + manifest["mediaspace/portal.css"]

    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "LOG_LEVEL": "WARNING", "HTTPS": "false"}
    if options.page_cache_bytes is not None:
        env["MEDIASPACE_PAGE_CACHE_BYTES"] = str(options.page_cache_bytes)
    kept = env.get("MEDIASPACE_PAGE_CACHE_BYTES", "the default")
    cpus = os.cpu_count() or 1
    server = start_gunicorn(port, env)
    base = f"http://127.0.0.1:{port}"
    print(f"gunicorn on {base}: gthread, {env.get('WEB_CONCURRENCY') or max(2, cpus)} processes x "
          f"{env.get('GUNICORN_THREADS') or 8} threads, DEBUG off, {engine}; {cpus} CPUs; wrk {options.connections} "
          f"connections x {options.seconds} s per run; My Media of {options.entries} entries, one of 1 GiB; a "
          f"category of {options.category_entries} entries; pages kept in memory: {kept} bytes per process")
    try:
        import requests

        for path, expected in ((static_path, 200), ("/my-media/", 200), (f"/media/{video}/", 200),
                               (category_path, 200), (search_path, 200),
                               ("/healthz", 503)):  # no cluster runs here: 503 is the right answer
            answer = requests.get(base + path, headers={"Cookie": cookie}, allow_redirects=False, timeout=30)
            if answer.status_code != expected:
                raise SystemExit(f"{path} answered {answer.status_code}, not {expected}: the set-up is wrong")
        ranged = (RANGES.replace("__SIZE__", str(GIB)).replace("__SPAN__", str(MIB))
                  .replace("__PATH__", f"/media/{video}/file/"))
        runs = {}
        c, s = options.connections, options.seconds
        runs["static file"] = parse(wrk(binary, base + static_path, connections=c, seconds=s, script=COUNT_STATUS))
        runs["My Media (signed in)"] = parse(wrk(binary, base + "/my-media/", connections=c, seconds=s,
                                                 script=COUNT_STATUS, cookie=cookie))
        runs["entry page"] = parse(wrk(binary, base + f"/media/{video}/", connections=c, seconds=s,
                                       script=COUNT_STATUS, cookie=cookie))
        runs[f"category page ({options.category_entries} entries)"] = parse(
            wrk(binary, base + category_path, connections=c, seconds=s, script=COUNT_STATUS, cookie=cookie))
        runs[f"search results (that category, '{SEARCH}')"] = parse(
            wrk(binary, base + search_path, connections=c, seconds=s, script=COUNT_STATUS, cookie=cookie))
        runs["Range 1 MiB of the 1 GiB video"] = parse(wrk(binary, base + f"/media/{video}/file/", connections=c,
                                                           seconds=s, script=ranged, cookie=cookie))
        for label, path in (("category page", category_path), ("entry page", f"/media/{video}/")):
            if audience:
                script = USERS.replace("__COOKIES__", ",".join(f'"{cookie}"' for cookie in audience)).replace(
                    "__PATH__", path)
                runs[f"{label}, {len(audience)} viewers in turn"] = parse(
                    wrk(binary, base + path, connections=c, seconds=s, script=script))
        half = max(1, c // 2)
        pages = wrk(binary, base + "/my-media/", connections=half, seconds=s, script=COUNT_STATUS, cookie=cookie)
        streams = wrk(binary, base + f"/media/{video}/file/", connections=c - half, seconds=s, script=ranged,
                      cookie=cookie)
        runs[f"My Media, with Range requests beside ({half} + {c - half} conn.)"] = parse(pages)
        runs[f"Range 1 MiB, with My Media beside ({c - half} + {half} conn.)"] = parse(streams)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)

    static_rps = runs["static file"]["rps"]
    print(f"\n{'':58} {'req/s':>9} {'x static':>9} {'latency':>9} {'p99':>9} {'errors':>7} {'transfer':>12}")
    for label, run in runs.items():
        errors = run["non2xx"] + run["socket"]
        print(f"{label:58} {run['rps']:9.1f} {run['rps'] / static_rps:9.3f} {run['latency']:>9} {run['p99']:>9} "
              f"{errors:7d} {run['transfer']:>12}")
    total_errors = sum(run["non2xx"] + run["socket"] for run in runs.values())
    print()
    ok = verdict(total_errors == 0, f"errors (non-2xx responses, socket errors, timeouts): {total_errors} (target 0)")
    for label, least in (("My Media (signed in)", 0.2), ("entry page", 0.3),
                         (f"category page ({options.category_entries} entries)", 0.3)):
        run, p99 = runs[label], milliseconds(runs[label]["p99"])
        ok &= verdict(run["rps"] >= least * static_rps and p99 is not None and p99 < 500,
                      f"{label} on {engine}: {run['rps'] / static_rps:.3f} x static (target at least {least}), "
                      f"p99 {run['p99']} (target under 500 ms)")
    for label, run in runs.items():
        if run["non2xx"] or run["socket"]:
            print(f"--- wrk output of {label}:\n{run['raw']}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
