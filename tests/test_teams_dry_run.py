"""Issue 9, part 2: `manage.py teams_sync --dry-run` lists what the next sync would ingest (meeting, date, owner
and why, collaborators with their permission) and changes nothing: no ledger row, entry, user, file or
watermark, and no recording or transcript content asked from Microsoft."""
import io
import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from integrations.teams.models import Recording, TeamsIntegration
from integrations.teams import preview, sync
from mediaspace.models import Collaborator, MediaEntry, Publication
from tests.teams_fakes import ANN, BOB, CAROL, DAVE, Lecture, fake_sign_in, media_files

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("microsoft_endpoints")]


@pytest.fixture
def tenant(ms, integration, make_user):
    """Ann's and Carol's portal users exist, Bob's and Dave's do not (the rules create them). Microsoft lists
    four recordings: two new ones, one already ready in the portal, one that failed and is due again."""
    for name in ("ann.lee", "carol.diaz"):
        make_user(username=name, email=f"{name}@contoso.edu")
    ms.users = [ANN, BOB, CAROL, DAVE]
    hours = timezone.now() - timedelta(hours=5)
    lectures = {
        "physics": Lecture(ANN, number=1, subject="Physics 101", start="2026-11-24T10:00:00Z",
                           created=hours + timedelta(hours=2)),
        "chemistry": Lecture(BOB, number=2, subject="Chemistry", start="2026-11-24T13:00:00Z",
                             created=hours + timedelta(hours=3)),
        "ready": Lecture(ANN, number=3, subject="Already here", created=hours),
        "retry": Lecture(CAROL, number=4, subject="Failed once", created=hours + timedelta(hours=1)),
    }
    for lecture in lectures.values():
        ms.add_lecture(lecture)
    for key, state in (("ready", Recording.State.READY), ("retry", Recording.State.FAILED)):
        lecture = lectures[key]
        Recording.objects.create(
            integration=integration, recording_id=lecture.recording_id, meeting_id=lecture.meeting_id,
            organizer_id=lecture.organizer["id"], organizer_upn=lecture.organizer["userPrincipalName"],
            organizer_name=lecture.organizer["displayName"], organizer_mail=lecture.organizer["mail"] or "",
            content_url=lecture.content_url, recorded_at=sync.parse_datetime(lecture.recording["createdDateTime"]),
            state=state, attempts=1, next_attempt_at=timezone.now() - timedelta(minutes=1) if key == "retry" else None)
    integration.synced_until = timezone.now() - timedelta(hours=1)
    integration.save()
    return lectures


def snapshot(integration):
    integration.refresh_from_db()
    return {
        "ledger": list(Recording.objects.order_by("pk").values()),
        "users": list(get_user_model().objects.order_by("pk").values_list("pk", "username")),
        "entries": MediaEntry.objects.count(), "collaborators": Collaborator.objects.count(),
        "publications": Publication.objects.count(), "files": media_files(),
        "integration": (integration.synced_until, integration.last_error, integration.last_success_at,
                        integration.sync_lock_until),
    }


def content_or_transcript_requests(ms):
    return [path for path in ms.paths() if re.search(r"/(content|transcripts)(/|$)", path)]


def test_the_plan_lists_what_the_next_round_would_ingest_in_its_order(integration, graph, ms, tenant):
    planned = preview.plan(integration, graph=graph)

    assert planned.listed == 4 and planned.known == 1  # "Already here" is ready in the portal
    assert [(each.subject, each.new) for each in planned.recordings] == [
        ("Failed once", False), ("Physics 101", True), ("Chemistry", True)]  # closest to expiry first
    failed, physics, chemistry = planned.recordings
    assert physics.owner_summary == "ann.lee (found)"
    assert physics.owner.steps == ["Portal user ID 'ann.lee' (from the UPN 'ann.lee@contoso.edu', remove postfix).",
                                   "Found portal user 'ann.lee' by user id."]
    assert chemistry.owner_summary == "a new portal user (will create)"
    assert chemistry.owner.steps[-1] == "Would create portal user 'bob.ray'."
    assert [str(person) for person in physics.collaborators] == [
        "Carol Diaz (coorganizer): co-editor, co-publisher -> carol.diaz",
        "Bob Ray (presenter): co-viewer -> bob.ray (will create)",
        "Dave Kim (attendee): co-publisher -> dave.kim (will create)",
        "Eve Guest (attendee): no permission - a guest from another tenant (guests get none unless the integration "
        "gives them permissions)",
    ]
    assert physics.name.startswith("Physics 101 (2026-11-24 ")
    # Bob owns "Chemistry" (his portal user would be created): he is no collaborator of his own entry.
    assert [person.name for person in chemistry.collaborators] == ["Carol Diaz", "Dave Kim", "Eve Guest"]
    assert [person.name for person in failed.collaborators] == ["Bob Ray", "Dave Kim", "Eve Guest"]  # Carol owns it


def test_dry_run_changes_nothing_and_asks_for_no_content(integration, ms, tenant):
    fake_sign_in(ms)
    before = snapshot(integration)
    out, err = io.StringIO(), io.StringIO()

    call_command("teams_sync", "--dry-run", "--integration", str(integration.pk), stdout=out, stderr=err)

    assert snapshot(integration) == before
    assert content_or_transcript_requests(ms) == [] and ms.content_requests() == []
    assert all(call.request.method == "GET" or call.request.url.endswith("/$batch") for call in ms.calls)
    assert ms.paths(r"/onlineMeetings/[^/]+$")  # it did read the meetings
    text = out.getvalue()
    assert err.getvalue() == ""
    assert "4 listed by Microsoft, 1 already in the portal's ledger. The next sync would ingest 3 (2 new, 1 " \
           "waiting in the ledger)." in text
    assert "- Physics 101 (" in text and "organizer ann.lee@contoso.edu" in text
    assert "owner: ann.lee (found)" in text and "Found portal user 'ann.lee' by user id." in text
    assert "- Chemistry (" in text and "Would create portal user 'bob.ray'." in text
    assert "[in the ledger: Failed]" in text
    assert "Carol Diaz (coorganizer): co-editor, co-publisher -> carol.diaz" in text
    assert "Already here" not in text
    assert "dry run done, nothing changed" in text

    # The dry run really found what a real round then does.
    queued = []
    result = sync.run(integration, queue=queued.append)
    assert result == {"discovered": 2, "queued": 3}


def test_dry_run_shows_an_owner_that_cannot_be_resolved_and_a_default_user(integration, ms, tenant, make_user):
    fake_sign_in(ms)
    make_user(username="carol2", email="bob.ray@contoso.edu")
    make_user(username="bob.ray", email="bob@elsewhere.example.org")
    integration.find_user_by = TeamsIntegration.FindUserBy.BOTH
    integration.save()
    out = io.StringIO()

    call_command("teams_sync", "--dry-run", stdout=out)

    text = out.getvalue()
    assert "More than one portal user matches by both: 'carol2', 'bob.ray'." in text
    assert "owner: nobody (cannot: More than one portal user matches the recording's owner, and no default user " \
           "is set.) - the recording would fail" in text

    integration.default_user = make_user(username="teams.archive")
    integration.save()
    out = io.StringIO()
    call_command("teams_sync", "--dry-run", stdout=out)
    assert "owner: teams.archive (default user: more than one portal user matches)" in out.getvalue()
    assert not Recording.objects.filter(recording_id=tenant["chemistry"].recording_id).exists()


def test_dry_run_of_a_disabled_integration_is_allowed_and_says_so(integration, ms, tenant):
    fake_sign_in(ms)
    integration.enabled = False
    integration.save()
    out = io.StringIO()

    call_command("teams_sync", "--dry-run", "--integration", str(integration.pk), stdout=out)

    assert "The integration is disabled: nothing is ingested until it is enabled." in out.getvalue()
    with pytest.raises(CommandError, match="disabled"):
        call_command("teams_sync", "--integration", str(integration.pk), stdout=io.StringIO())


def test_dry_run_since_a_date_looks_from_that_date(integration, graph, ms, tenant):
    fake_sign_in(ms)
    out = io.StringIO()

    call_command("teams_sync", "--dry-run", "--since", "2026-01-31", stdout=out)

    assert "Recordings since 2026-01-31 00:00" in out.getvalue()
    assert "startDateTime=2026-01-31" in " ".join(request["url"] for batch in ms.batches() for request in batch)
    integration.refresh_from_db()
    assert integration.synced_until < timezone.now()  # untouched (a backfill never moves it anyway)


def test_a_problem_of_the_whole_integration_is_reported_and_changes_nothing(integration, ms, tenant):
    fake_sign_in(ms, status=401, body={"error": "invalid_client", "error_description": "AADSTS7000222: The "
                                       "provided client secret keys for app are expired.", "error_codes": [7000222]})
    before = snapshot(integration)
    err = io.StringIO()

    call_command("teams_sync", "--dry-run", stdout=io.StringIO(), stderr=err)

    assert "expired" in err.getvalue().lower()
    assert snapshot(integration) == before
