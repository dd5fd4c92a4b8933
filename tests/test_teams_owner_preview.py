"""Issue 9, part 2: "Preview owner mapping" on the integration's page shows each step the sync's owner rules
would take for a typed UPN or a recent organizer (the sync's own resolve_owner, in a dry run): found, will
create, default user, ambiguous, cannot. Nothing is created or changed; bad input gets a form error."""
import html
import re
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from integrations.teams.models import Recording, TeamsIntegration
from tests.microsoft import CLIENT_ID, TENANT_ID

pytestmark = pytest.mark.django_db
I = TeamsIntegration


@pytest.fixture
def integration():
    return TeamsIntegration.objects.create(
        name="Contoso", tenant_id=TENANT_ID, client_id=CLIENT_ID, client_secret="Zk88Q~preview.Secret-0123456789",
        upn_rule=I.UpnRule.REMOVE_POSTFIX, postfix="@contoso.edu")


def url(integration):
    return reverse("admin:integrations_teamsintegration_owner_preview", args=[integration.pk])


def state():
    return (list(get_user_model().objects.order_by("pk").values_list("pk", "username", "email")),
            list(Recording.objects.order_by("pk").values()), LogEntry.objects.count(),
            list(TeamsIntegration.objects.order_by("pk").values()))


def preview(admin_client, integration, **query):
    before = state()
    response = admin_client.get(url(integration), query)
    assert state() == before, "the preview changed something"
    return response


def steps(response):
    page = response.content.decode()
    listed = re.search(r'<ol id="owner-preview-steps">(.*?)</ol>', page, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", item)).strip()
            for item in re.findall(r"<li[^>]*>(.*?)</li>", listed.group(1), re.S)] if listed else []


def outcome(response):
    return re.search(r'data-outcome="([^"]*)"', response.content.decode()).group(1)


def test_the_page_is_in_the_row_menu_and_on_the_integrations_page(admin_client, integration):
    changelist = admin_client.get(reverse("admin:integrations_teamsintegration_changelist"))
    assert url(integration) in changelist.content.decode()
    change = admin_client.get(reverse("admin:integrations_teamsintegration_change", args=[integration.pk]))
    assert url(integration) in change.content.decode()

    page = admin_client.get(url(integration))

    assert page.status_code == 200 and 'name="upn"' in page.content.decode() and steps(page) == []
    assert "Microsoft is not asked" in page.content.decode()


def test_a_found_user(admin_client, integration, make_user):
    make_user(username="ann.lee", email="ann@somewhere.example.org")

    response = preview(admin_client, integration, upn="ann.lee@contoso.edu")

    assert response.status_code == 200 and outcome(response) == "found"
    assert steps(response) == ["Portal user ID 'ann.lee' (from the UPN 'ann.lee@contoso.edu', remove postfix).",
                               "Found portal user 'ann.lee' by user id."]
    assert "Result: found" in response.content.decode()
    assert "Microsoft was not asked" in response.content.decode()


def test_a_user_that_will_be_created_is_not_created(admin_client, integration):
    response = preview(admin_client, integration, upn="new.person@contoso.edu")

    assert outcome(response) == "would create"
    assert steps(response)[-2:] == ["No portal user matches by user id.", "Would create portal user 'new.person'."]
    assert "Result: will create" in response.content.decode()
    assert not get_user_model().objects.filter(username="new.person").exists()


def test_the_default_user(admin_client, integration, make_user):
    integration.missing_user, integration.default_user = I.MissingUser.DEFAULT, make_user(username="teams.archive")
    integration.save()

    response = preview(admin_client, integration, upn="nobody@contoso.edu")

    assert outcome(response) == "default user"
    assert steps(response)[-1] == ("Using the default user 'teams.archive': the rule “In case the user doesn't "
                                   "exist” is “Use default user”.")
    assert "teams.archive (default user: no portal user matches)" in html.unescape(response.content.decode())


def test_an_ambiguous_match_with_and_without_a_default_user(admin_client, integration, make_user):
    integration.find_user_by = I.FindUserBy.BOTH
    integration.save()
    make_user(username="ann.lee", email="ann@old.example.org")
    make_user(username="a.lee", email="ann.lee@contoso.edu")

    response = preview(admin_client, integration, upn="ann.lee@contoso.edu")

    assert outcome(response) == "cannot"
    assert steps(response)[-2:] == [
        "More than one portal user matches by both: 'ann.lee', 'a.lee'.",
        "More than one portal user matches the recording's owner, and no default user is set."]

    integration.default_user = make_user(username="teams.archive")
    integration.save()
    response = preview(admin_client, integration, upn="ann.lee@contoso.edu")
    assert outcome(response) == "default user"
    assert steps(response)[-1] == ("Using the default user 'teams.archive': with more than one match the recording "
                                   "is not given to any of them.")


def test_a_user_the_portal_cannot_create(admin_client, integration):
    response = preview(admin_client, integration, upn="o'brien@contoso.edu")

    assert response.status_code == 200 and outcome(response) == "cannot"
    assert "The portal cannot create a user named \"o'brien\"" in html.unescape(response.content.decode())


def form_rows(response):
    """Each form row of the page: the field's name and its help lines."""
    form = re.search(r'<form[^>]*id="owner-preview-form">(.*?)</form>', response.content.decode(), re.S).group(1)
    return {name: re.findall(r'<div class="help">(.*?)</div>', row, re.S)
            for row in form.split('<div class="form-row')[1:]
            for name in re.findall(r'name="(\w+)"', row)[:1]}


def test_without_recordings_the_organizer_field_says_to_type_a_upn(admin_client, integration):
    rows = form_rows(admin_client.get(url(integration)))
    assert list(rows) == ["upn", "organizer"]
    assert rows["organizer"][-1] == "No recordings yet: type a UPN."
    assert "No recordings yet: type a UPN." not in rows["upn"]

    Recording.objects.create(integration=integration, recording_id="rec-1", meeting_id="m-1", organizer_id="ann",
                             organizer_upn="ann.lee@contoso.edu", recorded_at=timezone.now())
    rows = form_rows(admin_client.get(url(integration)))
    assert all("No recordings yet: type a UPN." not in helps for helps in rows.values())
    assert len(rows["organizer"]) == 1  # its own help text only


def test_a_recent_organizer_is_previewed_with_the_id_name_and_mail_stored_for_them(admin_client, integration,
                                                                                  make_user):
    now = timezone.now()
    for number, (upn, azure_id, mail, hours) in enumerate([
            ("old.one@contoso.edu", "11111111-0000-4000-8000-000000000001", "old@contoso.edu", 50),
            ("ann.lee@contoso.edu", "3d0f1c9e-5b8a-4f2e-9c1d-7a6b5e4d3c21", "ann.mail@contoso.edu", 2),
            ("old.one@contoso.edu", "11111111-0000-4000-8000-000000000001", "old@contoso.edu", 30),
            ("bob.ray@contoso.edu", "8e7d6c5b-4a39-4281-9f0e-1d2c3b4a5968", "", 10)]):
        Recording.objects.create(integration=integration, recording_id=f"rec-{number}", meeting_id=f"m-{number}",
                                 organizer_id=azure_id, organizer_upn=upn, organizer_name=upn.split("@")[0].title(),
                                 organizer_mail=mail, recorded_at=now - timedelta(hours=hours))
    integration.user_id_source, integration.find_user_by = I.UserIdSource.AZURE_ID, I.FindUserBy.EMAIL
    integration.save()
    ann = make_user(username="someone", email="ann.mail@contoso.edu")  # found only by the stored mail

    page = admin_client.get(url(integration)).content.decode()
    options = re.findall(r'<option value="([^"]*)"', page)
    assert options == ["", "ann.lee@contoso.edu", "bob.ray@contoso.edu", "old.one@contoso.edu"]  # most recent first

    response = preview(admin_client, integration, organizer="ann.lee@contoso.edu")

    assert outcome(response) == "found"
    assert steps(response) == ["Portal user ID '3d0f1c9e-5b8a-4f2e-9c1d-7a6b5e4d3c21' (from the Azure user ID).",
                               f"Found portal user '{ann.username}' by user e-mail."]
    assert "As stored with this organizer's latest recording." in response.content.decode()

    # Typed, the same UPN has no Azure user ID nor mail (Graph is not asked): the page says so.
    typed = preview(admin_client, integration, upn="ann.lee@contoso.edu")
    assert "which a typed UPN does not give" in typed.content.decode()
    assert outcome(typed) != "found"


@pytest.mark.parametrize("query, message", [
    ({"upn": ""}, "Enter a UPN or pick a recent organizer."),
    ({"upn": "   "}, "Enter a UPN or pick a recent organizer."),
    ({"upn": "a" * 300 + "@contoso.edu"}, "Ensure this value has at most 256 characters"),
    ({"upn": "<script>alert(1)</script>"}, "This is not a User Principal Name"),
    ({"upn": "ann lee@contoso.edu"}, "This is not a User Principal Name"),
    ({"upn": "ann@@contoso.edu"}, "This is not a User Principal Name"),
    ({"upn": "ann\x00@contoso.edu"}, "Null characters are not allowed."),
    ({"organizer": "nobody@contoso.edu"}, "Select a valid choice."),
    ({"upn": "x@contoso.edu", "organizer": "nobody@contoso.edu"}, "Select a valid choice."),
])
def test_bad_input_gets_a_form_error_and_changes_nothing(admin_client, integration, query, message):
    response = preview(admin_client, integration, **query)

    assert response.status_code == 400
    assert message in html.unescape(response.content.decode())
    assert steps(response) == []


def test_a_upn_and_an_organizer_together_are_refused(admin_client, integration):
    Recording.objects.create(integration=integration, recording_id="r", meeting_id="m", organizer_id="id",
                             organizer_upn="ann.lee@contoso.edu")

    response = preview(admin_client, integration, upn="bob@contoso.edu", organizer="ann.lee@contoso.edu")

    assert response.status_code == 400 and "not both" in response.content.decode()


def test_staff_without_permission_on_integrations_is_refused(client_for, make_user, integration):
    clerk = make_user(username="clerk", is_staff=True)

    assert client_for(clerk).get(url(integration), {"upn": "a@contoso.edu"}).status_code == 403
    assert client_for(clerk).get(reverse("admin:integrations_teamsintegration_owner_preview",
                                         args=[integration.pk + 99])).status_code == 404
