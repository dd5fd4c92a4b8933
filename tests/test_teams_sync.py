"""The Teams ingestion engine (integrations/teams/sync.py) against a fake Microsoft Graph (tests/teams_fakes.py).

The tests pass their own ``GraphClient`` (a fixed token, sleeps recorded instead of slept) and a ``queue``
that records ids, and check what the engine leaves behind: ledger rows, entries, stored files,
collaborators, publications, the integration's marker, and the requests Microsoft received.
"""
import importlib
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from urllib.parse import unquote, urlsplit

import pytest
import responses
from django.apps import apps as django_apps
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from django_q.tasks import async_task

from integrations.teams import tasks
from integrations.microsoft.graph import GraphClient
from integrations.teams.models import Recording, TeamsIntegration
from integrations.teams import api, diagnosis, services, subscriptions, sync
from mediaspace.conf import setting
from mediaspace.ingest import entry_prepare
from mediaspace.models import Collaborator, MediaEntry, Publication
from mediaspace.queueing import queued_grace
from tests.microsoft import CLIENT_ID, LOGIN_URL, TENANT_ID, load
from tests.queue import take_queued
from tests.teams_fakes import (ANN, BOB, CAROL, CONTENT, DAVE, EVE, GUEST_TENANT, MIB, PAYMENT_REQUIRED, SECRET,
                               SEED, THROTTLED, UNAVAILABLE, VTT, Lecture, discover, discovered, entry_files,
                               fake_sign_in, graph_error, many_users, media_files, needs_the_seed, participant,
                               ready_without_transcript, sha, stored_bytes, utc, window_start)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("microsoft_endpoints")]


# --- discovery ------------------------------------------------------------------------------------


def test_all_users_are_asked_in_one_batch_per_20_and_each_recording_written_once(integration, graph, ms):
    ms.users = many_users(45)
    ms.users_page_size = 20
    lectures = [Lecture(ms.users[index], number=index) for index in (0, 19, 20, 44)]
    for each in lectures:
        ms.add_lecture(each)

    result, queued = discover(integration, graph)

    assert result == {"discovered": 4, "queued": 4}
    assert len(ms.paths(r"^/v1\.0/users$")) == 3  # the three pages of /users
    batches = ms.recording_batches()
    assert [len(batch) for batch in batches] == [20, 20, 5]
    asked = [request["url"] for batch in batches for request in batch]
    assert asked == [f"/users/{user['id']}/onlineMeetings/getAllRecordings(meetingOrganizerUserId='{user['id']}',"
                     f"startDateTime={window_start(batches[0])})" for user in ms.users]
    assert all(request["method"] == "GET" for batch in batches for request in batch)
    assert len({request["id"] for request in batches[0]}) == 20  # ids unique within a batch
    # then which meetings of the four organizers with new recordings have a transcript, in one batch
    [transcripts] = ms.batches()[3:]
    assert [request["url"] for request in transcripts] == [
        f"/users/{user_id}/onlineMeetings/getAllTranscripts(meetingOrganizerUserId='{user_id}',"
        f"startDateTime={window_start(batches[0])})" for user_id in sorted(each.organizer["id"] for each in lectures)]
    assert len(ms.calls) == 7  # nothing asked one by one

    rows = {row.recording_id: row for row in Recording.objects.all()}
    assert sorted(rows) == sorted(each.recording_id for each in lectures)
    for each in lectures:
        row = rows[each.recording_id]
        assert (row.state, row.attempts, row.entry) == (Recording.State.DISCOVERED, 0, None)
        assert (row.meeting_id, row.organizer_id, row.organizer_upn, row.organizer_name, row.organizer_mail) == (
            each.meeting_id, each.organizer["id"], each.organizer["userPrincipalName"],
            each.organizer["displayName"], each.organizer["mail"])
        assert row.content_url == each.content_url
        assert row.content_correlation_id == each.correlation
        assert abs(row.recorded_at - utc(each.recording["createdDateTime"])) < timedelta(seconds=1)
    assert sorted(queued) == sorted(row.pk for row in rows.values())


def test_a_recording_listed_again_by_the_next_round_is_not_written_again(integration, graph, ms, lecture):
    first, _queued = discover(integration, graph)
    integration.refresh_from_db()
    second, queued = discover(integration, graph)

    assert first["discovered"] == 1 and second == {"discovered": 0, "queued": 0} and queued == []
    batches = ms.recording_batches()
    assert len(batches) == 2 and all(len(batch[0]) for batch in batches)  # it was listed both times
    assert Recording.objects.count() == 1


def test_items_without_a_meeting_are_ignored(integration, graph, ms, lecture):
    ad_hoc_call = dict(lecture.recording, id="VjEjIzEjIzFhZGhvY2NhbGw=", meetingId=None)
    del ad_hoc_call["recordingContentUrl"]
    no_meeting_key = {key: value for key, value in lecture.recording.items() if key != "meetingId"}
    no_meeting_key["id"] = "VjEjIzEjIzJhZGhvY2NhbGw="
    ms.recordings[ANN["id"]] += [ad_hoc_call, no_meeting_key]

    result, _queued = discover(integration, graph)

    assert result["discovered"] == 1
    assert list(Recording.objects.values_list("recording_id", flat=True)) == [lecture.recording_id]


def test_a_failed_sub_response_of_a_batch_is_asked_again_on_its_own(integration, graph, ms, lecture):
    ms.users = [BOB, ANN, CAROL]
    ms.sub_faults[ANN["id"]] = [(429, {"Retry-After": "7"}, THROTTLED)]

    result, _queued = discover(integration, graph)

    assert result["discovered"] == 1
    assert Recording.objects.get().recording_id == lecture.recording_id
    alone = ms.paths(r"getAllRecordings")
    assert len(alone) == 1 and f"/users/{ANN['id']}/onlineMeetings/getAllRecordings(" in alone[0]
    assert len(ms.recording_batches()) == 1


def test_a_throttled_sub_response_is_not_asked_again_before_its_retry_after(integration, graph, ms, lecture, sleeps):
    ms.sub_faults[ANN["id"]] = [(429, {"Retry-After": "7"}, THROTTLED)]
    waited_before_asking_alone = []
    ms.on_request = lambda request: waited_before_asking_alone.append(sum(sleeps)) \
        if "getAllRecordings" in unquote(request.url) else None

    discover(integration, graph)

    assert Recording.objects.count() == 1
    # Microsoft asked for 7 seconds of patience; the lone request must not come sooner.
    assert waited_before_asking_alone and waited_before_asking_alone[0] >= 7, (
        f"asked again after waiting {waited_before_asking_alone} s, Retry-After was 7 s")


def test_a_user_deleted_since_the_user_list_is_skipped(integration, graph, ms, lecture):
    ms.users = [BOB, ANN]
    ms.sub_faults[BOB["id"]] = [(404, {}, graph_error("Request_ResourceNotFound",
                                                      f"Resource '{BOB['id']}' does not exist."))]

    result, _queued = discover(integration, graph)

    integration.refresh_from_db()
    assert result == {"discovered": 1, "queued": 1} and integration.last_error == ""
    assert not ms.paths(r"getAllRecordings")  # not asked again on its own


def test_a_throttled_sub_response_waiting_longer_than_the_client_allows_ends_the_round(integration, ms, lecture,
                                                                                        sleeps):
    patient = GraphClient(lambda: "app-token", sleep=sleeps.append, max_wait=60)
    ms.sub_faults[ANN["id"]] = [(429, {"retry-after": "600"}, THROTTLED)]

    result, queued = discover(integration, patient)

    assert result == {"problem": diagnosis.THROTTLED} and queued == [] and sleeps == []
    assert not ms.paths(r"getAllRecordings")


def test_a_sub_response_that_failed_for_good_stops_the_round_with_microsofts_reason(integration, graph, ms, lecture):
    policy = load("graph_error_forbidden_policy.json")
    ms.sub_faults[ANN["id"]] = [(403, {}, policy)]
    ms.fail(r"getAllRecordings", 403, policy)

    result, queued = discover(integration, graph)

    integration.refresh_from_db()
    assert result == {"problem": diagnosis.POLICY_MISSING} and queued == []
    assert integration.last_error == diagnosis.POLICY_MISSING
    assert integration.synced_until is None  # the window is asked again next time


def test_a_next_link_inside_a_batch_answer_is_followed(integration, graph, ms):
    ms.users = [ANN, BOB]
    ms.recordings_page_size = 2
    lectures = [Lecture(ANN, number=number) for number in range(1, 6)]
    for each in lectures:
        ms.add_lecture(each)

    result, _queued = discover(integration, graph)

    assert result["discovered"] == 5
    assert set(Recording.objects.values_list("recording_id", flat=True)) == {each.recording_id for each in lectures}
    followed = [unquote(call.request.url) for call in ms.calls if "getAllRecordings" in unquote(call.request.url)]
    assert len(followed) == 2 and all("$skiptoken=" in url for url in followed)  # pages 2 and 3, nothing else
    assert len(ms.recording_batches()) == 1


def test_the_first_round_looks_back_two_days_and_the_next_from_the_watermark_minus_24_hours(integration, graph, ms,
                                                                                          lecture):
    before = timezone.now()
    discover(integration, graph)
    after = timezone.now()
    integration.refresh_from_db()

    first = utc(window_start(ms.recording_batches()[0]))
    assert before - timedelta(days=2, seconds=1) <= first <= after - timedelta(days=2)
    assert before <= integration.synced_until <= after

    expected = (integration.synced_until - timedelta(hours=24)).astimezone(dt_timezone.utc)  # before the round moves it
    discover(integration, graph)
    assert window_start(ms.recording_batches()[1]) == expected.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_recording_microsoft_lists_late_is_found_by_the_next_round(integration, graph, ms):
    ms.users = [ANN]
    late = Lecture(ANN, created=timezone.now() - timedelta(hours=20))
    ms.add_lecture(late)
    ms.unlisted.add(late.recording_id)
    assert discover(integration, graph)[0]["discovered"] == 0
    integration.refresh_from_db()

    ms.unlisted.clear()  # 20 hours after it was recorded, Microsoft lists it
    result, queued = discover(integration, graph)

    assert result == {"discovered": 1, "queued": 1}
    assert Recording.objects.get().recording_id == late.recording_id


def test_a_backfill_since_a_date_asks_from_that_instant_in_utc_and_keeps_the_watermark(integration, graph, ms,
                                                                                     lecture, settings):
    settings.TIME_ZONE = "Europe/Paris"
    watermark = timezone.now() - timedelta(hours=1)
    TeamsIntegration.objects.filter(pk=integration.pk).update(synced_until=watermark)
    integration.refresh_from_db()
    since = timezone.make_aware(datetime(2026, 1, 31))  # what `teams_sync --since 2026-01-31` passes: local midnight

    discover(integration, graph, since=since)

    assert window_start(ms.batches()[0]) == "2026-01-30T23:00:00Z"  # Paris midnight is 23:00 UTC the day before
    integration.refresh_from_db()
    assert integration.synced_until == watermark


def test_opt_in_groups_ask_only_for_their_members(integration, graph, ms, lecture):
    integration.upload_policy = TeamsIntegration.UploadPolicy.OPT_IN
    integration.save()
    lecturers, staff = "11111111-2222-4333-8444-555555555555", "66666666-7777-4888-9999-aaaaaaaaaaaa"
    integration.groups.create(group_id=lecturers, display_name="Lecturers")
    integration.groups.create(group_id=staff, display_name="Staff")
    ms.users = [ANN, BOB, CAROL, DAVE]
    ms.groups = {lecturers: [ANN, CAROL, DAVE], staff: [DAVE]}  # Dave in both; nested members come flat
    ms.members_page_size = 2

    result, _queued = discover(integration, graph)

    assert result["discovered"] == 1
    assert not ms.paths(r"^/v1\.0/users$")  # the whole directory is not listed
    member_pages = ms.paths(r"transitiveMembers")
    assert len(member_pages) == 3  # Lecturers in two pages (nextLink followed), Staff in one
    asked = [request["url"].split("/")[2] for batch in ms.recording_batches() for request in batch]
    assert sorted(asked) == sorted([ANN["id"], CAROL["id"], DAVE["id"]])


def test_opt_out_groups_leave_out_their_members(integration, graph, ms, lecture):
    integration.upload_policy = TeamsIntegration.UploadPolicy.OPT_OUT
    integration.save()
    private = "11111111-2222-4333-8444-555555555555"
    integration.groups.create(group_id=private, display_name="No recordings")
    ms.users = [ANN, BOB, CAROL, DAVE]
    ms.groups = {private: [BOB, DAVE]}
    ms.add_lecture(Lecture(BOB, number=2))

    result, _queued = discover(integration, graph)

    asked = [request["url"].split("/")[2] for batch in ms.recording_batches() for request in batch]
    assert asked == [ANN["id"], CAROL["id"]]
    assert result["discovered"] == 1 and Recording.objects.get().organizer_id == ANN["id"]


def test_a_quiet_round_of_45_users_costs_the_user_pages_and_three_batches(integration, graph, ms, portal_users):
    ms.users = many_users(45)
    ms.users_page_size = 20
    done = Lecture(ms.users[3], number=3, created=timezone.now() - timedelta(hours=30))
    ms.add_lecture(done)
    discover(integration, graph)
    # That recording is ready with its transcript: a quiet round has nothing to ask about it.
    Recording.objects.update(state=Recording.State.READY, transcript_done=True)
    integration.refresh_from_db()
    ms.rsps.calls.reset()

    result, queued = discover(integration, graph)

    assert result == {"discovered": 0, "queued": 0} and queued == []
    assert len(ms.paths(r"/v1\.0/users$")) == 3
    assert [len(batch) for batch in ms.batches()] == [20, 20, 5]
    assert len(ms.calls) == 6


# --- run ----------------------------------------------------------------------------------------


def test_a_round_queues_each_due_recording_once_and_not_again_within_the_grace_period(integration, graph, ms):
    ms.users = [ANN, BOB]
    ms.add_lecture(Lecture(ANN, number=1))
    ms.add_lecture(Lecture(BOB, number=2))
    _result, first = discover(integration, graph)
    assert sorted(first) == sorted(Recording.objects.values_list("pk", flat=True))
    integration.refresh_from_db()

    _result, second = discover(integration, graph)
    assert second == []  # queued a moment ago: its task has not run yet

    # The grace period passes and one of them was never taken up (its task was lost): it is queued again.
    lost = Recording.objects.get(organizer_id=BOB["id"])
    Recording.objects.filter(pk=lost.pk).update(queued_until=timezone.now() - timedelta(seconds=1))
    Recording.objects.exclude(pk=lost.pk).update(state=Recording.State.READY)
    integration.refresh_from_db()
    _result, third = discover(integration, graph)
    assert third == [lost.pk]


def test_a_round_without_a_queue_hands_each_recording_to_django_q(integration, graph, ms, lecture, monkeypatch):
    import django_q.tasks

    sent = []
    monkeypatch.setattr(django_q.tasks, "async_task", lambda func, *args, **kwargs: sent.append((func, args, kwargs)))

    assert sync.run(integration, graph=graph) == {"discovered": 1, "queued": 1}

    recording = Recording.objects.get()
    assert sent == [("integrations.teams.tasks.ingest_recording", (recording.pk,),
                     {"task_name": f"teams-recording-{recording.pk}"})]


def test_an_overlapping_round_of_the_same_integration_is_skipped(integration, graph, ms, lecture):
    inner = []

    def meanwhile(request):
        if urlsplit(request.url).path == "/v1.0/users" and not inner:
            inner.append(sync.run(TeamsIntegration.objects.get(pk=integration.pk), graph=graph, queue=lambda pk: None))

    ms.on_request = meanwhile
    outer, queued = discover(integration, graph)

    assert inner == [{"skipped": "another sync of this integration is running"}]
    assert outer == {"discovered": 1, "queued": 1} and len(queued) == 1
    assert len(ms.paths(r"/v1\.0/users$")) == 1  # the skipped round asked Microsoft nothing
    assert TeamsIntegration.objects.get(pk=integration.pk).sync_lock_until is None


def test_a_lock_left_by_a_round_that_died_expires(integration, graph, ms, lecture):
    TeamsIntegration.objects.filter(pk=integration.pk).update(sync_lock_until=timezone.now() - timedelta(seconds=1))
    assert discover(integration, graph)[0] == {"discovered": 1, "queued": 1}


SEED_SECRET_EXPIRED = "The provided application secret has expired."
SEED_POLICY_MISSING = "Application policy is missing for the configured application registration."
SEED_ACCESS_DENIED = "Access to the Microsoft API was denied."


@pytest.mark.parametrize("status, body, message", [
    (403, load("graph_error_forbidden_policy.json"), SEED_POLICY_MISSING),
    (403, load("graph_error_forbidden_policy_documented.json"), SEED_POLICY_MISSING),
    (401, load("graph_error_unauthorized.json"), SEED_ACCESS_DENIED),
], ids=["policy-general", "policy-documented", "unauthorized"])
def test_an_integration_wide_error_stops_the_round_with_the_seeds_words_and_success_clears_it(
        integration, graph, ms, lecture, status, body, message):
    already_due = Recording.objects.create(integration=integration, recording_id="older", meeting_id="m",
                                           organizer_id=ANN["id"])
    ms.fail(r"^/v1\.0/users$", status, body)

    result, queued = discover(integration, graph)

    integration.refresh_from_db()
    assert result == {"problem": message} and queued == []
    assert (integration.last_error, integration.synced_until, integration.sync_lock_until) == (message, None, None)
    assert integration.last_error_at is not None and not ms.batches()
    assert list(Recording.objects.values_list("pk", flat=True)) == [already_due.pk]

    result, queued = discover(integration, graph)  # the administrator fixed it

    integration.refresh_from_db()
    assert result == {"discovered": 1, "queued": 2} and len(queued) == 2
    assert integration.last_error == "" and integration.last_success_at >= integration.last_error_at


def test_an_expired_secret_stops_the_round_and_a_new_secret_resumes_it(integration, ms, lecture):
    token = fake_sign_in(ms, status=401, body=load("token_error_7000222.json"))

    result, queued = discover(integration, None)  # the integration's own client: msal and its token cache

    integration.refresh_from_db()
    assert result == {"problem": SEED_SECRET_EXPIRED} and queued == []
    assert integration.last_error == SEED_SECRET_EXPIRED
    assert token.call_count == 1 and not ms.calls  # Graph was never asked

    # "Update application (client) secret": the next round signs in with the new one.
    ms.rsps.remove(responses.POST, f"{LOGIN_URL}/{TENANT_ID}/oauth2/v2.0/token")
    fake_sign_in(ms)
    integration.client_secret = "Zk88Q~the.new.secret-0123456789abcdefghij"
    integration.save()

    result, queued = discover(integration, None)

    integration.refresh_from_db()
    assert result == {"discovered": 1, "queued": 1} and integration.last_error == ""
    assert all(call.request.headers["Authorization"].startswith("Bearer ey") for call in ms.calls)


@needs_the_seed
def test_the_markers_are_the_seeds_words():
    seed = SEED.read_text()
    for message in (SEED_SECRET_EXPIRED, SEED_POLICY_MISSING, SEED_ACCESS_DENIED):
        assert f"<i>{message}</i>" in seed


# --- ingest: the whole way ---------------------------------------------------------------------


def test_a_recording_becomes_a_ready_entry_with_owner_content_captions_collaborators_and_categories(
        integration, graph, ms, lecture, portal_users, settings):
    settings.TIME_ZONE = "Europe/Paris"
    recording = discovered(integration, graph, ms)

    result = sync.ingest(recording.pk, graph=graph)

    # the ledger
    assert (result.state, result.attempts, result.lease_until, result.next_attempt_at) == (
        Recording.State.READY, 1, None, None)
    assert result.transcript_done
    assert "Portal user ID 'ann.lee'" in result.reason and "Found portal user 'ann.lee'" in result.reason
    assert result.owner_rule == Recording.OwnerRule.FOUND
    entry = result.entry
    # the entry: owner by the remove-postfix rule, named after the meeting's subject and local start time
    assert entry.owner == portal_users["ann.lee"]
    assert entry.name == "Physics 101 (2026-11-24 11:00)"
    assert (entry.status, entry.source, entry.size, entry.content_type) == (
        MediaEntry.Status.READY, MediaEntry.Source.TEAMS, len(CONTENT), "video/mp4")
    assert entry.bytes_expected == len(CONTENT)
    assert sha(stored_bytes(entry)) == sha(CONTENT)
    assert entry_files() == [entry.media.name]
    # the meeting was read with the header that makes Graph name co-organizers
    (meeting_request,) = [call.request for call in ms.calls
                          if urlsplit(call.request.url).path.endswith(f"/onlineMeetings/{lecture.meeting_id}")]
    assert meeting_request.headers["Prefer"] == "include-unknown-enum-members"
    # the transcript of this recording (its contentCorrelationId), not the meeting's other one
    (track,) = entry.captions.all()
    with track.file.open("rb") as vtt:
        assert vtt.read().decode() == VTT
    assert track.reference_id == f"teams:{lecture.transcript_id}"
    assert [path.rsplit("/", 2)[-2] for path in ms.paths(r"/transcripts/[^/]+/content")] == [lecture.transcript_id]
    assert sorted(media_files()) == sorted([entry.media.name, track.file.name])
    # the people
    granted = {c.user.username: (c.is_co_viewer, c.is_co_editor, c.is_co_publisher)
               for c in Collaborator.objects.filter(entry=entry)}
    assert granted == {"carol.diaz": (False, True, True),  # co-organizer: Co-editors & Co-publishers
                       "bob.ray": (True, False, False),  # presenter: Co-viewers
                       "dave.kim": (False, False, True)}  # attendee: Co-publishers
    assert not get_user_model().objects.filter(email__iexact=EVE["mail"]).exists()  # a guest gets nothing
    # the places: published, approved even in the moderated category
    assert sorted(Publication.objects.filter(entry=entry).values_list("category__name", "status")) == [
        ("Lectures", Publication.Status.APPROVED), ("Teams archive", Publication.Status.APPROVED)]
    integration.refresh_from_db()
    assert integration.last_error == "" and integration.last_success_at is not None


def test_without_transcription_no_transcript_is_asked_for(integration, graph, ms, lecture, portal_users):
    integration.transcription = False
    integration.save()
    recording = discovered(integration, graph, ms)

    result = sync.ingest(recording.pk, graph=graph)

    assert result.state == Recording.State.READY and not result.entry.captions.exists()
    assert not ms.paths(r"/transcripts")


def test_the_round_learns_which_meetings_have_a_transcript_and_the_ingest_asks_only_for_those(
        integration, graph, ms, portal_users):
    ms.users = [ANN, BOB]
    with_one, without = Lecture(number=1), Lecture(BOB, number=2, transcripts=[])
    for each in (with_one, without):
        ms.add_lecture(each)
    discover(integration, graph)
    ms.rsps.calls.reset()

    for recording in Recording.objects.order_by("pk"):
        sync.ingest(recording.pk, graph=graph)

    # three requests for the one with a transcript (meeting, content, transcript), two for the other: no list
    assert [path.rsplit("/", 1)[-1] for path in ms.paths()] == [
        with_one.meeting_id, "content", "content", without.meeting_id, "content"]
    assert not ms.paths(r"/transcripts$")
    ready = {recording.meeting_id: recording for recording in Recording.objects.all()}
    assert ready[with_one.meeting_id].entry.captions.count() == 1 and ready[with_one.meeting_id].transcript_done
    assert not ready[without.meeting_id].entry.captions.exists()


def test_a_refused_transcript_listing_shows_the_missing_permission_after_the_round(integration, graph, ms, lecture):
    forbidden = graph_error("Forbidden", "Application does not have permission to read transcripts.")
    answer = ms.answer

    def refusing_transcript_listings(path, query, headers, *, direct=True):  # in the batch and on its own
        return (403, {}, forbidden) if "getAllTranscripts" in path else answer(path, query, headers, direct=direct)

    ms.answer = refusing_transcript_listings

    result, queued = discover(integration, graph)

    integration.refresh_from_db()
    assert result == {"discovered": 1, "queued": 1}  # the recording still arrives
    assert integration.last_error == ("The provided application credentials are missing the "
                                      "'OnlineMeetingTranscript.Read.All' permission.")


def test_a_meeting_without_a_subject_is_named_teams_meeting(integration, graph, ms, portal_users):
    ms.users = [ANN]
    ms.add_lecture(Lecture(subject="  ", start="2026-11-24T10:00:00Z"))
    recording = discovered(integration, graph, ms)

    assert sync.ingest(recording.pk, graph=graph).entry.name == "Teams meeting (2026-11-24 10:00)"


def test_an_owner_without_a_portal_user_is_created_from_the_teams_user(integration, graph, ms, lecture):
    recording = discovered(integration, graph, ms)

    result = sync.ingest(recording.pk, graph=graph)

    owner = result.entry.owner
    assert (owner.username, owner.email, owner.first_name, owner.last_name) == (
        "ann.lee", "ann.lee@contoso.edu", "Ann", "Lee")
    assert not owner.has_usable_password()
    assert "Created portal user 'ann.lee'" in result.reason and result.owner_rule == Recording.OwnerRule.CREATED


def test_an_owner_that_cannot_be_resolved_fails_with_the_reason_and_downloads_nothing(integration, graph, ms,
                                                                                     lecture):
    integration.missing_user = TeamsIntegration.MissingUser.DEFAULT
    integration.save()
    recording = discovered(integration, graph, ms)

    result = sync.ingest(recording.pk, graph=graph)

    assert result.state == Recording.State.FAILED and result.owner_rule == Recording.OwnerRule.NO_MATCH
    assert result.reason.endswith("No portal user matches the recording's owner, and no default user is set.")
    assert result.attempts == Recording.MAX_ATTEMPTS and result.next_attempt_at is None  # not retried by itself
    assert not MediaEntry.objects.exists() and not ms.content_requests() and entry_files() == []


def test_unmatched_attendees_do_not_make_the_default_user_a_collaborator(integration, graph, ms, lecture, make_user):
    archive = make_user(username="teams.archive")
    make_user(username="ann.lee", email="ann.lee@contoso.edu")
    integration.missing_user = TeamsIntegration.MissingUser.DEFAULT
    integration.default_user = archive
    integration.save()
    recording = discovered(integration, graph, ms)

    result = sync.ingest(recording.pk, graph=graph)

    assert result.state == Recording.State.READY and result.entry.owner.username == "ann.lee"
    # Bob, Carol and Dave have no portal user: the default user stands in for a missing *owner*, it does not
    # collect the permissions meant for other people.
    assert not Collaborator.objects.filter(entry=result.entry, user=archive).exists()


def test_participants_are_matched_to_existing_users_only_and_must_be_of_the_integrations_tenant(
        integration, graph, ms, make_user):
    integration.missing_user = TeamsIntegration.MissingUser.DEFAULT
    integration.default_user = make_user(username="teams.archive")
    integration.save()
    for name in ("ann.lee", "bob.ray", "dave.kim"):
        make_user(username=name, email=f"{name}@contoso.edu")
    ms.users = [ANN]
    ms.add_lecture(Lecture(attendees=[participant(CAROL, "coorganizer"), participant(BOB, "presenter"),
                                      participant(DAVE, "attendee", tenant=None)]))
    recording = discovered(integration, graph, ms)

    result = sync.ingest(recording.pk, graph=graph)

    assert result.state == Recording.State.READY
    # Carol has no portal user and the default user does not stand in for her; Dave's identity names no tenant.
    assert list(Collaborator.objects.filter(entry=result.entry).values_list("user__username", flat=True)) == [
        "bob.ray"]
    assert not get_user_model().objects.filter(username="carol.diaz").exists()


def test_with_the_create_rule_an_unknown_participant_gets_a_portal_user(integration, graph, ms, make_user):
    integration.missing_user = TeamsIntegration.MissingUser.CREATE
    integration.save()
    make_user(username="ann.lee", email="ann.lee@contoso.edu")
    ms.users = [ANN]
    ms.add_lecture(Lecture(attendees=[participant(CAROL, "coorganizer")]))

    result = sync.ingest(discovered(integration, graph, ms).pk, graph=graph)

    carol = Collaborator.objects.get(entry=result.entry)
    assert carol.user.username == "carol.diaz" and carol.is_co_editor and carol.is_co_publisher


def test_a_second_ingest_of_the_same_row_does_nothing_and_asks_nothing(integration, graph, ms, lecture, portal_users):
    recording = discovered(integration, graph, ms)
    first = sync.ingest(recording.pk, graph=graph)
    ms.rsps.calls.reset()

    assert sync.ingest(recording.pk, graph=graph) is None
    assert tasks.ingest_recording(recording.pk) == "nothing to do"

    assert not ms.calls
    assert MediaEntry.objects.count() == 1 and entry_files() == [first.entry.media.name]
    assert Recording.objects.get().attempts == 1


def test_an_ingest_of_a_row_another_worker_is_downloading_does_nothing(integration, graph, ms, lecture, portal_users):
    recording = discovered(integration, graph, ms)
    meanwhile = []

    def second_worker(request):
        if "/recordings/" in request.url and not meanwhile:
            meanwhile.append(sync.ingest(recording.pk, graph=graph))

    ms.on_request = second_worker
    result = sync.ingest(recording.pk, graph=graph)

    assert meanwhile == [None]
    assert result.state == Recording.State.READY and len(ms.content_requests()) == 1
    assert MediaEntry.objects.count() == 1


def test_the_ingest_task_reports_the_state(integration, graph, ms, lecture, portal_users, monkeypatch):
    recording = discovered(integration, graph, ms)
    monkeypatch.setattr(api, "graph_for", lambda integration, **options: graph)

    assert tasks.ingest_recording(recording.pk) == Recording.State.READY


# --- ingest: content that does not arrive in one piece --------------------------------------------


def test_a_download_cut_mid_stream_resumes_with_range_and_the_file_is_identical(integration, graph, ms, lecture,
                                                                              portal_users):
    recording = discovered(integration, graph, ms)
    ms.cuts = [int(2.5 * MIB)]

    result = sync.ingest(recording.pk, graph=graph)

    assert result.state == Recording.State.READY and result.attempts == 1
    first, resumed = ms.content_requests()
    assert "Range" not in first.headers
    start = int(resumed.headers["Range"].removeprefix("bytes=").rstrip("-"))
    assert 0 < start <= int(2.5 * MIB)  # from what had arrived, not from the start
    assert sha(stored_bytes(result.entry)) == sha(CONTENT) and result.entry.size == len(CONTENT)
    assert entry_files() == [result.entry.media.name]


def test_a_download_cut_twice_resumes_twice(integration, graph, ms, lecture, portal_users):
    recording = discovered(integration, graph, ms)
    ms.cuts = [int(1.5 * MIB), int(2.5 * MIB)]

    result = sync.ingest(recording.pk, graph=graph)

    ranges = [request.headers.get("Range") for request in ms.content_requests()]
    chunk = setting("MEDIASPACE_INGEST_CHUNK_SIZE")  # what arrived before a cut is counted in whole chunks
    assert ranges == [None, f"bytes={int(1.5 * MIB) // chunk * chunk}-", f"bytes={int(2.5 * MIB) // chunk * chunk}-"]
    assert sha(stored_bytes(result.entry)) == sha(CONTENT)


def test_a_server_that_ignores_range_on_resume_still_gives_identical_bytes(integration, graph, ms, lecture,
                                                                          portal_users):
    recording = discovered(integration, graph, ms)
    ms.cuts = [int(2.5 * MIB)]
    ms.ignore_range = True  # answers 200 with the whole file again

    result = sync.ingest(recording.pk, graph=graph)

    assert [request.headers.get("Range") is not None for request in ms.content_requests()] == [False, True]
    assert sha(stored_bytes(result.entry)) == sha(CONTENT) and result.entry.size == len(CONTENT)
    assert entry_files() == [result.entry.media.name]


def test_a_download_cut_more_often_than_allowed_fails_and_is_tried_again_later(integration, graph, ms, lecture,
                                                                             portal_users):
    recording = discovered(integration, graph, ms)
    ms.cuts = [MIB // 2] * (sync.MAX_RESUMES + 1)

    before = timezone.now()
    result = sync.ingest(recording.pk, graph=graph)

    assert result.state == Recording.State.FAILED and result.reason == diagnosis.UNREACHABLE
    assert len(ms.content_requests()) == sync.MAX_RESUMES + 1
    assert result.next_attempt_at >= before + timedelta(minutes=5)
    assert MediaEntry.objects.get().status == MediaEntry.Status.FAILED and entry_files() == []


def test_content_that_redirects_is_fetched_without_the_token(integration, graph, ms, lecture, portal_users):
    recording = discovered(integration, graph, ms)
    cdn = "https://westeurope-mediap.svc.ms/transform/videomanifest?provider=spo&docid=abc&tempauth=v1.eyJhbGc"
    ms.fail(r"/recordings/.*/content$", 302, "", {"Location": cdn})
    ms.rsps.get(cdn.split("?")[0], body=CONTENT, content_type="video/mp4")

    result = sync.ingest(recording.pk, graph=graph)

    assert sha(stored_bytes(result.entry)) == sha(CONTENT)
    (fetched,) = [call.request for call in ms.rsps.calls if call.request.url.startswith("https://westeurope")]
    assert "Authorization" not in fetched.headers


# --- ingest: failures ---------------------------------------------------------------------------


def test_content_microsoft_no_longer_has_fails_for_good(integration, graph, ms, lecture, portal_users):
    recording = discovered(integration, graph, ms)
    del ms.contents[lecture.content_path]

    result = sync.ingest(recording.pk, graph=graph)

    assert result.state == Recording.State.FAILED
    assert result.reason.startswith("Microsoft no longer has this recording")
    assert (result.attempts, result.next_attempt_at) == (Recording.MAX_ATTEMPTS, None)
    assert not Recording.objects.claimable(timezone.now() + timedelta(days=30)).exists()
    assert entry_files() == []


def test_missing_billing_marks_the_integration_and_gives_the_recording_back(integration, graph, ms, lecture,
                                                                           portal_users):
    recording = discovered(integration, graph, ms)
    ms.fail(r"/recordings/.*/content$", 402, PAYMENT_REQUIRED, times=100)

    result = sync.ingest(recording.pk, graph=graph)

    integration.refresh_from_db()
    assert integration.last_error == diagnosis.BILLING_MISSING
    assert integration.last_error_code == diagnosis.Code.BILLING_MISSING
    assert (result.state, result.attempts, result.next_attempt_at) == (Recording.State.DISCOVERED, 0, None)
    assert result.reason == diagnosis.BILLING_MISSING
    assert result.queued_until > timezone.now()  # not hammered: tried again after the grace period
    assert not Recording.objects.due().exists() and sync.queue_due(integration, queue=lambda pk: None) == 0
    assert entry_files() == []

    # Billing is set up; the grace period passes: the recording arrives and the marker goes.
    ms.faults.clear()
    Recording.objects.update(queued_until=timezone.now() - timedelta(seconds=1))
    result = sync.ingest(recording.pk, graph=graph)

    integration.refresh_from_db()
    assert result.state == Recording.State.READY and result.attempts == 1
    assert sha(stored_bytes(result.entry)) == sha(CONTENT)
    assert (integration.last_error, integration.last_error_code) == ("", "")


def test_the_billing_marker_stays_while_billing_is_missing(integration, graph, ms, lecture, portal_users):
    recording = discovered(integration, graph, ms)
    ms.fail(r"/recordings/.*/content$", 402, PAYMENT_REQUIRED, times=100)
    sync.ingest(recording.pk, graph=graph)
    integration.refresh_from_db()

    discover(integration, graph)  # the next round lists recordings (not metered) and downloads nothing

    integration.refresh_from_db()
    assert integration.last_error == diagnosis.BILLING_MISSING
    assert integration.last_error_code == diagnosis.Code.BILLING_MISSING


def test_the_billing_marker_is_known_by_its_kind_not_its_words(integration):
    """A listing's success clears every marker but the billing one, whatever the wording it was stored with."""
    TeamsIntegration.objects.filter(pk=integration.pk).update(
        last_error="Billing, in the words of an earlier version.", last_error_code=diagnosis.Code.BILLING_MISSING)
    integration.refresh_from_db()

    services.record_success(integration)
    assert integration.last_error == "Billing, in the words of an earlier version."

    services.record_success(integration, downloaded=True)
    assert (integration.last_error, integration.last_error_code) == ("", "")
    assert TeamsIntegration.objects.filter(pk=integration.pk, last_error="", last_error_code="").exists()

    services.record_failure(integration, diagnosis.Problem("Application policy, reworded.",
                                                           code=diagnosis.Code.POLICY_MISSING))
    services.record_success(integration)
    assert (integration.last_error, integration.last_error_code) == ("", "")


def test_missing_billing_stops_the_integrations_other_downloads_until_the_grace_period_is_over(
        integration, graph, ms, portal_users):
    ms.users = [ANN]
    first, second = Lecture(number=1), Lecture(number=2)
    ms.add_lecture(first)
    ms.add_lecture(second)
    _result, queued = discover(integration, graph)
    assert len(queued) == 2
    ms.fail(r"/recordings/.*/content$", 402, PAYMENT_REQUIRED, times=100)

    refused = sync.ingest(queued[0], graph=graph)
    ms.rsps.calls.reset()
    assert sync.ingest(queued[1], graph=graph) is None  # its task was queued already: it downloads nothing

    assert not ms.content_requests()
    waiting = Recording.objects.get(pk=queued[1])
    assert (refused.state, refused.attempts) == (waiting.state, waiting.attempts) == (Recording.State.DISCOVERED, 0)
    assert discover(integration, graph)[1] == []  # nor is anything queued again by the next round
    later = timezone.now() + sync.HOLD_BACK + timedelta(seconds=1)
    assert set(Recording.objects.due(later).values_list("pk", flat=True)) == set(queued)


def test_a_policy_error_on_the_meeting_marks_the_integration_and_gives_the_recording_back(integration, graph, ms,
                                                                                         lecture, portal_users):
    recording = discovered(integration, graph, ms)
    ms.fail(rf"/onlineMeetings/{lecture.meeting_id}$", 403, load("graph_error_forbidden_policy.json"))

    result = sync.ingest(recording.pk, graph=graph)

    integration.refresh_from_db()
    assert integration.last_error == SEED_POLICY_MISSING
    assert (result.state, result.attempts) == (Recording.State.DISCOVERED, 0)
    assert not MediaEntry.objects.exists()


def test_throttling_beyond_the_retries_fails_for_now_and_is_retried_later(integration, graph, ms, lecture,
                                                                         portal_users, sleeps):
    recording = discovered(integration, graph, ms)
    ms.fail(r"/recordings/.*/content$", 503, UNAVAILABLE, {"Retry-After": "3"}, times=graph.max_tries)

    before = timezone.now()
    result = sync.ingest(recording.pk, graph=graph)

    assert sleeps == [3] * (graph.max_tries - 1)  # Retry-After honoured (and nothing really slept)
    assert result.state == Recording.State.FAILED and result.reason == diagnosis.THROTTLED
    assert result.attempts == 1
    assert before + timedelta(minutes=5) <= result.next_attempt_at <= timezone.now() + timedelta(minutes=5)
    assert not Recording.objects.claimable().exists()
    assert Recording.objects.claimable(result.next_attempt_at + timedelta(seconds=1)).get() == result
    assert entry_files() == []

    ms.rsps.calls.reset()
    assert sync.ingest(recording.pk, graph=graph) is None and not ms.calls  # not before its time

    Recording.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))  # its time has come
    result = sync.ingest(recording.pk, graph=graph)

    assert (result.state, result.attempts) == (Recording.State.READY, 2)
    assert sha(stored_bytes(result.entry)) == sha(CONTENT)
    assert entry_files() == [result.entry.media.name]


def test_the_wait_between_tries_grows(integration, graph, ms, lecture, portal_users):
    recording = discovered(integration, graph, ms)
    ms.fail(r"/recordings/.*/content$", 503, UNAVAILABLE, {"Retry-After": "1"}, times=100)

    waits = []
    for _try in range(3):
        Recording.objects.filter(state=Recording.State.FAILED).update(
            next_attempt_at=timezone.now() - timedelta(seconds=1))
        started = timezone.now()
        result = sync.ingest(recording.pk, graph=graph)
        waits.append(round((result.next_attempt_at - started).total_seconds() / 60))

    assert waits == [5, 10, 20]


def test_no_more_tries_once_the_limit_is_reached(integration, graph, ms, lecture, portal_users):
    recording = discovered(integration, graph, ms)
    Recording.objects.filter(pk=recording.pk).update(
        state=Recording.State.FAILED, attempts=Recording.MAX_ATTEMPTS - 1,
        next_attempt_at=timezone.now() - timedelta(seconds=1))
    ms.fail(r"/recordings/.*/content$", 503, UNAVAILABLE, {"Retry-After": "1"}, times=100)

    result = sync.ingest(recording.pk, graph=graph)

    assert result.state == Recording.State.FAILED and result.reason == diagnosis.THROTTLED
    assert (result.attempts, result.next_attempt_at) == (Recording.MAX_ATTEMPTS, None)
    assert not Recording.objects.claimable(timezone.now() + timedelta(days=365)).exists()
    assert discover(integration, graph)[1] == []


def test_an_administrators_retry_makes_failed_rows_claimable_again(integration, graph, ms, lecture, portal_users):
    recording = discovered(integration, graph, ms)
    Recording.objects.filter(pk=recording.pk).update(state=Recording.State.FAILED, attempts=Recording.MAX_ATTEMPTS,
                                                     reason="Microsoft no longer has this recording")
    ready = Recording.objects.create(integration=integration, recording_id="done", meeting_id="m",
                                     organizer_id=ANN["id"], state=Recording.State.READY, attempts=1)
    assert not Recording.objects.claimable().exists()

    assert sync.retry(Recording.objects.all()) == 1

    retried = Recording.objects.get(pk=recording.pk)
    assert (retried.state, retried.attempts, retried.next_attempt_at) == (Recording.State.DISCOVERED, 0, None)
    assert list(Recording.objects.claimable()) == [retried]
    assert Recording.objects.get(pk=ready.pk).state == Recording.State.READY
    assert sync.ingest(recording.pk, graph=graph).state == Recording.State.READY


def test_a_recording_of_a_disabled_integration_waits(integration, graph, ms, lecture, portal_users):
    recording = discovered(integration, graph, ms)
    TeamsIntegration.objects.filter(pk=integration.pk).update(enabled=False)

    result = sync.ingest(recording.pk, graph=graph)

    assert (result.state, result.attempts) == (Recording.State.DISCOVERED, 0)
    assert "disabled" in result.reason and not ms.calls and not MediaEntry.objects.exists()


def test_an_empty_transcript_does_not_stop_the_recording_from_becoming_ready(integration, graph, ms, portal_users):
    ms.users = [ANN]
    silent = Lecture()
    silent.transcripts = [(silent.transcript(silent.transcript_id, silent.correlation), "WEBVTT\n\n")]
    ms.add_lecture(silent)
    recording = discovered(integration, graph, ms)

    result = sync.ingest(recording.pk, graph=graph)  # a meeting in which nobody spoke

    assert result.state == Recording.State.READY
    assert result.entry.status == MediaEntry.Status.READY and not result.entry.captions.exists()


# --- killed and live workers ----------------------------------------------------------------------


def interrupted(integration, recording, owner, *, heartbeat_ago, lease_ago=1):
    """The row as a worker leaves it when it is killed mid-download: its entry importing, a partial file."""
    entry, _created = entry_prepare(source=MediaEntry.Source.TEAMS,
                                    reference_id=f"{integration.pk}:{recording.recording_id}", owner=owner,
                                    name="Physics 101 (2026-11-24 10:00)")
    partial = default_storage.save(f"entries/{entry.pk}/0123456789ab/recording.mp4", ContentFile(CONTENT[:MIB]))
    now = timezone.now()
    MediaEntry.objects.filter(pk=entry.pk).update(status=MediaEntry.Status.IMPORTING, bytes_received=MIB,
                                                  heartbeat_at=now - timedelta(seconds=heartbeat_ago))
    Recording.objects.filter(pk=recording.pk).update(state=Recording.State.DOWNLOADING, attempts=1, entry=entry,
                                                     queued_until=None,  # as its claim left it
                                                     lease_until=now - timedelta(seconds=lease_ago))
    return entry, partial


def test_a_killed_workers_download_is_taken_over_and_ends_ready_with_one_file(integration, graph, ms, lecture,
                                                                            portal_users):
    recording = discovered(integration, graph, ms)
    stale = setting("MEDIASPACE_INGEST_LEASE_SECONDS") + 60
    entry, partial = interrupted(integration, recording, portal_users["ann.lee"], heartbeat_ago=stale)
    assert list(Recording.objects.claimable()) == [recording]
    _result, queued = discover(integration, graph)
    assert queued == [recording.pk]  # the next round hands it out again

    result = sync.ingest(recording.pk, graph=graph)

    assert (result.state, result.attempts, result.entry_id) == (Recording.State.READY, 2, entry.pk)
    assert MediaEntry.objects.count() == 1
    assert sha(stored_bytes(result.entry)) == sha(CONTENT)
    assert entry_files() == [result.entry.media.name] and result.entry.media.name != partial


def test_a_download_whose_worker_stopped_every_time_fails_instead_of_staying_downloading(
        integration, graph, ms, lecture, portal_users):
    recording = discovered(integration, graph, ms)
    interrupted(integration, recording, portal_users["ann.lee"],
                heartbeat_ago=setting("MEDIASPACE_INGEST_LEASE_SECONDS") + 60)
    Recording.objects.filter(pk=recording.pk).update(attempts=Recording.MAX_ATTEMPTS)

    assert sync.ingest(recording.pk, graph=graph) is None

    result = Recording.objects.get()
    assert (result.state, result.lease_until, result.next_attempt_at) == (Recording.State.FAILED, None, None)
    assert "stopped 6 times" in result.reason and not ms.content_requests()
    assert not Recording.objects.claimable(timezone.now() + timedelta(days=365)).exists()


def test_an_unexpected_error_fails_the_row_for_now_instead_of_leaving_it_downloading(
        integration, graph, ms, lecture, portal_users, monkeypatch):
    recording = discovered(integration, graph, ms)

    def broken_publish(**_options):
        raise RuntimeError("disk full")

    monkeypatch.setattr(sync, "entry_publish", broken_publish)

    result = sync.ingest(recording.pk, graph=graph)

    assert (result.state, result.attempts, result.lease_until) == (Recording.State.FAILED, 1, None)
    assert result.reason == "Unexpected error: disk full" and result.next_attempt_at > timezone.now()


def test_a_live_workers_download_is_not_taken_over(integration, graph, ms, lecture, portal_users):
    recording = discovered(integration, graph, ms)
    entry, partial = interrupted(integration, recording, portal_users["ann.lee"], heartbeat_ago=5)

    assert sync.ingest(recording.pk, graph=graph) is None
    assert discover(integration, graph)[1] == []

    assert not ms.content_requests()
    assert Recording.objects.get().state == Recording.State.DOWNLOADING
    assert MediaEntry.objects.get().status == MediaEntry.Status.IMPORTING
    assert entry_files() == [partial]


def test_a_ready_entry_whose_row_was_not_finished_is_completed_without_downloading_again(
        integration, graph, ms, lecture, portal_users):
    recording = discovered(integration, graph, ms)
    first = sync.ingest(recording.pk, graph=graph)
    # The worker died after the entry was ready, before the ledger said so.
    Recording.objects.filter(pk=recording.pk).update(state=Recording.State.DOWNLOADING,
                                                     lease_until=timezone.now() - timedelta(seconds=1))
    ms.rsps.calls.reset()

    result = sync.ingest(recording.pk, graph=graph)

    assert result.state == Recording.State.READY and result.entry_id == first.entry_id
    assert not ms.content_requests() and entry_files() == [first.entry.media.name]
    assert first.entry.captions.count() == 1 and Collaborator.objects.filter(entry=first.entry).count() == 3


# --- transcripts that come late ---------------------------------------------------------------------


def test_a_transcript_that_appears_later_is_attached_by_a_later_round(integration, graph, ms, portal_users):
    lecture, result = ready_without_transcript(integration, graph, ms)
    assert not result.transcript_done and not result.entry.captions.exists()

    ms.transcripts[lecture.meeting_id] = list(lecture.transcripts)
    discover(integration, graph)

    result.refresh_from_db()
    assert result.transcript_done
    (track,) = result.entry.captions.all()
    with track.file.open("rb") as vtt:
        assert vtt.read().decode() == VTT
    assert len(ms.content_requests()) == 1  # the recording itself was not fetched again

    integration.refresh_from_db()
    ms.rsps.calls.reset()
    discover(integration, graph)
    assert not ms.paths(r"/transcripts")  # found: not looked for again
    assert result.entry.captions.count() == 1


def test_late_transcripts_are_looked_for_per_organizer_in_one_batch_not_per_recording(integration, graph, ms,
                                                                                       portal_users):
    ms.users = [ANN, BOB]
    lectures = [Lecture(number=1), Lecture(number=2), Lecture(BOB, number=3)]
    for lecture in lectures:
        ms.add_lecture(lecture)
        ms.transcripts[lecture.meeting_id] = []  # Teams has not finished the transcripts yet
    discover(integration, graph)
    for recording in Recording.objects.all():
        sync.ingest(recording.pk, graph=graph)
    ms.transcripts[lectures[1].meeting_id] = list(lectures[1].transcripts)
    integration.refresh_from_db()
    ms.rsps.calls.reset()

    discover(integration, graph)

    assert not ms.paths(r"/transcripts$")  # no list per recording
    late = [batch for batch in ms.batches() if "getAllTranscripts" in batch[0]["url"]]
    assert [sorted(request["url"].split("/")[2] for request in batch) for batch in late] == [
        sorted([ANN["id"], BOB["id"]])]
    found = {recording.meeting_id: recording for recording in Recording.objects.all()}
    assert found[lectures[1].meeting_id].transcript_done
    assert found[lectures[1].meeting_id].entry.captions.count() == 1
    assert not found[lectures[0].meeting_id].transcript_done and not found[lectures[2].meeting_id].transcript_done


def test_a_late_transcript_lookup_that_fails_for_one_recording_does_not_stop_the_round(integration, graph, ms,
                                                                                      portal_users):
    old, _recording = ready_without_transcript(integration, graph, ms)
    # The organiser deleted that meeting; meanwhile a new lecture was recorded.
    del ms.meetings[old.meeting_id]
    new = Lecture(number=2)
    ms.add_lecture(new)

    result, queued = discover(integration, graph)

    integration.refresh_from_db()
    assert result == {"discovered": 1, "queued": 1}
    assert queued == [Recording.objects.get(recording_id=new.recording_id).pk]
    assert integration.last_error == ""


def test_an_unusable_late_transcript_does_not_break_the_round(integration, graph, ms, portal_users):
    old, _recording = ready_without_transcript(integration, graph, ms)
    ms.transcripts[old.meeting_id] = [(old.transcript(old.transcript_id, old.correlation), "WEBVTT\n\n")]
    new = Lecture(number=2)
    ms.add_lecture(new)

    result, queued = discover(integration, graph)  # must not raise CaptionError out of the round

    assert result == {"discovered": 1, "queued": 1}
    assert queued == [Recording.objects.get(recording_id=new.recording_id).pk]


def test_a_refused_transcript_shows_the_missing_permission_and_the_recording_still_arrives(
        integration, graph, ms, lecture, portal_users):
    recording = discovered(integration, graph, ms)
    forbidden = graph_error("Forbidden", "Application does not have permission to read transcripts.")
    ms.fail(r"/transcripts/[^/]+/content$", 403, forbidden)  # the round listed it: the ingest fetches it

    result = sync.ingest(recording.pk, graph=graph)

    integration.refresh_from_db()
    missing = "The provided application credentials are missing the 'OnlineMeetingTranscript.Read.All' permission."
    assert integration.last_error == missing and missing in result.reason
    assert result.state == Recording.State.READY and not result.transcript_done
    assert not result.entry.captions.exists()

    ms.fail(r"/transcripts/[^/]+/content$", 403, forbidden)
    discover(integration, graph)  # the late lookup is refused too: the round goes on and says why

    integration.refresh_from_db()
    assert integration.last_error == missing

    discover(integration, graph)  # the permission is granted

    integration.refresh_from_db()
    result.refresh_from_db()
    assert integration.last_error == "" and result.transcript_done and result.entry.captions.count() == 1


# --- tasks and schedule --------------------------------------------------------------------------


def test_the_sync_task_skips_a_disabled_or_deleted_integration_and_runs_an_enabled_one(integration, monkeypatch):
    rounds = []
    monkeypatch.setattr(tasks.sync, "run", lambda each, **options: rounds.append(each.pk) or {"discovered": 0})

    assert tasks.sync_integration(integration.pk) == {"discovered": 0} and rounds == [integration.pk]

    TeamsIntegration.objects.filter(pk=integration.pk).update(enabled=False)
    assert tasks.sync_integration(integration.pk) == {"skipped": "disabled or deleted"}
    assert tasks.sync_integration(integration.pk + 1000) == {"skipped": "disabled or deleted"}
    assert rounds == [integration.pk]


def test_sync_all_queues_one_task_per_enabled_integration(integration, monkeypatch):
    other = TeamsIntegration.objects.create(name="Fabrikam", tenant_id=GUEST_TENANT, client_id=CLIENT_ID,
                                            client_secret=SECRET, enabled=True)
    TeamsIntegration.objects.create(name="Off", tenant_id=TENANT_ID, client_id="11111111-2222-4333-8444-555555555555",
                                    client_secret=SECRET, enabled=False)
    sent = []
    monkeypatch.setattr(subscriptions, "async_task", lambda func, *args, **kwargs: sent.append((func, args, kwargs)))

    tasks.sync_all()

    assert sorted(sent) == sorted([
        ("integrations.teams.tasks.sync_integration", (each.pk,), {"task_name": f"teams-sync-{each.pk}"})
        for each in (integration, other)])


def test_the_migration_created_the_schedule_that_calls_sync_all():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="Teams recordings sync")
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "integrations.teams.tasks.sync_all", Schedule.MINUTES, setting("TEAMS_SYNC_MINUTES"), -1)
    assert callable(getattr(importlib.import_module("integrations.teams.tasks"), schedule.func.rsplit(".", 1)[1]))

    migration = importlib.import_module("integrations.teams.migrations.0003_sync_schedule")
    migration.create_schedule(django_apps, None)  # running it again (e.g. a re-applied migration) adds none
    assert Schedule.objects.filter(name="Teams recordings sync").count() == 1


# --- leases: a short lease is safe, a dead worker's row is taken over soon --------------------------


@pytest.fixture
def clock(monkeypatch):
    """timezone.now() that a test moves forward (every module reads it through django.utils.timezone)."""
    real_now, ahead = timezone.now, [timedelta(0)]
    monkeypatch.setattr(timezone, "now", lambda: real_now() + ahead[0])

    def advance(seconds):
        ahead[0] += timedelta(seconds=seconds)

    return advance


def test_the_lease_is_renewed_during_every_step_so_a_short_lease_never_lapses_while_the_worker_lives(
        integration, graph, ms, lecture, portal_users, settings, monkeypatch, clock):
    settings.TEAMS_CLAIM_LEASE_SECONDS = 60
    recording = discovered(integration, graph, ms)
    lapsed_during = []

    def slow(name, step):
        """The step takes 40 s (two thirds of the lease) before it does its work."""
        def run(*args, **kwargs):
            clock(40)
            if Recording.objects.claimable().filter(pk=recording.pk).exists():
                lapsed_during.append(name)
            return step(*args, **kwargs)
        return run

    monkeypatch.setattr(sync, "meeting_of", slow("metadata", sync.meeting_of))
    monkeypatch.setattr(sync, "resolve_owner", slow("owner", sync.resolve_owner))
    monkeypatch.setattr(sync, "entry_receive", slow("download", sync.entry_receive))
    monkeypatch.setattr(sync, "attach_transcripts", slow("transcript", sync.attach_transcripts))
    monkeypatch.setattr(sync.participants, "grant", slow("collaborators", sync.participants.grant))
    monkeypatch.setattr(sync, "entry_publish", slow("publishing", sync.entry_publish))

    result = sync.ingest(recording.pk, graph=graph)

    assert lapsed_during == []  # 7 steps of 40 s: almost five leases, and never takeable
    assert (result.state, result.lease_until) == (Recording.State.READY, None)


def test_a_row_whose_lease_lapsed_before_its_download_is_handed_out_again_and_taken_over(
        integration, graph, ms, lecture, portal_users, settings, clock):
    settings.TEAMS_CLAIM_LEASE_SECONDS = 60
    recording = discovered(integration, graph, ms)
    assert sync.claim(recording.pk) is not None  # a worker takes it, and is killed reading the meeting

    clock(30)
    assert discover(integration, graph)[1] == [] and sync.ingest(recording.pk, graph=graph) is None
    clock(31)
    assert discover(integration, graph)[1] == [recording.pk]  # the lease lapsed: handed out again

    result = sync.ingest(recording.pk, graph=graph)
    assert (result.state, result.attempts) == (Recording.State.READY, 2)
    assert MediaEntry.objects.count() == 1


def test_a_live_worker_that_was_taken_for_dead_stops_and_leaves_the_row_to_the_new_one(
        integration, graph, ms, lecture, portal_users, settings, monkeypatch, clock):
    settings.TEAMS_CLAIM_LEASE_SECONDS = 60
    recording = discovered(integration, graph, ms)
    taken_over = []

    def stuck_then_taken_over(graph_, recording_):
        clock(61)  # stuck without a beat beyond the lease (a frozen machine, say), and another worker claims it
        taken_over.append(sync.claim(recording.pk))
        return ms_meeting(graph_, recording_)

    ms_meeting = sync.meeting_of
    monkeypatch.setattr(sync, "meeting_of", stuck_then_taken_over)

    assert sync.ingest(recording.pk, graph=graph) is None  # the old worker stops at its next beat
    row = Recording.objects.get()
    assert taken_over[0] is not None
    assert (row.state, row.attempts, row.lease_until) == (Recording.State.DOWNLOADING, 2, taken_over[0].lease_until)
    assert MediaEntry.objects.count() == 0 and not ms.content_requests()


def test_a_queued_recording_whose_task_was_lost_is_queued_again_after_the_grace_once_no_task_waits(
        integration, graph, ms, lecture, clock):
    _result, first = discover(integration, graph)
    assert len(first) == 1  # queued, and its task is lost with a killed cluster before any worker takes it up
    clock(queued_grace().total_seconds() + 1)
    async_task("math.floor", 1.5)  # another task still waits in the queue: ours may be among them

    assert discover(integration, graph)[1] == []
    take_queued()  # the queue has drained, and the recording was not taken up: its task is lost
    assert discover(integration, graph)[1] == first


def test_the_minute_schedule_hands_out_a_dead_workers_recording_without_asking_microsoft(
        integration, graph, ms, lecture, portal_users):
    recording = discovered(integration, graph, ms)
    interrupted(integration, recording, portal_users["ann.lee"],
                heartbeat_ago=setting("MEDIASPACE_INGEST_LEASE_SECONDS") + 1)
    take_queued()

    assert tasks.queue_due_recordings() == 1
    assert [(task["func"], task["args"]) for task in take_queued()] == [
        ("integrations.teams.tasks.ingest_recording", (recording.pk,))]
    assert len(ms.calls) == 0
    assert tasks.queue_due_recordings() == 0  # queued: not again within the grace


def test_by_default_a_dead_workers_recording_is_taken_over_within_three_minutes():
    from django.conf import settings as conf
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="Teams stalled recordings")
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "integrations.teams.tasks.queue_due_recordings", Schedule.MINUTES, 1, -1)
    scheduler_cycle = 30  # django-q2's cluster looks at its schedules every 30 s
    found_dead_after = max(setting("TEAMS_CLAIM_LEASE_SECONDS"), setting("MEDIASPACE_INGEST_LEASE_SECONDS"),
                           queued_grace().total_seconds())
    assert found_dead_after + schedule.minutes * 60 + scheduler_cycle <= 180
    # A task still running is never handed out again by the broker (and would be a no-op: the claim decides).
    assert conf.Q_CLUSTER["timeout"] < conf.Q_CLUSTER["retry"]
