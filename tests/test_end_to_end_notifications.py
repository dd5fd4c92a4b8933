"""Change notifications end to end: the simulator's Graph subscription service and the real stack (runserver +
qcluster as processes of their own, on SQLite, or PostgreSQL + Redis + S3 when the environment names them). The
portal registers its own address (PUBLIC_BASE_URL, plain http on loopback as the simulator allows); Microsoft's
validation requests, notifications and lifecycle events reach its real web server."""
import json
import time
import pytest
import requests

from tests.stack import AdminBrowser, Stack
from tests.test_end_to_end_teams import set_up_integration

RECORDINGS = "communications/onlineMeetings/getAllRecordings"
SIZE = 256 * 1024


@pytest.fixture
def stack(tmp_path, simulator):
    simulator.notification_retry_delays = (0.5, 1, 2)  # Microsoft's minutes, in seconds
    # The recordings are made-up bytes, not video: stored means Ready, as where FFmpeg is missing.
    stack = Stack(tmp_path, simulator, MEDIASPACE_INGEST_LEASE_SECONDS="3", TEAMS_CLAIM_LEASE_SECONDS="3",
                  MEDIASPACE_PROCESSING="false")
    stack.env["PUBLIC_BASE_URL"] = stack.url
    try:
        yield stack.up()
    finally:
        stack.down()


@pytest.fixture
def ann(simulator):
    return simulator.add_user("ann.lee@contoso.edu", "Ann Lee")


def subscribed(simulator, stack, admin):
    """Enable (the portal subscribes: Microsoft validates its two endpoints), then the first reconciliation, so
    that whatever arrives next can only come by notification."""
    integration_id = set_up_integration(simulator, admin, transcription="False")
    [(subscription_id, resource)] = stack.query("SELECT subscription_id, resource FROM integrations_subscription")
    assert resource == RECORDINGS and simulator.find_subscription(subscription_id) is not None
    assert [(item.kind, item.outcome) for item in simulator.deliveries] == [("validation", "delivered")] * 2
    admin.submit(f"/admin/integrations/teamsintegration/{integration_id}/sync/", {})
    stack.wait_for("SELECT last_reconciliation_at IS NOT NULL FROM integrations_teamsintegration", [(True,)])
    return integration_id


def run_task(stack, name, before=""):
    """What the cluster's schedule runs, at once (integrations.teams.tasks.<name>), after `before` (code)."""
    stack.manage("shell", "-c", f"{before}\nfrom integrations.teams import tasks; tasks.{name}()")


def states(stack):
    """The ledger, by the recordings' ids: {recording_id: (state, found_by)}."""
    return {recording_id: (state, found_by) for recording_id, state, found_by in
            stack.query("SELECT recording_id, state, found_by FROM integrations_recording")}


def wait_until(condition, seconds=60, what="the condition"):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {seconds} s"
        time.sleep(0.3)


def ready(stack, recording, found_by, seconds=60):
    wait_until(lambda: states(stack).get(recording.id) == ("ready", found_by), seconds,
               f"{recording.meeting.subject} ready, found by {found_by}")


@pytest.mark.slow
def test_a_recording_announced_twice_is_ingested_once_found_by_its_notification(simulator, stack, ann):
    admin = AdminBrowser(stack)
    subscribed(simulator, stack, admin)
    simulator.faults.repeat_notifications = True  # Microsoft delivers at least once

    recording = simulator.add_recording(organizer=ann, subject="Physics 101", size=SIZE)

    ready(stack, recording, "notification")
    assert simulator.wait_for_deliveries(10)
    notified = [item for item in simulator.deliveries if item.kind == "notification"]
    assert [(item.status, item.outcome) for item in notified] == [(202, "delivered")] * 2
    assert max(item.seconds for item in notified) < 3  # answered before Microsoft gives up
    assert stack.query("SELECT status, size FROM mediaspace_mediaentry") == [("ready", SIZE)]
    assert [size for _name, size in stack.media_files()] == [SIZE]
    [(last_notification,)] = stack.query("SELECT last_notification_at IS NOT NULL FROM integrations_teamsintegration")
    assert last_notification


@pytest.mark.slow
def test_a_dropped_notification_is_caught_by_the_reconciliation_round(simulator, stack, ann):
    admin = AdminBrowser(stack)
    subscribed(simulator, stack, admin)
    simulator.faults.drop_notifications = 1.0
    lost = simulator.add_recording(organizer=ann, subject="Never announced", size=SIZE)
    assert simulator.wait_for_deliveries(10)
    assert [item.outcome for item in simulator.deliveries if item.kind == "notification"] == ["dropped"]
    run_task(stack, "sync_all")  # the schedule: notifications are healthy and no reconciliation is due yet
    time.sleep(3)
    assert states(stack) == {}

    run_task(stack, "sync_all", before=(  # 7 hours later: TEAMS_RECONCILIATION_HOURS is 6
        "from datetime import timedelta; from django.utils import timezone; "
        "from integrations.teams.models import TeamsIntegration; "
        "TeamsIntegration.objects.update(last_reconciliation_at=timezone.now() - timedelta(hours=7))"))

    ready(stack, lost, "reconciliation")
    assert stack.query("SELECT status, size FROM mediaspace_mediaentry") == [("ready", SIZE)]


@pytest.mark.slow
def test_reauthorization_required_and_an_expired_subscription_are_recovered_from(simulator, stack, ann):
    admin = AdminBrowser(stack)
    subscribed(simulator, stack, admin)
    [(first_id,)] = stack.query("SELECT subscription_id FROM integrations_subscription")
    subscription = simulator.find_subscription(first_id)

    simulator.send_lifecycle(subscription, "reauthorizationRequired")
    held = simulator.add_recording(organizer=ann, subject="While reauthorization is pending", size=SIZE)
    wait_until(lambda: not subscription.needs_reauthorization, 30, "the reauthorization")
    ready(stack, held, "reconciliation")  # the gap reconciled
    after_reauthorization = simulator.add_recording(organizer=ann, subject="After reauthorization", size=SIZE)
    ready(stack, after_reauthorization, "notification")

    # The portal was down past the expiry: Microsoft dropped the subscription and announced nothing meanwhile.
    simulator.expire_subscription(subscription)
    unheard = simulator.add_recording(organizer=ann, subject="While expired", size=SIZE)
    run_task(stack, "renew_subscriptions", before=(  # back up, the renewal schedule finds it expired: created again
        "from django.utils import timezone; from integrations.teams.models import Subscription; "
        "Subscription.objects.update(expires_at=timezone.now())"))
    [(second_id,)] = stack.query("SELECT subscription_id FROM integrations_subscription")
    assert second_id != first_id and simulator.find_subscription(second_id) is not None
    ready(stack, unheard, "reconciliation")
    after_expiry = simulator.add_recording(organizer=ann, subject="After expiry", size=SIZE)
    ready(stack, after_expiry, "notification")
    assert stack.query("SELECT COUNT(*) FROM mediaspace_mediaentry WHERE status = 'ready'") == [(4,)]
    assert stack.query("SELECT notifications_error FROM integrations_teamsintegration") == [("",)]


@pytest.mark.slow
def test_notifications_go_on_working_after_the_secret_expires_and_is_updated(simulator, stack, ann):
    admin = AdminBrowser(stack)
    integration_id = subscribed(simulator, stack, admin)
    [(subscription_id,)] = stack.query("SELECT subscription_id FROM integrations_subscription")
    app = simulator.apps[stack.query("SELECT client_id FROM integrations_teamsintegration")[0][0]]

    simulator.expire_secret(app)
    during = simulator.add_recording(organizer=ann, subject="While the secret is expired", size=SIZE)
    stack.wait_for("SELECT last_error FROM integrations_teamsintegration",
                   [("The provided application secret has expired.",)])
    admin.submit(f"/admin/integrations/teamsintegration/{integration_id}/secret/",
                 {"client_secret": simulator.new_secret(app), "secret_expires_on": ""})

    # The notification that came while the portal could not sign in was taken (202) and its recording is in the
    # ledger, waiting; the failure flagged a gap, so Update secret reconciled at once: no Sync now, no waiting
    # TEAMS_RECONCILIATION_HOURS.
    wait_until(lambda: stack.query("SELECT last_reconciliation_at >= reconciliation_requested_at "
                                   "FROM integrations_teamsintegration") == [(True,)], 60, "the reconciliation")
    ready(stack, during, "notification")
    after = simulator.add_recording(organizer=ann, subject="After the new secret", size=SIZE)
    ready(stack, after, "notification")
    assert stack.query("SELECT subscription_id, notifications_error FROM integrations_subscription s "
                       "JOIN integrations_teamsintegration i ON i.id = s.integration_id") == [(subscription_id, "")]
    assert simulator.find_subscription(subscription_id) is not None


@pytest.mark.slow
def test_a_forged_notification_changes_nothing(simulator, stack, ann):
    admin = AdminBrowser(stack)
    subscribed(simulator, stack, admin)
    [(subscription_id,)] = stack.query("SELECT subscription_id FROM integrations_subscription")
    simulator.faults.drop_notifications = 1.0  # the real one never comes: only the forgeries do
    recording = simulator.add_recording(organizer=ann, subject="Real, but not announced", size=SIZE)
    graph_requests = len(simulator.graph_requests())
    resource = f"communications/onlineMeetings('{recording.meeting.id}')/recordings('{recording.id}')"

    def forged(subscription, client_state):
        return requests.post(f"{stack.url}/teams/notifications/", data=json.dumps({"value": [{
            "subscriptionId": subscription, "subscriptionExpirationDateTime": "2030-01-01T00:00:00.0000000Z",
            "changeType": "created", "resource": resource, "clientState": client_state, "tenantId": simulator.tenant_id,
            "resourceData": {"id": recording.id, "@odata.type": "#Microsoft.Graph.callRecording",
                             "@odata.id": resource}}]}), headers={"Content-Type": "application/json"}, timeout=10)

    wrong_state = forged(subscription_id, "a-guessed-client-state")
    unknown = forged("0f3d9a58-8b1e-4b53-9d2e-3a3c3f0c0b11", "a-guessed-client-state")

    assert (wrong_state.status_code, unknown.status_code) == (403, 403)
    time.sleep(3)  # anything queued would have run by now
    assert states(stack) == {}
    assert stack.query("SELECT last_notification_at FROM integrations_teamsintegration") == [(None,)]
    assert stack.query("SELECT last_notification_at FROM integrations_subscription") == [(None,)]
    assert len(simulator.graph_requests()) == graph_requests  # nobody asked Microsoft about it
