"""Issue 9 on the local Microsoft simulator: the real token, Graph client and sync engine (tasks run inline)
against Microsoft's identity platform and Graph as the simulator serves them over HTTPS: guests, backfill,
keep and discard, and an owner matching two portal users (dry run first, then the default user and one e-mail)."""
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone

from integrations.teams import services
from integrations.teams.models import Recording, TeamsIntegration
from integrations.teams import api, decisions, preview, sync
from mediaspace.models import Collaborator, MediaEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def contoso(sim, monkeypatch):
    monkeypatch.setattr(api, "_providers", {})  # no token kept from another simulator
    app = sim.add_app()
    return sim, TeamsIntegration.objects.create(
        name="Contoso", tenant_id=sim.tenant_id, client_id=app.client_id, client_secret=app.secret,
        upn_rule=TeamsIntegration.UpnRule.REMOVE_POSTFIX, postfix="@contoso.edu",
        presenter_permission=TeamsIntegration.Permission.CO_EDITORS)


@pytest.fixture
def people(sim, make_user):
    ann = sim.add_user("ann.lee@contoso.edu", "Ann Lee")
    bob = sim.add_user("bob.ray@contoso.edu", "Bob Ray")
    guest = sim.add_guest("eve@fabrikam.example", "Eve Guest")
    portal = {name: make_user(username=name, email=f"{name}@contoso.edu") for name in ("ann.lee", "bob.ray")}
    # A portal user the owner rules would match to the guest (her UPN has no @contoso.edu to remove).
    portal["eve"] = make_user(username="eve@fabrikam.example", email="eve@fabrikam.example")
    return ann, bob, guest, portal


def a_round(integration):
    """A sync round, then every queued recording ingested, as the cluster would."""
    queued = []
    result = sync.run(integration, queue=queued.append)
    for recording_id in queued:
        sync.ingest(recording_id)
    return result


def test_a_guest_from_another_tenant_gets_no_permission(contoso, people):
    sim, integration = contoso
    ann, bob, guest, portal = people
    sim.add_meeting(ann, "Physics", participants=[(bob, "presenter"), (guest, "presenter")], recordings=[50_000])
    services.integration_enable(integration=integration)

    a_round(integration)

    entry = MediaEntry.objects.get()
    assert entry.status == MediaEntry.Status.READY and entry.owner == portal["ann.lee"]
    assert list(Collaborator.objects.filter(entry=entry).values_list("user__username", "is_co_editor")) == [
        ("bob.ray", True)]


def test_a_backfill_brings_the_recordings_made_before_the_integration_was_enabled(contoso, people):
    sim, integration = contoso
    ann, *_ = people
    now = timezone.now()
    sim.add_recording(organizer=ann, subject="Three weeks ago", size=10_000, created=now - timedelta(days=21))
    sim.add_recording(organizer=ann, subject="Two months ago", size=10_000, created=now - timedelta(days=60))
    report = services.integration_enable(integration=integration, backfill_days=30)
    assert report.problem is None, report.problem

    a_round(integration)

    assert [name.split(" (")[0] for name in MediaEntry.objects.values_list("name", flat=True)] == ["Three weeks ago"]


def test_new_recordings_only_leaves_the_old_ones(contoso, people):
    sim, integration = contoso
    ann, *_ = people
    sim.add_recording(organizer=ann, subject="Three weeks ago", size=10_000,
                      created=timezone.now() - timedelta(days=21))
    services.integration_enable(integration=integration, backfill_days=0)

    a_round(integration)

    assert not MediaEntry.objects.exists() and not Recording.objects.exists()


def test_keep_and_discard_and_a_discarded_recording_is_not_ingested_again(contoso, people):
    sim, integration = contoso
    ann, *_ = people
    integration.ask_owners = True
    integration.save()
    sim.add_recording(organizer=ann, subject="Keep me", size=10_000)
    sim.add_recording(organizer=ann, subject="Discard me", size=10_000)
    services.integration_enable(integration=integration)

    a_round(integration)
    by_name = {recording.entry.name.split(" (")[0]: recording for recording in Recording.objects.select_related("entry")}
    assert set(by_name) == {"Keep me", "Discard me"} and len(mail.outbox) == 2
    decisions.keep(by_name["Keep me"], by="ann.lee")
    decisions.discard(by_name["Discard me"], by="ann.lee")
    downloads_before = len([r for r in sim.log if r.path.endswith("/content")])

    a_round(integration)  # Microsoft still lists both
    integration.synced_until = None
    integration.save()
    a_round(integration)

    assert [name.split(" (")[0] for name in MediaEntry.objects.values_list("name", flat=True)] == ["Keep me"]
    assert Recording.objects.get(state=Recording.State.DISCARDED).entry is None
    assert len([r for r in sim.log if r.path.endswith("/content")]) == downloads_before


def test_an_owner_matching_two_portal_users_is_previewed_then_held_by_the_default_user_and_told(
        contoso, people, make_user):
    sim, integration = contoso
    ann, *_ = people
    make_user(username="a.lee", email="ann.lee@contoso.edu")  # a second portal user with Ann's e-mail
    archive = make_user(username="teams.archive", first_name="Teams", last_name="Archive")
    integration.find_user_by = TeamsIntegration.FindUserBy.BOTH
    integration.default_user = archive
    integration.save()
    sim.add_recording(organizer=ann, subject="Two Anns", size=10_000)
    users_before = get_user_model().objects.count()

    planned = preview.plan(integration)

    assert [each.subject for each in planned.recordings] == ["Two Anns"]
    assert planned.recordings[0].owner_summary == "teams.archive (default user: more than one portal user matches)"
    assert not Recording.objects.exists() and not MediaEntry.objects.exists()
    assert get_user_model().objects.count() == users_before
    assert not [request for request in sim.log if request.path.endswith("/content")]

    services.integration_enable(integration=integration)
    a_round(integration)
    a_round(integration)  # a second round changes nothing and tells nobody again

    recording = Recording.objects.select_related("entry__owner").get()
    assert recording.state == Recording.State.READY and recording.entry.owner == archive
    assert recording.owner_rule == Recording.OwnerRule.DEFAULT_AMBIGUOUS
    assert "More than one portal user matches by both: 'ann.lee', 'a.lee'." in recording.reason
    assert [message.to for message in mail.outbox] == [["ann.lee@contoso.edu"]]
    assert recording.entry.name in mail.outbox[0].body and "Teams Archive" in mail.outbox[0].subject
