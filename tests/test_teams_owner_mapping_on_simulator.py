"""Issue 9, parts 2 and 3 on the local Microsoft simulator (real token, Graph client and sync engine over
HTTPS): the dry run shows an ambiguous owner and changes nothing; the real round gives the recording to the
default user, says why on the ledger row, and e-mails the organizer once."""
import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from integrations import services
from integrations.models import Recording, TeamsIntegration
from integrations.teams import preview
from mediaspace.models import MediaEntry
from tests.test_teams_beyond_on_simulator import a_round, contoso, people  # noqa: F401

pytestmark = pytest.mark.django_db


def test_an_owner_matching_two_portal_users_is_previewed_then_held_by_the_default_user_and_told(
        contoso, people, make_user):  # noqa: F811
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
    assert "More than one portal user matches by both: 'ann.lee', 'a.lee'." in recording.reason
    assert [message.to for message in mail.outbox] == [["ann.lee@contoso.edu"]]
    assert recording.entry.name in mail.outbox[0].body and "Teams Archive" in mail.outbox[0].subject
