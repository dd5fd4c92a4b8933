"""The real stack against the simulator: the web server and a django-q2 cluster as processes of their own.
An administrator configures an integration in the admin over HTTP, enables it, presses Sync now, and the
recording arrives as a ready entry with its owner, transcript and collaborator."""
import re
import time
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest

from tests.stack import AdminBrowser, Stack

VTT = "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n<v Ann Lee>Welcome to Physics 101.</v>\n"


@pytest.fixture
def stack(tmp_path, simulator):
    # Short leases, so a killed worker's recording is taken over within seconds rather than minutes.
    stack = Stack(tmp_path, simulator, MEDIASPACE_INGEST_LEASE_SECONDS="3", TEAMS_CLAIM_LEASE_SECONDS="3")
    try:
        yield stack.up()
    finally:
        stack.down()


def set_up_integration(simulator, admin, **settings):
    app = simulator.add_app()
    created = admin.submit("/admin/integrations/teamsintegration/add/", {
        "name": "Contoso", "tenant_id": simulator.tenant_id, "client_id": app.client_id,
        "client_secret": app.secret, "_save": "Save"})
    integration_id = int(re.search(r"/teamsintegration/(\d+)/change/", created.url).group(1))
    saved = admin.submit(f"/admin/integrations/teamsintegration/{integration_id}/change/", {
        "name": "Contoso", "upload_policy": "all", "groups_text": "", "transcription": "True",
        "co_organizer_permission": "none", "presenter_permission": "co_editors_publishers",
        "attendee_permission": "none", "guest_permissions": "False", "user_id_source": "upn",
        "upn_rule": "remove_postfix", "postfix": "@contoso.edu", "find_user_by": "user_id", "missing_user": "create",
        "default_user": "", "secret_expires_on": "", "recording_expiry_days": "120", "ask_owners": "False",
        "_save": "Save", **settings})
    assert saved.url.endswith("/admin/integrations/teamsintegration/"), "the edit form was refused"
    admin.submit(f"/admin/integrations/teamsintegration/{integration_id}/toggle/", {"status": "enable"})
    return integration_id


def wait_until_a_download_has_begun(stack, seconds=60):
    deadline = time.monotonic() + seconds
    while not stack.query("SELECT 1 FROM mediaspace_mediaentry WHERE status = 'importing' AND bytes_received > 0"):
        assert time.monotonic() < deadline, "the download did not start"
        time.sleep(0.05)


@pytest.mark.slow
def test_a_cluster_killed_mid_download_and_restarted_ends_with_one_ready_entry_and_no_orphan(simulator, stack):
    ann = simulator.add_user("ann.lee@contoso.edu", "Ann Lee")
    recording = simulator.add_recording(organizer=ann, subject="Long lecture", size=24 * 1024 * 1024)
    simulator.faults.chunk_delay = 0.01  # about 4 s for the whole download
    admin = AdminBrowser(stack)
    integration_id = set_up_integration(simulator, admin, transcription="False")
    admin.submit(f"/admin/integrations/teamsintegration/{integration_id}/sync/", {})

    wait_until_a_download_has_begun(stack)
    stack.kill(stack.cluster)  # kill -9 in the middle of the download
    [(received,)] = stack.query("SELECT bytes_received FROM mediaspace_mediaentry")
    assert 0 < received < recording.size

    simulator.faults.chunk_delay = 0
    time.sleep(4)  # the dead worker's leases run out
    stack.cluster = stack.start("qcluster")
    admin.submit(f"/admin/integrations/teamsintegration/{integration_id}/sync/", {})

    stack.wait_for("SELECT status, size FROM mediaspace_mediaentry", [("ready", recording.size)])
    assert stack.query("SELECT state FROM integrations_recording") == [("ready",)]
    [(_name, size)] = stack.media_files()  # the dead attempt left nothing
    assert size == recording.size
    assert stack.open_uploads() == []  # nor, in object storage, the multipart upload it had begun


@pytest.mark.slow
def test_after_a_kill_9_the_restarted_cluster_alone_brings_every_recording_in_within_the_bound(simulator, tmp_path):
    """Nobody presses Sync now after the restart: the cluster's schedules find the recording whose worker was
    killed mid-download (its heartbeat stopped) and the one whose task the killed cluster had taken (not taken
    up within the queued grace), as they would in production (90 s leases and grace: within 3 minutes)."""
    stack = Stack(tmp_path, simulator, MEDIASPACE_INGEST_LEASE_SECONDS="3", TEAMS_CLAIM_LEASE_SECONDS="3",
                  MEDIASPACE_QUEUED_GRACE_SECONDS="3", Q_WORKERS="1")  # one worker: the second task waits in it
    try:
        stack.up()
        ann = simulator.add_user("ann.lee@contoso.edu", "Ann Lee")
        now = datetime.now(dt_timezone.utc)
        long = simulator.add_recording(organizer=ann, subject="Long lecture", size=24 * 1024 * 1024,
                                       created=now - timedelta(hours=2))  # the first downloaded (closer to expiry)
        short = simulator.add_recording(organizer=ann, subject="Short lecture", size=1024 * 1024,
                                        created=now - timedelta(hours=1))
        simulator.faults.chunk_delay = 0.01
        admin = AdminBrowser(stack)
        integration_id = set_up_integration(simulator, admin, transcription="False")
        admin.submit(f"/admin/integrations/teamsintegration/{integration_id}/sync/", {})
        wait_until_a_download_has_begun(stack)

        stack.kill(stack.cluster)  # kill -9 in the middle of the first download
        simulator.faults.chunk_delay = 0
        stack.cluster = stack.start("qcluster")  # restarted at once
        restarted = time.monotonic()

        # django-q2 looks at its schedules every 30 s; the minute schedule may just have run: 90 s, plus the
        # test's 3 s leases and grace and the downloads.
        stack.wait_for("SELECT state, COUNT(*) FROM integrations_recording GROUP BY state", [("ready", 2)],
                       seconds=100)
        print(f"ready {time.monotonic() - restarted:.0f} s after the restart")
        assert stack.query("SELECT status, size FROM mediaspace_mediaentry ORDER BY size") == [
            ("ready", short.size), ("ready", long.size)]
        assert sorted(size for _name, size in stack.media_files()) == [short.size, long.size]  # no orphan
        assert stack.open_uploads() == []
    finally:
        stack.down()


@pytest.mark.slow
def test_enable_then_sync_now_brings_the_recording_in(simulator, stack):
    ann = simulator.add_user("ann.lee@contoso.edu", "Ann Lee")
    bob = simulator.add_user("bob.ray@contoso.edu", "Bob Ray")
    recording = simulator.add_recording(organizer=ann, subject="Physics 101", size=3 * 1024 * 1024, transcript=VTT,
                                        attendees=[(bob, "presenter", None)])
    admin = AdminBrowser(stack)
    integration_id = set_up_integration(simulator, admin)
    assert stack.query("SELECT enabled, last_error FROM integrations_teamsintegration") == [(1, "")]
    admin.submit(f"/admin/integrations/teamsintegration/{integration_id}/sync/", {})

    stack.wait_for("SELECT status FROM mediaspace_mediaentry", [("ready",)])
    [(name, size, owner)] = stack.query(
        "SELECT e.name, e.size, u.username FROM mediaspace_mediaentry e JOIN auth_user u ON u.id = e.owner_id")
    assert (name.startswith("Physics 101 ("), size, owner) == (True, recording.size, "ann.lee")
    assert stack.query("SELECT label FROM mediaspace_captiontrack") == [("Teams transcript",)]
    assert stack.query("SELECT u.username, c.is_co_editor, c.is_co_publisher FROM mediaspace_collaborator c "
                       "JOIN auth_user u ON u.id = c.user_id") == [("bob.ray", 1, 1)]
    assert stack.query("SELECT state FROM integrations_recording") == [("ready",)]


def requests_before_their_retry_after(log, retry_after):
    """Requests for a path that Microsoft had throttled, sent before the Retry-After it gave had passed."""
    early = []
    for index, (when, _method, path, status, _authorized) in enumerate(log):
        if status in (429, 503):
            following = next((entry for entry in log[index + 1:] if entry[2] == path), None)
            if following and following[0] < when + retry_after - 0.05:
                early.append((path, following[0] - when))
    return early


@pytest.mark.slow
def test_two_clusters_with_throttling_and_cut_downloads_ingest_everything_exactly_once(simulator, stack):
    ann = simulator.add_user("ann.lee@contoso.edu", "Ann Lee")
    bob = simulator.add_user("bob.ray@contoso.edu", "Bob Ray")
    for index in range(6):
        simulator.add_recording(organizer=(ann, bob)[index % 2], subject=f"Lecture {index}", size=2 * 1024 * 1024)
    admin = AdminBrowser(stack)
    integration_id = set_up_integration(simulator, admin, transcription="False")
    simulator.faults.throttle_ratio, simulator.faults.retry_after, simulator.faults.cut_ratio = 0.2, 1, 0.1
    stack.start("qcluster")  # a second cluster on the same database
    for _ in range(2):  # two rounds asked for at once
        admin.submit(f"/admin/integrations/teamsintegration/{integration_id}/sync/", {})

    stack.wait_for("SELECT status, COUNT(*) FROM mediaspace_mediaentry GROUP BY status", [("ready", 6)], seconds=120)
    assert stack.query("SELECT state, COUNT(*) FROM integrations_recording GROUP BY state") == [("ready", 6)]
    assert len(stack.media_files()) == 6
    throttled = [entry for entry in simulator.log if entry[3] in (429, 503)]
    assert throttled, "the faults were not injected"
    assert requests_before_their_retry_after(simulator.log, simulator.faults.retry_after) == []


@pytest.mark.slow
def test_an_expired_secret_shows_the_seeds_message_and_the_sync_resumes_after_updating_it(simulator, stack):
    ann = simulator.add_user("ann.lee@contoso.edu", "Ann Lee")
    simulator.add_recording(organizer=ann, subject="Before", size=512 * 1024)
    app_admin = AdminBrowser(stack)
    integration_id = set_up_integration(simulator, app_admin, transcription="False")
    app = simulator.apps[stack.query("SELECT client_id FROM integrations_teamsintegration")[0][0]]
    sync_now = f"/admin/integrations/teamsintegration/{integration_id}/sync/"
    app_admin.submit(sync_now, {})
    stack.wait_for("SELECT name LIKE 'Before%', status FROM mediaspace_mediaentry", [(1, "ready")])

    simulator.expire_secret(app)
    simulator.add_recording(organizer=ann, subject="After", size=512 * 1024)
    app_admin.submit(sync_now, {})
    stack.wait_for("SELECT last_error FROM integrations_teamsintegration",
                   [("The provided application secret has expired.",)])
    listing = app_admin.get(f"{stack.url}/admin/integrations/teamsintegration/").text
    assert 'title="The provided application secret has expired."' in listing  # the list's red marker

    app_admin.submit(f"/admin/integrations/teamsintegration/{integration_id}/secret/",
                     {"client_secret": simulator.new_secret(app), "secret_expires_on": ""})
    assert stack.query("SELECT last_error FROM integrations_teamsintegration") == [("",)]
    app_admin.submit(sync_now, {})
    stack.wait_for("SELECT COUNT(*) FROM mediaspace_mediaentry WHERE status = 'ready'", [(2,)])
