"""Sync now, the recordings ledger in the admin, and manage.py teams_sync."""
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from integrations.teams.models import Recording, TeamsIntegration
from tests.microsoft import CLIENT_ID, TENANT_ID
from tests.queue import queue_size, take_queued

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(client_for, make_user):
    return client_for(make_user(username="root", is_staff=True, is_superuser=True))


@pytest.fixture
def integration():
    return TeamsIntegration.objects.create(name="Contoso", tenant_id=TENANT_ID, client_id=CLIENT_ID,
                                           client_secret="x" * 40, enabled=True)


def test_sync_now_queues_a_sync_of_the_integration(admin, integration):
    page = admin.get(reverse("admin:integrations_teamsintegration_sync", args=[integration.pk]))
    assert page.status_code == 200 and b"Sync now" in page.content
    assert queue_size() == 0  # looking is not syncing

    admin.post(reverse("admin:integrations_teamsintegration_sync", args=[integration.pk]))

    assert [(task["func"], task["args"]) for task in take_queued()] == [
        ("integrations.teams.tasks.sync_integration", (integration.pk,))]


def test_sync_now_of_a_disabled_integration_says_so_and_queues_nothing(admin, integration):
    integration.enabled = False
    integration.save()
    response = admin.post(reverse("admin:integrations_teamsintegration_sync", args=[integration.pk]), follow=True)
    assert "is disabled: enable it to sync" in response.content.decode()
    assert queue_size() == 0


def test_sync_now_needs_change_permission(client_for, make_user, integration):
    viewer = make_user(is_staff=True)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_teamsintegration"))
    response = client_for(viewer).post(reverse("admin:integrations_teamsintegration_sync", args=[integration.pk]))
    assert response.status_code == 403
    assert queue_size() == 0


def test_the_ledger_lists_recordings_with_state_and_reason_and_retries_failed_ones(admin, integration):
    failed = Recording.objects.create(integration=integration, recording_id="r1", meeting_id="m1", organizer_id="u1",
                                      organizer_upn="ann@contoso.com", state=Recording.State.FAILED,
                                      attempts=Recording.MAX_ATTEMPTS,
                                      reason="Microsoft no longer has this recording (it expired or was deleted).")
    changelist = reverse("admin:integrations_recording_changelist")
    page = admin.get(changelist).content.decode()
    assert "ann@contoso.com" in page and "Microsoft no longer has this recording" in page

    admin.post(changelist, {"action": "retry_selected", "_selected_action": [failed.pk]})

    failed.refresh_from_db()
    assert (failed.state, failed.attempts) == (Recording.State.DISCOVERED, 0)
    assert "integrations.teams.tasks.sync_integration" in [task["func"] for task in take_queued()]


def test_the_ledger_cannot_be_added_to_by_hand(admin):
    assert admin.get(reverse("admin:integrations_recording_add")).status_code == 403


def test_teams_sync_refuses_bad_arguments(integration):
    with pytest.raises(CommandError, match="not 'yesterday'"):
        call_command("teams_sync", since="yesterday")
    with pytest.raises(CommandError, match="no Teams integration with id 999"):
        call_command("teams_sync", integration=999)
    integration.enabled = False
    integration.save()
    with pytest.raises(CommandError, match="is disabled"):
        call_command("teams_sync", integration=integration.pk)


@pytest.mark.parametrize("since", ["2024-13-45", "2024-02-30", "0001-01-01", "9999-12-31"])
def test_teams_sync_refuses_an_impossible_since_date_with_a_clear_message(integration, since):
    with pytest.raises(CommandError, match=f"not '{since}'"):
        call_command("teams_sync", since=since)  # as a caller passes it
    with pytest.raises(CommandError, match=f"--since.*not '{since}'"):
        call_command("teams_sync", "--since", since)  # as the command line passes it: through argparse's type
    assert not Recording.objects.exists()


def test_teams_sync_on_the_command_line_exits_non_zero_without_a_traceback():
    import subprocess
    import sys
    from pathlib import Path

    done = subprocess.run([sys.executable, "manage.py", "teams_sync", "--since", "2024-13-45"],
                          cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True, timeout=60)

    assert done.returncode != 0
    assert "not '2024-13-45'" in done.stderr and "Traceback" not in done.stderr


def test_teams_sync_with_no_enabled_integration_does_nothing(integration):
    integration.enabled = False
    integration.save()
    out = StringIO()
    call_command("teams_sync", stdout=out)
    assert out.getvalue().strip() == "Done."
