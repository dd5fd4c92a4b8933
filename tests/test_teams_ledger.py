"""The ledger's claim: a recording is taken by one worker at a time, and a dead worker's is taken over."""
from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.teams.models import Recording, TeamsIntegration
from integrations.teams.sync import claim, retry
from mediaspace.ingest import entry_prepare
from mediaspace.models import MediaEntry
from tests.microsoft import CLIENT_ID, TENANT_ID

pytestmark = pytest.mark.django_db


@pytest.fixture
def recording():
    integration = TeamsIntegration.objects.create(name="Contoso", tenant_id=TENANT_ID, client_id=CLIENT_ID,
                                                  client_secret="x" * 40, enabled=True)
    return Recording.objects.create(integration=integration, recording_id="rec-1", meeting_id="meeting-1",
                                    organizer_id="user-1")


def downloading(recording, owner, *, lease_ago, heartbeat_ago):
    entry, _created = entry_prepare(source=MediaEntry.Source.TEAMS, reference_id="x:rec-1", owner=owner, name="M")
    now = timezone.now()
    MediaEntry.objects.filter(pk=entry.pk).update(
        status=MediaEntry.Status.IMPORTING, heartbeat_at=now - timedelta(seconds=heartbeat_ago))
    Recording.objects.filter(pk=recording.pk).update(
        state=Recording.State.DOWNLOADING, entry=entry, lease_until=now - timedelta(seconds=lease_ago))


def test_a_new_recording_is_claimed_once(recording):
    first, second = claim(recording.pk), claim(recording.pk)
    assert first.state == Recording.State.DOWNLOADING and first.attempts == 1
    assert second is None


def test_a_download_whose_worker_reports_progress_is_not_taken_over(recording, make_user):
    downloading(recording, make_user(), lease_ago=3600, heartbeat_ago=1)
    assert claim(recording.pk) is None


def test_a_download_whose_worker_went_quiet_is_taken_over(recording, make_user, settings):
    settings.MEDIASPACE_INGEST_LEASE_SECONDS = 60
    downloading(recording, make_user(), lease_ago=1, heartbeat_ago=600)
    taken = claim(recording.pk)
    assert taken is not None and taken.attempts == 1


def test_a_claimed_recording_before_its_download_is_held_for_the_claim_lease(recording):
    claim(recording.pk)
    assert claim(recording.pk) is None
    Recording.objects.filter(pk=recording.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert claim(recording.pk) is not None  # its worker died before the download began


def test_failed_recordings_wait_for_their_next_attempt_and_stop_at_the_limit(recording):
    now = timezone.now()
    Recording.objects.filter(pk=recording.pk).update(state=Recording.State.FAILED, attempts=1,
                                                     next_attempt_at=now + timedelta(minutes=5))
    assert claim(recording.pk) is None
    Recording.objects.filter(pk=recording.pk).update(next_attempt_at=now - timedelta(seconds=1))
    assert claim(recording.pk) is not None
    Recording.objects.filter(pk=recording.pk).update(state=Recording.State.FAILED,
                                                     attempts=Recording.MAX_ATTEMPTS)
    assert claim(recording.pk) is None


def test_an_administrators_retry_gives_fresh_tries(recording):
    Recording.objects.filter(pk=recording.pk).update(state=Recording.State.FAILED, attempts=Recording.MAX_ATTEMPTS)
    assert retry(Recording.objects.all()) == 1
    assert claim(recording.pk).attempts == 1


def test_ready_and_discarded_recordings_are_never_claimed(recording):
    for state in (Recording.State.READY, Recording.State.DISCARDED):
        Recording.objects.filter(pk=recording.pk).update(state=state)
        assert claim(recording.pk) is None


def test_the_ledger_counts_its_recordings_by_state(recording):
    # The ledger's subtitle and the Sync now page show the same counts (one query for both).
    Recording.objects.create(integration=recording.integration, recording_id="rec-2", meeting_id="meeting-2",
                             organizer_id="user-1", state=Recording.State.READY)
    Recording.objects.create(integration=recording.integration, recording_id="rec-3", meeting_id="meeting-3",
                             organizer_id="user-1", state=Recording.State.READY)

    assert Recording.objects.state_counts() == {Recording.State.DISCOVERED: 1, Recording.State.READY: 2}
    assert Recording.objects.filter(recording_id="rec-2").state_counts() == {Recording.State.READY: 1}
