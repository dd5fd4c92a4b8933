"""The Django admin as the Teams integration console, driven through the test client.

The requirement is the seed's "Configure Teams integration" and what follows it: the add form's four
fields, the edit form's labels and order, the field rules, the list with its error marker, the row
actions (edit, update application (client) secret, enable / disable, test connection, delete) and
their guards, for each staff permission level, and the secret never shown, stored in clear or logged.
Microsoft is faked with `responses` (see tests/test_teams_diagnosis.py for the answers).
"""
import html
import logging
import re
import uuid
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
import requests
import responses
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection as db_connection
from django.urls import reverse
from django.utils import timezone

from integrations.teams.models import IntegrationGroup, TeamsIntegration
from integrations.teams import api, diagnosis
from mediaspace.models import Category
from tests.microsoft import CLIENT_ID, GRAPH_URL, TENANT_ID, load
from tests.test_teams_diagnosis import (
    CONTENT_URL,
    NO_RECORDINGS_PAGE,
    SEED_APP_DISABLED,
    SEED_POLICY_MISSING,
    SEED_ROLES,
    SEED_SECRET_INVALID,
    USERS_URL,
    RECORDINGS_URL,
    USERS_PAGE,
    fake_graph,
    fake_sign_in,
    openid_configuration_url,
    token_body,
)

SECRET = "Kp27Q~admin.Console_secret-value-9876543210zyx"
NEW_SECRET = "Wn44Q~the.New_secret-value-abcdefghij0123456"
OTHER_TENANT_ID = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
OTHER_CLIENT_ID = "11111111-2222-4333-8444-555555555555"
GROUP_A = "02bd9fd6-8f93-4758-87c3-1fb73740a315"
GROUP_B = "45b7d2e7-b882-4a80-ba97-10b7a63b8fa4"

SEED_DELETE_REFUSED = "Please change integration status to 'Disable' in order to delete it."
SEED_ADD_LABELS = ["Name", "Directory (tenant) ID", "Application (client) ID", "Application (client) Secret"]
SEED_EDIT_LABELS = [
    "Name", "Directory (tenant) ID", "Application (client) ID", "Publish to categories",
    "Upload recordings management", "Teams transcription", "Co-organizers", "Presenters", "Users",
    "Set user based on", "Find user by", "In case the user doesn't exist",
]
ALL_PERMISSIONS = ["None", "Co-viewers", "Co-editors", "Co-publishers", "Co-editors & Co-publishers"]
USERS_PERMISSIONS = ["None", "Co-viewers", "Co-publishers"]


def url(name, *args):
    return reverse(f"admin:integrations_teamsintegration_{name}", args=args)


pytestmark = pytest.mark.usefixtures("microsoft_endpoints")


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def microsoft():
    """Every test runs with Microsoft faked: a request nobody registered fails instead of going out."""
    responses.start()
    try:
        yield
    finally:
        responses.stop()
        responses.reset()


@pytest.fixture
def make_integration(db):
    def make(**fields):
        # One integration per app registration: the second and later ones get an app of their own.
        client_id = str(uuid.uuid4()) if TeamsIntegration.objects.filter(client_id=CLIENT_ID).exists() else CLIENT_ID
        values = {"name": "Contoso recordings", "tenant_id": TENANT_ID, "client_id": client_id,
                  "client_secret": SECRET, **fields}
        return TeamsIntegration.objects.create(**values)

    return make


@pytest.fixture
def integration(make_integration):
    return make_integration()


@pytest.fixture
def superuser(make_user):
    return make_user(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def admin(client_for, superuser):
    return client_for(superuser)


def staff_with(make_user, *codenames, username):
    user = make_user(username=username, is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="integrations",
                                                         codename__in=codenames))
    return user


def microsoft_calls():
    return list(responses.calls)


def messages_of(response):
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def text_of(response):
    return html.unescape(response.content.decode())


def edit_data(integration, **overrides):
    """The edit form as the browser posts it, unchanged unless overridden."""
    data = {
        "name": integration.name,
        "categories": [str(pk) for pk in integration.categories.values_list("pk", flat=True)],
        "upload_policy": integration.upload_policy,
        "groups_text": "\n".join(f"{g.group_id} {g.display_name}".strip() for g in integration.groups.all()),
        "transcription": str(integration.transcription),
        "co_organizer_permission": integration.co_organizer_permission,
        "presenter_permission": integration.presenter_permission,
        "attendee_permission": integration.attendee_permission,
        "user_id_source": integration.user_id_source,
        "upn_rule": integration.upn_rule,
        "postfix": integration.postfix,
        "find_user_by": integration.find_user_by,
        "missing_user": integration.missing_user,
        "default_user": str(integration.default_user_id or ""),
        "secret_expires_on": integration.secret_expires_on.isoformat() if integration.secret_expires_on else "",
        "guest_permissions": str(integration.guest_permissions),
        "recording_expiry_days": str(integration.recording_expiry_days),
        "ask_owners": str(integration.ask_owners),
        "_save": "Save",
    }
    data.update(overrides)
    return data


def form_labels(response):
    """The labels of the admin form, in the order the page shows them."""
    labels = []
    for fieldset in response.context["adminform"]:
        for line in fieldset:
            for field in line:
                labels.append(str(field.field["label"] if field.is_readonly else field.field.label))
    return labels


def field_names(response):
    return [name for fieldset in response.context["adminform"] for line in fieldset for field in line
            for name in [field.field["name"] if field.is_readonly else field.field.name]]


def rendered_labels(response):
    """The label texts as rendered (`<label>Name:</label>`), in page order."""
    return [html.unescape(text) for text in re.findall(r"<label[^>]*>([^<]*):</label>", response.content.decode())]


def is_subsequence(wanted, labels):
    position = 0
    for label in wanted:
        try:
            position = labels.index(label, position) + 1
        except ValueError:
            return False
    return True


def options_of(response, field):
    form = response.context["adminform"].form
    return [str(label) for value, label in form.fields[field].choices if value != ""]


def fake_success(tenant_id=TENANT_ID, **graph):
    token_call = fake_sign_in(tenant_id=tenant_id)
    fake_graph(**graph)
    return token_call


# --- add ----------------------------------------------------------------------------------------


def test_add_form_has_exactly_the_seeds_four_fields(admin):
    response = admin.get(url("add"))

    assert response.status_code == 200
    assert field_names(response) == ["name", "tenant_id", "client_id", "client_secret"]
    assert form_labels(response) == SEED_ADD_LABELS
    assert rendered_labels(response) == SEED_ADD_LABELS
    inputs = re.findall(r'<(?:input|select|textarea)[^>]*\bname="([^"]+)"', response.content.decode())
    assert sorted(set(inputs) - {"csrfmiddlewaretoken", "_save", "_addanother", "_continue"}) == sorted(
        ["name", "tenant_id", "client_id", "client_secret"])
    assert re.search(r'<input type="password" name="client_secret"', response.content.decode())
    assert microsoft_calls() == []


def test_add_creates_a_disabled_integration_then_shows_the_edit_page(admin):
    response = admin.post(url("add"), {
        "name": "Contoso recordings", "tenant_id": f"  {TENANT_ID.upper()} ", "client_id": CLIENT_ID,
        "client_secret": SECRET, "enabled": "on", "transcription": "True", "_save": "Save"})

    integration = TeamsIntegration.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("change", integration.pk)  # "Click Create. The edit window displays."
    assert integration.enabled is False  # "Integration is created in 'disabled' status."
    assert integration.transcription is False  # not one of the four fields
    assert (integration.name, integration.tenant_id, integration.client_id) == (
        "Contoso recordings", TENANT_ID, CLIENT_ID)
    assert integration.client_secret == SECRET
    assert microsoft_calls() == []  # creating does not call Microsoft

    page = admin.get(response["Location"])
    assert page.status_code == 200
    assert "Disabled" in text_of(page)
    assert any("'Disabled'" in text for _level, text in messages_of(response))


@pytest.mark.parametrize("field", ["tenant_id", "client_id"])
@pytest.mark.parametrize("value", [
    "not-a-guid",
    "5f2b7b2c9c1e4b8ea3d36f1c2e0a9b41",  # the digits without the dashes
    "{5f2b7b2c-9c1e-4b8e-a3d3-6f1c2e0a9b41}",
    "5f2b7b2c-9c1e-4b8e-a3d3-6f1c2e0a9b4z",
    "5f2b7b2c-9c1e-4b8e-a3d3-6f1c2e0a9b41-00",
    "",
])
def test_add_rejects_ids_that_are_not_guids(admin, field, value):
    data = {"name": "Contoso", "tenant_id": TENANT_ID, "client_id": CLIENT_ID, "client_secret": SECRET,
            "_save": "Save"}
    data[field] = value

    response = admin.post(url("add"), data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {field}
    assert errors[field]
    assert not TeamsIntegration.objects.exists()


def test_guid_error_says_what_to_copy(admin):
    response = admin.post(url("add"), {"name": "Contoso", "tenant_id": "contoso.onmicrosoft.com",
                                       "client_id": CLIENT_ID, "client_secret": SECRET, "_save": "Save"})
    error = " ".join(response.context["adminform"].form.errors["tenant_id"])
    assert "Overview" in error and "00000000-0000-0000-0000-000000000000" in error


@pytest.mark.parametrize("secret", ["short", "Kp27Q~has a space-in-it-0123456789"])
def test_add_rejects_a_secret_that_cannot_be_one(admin, secret):
    response = admin.post(url("add"), {"name": "Contoso", "tenant_id": TENANT_ID, "client_id": CLIENT_ID,
                                       "client_secret": secret, "_save": "Save"})
    assert response.status_code == 200
    assert set(response.context["adminform"].form.errors) == {"client_secret"}
    assert not TeamsIntegration.objects.exists()


# --- edit form ----------------------------------------------------------------------------------


def test_edit_form_shows_the_seeds_labels_in_the_seeds_order(admin, integration):
    response = admin.get(url("change", integration.pk))

    assert response.status_code == 200
    labels = form_labels(response)
    assert is_subsequence(SEED_EDIT_LABELS, labels), labels
    assert is_subsequence(SEED_EDIT_LABELS, rendered_labels(response)), rendered_labels(response)
    # The UPN options and the postfix sit under "Set user based on", before "Find user by".
    assert is_subsequence(["Set user based on", "Microsoft User Principal Name", "Postfix", "Find user by",
                           "In case the user doesn't exist", "Default user"], labels), labels
    # The groups of the opt-in / opt-out policies belong to "Upload recordings management".
    assert is_subsequence(["Upload recordings management", "Groups", "Teams transcription"], labels), labels
    # Directory (tenant) ID and Application (client) ID are read only.
    readonly = response.context["adminform"].readonly_fields
    assert "tenant_id" in readonly and "client_id" in readonly
    page = response.content.decode()
    assert 'name="tenant_id"' not in page and 'name="client_id"' not in page
    assert TENANT_ID in page and CLIENT_ID in page
    # The secret is not part of the edit form.
    assert 'name="client_secret"' not in page


def test_edit_form_offers_the_seeds_options_with_its_defaults(admin, integration):
    response = admin.get(url("change", integration.pk))
    form = response.context["adminform"].form

    policies = options_of(response, "upload_policy")
    assert [p.split(" - ")[0] for p in policies] == ["Upload all recordings", "Opt-in groups", "Opt-out groups"]
    assert options_of(response, "co_organizer_permission") == ALL_PERMISSIONS
    assert options_of(response, "presenter_permission") == ALL_PERMISSIONS
    assert options_of(response, "user_id_source") == ["Microsoft User Principal Name", "Azure user ID"]
    assert options_of(response, "upn_rule") == ["Do not modify", "Remove postfix", "Add postfix"]
    assert [o.replace("e-mail", "email") for o in options_of(response, "find_user_by")] == [
        "User ID", "User email", "Both"]
    assert options_of(response, "missing_user") == ["Create new user based on Teams user", "Use default user"]
    assert "Yes" in text_of(response) and "No" in text_of(response)  # Teams transcription: Yes / No
    # "Do not modify (default)", "Create new user based on Teams user (default)".
    assert form["upn_rule"].value() == "keep"
    assert form["missing_user"].value() == "create"
    assert form["upload_policy"].value() == "all"
    assert "Please note that the option Co-organizers is not currently supported by Microsoft." in text_of(response)


def test_edit_saves_the_settings(admin, integration, make_user):
    category = Category.objects.create(name="Town halls")
    owner = make_user(username="recordings-owner")
    response = admin.post(url("change", integration.pk), edit_data(
        integration, name="Contoso Teams", categories=[str(category.pk)], transcription="True",
        co_organizer_permission="co_editors_publishers", presenter_permission="co_viewers",
        attendee_permission="co_publishers", user_id_source="upn", upn_rule="remove_postfix",
        postfix="@contoso.com", find_user_by="both", missing_user="default", default_user=str(owner.pk)))

    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    integration.refresh_from_db()
    assert integration.name == "Contoso Teams"
    assert list(integration.categories.all()) == [category]
    assert integration.transcription is True
    assert (integration.co_organizer_permission, integration.presenter_permission,
            integration.attendee_permission) == ("co_editors_publishers", "co_viewers", "co_publishers")
    assert (integration.upn_rule, integration.postfix, integration.find_user_by) == (
        "remove_postfix", "@contoso.com", "both")
    assert (integration.missing_user, integration.default_user) == ("default", owner)
    assert integration.enabled is False
    assert microsoft_calls() == []


def test_tenant_and_client_ids_cannot_be_changed_by_a_tampered_post(admin, integration):
    response = admin.post(url("change", integration.pk), edit_data(
        integration, name="Renamed", tenant_id=OTHER_TENANT_ID, client_id=OTHER_CLIENT_ID,
        client_secret="Tampered~secret-value-0123456789", enabled="True"))

    assert response.status_code == 302
    integration.refresh_from_db()
    assert integration.name == "Renamed"
    assert (integration.tenant_id, integration.client_id) == (TENANT_ID, CLIENT_ID)
    assert integration.client_secret == SECRET
    assert integration.enabled is False  # enabling goes through Enable and its checks


@pytest.mark.parametrize("source, rule, postfix, valid", [
    ("upn", "keep", "", True),
    ("upn", "remove_postfix", "", False),
    ("upn", "add_postfix", "", False),
    ("upn", "remove_postfix", "@contoso.com", True),
    ("upn", "add_postfix", "@contoso.com", True),
    ("azure_id", "add_postfix", "", True),  # the postfix belongs to the UPN choice only
    ("azure_id", "keep", "", True),
])
def test_postfix_is_required_exactly_when_a_postfix_is_added_or_removed_from_the_upn(
        admin, integration, source, rule, postfix, valid):
    response = admin.post(url("change", integration.pk), edit_data(
        integration, name="Changed", user_id_source=source, upn_rule=rule, postfix=postfix))

    integration.refresh_from_db()
    if valid:
        assert response.status_code == 302, response.context["adminform"].form.errors
        assert (integration.name, integration.user_id_source, integration.upn_rule) == ("Changed", source, rule)
    else:
        assert response.status_code == 200
        assert set(response.context["adminform"].form.errors) == {"postfix"}
        assert integration.name == "Contoso recordings" and integration.upn_rule == "keep"


def test_postfix_with_spaces_is_refused(admin, integration):
    response = admin.post(url("change", integration.pk), edit_data(
        integration, upn_rule="add_postfix", postfix="@contoso .com"))
    assert response.status_code == 200
    assert set(response.context["adminform"].form.errors) == {"postfix"}


@pytest.mark.parametrize("days", ["1000000", "100000", "0"])
def test_a_recording_expiry_outside_microsofts_range_is_refused_and_changes_nothing(admin, integration, days):
    response = admin.post(url("change", integration.pk), edit_data(integration, recording_expiry_days=days))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"recording_expiry_days"}
    assert "99999" in errors["recording_expiry_days"][0] or "at least 1" in errors["recording_expiry_days"][0]
    assert TeamsIntegration.objects.get(pk=integration.pk).recording_expiry_days == 120


def test_microsofts_largest_recording_expiry_is_accepted(admin, integration):
    response = admin.post(url("change", integration.pk), edit_data(integration, recording_expiry_days="99999"))

    assert response.status_code == 302
    assert TeamsIntegration.objects.get(pk=integration.pk).recording_expiry_days == 99999


@pytest.mark.parametrize("missing_user, with_default_user, valid", [
    ("create", False, True),
    ("create", True, True),
    ("default", False, False),
    ("default", True, True),
])
def test_default_user_is_required_exactly_when_use_default_user(
        admin, integration, make_user, missing_user, with_default_user, valid):
    owner = make_user(username="fallback-owner")
    response = admin.post(url("change", integration.pk), edit_data(
        integration, name="Changed", missing_user=missing_user,
        default_user=str(owner.pk) if with_default_user else ""))

    integration.refresh_from_db()
    if valid:
        assert response.status_code == 302, response.context["adminform"].form.errors
        assert integration.missing_user == missing_user
    else:
        assert response.status_code == 200
        assert set(response.context["adminform"].form.errors) == {"default_user"}
        assert integration.name == "Contoso recordings" and integration.missing_user == "create"


@pytest.mark.parametrize("policy, groups_text, valid", [
    ("all", "", True),
    ("opt_in", "", False),
    ("opt_out", "", False),
    ("opt_in", "\n  \n", False),
    ("opt_in", GROUP_A, True),
    ("opt_out", f"{GROUP_A} Legal", True),
])
def test_groups_are_required_exactly_for_opt_in_and_opt_out(admin, integration, policy, groups_text, valid):
    response = admin.post(url("change", integration.pk), edit_data(
        integration, name="Changed", upload_policy=policy, groups_text=groups_text))

    integration.refresh_from_db()
    if valid:
        assert response.status_code == 302, response.context["adminform"].form.errors
        assert integration.upload_policy == policy
    else:
        assert response.status_code == 200
        assert set(response.context["adminform"].form.errors) == {"groups_text"}
        assert (integration.name, integration.upload_policy) == ("Contoso recordings", "all")


def test_groups_are_saved_with_their_display_names(admin, integration):
    response = admin.post(url("change", integration.pk), edit_data(
        integration, upload_policy="opt_in",
        groups_text=f"{GROUP_A.upper()} Sales team\n\n{GROUP_B}   Legal and compliance  \n{GROUP_A} duplicate"))

    assert response.status_code == 302, response.context["adminform"].form.errors
    groups = {g.group_id: g.display_name for g in IntegrationGroup.objects.filter(integration=integration)}
    assert groups == {GROUP_A: "Sales team", GROUP_B: "Legal and compliance"}

    page = admin.get(url("change", integration.pk))
    shown = page.context["adminform"].form["groups_text"].value()
    assert f"{GROUP_A} Sales team" in shown and f"{GROUP_B} Legal and compliance" in shown

    # Replacing the list removes what is no longer there.
    admin.post(url("change", integration.pk), edit_data(integration, upload_policy="opt_out",
                                                        groups_text=f"{GROUP_B} Legal"))
    assert list(IntegrationGroup.objects.filter(integration=integration).values_list(
        "group_id", "display_name")) == [(GROUP_B, "Legal")]


@pytest.mark.parametrize("bad_line", ["Sales team", "02bd9fd6-8f93-4758-87c3 Sales", "https://portal.azure.com/x"])
def test_a_bad_group_id_is_a_field_error_and_changes_nothing(admin, integration, bad_line):
    IntegrationGroup.objects.create(integration=integration, group_id=GROUP_A, display_name="Sales team")
    TeamsIntegration.objects.filter(pk=integration.pk).update(upload_policy="opt_in")
    integration.refresh_from_db()
    logged = LogEntry.objects.count()

    response = admin.post(url("change", integration.pk), edit_data(
        integration, name="Renamed", upload_policy="opt_out", groups_text=f"{GROUP_B} Legal\n{bad_line}"))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"groups_text"}
    assert "Line 2" in " ".join(errors["groups_text"])
    integration.refresh_from_db()
    assert (integration.name, integration.upload_policy) == ("Contoso recordings", "opt_in")
    assert list(integration.groups.values_list("group_id", "display_name")) == [(GROUP_A, "Sales team")]
    assert LogEntry.objects.count() == logged


def test_users_permission_offers_only_none_co_viewers_and_co_publishers(admin, integration):
    response = admin.get(url("change", integration.pk))
    assert options_of(response, "attendee_permission") == USERS_PERMISSIONS
    select = re.search(r'<select name="attendee_permission".*?</select>', response.content.decode(), re.S).group(0)
    assert [html.unescape(o) for o in re.findall(r"<option[^>]*>([^<]*)</option>", select)] == USERS_PERMISSIONS

    for tampered in ("co_editors", "co_editors_publishers"):
        response = admin.post(url("change", integration.pk), edit_data(integration, attendee_permission=tampered))
        assert response.status_code == 200
        assert set(response.context["adminform"].form.errors) == {"attendee_permission"}
    integration.refresh_from_db()
    assert integration.attendee_permission == "none"


# --- list ---------------------------------------------------------------------------------------


def test_list_shows_name_dates_status_and_the_error_marker(admin, make_integration):
    healthy = make_integration(name="Healthy tenant")
    make_integration(name="Failing tenant", enabled=True, last_error=SEED_POLICY_MISSING,
                     last_error_at=timezone.now())

    response = admin.get(url("changelist"))

    assert response.status_code == 200
    page = response.content.decode()
    headers = [html.unescape(h) for h in re.findall(r'<th scope="col"[^>]*>.*?<div class="text">(?:<a[^>]*>|<span>)'
                                                    r"([^<]*)<", page, re.S)]
    headers = [h.strip() for h in headers if h.strip()]  # the first column is the selection checkbox
    assert headers[:4] == ["Name", "Creation date", "Updated at", "Status"]
    rows = {name: row for row in re.findall(r"<tr>.*?</tr>", page, re.S)
            for name in ("Healthy tenant", "Failing tenant") if name in row}
    assert "Disabled" in rows["Healthy tenant"] and "Enabled" not in rows["Healthy tenant"]
    assert "Enabled" in rows["Failing tenant"]
    # The red "!" whose hover text is the last error.
    # It links to the integration's Test connection page ("More details").
    marker = re.search(r'<a class="teams-error" href="[^"]*/test/"[^>]*\btitle="([^"]*)"[^>]*>!</a>',
                       rows["Failing tenant"])
    assert marker and html.unescape(marker.group(1)) == SEED_POLICY_MISSING
    assert "teams-error" not in rows["Healthy tenant"]
    assert healthy.created.strftime("%Y") in rows["Healthy tenant"]
    css = re.search(r'href="([^"]*integrations/admin\.css)"', page)
    assert css, "the marker's colour comes from integrations/admin.css"
    from django.contrib.staticfiles import finders
    stylesheet = open(finders.find("integrations/admin.css")).read()
    rule = re.search(r"\.teams-error\s*\{([^}]*)\}", stylesheet).group(1)
    assert re.search(r"color:\s*(var\(--error-fg[^)]*\)|#ba2121|red)", rule)


def test_list_marker_disappears_after_a_successful_test(admin, make_integration):
    integration = make_integration(last_error=SEED_POLICY_MISSING, last_error_at=timezone.now())
    fake_success()

    admin.post(url("test", integration.pk))

    assert "teams-error" not in admin.get(url("changelist")).content.decode()


@pytest.mark.parametrize("days, warned", [(-3, True), (0, True), (10, True), (30, True), (31, False), (None, False)])
def test_secret_expiry_is_warned_about_30_days_ahead(admin, make_integration, days, warned):
    expires = None if days is None else timezone.localdate() + timedelta(days=days)
    make_integration(secret_expires_on=expires)

    page = text_of(admin.get(url("changelist")))

    assert ("teams-secret-warning" in page) is warned
    if days is not None and days < 0:
        assert "expired" in page
    elif warned:
        assert f"{days} days" in page


def test_list_offers_the_row_actions(admin, make_integration):
    disabled = make_integration(name="Off")
    enabled = make_integration(name="On", enabled=True)

    page = admin.get(url("changelist")).content.decode()

    for integration, toggle in ((disabled, "Enable"), (enabled, "Disable")):
        for href, label in [(url("change", integration.pk), "Edit"),
                            (url("secret", integration.pk), "Update application (client) secret"),
                            (url("toggle", integration.pk), toggle),
                            (url("test", integration.pk), "Test connection"),
                            (url("delete", integration.pk), "Delete")]:
            assert f'<a href="{href}">{label}</a>' in page


def test_bulk_delete_is_not_offered(admin, make_integration):
    enabled = make_integration(name="On", enabled=True)
    disabled = make_integration(name="Off")

    response = admin.get(url("changelist"))
    actions = [value for value, _label in response.context["action_form"].fields["action"].choices]
    assert "delete_selected" not in actions

    response = admin.post(url("changelist"), {"action": "delete_selected",
                                              "_selected_action": [enabled.pk, disabled.pk], "post": "yes"})
    assert TeamsIntegration.objects.filter(pk__in=[enabled.pk, disabled.pk]).count() == 2


# --- update application (client) secret --------------------------------------------------------


def test_update_secret_form_is_write_only(admin, integration):
    response = admin.get(url("secret", integration.pk))

    assert response.status_code == 200
    page = response.content.decode()
    field = re.search(r'<input[^>]*name="client_secret"[^>]*>', page).group(0)
    assert 'type="password"' in field and "value=" not in field
    assert SECRET not in page
    assert microsoft_calls() == []


def test_update_secret_replaces_the_old_one_then_tests_it(admin, integration):
    token_call = fake_success()
    expires = timezone.localdate() + timedelta(days=730)

    response = admin.post(url("secret", integration.pk),
                          {"client_secret": NEW_SECRET, "secret_expires_on": expires.isoformat()})

    assert response.status_code == 302 and response["Location"] == url("changelist")
    integration.refresh_from_db()
    assert integration.client_secret == NEW_SECRET
    assert integration.secret_expires_on == expires
    assert token_call.call_count == 1  # the test ran after the save...
    assert parse_qs(token_call.calls[0].request.body)["client_secret"] == [NEW_SECRET]  # ...with the new secret
    assert integration.last_success_at is not None and integration.last_error == ""
    assert [level for level, _text in messages_of(response)] == ["success"]


def test_update_secret_that_microsoft_refuses_is_saved_and_reported(admin, integration):
    fake_sign_in(status=401, body=load("token_error_7000215.json"))

    response = admin.post(url("secret", integration.pk), {"client_secret": NEW_SECRET, "secret_expires_on": ""})

    integration.refresh_from_db()
    assert integration.client_secret == NEW_SECRET
    assert integration.last_error == SEED_SECRET_INVALID
    assert ("error", SEED_SECRET_INVALID) in messages_of(response)


@pytest.mark.parametrize("data", [
    {"client_secret": "", "secret_expires_on": ""},
    {"client_secret": "short", "secret_expires_on": ""},
    {"client_secret": "Wn44Q~with a space-0123456789", "secret_expires_on": ""},
    {"client_secret": NEW_SECRET, "secret_expires_on": "next tuesday"},
])
def test_update_secret_mistakes_change_nothing(admin, integration, data):
    response = admin.post(url("secret", integration.pk), data)

    assert response.status_code == 400
    assert response.context["form"].errors
    integration.refresh_from_db()
    assert integration.client_secret == SECRET
    assert microsoft_calls() == []
    page = response.content.decode()
    assert data["client_secret"] == "" or data["client_secret"] not in page  # never rendered back
    assert SECRET not in page


# --- enable / disable ---------------------------------------------------------------------------


def test_enable_asks_for_confirmation_without_calling_microsoft(admin, integration):
    response = admin.get(url("toggle", integration.pk))

    assert response.status_code == 200
    assert microsoft_calls() == []
    integration.refresh_from_db()
    assert integration.enabled is False


def test_enable_with_a_configuration_problem_keeps_it_disabled_and_says_why(admin, integration):
    fake_sign_in()
    responses.get(USERS_URL, json=USERS_PAGE)
    responses.get(RECORDINGS_URL, status=403, json=load("graph_error_forbidden_policy.json"))

    response = admin.post(url("toggle", integration.pk), {"status": "enable"})

    assert response.status_code == 302
    integration.refresh_from_db()
    assert integration.enabled is False
    assert integration.last_error == SEED_POLICY_MISSING
    errors = [text for level, text in messages_of(response) if level == "error"]
    assert len(errors) == 1 and SEED_POLICY_MISSING in errors[0]
    assert not LogEntry.objects.filter(object_id=str(integration.pk), change_message__icontains="enabled").exists()


def test_enable_with_the_application_disabled_in_azure_keeps_it_disabled(admin, integration):
    fake_sign_in(status=400, body=load("token_error_7000112.json"))

    response = admin.post(url("toggle", integration.pk), {"status": "enable"})

    integration.refresh_from_db()
    assert integration.enabled is False
    assert any(level == "error" and SEED_APP_DISABLED in text for level, text in messages_of(response))


@pytest.mark.parametrize("problem", ["unreachable", "throttled"])
def test_enable_with_a_transient_problem_enables_with_a_warning(admin, integration, problem):
    if problem == "unreachable":
        responses.get(openid_configuration_url(), body=requests.ConnectionError("Name or service not known"))
    else:
        fake_sign_in()
        responses.get(USERS_URL, status=429, json=load("graph_error_throttled.json"), headers={"Retry-After": "20"})

    response = admin.post(url("toggle", integration.pk), {"status": "enable"})

    integration.refresh_from_db()
    assert integration.enabled is True
    assert integration.last_error  # the marker shows what happened
    levels = [level for level, _text in messages_of(response)]
    assert levels == ["warning"]


def test_enable_with_a_passing_check(admin, integration):
    fake_success()

    response = admin.post(url("toggle", integration.pk), {"status": "enable"})

    integration.refresh_from_db()
    assert integration.enabled is True
    assert integration.last_error == "" and integration.last_success_at is not None
    assert [level for level, _text in messages_of(response)] == ["success"]


def test_disable(admin, make_integration):
    integration = make_integration(enabled=True)

    confirm = admin.get(url("toggle", integration.pk))
    assert confirm.status_code == 200
    response = admin.post(url("toggle", integration.pk), {"status": "disable"})

    assert response.status_code == 302
    integration.refresh_from_db()
    assert integration.enabled is False
    assert microsoft_calls() == []
    assert [level for level, _text in messages_of(response)] == ["success"]


def confirmation_form(response):
    """What the confirmation page's form posts: its hidden inputs and its submit button."""
    form = re.search(r'<form method="post"[^>]*>(.*?)</form>', response.content.decode().split('id="content"')[-1],
                     re.S).group(1)
    data = {}
    for tag in re.findall(r"<(?:input|button)[^>]*>", form):
        name, value = re.search(r'name="([^"]*)"', tag), re.search(r'value="([^"]*)"', tag)
        if name and "csrfmiddlewaretoken" not in name.group(1):
            data[name.group(1)] = html.unescape(value.group(1)) if value else ""
    return data


def test_submitting_the_enable_form_twice_leaves_the_integration_enabled(admin, integration):
    # A double click, a resubmitted form or a list that another administrator made stale: the POST
    # of the "Enable" confirmation must not disable the integration.
    fake_success()
    enable = confirmation_form(admin.get(url("toggle", integration.pk)))

    admin.post(url("toggle", integration.pk), enable)
    admin.post(url("toggle", integration.pk), enable)

    integration.refresh_from_db()
    assert integration.enabled is True, "the second 'Enable' disabled the integration"


def test_submitting_the_disable_form_twice_leaves_the_integration_disabled(admin, make_integration):
    integration = make_integration(enabled=True)
    fake_success()
    disable = confirmation_form(admin.get(url("toggle", integration.pk)))

    admin.post(url("toggle", integration.pk), disable)
    admin.post(url("toggle", integration.pk), disable)

    integration.refresh_from_db()
    assert integration.enabled is False, "the second 'Disable' enabled the integration"


# --- test connection ----------------------------------------------------------------------------


def test_test_connection_get_does_not_call_microsoft(admin, integration):
    response = admin.get(url("test", integration.pk))

    assert response.status_code == 200
    assert response.context["report"] is None
    assert microsoft_calls() == []
    integration.refresh_from_db()
    assert integration.last_success_at is None and integration.last_error == ""


def test_test_connection_post_runs_the_checks(admin, integration):
    fake_success()

    response = admin.post(url("test", integration.pk))

    assert response.status_code == 200
    report = response.context["report"]
    assert report.ok and [c.ok for c in report.checks] == [True, True, True, True]
    page = text_of(response)
    assert page.count("passed") >= 4
    assert "The connection works." in page
    assert any(call.request.url == CONTENT_URL for call in responses.calls)
    integration.refresh_from_db()
    assert integration.last_success_at is not None


def test_test_connection_without_a_recording_does_not_check_billing(admin, integration):
    fake_success(recordings=NO_RECORDINGS_PAGE)

    page = text_of(admin.post(url("test", integration.pk)))

    assert "not checked" in page
    assert page.count("passed") >= 3


def test_test_connection_shows_the_seeds_message(admin, integration):
    fake_sign_in()
    responses.get(USERS_URL, json=USERS_PAGE)
    responses.get(RECORDINGS_URL, status=403, json=load("graph_error_forbidden_policy_documented.json"))

    response = admin.post(url("test", integration.pk))

    assert response.status_code == 200
    assert SEED_POLICY_MISSING in text_of(response)
    assert "failed" in text_of(response)
    integration.refresh_from_db()
    assert integration.last_error == SEED_POLICY_MISSING and integration.enabled is False


# --- delete -------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_delete_is_refused_while_enabled(admin, make_integration, method):
    integration = make_integration(enabled=True)

    response = getattr(admin, method)(url("delete", integration.pk), {"post": "yes"} if method == "post" else None)

    assert TeamsIntegration.objects.filter(pk=integration.pk).exists()
    assert ("error", SEED_DELETE_REFUSED) in messages_of(response)
    assert not LogEntry.objects.filter(action_flag=DELETION).exists()


def test_delete_refusal_message_is_the_seeds(admin, make_integration):
    integration = make_integration(enabled=True)
    response = admin.post(url("delete", integration.pk), {"post": "yes"}, follow=True)
    assert "Please change integration status to 'Disable' in order to delete it." in text_of(response)


def test_delete_is_allowed_when_disabled(admin, integration):
    confirm = admin.get(url("delete", integration.pk))
    assert confirm.status_code == 200

    response = admin.post(url("delete", integration.pk), {"post": "yes"})

    assert response.status_code == 302
    assert not TeamsIntegration.objects.filter(pk=integration.pk).exists()
    assert LogEntry.objects.filter(action_flag=DELETION, object_id=str(integration.pk)).exists()
    assert microsoft_calls() == []


# --- audit trail --------------------------------------------------------------------------------


def test_history_records_changes_and_actions_never_the_secret(admin, superuser):
    admin.post(url("add"), {"name": "Contoso", "tenant_id": TENANT_ID, "client_id": CLIENT_ID,
                            "client_secret": SECRET, "_save": "Save"})
    integration = TeamsIntegration.objects.get()
    admin.post(url("change", integration.pk), edit_data(integration, name="Contoso Teams", transcription="True"))
    fake_success()
    admin.post(url("secret", integration.pk), {"client_secret": NEW_SECRET, "secret_expires_on": ""})
    admin.post(url("toggle", integration.pk), {"status": "enable"})  # enable
    admin.post(url("test", integration.pk))
    admin.post(url("toggle", integration.pk), {"status": "disable"})  # disable

    entries = list(LogEntry.objects.filter(object_id=str(integration.pk)).order_by("action_time", "pk"))
    assert all(entry.user == superuser for entry in entries)
    assert entries[0].action_flag == ADDITION
    assert all(entry.action_flag == CHANGE for entry in entries[1:])
    messages = [entry.get_change_message() for entry in entries[1:]]
    assert len(messages) == 5, messages
    assert "Name" in messages[0] and "Teams transcription" in messages[0]
    assert "Secret" in messages[1] or "secret" in messages[1]
    assert "Enabled" in messages[2]
    assert "Tested" in messages[3] or "test" in messages[3].lower()
    assert "Disabled" in messages[4]

    history = admin.get(url("history", integration.pk))
    assert history.status_code == 200
    page = text_of(history)
    for message in messages:
        assert message in page
    for entry in entries:
        assert SECRET not in entry.change_message and NEW_SECRET not in entry.change_message
        assert SECRET not in entry.object_repr and NEW_SECRET not in entry.object_repr
    assert SECRET not in page and NEW_SECRET not in page


# --- every page, every permission level ---------------------------------------------------------


def all_get_urls(integration):
    return [
        url("changelist"),
        url("changelist") + "?enabled__exact=1",
        url("changelist") + "?q=Contoso",
        url("add"),
        url("change", integration.pk),
        url("history", integration.pk),
        url("delete", integration.pk),
        url("secret", integration.pk),
        url("toggle", integration.pk),
        url("test", integration.pk),
        reverse("admin:autocomplete") + "?app_label=integrations&model_name=teamsintegration&field_name=categories",
        reverse("admin:autocomplete") + "?app_label=integrations&model_name=teamsintegration&field_name=default_user",
        reverse("admin:app_list", args=["integrations"]),
    ]


def test_every_admin_page_of_the_integration_answers_200_to_a_superuser(admin, integration):
    for address in all_get_urls(integration):
        response = admin.get(address)
        assert response.status_code == 200, address
    assert microsoft_calls() == []


def test_staff_with_view_permission_only_sees_but_cannot_change_anything(client_for, make_user, make_integration):
    viewer = staff_with(make_user, "view_teamsintegration", username="viewer")
    admin = client_for(viewer)
    disabled = make_integration(name="Off")
    enabled = make_integration(name="On", enabled=True)
    before = {i.pk: (i.name, i.enabled, i.client_secret, i.updated) for i in TeamsIntegration.objects.all()}
    fake_success()

    listing = admin.get(url("changelist"))
    assert listing.status_code == 200
    assert "Off" in text_of(listing) and "On" in text_of(listing)
    actions = [value for value, _label in listing.context["action_form"].fields["action"].choices] if \
        listing.context.get("action_form") else []
    assert set(actions) <= {""}
    view = admin.get(url("change", disabled.pk))
    assert view.status_code == 200
    assert 'name="name"' not in view.content.decode()  # read only

    forbidden = [
        admin.get(url("add")),
        admin.post(url("add"), {"name": "New", "tenant_id": TENANT_ID, "client_id": CLIENT_ID,
                                "client_secret": SECRET, "_save": "Save"}),
        admin.post(url("change", disabled.pk), edit_data(disabled, name="Renamed")),
        admin.get(url("secret", disabled.pk)),
        admin.post(url("secret", disabled.pk), {"client_secret": NEW_SECRET, "secret_expires_on": ""}),
        admin.get(url("toggle", disabled.pk)),
        admin.post(url("toggle", disabled.pk), {"status": "enable"}),
        admin.post(url("toggle", enabled.pk), {"status": "disable"}),
        admin.get(url("test", disabled.pk)),
        admin.post(url("test", disabled.pk)),
        admin.get(url("delete", disabled.pk)),
        admin.post(url("delete", disabled.pk), {"post": "yes"}),
    ]
    assert [r.status_code for r in forbidden] == [403] * len(forbidden)
    # Deleting an enabled one, and the bulk actions, change nothing either.
    admin.post(url("delete", enabled.pk), {"post": "yes"})
    for action in ("enable_selected", "disable_selected", "test_selected", "delete_selected"):
        admin.post(url("changelist"), {"action": action, "_selected_action": [disabled.pk, enabled.pk]})

    after = {i.pk: (i.name, i.enabled, i.client_secret, i.updated) for i in TeamsIntegration.objects.all()}
    assert after == before
    assert microsoft_calls() == []
    assert not LogEntry.objects.exists()


def test_staff_with_change_permission_can_change_enable_disable_update_the_secret_and_test(
        client_for, make_user, make_integration):
    editor = staff_with(make_user, "view_teamsintegration", "change_teamsintegration", username="editor")
    admin = client_for(editor)
    integration = make_integration()
    fake_success()

    assert admin.post(url("change", integration.pk), edit_data(integration, name="Renamed")).status_code == 302
    assert admin.post(url("secret", integration.pk),
                      {"client_secret": NEW_SECRET, "secret_expires_on": ""}).status_code == 302
    assert admin.post(url("test", integration.pk)).status_code == 200
    assert admin.post(url("toggle", integration.pk), {"status": "enable"}).status_code == 302
    integration.refresh_from_db()
    assert (integration.name, integration.client_secret, integration.enabled) == ("Renamed", NEW_SECRET, True)
    assert admin.post(url("toggle", integration.pk), {"status": "disable"}).status_code == 302
    integration.refresh_from_db()
    assert integration.enabled is False
    # Adding and deleting take their own permissions.
    assert admin.get(url("add")).status_code == 403
    assert admin.post(url("delete", integration.pk), {"post": "yes"}).status_code == 403
    assert TeamsIntegration.objects.filter(pk=integration.pk).exists()
    assert LogEntry.objects.filter(user=editor, object_id=str(integration.pk)).count() >= 5


def test_staff_with_delete_permission_deletes_a_disabled_integration_only(client_for, make_user, make_integration):
    admin = client_for(staff_with(make_user, "view_teamsintegration", "change_teamsintegration",
                                  "delete_teamsintegration", username="deleter"))
    enabled = make_integration(name="On", enabled=True)
    disabled = make_integration(name="Off")

    refused = admin.post(url("delete", enabled.pk), {"post": "yes"})
    assert ("error", SEED_DELETE_REFUSED) in messages_of(refused)
    assert admin.post(url("delete", disabled.pk), {"post": "yes"}).status_code == 302
    assert list(TeamsIntegration.objects.values_list("name", flat=True)) == ["On"]


def test_staff_with_add_permission_creates_a_disabled_integration(client_for, make_user):
    admin = client_for(staff_with(make_user, "view_teamsintegration", "add_teamsintegration",
                                  "change_teamsintegration", username="creator"))
    response = admin.post(url("add"), {"name": "Contoso", "tenant_id": TENANT_ID, "client_id": CLIENT_ID,
                                       "client_secret": SECRET, "_save": "Save"})
    assert response.status_code == 302
    assert TeamsIntegration.objects.get().enabled is False


# --- the secret is never shown, stored in clear or logged ---------------------------------------


def test_secret_is_in_no_rendered_admin_page(admin):
    admin.post(url("add"), {"name": "Contoso", "tenant_id": TENANT_ID, "client_id": CLIENT_ID,
                            "client_secret": SECRET, "_save": "Save"})
    integration = TeamsIntegration.objects.get()
    assert integration.client_secret == SECRET
    fake_success()
    admin.post(url("test", integration.pk))

    pages = {address: admin.get(address) for address in all_get_urls(integration)}
    pages["test (after POST)"] = admin.post(url("test", integration.pk))
    pages["secret form after a failed POST"] = admin.post(
        url("secret", integration.pk), {"client_secret": NEW_SECRET, "secret_expires_on": "not a date"})
    pages["add form after a failed POST"] = admin.post(
        url("add"), {"name": "Other", "tenant_id": "not-a-guid", "client_id": CLIENT_ID,
                     "client_secret": NEW_SECRET, "_save": "Save"})
    pages["edit form after a failed POST"] = admin.post(
        url("change", integration.pk), edit_data(integration, upload_policy="opt_in", groups_text=""))

    # Django's add and change forms answer a mistake with 200; our secret form with 400.
    assert {address: response.status_code for address, response in pages.items()} == (
        dict.fromkeys(pages, 200) | {"secret form after a failed POST": 400})
    for address, response in pages.items():
        content = response.content.decode()
        assert SECRET not in content, address
        assert NEW_SECRET not in content, address
        assert SECRET not in html.unescape(content), address
    assert pages["secret form after a failed POST"].context["form"].errors
    integration.refresh_from_db()
    assert integration.client_secret == SECRET


def test_secret_is_not_stored_in_clear(admin):
    admin.post(url("add"), {"name": "Contoso", "tenant_id": TENANT_ID, "client_id": CLIENT_ID,
                            "client_secret": SECRET, "_save": "Save"})
    integration = TeamsIntegration.objects.get()
    table = TeamsIntegration._meta.db_table
    column = TeamsIntegration._meta.get_field("client_secret").column

    def raw():
        with db_connection.cursor() as cursor:
            cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [integration.pk])
            return cursor.fetchone()[0]

    stored = raw()
    assert stored and stored != SECRET
    assert SECRET not in stored and SECRET.split("~")[1][:12] not in stored
    fake_success()
    admin.post(url("secret", integration.pk), {"client_secret": NEW_SECRET, "secret_expires_on": ""})
    stored = raw()
    assert NEW_SECRET not in stored and SECRET not in stored
    assert TeamsIntegration.objects.get().client_secret == NEW_SECRET  # and it reads back


def test_the_debug_page_never_shows_the_stored_secret_when_signing_in_to_microsoft_fails(admin, integration,
                                                                                      settings, monkeypatch):
    """As with `make run` (DEBUG=true): an unexpected failure below msal (here in the HTTP stack) while Test
    connection signs in gives the technical 500 page, whose msal and requests frames hold the decrypted secret
    (the token request's form) in their local variables."""
    def fail(*args, **kwargs):
        raise RuntimeError("the network stack failed")

    settings.DEBUG = True
    monkeypatch.setattr(requests.Session, "request", fail)
    admin.raise_request_exception = False
    response = admin.post(reverse("admin:integrations_teamsintegration_test", args=[integration.pk]))
    page = response.content.decode()

    assert response.status_code == 500 and "the network stack failed" in page and "Local vars" in page
    assert integration.client_secret not in page


def test_the_debug_page_never_shows_the_access_token_when_a_graph_call_fails(admin, integration, settings,
                                                                            monkeypatch):
    """The same after signing in: the Graph request's frames hold the app's access token in its headers."""
    fake_success()
    send, tokens = requests.Session.request, []

    def fail_on_graph(self, method, address, *args, **kwargs):
        if address.startswith(GRAPH_URL):
            tokens.append(kwargs["headers"]["Authorization"].removeprefix("Bearer "))
            raise RuntimeError("the network stack failed")
        return send(self, method, address, *args, **kwargs)

    settings.DEBUG = True
    monkeypatch.setattr(requests.Session, "request", fail_on_graph)
    admin.raise_request_exception = False
    response = admin.post(reverse("admin:integrations_teamsintegration_test", args=[integration.pk]))
    page = response.content.decode()

    assert response.status_code == 500 and "the network stack failed" in page and "Local vars" in page
    assert tokens and tokens[0] not in page


def test_secret_is_not_logged_at_debug_level(admin, caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("integrations", "django", "msal", "urllib3", "requests", "responses", "mediaspace"):
        caplog.set_level(logging.DEBUG, logger=name)
    access_token = token_body(SEED_ROLES)["access_token"]

    admin.post(url("add"), {"name": "Contoso", "tenant_id": TENANT_ID, "client_id": CLIENT_ID,
                            "client_secret": SECRET, "_save": "Save"})
    integration = TeamsIntegration.objects.get()
    fake_success()
    admin.post(url("toggle", integration.pk), {"status": "enable"})  # enable: runs the checks
    admin.post(url("test", integration.pk))
    api._providers.clear()
    admin.post(url("secret", integration.pk), {"client_secret": NEW_SECRET, "secret_expires_on": ""})
    admin.post(url("add"), {"name": "Bad", "tenant_id": "nope", "client_id": CLIENT_ID,
                            "client_secret": SECRET, "_save": "Save"})  # a failed create
    responses.reset()
    fake_sign_in(status=401, body=load("token_error_7000215.json"))
    api._providers.clear()
    admin.post(url("test", integration.pk))  # a refused secret

    assert TeamsIntegration.objects.get(pk=integration.pk).enabled is True
    assert caplog.records, "DEBUG logging was on: something should have been logged"
    logged = caplog.text + "\n".join(repr(record.args) + str(record.msg) for record in caplog.records)
    for secret in (SECRET, NEW_SECRET, access_token):
        assert secret not in logged


def test_a_second_integration_for_the_same_app_is_refused(admin, integration):
    response = admin.post(url("add"), {"name": "Again", "tenant_id": TENANT_ID, "client_id": CLIENT_ID,
                                       "client_secret": NEW_SECRET, "_save": "Save"})
    assert response.status_code == 200
    assert "exists already: its recordings would be uploaded twice" in response.content.decode()
    assert TeamsIntegration.objects.count() == 1


def test_a_second_integration_for_the_same_app_points_to_updating_the_existing_ones_secret(admin, integration):
    """The seed's tip for an expired secret is a new integration; the refusal says what to do instead."""
    response = admin.post(url("add"), {"name": "Again", "tenant_id": TENANT_ID.upper(), "client_id": CLIENT_ID,
                                       "client_secret": NEW_SECRET, "_save": "Save"})

    errors = response.context["adminform"].form.errors.as_data()
    [error] = [error for field_errors in errors.values() for error in field_errors]  # one message, not two
    assert "exists already: its recordings would be uploaded twice" in error.message
    page = response.content.decode()
    link = re.search(r'<a href="([^"]+)">Update application \(client\) secret</a>', page)
    assert link and link.group(1) == url("secret", integration.pk)
    assert "Contoso recordings" in html.unescape(page)
    assert admin.get(link.group(1)).status_code == 200
    assert TeamsIntegration.objects.get().client_secret == SECRET


def test_the_last_error_comes_with_the_seeds_troubleshooting_tip(admin, make_integration):
    integration = make_integration(last_error=SEED_POLICY_MISSING, last_error_code=diagnosis.Code.POLICY_MISSING,
                                   last_error_at=timezone.now())
    for page in (admin.get(url("change", integration.pk)), admin.get(url("test", integration.pk))):
        text = html.unescape(page.content.decode())
        assert SEED_POLICY_MISSING in text
        assert "the application access policy wasn't created or granted correctly" in text


def test_the_troubleshooting_tip_follows_the_kind_of_the_last_error_not_its_words(admin, make_integration):
    reworded = make_integration(name="Reworded", last_error="The access policy, in other words.",
                                last_error_code=diagnosis.Code.POLICY_MISSING, last_error_at=timezone.now())
    unknown = make_integration(name="Unknown kind", last_error=SEED_POLICY_MISSING, last_error_at=timezone.now())
    tip = "the application access policy wasn't created or granted correctly"
    for page in (admin.get(url("change", reworded.pk)), admin.get(url("test", reworded.pk))):
        assert tip in html.unescape(page.content.decode())
    for page in (admin.get(url("change", unknown.pk)), admin.get(url("test", unknown.pk))):
        text = html.unescape(page.content.decode())
        assert SEED_POLICY_MISSING in text and tip not in text
