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
