"""Issue 9, part 4: owners decide what stays (keep or discard), and a discarded recording never comes back."""
import pytest
from django.core import mail
from django.urls import reverse

from integrations.teams.models import Recording
from integrations.teams import sync
from mediaspace.models import MediaEntry
from tests.teams_fakes import discover, discovered, entry_files

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("microsoft_endpoints")]


@pytest.fixture
def asking(integration):
    integration.ask_owners = True
    integration.save()
    return integration


def ready_recording(integration, graph, ms):
    return sync.ingest(discovered(integration, graph, ms).pk, graph=graph)


def test_without_the_option_nobody_is_asked(integration, graph, ms, lecture, portal_users, client_for):
    recording = ready_recording(integration, graph, ms)

    assert recording.decision == "" and not mail.outbox
    assert not client_for(portal_users["ann.lee"]).get(reverse("mediaspace:my_media")).context["notices"]


def test_the_owner_is_asked_once_by_e_mail_and_in_my_media(asking, graph, ms, lecture, portal_users, client_for):
    recording = ready_recording(asking, graph, ms)
    sync.ingest(recording.pk, graph=graph)  # nothing happens twice

    assert recording.decision == Recording.Decision.PENDING
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ann.lee@contoso.edu"]
    assert recording.entry.name in mail.outbox[0].subject and "/my-media/" in mail.outbox[0].body
    page = client_for(portal_users["ann.lee"]).get(reverse("mediaspace:my_media"))
    [notice] = page.context["notices"]
    assert recording.entry.name in notice.text
    text = page.content.decode()
    assert reverse("integrations:keep", args=[recording.pk]) in text
    assert reverse("integrations:discard", args=[recording.pk]) in text


def test_keep_keeps_and_the_notice_goes(asking, graph, ms, lecture, portal_users, client_for):
    recording = ready_recording(asking, graph, ms)
    client = client_for(portal_users["ann.lee"])

    answer = client.post(reverse("integrations:keep", args=[recording.pk]))

    recording.refresh_from_db()
    assert answer.status_code == 302 and recording.decision == Recording.Decision.KEPT
    assert recording.entry.status == MediaEntry.Status.READY and "Kept by ann.lee" in recording.reason
    assert not client.get(reverse("mediaspace:my_media")).context["notices"]


def test_discard_deletes_the_entry_and_the_next_sync_does_not_bring_it_back(
        asking, graph, ms, lecture, portal_users, client_for):
    recording = ready_recording(asking, graph, ms)
    client = client_for(portal_users["ann.lee"])

    answer = client.post(reverse("integrations:discard", args=[recording.pk]))

    recording.refresh_from_db()
    assert answer.status_code == 302 and recording.state == Recording.State.DISCARDED and recording.entry is None
    assert not MediaEntry.objects.exists() and entry_files() == []
    assert "Discarded by ann.lee" in recording.reason
    result, queued = discover(asking, graph)  # Microsoft still lists the recording
    assert result["discovered"] == 0 and queued == []
    assert sync.ingest(recording.pk, graph=graph) is None and not MediaEntry.objects.exists()


def test_only_the_owner_decides_and_only_by_a_form(asking, graph, ms, lecture, portal_users, client_for):
    recording = ready_recording(asking, graph, ms)
    bob = client_for(portal_users["bob.ray"])

    assert bob.post(reverse("integrations:discard", args=[recording.pk])).status_code == 404
    ann = client_for(portal_users["ann.lee"])
    assert ann.get(reverse("integrations:discard", args=[recording.pk])).status_code == 405
    assert MediaEntry.objects.count() == 1


def test_an_administrator_can_discard_from_the_ledger(asking, graph, ms, lecture, portal_users, admin_client):
    recording = ready_recording(asking, graph, ms)

    admin_client.post(reverse("admin:integrations_recording_changelist"),
                      {"action": "discard_selected", "_selected_action": [recording.pk]})

    recording.refresh_from_db()
    assert recording.state == Recording.State.DISCARDED and not MediaEntry.objects.exists()


def test_a_broken_mail_server_does_not_fail_the_recording(asking, graph, ms, lecture, portal_users, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 1  # nothing listens there

    recording = ready_recording(asking, graph, ms)

    assert recording.state == Recording.State.READY and recording.decision == Recording.Decision.PENDING
