"""The OneDrive module's admin page, as the set-up guide's administrator uses it (Django test client, superuser)."""
import html
import re

import pytest
from django.db import connection
from django.http import request as django_request
from django.urls import reverse

from mediaspace.roles import Role
from onedrive.models import OneDriveModule
from tests.microsoft import CLIENT_ID, TENANT_ID

CHANGE = reverse("admin:onedrive_onedrivemodule_change", args=[1])
SECRET = "Qx58Q~onedrive.secret.value-1234567890ab"


@pytest.fixture
def admin_client(client_for, django_user_model, settings):
    settings.ALLOWED_HOSTS = ["testserver", "portal.example.edu", "media_portal.example.edu"]
    OneDriveModule.load()
    return client_for(django_user_model.objects.create_superuser("root", "root@example.com", "pw-for-tests-1"))


def form(**changes):
    data = {"enabled": "True", "allowed_roles": Role.PRIVATE_ONLY.value, "application_id": CLIENT_ID,
            "client_secret": "", "tenant": "organizations", "max_import_size_mb": "4096", "_save": "Save"}
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def save(client, **changes):
    return client.post(CHANGE, form(**changes))


def errors(response):
    adminform = response.context["adminform"].form
    return {name: [str(message) for message in messages] for name, messages in adminform.errors.items()}


def raw_secret_column():
    with connection.cursor() as cursor:
        cursor.execute("SELECT client_secret FROM onedrive_onedrivemodule WHERE id = 1")
        return cursor.fetchone()[0]


def test_the_seeds_three_settings_come_first_with_the_seeds_names(admin_client):
    page = admin_client.get(CHANGE)
    assert page.status_code == 200
    fields = page.context["adminform"].form.fields
    assert [str(fields[name].label) for name in ("enabled", "allowed_roles", "application_id")] == [
        "enabled", "allowedRoles", "applicationId"]
    html = page.content.decode()
    labels = re.findall(r'<label[^>]*for="id_([a-z_]+)"[^>]*>([^<]*)</label>', html)
    assert labels[:3] == [("enabled", "enabled:"), ("allowed_roles", "allowedRoles:"),
                          ("application_id", "applicationId:")]
    assert '<option value="True"' in html and ">Yes</option>" in html  # enabled: 'Yes', as the guide says
    assert [value for value, _label in fields["allowed_roles"].choices] == [
        "viewerRole", "privateOnlyRole", "adminRole", "unmoderatedAdminRole"]
    assert "Optional" in html and "client secret (optional)" in html


def test_the_exact_redirect_uri_is_shown_from_the_sites_address(admin_client):
    page = admin_client.get(CHANGE, HTTP_HOST="portal.example.edu", secure=True).content.decode()
    assert '<code id="redirect-uri">https://portal.example.edu/onedrive/index/blank-page</code>' in page
    assert "not served over HTTPS" not in page and "underscore" not in page


def test_a_portal_on_plain_http_is_told_to_serve_https(admin_client):
    page = admin_client.get(CHANGE).content.decode()
    assert '<code id="redirect-uri">http://testserver/onedrive/index/blank-page</code>' in page
    assert "This portal is not served over HTTPS" in page


def test_a_site_name_with_an_underscore_is_refused_before_any_redirect_uri_is_shown(admin_client):
    # Django itself refuses such a host (RFC 1034/1035): no redirect URI with an underscore can be shown.
    response = admin_client.get(CHANGE, HTTP_HOST="media_portal.example.edu", secure=True)
    assert response.status_code == 400
    assert b"media_portal" not in response.content


def test_the_underscore_warning_when_a_host_with_one_gets_through(admin_client, monkeypatch):
    # As if the host check let it in (a server or proxy that rewrites Host): the page warns as the guide does.
    monkeypatch.setattr(django_request, "host_validation_re", re.compile(r"^([a-z0-9._-]+)(?::([0-9]+))?$"))
    page = admin_client.get(CHANGE, HTTP_HOST="media_portal.example.edu", secure=True).content.decode()
    assert "The site name has an underscore, which Microsoft does not accept in a redirect URI" in page


@pytest.mark.parametrize("value", [
    "not-a-guid", "0c3e8f4a1b2d4e6f8a9b7c5d3e2f1a06", "0c3e8f4a-1b2d-4e6f-8a9b-7c5d3e2f1a0",
    "{0c3e8f4a-1b2d-4e6f-8a9b-7c5d3e2f1a06}", "Secret ID: 0c3e8f4a-1b2d-4e6f-8a9b-7c5d3e2f1a06",
])
def test_application_id_must_be_a_guid(admin_client, value):
    response = save(admin_client, application_id=value)
    assert response.status_code == 200
    assert errors(response)["application_id"][0] == (
        "Enter the ID exactly as the Azure portal shows it on the app's Overview tab: 32 hexadecimal digits in the "
        "form 00000000-0000-0000-0000-000000000000.")
    assert OneDriveModule.load().application_id == ""


def test_application_id_is_kept_trimmed_and_in_lower_case(admin_client):
    response = save(admin_client, application_id=f"  {CLIENT_ID.upper()} ")
    assert response.status_code == 302
    assert OneDriveModule.load().application_id == CLIENT_ID


def test_enabling_without_an_application_id_is_refused(admin_client):
    response = save(admin_client, application_id="")
    assert response.status_code == 200
    assert errors(response)["application_id"] == ["Enter the applicationId before enabling the module."]
    assert OneDriveModule.load().enabled is False


def test_the_seeds_settings_alone_turn_the_module_on(admin_client):
    response = save(admin_client, allowed_roles=Role.ADMIN.value)
    assert (response.status_code, response["Location"]) == (302, reverse("admin:onedrive_onedrivemodule_changelist"))
    module = OneDriveModule.load()
    assert (module.enabled, module.allowed_roles, module.application_id, module.client_secret, module.tenant) == (
        True, Role.ADMIN, CLIENT_ID, "", "organizations")
    assert module.uses_code_flow is False  # the implicit grant of the guide's Azure steps


def test_the_module_can_be_turned_off_without_an_application_id(admin_client):
    assert save(admin_client, enabled="False", application_id="").status_code == 302
    assert OneDriveModule.load().enabled is False


def test_the_client_secret_is_write_only_and_stored_encrypted(admin_client):
    assert save(admin_client, client_secret=SECRET).status_code == 302

    assert OneDriveModule.load().client_secret == SECRET
    raw = raw_secret_column()
    assert raw and SECRET not in raw and SECRET[:12] not in raw
    page = admin_client.get(CHANGE).content.decode()
    assert SECRET not in page and SECRET[:6] not in page and SECRET[-6:] not in page
    secret_input = re.search(r'<input[^>]*name="client_secret"[^>]*>', page).group(0)
    assert 'type="password"' in secret_input and "value=" not in secret_input  # not even masked
    assert "•" not in secret_input and "*****" not in page
    assert "A client secret is set" in page


def test_leaving_the_secret_empty_keeps_it(admin_client):
    save(admin_client, client_secret=SECRET)
    assert save(admin_client, client_secret="", max_import_size_mb="100").status_code == 302
    module = OneDriveModule.load()
    assert (module.client_secret, module.max_import_size_mb) == (SECRET, 100)


def test_a_new_secret_replaces_the_old_one(admin_client):
    save(admin_client, client_secret=SECRET)
    save(admin_client, client_secret="Zy91R~another.secret.value-abcdef")
    assert OneDriveModule.load().client_secret == "Zy91R~another.secret.value-abcdef"


def test_remove_the_client_secret(admin_client):
    assert "Remove the client secret" not in admin_client.get(CHANGE).content.decode()  # nothing to remove yet
    save(admin_client, client_secret=SECRET)
    page = admin_client.get(CHANGE).content.decode()
    assert "Remove the client secret" in page

    assert save(admin_client, remove_client_secret="on").status_code == 302

    module = OneDriveModule.load()
    assert module.client_secret == "" and module.uses_code_flow is False
    assert SECRET not in (raw_secret_column() or "")
    assert "No client secret is set" in admin_client.get(CHANGE).content.decode()


def test_a_secret_that_is_not_a_secret_value_is_refused(admin_client):
    response = save(admin_client, client_secret="abc def")
    assert response.status_code == 200
    assert "This does not look like a client secret value" in errors(response)["client_secret"][0]
    assert OneDriveModule.load().client_secret == ""


def test_a_refused_form_does_not_render_the_typed_secret_back(admin_client):
    response = save(admin_client, client_secret=SECRET, application_id="nope")
    assert response.status_code == 200 and SECRET not in response.content.decode()


def test_the_debug_page_never_shows_a_typed_secret(admin_client, settings, monkeypatch):
    """As with `make run` (DEBUG=true): a failure while saving gives the technical 500 page without the secret."""
    from django.contrib import admin

    def fail(*args, **kwargs):
        raise RuntimeError("the database went away")

    settings.DEBUG = True
    monkeypatch.setattr(admin.site._registry[OneDriveModule], "save_model", fail)
    admin_client.raise_request_exception = False
    response = save(admin_client, client_secret=SECRET)
    page = response.content.decode()

    assert response.status_code == 500 and "the database went away" in page  # the real debug page
    assert "client_secret" in page and SECRET not in page and SECRET[:12] not in page


def test_the_debug_page_never_shows_a_typed_secret_held_by_a_frame_below_the_view(admin_client, settings, monkeypatch):
    """The database fails while the row is written: the ORM's frames hold the secret before it is encrypted
    (the values being saved) and show it in their local variables, unless it is blanked there too."""
    from django.db.backends import utils

    execute = utils.CursorWrapper.execute

    def fail_writing_the_module(self, sql, params=None):
        if sql.lstrip().upper().startswith(("UPDATE", "INSERT")) and OneDriveModule._meta.db_table in sql:
            raise RuntimeError("the database went away")
        return execute(self, sql, params)

    settings.DEBUG = True
    monkeypatch.setattr(utils.CursorWrapper, "execute", fail_writing_the_module)
    admin_client.raise_request_exception = False
    response = save(admin_client, client_secret=SECRET)
    page = response.content.decode()

    assert response.status_code == 500 and "the database went away" in page and "Local vars" in page
    assert SECRET not in page and SECRET[:12] not in page


def test_an_enabled_module_with_a_wrong_application_id_gets_the_guid_message_only(admin_client):
    response = save(admin_client, application_id="not-a-guid")  # the stored applicationId is still empty
    assert errors(response) == {"application_id": [
        "Enter the ID exactly as the Azure portal shows it on the app's Overview tab: 32 hexadecimal digits in the "
        "form 00000000-0000-0000-0000-000000000000."]}
    assert OneDriveModule.load().enabled is False


@pytest.mark.parametrize("host", ["localhost", "localhost:8000", "127.0.0.1:8000", "[::1]:8000"])
def test_plain_http_on_this_computer_is_not_warned_about(admin_client, settings, host):
    # Microsoft accepts an http redirect URI for localhost: the warning would contradict its own text.
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
    page = admin_client.get(CHANGE, HTTP_HOST=host).content.decode()
    assert f'<code id="redirect-uri">http://{host}/onedrive/index/blank-page</code>' in page
    assert "not served over HTTPS" not in page


def test_the_breadcrumb_reads_like_a_change_page(admin_client):
    page = admin_client.get(CHANGE).content.decode()
    crumbs = re.search(r'<div class="breadcrumbs">(.*?)</div>', page, re.S).group(1)
    assert " ".join(html.unescape(re.sub(r"<[^>]+>", "", crumbs)).split()) == "Home › OneDrive › OneDrive module"
    assert f'href="{reverse("admin:app_list", args=["onedrive"])}"' in crumbs


@pytest.mark.parametrize("value, stored", [
    ("organizations", "organizations"),
    (TENANT_ID, TENANT_ID),
    (f" {TENANT_ID.upper()} ", TENANT_ID),
    ("ORGANIZATIONS", "organizations"),
])
def test_tenant_any_organisation_or_one_directory(admin_client, value, stored):
    assert save(admin_client, tenant=value).status_code == 302
    assert OneDriveModule.load().tenant == stored


@pytest.mark.parametrize("value", ["common", "consumers", "contoso.onmicrosoft.com", "not-a-tenant", ""])
def test_tenant_must_be_organizations_or_a_directory_id(admin_client, value):
    response = save(admin_client, tenant=value)
    assert response.status_code == 200
    assert errors(response)["tenant"] in (
        ["Enter 'organizations' to let users of any organisation sign in, or one directory (tenant) ID such as "
         "00000000-0000-0000-0000-000000000000."],
        ["This field is required."])
    assert OneDriveModule.load().tenant == "organizations"


def test_the_module_list_opens_its_single_row(admin_client):
    response = admin_client.get(reverse("admin:onedrive_onedrivemodule_changelist"))
    assert (response.status_code, response["Location"]) == (302, CHANGE)


def test_the_module_cannot_be_added_or_deleted(admin_client):
    page = admin_client.get(CHANGE).content.decode()
    added = admin_client.post(reverse("admin:onedrive_onedrivemodule_add"), form())
    deleted = admin_client.post(reverse("admin:onedrive_onedrivemodule_delete", args=[1]), {"post": "yes"})
    assert (added.status_code, deleted.status_code, OneDriveModule.objects.count()) == (403, 403, 1)
    assert reverse("admin:onedrive_onedrivemodule_delete", args=[1]) not in page
    assert reverse("admin:onedrive_onedrivemodule_add") not in page


def test_the_module_turned_on_in_the_admin_puts_import_from_onedrive_in_the_menu(admin_client, make_user, client_for):
    save(admin_client)
    member = client_for(make_user(role=Role.PRIVATE_ONLY))
    menu = [str(label) for label, _url in member.get(reverse("mediaspace:my_media")).context["add_new_menu"]]
    assert "Import from OneDrive" in menu
