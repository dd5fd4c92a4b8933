"""Issue 9 on the local Microsoft simulator: the real token, Graph client and sync engine (tasks run inline)
against Microsoft's identity platform and Graph as the simulator serves them over HTTPS."""
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from integrations import services
from integrations.models import Recording, TeamsIntegration
from integrations.teams import connection, decisions, sync
from mediaspace.models import Collaborator, MediaEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def contoso(sim, monkeypatch):
    monkeypatch.setattr(connection, "_providers", {})  # no token kept from another simulator
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
