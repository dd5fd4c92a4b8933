"""Issue 9, part 3: ambiguity is explicit.

When the owner look-up finds more than one portal user, or falls back to the default user, the ledger row
says which rule applied and why (also in the Recording admin); with no default user the recording fails
instead of going to a wrong person. The organizer, when their e-mail is known, is told once which entry it is
and who holds it; a mail server that fails costs only the e-mail.
"""
import logging
import re

import pytest
from django.core import mail
from django.urls import reverse

from integrations.teams.models import Recording, TeamsIntegration
from integrations.teams import sync
from mediaspace.models import MediaEntry
from tests.teams_fakes import ANN, BOB, Lecture, discovered, entry_files, graph_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("microsoft_endpoints")]


@pytest.fixture
def archive(make_user, integration):
    """The integration's default user."""
    user = make_user(username="teams.archive", email="archive@contoso.edu", first_name="Teams", last_name="Archive")
    integration.default_user = user
    integration.save()
    return user


@pytest.fixture
def two_anns(make_user, integration):
    """Two portal users match Ann by user ID or e-mail."""
    integration.find_user_by = TeamsIntegration.FindUserBy.BOTH
    integration.save()
    return [make_user(username="ann.lee", email="ann@old-mail.example.org"),
            make_user(username="a.lee", email="ann.lee@contoso.edu")]


def ingest(integration, graph, ms):
    return sync.ingest(discovered(integration, graph, ms).pk, graph=graph)


def test_an_ambiguous_owner_goes_to_the_default_user_and_the_row_says_which_rule_and_why(
        integration, graph, ms, lecture, archive, two_anns, admin_client):
    recording = ingest(integration, graph, ms)

    assert recording.state == Recording.State.READY and recording.entry.owner == archive
    assert recording.owner_rule == Recording.OwnerRule.DEFAULT_AMBIGUOUS
    assert recording.reason.splitlines()[:3] == [
        "Portal user ID 'ann.lee' (from the UPN 'ann.lee@contoso.edu', remove postfix).",
        "More than one portal user matches by both: 'ann.lee', 'a.lee'.",
        "Using the default user 'teams.archive': with more than one match the recording is not given to any of them.",
    ]
    changelist = reverse("admin:integrations_recording_changelist")
    page = admin_client.get(changelist).content.decode()
    assert "⚠ default user (more than one match)" in page
    assert admin_client.get(changelist, {"owner_rule": "ambiguous"}).context["cl"].result_count == 1
    assert admin_client.get(changelist, {"owner_rule": "default"}).context["cl"].result_count == 1
    detail = admin_client.get(reverse("admin:integrations_recording_change", args=[recording.pk])).content.decode()
    assert "More than one portal user matches by both: &#x27;ann.lee&#x27;, &#x27;a.lee&#x27;." in detail


def test_the_organizer_is_told_once_which_entry_the_default_user_holds(integration, graph, ms, lecture, archive,
                                                                        two_anns, settings):
    settings.MEDIASPACE_SITE_URL = "https://portal.example.edu/"
    recording = ingest(integration, graph, ms)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    entry = recording.entry
    assert message.to == ["ann.lee@contoso.edu"]
    assert message.subject == f"Your Teams recording “{entry.name}” is held by Teams Archive"
    assert entry.name.startswith("Physics 101 (")
    assert f"“{entry.name}”" in message.body
    assert f"https://portal.example.edu/media/{entry.pk}/" in message.body
    assert "held by Teams Archive (user teams.archive)" in message.body
    assert "more than one portal account matches you" in message.body
    assert recording.reason.splitlines()[-1] == "E-mailed ann.lee@contoso.edu that teams.archive holds the entry."

    # Neither another ingest nor a second worker finishing the same row sends it again: the transition to
    # ready is the once.
    assert sync.ingest(recording.pk, graph=graph) is None
    claimed = Recording.objects.select_related("integration", "entry").get(pk=recording.pk)
    sync._ingest_claimed(claimed, graph)
    assert len(mail.outbox) == 1


def test_a_missing_owner_given_to_the_default_user_is_told_at_the_upn_when_teams_has_no_mail(
        integration, graph, ms, archive):
    ann = {**ANN, "mail": None}
    ms.users = [ann, BOB]
    ms.add_lecture(Lecture(ann))
    integration.missing_user = TeamsIntegration.MissingUser.DEFAULT
    integration.save()

    recording = ingest(integration, graph, ms)

    assert recording.entry.owner == archive and recording.owner_rule == Recording.OwnerRule.DEFAULT_NO_MATCH
    assert "Using the default user 'teams.archive': the rule “In case the user doesn't exist” is “Use default " \
           "user”." in recording.reason
    assert [message.to for message in mail.outbox] == [["ann.lee@contoso.edu"]]
    assert "no portal account matches you" in mail.outbox[0].body


def test_nobody_is_told_when_the_organizers_address_is_unknown_and_the_row_says_so(integration, graph, ms, archive):
    ann = graph_user(ANN["id"], "Ann Lee", "annlee", mail=None)
    ms.users = [ann]
    ms.add_lecture(Lecture(ann))
    integration.missing_user = TeamsIntegration.MissingUser.DEFAULT
    integration.save()

    recording = ingest(integration, graph, ms)

    assert recording.state == Recording.State.READY and recording.entry.owner == archive
    assert not mail.outbox
    assert "The organizer's e-mail address is not known" in recording.reason


@pytest.mark.parametrize("rule", [Recording.OwnerRule.FOUND, Recording.OwnerRule.CREATED])
def test_no_e_mail_when_the_owner_was_found_or_created(integration, graph, ms, lecture, archive, make_user, rule):
    if rule == Recording.OwnerRule.FOUND:
        make_user(username="ann.lee", email="ann.lee@contoso.edu")

    recording = ingest(integration, graph, ms)

    assert recording.state == Recording.State.READY and recording.entry.owner.username == "ann.lee"
    assert not mail.outbox
    assert recording.owner_rule == rule


def test_ambiguity_without_a_default_user_fails_with_the_reason_and_gives_it_to_nobody(
        integration, graph, ms, lecture, two_anns):
    recording = ingest(integration, graph, ms)

    assert recording.state == Recording.State.FAILED and recording.entry is None
    assert recording.owner_rule == Recording.OwnerRule.AMBIGUOUS
    assert "More than one portal user matches by both: 'ann.lee', 'a.lee'." in recording.reason
    assert recording.reason.endswith(
        "More than one portal user matches the recording's owner, and no default user is set.")
    assert not MediaEntry.objects.exists() and not ms.content_requests() and entry_files() == []
    assert not mail.outbox


def test_a_mail_server_that_fails_does_not_fail_the_recording(integration, graph, ms, lecture, archive, two_anns,
                                                             settings, caplog):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2  # nothing listens there

    with caplog.at_level(logging.ERROR, logger="integrations.teams.owner_mail"):
        recording = ingest(integration, graph, ms)

    assert recording.state == Recording.State.READY and recording.entry.owner == archive
    assert "The e-mail to ann.lee@contoso.edu could not be sent" in recording.reason.splitlines()[-1]
    assert "could not be sent" in caplog.text


@pytest.mark.parametrize("rule, label, default, ambiguous", [
    (Recording.OwnerRule.DEFAULT_AMBIGUOUS, "⚠ default user (more than one match)", 1, 1),
    (Recording.OwnerRule.DEFAULT_NO_MATCH, "⚠ default user (no match)", 1, 0),
    (Recording.OwnerRule.AMBIGUOUS, "more than one match, no default user", 0, 1),
    (Recording.OwnerRule.CREATED, "created", 0, 0),
    (Recording.OwnerRule.NO_MATCH, "—", 0, 0),
])
def test_the_ledgers_owner_rule_column_and_filter_read_the_rule_not_the_reason(integration, admin_client, rule,
                                                                               label, default, ambiguous):
    Recording.objects.create(integration=integration, recording_id="rec-1", meeting_id="m", organizer_id="ann",
                             owner_rule=rule, reason="Worded for people: Using the default user, Found portal user")
    changelist = reverse("admin:integrations_recording_changelist")

    page = admin_client.get(changelist).content.decode()
    (cell,) = re.findall(r'<td class="field-owner_rule\w*">(.*?)</td>', page)
    assert re.sub(r"<[^>]+>", "", cell) == label
    assert admin_client.get(changelist, {"owner_rule": "default"}).context["cl"].result_count == default
    assert admin_client.get(changelist, {"owner_rule": "ambiguous"}).context["cl"].result_count == ambiguous
