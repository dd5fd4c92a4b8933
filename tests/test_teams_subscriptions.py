"""integrations/teams/subscriptions.py: change-notification subscriptions (create, renew, reauthorize, delete),
the mode (notifications or polling) and the reconciliation rounds, with Graph faked by `responses`.

Graph's shapes are those of its documentation: POST /subscriptions answers 201 with the subscription (id,
resource, applicationId, changeType, notificationUrl, lifecycleNotificationUrl, expirationDateTime with seven
fractional digits...), PATCH /subscriptions/{id} 200 with it, DELETE 204, POST .../reauthorize 204; errors are
`{"error": {"code", "message", "innerError"}}`, among them the 400 ValidationError Graph answers when our
endpoints did not answer its validation request.
"""
import html
import json
import logging
import re
import uuid
from datetime import timedelta

import pytest
import responses
from django.urls import reverse
from django.utils import timezone

from integrations.teams import diagnosis, services, subscriptions, tasks
from integrations.teams.connection import ConnectionReport
from integrations.teams.models import Subscription, TeamsIntegration
from tests.microsoft import CLIENT_ID, GRAPH_URL, load
from tests.teams_fakes import fake_sign_in, graph_error, graph_time, utc

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("microsoft_endpoints")]

V1 = f"{GRAPH_URL}/v1.0"
PUBLIC = "https://portal.example.edu"
RECORDINGS = "communications/onlineMeetings/getAllRecordings"
TRANSCRIPTS = "communications/onlineMeetings/getAllTranscripts"
# Graph's answer when our endpoint did not answer its validation request (quoted in public issues).
VALIDATION_FAILED = graph_error(
    "ValidationError", "Subscription validation request failed. Notification endpoint must respond with 200 OK "
                       "to validation request.")
FORBIDDEN = graph_error(
    "ExtensionError", "Operation: Create; Exception: [Status Code: Forbidden; Reason: Forbidden]")
NOT_FOUND = graph_error("ResourceNotFound", "The object was not found.")


class FakeSubscriptions:
    """Graph's /subscriptions for one app: what exists, what was asked, and failures to answer."""

    def __init__(self, rsps):
        self.rsps = rsps
        self.live = {}  # id -> subscription
        self.requests = []  # (method, path, body)
        self.faults = {}  # method -> [(status, body)]
        subscription = re.compile(re.escape(V1) + r"/subscriptions/([^/]+)$")
        rsps.add_callback(responses.POST, f"{V1}/subscriptions", callback=self._create)
        rsps.add_callback(responses.PATCH, subscription, callback=self._renew)
        rsps.add_callback(responses.DELETE, subscription, callback=self._delete)
        rsps.add_callback(responses.POST, re.compile(re.escape(V1) + r"/subscriptions/([^/]+)/reauthorize$"),
                          callback=self._reauthorize)

    def fail(self, method, status, body):
        self.faults.setdefault(method, []).append((status, body))

    def methods(self):
        return [(method, re.sub(r"/subscriptions/[^/]+", "/subscriptions/{id}", path))
                for method, path, _body in self.requests]

    def _record(self, request):
        body = json.loads(request.body) if request.body else None
        self.requests.append((request.method, request.path_url.replace("/v1.0", ""), body))
        fault = self.faults.get(request.method) and self.faults[request.method].pop(0)
        return body, fault

    @staticmethod
    def _json(status, body):
        return status, {"Content-Type": "application/json"}, json.dumps(body)

    @staticmethod
    def _id(request):
        return request.path_url.split("/subscriptions/")[1].split("/")[0]

    def _create(self, request):
        body, fault = self._record(request)
        if fault:
            return self._json(*fault)
        subscription_id = str(uuid.uuid4())
        self.live[subscription_id] = {
            "@odata.context": f"{V1}/$metadata#subscriptions/$entity",
            "id": subscription_id, "resource": body["resource"], "applicationId": CLIENT_ID,
            "changeType": body["changeType"], "clientState": None, "notificationUrl": body["notificationUrl"],
            "notificationQueryOptions": None, "lifecycleNotificationUrl": body["lifecycleNotificationUrl"],
            "expirationDateTime": graph_time(utc(body["expirationDateTime"])), "creatorId": CLIENT_ID,
            "includeResourceData": body["includeResourceData"], "latestSupportedTlsVersion": "v1_2",
            "encryptionCertificate": None, "encryptionCertificateId": None, "notificationUrlAppId": None,
        }
        return self._json(201, self.live[subscription_id])

    def _renew(self, request):
        body, fault = self._record(request)
        if fault:
            return self._json(*fault)
        if self._id(request) not in self.live:
            return self._json(404, NOT_FOUND)
        self.live[self._id(request)]["expirationDateTime"] = graph_time(utc(body["expirationDateTime"]))
        return self._json(200, self.live[self._id(request)])

    def _delete(self, request):
        _body, fault = self._record(request)
        if fault:
            return self._json(*fault)
        if self.live.pop(self._id(request), None) is None:
            return self._json(404, NOT_FOUND)
        return 204, {}, ""

    def _reauthorize(self, request):
        _body, fault = self._record(request)
        if fault:
            return self._json(*fault)
        if self._id(request) not in self.live:
            return self._json(404, NOT_FOUND)
        return 204, {}, ""


@pytest.fixture
def graph_subscriptions():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeSubscriptions(rsps)
        fake_sign_in(fake)
        yield fake


@pytest.fixture
def public(settings):
    settings.PUBLIC_BASE_URL = PUBLIC
    return settings


@pytest.fixture
def queued(monkeypatch):
    """The sync rounds queued (a reconciliation asked for, or the schedule's)."""
    rounds = []
    monkeypatch.setattr(services, "queue_sync", rounds.append)
    monkeypatch.setattr(subscriptions, "queue_sync", rounds.append)
    monkeypatch.setattr(tasks, "queue_sync", rounds.append)
    return rounds


def rows(integration):
    return {row.resource: row for row in Subscription.objects.filter(integration=integration)}


def reload(integration):
    return TeamsIntegration.objects.get(pk=integration.pk)


def subscribed(integration, graph_subscriptions):
    """The integration with both subscriptions created, Graph's log emptied."""
    assert subscriptions.ensure(integration)
    graph_subscriptions.requests.clear()
    return reload(integration)


# -- the address and the mode ----------------------------------------------------------------------


@pytest.mark.parametrize("url", [PUBLIC, "https://portal.example.edu/", "http://127.0.0.1:8000",
                                 "http://localhost:8000", "http://[::1]:8000", "http://127.0.0.2"])
def test_https_or_loopback_http_is_registered(settings, url):
    settings.PUBLIC_BASE_URL = url
    base = url.rstrip("/")

    assert subscriptions.address_problem() == ""
    assert subscriptions.notification_urls() == (base + reverse("integrations:notifications"),
                                                 base + reverse("integrations:lifecycle-notifications"))


@pytest.mark.parametrize("url", ["http://portal.example.edu", "http://10.0.0.5:8000", "ftp://portal.example.edu",
                                 "portal.example.edu", "https://", "http://[::1"])
def test_plain_http_on_a_public_address_or_no_https_address_is_refused_with_a_message(settings, url):
    settings.PUBLIC_BASE_URL = url

    assert subscriptions.notification_urls() is None
    assert subscriptions.address_problem() == subscriptions.NOT_HTTPS.format(url=url)
    assert "is not an https:// address" in subscriptions.address_problem()


def test_without_public_base_url_the_integration_polls_and_graph_is_not_asked(integration, graph_subscriptions):
    assert subscriptions.address_problem() == subscriptions.NO_ADDRESS

    assert subscriptions.ensure(integration) is False
    assert graph_subscriptions.requests == []
    assert subscriptions.mode(integration) == subscriptions.POLLING


# -- create -----------------------------------------------------------------------------------------


def test_ensure_subscribes_to_recordings_and_transcripts_in_graphs_shape(integration, graph_subscriptions, public):
    before = timezone.now()

    assert subscriptions.ensure(integration) is True

    posts = [body for method, path, body in graph_subscriptions.requests if method == "POST"]
    assert [body["resource"] for body in posts] == [RECORDINGS, TRANSCRIPTS]
    for body in posts:
        assert body["changeType"] == "created"
        assert body["notificationUrl"] == PUBLIC + "/teams/notifications/"
        assert body["lifecycleNotificationUrl"] == PUBLIC + "/teams/notifications/lifecycle/"
        assert body["includeResourceData"] is False
        assert 16 <= len(body["clientState"]) <= 128
        ahead = utc(body["expirationDateTime"]) - before
        assert timedelta(minutes=4200) < ahead <= timedelta(minutes=4320)  # at most Microsoft's 4,320 minutes
    assert posts[0]["clientState"] != posts[1]["clientState"]  # a secret of its own per subscription
    stored = rows(integration)
    assert {resource: row.subscription_id for resource, row in stored.items()} == {
        graph_subscriptions.live[row.subscription_id]["resource"]: row.subscription_id for row in stored.values()}
    assert [stored[RECORDINGS].client_state, stored[TRANSCRIPTS].client_state] == [
        posts[0]["clientState"], posts[1]["clientState"]]
    answered = utc(graph_subscriptions.live[stored[RECORDINGS].subscription_id]["expirationDateTime"][:26] + "Z")
    assert abs(stored[RECORDINGS].expires_at - answered) < timedelta(seconds=1)  # Graph's expiry, as answered
    assert subscriptions.mode(reload(integration)) == subscriptions.NOTIFICATIONS


def test_without_transcription_only_recordings_are_subscribed(integration, graph_subscriptions, public):
    integration.transcription = False
    integration.save()

    subscriptions.ensure(integration)

    assert list(rows(integration)) == [RECORDINGS]
    assert subscriptions.mode(integration) == subscriptions.NOTIFICATIONS


def test_enable_subscribes_after_the_connection_checks(integration, graph_subscriptions, public, monkeypatch):
    integration.enabled = False
    integration.save()
    monkeypatch.setattr(services, "test_connection", lambda integration: ConnectionReport())

    services.integration_enable(integration=integration)

    assert set(rows(integration)) == {RECORDINGS, TRANSCRIPTS}
    assert subscriptions.mode(reload(integration)) == subscriptions.NOTIFICATIONS


def test_enable_refused_by_the_connection_checks_subscribes_nothing(integration, graph_subscriptions, public,
                                                                    monkeypatch):
    integration.enabled = False
    integration.save()
    problem = diagnosis.Problem.of(diagnosis.Code.SECRET_INVALID)
    monkeypatch.setattr(services, "test_connection", lambda integration: ConnectionReport(problem=problem))

    services.integration_enable(integration=integration)

    assert graph_subscriptions.requests == [] and rows(integration) == {}


@pytest.mark.parametrize("status, body, message", [
    (400, VALIDATION_FAILED, diagnosis.NOTIFICATION_ADDRESS_UNREACHABLE.format(
        url=PUBLIC + "/teams/notifications/")),
    (403, FORBIDDEN, "The provided application credentials are missing the 'OnlineMeetingRecording.Read.All' "
                     "permission."),
    (403, load("graph_error_forbidden_policy.json"), diagnosis.POLICY_MISSING),
])
def test_a_failed_create_falls_back_to_polling_with_the_diagnosis(integration, graph_subscriptions, public,
                                                                  status, body, message):
    graph_subscriptions.fail("POST", status, body)

    assert subscriptions.ensure(integration) is False

    integration = reload(integration)
    assert integration.notifications_error == message
    assert subscriptions.mode(integration) == subscriptions.POLLING

    # The next renewal round tries again; once it succeeds, notifications are back.
    assert subscriptions.ensure(integration) is True
    integration = reload(integration)
    assert integration.notifications_error == ""
    assert subscriptions.mode(integration) == subscriptions.NOTIFICATIONS


def test_an_expired_secret_is_told_with_test_connections_message(integration, public, microsoft_endpoints):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeSubscriptions(rsps)
        fake_sign_in(fake, status=401, body=load("token_error_7000222.json"))

        assert subscriptions.ensure(integration) is False

    assert reload(integration).notifications_error == diagnosis.SECRET_EXPIRED
    assert fake.requests == []


# -- renew ------------------------------------------------------------------------------------------


def test_renewal_round_renews_only_what_expires_within_a_day(integration, graph_subscriptions, public, queued):
    integration = subscribed(integration, graph_subscriptions)
    soon = rows(integration)[RECORDINGS]
    Subscription.objects.filter(pk=soon.pk).update(expires_at=timezone.now() + timedelta(hours=20))

    tasks.renew_subscriptions()

    assert graph_subscriptions.methods() == [("PATCH", "/subscriptions/{id}")]
    method, path, body = graph_subscriptions.requests[0]
    assert path == f"/subscriptions/{soon.subscription_id}" and list(body) == ["expirationDateTime"]
    renewed = rows(integration)[RECORDINGS]
    assert renewed.expires_at > timezone.now() + timedelta(days=2)
    assert renewed.renewed_at is not None and renewed.subscription_id == soon.subscription_id
    assert queued == []  # nothing was missed

    graph_subscriptions.requests.clear()
    tasks.renew_subscriptions()
    assert graph_subscriptions.requests == []  # a quiet round costs no request


def test_a_subscription_gone_at_renewal_is_created_again_and_reconciled(integration, graph_subscriptions, public,
                                                                        queued):
    integration = subscribed(integration, graph_subscriptions)
    lost = rows(integration)[RECORDINGS]
    graph_subscriptions.live.pop(lost.subscription_id)  # Microsoft dropped it
    Subscription.objects.filter(pk=lost.pk).update(expires_at=timezone.now() + timedelta(hours=2))

    assert subscriptions.ensure(integration) is True

    assert graph_subscriptions.methods() == [("PATCH", "/subscriptions/{id}"), ("POST", "/subscriptions")]
    again = rows(integration)[RECORDINGS]
    assert again.subscription_id != lost.subscription_id and again.subscription_id in graph_subscriptions.live
    assert again.client_state != lost.client_state
    assert queued == [integration.pk]
    assert subscriptions.reconciliation_due(reload(integration))


def test_a_subscription_found_expired_is_created_again_and_reconciled(integration, graph_subscriptions, public,
                                                                      queued):
    integration = subscribed(integration, graph_subscriptions)
    expired = rows(integration)[TRANSCRIPTS]
    Subscription.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(minutes=5))
    assert subscriptions.mode(integration) == subscriptions.POLLING  # a lapsed subscription announces nothing
    subscriptions.reconciled(integration, timezone.now())

    tasks.renew_subscriptions()

    assert ("POST", "/subscriptions") in graph_subscriptions.methods()
    assert rows(integration)[TRANSCRIPTS].subscription_id != expired.subscription_id
    assert queued == [integration.pk]
    integration = reload(integration)
    assert subscriptions.reconciliation_due(integration)
    assert subscriptions.mode(integration) == subscriptions.NOTIFICATIONS


def test_a_failed_renewal_polls_at_once_and_update_secret_renews_at_once(integration, graph_subscriptions, public,
                                                                         queued, monkeypatch):
    integration = subscribed(integration, graph_subscriptions)
    Subscription.objects.update(expires_at=timezone.now() + timedelta(hours=3))
    graph_subscriptions.fail("PATCH", 403, load("graph_error_access_denied.json"))

    assert subscriptions.ensure(integration) is False
    integration = reload(integration)
    assert integration.notifications_error == (
        "The provided application credentials are missing the 'OnlineMeetingRecording.Read.All' permission.")
    assert subscriptions.mode(integration) == subscriptions.POLLING

    graph_subscriptions.requests.clear()
    Subscription.objects.update(expires_at=timezone.now() + timedelta(days=2))  # not due by its expiry alone
    monkeypatch.setattr(services, "test_connection", lambda integration: ConnectionReport())
    services.integration_update_secret(integration=integration, client_secret="Nw55Q~new.Secret-0123456789abcdef")

    assert graph_subscriptions.methods() == [("PATCH", "/subscriptions/{id}")] * 2
    integration = reload(integration)
    assert integration.notifications_error == ""
    assert subscriptions.mode(integration) == subscriptions.NOTIFICATIONS
    assert queued == [integration.pk]  # what the failure may have let slip is reconciled


def test_update_secret_with_healthy_subscriptions_costs_no_request(integration, graph_subscriptions, public,
                                                                   monkeypatch):
    integration = subscribed(integration, graph_subscriptions)
    monkeypatch.setattr(services, "test_connection", lambda integration: ConnectionReport())

    services.integration_update_secret(integration=integration, client_secret="Nw55Q~new.Secret-0123456789abcdef")

    assert graph_subscriptions.requests == []
    assert subscriptions.mode(reload(integration)) == subscriptions.NOTIFICATIONS


def test_update_secret_after_a_gap_reconciles_at_once_and_hands_out_the_recordings_held_back(
        integration, graph_subscriptions, public, queued, monkeypatch):
    from integrations.teams.models import Recording

    integration = subscribed(integration, graph_subscriptions)
    subscriptions.reconciled(integration, timezone.now() - timedelta(minutes=5))
    # While the secret was expired, an announced recording could not be looked up: it waits, and a gap is flagged.
    held = Recording.objects.create(integration=integration, recording_id="r1", meeting_id="m1", organizer_id="o1",
                                    queued_until=timezone.now() + timedelta(minutes=15))
    subscriptions.flag_gap(integration)
    assert queued == []  # nothing can be reconciled before the secret works again
    monkeypatch.setattr(services, "test_connection", lambda integration: ConnectionReport())

    services.integration_update_secret(integration=integration, client_secret="Nw55Q~new.Secret-0123456789abcdef")

    assert queued == [integration.pk]  # the gap reconciled at once, not in TEAMS_RECONCILIATION_HOURS
    held.refresh_from_db()
    assert held.queued_until is None  # due at once: the round queues it


# -- delete -----------------------------------------------------------------------------------------


def test_disable_deletes_the_subscriptions(integration, graph_subscriptions, public):
    integration = subscribed(integration, graph_subscriptions)
    ids = {row.subscription_id for row in rows(integration).values()}

    services.integration_disable(integration=integration)

    assert graph_subscriptions.methods() == [("DELETE", "/subscriptions/{id}")] * 2
    assert {path.rsplit("/", 1)[1] for _m, path, _b in graph_subscriptions.requests} == ids
    assert graph_subscriptions.live == {} and rows(integration) == {}


def test_delete_removes_the_subscriptions_first_and_one_already_gone_is_fine(integration, graph_subscriptions,
                                                                             public):
    integration = subscribed(integration, graph_subscriptions)
    graph_subscriptions.live.pop(rows(integration)[RECORDINGS].subscription_id)  # expired at Microsoft: 404
    integration.enabled = False
    integration.save()

    services.integration_delete(integration=integration)

    assert graph_subscriptions.methods() == [("DELETE", "/subscriptions/{id}")] * 2
    assert graph_subscriptions.live == {}
    assert not TeamsIntegration.objects.filter(pk=integration.pk).exists()
    assert not Subscription.objects.exists()


def test_a_refused_delete_still_forgets_the_subscription(integration, graph_subscriptions, public):
    integration = subscribed(integration, graph_subscriptions)
    graph_subscriptions.fail("DELETE", 403, load("graph_error_access_denied.json"))

    services.integration_disable(integration=integration)

    assert rows(integration) == {}  # it lapses by itself; its notifications are refused (unknown id)


# -- lifecycle events -------------------------------------------------------------------------------


def test_reauthorization_required_reauthorizes_then_reconciles(integration, graph_subscriptions, public, queued):
    integration = subscribed(integration, graph_subscriptions)
    subscription = rows(integration)[RECORDINGS]
    subscriptions.reconciled(integration, timezone.now())

    subscriptions.on_lifecycle_event(subscription, "reauthorizationRequired")

    assert graph_subscriptions.requests == [
        ("POST", f"/subscriptions/{subscription.subscription_id}/reauthorize", None)]
    assert rows(integration)[RECORDINGS].subscription_id == subscription.subscription_id
    assert queued == [integration.pk]
    assert subscriptions.reconciliation_due(reload(integration))


def test_reauthorization_refused_renews_instead(integration, graph_subscriptions, public, queued):
    integration = subscribed(integration, graph_subscriptions)
    subscription = rows(integration)[RECORDINGS]
    graph_subscriptions.fail("POST", 400, graph_error("InvalidRequest", "Reauthorization is not needed."))

    subscriptions.on_lifecycle_event(subscription, "reauthorizationRequired")

    assert graph_subscriptions.methods() == [("POST", "/subscriptions/{id}/reauthorize"),
                                             ("PATCH", "/subscriptions/{id}")]
    assert queued == [integration.pk]


def test_reauthorizing_a_subscription_gone_creates_it_again(integration, graph_subscriptions, public, queued):
    integration = subscribed(integration, graph_subscriptions)
    subscription = rows(integration)[RECORDINGS]
    graph_subscriptions.live.pop(subscription.subscription_id)

    subscriptions.on_lifecycle_event(subscription, "reauthorizationRequired")

    again = rows(integration)[RECORDINGS]
    assert again.subscription_id != subscription.subscription_id and again.subscription_id in graph_subscriptions.live
    assert queued == [integration.pk]


@pytest.mark.parametrize("event", ["subscriptionRemoved", "missed"])
def test_removed_or_missed_creates_the_subscription_again_and_reconciles(integration, graph_subscriptions, public,
                                                                         queued, event):
    integration = subscribed(integration, graph_subscriptions)
    subscription = rows(integration)[TRANSCRIPTS]

    subscriptions.on_lifecycle_event(subscription, event)

    assert graph_subscriptions.methods() == [("DELETE", "/subscriptions/{id}"), ("POST", "/subscriptions")]
    again = rows(integration)[TRANSCRIPTS]
    assert again.subscription_id != subscription.subscription_id
    assert list(graph_subscriptions.live) == [rows(integration)[RECORDINGS].subscription_id, again.subscription_id]
    assert queued == [integration.pk]
    assert subscriptions.mode(reload(integration)) == subscriptions.NOTIFICATIONS


def test_a_failed_recreate_after_a_lifecycle_event_polls_with_the_reason(integration, graph_subscriptions, public,
                                                                         queued):
    integration = subscribed(integration, graph_subscriptions)
    graph_subscriptions.fail("POST", 400, VALIDATION_FAILED)

    subscriptions.on_lifecycle_event(rows(integration)[RECORDINGS], "subscriptionRemoved")

    integration = reload(integration)
    assert integration.notifications_error.startswith("Microsoft could not validate the portal's notification")
    assert subscriptions.mode(integration) == subscriptions.POLLING
    assert queued == [integration.pk]


# -- reconciliation -----------------------------------------------------------------------------------


def test_polling_syncs_every_round(integration, queued):
    TeamsIntegration.objects.filter(pk=integration.pk).update(last_reconciliation_at=timezone.now())

    tasks.sync_all()
    tasks.sync_all()

    assert queued == [integration.pk, integration.pk]


def test_with_healthy_notifications_a_round_runs_only_when_a_reconciliation_is_due(
        integration, graph_subscriptions, public, queued, settings):
    integration = subscribed(integration, graph_subscriptions)
    tasks.sync_all()
    assert queued == [integration.pk]  # never reconciled

    subscriptions.reconciled(integration, timezone.now() - timedelta(hours=5))
    queued.clear()
    tasks.sync_all()
    assert queued == []  # reconciled 5 hours ago: not due before 6

    subscriptions.reconciled(integration, timezone.now() - timedelta(hours=6, minutes=1))
    tasks.sync_all()
    assert queued == [integration.pk]

    settings.TEAMS_RECONCILIATION_HOURS = 12
    queued.clear()
    tasks.sync_all()
    assert queued == []

    subscriptions.request_reconciliation(integration)  # a gap: one round at once, and the schedule's too
    tasks.sync_all()
    assert queued == [integration.pk, integration.pk]


def test_a_completed_round_is_the_last_reconciliation_and_covers_earlier_gaps(integration, monkeypatch, queued):
    subscriptions.request_reconciliation(integration)
    monkeypatch.setattr(tasks.sync, "run", lambda integration: {"discovered": 0, "queued": 0})
    before = timezone.now()

    tasks.sync_integration(integration.pk)

    integration = reload(integration)
    assert before <= integration.last_reconciliation_at <= timezone.now()
    assert not subscriptions.reconciliation_due(integration)


def test_a_round_that_did_not_complete_is_no_reconciliation(integration, monkeypatch):
    monkeypatch.setattr(tasks.sync, "run", lambda integration: {"problem": diagnosis.UNREACHABLE})

    tasks.sync_integration(integration.pk)

    assert reload(integration).last_reconciliation_at is None


def test_sync_now_runs_a_round_whatever_the_mode(integration, graph_subscriptions, public, queued):
    integration = subscribed(integration, graph_subscriptions)
    subscriptions.reconciled(integration, timezone.now())

    services.integration_sync(integration=integration)

    assert queued == [integration.pk]


# -- the client state is a secret -------------------------------------------------------------------


def test_the_client_state_is_never_logged(integration, graph_subscriptions, public, queued, caplog):
    caplog.set_level(logging.DEBUG)
    subscriptions.ensure(integration)
    graph_subscriptions.live.clear()
    subscriptions.ensure(integration, renew=True)
    subscriptions.on_lifecycle_event(rows(integration)[RECORDINGS], "missed")
    services.integration_disable(integration=integration)

    states = [body["clientState"] for method, _path, body in graph_subscriptions.requests
              if method == "POST" and body and "clientState" in body]
    assert len(states) == 5
    for state in states:
        assert state not in caplog.text


# -- the console ------------------------------------------------------------------------------------


@pytest.fixture
def admin(client_for, make_user):
    return client_for(make_user(username="root", is_staff=True, is_superuser=True))


def change_page(admin, integration):
    response = admin.get(reverse("admin:integrations_teamsintegration_change", args=[integration.pk]))
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def list_row(admin, integration):
    page = admin.get(reverse("admin:integrations_teamsintegration_changelist")).content.decode()
    return next(row for row in re.findall(r"<tr>.*?</tr>", page, re.S) if integration.name in row)


def test_console_shows_notifications_with_the_address_and_each_subscription(admin, integration,
                                                                           graph_subscriptions, public, queued):
    integration = subscribed(integration, graph_subscriptions)
    now = timezone.now()
    TeamsIntegration.objects.filter(pk=integration.pk).update(
        last_notification_at=now - timedelta(minutes=3), last_reconciliation_at=now - timedelta(hours=2))

    page = change_page(admin, integration)

    assert "Notifications: Microsoft announces new recordings." in page
    assert f"Address registered with Microsoft: <code>{PUBLIC}/teams/notifications/</code>" in page
    assert f"<code>{PUBLIC}/teams/notifications/lifecycle/</code>" in page
    for row in rows(integration).values():
        assert f"<code>{row.subscription_id}</code>" in page
        assert f"<td>{row.resource}</td>" in page
        assert row.client_state not in page  # the secret is never rendered
    assert "Last notification" in page and "Last reconciliation" in page
    assert "Why notifications are off" not in page
    assert "Notifications" in list_row(admin, integration)


def test_console_says_why_the_integration_polls_without_an_https_address(admin, integration, settings):
    settings.PUBLIC_BASE_URL = "http://portal.example.edu"

    page = change_page(admin, integration)

    assert "Polling: every sync round asks Microsoft." in page
    assert "No address is registered with Microsoft: " + subscriptions.NOT_HTTPS.format(
        url="http://portal.example.edu") in page
    assert "Polling" in list_row(admin, integration)

    settings.PUBLIC_BASE_URL = ""
    assert "No address is registered with Microsoft: " + subscriptions.NO_ADDRESS in change_page(admin, integration)


def test_console_shows_the_diagnosis_when_a_subscription_failed(admin, integration, graph_subscriptions, public):
    graph_subscriptions.fail("POST", 400, VALIDATION_FAILED)
    subscriptions.ensure(integration)

    page = change_page(admin, integration)

    assert "Polling: every sync round asks Microsoft." in page
    assert "Why notifications are off: " in page
    assert diagnosis.NOTIFICATION_ADDRESS_UNREACHABLE.format(url=PUBLIC + "/teams/notifications/") in page
    assert "Polling" in list_row(admin, integration)


def test_the_environment_sets_the_public_address_and_the_reconciliation_interval():
    from tests.test_settings import settings_of_the_project

    values = settings_of_the_project(PUBLIC_BASE_URL="https://portal.example.edu", TEAMS_RECONCILIATION_HOURS="12")

    assert values["defined"] == {"PUBLIC_BASE_URL": "https://portal.example.edu", "TEAMS_RECONCILIATION_HOURS": 12}
    assert settings_of_the_project()["read"]["PUBLIC_BASE_URL"] == ""  # polling unless an address is given


def test_api_reads_a_subscription_and_says_when_one_to_delete_is_gone(integration, graph_subscriptions, public):
    integration = subscribed(integration, graph_subscriptions)
    subscription_id = rows(integration)[RECORDINGS].subscription_id
    graph = subscriptions.api.graph_for(integration)
    graph_subscriptions.rsps.get(f"{V1}/subscriptions/{subscription_id}",
                                 json=graph_subscriptions.live[subscription_id])

    assert subscriptions.api.subscription(graph, subscription_id)["resource"] == RECORDINGS
    assert subscriptions.api.delete_subscription(graph, subscription_id) is True
    assert subscriptions.api.delete_subscription(graph, subscription_id) is False  # 404: gone already
