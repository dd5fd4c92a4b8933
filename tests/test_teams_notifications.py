"""Microsoft's change notifications for Teams recordings and transcripts: the endpoints (views.notifications),
what they accept (notifications.accept) and what the queued work does (notifications.handle), against the
fake Microsoft Graph of tests/teams_fakes.py. Bodies are shaped as Microsoft's pages show them
(change-notifications-delivery-webhooks, teams-changenotifications-callrecording-and-calltranscript,
change-notifications-lifecycle-events)."""
import ast
import json
from datetime import timedelta
from unittest import mock

import pytest
import responses
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone

from integrations.teams import notifications, sync, tasks
from integrations.teams.models import Recording, Subscription
from mediaspace.models import MediaEntry
from tests.microsoft import TENANT_ID
from tests.queue import take_queued
from tests.teams_fakes import ANN, BOB, THROTTLED, Lecture, fake_sign_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("microsoft_endpoints")]

CLIENT_STATE = "d8Jk2-secret-client-state-of-recordings"
TRANSCRIPTS_STATE = "q1Wm9-secret-client-state-of-transcripts"
RECORDINGS_ID = "7a62d59e-a789-4dd7-9c85-cf7d6567890d"
TRANSCRIPTS_ID = "516220d0-0f88-46cc-ac39-02b687687526"
VALIDATION_TOKEN = ("Validation: Testing client application reachability for subscription Request-Id: "
                    "b7a3e6c1-2f0d-4c1e-9a8b-5d4c3b2a1f09")


@pytest.fixture
def subscriptions(integration):
    expires = timezone.now() + timedelta(days=3)
    return {
        "recordings": Subscription.objects.create(
            integration=integration, subscription_id=RECORDINGS_ID, resource=Subscription.Resource.RECORDINGS,
            client_state=CLIENT_STATE, expires_at=expires),
        "transcripts": Subscription.objects.create(
            integration=integration, subscription_id=TRANSCRIPTS_ID, resource=Subscription.Resource.TRANSCRIPTS,
            client_state=TRANSCRIPTS_STATE, expires_at=expires),
    }


def recording_notification(lecture, *, subscription_id=RECORDINGS_ID, client_state=CLIENT_STATE, with_user=False):
    """A change notification without resource data for a recording, as Microsoft's page shows it (the
    tenant-wide form names the meeting only; `with_user` names its organizer too, the other documented form)."""
    prefix = f"users/{lecture.organizer['id']}" if with_user else "communications"
    resource = f"{prefix}/onlineMeetings('{lecture.meeting_id}')/recordings('{lecture.recording_id}')"
    return {"subscriptionId": subscription_id, "changeType": "created", "tenantId": TENANT_ID,
            "clientState": client_state, "subscriptionExpirationDateTime": "2026-12-06T08:27:05.0241757+00:00",
            "resource": resource, "resourceData": {
                "id": lecture.recording_id, "@odata.type": "#Microsoft.Graph.callRecording", "@odata.id": resource}}


def lifecycle_notification(event, *, client_state=CLIENT_STATE):
    return {"lifecycleEvent": event, "subscriptionId": RECORDINGS_ID,
            "subscriptionExpirationDateTime": "2026-12-06T00:52:45.9696658+00:00",
            "clientState": client_state, "tenantId": TENANT_ID}


def post(client, *items, url="integrations:notifications", **extra):
    return client.post(reverse(url), data=json.dumps({"value": list(items)}), content_type="application/json",
                       **extra)


def ann_lecture(ms):
    """A lecture of Ann's (its meeting id names her, as Teams' do) that Microsoft has and lists."""
    lecture = Lecture()
    ms.users = [ANN, BOB]
    ms.add_lecture(lecture)
    fake_sign_in(ms)  # the queued work signs in as the integration
    return lecture


# --- the validation handshake ---------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["integrations:notifications", "integrations:lifecycle-notifications"])
@pytest.mark.parametrize("method", ["post", "get"])
def test_the_validation_request_gets_the_decoded_token_as_plain_text(client, url, method):
    response = getattr(client, method)(reverse(url) + "?validationToken=Validation%3A%20Testing%20client%20"
                                       "application%20reachability%20for%20subscription%20Request-Id%3A%20"
                                       "b7a3e6c1-2f0d-4c1e-9a8b-5d4c3b2a1f09")

    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] == "text/plain"
    assert response.content.decode() == VALIDATION_TOKEN
    assert not response.cookies


def test_an_absurdly_long_validation_token_is_refused(client):
    response = client.post(reverse("integrations:notifications") + "?validationToken=" + "a" * 5000)

    assert response.status_code == 400
    assert b"a" * 100 not in response.content


def test_the_endpoints_take_nothing_but_posts(client):
    assert client.get(reverse("integrations:notifications")).status_code == 405
    assert client.put(reverse("integrations:lifecycle-notifications")).status_code == 405


# --- delivery ---------------------------------------------------------------------------------------------------


def test_a_recording_notification_is_in_the_ledger_and_its_ingest_queued_before_the_answer_without_asking_microsoft(
        client, integration, subscriptions, ms):
    lecture = ann_lecture(ms)

    response = post(client, recording_notification(lecture))

    assert response.status_code == 202
    assert ms.calls == []  # no Graph request inside the request
    recording = Recording.objects.get()  # queued at once: no wait behind the downloads in the queue
    assert recording.found_by == Recording.FoundBy.NOTIFICATION
    assert (recording.recording_id, recording.meeting_id, recording.organizer_id) == (
        lecture.recording_id, lecture.meeting_id, ANN["id"])
    assert recording.state == Recording.State.DISCOVERED and recording.queued_until is not None
    queued = take_queued()
    assert [(task["func"], task["args"]) for task in queued] == [
        ("integrations.teams.tasks.ingest_recording", (recording.pk,))]
    assert CLIENT_STATE not in json.dumps(queued[0]["args"])  # the secret does not travel in the queue
    subscription, integration = subscriptions["recordings"], integration
    subscription.refresh_from_db()
    integration.refresh_from_db()
    assert subscription.last_notification_at is not None
    assert integration.last_notification_at == subscription.last_notification_at
    assert subscriptions["transcripts"].last_notification_at is None


def test_the_ingest_of_an_announced_recording_reads_its_meeting_recording_and_organizer_in_one_batch(
        client, integration, subscriptions, ms, graph, portal_users):
    lecture = ann_lecture(ms)
    ms.transcripts[lecture.meeting_id] = []  # no transcript (yet)
    post(client, recording_notification(lecture))
    [recording_id] = ingests_queued()

    recording = sync.ingest(recording_id, graph=graph)

    assert recording.state == Recording.State.READY and recording.found_by == Recording.FoundBy.NOTIFICATION
    assert (recording.organizer_upn, recording.organizer_name, recording.organizer_mail) == (
        ANN["userPrincipalName"], "Ann Lee", ANN["mail"])
    assert recording.content_url == lecture.content_url and recording.content_correlation_id == lecture.correlation
    assert recording.recorded_at == sync.parse_datetime(lecture.recording["createdDateTime"])
    assert recording.entry.owner == portal_users["ann.lee"]
    assert recording.entry.collaborators.count() == 3  # the meeting's participants (no guest): in the same batch
    # two requests: the meeting, the recording and its organizer in one $batch; then the content
    assert [[request["url"] for request in batch] for batch in ms.batches()] == [[
        f"/users/{ANN['id']}/onlineMeetings/{lecture.meeting_id}",
        f"/users/{ANN['id']}/onlineMeetings/{lecture.meeting_id}/recordings/{lecture.recording_id}",
        f"/users/{ANN['id']}?$select={sync.USER_FIELDS}"]]
    assert len(ms.calls) == 2


def test_the_same_recording_notified_twice_is_one_ledger_row_and_one_entry(
        client, integration, subscriptions, ms, portal_users, graph):
    lecture = ann_lecture(ms)

    assert post(client, recording_notification(lecture)).status_code == 202
    assert post(client, recording_notification(lecture, with_user=True)).status_code == 202  # retried, other form

    queued_ingests = ingests_queued()
    assert Recording.objects.count() == 1 and queued_ingests == [Recording.objects.get().pk]
    for recording_id in queued_ingests + queued_ingests:  # the ingest too may run twice
        sync.ingest(recording_id, graph=graph)
    recording = Recording.objects.get()
    assert recording.state == Recording.State.READY
    assert recording.entry.owner == portal_users["ann.lee"]
    assert len(ms.content_requests()) == 1
    assert MediaEntry.objects.count() == 1


def test_a_notification_and_a_reconciliation_round_make_one_row(client, integration, subscriptions, ms, graph):
    lecture = ann_lecture(ms)
    sync.run(integration, graph=graph, queue=lambda recording_id: None)  # the round finds it first
    take_queued()

    assert post(client, recording_notification(lecture)).status_code == 202

    assert Recording.objects.get().found_by == Recording.FoundBy.RECONCILIATION
    assert ingests_queued() == []


def test_a_recording_of_an_organizer_outside_the_opt_in_groups_is_not_ingested(
        client, integration, subscriptions, ms, graph):
    lecture = ann_lecture(ms)
    integration.upload_policy = integration.UploadPolicy.OPT_IN
    integration.save()
    integration.groups.create(group_id="5b1c9a4e-2d3f-4a6b-8c7d-9e0f1a2b3c4d", display_name="Lecturers")
    ms.rsps.post(f"https://graph.microsoft.com/v1.0/users/{ANN['id']}/checkMemberGroups",
                 json={"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)",
                       "value": []})
    post(client, recording_notification(lecture))

    assert sync.ingest(ingests_queued()[0], graph=graph) is None

    # not ingested, and no failure in the ledger: out of scope, the row is gone (as a round never lists it)
    assert not Recording.objects.exists() and not MediaEntry.objects.exists()
    assert ms.content_requests() == []
    asked = [call for call in ms.calls if call.request.url.endswith("/checkMemberGroups")]
    assert json.loads(asked[0].request.body) == {"groupIds": ["5b1c9a4e-2d3f-4a6b-8c7d-9e0f1a2b3c4d"]}


def test_a_recording_of_an_organizer_in_an_opt_out_group_is_not_ingested(
        client, integration, subscriptions, ms, graph):
    lecture = ann_lecture(ms)
    integration.upload_policy = integration.UploadPolicy.OPT_OUT
    integration.save()
    group = integration.groups.create(group_id="6c2d0b5f-3e4a-4b7c-9d8e-0f1a2b3c4d5e", display_name="Staff")
    ms.rsps.post(f"https://graph.microsoft.com/v1.0/users/{ANN['id']}/checkMemberGroups",
                 json={"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)",
                       "value": [group.group_id]})
    post(client, recording_notification(lecture))

    assert sync.ingest(ingests_queued()[0], graph=graph) is None
    assert not Recording.objects.exists() and not MediaEntry.objects.exists()
    assert ms.content_requests() == []


def test_a_recording_gone_before_its_notification_was_handled_changes_nothing(
        client, integration, subscriptions, ms, graph):
    lecture = ann_lecture(ms)
    ms.recordings.clear()  # expired or deleted since
    post(client, recording_notification(lecture))

    assert sync.ingest(ingests_queued()[0], graph=graph) is None
    assert not Recording.objects.exists() and not MediaEntry.objects.exists()


def test_a_notification_for_a_disabled_integration_is_left_alone(client, integration, subscriptions, ms):
    lecture = ann_lecture(ms)
    integration.enabled = False
    integration.save()

    assert post(client, recording_notification(lecture)).status_code == 202

    assert not Recording.objects.exists() and take_queued() == [] and ms.calls == []


def test_an_announced_recording_that_cannot_sign_in_waits_and_flags_a_reconciliation(
        client, integration, subscriptions, ms):
    from tests.microsoft import load

    lecture = Lecture()
    ms.users = [ANN, BOB]
    ms.add_lecture(lecture)
    fake_sign_in(ms, status=401, body=load("token_error_7000222.json"))  # the client secret expired
    post(client, recording_notification(lecture))

    tasks.ingest_recording(ingests_queued()[0])

    recording = Recording.objects.get()
    assert recording.state == Recording.State.DISCOVERED  # kept: it is brought in once the portal can sign in
    integration.refresh_from_db()
    assert integration.last_error == "The provided application secret has expired."
    assert integration.reconciliation_requested_at is not None  # Update secret reconciles the gap at once


def test_the_ledger_says_how_each_recording_was_found(client, admin_user, integration, subscriptions, ms, graph):
    lecture, other = ann_lecture(ms), Lecture(BOB, number=2)
    ms.add_lecture(other)
    sync.run(integration, graph=graph, queue=lambda recording_id: None)  # a round finds both; a notification
    Recording.objects.filter(recording_id=lecture.recording_id).update(  # had announced the first
        found_by=Recording.FoundBy.NOTIFICATION)
    client.force_login(admin_user)
    ledger = reverse("admin:integrations_recording_changelist")

    page = client.get(ledger).content.decode()
    announced = client.get(ledger, {"found_by__exact": "notification"}).context["cl"].result_list

    assert "Found by" in page and "Notification" in page and "Reconciliation" in page
    assert [recording.recording_id for recording in announced] == [lecture.recording_id]


def test_a_throttled_answer_inside_the_look_up_is_asked_again_after_its_retry_after(
        client, integration, subscriptions, ms, sleeps, graph, portal_users):
    lecture = ann_lecture(ms)
    ms.sub_faults[ANN["id"]] = [(429, {"Retry-After": "7"}, THROTTLED)]  # the meeting's answer in the batch
    post(client, recording_notification(lecture))

    assert sync.ingest(ingests_queued()[0], graph=graph).state == Recording.State.READY
    assert sleeps == [7]
    assert ms.paths(r"/onlineMeetings/[^/]+$") == [f"/v1.0/users/{ANN['id']}/onlineMeetings/{lecture.meeting_id}"]


def test_a_throttled_look_up_is_tried_again_later_then_left_to_the_reconciliation(
        client, integration, subscriptions, ms):
    from django_q.models import Schedule

    lecture = ann_lecture(ms)
    for number in (1, 2):  # two recordings of the meeting: the transcript's metadata says which is its own
        Recording.objects.create(integration=integration, recording_id=f"r{number}", meeting_id=lecture.meeting_id,
                                 organizer_id=ANN["id"], state=Recording.State.READY)
    ms.fail(r"/transcripts/", 429, THROTTLED, {"Retry-After": "600"})  # longer than a background task waits
    post(client, transcript_notification(lecture))

    assert run_queued()["failed"] == 1
    [again] = Schedule.objects.filter(func="integrations.teams.tasks.handle_notifications")
    assert again.schedule_type == Schedule.ONCE
    assert timezone.now() + timedelta(seconds=50) < again.next_run < timezone.now() + timedelta(seconds=70)
    [items] = ast.literal_eval(again.args)  # as django-q2's scheduler reads them
    assert [item["attempt"] for item in items] == [1] and TRANSCRIPTS_STATE not in json.dumps(items)

    again.delete()
    for attempt in (1, 2, 3):
        ms.fail(r"/transcripts/", 429, THROTTLED, {"Retry-After": "600"})
        tasks.handle_notifications([{**items[0], "attempt": attempt}])
    later = Schedule.objects.filter(func="integrations.teams.tasks.handle_notifications").order_by("next_run")
    assert [ast.literal_eval(schedule.args)[0][0]["attempt"] for schedule in later] == [2, 3]  # 3 was the last


def test_a_transcript_notification_that_cannot_sign_in_flags_a_reconciliation(
        client, integration, subscriptions, ms):
    from tests.microsoft import load

    lecture = Lecture()
    ms.users = [ANN, BOB]
    ms.add_lecture(lecture)
    for number in (1, 2):
        Recording.objects.create(integration=integration, recording_id=f"r{number}", meeting_id=lecture.meeting_id,
                                 organizer_id=ANN["id"], state=Recording.State.READY)
    fake_sign_in(ms, status=401, body=load("token_error_7000222.json"))
    post(client, transcript_notification(lecture))

    assert run_queued()["failed"] == 1
    integration.refresh_from_db()
    assert integration.reconciliation_requested_at is not None


# --- transcripts ------------------------------------------------------------------------------------------------


def transcript_notification(lecture, transcript_id=None):
    resource = (f"communications/onlineMeetings('{lecture.meeting_id}')/transcripts("
                f"'{transcript_id or lecture.transcript_id}')")
    return {"subscriptionId": TRANSCRIPTS_ID, "changeType": "created", "tenantId": TENANT_ID,
            "clientState": TRANSCRIPTS_STATE, "subscriptionExpirationDateTime": "2026-12-06T08:29:11.3173971+00:00",
            "resource": resource, "resourceData": {
                "id": transcript_id or lecture.transcript_id, "@odata.type": "#Microsoft.Graph.callTranscript",
                "@odata.id": resource}}


def test_a_transcript_announced_before_its_recording_is_attached_when_the_recording_arrives(
        client, integration, subscriptions, ms, graph, portal_users):
    lecture = ann_lecture(ms)
    post(client, transcript_notification(lecture))
    assert run_queued()["transcripts"] == 1
    assert not Recording.objects.exists()
    assert ms.paths() == []  # remembered: the recording's ingest asks for it with its meeting

    post(client, recording_notification(lecture))
    [recording_id] = ingests_queued()
    recording = sync.ingest(recording_id, graph=graph)

    assert recording.state == Recording.State.READY and recording.transcript_done
    [track] = recording.entry.captions.all()
    assert track.reference_id == f"teams:{lecture.transcript_id}"
    # three requests: the meeting, the recording, its organizer and the transcript (which recording is its own) in
    # one $batch, then the recording's content and the transcript's
    [batch] = ms.batches()
    assert batch[-1]["url"] == f"/users/{ANN['id']}/onlineMeetings/{lecture.meeting_id}/transcripts/{lecture.transcript_id}"
    assert [path.rsplit("/", 1)[-1] for path in ms.paths()] == ["$batch", "content", "content"]


def test_a_transcript_announced_after_its_recording_is_ready_is_attached_at_once(
        client, integration, subscriptions, ms, graph, portal_users):
    lecture = ann_lecture(ms)
    ms.transcripts[lecture.meeting_id] = []  # Teams has not finished the transcript yet
    post(client, recording_notification(lecture))
    recording = sync.ingest(ingests_queued()[0], graph=graph)
    assert recording.state == Recording.State.READY and not recording.transcript_done
    assert not ms.paths(r"/transcripts")  # no meeting known to have one: nothing asked

    ms.transcripts[lecture.meeting_id] = list(lecture.transcripts)  # ready, and announced
    post(client, transcript_notification(lecture))
    assert run_queued()["transcripts"] == 1

    recording.refresh_from_db()
    assert recording.transcript_done
    assert [track.reference_id for track in recording.entry.captions.all()] == [f"teams:{lecture.transcript_id}"]


def test_the_transcript_of_another_recording_of_the_meeting_is_not_attached(
        client, integration, subscriptions, ms, graph, portal_users):
    lecture = ann_lecture(ms)
    other_id = lecture.transcripts[1][0]["id"]  # the meeting's other recording's transcript
    post(client, recording_notification(lecture))
    sync.ingest(ingests_queued()[0], graph=graph)

    post(client, transcript_notification(lecture, other_id))
    run_queued()

    recording = Recording.objects.get()
    assert not recording.entry.captions.exists() and not recording.transcript_done


def test_the_transcript_of_another_recording_announced_first_is_not_attached_either(
        client, integration, subscriptions, ms, graph, portal_users):
    lecture = ann_lecture(ms)
    post(client, transcript_notification(lecture, lecture.transcripts[1][0]["id"]))
    run_queued()
    post(client, recording_notification(lecture))

    recording = sync.ingest(ingests_queued()[0], graph=graph)

    assert recording.state == Recording.State.READY
    assert not recording.entry.captions.exists() and not recording.transcript_done


def test_transcript_notifications_are_left_alone_without_transcription(client, integration, subscriptions, ms):
    integration.transcription = False
    integration.save()
    post(client, transcript_notification(ann_lecture(ms)))

    assert run_queued()["skipped"] == 1
    assert ms.calls == []


# --- what is refused --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("forged", [
    {"client_state": "a-guess"},
    {"client_state": ""},
    {"client_state": TRANSCRIPTS_STATE},  # the other subscription's secret
    {"subscription_id": "00000000-0000-4000-8000-000000000000"},
])
def test_a_forged_notification_changes_nothing(client, integration, subscriptions, ms, forged):
    lecture = ann_lecture(ms)

    response = post(client, recording_notification(lecture, **forged))

    assert response.status_code == 403
    assert b"subscription of this portal" in response.content
    assert CLIENT_STATE.encode() not in response.content
    assert take_queued() == []
    integration.refresh_from_db()
    assert integration.last_notification_at is None
    assert not Subscription.objects.filter(last_notification_at__isnull=False).exists()


def test_a_notification_of_another_tenant_is_refused(client, integration, subscriptions, ms):
    notification = recording_notification(ann_lecture(ms))
    notification["tenantId"] = "0a1b2c3d-4e5f-4061-8a7b-9c8d7e6f5a4b"

    assert post(client, notification).status_code == 403
    assert take_queued() == []


def test_only_the_authentic_notifications_of_a_request_are_taken(client, integration, subscriptions, ms):
    lecture = ann_lecture(ms)

    other = Lecture(BOB, number=2)
    ms.add_lecture(other)

    response = post(client, recording_notification(other, client_state="a-guess"),
                    recording_notification(lecture))

    assert response.status_code == 202
    [recording] = Recording.objects.all()
    assert recording.recording_id == lecture.recording_id
    assert ingests_queued() == [recording.pk]


def test_an_oversized_body_is_refused_before_it_is_read(client, integration, subscriptions):
    with mock.patch("django.core.handlers.wsgi.LimitedStream.read") as read:
        response = client.post(reverse("integrations:notifications"), data=b"{}", content_type="application/json",
                               CONTENT_LENGTH=str(notifications.MAX_BODY_BYTES + 1))

    assert response.status_code == 413
    read.assert_not_called()
    assert take_queued() == []


def test_a_body_over_the_limit_without_a_declared_length_is_refused_too():
    with pytest.raises(notifications.Refused) as refused:
        notifications.accept(b" " * (notifications.MAX_BODY_BYTES + 1))
    assert refused.value.status == 413


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b'{"value": {}}', b'{"value": ["x"]}', b"\xff\xfe",
                                  b"[" * 100_000 + b"]" * 100_000])
def test_a_malformed_body_is_refused_with_400(client, integration, subscriptions, body):
    response = client.post(reverse("integrations:notifications"), data=body, content_type="application/json")

    assert response.status_code == 400
    assert take_queued() == []


def test_the_endpoints_open_no_session_and_set_no_cookie(client, integration, subscriptions, ms, admin_user):
    client.force_login(admin_user)  # a browser with a session cookie posts to the endpoint
    sessions = Session.objects.count()
    with mock.patch.object(SessionStore, "load", side_effect=AssertionError("the session was read")):
        response = post(client, recording_notification(ann_lecture(ms)))
        validation = client.post(reverse("integrations:lifecycle-notifications") + "?validationToken=abc")

    assert response.status_code == 202 and validation.status_code == 200
    assert not response.cookies and not validation.cookies
    assert "Cookie" not in response.get("Vary", "")
    assert Session.objects.count() == sessions


def test_no_other_view_is_exempt_from_the_csrf_check():
    from django.urls import get_resolver

    exempt = set()

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif getattr(pattern.callback, "csrf_exempt", False):
                exempt.add(pattern.callback.__module__ + "." + pattern.callback.__name__)

    walk(get_resolver().url_patterns)
    assert {name for name in exempt if name.startswith("integrations.")} == {"integrations.teams.views.notifications"}


# --- lifecycle notifications ------------------------------------------------------------------------------------


@pytest.mark.parametrize("event", ["reauthorizationRequired", "subscriptionRemoved", "missed"])
def test_a_lifecycle_event_is_queued_for_the_subscriptions_life_cycle(client, integration, subscriptions, event):
    response = post(client, lifecycle_notification(event), url="integrations:lifecycle-notifications")

    assert response.status_code == 202
    assert [(task["func"], task["args"]) for task in take_queued()] == [
        ("integrations.teams.tasks.handle_lifecycle_event", (subscriptions["recordings"].pk, event))]


def test_a_forged_lifecycle_event_changes_nothing(client, integration, subscriptions):
    response = post(client, lifecycle_notification("subscriptionRemoved", client_state="a-guess"),
                    url="integrations:lifecycle-notifications")

    assert response.status_code == 403
    assert take_queued() == []


def test_the_lifecycle_task_hands_the_event_to_the_subscription_life_cycle(integration, subscriptions, monkeypatch):
    from integrations.teams import subscriptions as life_cycle

    seen = []
    monkeypatch.setattr(life_cycle, "on_lifecycle_event", lambda subscription, event: seen.append(
        (subscription.subscription_id, event)))

    tasks.handle_lifecycle_event(subscriptions["recordings"].pk, "reauthorizationRequired")
    tasks.handle_lifecycle_event(0, "missed")  # deleted since: nothing to do

    assert seen == [(RECORDINGS_ID, "reauthorizationRequired")]


# --- what a notification names ----------------------------------------------------------------------------------


def test_the_organizer_is_read_from_the_resource_or_else_from_the_meeting_id():
    documented = ("communications/onlineMeetings('MSpiOTM1ZTY3NS01ZTY3LTQ4YjktOGQ0NS0yNDlkNWY4OGU5NjQqMCoqMTk6bWVl"
                  "dGluZ19ZbU0zTnpJNU9USXRZakU0WlMwME1tUTNMVGt6TVRRdFkyWm1PRGRtWmpsaVptRTNAdGhyZWFkLnYy')"
                  "/recordings('7e31db25-bc6e-4fd8-96c7-e01264e9b6fc')")
    assert notifications.announced(documented) == notifications.Announced(
        "recordings", "b935e675-5e67-48b9-8d45-249d5f88e964", documented.split("'")[1],
        "7e31db25-bc6e-4fd8-96c7-e01264e9b6fc")
    assert notifications.announced("users('u-1')/onlineMeetings('m')/transcripts('t')") == notifications.Announced(
        "transcripts", "u-1", "m", "t")
    assert notifications.announced("communications/onlineMeetings('bm90IGEgbWVldGluZw==')/recordings('r')") is None
    assert notifications.announced("/me/messages('x')") is None


def run_queued():
    """Run the queued notification tasks in this process; their outcomes added up."""
    total = {}
    for task in take_queued():
        assert task["func"] == "integrations.teams.tasks.handle_notifications"
        for key, value in tasks.handle_notifications(*task["args"]).items():
            total[key] = total.get(key, 0) + value
    return total


def ingests_queued():
    return [task["args"][0] for task in take_queued() if task["func"] == "integrations.teams.tasks.ingest_recording"]
