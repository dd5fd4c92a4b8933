"""integrations/teams/services.py: the console's rules, called by the admin's pages and actions alike.

The pages themselves are tested in tests/test_teams_admin.py and tests/test_teams_expiry_and_guests.py;
here each rule answers without a request.
"""
import pytest

from integrations.teams import participants, services
from integrations.teams.models import TeamsIntegration
from tests.teams_fakes import BOB, Lecture, participant
from tests.test_teams_expiry_and_guests import granted, ingest_one

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("microsoft_endpoints")]

SEED_DELETE_REFUSED = "Please change integration status to 'Disable' in order to delete it."


def test_sync_now_refuses_a_disabled_integration_and_queues_nothing(integration, monkeypatch):
    queued = []
    monkeypatch.setattr(services, "queue_sync", queued.append)
    integration.enabled = False
    integration.save()

    with pytest.raises(services.IntegrationError, match="is disabled: enable it to sync."):
        services.integration_sync(integration=integration)
    assert queued == []


def test_sync_now_queues_an_enabled_integration(integration, monkeypatch):
    queued = []
    monkeypatch.setattr(services, "queue_sync", queued.append)

    services.integration_sync(integration=integration)

    assert queued == [integration.pk]


def test_an_enabled_integration_cannot_be_deleted_with_the_seeds_message(integration):
    with pytest.raises(services.IntegrationError, match=SEED_DELETE_REFUSED):
        services.integration_check_deletable(integration=integration)
    with pytest.raises(services.IntegrationError, match=SEED_DELETE_REFUSED):
        services.integration_delete(integration=integration)
    assert TeamsIntegration.objects.filter(pk=integration.pk).exists()

    integration.enabled = False
    services.integration_check_deletable(integration=integration)  # no refusal once disabled


def test_permissions_are_applied_only_as_planned(integration, graph, ms, portal_users):
    result = ingest_one(integration, graph, ms, Lecture(attendees=[participant(BOB, "presenter")]))
    integration.presenter_permission = TeamsIntegration.Permission.CO_EDITORS
    integration.save()
    seen = participants.fingerprint(participants.plan(integration))

    with pytest.raises(services.IntegrationError, match="changed meanwhile"):
        services.integration_apply_permissions(integration=integration, plan="0" * 16)
    assert granted(result.entry) == {"bob.ray": (True, False, False)}  # a stale plan changes nothing

    assert services.integration_apply_permissions(integration=integration, plan=seen) == 1
    assert granted(result.entry) == {"bob.ray": (False, True, False)}
