"""Every admin page of the portal's models opens for a superuser, with data in it; the admins are configuration
and their HTML comes from templates."""
import ast
import re
from pathlib import Path

import pytest
from django.contrib import admin
from django.urls import resolve, reverse
from django.utils import timezone

from integrations.teams.models import Recording, TeamsIntegration
from mediaspace.models import CaptionTrack, Category, Collaborator, Publication, UploadModule, UserRole
from mediaspace.services import caption_add, collaborator_grant, entry_publish
from onedrive.models import MicrosoftAccount, OneDriveModule
from tests.microsoft import CLIENT_ID, TENANT_ID

OUR_APPS = {"mediaspace", "integrations", "onedrive"}


@pytest.fixture
def portal_data(make_user, make_entry):
    owner = make_user(username="owner")
    entry = make_entry(owner)
    category = Category.objects.create(name="Lectures")
    entry_publish(entry=entry, category=category, user=owner)
    collaborator_grant(entry=entry, user=make_user(), co_viewer=True)
    caption_add(entry=entry, label="English", language="en", content=b"WEBVTT\n\n00:00.000 --> 00:01.000\nHi\n")
    integration = TeamsIntegration.objects.create(name="Contoso", tenant_id=TENANT_ID, client_id=CLIENT_ID,
                                                  client_secret="x" * 40)
    Recording.objects.create(integration=integration, recording_id="rec-1", meeting_id="meeting-1",
                             organizer_id="user-1", organizer_upn="owner@example.com", entry=entry)
    UploadModule.load()
    OneDriveModule.load()
    MicrosoftAccount.objects.create(user=entry.owner, tenant_id=TENANT_ID, object_id="oid-1", application_id=CLIENT_ID,
                                    access_token="token", expires_at=timezone.now())
    return entry


def admin_pages():
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label in OUR_APPS or model._meta.model_name == "user":
            yield model, model_admin


@pytest.mark.parametrize("model", [model for model, _admin in admin_pages()], ids=lambda m: m._meta.label)
def test_changelist_add_and_change_pages_open(client_for, make_user, portal_data, model):
    client = client_for(make_user(is_staff=True, is_superuser=True))
    info = model._meta.app_label, model._meta.model_name
    assert client.get(reverse("admin:%s_%s_changelist" % info), follow=True).status_code == 200
    add = client.get(reverse("admin:%s_%s_add" % info))
    # A module is one row; the ledger and Microsoft sign-ins are written by the portal only: none is added by hand.
    assert add.status_code == (403 if model in (UploadModule, OneDriveModule, Recording, MicrosoftAccount) else 200)
    instance = model._default_manager.first()
    assert instance is not None, f"no {model._meta.label} to open"
    change = client.get(reverse("admin:%s_%s_change" % info, args=[instance.pk]))
    assert change.status_code == 200
    history = client.get(reverse("admin:%s_%s_history" % info, args=[instance.pk]))
    assert history.status_code == 200


def test_every_portal_model_is_registered():
    registered = {model for model, _admin in admin_pages()}
    for model in (UserRole, CaptionTrack, Category, Collaborator, Publication, UploadModule, TeamsIntegration,
                  Recording, OneDriveModule, MicrosoftAccount):
        assert model in registered


def test_the_entry_page_links_to_the_player_and_the_permission_checked_files(client_for, make_user, portal_data):
    # Media is served only through the portal's views: MEDIA_URL (/media-files/...) answers 404.
    entry, track = portal_data, portal_data.captions.get()
    page = client_for(make_user(is_staff=True, is_superuser=True)).get(
        reverse("admin:mediaspace_mediaentry_change", args=[entry.pk])).content.decode()
    assert "/media-files/" not in page
    assert f'href="{entry.get_absolute_url()}"' in page
    assert f'href="{reverse("mediaspace:entry_media", args=[entry.pk])}"' in page
    assert f'href="{reverse("mediaspace:caption_file", args=[track.pk])}"' in page


REPO = Path(__file__).resolve().parent.parent
ADMIN_MODULES = ["mediaspace/admin.py", "integrations/teams/admin.py", "integrations/teams/admin_views.py",
                 "onedrive/admin.py"]
HTML_TAG = re.compile(r"<(?:[a-z]+|/[a-z]+)[ >]")


def html_written_in_python(path):
    """The functions (Class.method) of a module that hold an HTML tag in a string."""
    found = set()
    for top in ast.parse(path.read_text()).body:
        functions = [(top.name, node) for node in top.body] if isinstance(top, ast.ClassDef) else [(None, top)]
        for owner, function in functions:
            if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
                    isinstance(node, ast.Constant) and isinstance(node.value, str) and HTML_TAG.search(node.value)
                    for node in ast.walk(function)):
                found.add(f"{owner}.{function.name}" if owner else function.name)
    return found


@pytest.mark.parametrize("module", ADMIN_MODULES)
def test_the_admins_build_no_html_in_python(module):
    # Row-action menus, markers, links and confirm pages come from templates (templates/admin/<app>/<model>/).
    assert html_written_in_python(REPO / module) == set()


@pytest.mark.parametrize("name", ["secret", "toggle", "test", "sync", "permissions", "owner_preview"])
def test_the_teams_consoles_own_pages_are_the_views_of_admin_views(name):
    # TeamsIntegrationAdmin only wires them; each page calls the services (integrations/teams/services.py).
    view = resolve(reverse(f"admin:integrations_teamsintegration_{name}", args=[1])).func
    while hasattr(view, "__wrapped__"):
        view = view.__wrapped__
    assert getattr(view, "func", view).__module__ == "integrations.teams.admin_views"
