"""A sync round and the ingest of its recordings, with Microsoft faked by `responses` in Graph's shapes
(callRecording, JSON $batch, onlineMeeting participants, callTranscript, text/vtt content)."""
import hashlib
import json
import re

import pytest
import responses

from integrations.graph import GraphClient
from integrations.models import Recording, TeamsIntegration
from integrations.teams import sync
from mediaspace.conf import setting
from mediaspace.models import Category, Collaborator, MediaEntry, Publication
from tests.microsoft import CLIENT_ID, GRAPH_URL, TENANT_ID, cut_body

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("microsoft_endpoints")]

V1 = f"{GRAPH_URL}/v1.0"
ANN = {"id": "3d0f1c9e-5b8a-4f2e-9c1d-7a6b5e4d3c21", "userPrincipalName": "ann.lee@contoso.edu",
       "displayName": "Ann Lee", "mail": "ann.lee@contoso.edu"}
BOB = {"id": "8e7d6c5b-4a39-4281-9f0e-1d2c3b4a5968", "userPrincipalName": "bob.ray@contoso.edu",
       "displayName": "Bob Ray", "mail": "bob.ray@contoso.edu"}
GUEST_TENANT = "0a1b2c3d-4e5f-4061-8a7b-9c8d7e6f5a4b"
MEETING_ID = "MSozZDBmMWM5ZS01YjhhLTRmMmUtOWMxZC03YTZiNWU0ZDNjMjEqMCoqMTk6bWVldGluZ19OV1kz"
RECORDING_ID = "VjEjIzEjIzNkMGYxYzllLTViOGEtNGYyZS05YzFkLTdhNmI1ZTRkM2MyMSMjMTk6bWVldGluZw=="
CORRELATION = "bc4c6af8-3f5c-4a3d-8bd0-2f5c5f8fb5b1-0"
CONTENT = bytes(range(256)) * 4096 * 3  # 3 MiB: downloads arrive in 1 MiB chunks
CONTENT_URL = f"{V1}/users/{ANN['id']}/onlineMeetings/{MEETING_ID}/recordings/{RECORDING_ID}/content"
TRANSCRIPTS_URL = f"{V1}/users/{ANN['id']}/onlineMeetings/{MEETING_ID}/transcripts"
VTT = "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n<v Ann Lee>Welcome to the lecture.</v>\n"


def call_recording(**overrides):
    return {
        "@odata.type": "#microsoft.graph.callRecording",
        "id": RECORDING_ID, "meetingId": MEETING_ID, "callId": "af630fe0-04d3-4559-8cf9-91fe45e36296",
        "contentCorrelationId": CORRELATION, "createdDateTime": "2026-11-24T09:59:24.0006157Z",
        "endDateTime": "2026-11-24T10:41:06.5285213Z", "recordingContentUrl": CONTENT_URL,
        "meetingOrganizer": {"application": None, "device": None, "user": {
            "@odata.type": "#microsoft.graph.teamworkUserIdentity", "id": ANN["id"], "displayName": None,
            "userIdentityType": "aadUser", "tenantId": TENANT_ID}},
        **overrides,
    }


def batch_answer(bodies):
    return {"responses": [{"id": str(index), "status": 200, "headers": {"Content-Type": "application/json"},
                           "body": body} for index, body in enumerate(bodies)]}


def participant(user, role, tenant=TENANT_ID):
    return {"upn": user["userPrincipalName"], "role": role, "identity": {"user": {
        "id": user["id"], "displayName": user["displayName"], "tenantId": tenant, "identityProvider": "AAD"}}}


MEETING = {
    "id": MEETING_ID, "subject": "Physics 101", "startDateTime": "2026-11-24T10:00:00Z",
    "endDateTime": "2026-11-24T11:00:00Z", "joinWebUrl": "https://teams.microsoft.com/l/meetup-join/19%3ameeting",
    "participants": {
        "organizer": participant(ANN, "presenter"),
        "attendees": [participant(BOB, "presenter"),
                      participant({"id": "99999999-0000-4000-8000-000000000001", "userPrincipalName": "eve@fabrikam.com",
                                   "displayName": "Eve (guest)"}, "attendee", tenant=GUEST_TENANT)],
    },
}


@pytest.fixture
def integration():
    lectures = Category.objects.create(name="Lectures", moderated=True)
    integration = TeamsIntegration.objects.create(
        name="Contoso", tenant_id=TENANT_ID, client_id=CLIENT_ID, client_secret="x" * 40, enabled=True,
        transcription=True, presenter_permission=TeamsIntegration.Permission.CO_EDITORS_AND_PUBLISHERS,
        attendee_permission=TeamsIntegration.Permission.CO_VIEWERS,
        upn_rule=TeamsIntegration.UpnRule.REMOVE_POSTFIX, postfix="@contoso.edu")
    integration.categories.add(lectures)
    return integration


@pytest.fixture
def graph(sleeps):
    return GraphClient(lambda: "app-token", sleep=sleeps.append)


def fake_discovery(users=(ANN, BOB), recordings=None):
    responses.get(f"{V1}/users", json={"@odata.context": f"{V1}/$metadata#users", "value": list(users)})
    bodies = [{"value": recordings if user is ANN and recordings is not None
               else ([call_recording()] if user is ANN else [])} for user in users]
    return responses.post(f"{V1}/$batch", json=batch_answer(bodies))


def fake_recording(content_status=200):
    responses.get(f"{V1}/users/{ANN['id']}/onlineMeetings/{MEETING_ID}", json=MEETING)
    responses.get(CONTENT_URL, body=CONTENT, status=content_status, content_type="video/mp4")
    responses.get(TRANSCRIPTS_URL, json={"value": [
        {"id": "MSMjMCMjZDAwYWU3NjUtNmM2Yi00NjQxLTgwMWQtMTkzMmFmMjEzNzdh", "meetingId": MEETING_ID,
         "contentCorrelationId": CORRELATION, "createdDateTime": "2026-11-24T10:45:00Z"},
        {"id": "other-recording-transcript", "meetingId": MEETING_ID,
         "contentCorrelationId": "another-0", "createdDateTime": "2026-11-24T10:50:00Z"}]})
    responses.get(re.compile(re.escape(TRANSCRIPTS_URL) + r"/MSMjMCMj[^/]+/content.*"), body=VTT,
                  content_type="text/vtt")


@responses.activate
def test_a_round_writes_each_new_recording_once_and_queues_it(integration, graph):
    batch = fake_discovery()
    queued = []

    result = sync.run(integration, graph=graph, queue=queued.append)

    recording = Recording.objects.get()
    assert result == {"discovered": 1, "queued": 1} and queued == [recording.pk]
    assert (recording.organizer_id, recording.organizer_upn, recording.content_url) == (
        ANN["id"], ANN["userPrincipalName"], CONTENT_URL)
    sent = json.loads(batch.calls[0].request.body)["requests"]
    assert [request["url"].split("(")[0] for request in sent] == [
        f"/users/{user['id']}/onlineMeetings/getAllRecordings" for user in (ANN, BOB)]

    # The next round looks back over the same window: the recording is not written or queued again.
    second = sync.run(integration, graph=graph, queue=queued.append)
    assert second == {"discovered": 0, "queued": 0} and Recording.objects.count() == 1


@responses.activate
def test_calls_without_a_meeting_are_not_recorded(integration, graph):
    fake_discovery(recordings=[call_recording(meetingId=None)])
    sync.run(integration, graph=graph, queue=lambda pk: None)
    assert not Recording.objects.exists()


@responses.activate
def test_a_recording_becomes_a_ready_entry_with_owner_captions_collaborators_and_category(
        integration, graph, make_user, media_root):
    make_user(username="ann.lee", email="ann.lee@contoso.edu")
    make_user(username="bob.ray", email="bob.ray@contoso.edu")  # participants are matched, never created
    fake_discovery()
    fake_recording()
    sync.run(integration, graph=graph, queue=lambda pk: None)

    recording = sync.ingest(Recording.objects.get().pk, graph=graph)

    entry = recording.entry
    assert recording.state == Recording.State.READY
    assert (entry.status, entry.owner.username, entry.size) == (MediaEntry.Status.READY, "ann.lee", len(CONTENT))
    assert entry.name.startswith("Physics 101 (2026-11-24")
    assert hashlib.sha256(entry.media.read()).digest() == hashlib.sha256(CONTENT).digest()
    (track,) = entry.captions.all()
    assert track.file.read().decode() == VTT  # only the transcript of this recording
    bob = Collaborator.objects.get(entry=entry)
    assert (bob.user.username, bob.is_co_editor, bob.is_co_publisher, bob.is_co_viewer) == ("bob.ray", True, True,
                                                                                          False)
    assert not Collaborator.objects.filter(user__email="eve@fabrikam.com").exists()  # a guest gets nothing
    assert Publication.objects.get(entry=entry).status == Publication.Status.APPROVED  # moderated, by the admin
    assert "Found portal user 'ann.lee' by user id." in recording.reason

    calls = len(responses.calls)
    assert sync.ingest(recording.pk, graph=graph) is None  # exactly once: nothing to do, nothing asked
    assert len(responses.calls) == calls and MediaEntry.objects.count() == 1


@responses.activate
def test_a_download_cut_mid_stream_resumes_with_range(integration, graph, make_user):
    make_user(username="ann.lee")
    fake_discovery()
    fake_recording()
    sync.run(integration, graph=graph, queue=lambda pk: None)
    cut_at = 5 * len(CONTENT) // 6  # whole chunks arrive, then one breaks off

    def cut_then_resume(request):
        if "Range" not in request.headers:
            return (200, {}, cut_body(CONTENT[:cut_at]))
        start = int(request.headers["Range"].removeprefix("bytes=").rstrip("-"))
        return (206, {"Content-Range": f"bytes {start}-{len(CONTENT) - 1}/{len(CONTENT)}"}, CONTENT[start:])

    responses.remove(responses.GET, CONTENT_URL)  # answer through the callback below instead
    responses.add_callback(responses.GET, CONTENT_URL, callback=cut_then_resume)

    recording = sync.ingest(Recording.objects.get().pk, graph=graph)

    assert recording.state == Recording.State.READY
    assert recording.entry.media.read() == CONTENT
    ranges = [call.request.headers.get("Range") for call in responses.calls if call.request.url == CONTENT_URL]
    chunk = setting("MEDIASPACE_INGEST_CHUNK_SIZE")
    assert ranges == [None, f"bytes={cut_at // chunk * chunk}-"]  # resumed after the last whole chunk


@responses.activate
def test_a_recording_microsoft_no_longer_has_fails_for_good(integration, graph, make_user):
    make_user(username="ann.lee")
    fake_discovery()
    fake_recording(content_status=404)
    sync.run(integration, graph=graph, queue=lambda pk: None)

    recording = sync.ingest(Recording.objects.get().pk, graph=graph)

    assert recording.state == Recording.State.FAILED
    assert "Microsoft no longer has this recording" in recording.reason
    assert recording.attempts == Recording.MAX_ATTEMPTS and not Recording.objects.claimable().exists()


@responses.activate
def test_missing_billing_marks_the_integration_and_hands_the_recording_back(integration, graph, make_user):
    make_user(username="ann.lee")
    fake_discovery()
    fake_recording(content_status=402)
    sync.run(integration, graph=graph, queue=lambda pk: None)

    recording = sync.ingest(Recording.objects.get().pk, graph=graph)

    integration.refresh_from_db()
    assert "Metered API billing is not set up" in integration.last_error
    assert (recording.state, recording.attempts) == (Recording.State.DISCOVERED, 0)


@responses.activate
def test_an_owner_that_cannot_be_resolved_fails_with_the_reason(integration, graph):
    integration.missing_user = TeamsIntegration.MissingUser.DEFAULT
    integration.save()
    fake_discovery()
    fake_recording()
    sync.run(integration, graph=graph, queue=lambda pk: None)

    recording = sync.ingest(Recording.objects.get().pk, graph=graph)

    assert recording.state == Recording.State.FAILED
    assert recording.reason.endswith("No portal user matches the recording's owner, and no default user is set.")
    assert not MediaEntry.objects.exists()


@responses.activate
def test_a_server_that_ignores_range_on_resume_still_gives_the_same_bytes(integration, graph, make_user):
    make_user(username="ann.lee")
    fake_discovery()
    fake_recording()
    sync.run(integration, graph=graph, queue=lambda pk: None)
    answers = iter([cut_body(CONTENT[: 5 * len(CONTENT) // 6]), CONTENT])
    responses.remove(responses.GET, CONTENT_URL)
    responses.add_callback(responses.GET, CONTENT_URL, callback=lambda request: (200, {}, next(answers)))

    recording = sync.ingest(Recording.objects.get().pk, graph=graph)

    assert recording.entry.media.read() == CONTENT


@responses.activate
def test_a_transcript_that_appears_later_is_attached_by_a_later_round(integration, graph, make_user):
    make_user(username="ann.lee")
    fake_discovery()
    fake_recording()
    responses.replace(responses.GET, TRANSCRIPTS_URL, json={"value": []})  # not ready yet
    sync.run(integration, graph=graph, queue=lambda pk: None)
    recording = sync.ingest(Recording.objects.get().pk, graph=graph)
    assert recording.state == Recording.State.READY and not recording.entry.captions.exists()

    responses.replace(responses.GET, TRANSCRIPTS_URL, json={"value": [
        {"id": "MSMjMCMjbGF0ZQ", "meetingId": MEETING_ID, "contentCorrelationId": CORRELATION}]})
    sync.run(integration, graph=graph, queue=lambda pk: None)

    recording.refresh_from_db()
    assert recording.transcript_done
    assert recording.entry.captions.get().file.read().decode() == VTT


@responses.activate
def test_a_quiet_round_of_45_users_costs_one_user_page_and_three_batches(integration, graph):
    users = [{"id": f"00000000-0000-4000-8000-{index:012d}", "userPrincipalName": f"user{index}@contoso.edu",
              "displayName": f"User {index}", "mail": None} for index in range(45)]
    responses.get(f"{V1}/users", json={"value": users})
    responses.add_callback(responses.POST, f"{V1}/$batch", callback=lambda request: (200, {}, json.dumps(
        batch_answer([{"value": []} for _sent in json.loads(request.body)["requests"]]))))

    assert sync.run(integration, graph=graph, queue=lambda pk: None) == {"discovered": 0, "queued": 0}

    sizes = [len(json.loads(call.request.body)["requests"]) for call in responses.calls if call.request.method == "POST"]
    assert len(responses.calls) == 4 and sizes == [20, 20, 5]


@responses.activate
def test_the_next_round_asks_from_a_day_before_the_last_one(integration, graph):
    fake_discovery(users=(ANN,))
    sync.run(integration, graph=graph, queue=lambda pk: None)
    integration.refresh_from_db()
    sync.run(integration, graph=graph, queue=lambda pk: None)

    url = json.loads(responses.calls[-1].request.body)["requests"][0]["url"]
    since = re.search(r"startDateTime=([0-9T:\-]+Z)", url).group(1)
    expected = (integration.synced_until - sync.LATE_LISTING).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert since == expected


@responses.activate
def test_opt_in_groups_ask_only_for_their_members(integration, graph):
    integration.upload_policy = TeamsIntegration.UploadPolicy.OPT_IN
    integration.save()
    integration.groups.create(group_id="11111111-2222-4333-8444-555555555555", display_name="Lecturers")
    members = responses.get(f"{V1}/groups/11111111-2222-4333-8444-555555555555/transitiveMembers/microsoft.graph.user",
                            json={"value": [BOB]})
    batch = responses.post(f"{V1}/$batch", json=batch_answer([{"value": []}]))

    sync.run(integration, graph=graph, queue=lambda pk: None)

    assert members.call_count == 1
    sent = json.loads(batch.calls[0].request.body)["requests"]
    assert [request["url"].split("/")[2] for request in sent] == [BOB["id"]]
    assert not any(call.request.url.startswith(f"{V1}/users?") for call in responses.calls)


@responses.activate
def test_opt_out_groups_leave_out_their_members(integration, graph):
    integration.upload_policy = TeamsIntegration.UploadPolicy.OPT_OUT
    integration.save()
    integration.groups.create(group_id="11111111-2222-4333-8444-555555555555", display_name="Private")
    responses.get(f"{V1}/users", json={"value": [ANN, BOB]})
    responses.get(f"{V1}/groups/11111111-2222-4333-8444-555555555555/transitiveMembers/microsoft.graph.user",
                  json={"value": [BOB]})
    batch = responses.post(f"{V1}/$batch", json=batch_answer([{"value": []}]))

    sync.run(integration, graph=graph, queue=lambda pk: None)

    sent = json.loads(batch.calls[0].request.body)["requests"]
    assert [request["url"].split("/")[2] for request in sent] == [ANN["id"]]


@responses.activate
def test_an_integration_wide_problem_stops_the_round_and_shows_on_the_list(integration, graph):
    responses.get(f"{V1}/users", status=403, json={"error": {
        "code": "General", "message": "No application access policy found for this app.",
        "innerError": {"date": "2026-11-24T10:00:00", "request-id": "b1a2", "client-request-id": "c3d4"}}})
    queued = []

    result = sync.run(integration, graph=graph, queue=queued.append)

    integration.refresh_from_db()
    assert result == {"problem": "Application policy is missing for the configured application registration."}
    assert integration.last_error == result["problem"] and queued == []
    assert integration.sync_lock_until is None  # the next round is not locked out


def test_overlapping_rounds_of_one_integration_do_not_run_together(integration, graph):
    from django.utils import timezone

    TeamsIntegration.objects.filter(pk=integration.pk).update(sync_lock_until=timezone.now() + sync.RUN_LOCK)
    assert sync.run(integration, graph=graph) == {"skipped": "another sync of this integration is running"}


def test_tasks_skip_a_disabled_integration_and_sync_all_queues_the_enabled_ones(integration, monkeypatch):
    from integrations import tasks

    queued = []
    monkeypatch.setattr(tasks, "async_task", lambda func, *args, **kwargs: queued.append((func, args)))
    TeamsIntegration.objects.create(name="Off", tenant_id=TENANT_ID, client_id="11111111-2222-4333-8444-555555555555",
                                    client_secret="x" * 40, enabled=False)
    tasks.sync_all()
    assert queued == [("integrations.tasks.sync_integration", (integration.pk,))]
    integration.enabled = False
    integration.save()
    assert tasks.sync_integration(integration.pk) == {"skipped": "disabled or deleted"}
    assert tasks.sync_integration(999999) == {"skipped": "disabled or deleted"}


def test_the_schedule_runs_the_sync_every_few_minutes():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="Teams recordings sync")
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "integrations.tasks.sync_all", Schedule.MINUTES, 5, -1)
