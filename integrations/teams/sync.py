"""The Teams ingestion engine.

`run` is one sync round of an integration: it lists the users in scope and their meeting recordings
since a little before the last round, writes each new recording once into the ledger (`Recording`),
and queues the recordings that are due. `ingest` turns one ledger row into a ready media entry with
its owner, transcript, collaborators and categories. The ledger row, claimed with a conditional
update, is what makes each recording arrive exactly once whatever retries, restarts or overlapping
rounds happen.
"""
import logging
from functools import partial
from typing import NamedTuple
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from integrations.microsoft.errors import (GraphError, GraphForbidden, GraphNotFound, GraphPaymentRequired, GraphThrottled,
                                           GraphUnauthorized, TokenError, retry_after_seconds)
from integrations.microsoft.graph import RETRY_STATUSES
from integrations.teams.models import MeetingTranscript, Recording, TeamsIntegration
from integrations.teams.services import record_failure, record_success
from mediaspace.captions import CaptionError
from mediaspace.ingest import entry_expect, entry_prepare, entry_receive
from mediaspace.models import MediaEntry
from mediaspace.queueing import queued_grace, tasks_waiting
from mediaspace.services import caption_add, entry_publish

from .diagnosis import explain, explain_transcript_error
from . import api, decisions, owner_mail, participants, subscriptions
from .lease import Lease, LeaseLost, lease_length
from .owners import TeamsUser, organizer_of, resolve_owner

logger = logging.getLogger(__name__)

USER_FIELDS = "id,userPrincipalName,displayName,mail"
BATCH_SIZE = 20  # Graph's JSON batching takes at most 20 requests
LATE_LISTING = timedelta(hours=24)  # Microsoft may list a recording late: every round looks back this far
FIRST_ROUND_LOOKBACK = timedelta(days=1)
HOLD_BACK = timedelta(minutes=15)  # a recording given back for an integration-wide problem waits this long
RUN_LOCK = timedelta(minutes=30)
MAX_RESUMES = 5
TRANSCRIPT_WAIT = timedelta(days=2)  # how long a ready recording's transcript is looked for

# Answers that concern the whole integration (credentials, permissions, policy, billing), not one recording.
INTEGRATION_WIDE = (TokenError, GraphUnauthorized, GraphForbidden, GraphPaymentRequired)


def queue_ingest(recording_id):
    from django_q.tasks import async_task

    async_task("integrations.teams.tasks.ingest_recording", recording_id, task_name=f"teams-recording-{recording_id}")


# -- a sync round --------------------------------------------------------------------------------


def run(integration, *, since=None, graph=None, queue=queue_ingest, progress=None) -> dict:
    """One round: discover new recordings, then queue every due one. Rounds of one integration do not overlap:
    a round holds the integration's lock (for RUN_LOCK at most, so that a round that died does not block)."""
    now = timezone.now()
    lock_until = now + RUN_LOCK
    locked = TeamsIntegration.objects.filter(pk=integration.pk).filter(
        Q(sync_lock_until__isnull=True) | Q(sync_lock_until__lt=now)).update(sync_lock_until=lock_until)
    if not locked:
        return {"skipped": "another sync of this integration is running"}
    try:
        graph = graph or api.graph_for(integration)
        try:
            found = discover(integration, graph, since=since, progress=progress)
        except GraphError as error:
            problem = explain(error)
            record_failure(integration, problem)
            return {"problem": problem.message}
        record_success(integration)
        # After the success, as they may set their own marker: which meetings of the new recordings have a
        # transcript (before their ingest is queued), and the transcripts that came late.
        if not integration.transcription or not found.rows or learn_transcripts(
                integration, graph, sorted({row.organizer_id for row in found.rows}), since=found.since):
            look_for_late_transcripts(integration, graph)
        return {"discovered": len(found.rows), "queued": queue_due(integration, queue=queue)}
    finally:  # our own lock only: after RUN_LOCK another round may hold it
        TeamsIntegration.objects.filter(pk=integration.pk, sync_lock_until=lock_until).update(sync_lock_until=None)


def queue_due(integration, *, queue=queue_ingest) -> int:
    """Queue the integration's due recordings: new ones, and those whose worker died (its lease lapsed). One
    queued before and not taken up is queued again after the grace period, when its task may have been lost
    with a killed cluster: only once no task is waiting in the queue, since it may be one of them."""
    now = timezone.now()
    queued = 0
    rows = due(integration, now)
    if tasks_waiting():
        rows = rows.filter(queued_until__isnull=True)
    for recording_id in list(rows.values_list("pk", flat=True)):
        taken = Recording.objects.filter(pk=recording_id).due(now).update(queued_until=now + queued_grace())
        if taken:
            queue(recording_id)
            queued += 1
    return queued


def due(integration, now=None):
    """The integration's recordings a round takes up now, closest to expiry first."""
    return integration.recordings.due(now).order_by(F("recorded_at").asc(nulls_last=True), "pk")


class Discovered(NamedTuple):
    rows: list  # the new ledger rows
    since: object  # where the round's look-up started


def discover(integration, graph, *, since=None, progress=None) -> Discovered:
    """Write the recordings of the users in scope since `since` (or the last round) into the ledger;
    returns the new rows, and where the look-up started."""
    started = timezone.now()
    start = window_start(integration, since=since, now=started)
    new = [row for row in listed(integration, graph, since=since, now=started, progress=progress) if _record(row)]
    if since is None:
        TeamsIntegration.objects.filter(pk=integration.pk).update(synced_until=started)
        integration.synced_until = started
    return Discovered(new, start)


def window_start(integration, *, since=None, now=None):
    """Where a round's look-up starts: `since` (a backfill), or a little before the last round."""
    return since or (integration.synced_until or (now or timezone.now()) - FIRST_ROUND_LOOKBACK) - LATE_LISTING


def listed(integration, graph, *, since=None, now=None, progress=None):
    """The meeting recordings Microsoft lists for the users in scope since the round's window start, each
    as an unsaved ledger row (calls, which have no meeting, are left out). Reads only; `discover` writes
    them, the dry run (`integrations.teams.preview.plan`) shows them."""
    start = window_start(integration, since=since, now=now)
    users = users_in_scope(integration, graph)
    for first in range(0, len(users), BATCH_SIZE):
        chunk = users[first:first + BATCH_SIZE]
        for user, recordings in zip(chunk, _recordings_of(graph, chunk, start)):
            for recording in recordings:
                if recording.get("id") and recording.get("meetingId"):
                    yield _ledger_row(integration, user, recording)
        if progress:
            progress(min(first + BATCH_SIZE, len(users)), len(users))


def users_in_scope(integration, graph) -> list:
    """The users whose recordings the upload policy takes: everyone, the opt-in groups' members, or
    everyone but the opt-out groups' members."""
    select = {"$select": USER_FIELDS, "$top": "999"}
    group_ids = list(integration.groups.values_list("group_id", flat=True))
    if integration.upload_policy == TeamsIntegration.UploadPolicy.OPT_IN:
        return list(_group_members(graph, group_ids, select).values())
    users = {user["id"]: TeamsUser.from_graph(user) for user in api.users(graph, **select)}
    if integration.upload_policy == TeamsIntegration.UploadPolicy.OPT_OUT:
        for user_id in _group_members(graph, group_ids, select):
            users.pop(user_id, None)
    return list(users.values())


def in_scope(integration, graph, user_id) -> bool:
    """Whether the upload policy takes the recordings of one user (as `users_in_scope` decides for all): asks
    Microsoft only under an opt-in or opt-out policy."""
    if integration.upload_policy == TeamsIntegration.UploadPolicy.ALL:
        return True
    group_ids = list(integration.groups.values_list("group_id", flat=True))
    member = any(api.member_groups(graph, user_id, group_ids[first:first + BATCH_SIZE])
                 for first in range(0, len(group_ids), BATCH_SIZE))
    return member if integration.upload_policy == TeamsIntegration.UploadPolicy.OPT_IN else not member


def _group_members(graph, group_ids, select):
    members = {}
    for group_id in group_ids:
        for user in api.group_members(graph, group_id, **select):
            members[user["id"]] = TeamsUser.from_graph(user)
    return members


def _recordings_of(graph, users, window_start):
    """Each user's recordings since `window_start`, asked for in one JSON batch. A sub-request that did
    not succeed is asked again on its own (after the Retry-After of a throttled one), which retries
    throttling and raises Microsoft's error. A user deleted since the user list (404) is skipped."""
    answers = api.batch(graph, [api.all_recordings_path(user.id, window_start) for user in users])
    wait_out_throttling(graph, [answer for answer in answers.values() if answer.get("status") in RETRY_STATUSES])
    for index, user in enumerate(users):
        answer = answers.get(str(index), {})
        body = answer.get("body") or {}
        if answer.get("status") == 404:
            logger.info("User %s is gone (deleted since the user list): skipped", user.id)
            yield []
            continue
        if answer.get("status") != 200:
            try:
                yield list(api.all_recordings(graph, user.id, since=window_start))
            except GraphNotFound:
                logger.info("User %s is gone (deleted since the user list): skipped", user.id)
                yield []
            continue
        items = list(body.get("value", []))
        if body.get("@odata.nextLink"):
            items.extend(api.next_page(graph, body["@odata.nextLink"]))
        yield items


def learn_transcripts(integration, graph, organizer_ids, *, since) -> bool:
    """Remember the transcripts Microsoft lists for these organizers' meetings since `since` (getAllTranscripts,
    20 organizers per $batch), so that the ingest asks for the transcripts of those meetings only. A listing that
    fails costs only the transcripts (the later rounds look again); a refusal shows on the integration's marker
    (and the answer is False)."""
    for first in range(0, len(organizer_ids), BATCH_SIZE):
        chunk = organizer_ids[first:first + BATCH_SIZE]
        try:
            answers = api.batch(graph, [api.all_transcripts_path(organizer_id, since) for organizer_id in chunk])
            for index, organizer_id in enumerate(chunk):
                answer = answers.get(str(index), {})
                body = answer.get("body") or {}
                if answer.get("status") == 200:
                    items = list(body.get("value", []))
                    if body.get("@odata.nextLink"):
                        items.extend(api.next_page(graph, body["@odata.nextLink"]))
                elif answer.get("status") == 404:
                    continue
                else:  # asked again on its own: waits out throttling, raises Microsoft's error
                    items = list(api.all_transcripts(graph, organizer_id, since=since))
                for transcript in items:
                    remember_transcript(integration, organizer_id, transcript)
        except INTEGRATION_WIDE as error:
            record_failure(integration, explain_transcript_error(error))
            return False
        except GraphError as error:
            logger.warning("Transcripts of integration %s not listed: %s", integration.pk, error)
    return True


def remember_transcript(integration, organizer_id, transcript) -> None:
    """Note a transcript Microsoft listed or announced (a dict with id, meetingId and, when known,
    contentCorrelationId); once per transcript."""
    if not transcript.get("id") or not transcript.get("meetingId"):
        return
    known, created = MeetingTranscript.objects.get_or_create(
        integration=integration, transcript_id=transcript["id"][:512], defaults={
            "meeting_id": transcript["meetingId"][:512], "organizer_id": organizer_id[:64],
            "content_correlation_id": (transcript.get("contentCorrelationId") or "")[:256]})
    if not created and transcript.get("contentCorrelationId") and not known.content_correlation_id:
        MeetingTranscript.objects.filter(pk=known.pk).update(content_correlation_id=transcript["contentCorrelationId"])


def known_transcripts(recording) -> list:
    """The transcripts of the recording's meeting that the integration knows of, shaped as Graph lists them."""
    return [{"id": transcript_id, "meetingId": recording.meeting_id, "contentCorrelationId": correlation or None}
            for transcript_id, correlation in MeetingTranscript.objects.filter(
                integration_id=recording.integration_id, meeting_id=recording.meeting_id).order_by("pk").values_list(
                "transcript_id", "content_correlation_id")]


def wait_out_throttling(graph, throttled_answers):
    """Wait the longest Retry-After of throttled batch sub-responses before any is asked again, as the
    client does for a throttled request; a wait beyond the client's max_wait ends the round (GraphThrottled)."""
    if not throttled_answers:
        return
    delays = [retry_after_seconds(answer.get("headers")) for answer in throttled_answers]
    delay = max((each for each in delays if each is not None), default=None)
    if delay is None:
        delay = graph.backoff(1)
    if graph.max_wait is not None and delay > graph.max_wait:
        first = throttled_answers[0]
        raise GraphThrottled(((first.get("body") or {}).get("error") or {}).get("message") or "Throttled",
                             status=first.get("status"), retry_after=delay)
    logger.info("Batch sub-requests throttled; asking again in %s s", delay)
    graph.sleep(delay)


def _ledger_row(integration, user, recording, *, found_by=Recording.FoundBy.RECONCILIATION) -> Recording:
    """The (unsaved) ledger row of a recording Microsoft listed (or announced) for `user`."""
    organizer = ((recording.get("meetingOrganizer") or {}).get("user") or {})
    return Recording(
        integration=integration, recording_id=recording["id"], meeting_id=recording["meetingId"], found_by=found_by,
        organizer_id=organizer.get("id") or user.id, organizer_upn=user.upn[:256],
        organizer_name=(organizer.get("displayName") or user.display_name)[:256],
        organizer_mail=user.mail[:256], content_url=recording.get("recordingContentUrl") or "",
        content_correlation_id=recording.get("contentCorrelationId") or "",
        recorded_at=parse_datetime(recording.get("createdDateTime") or ""),
    )


def record_announced(integration, organizer_id, meeting_id, recording_id) -> Recording | None:
    """Write a recording that a change notification announced into the ledger with what the notification names
    (no Graph request: the notification endpoint calls it), already queued: the caller queues its ingest, which
    reads the rest (`_first_look`). None when the ledger has it already (the ledger's unique key makes a repeated
    notification, or one a round found first, no new row)."""
    row = Recording(integration=integration, recording_id=recording_id, meeting_id=meeting_id,
                    organizer_id=organizer_id, found_by=Recording.FoundBy.NOTIFICATION,
                    queued_until=timezone.now() + queued_grace())
    return row if _record(row) else None


def announced_only(recording) -> bool:
    """A row a notification wrote that no ingest has looked up yet: it knows the ids, not the recording."""
    return recording.found_by == Recording.FoundBy.NOTIFICATION and recording.recorded_at is None


def _record(row) -> bool:
    """Write a listed recording into the ledger once; True when it is new."""
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:  # listed again (the look-back window overlaps the last round)
        return False
    return True


# -- one recording -------------------------------------------------------------------------------


def claim(recording_id):
    """Take a recording for this worker; None when there is nothing to do (done, not yet due, or another
    live worker has it). The row is locked while it is taken (skipped if another worker holds the lock),
    because the test of a quiet download reads the entry's heartbeat, which a plain UPDATE would not
    re-check under concurrency."""
    now = timezone.now()
    with transaction.atomic():
        recording = (Recording.objects.select_for_update(skip_locked=True, of=("self",))
                     .filter(pk=recording_id).claimable(now).first())
        if recording is None:
            return None
        if recording.state == Recording.State.DOWNLOADING and recording.attempts >= Recording.MAX_ATTEMPTS:
            # Its worker stopped every time (killed, or crashed): not taken up forever.
            Recording.objects.filter(pk=recording.pk).update(
                state=Recording.State.FAILED, lease_until=None, next_attempt_at=None,
                owner_rule=Recording.OwnerRule.NONE,
                reason=f"The download stopped {recording.attempts} times without finishing (its worker was "
                       f"killed or crashed); use Retry to try again.")
            return None
        Recording.objects.filter(pk=recording.pk).update(
            state=Recording.State.DOWNLOADING, queued_until=None, attempts=F("attempts") + 1,
            lease_until=now + lease_length())
    return Recording.objects.select_related("integration", "entry").get(pk=recording_id)


def ingest(recording_id, *, graph=None) -> Recording | None:
    """Turn a ledger row into a ready media entry, exactly once."""
    recording = claim(recording_id)
    if recording is None:
        return None
    try:
        return _ingest_claimed(recording, graph)
    except LeaseLost:  # this worker was taken for dead: the row is the new worker's
        logger.info("Recording %s was taken over by another worker; this one stops.", recording.pk)
        return None
    except Exception as error:  # an unexpected error must not leave the row downloading until its lease ends
        logger.exception("Ingest of recording %s failed", recording.pk)
        return _fail(recording, f"Unexpected error: {error}")


def _ingest_claimed(recording, graph):
    integration = recording.integration
    if not integration.enabled:
        return _release(recording, "The integration is disabled; the recording waits until it is enabled.")
    lease = Lease(recording)
    with lease.watching(graph or api.graph_for(integration)) as graph:
        return _ingest_steps(recording, graph, lease)


def _ingest_steps(recording, graph, lease):
    """The steps of an ingest, with a heartbeat between them (and within them: see `Lease.watching`)."""
    integration = recording.integration
    looked_up = not announced_only(recording)
    try:
        meeting = _first_look(recording, graph)
        if meeting is None:
            return None  # gone, or out of the policy's scope: the row is removed
        looked_up = True
        lease.beat()
        owner = resolve_owner(integration, organizer_of(recording))
        if owner.user is None:
            return _fail(recording, owner.problem, owner=owner, final=True)
        lease.beat()
        entry = _receive(recording, graph, meeting, owner.user, lease)
        if entry.is_in_progress:  # another live worker is downloading it
            return _release(recording, "Another worker is downloading this recording.", wait=lease_length())
        if not entry.is_received:
            return _fail(recording, entry.error or "The download did not finish.", owner=owner)
        lease.beat()
        record_success(integration, downloaded=True)  # before the transcript, which may set its own marker
        # Only a meeting known to have a transcript is asked for it; one that comes later is found by a
        # notification or by the later rounds (look_for_late_transcripts).
        known = _correlated(recording, graph, known_transcripts(recording)) if integration.transcription else []
        notes = _attach_transcripts_noting_problems(recording, graph, entry, known) if known else []
        lease.beat()
        people = participants.of_meeting(meeting)
        Recording.objects.filter(pk=recording.pk).update(participants=people)
        participants.grant(integration, people, entry)
        for category in integration.categories.all():
            lease.beat()
            entry_publish(entry=entry, category=category, user=None, by_administrator=True)
        lease.beat()
    except GraphPaymentRequired as error:
        _hold_downloads(integration, recording)
        record_failure(integration, explain(error))
        return _release(recording, explain(error).message)
    except INTEGRATION_WIDE as error:
        record_failure(integration, explain(error))
        if not looked_up:  # what a notification said cannot be followed up: reconciled once the portal can sign in
            subscriptions.flag_gap(integration)
        return _release(recording, explain(error).message)
    except GraphNotFound:
        return _fail(recording, "Microsoft no longer has this recording (it expired or was deleted).", final=True)
    except GraphError as error:
        return _fail(recording, explain(error).message if explain(error).transient else str(error))
    became_ready = Recording.objects.filter(pk=recording.pk).exclude(state=Recording.State.READY).update(
        state=Recording.State.READY, reason="\n".join([*owner.steps, *notes]), owner_rule=owner.rule,
        lease_until=None, next_attempt_at=None, entry=entry)
    if became_ready and owner.went_to_default_user:  # once: only the worker that made it ready tells them
        owner_mail.tell_the_real_owner(recording, entry, owner)
    if integration.ask_owners:
        decisions.ask(recording)
    recording.refresh_from_db()
    return recording


def meeting_of(graph, recording) -> dict:
    """The recording's onlineMeeting (subject, start, participants)."""
    return api.meeting(graph, recording.organizer_id, recording.meeting_id)


def _first_look(recording, graph):
    """The recording's meeting (None when the row was removed). A row that a notification wrote knows only its ids:
    the same request (a $batch) reads the recording and its organizer, then the upload policy's scope is checked
    (one more request under a group policy); a recording gone since, or whose organizer is out of scope, is not
    ingested and its row is removed, as a round never lists it (a failure would clutter the ledger). The
    transcripts announced for the meeting without saying whose recording they are ride in the same $batch."""
    integration = recording.integration
    looking_up = announced_only(recording)
    unsure = _uncorrelated(recording)[:BATCH_SIZE - 3]
    if not looking_up and not unsure:
        return meeting_of(graph, recording)
    organizer, meeting_id = recording.organizer_id, recording.meeting_id
    paths = [api.meeting_path(organizer, meeting_id)]
    if looking_up:
        paths += [api.recording_path(organizer, meeting_id, recording.recording_id),
                  api.user_path(organizer, USER_FIELDS)]
    paths += [api.transcript_path(organizer, meeting_id, transcript_id) for transcript_id in unsure]
    answers = get_each(graph, paths)
    for transcript in answers[len(paths) - len(unsure):]:
        if transcript:
            remember_transcript(integration, organizer, transcript)
    meeting = answers[0]
    if not looking_up:
        if meeting is None:
            raise GraphNotFound("The meeting of this recording is gone.", status=404)
        return meeting
    listed, user = answers[1], answers[2]
    if meeting is None or listed is None or user is None or not listed.get("meetingId"):
        return _forget(recording, "Microsoft no longer has it (or it is not a meeting's)")
    if not in_scope(integration, graph, organizer):
        return _forget(recording, "its organizer is not in the upload policy's scope")
    row = _ledger_row(integration, TeamsUser.from_graph(user), listed, found_by=Recording.FoundBy.NOTIFICATION)
    details = {name: getattr(row, name) for name in ("organizer_id", "organizer_upn", "organizer_name",
                                                     "organizer_mail", "content_url", "content_correlation_id")}
    details["recorded_at"] = row.recorded_at or timezone.now()  # no longer announced only
    _ours(recording).update(**details)
    for name, value in details.items():
        setattr(recording, name, value)
    return meeting


def _forget(recording, why):
    logger.info("Announced recording %s not taken: %s", recording.recording_id, why)
    _ours(recording).delete()
    return None


def _uncorrelated(recording) -> list:
    """The ids of the meeting's known transcripts that do not say whose recording they are (announced before
    it), when that matters: the recording has a correlation id, or is not looked up yet."""
    if not recording.integration.transcription:
        return []
    return list(MeetingTranscript.objects.filter(
        integration_id=recording.integration_id, meeting_id=recording.meeting_id, content_correlation_id="")
        .order_by("pk").values_list("transcript_id", flat=True))


def _correlated(recording, graph, known) -> list:
    """`known`, each transcript saying whose recording it is: one still unsure (announced while this recording
    was downloading) is asked for, so that another recording's transcript is not attached."""
    if not recording.content_correlation_id or all(item["contentCorrelationId"] for item in known):
        return known
    for item in known:
        if not item["contentCorrelationId"]:
            try:
                listed = api.transcript(graph, recording.organizer_id, recording.meeting_id, item["id"])
            except GraphNotFound:
                continue
            remember_transcript(recording.integration, recording.organizer_id, listed)
    return known_transcripts(recording)


def get_each(graph, paths) -> list:
    """GET `paths` in one $batch: their bodies (None for a 404). An answer that is neither is asked again on
    its own, after the Retry-After of a throttled one, which raises Microsoft's error if it fails again."""
    answers = api.batch(graph, paths)
    wait_out_throttling(graph, [answer for answer in answers.values() if answer.get("status") in RETRY_STATUSES])
    bodies = []
    for index, path in enumerate(paths):
        answer = answers.get(str(index), {})
        if answer.get("status") == 200:
            bodies.append(answer.get("body") or {})
        elif answer.get("status") == 404:
            bodies.append(None)
        else:
            try:
                bodies.append(api.get_alone(graph, path))
            except GraphNotFound:
                bodies.append(None)
    return bodies


def meeting_subject(meeting) -> str:
    return (meeting.get("subject") or "").strip() or "Teams meeting"


def meeting_start(meeting, recording):
    """When the meeting started (when the recording was made, if Microsoft does not say)."""
    return parse_datetime(meeting.get("startDateTime") or "") or recording.recorded_at


def entry_name(meeting, recording):
    subject, start = meeting_subject(meeting), meeting_start(meeting, recording)
    when = timezone.localtime(start).strftime("%Y-%m-%d %H:%M") if start else ""
    return f"{subject} ({when})" if when else subject


def _receive(recording, graph, meeting, owner, lease):
    entry, _created = entry_prepare(
        source=MediaEntry.Source.TEAMS, reference_id=f"{recording.integration_id}:{recording.recording_id}",
        owner=owner, name=entry_name(meeting, recording), tags="Teams")
    Recording.objects.filter(pk=recording.pk).update(entry=entry)
    if entry.is_received:
        return entry
    download = api.recording_content(graph, recording.organizer_id, recording.meeting_id, recording.recording_id,
                                     content_url=recording.content_url, max_resumes=MAX_RESUMES,
                                     on_length=partial(entry_expect, entry))
    entry = entry_receive(entry, stream=lease.beating(download), filename="recording.mp4")
    if download.error is not None and not entry.is_received:
        raise download.error
    return entry


def attach_transcripts(recording, graph, entry, listed=None) -> list:
    """Attach the meeting's transcript of this recording as a WebVTT caption track (once). `listed`: the
    meeting's transcripts as known already (Microsoft is asked for the list when None). Returns notes for
    the ledger on transcripts that could not be used (an empty one, when nobody spoke, say)."""
    if listed is None:
        listed = api.transcripts(graph, recording.organizer_id, recording.meeting_id)
    transcripts = [transcript for transcript in listed
                   if not recording.content_correlation_id
                   or transcript.get("contentCorrelationId") in (None, recording.content_correlation_id)]
    notes = []
    for transcript in transcripts:
        text = api.transcript_content(graph, recording.organizer_id, recording.meeting_id, transcript["id"])
        try:
            caption_add(entry=entry, label="Teams transcript", language="und", content=text,
                        reference_id=f"teams:{transcript['id']}")
        except CaptionError as error:  # the recording is worth having without it
            logger.warning("Transcript %s of recording %s not attached: %s", transcript["id"], recording.pk, error)
            notes.append(f"The Teams transcript could not be attached: {error}")
    if transcripts:  # looked at: an unusable one is not asked for again every round
        Recording.objects.filter(pk=recording.pk).update(transcript_done=True)
    return notes


def _attach_transcripts_noting_problems(recording, graph, entry, listed=None) -> list:
    """attach_transcripts for a new entry, where a problem costs only the transcript (the later rounds look
    again): the notes for the ledger. A refusal shows on the integration's marker (the missing permission)."""
    try:
        return attach_transcripts(recording, graph, entry, listed)
    except INTEGRATION_WIDE as error:
        problem = explain_transcript_error(error)
        record_failure(recording.integration, problem)
        return [f"The Teams transcript was not attached: {problem.message}"]
    except GraphError as error:
        logger.warning("Transcript of recording %s not fetched: %s", recording.pk, error)
        return [f"The Teams transcript was not attached yet ({error}); the next rounds look again."]


def attach_known_transcripts(integration, graph, meeting_id) -> None:
    """Attach the meeting's known transcripts to its recordings that are ready without one (a transcript
    announced after its recording arrived). A recording not ready yet gets them from its ingest."""
    ready = integration.recordings.filter(meeting_id=meeting_id, state=Recording.State.READY, transcript_done=False,
                                          entry__isnull=False).select_related("entry", "integration")
    for recording in ready:
        notes = _attach_transcripts_noting_problems(recording, graph, recording.entry, known_transcripts(recording))
        if notes:
            recording.add_note("\n".join(notes))


def look_for_late_transcripts(integration, graph):
    """A transcript may appear after its recording: recent ready recordings without one are looked for again,
    with getAllTranscripts for their organizers (20 to a $batch, not a request per recording), and the
    transcripts found are attached. A lookup that fails costs only those transcripts this round."""
    if not integration.transcription:
        return
    recent = list(integration.recordings.filter(
        state=Recording.State.READY, transcript_done=False, entry__isnull=False,
        recorded_at__gte=timezone.now() - TRANSCRIPT_WAIT).select_related("entry"))
    if not recent:
        return
    since = min(recording.recorded_at for recording in recent) - LATE_LISTING  # transcription may start first
    if not learn_transcripts(integration, graph, sorted({recording.organizer_id for recording in recent}),
                             since=since):
        return  # refused: the marker says why
    for recording in recent:
        known = known_transcripts(recording)
        if not known:
            continue
        try:
            notes = attach_transcripts(recording, graph, recording.entry, known)
        except INTEGRATION_WIDE as error:
            record_failure(integration, explain_transcript_error(error))
            return  # every other lookup would be refused alike
        except GraphError as error:  # the meeting was deleted, say
            logger.warning("Late transcript of recording %s not fetched: %s", recording.pk, error)
            continue
        if notes:
            recording.add_note("\n".join(notes))


def _retry_delay(attempts):
    return timedelta(minutes=5) * (2 ** max(0, attempts - 1))


def _fail(recording, reason, *, owner=None, final=False):
    """Mark the row failed with `reason`, after the owner rules' steps when they were taken (`owner`)."""
    attempts = recording.attempts
    final = final or attempts >= Recording.MAX_ATTEMPTS
    _ours(recording).update(
        state=Recording.State.FAILED, reason="\n".join([*(owner.steps if owner else ()), reason]),
        owner_rule=owner.rule if owner else Recording.OwnerRule.NONE, lease_until=None,
        attempts=Recording.MAX_ATTEMPTS if final else attempts,
        next_attempt_at=None if final else timezone.now() + _retry_delay(attempts))
    recording.refresh_from_db()
    return recording


def _ours(recording):
    """The row, while this worker holds it (a worker taken for dead must not overwrite its successor's)."""
    return Recording.objects.filter(pk=recording.pk, lease_until=recording.lease_until)


def _release(recording, reason, *, wait=HOLD_BACK):
    """Give the recording back untouched (not its fault). It is queued again only after `wait`, so while the
    whole integration has a problem (billing, say) each recording is tried every 15 minutes."""
    _ours(recording).update(
        state=Recording.State.DISCOVERED, reason=reason, owner_rule=Recording.OwnerRule.NONE, lease_until=None,
        attempts=max(0, recording.attempts - 1),
        queued_until=timezone.now() + wait)
    recording.refresh_from_db()
    return recording


def _hold_downloads(integration, recording):
    """After a 402 (billing) every download of the integration would be refused alike: its other waiting
    recordings, tasks already queued for them included, are not tried before the grace period is over."""
    until = timezone.now() + HOLD_BACK
    integration.recordings.exclude(pk=recording.pk).filter(
        Q(state=Recording.State.DISCOVERED) | Q(state=Recording.State.FAILED, next_attempt_at__lt=until)
    ).update(next_attempt_at=until)


def retry(recordings) -> int:
    """An administrator's retry: failed recordings are taken up again at the next round, with fresh tries."""
    return recordings.filter(state=Recording.State.FAILED).update(
        state=Recording.State.DISCOVERED, attempts=0, next_attempt_at=None, lease_until=None)
