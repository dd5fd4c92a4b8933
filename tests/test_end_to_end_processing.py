"""The media pipeline on the real stack: runserver, the default cluster and the processing cluster as processes,
the Microsoft simulator serving real media. A Teams recording and a OneDrive import go Importing → Processing →
Ready on the clusters, and a processing worker killed with kill -9 mid-render loses nothing: another takes the
entry over (the schedule "Media processing stalled runs"), and no partial file stays in storage."""
import subprocess
import time
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from django.urls import reverse

from tests.media_files import media_file
from tests.simulator import sign_in
from tests.stack import AdminBrowser, Stack
from tests.test_end_to_end_onedrive import create_user
from tests.test_end_to_end_teams import set_up_integration

pytestmark = pytest.mark.slow

ENTRY = "SELECT status, processing_progress FROM mediaspace_mediaentry"
PICTURES = "SELECT poster, thumbnail, sprite, playback, processed, duration, width FROM mediaspace_mediaentry"


def processing_stack(tmp_path, simulator, **env):
    # Short leases and grace, so a killed worker's entry is taken over within the schedule's minute.
    return Stack(tmp_path, simulator, MEDIASPACE_PROCESSING="true", MEDIASPACE_INGEST_LEASE_SECONDS="3",
                 TEAMS_CLAIM_LEASE_SECONDS="3", MEDIASPACE_QUEUED_GRACE_SECONDS="3", **env)


@pytest.fixture
def stack(tmp_path, simulator):
    stack = processing_stack(tmp_path, simulator)
    try:
        yield stack.up()
    finally:
        stack.down()


def statuses_until(stack, final, seconds=120):
    """Every status the entry showed, in order, polled until it is `final`."""
    seen, deadline = [], time.monotonic() + seconds
    while not seen or seen[-1] != final:
        rows = stack.query(ENTRY)
        if rows and (not seen or seen[-1] != rows[0][0]):
            seen.append(rows[0][0])
        assert "failed" not in seen, stack.query("SELECT error FROM mediaspace_mediaentry")
        assert time.monotonic() < deadline, f"not {final} within {seconds} s: {seen}"
        time.sleep(0.05)
    return seen


def derived_folders(stack):
    return {name.split("/derived/")[1].split("/")[0] for name, _size in stack.media_files() if "/derived/" in name}


def test_a_teams_recording_goes_ready_through_processing_and_is_never_re_encoded(simulator, stack):
    ann = simulator.add_user("ann.lee@contoso.edu", "Ann Lee")
    simulator.add_recording(organizer=ann, subject="Physics 101", data=media_file("teams.mp4").read_bytes())
    admin = AdminBrowser(stack)
    integration_id = set_up_integration(simulator, admin, transcription="False")
    admin.submit(f"/admin/integrations/teamsintegration/{integration_id}/sync/", {})

    assert "processing" in statuses_until(stack, "ready")
    [(poster, thumbnail, sprite, playback, processed, duration, width)] = stack.query(PICTURES)
    assert poster and thumbnail and sprite and processed and duration == pytest.approx(3, abs=0.2) and width == 320
    assert playback == ""  # H.264/AAC MP4: played as it is, no render
    assert stack.query("SELECT state FROM integrations_recording") == [("ready",)]
    assert len(derived_folders(stack)) == 1 and len(stack.media_files()) == 4  # the original and three pictures


def test_a_onedrive_import_goes_ready_through_processing_with_a_web_rendition(simulator, stack, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", simulator.ca_path)  # this process signs in at the simulator
    blank_page = f"{stack.url}{reverse('onedrive:blank_page')}"
    app = simulator.add_app(secret=False, redirect_uris=[blank_page], name="KMS onedrive integration",
                            implicit_grant=True)
    stack.manage("shell", "-c", (
        "from onedrive.models import OneDriveModule; module = OneDriveModule.load(); module.enabled = True; "
        f"module.allowed_roles = 'adminRole'; module.application_id = {app.client_id!r}; module.save()"))
    create_user(stack, "lecturer", "lecturer-pw-1", "adminRole")
    ann = simulator.add_user("ann.lee@contoso.edu", "Ann Lee")
    lecture = simulator.add_file(ann, "Course/Lecture.wmv", data=media_file("lecture.wmv").read_bytes())

    user = requests.Session()
    post = lambda url, data: user.post(url, data={**data, "csrfmiddlewaretoken": user.cookies["csrftoken"]},  # noqa: E731
                                       headers={"Referer": url})
    user.get(f"{stack.url}/login/")
    post(f"{stack.url}/login/", {"username": "lecturer", "password": "lecturer-pw-1"})
    started = user.get(f"{stack.url}{reverse('onedrive:signin')}", allow_redirects=False)
    answer = sign_in(started.headers["Location"], "ann.lee@contoso.edu")  # Microsoft's page, and back
    assert post(blank_page, dict(parse_qsl(urlsplit(answer.headers["Location"]).fragment))).ok  # the relay's POST
    imported = post(f"{stack.url}{reverse('onedrive:import')}",
                    {"item": f"{ann.drive_id}/{lecture.id}", "back": reverse("onedrive:picker")})
    assert imported.url.endswith(reverse("mediaspace:my_media"))

    assert statuses_until(stack, "ready")[-2:] == ["processing", "ready"]
    [(poster, _thumbnail, _sprite, playback, processed, duration, width)] = stack.query(PICTURES)
    assert poster and processed and playback.endswith("playback.mp4") and width == 320  # WMV: rendered


def long_video(path):
    """40 s of 640x360 MPEG-4 part 2 in AVI: quick to make, and a render of some seconds to kill."""
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=640x360:rate=30:duration=40", "-f", "lavfi", "-i", "sine=duration=40",
                    "-c:v", "mpeg4", "-q:v", "4", "-c:a", "libmp3lame", str(path)], check=True, timeout=120)
    return path.read_bytes()


def test_a_processing_worker_killed_mid_render_loses_nothing(simulator, tmp_path):
    stack = processing_stack(tmp_path, simulator, MEDIASPACE_FFMPEG_THREADS="1")  # a slower render to kill
    try:
        stack.up()
        ann = simulator.add_user("ann.lee@contoso.edu", "Ann Lee")
        simulator.add_recording(organizer=ann, subject="Long lecture", data=long_video(tmp_path / "long.avi"))
        admin = AdminBrowser(stack)
        integration_id = set_up_integration(simulator, admin, transcription="False")
        admin.submit(f"/admin/integrations/teamsintegration/{integration_id}/sync/", {})

        deadline = time.monotonic() + 120
        while not any(status == "processing" and (progress or 0) > 15 for status, progress in stack.query(ENTRY)):
            assert time.monotonic() < deadline, stack.query(ENTRY)
            time.sleep(0.1)
        stack.kill(stack.processing)  # kill -9 of the cluster and its FFmpeg, mid-render
        [(status, progress)] = stack.query(ENTRY)
        assert status == "processing" and progress < 99

        stack.processing = stack.start_processing()
        # The schedule (every minute; django-q2 looks at schedules every 30 s) hands the run out again.
        statuses_until(stack, "ready", seconds=180)
        [(poster, thumbnail, sprite, playback, processed, _duration, _width)] = stack.query(PICTURES)
        assert poster and thumbnail and sprite and playback and processed
        [folder] = derived_folders(stack)  # the killed run's folder is gone
        assert {name.rsplit("/", 1)[1] for name, _size in stack.media_files() if "/derived/" in name} == {
            "poster.jpg", "thumbnail.jpg", "sprite.jpg", "playback.mp4"}
        assert stack.open_uploads() == []
        assert stack.query("SELECT state FROM integrations_recording") == [("ready",)]
    finally:
        stack.down()
