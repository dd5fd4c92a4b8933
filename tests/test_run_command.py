"""`make run` on a fresh checkout: portal and background worker come up together, Ctrl-C stops both."""
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fresh_checkout(target):
    """The tracked files as a fresh clone has them, sharing this checkout's virtualenv."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, check=True,
                           capture_output=True, text=True).stdout.split()
    for name in files:
        if (REPO / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)
    (target / ".venv").symlink_to(REPO / ".venv")


@pytest.mark.slow
def test_make_run_serves_the_portal_with_its_worker_and_ctrl_c_stops_both(tmp_path):
    fresh_checkout(tmp_path)
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env.update(PORT=str(port), PYTHONUNBUFFERED="1")
    process = subprocess.Popen(["make", "run"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    output = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            output.append(line)
            if "Q Cluster" in line and "running" in line:
                break
            assert process.poll() is None, "".join(output)
        else:
            pytest.fail("the worker did not start:\n" + "".join(output))
        text = "".join(output)
        password = re.search(r"as 'admin' with the password (\S+)", text).group(1)
        assert (tmp_path / ".env").exists()

        session = requests.Session()
        for _ in range(100):
            try:
                page = session.get(f"http://127.0.0.1:{port}/login/", timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        assert page.status_code == 200
        signed_in = session.post(f"http://127.0.0.1:{port}/login/", data={
            "username": "admin", "password": password, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
            headers={"Referer": f"http://127.0.0.1:{port}/login/"}, timeout=5)
        assert signed_in.url.endswith("/my-media/") and "Upload media" in signed_in.text
        assert len(processes_working_in(tmp_path)) >= 3  # make, the web server and the cluster at least
    finally:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail("Ctrl-C did not stop make run")
    time.sleep(0.5)
    assert processes_working_in(tmp_path) == [], "processes still running after Ctrl-C"


def processes_working_in(folder):
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{pid}/cwd") == str(folder):
                found.append(pid)
        except OSError:
            pass
    return found


def processes_in_group(group):
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        state, _parent, process_group = stat.rsplit(")", 1)[1].split()[:3]
        if int(process_group) == group and state != "Z":
            found.append(pid)
    return found


def described(pid):
    """A left-over process for the failure message: its command line, state, parent and process group."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return f"{pid} {command}state {fields[0]} parent {fields[1]} group {fields[2]}"
    except OSError:
        return f"{pid} (gone)"


def the_script_under(make_pid):
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            parent = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]
            if parent == str(make_pid) and b"scripts/run.sh" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return int(pid)
        except OSError:
            pass
    raise AssertionError("scripts/run.sh is not running under make")


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """One fresh checkout for the ways of stopping below; it keeps its database between them."""
    folder = tmp_path_factory.mktemp("checkout")
    fresh_checkout(folder)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name)
@pytest.mark.parametrize("target", ["group", "script"])
def test_make_run_stops_its_server_and_worker_within_seconds(checkout, tmp_path, target, signum):
    """A process manager or `timeout` sends SIGTERM to the whole process group; `kill` reaches the script alone.
    django-q2's cluster hung for ever on the first, the web server outlived the script on the second. On the first,
    GNU make also passes the SIGTERM on to the script, a second signal while it stops, which used to cut its stop
    short and leave a cluster running (about one run in five under load)."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env.update(PORT=str(port), PYTHONUNBUFFERED="1")
    log = tmp_path / "run.log"
    with log.open("w") as output:
        process = subprocess.Popen(["make", "run"], cwd=checkout, env=env, stdout=output, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not re.search(r"Q Cluster .* running", log.read_text()):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        while True:
            try:
                assert requests.get(f"http://127.0.0.1:{port}/login/", timeout=5).status_code == 200
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        script = the_script_under(process.pid)

        if target == "group":
            os.killpg(process.pid, signum)
        else:
            os.kill(script, signum)
        deadline = time.monotonic() + 10
        while processes_in_group(process.pid) + processes_working_in(checkout) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = set(processes_in_group(process.pid) + processes_working_in(checkout))
        assert not left, [described(pid) for pid in sorted(left)] + [f"script {script}, make {process.pid}",
                                                                     log.read_text()[-4000:]]
    finally:  # nothing is left behind, even when the test fails (again: a sentinel may start a new worker)
        for _ in range(50):
            left = set(processes_in_group(process.pid) + processes_working_in(checkout))
            if not left:
                break
            for pid in left:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        process.wait(timeout=10)
