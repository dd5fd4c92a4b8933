"""The permission matrix: every portal page and action × every role × relationship to the entry × module state.

The rules under test live in mediaspace/permissions.py (EntryAccess, for everything about one entry)
and mediaspace/decorators.py (module_required, for module pages such as Upload). Each table below is
the specification: one row per page or action, one column per relationship, and a cell that says
what every role gets there.
"""
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace
from typing import Callable
from urllib.parse import quote

import pytest
import responses
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from mediaspace import services
from mediaspace.ingest import entry_prepare
from mediaspace.models import CaptionTrack, Category, Collaborator, MediaEntry, Publication, UploadModule
from mediaspace.roles import Role
from onedrive import imports as onedrive_imports
from onedrive.models import MicrosoftAccount, OneDriveModule, SignInRequest

from .conftest import WEBM_HEAD
from .storage import is_stored, read_stored
from .microsoft import CLIENT_ID as MS_CLIENT_ID, GRAPH_URL as MS_GRAPH_URL, LOGIN_URL as MS_LOGIN_URL
from .microsoft import TENANT_ID as MS_TENANT_ID, load

CONTENT = WEBM_HEAD + b"video" * 100
VTT = b"WEBVTT\n\n00:00:01.000 --> 00:00:03.500\nHello there\n"
LOGIN_URL = reverse("mediaspace:login")

SIGNED_IN = [Role.VIEWER, Role.PRIVATE_ONLY, Role.ADMIN, Role.UNMODERATED_ADMIN]


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def body(response):
    return b"".join(response.streaming_content) if response.streaming else response.content


def text(response):
    return body(response).decode("utf-8", "replace")


def login_redirect(url):
    return f"{LOGIN_URL}?next={quote(url)}"


def _set_module(module_class, **fields):
    """Set a module's single row (`enabled`, `allowed_roles`, its own fields) as the admin would save it."""
    module = module_class.load()
    for name, value in fields.items():
        setattr(module, name, value)
    module.save()
    return module


# =================================================================================================
# 1. Entry pages and actions × relationship × role
# =================================================================================================

# Cell values: what a role gets. A cell is either one outcome for every signed-in role, or ADM
# ("allowed from adminRole up, refused below").
OK = "ok"            # the page (200) or the action done (302 back, database changed)
NO = "403"           # a readable "Not allowed" page, nothing changed
LOGIN = "login"      # 302 to the sign-in page with ?next=, nothing changed
ADM = "adminRole+"   # OK for adminRole and unmoderatedAdminRole, NO for viewerRole and privateOnlyRole

RELATIONS = ["owner", "co-viewer", "co-editor", "co-publisher", "co-editor+publisher", "unrelated", "staff",
             "staff, view permission", "superuser", "published", "pending"]
ANONYMOUS = ["anonymous", "anonymous, published"]

# "staff":     an unrelated user with is_staff and no permission: no more than "unrelated".
# "staff, view permission": the same with mediaspace.view_mediaentry, which superusers hold implicitly: may watch
#              every entry, change none.
# "published": an unrelated user, the entry is published (approved) to a category.
# "pending":   an unrelated user, the entry waits for approval in a moderated category.
ENTRY_MATRIX = {
    #                  owner co-view co-edit co-pub  ed+pub  unrel  staff  st+view super  publ'd pending  anon   +pub
    "entry page":     (OK,   OK,     OK,     OK,     OK,     NO,    NO,    OK,     OK,    OK,    NO,      LOGIN, LOGIN),
    "edit GET":       (OK,   NO,     OK,     NO,     OK,     NO,    NO,    NO,     NO,    NO,    NO,      LOGIN, LOGIN),
    "edit POST":      (OK,   NO,     OK,     NO,     OK,     NO,    NO,    NO,     NO,    NO,    NO,      LOGIN, LOGIN),
    "delete GET":     (OK,   NO,     NO,     NO,     NO,     NO,    NO,    NO,     NO,    NO,    NO,      LOGIN, LOGIN),
    "delete POST":    (OK,   NO,     NO,     NO,     NO,     NO,    NO,    NO,     NO,    NO,    NO,      LOGIN, LOGIN),
    "media file":     (OK,   OK,     OK,     OK,     OK,     NO,    NO,    OK,     OK,    OK,    NO,      LOGIN, LOGIN),
    "caption file":   (OK,   OK,     OK,     OK,     OK,     NO,    NO,    OK,     OK,    OK,    NO,      LOGIN, LOGIN),
    "caption add":    (OK,   NO,     OK,     NO,     OK,     NO,    NO,    NO,     NO,    NO,    NO,      LOGIN, LOGIN),
    "caption remove": (OK,   NO,     OK,     NO,     OK,     NO,    NO,    NO,     NO,    NO,    NO,      LOGIN, LOGIN),
    "collab add":     (OK,   NO,     NO,     NO,     NO,     NO,    NO,    NO,     NO,    NO,    NO,      LOGIN, LOGIN),
    "collab remove":  (OK,   NO,     NO,     NO,     NO,     NO,    NO,    NO,     NO,    NO,    NO,      LOGIN, LOGIN),
    "publish":        (ADM,  NO,     NO,     ADM,    ADM,    NO,    NO,    NO,     NO,    NO,    NO,      LOGIN, LOGIN),
    "unpublish":      (ADM,  NO,     NO,     ADM,    ADM,    NO,    NO,    NO,     NO,    NO,    NO,      LOGIN, LOGIN),
}

DENIED = {
    "view": "You do not have access to this entry.",
    "edit": "Only the owner and co-editors may change this entry.",
    "delete": "Only the owner may delete this entry.",
    "collaborators": "Only the owner may change who collaborates on this entry.",
    "publish": "Only the owner and co-publishers with the role adminRole or higher may publish this entry.",
}


@dataclass
class Action:
    method: str
    url: Callable
    denied: str                           # key of DENIED: the message a refused user reads
    ok_status: int = 200
    ok_location: Callable | None = None   # where a successful POST sends the user
    data: Callable = field(default=lambda w: {})
    changed: Callable | None = None       # did the POST change the database (and files)?
    prepare: Callable = field(default=lambda w: None)
    ok_body: Callable | None = None       # for files: the bytes that must be served


def _entry_url(name, *extra):
    return lambda w: reverse(f"mediaspace:{name}", args=[w.entry.pk, *(e(w) for e in extra)])


def _back_to_entry(w):
    return w.entry.get_absolute_url()


def _prepare_unpublish(w):
    # A pending publication, so that it does not make the entry visible to anybody.
    w.leaving = Category.objects.create(name="Leaving", moderated=True)
    Publication.objects.create(entry=w.entry, category=w.leaving, status=Publication.Status.PENDING)


ACTIONS = {
    "entry page": Action("GET", _entry_url("entry"), "view"),
    "edit GET": Action("GET", _entry_url("entry_edit"), "edit"),
    "edit POST": Action(
        "POST", _entry_url("entry_edit"), "edit", ok_status=302, ok_location=_back_to_entry,
        data=lambda w: {"name": "Renamed by the test", "description": "new", "tags": "a, b"},
        changed=lambda w: MediaEntry.objects.filter(pk=w.entry.pk, name="Renamed by the test").exists(),
    ),
    "delete GET": Action("GET", _entry_url("entry_delete"), "delete"),
    "delete POST": Action(
        "POST", _entry_url("entry_delete"), "delete", ok_status=302,
        ok_location=lambda w: reverse("mediaspace:my_media"),
        changed=lambda w: not MediaEntry.objects.filter(pk=w.entry.pk).exists() or not is_stored(w.entry.media.name),
    ),
    "media file": Action("GET", _entry_url("entry_media"), "view", ok_body=lambda w: CONTENT),
    "caption file": Action(
        "GET", lambda w: reverse("mediaspace:caption_file", args=[w.track.pk]), "view", ok_body=lambda w: VTT
    ),
    "caption add": Action(
        "POST", _entry_url("caption_add"), "edit", ok_status=302, ok_location=_back_to_entry,
        data=lambda w: {"caption_label": "Deutsch", "caption_language": "de",
                        "caption_file": SimpleUploadedFile("de.vtt", VTT, "text/vtt")},
        changed=lambda w: CaptionTrack.objects.filter(entry=w.entry, label="Deutsch").exists(),
    ),
    "caption remove": Action(
        "POST", _entry_url("caption_remove", lambda w: w.track.pk), "edit", ok_status=302,
        ok_location=_back_to_entry,
        changed=lambda w: not CaptionTrack.objects.filter(pk=w.track.pk).exists(),
    ),
    "collab add": Action(
        "POST", _entry_url("collaborator_add"), "collaborators", ok_status=302, ok_location=_back_to_entry,
        data=lambda w: {"user": w.newcomer.username, "is_co_viewer": "on"},
        changed=lambda w: Collaborator.objects.filter(entry=w.entry, user=w.newcomer).exists(),
    ),
    "collab remove": Action(
        "POST", _entry_url("collaborator_remove", lambda w: w.bystander_row.pk), "collaborators", ok_status=302,
        ok_location=_back_to_entry,
        changed=lambda w: not Collaborator.objects.filter(pk=w.bystander_row.pk).exists(),
    ),
    "publish": Action(
        "POST", _entry_url("publish"), "publish", ok_status=302, ok_location=_back_to_entry,
        data=lambda w: {"category": w.target.pk},
        changed=lambda w: Publication.objects.filter(entry=w.entry, category=w.target).exists(),
    ),
    "unpublish": Action(
        "POST", _entry_url("unpublish", lambda w: w.leaving.pk), "publish", ok_status=302,
        ok_location=_back_to_entry, prepare=_prepare_unpublish,
        changed=lambda w: not Publication.objects.filter(entry=w.entry, category=w.leaving).exists(),
    ),
}
assert set(ACTIONS) == set(ENTRY_MATRIX)


def _expected(cell, role):
    if cell == ADM:
        return OK if role in (Role.ADMIN, Role.UNMODERATED_ADMIN) else NO
    return cell


def _matrix_cases():
    columns = RELATIONS + ANONYMOUS
    for action, cells in ENTRY_MATRIX.items():
        for relation, cell in zip(columns, cells, strict=True):
            roles = [Role.ANONYMOUS] if relation in ANONYMOUS else SIGNED_IN
            for role in roles:
                expected = _expected(cell, role)
                yield pytest.param(action, relation, role, expected,
                                   id=f"{action} | {relation} | {role.value} -> {expected}")


@pytest.fixture
def world(make_user, make_entry):
    """Build the entry and its surroundings; `world(relation, role)` returns them with `actor` set."""

    def build(relation, role):
        owner = make_user(role=role if relation == "owner" else Role.ADMIN)
        entry = make_entry(owner, content=CONTENT, name="The matrix entry")
        w = SimpleNamespace(owner=owner, entry=entry)
        w.track = services.caption_add(entry=entry, label="English", language="en", content=VTT)
        w.bystander = make_user(role=Role.VIEWER)
        w.bystander_row = Collaborator.objects.create(entry=entry, user=w.bystander, is_co_viewer=True)
        w.newcomer = make_user(role=Role.VIEWER)
        w.target = Category.objects.create(name="Target")
        if relation in ANONYMOUS or relation == "owner":
            w.actor = None if relation in ANONYMOUS else owner
        else:
            w.actor = make_user(role=role, is_staff=relation.startswith("staff") or relation == "superuser",
                                is_superuser=relation == "superuser")
            if relation == "staff, view permission":
                w.actor.user_permissions.add(Permission.objects.get(codename="view_mediaentry"))
        flags = {
            "co-viewer": {"is_co_viewer": True},
            "co-editor": {"is_co_editor": True},
            "co-publisher": {"is_co_publisher": True},
            "co-editor+publisher": {"is_co_editor": True, "is_co_publisher": True},
        }.get(relation)
        if flags:
            Collaborator.objects.create(entry=entry, user=w.actor, **flags)
        if relation in ("published", "anonymous, published"):
            shown = Category.objects.create(name="Shown")
            Publication.objects.create(entry=entry, category=shown, status=Publication.Status.APPROVED)
        if relation == "pending":
            waiting = Category.objects.create(name="Waiting", moderated=True)
            Publication.objects.create(entry=entry, category=waiting, status=Publication.Status.PENDING)
        return w

    return build


def _observe(response, action, w, url):
    """What happened, in the words of the table: ok / 403 / login, plus whether the database changed."""
    status = response.status_code
    if status == 302 and response["Location"] == login_redirect(url):
        outcome = LOGIN
    elif status == 403:
        outcome = NO if DENIED[action.denied] in text(response) else "403 without the readable reason"
    elif status == action.ok_status:
        if action.ok_location and response["Location"] != action.ok_location(w):
            outcome = f"{status} to {response['Location']}"
        elif action.ok_body and body(response) != action.ok_body(w):
            outcome = f"{status} with the wrong bytes"
        else:
            outcome = OK
    else:
        outcome = f"HTTP {status}"
    changed = action.changed(w) if action.changed else None
    return outcome, changed


@pytest.mark.parametrize("action_name, relation, role, expected", list(_matrix_cases()))
def test_entry_permission_matrix(world, client_for, action_name, relation, role, expected):
    action = ACTIONS[action_name]
    w = world(relation, role)
    action.prepare(w)
    url = action.url(w)
    client = client_for(w.actor)
    if action.method == "GET":
        response = client.get(url)
    else:
        response = client.post(url, action.data(w))
    expected_change = None if action.changed is None else expected == OK
    assert _observe(response, action, w, url) == (expected, expected_change)


# --- what the entry page offers matches what the user may do ------------------------------------

@pytest.mark.parametrize("relation, role, edit, delete, collaborators, publish", [
    # relation               role                     edit   delete collab publish
    ("owner",                Role.PRIVATE_ONLY,       True,  True,  True,  False),
    ("owner",                Role.ADMIN,              True,  True,  True,  True),
    ("co-viewer",            Role.UNMODERATED_ADMIN,  False, False, False, False),
    ("co-editor",            Role.PRIVATE_ONLY,       True,  False, False, False),
    ("co-publisher",         Role.PRIVATE_ONLY,       False, False, False, False),
    ("co-publisher",         Role.ADMIN,              False, False, False, True),
    ("staff, view permission", Role.UNMODERATED_ADMIN, False, False, False, False),
    ("published",            Role.VIEWER,             False, False, False, False),
], ids=lambda value: getattr(value, "value", str(value)))
def test_entry_page_offers_exactly_the_allowed_actions(world, client_for, relation, role, edit, delete,
                                                       collaborators, publish):
    w = world(relation, role)
    page = text(client_for(w.actor).get(reverse("mediaspace:entry", args=[w.entry.pk])))
    offered = (
        reverse("mediaspace:entry_edit", args=[w.entry.pk]) in page,
        reverse("mediaspace:entry_delete", args=[w.entry.pk]) in page,
        reverse("mediaspace:collaborator_add", args=[w.entry.pk]) in page,
        reverse("mediaspace:publish", args=[w.entry.pk]) in page,
    )
    assert offered == (edit, delete, collaborators, publish)


def test_entry_that_is_not_ready_is_not_visible_through_a_publication(world, client_for):
    w = world("published", Role.UNMODERATED_ADMIN)
    MediaEntry.objects.filter(pk=w.entry.pk).update(status=MediaEntry.Status.FAILED, error="broken")
    response = client_for(w.actor).get(reverse("mediaspace:entry", args=[w.entry.pk]))
    assert response.status_code == 403


def test_rejected_publication_does_not_make_the_entry_visible(world, client_for):
    w = world("pending", Role.UNMODERATED_ADMIN)
    Publication.objects.filter(entry=w.entry).update(status=Publication.Status.REJECTED)
    response = client_for(w.actor).get(reverse("mediaspace:entry", args=[w.entry.pk]))
    assert response.status_code == 403


def test_delete_by_the_owner_removes_the_media_file(world, client_for):
    w = world("owner", Role.PRIVATE_ONLY)
    assert is_stored(w.entry.media.name)
    client_for(w.owner).post(reverse("mediaspace:entry_delete", args=[w.entry.pk]))
    assert not is_stored(w.entry.media.name)


def test_refused_delete_keeps_the_media_file(world, client_for):
    w = world("co-editor", Role.UNMODERATED_ADMIN)
    client_for(w.actor).post(reverse("mediaspace:entry_delete", args=[w.entry.pk]))
    assert read_stored(w.entry.media.name) == CONTENT


# =================================================================================================
# 2. Pages that are not about one entry × role
# =================================================================================================

@pytest.fixture
def category(db):
    return Category.objects.create(name="Lectures")


PAGES = {
    "my media": lambda c: reverse("mediaspace:my_media"),
    "my media, shared tab": lambda c: reverse("mediaspace:my_media") + "?tab=shared",
    "status JSON": lambda c: reverse("mediaspace:my_media_status") + "?ids=1",
    "categories": lambda c: reverse("mediaspace:categories"),
    "category": lambda c: reverse("mediaspace:category", args=[c.pk]),
}


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("role, expected", [
    (Role.ANONYMOUS, LOGIN),
    (Role.VIEWER, OK),
    (Role.PRIVATE_ONLY, OK),
    (Role.ADMIN, OK),
    (Role.UNMODERATED_ADMIN, OK),
], ids=lambda value: getattr(value, "value", str(value)))
def test_portal_pages_need_a_signed_in_user_of_any_role(make_user, client_for, category, page, role, expected):
    url = PAGES[page](category)
    user = None if role == Role.ANONYMOUS else make_user(role=role)
    response = client_for(user).get(url)
    observed = (LOGIN if response.status_code == 302 and response["Location"] == login_redirect(url)
                else OK if response.status_code == 200 else f"HTTP {response.status_code}")
    assert observed == expected


@pytest.mark.parametrize("page", PAGES)
def test_portal_pages_work_with_the_upload_module_off(make_user, client_for, category, page):
    _set_module(UploadModule, enabled=False)
    response = client_for(make_user(role=Role.PRIVATE_ONLY)).get(PAGES[page](category))
    assert response.status_code == 200


@pytest.mark.parametrize("relation, listed", [
    ("owner", True),
    ("co-viewer", True),  # a collaborator watching an import sees its progress too
    ("co-editor", True),
    ("co-publisher", True),
    ("unrelated", False),
    ("staff", False),
    ("published", False),
])
def test_status_json_reports_the_users_own_and_shared_entries_only(world, client_for, relation, listed):
    w = world(relation, Role.UNMODERATED_ADMIN)
    response = client_for(w.actor).get(reverse("mediaspace:my_media_status") + f"?ids={w.entry.pk}")
    assert (str(w.entry.pk) in response.json()) == listed


def test_my_media_lists_only_the_users_own_entries(world, client_for, make_entry):
    w = world("unrelated", Role.ADMIN)
    make_entry(w.actor, name="Mine alone")
    page = text(client_for(w.actor).get(reverse("mediaspace:my_media")))
    assert ("Mine alone" in page, "The matrix entry" in page) == (True, False)


@pytest.mark.parametrize("relation, listed", [
    ("co-viewer", True), ("co-editor", True), ("co-publisher", True), ("unrelated", False), ("published", False),
])
def test_shared_tab_lists_entries_shared_with_the_user(world, client_for, relation, listed):
    w = world(relation, Role.VIEWER)
    page = text(client_for(w.actor).get(reverse("mediaspace:my_media") + "?tab=shared"))
    assert ("The matrix entry" in page) == listed


@pytest.mark.parametrize("role", SIGNED_IN, ids=lambda r: r.value)
def test_category_page_lists_a_published_entry_for_every_role(world, client_for, make_user, role):
    world("published", Role.ADMIN)  # publishes the matrix entry in "Shown"
    shown = Category.objects.get(name="Shown")
    page = text(client_for(make_user(role=role)).get(reverse("mediaspace:category", args=[shown.pk])))
    assert "The matrix entry" in page


# =================================================================================================
# 3. The Upload module: enabled × allowedRoles threshold × role, and the "Add new" menu
# =================================================================================================

OFF = "403 turned off"   # the module is disabled: readable 403 for everybody, signed in or not
LOW = "403 role too low"  # signed in below the threshold: readable 403 naming the role needed

UPLOAD_MATRIX = [
    # enabled  allowedRoles             anonymous viewer private admin unmod
    (True,  Role.VIEWER,               LOGIN,    OK,    OK,     OK,    OK),
    (True,  Role.PRIVATE_ONLY,         LOGIN,    LOW,   OK,     OK,    OK),
    (True,  Role.ADMIN,                LOGIN,    LOW,   LOW,    OK,    OK),
    (True,  Role.UNMODERATED_ADMIN,    LOGIN,    LOW,   LOW,    LOW,   OK),
    (False, Role.VIEWER,               OFF,      OFF,   OFF,    OFF,   OFF),
    (False, Role.PRIVATE_ONLY,         OFF,      OFF,   OFF,    OFF,   OFF),
    (False, Role.ADMIN,                OFF,      OFF,   OFF,    OFF,   OFF),
    (False, Role.UNMODERATED_ADMIN,    OFF,      OFF,   OFF,    OFF,   OFF),
]
ALL_ROLES = [Role.ANONYMOUS, *SIGNED_IN]


def _upload_cases(signed_in_only=False):
    for enabled, threshold, *cells in UPLOAD_MATRIX:
        for role, expected in zip(ALL_ROLES, cells, strict=True):
            if signed_in_only and role == Role.ANONYMOUS:
                continue
            yield pytest.param(enabled, threshold, role, expected,
                               id=f"{'on' if enabled else 'off'} | min {threshold.value} | {role.value} -> {expected}")


def _observe_module(response, url, ok_status):
    status, page = response.status_code, text(response)
    if status == 302 and response["Location"] == login_redirect(url):
        return LOGIN
    if status == 403 and "The Upload module is turned off on this portal." in page:
        return OFF
    if status == 403 and "Your role does not allow you to use the Upload module." in page:
        return LOW
    if status == ok_status:
        return OK
    return f"HTTP {status}"


@pytest.mark.parametrize("enabled, threshold, role, expected", list(_upload_cases()))
def test_upload_page_matrix(make_user, client_for, enabled, threshold, role, expected):
    _set_module(UploadModule, enabled=enabled, allowed_roles=threshold)
    user = None if role == Role.ANONYMOUS else make_user(role=role)
    url = reverse("mediaspace:upload")
    assert _observe_module(client_for(user).get(url), url, 200) == expected


@pytest.mark.parametrize("enabled, threshold, role, expected", list(_upload_cases()))
def test_upload_post_matrix(make_user, client_for, enabled, threshold, role, expected):
    _set_module(UploadModule, enabled=enabled, allowed_roles=threshold)
    user = None if role == Role.ANONYMOUS else make_user(role=role)
    url = reverse("mediaspace:upload")
    response = client_for(user).post(url, {"file": SimpleUploadedFile("talk.webm", CONTENT, "video/webm"),
                                           "name": "Uploaded talk"})
    stored = MediaEntry.objects.filter(name="Uploaded talk").exists()
    assert (_observe_module(response, url, 302), stored) == (expected, expected == OK)


@pytest.mark.parametrize("enabled, threshold, role, expected", list(_upload_cases(signed_in_only=True)))
def test_add_new_menu_lists_upload_exactly_when_allowed(make_user, client_for, enabled, threshold, role, expected):
    _set_module(UploadModule, enabled=enabled, allowed_roles=threshold)
    response = client_for(make_user(role=role)).get(reverse("mediaspace:my_media"))
    menu_labels = [str(label) for label, _url in response.context["add_new_menu"]]
    assert ("Upload media" in menu_labels) == (expected == OK)


@pytest.mark.parametrize("enabled, threshold, role, expected", list(_upload_cases(signed_in_only=True)))
def test_rendered_add_new_menu_links_upload_exactly_when_allowed(make_user, client_for, category, enabled,
                                                                  threshold, role, expected):
    _set_module(UploadModule, enabled=enabled, allowed_roles=threshold)
    page = text(client_for(make_user(role=role)).get(reverse("mediaspace:category", args=[category.pk])))
    upload_link = f'<a href="{reverse("mediaspace:upload")}">Upload media</a>'
    assert (upload_link in page) == (expected == OK)


def test_signed_out_pages_show_no_add_new_menu(client):
    page = text(client.get(reverse("mediaspace:login")))
    assert "Upload media" not in page


def test_role_too_low_page_names_the_role_needed(make_user, client_for):
    _set_module(UploadModule, enabled=True, allowed_roles=Role.ADMIN)
    page = text(client_for(make_user(role=Role.PRIVATE_ONLY)).get(reverse("mediaspace:upload")))
    assert "Ask a portal administrator for the role adminRole or higher." in page


def test_role_change_takes_effect_on_the_next_request(make_user, client_for):
    from mediaspace.models import UserRole

    _set_module(UploadModule, enabled=True, allowed_roles=Role.ADMIN)
    user = make_user(role=Role.VIEWER)
    client = client_for(user)
    before = client.get(reverse("mediaspace:upload")).status_code
    UserRole.objects.filter(user=user).update(role=Role.ADMIN)
    after = client.get(reverse("mediaspace:upload")).status_code
    assert (before, after) == (403, 200)


# =================================================================================================
# 4. Moderation: publishing to a moderated category
# =================================================================================================

@pytest.fixture
def moderated(db):
    return Category.objects.create(name="Board meetings", moderated=True)


@pytest.fixture
def superuser(db, django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "pw-for-tests-1")


def _publish(client, entry, category, follow=False):
    return client.post(reverse("mediaspace:publish", args=[entry.pk]), {"category": category.pk}, follow=follow)


def _publication(entry, category):
    return Publication.objects.get(entry=entry, category=category)


def _category_page(client, category):
    return text(client.get(reverse("mediaspace:category", args=[category.pk])))


def _approve_in_admin(client, publication, action="approve"):
    return client.post(reverse("admin:mediaspace_publication_changelist"),
                       {"action": action, "_selected_action": [publication.pk], "index": 0})


@pytest.mark.parametrize("role, status", [
    (Role.ADMIN, Publication.Status.PENDING),
    (Role.UNMODERATED_ADMIN, Publication.Status.APPROVED),
], ids=["adminRole waits", "unmoderatedAdminRole publishes"])
def test_publishing_to_a_moderated_category(make_user, make_entry, client_for, moderated, role, status):
    owner = make_user(role=role)
    entry = make_entry(owner)
    _publish(client_for(owner), entry, moderated)
    assert _publication(entry, moderated).status == status


@pytest.mark.parametrize("role", [Role.ADMIN, Role.UNMODERATED_ADMIN], ids=lambda r: r.value)
def test_publishing_to_an_unmoderated_category_is_immediate(make_user, make_entry, client_for, category, role):
    owner = make_user(role=role)
    entry = make_entry(owner)
    _publish(client_for(owner), entry, category)
    assert _publication(entry, category).status == Publication.Status.APPROVED


def test_admin_role_is_told_that_the_category_is_moderated(make_user, make_entry, client_for, moderated):
    owner = make_user(role=Role.ADMIN)
    entry = make_entry(owner)
    page = text(_publish(client_for(owner), entry, moderated, follow=True))
    assert "Board meetings is moderated: the entry appears there once an administrator approves it." in page


def test_co_publisher_with_admin_role_also_waits_for_moderation(make_user, make_entry, client_for, moderated):
    entry = make_entry(make_user(role=Role.PRIVATE_ONLY))
    publisher = make_user(role=Role.ADMIN)
    Collaborator.objects.create(entry=entry, user=publisher, is_co_publisher=True)
    _publish(client_for(publisher), entry, moderated)
    assert _publication(entry, moderated).status == Publication.Status.PENDING


def test_co_publisher_with_unmoderated_admin_role_publishes_at_once(make_user, make_entry, client_for, moderated):
    entry = make_entry(make_user(role=Role.PRIVATE_ONLY))
    publisher = make_user(role=Role.UNMODERATED_ADMIN)
    Collaborator.objects.create(entry=entry, user=publisher, is_co_publisher=True)
    _publish(client_for(publisher), entry, moderated)
    assert _publication(entry, moderated).status == Publication.Status.APPROVED


def test_pending_entry_is_not_on_the_category_page(make_user, make_entry, client_for, moderated):
    owner = make_user(role=Role.ADMIN)
    entry = make_entry(owner, name="Awaiting approval")
    _publish(client_for(owner), entry, moderated)
    assert "Awaiting approval" not in _category_page(client_for(make_user(role=Role.VIEWER)), moderated)


def test_pending_entry_is_not_counted_on_the_categories_page(make_user, make_entry, client_for, moderated):
    owner = make_user(role=Role.ADMIN)
    _publish(client_for(owner), make_entry(owner), moderated)
    page = text(client_for(make_user(role=Role.VIEWER)).get(reverse("mediaspace:categories")))
    assert "0 entries" in page


def test_pending_entry_is_not_visible_to_other_users(make_user, make_entry, client_for, moderated):
    owner = make_user(role=Role.ADMIN)
    entry = make_entry(owner)
    _publish(client_for(owner), entry, moderated)
    response = client_for(make_user(role=Role.VIEWER)).get(reverse("mediaspace:entry", args=[entry.pk]))
    assert response.status_code == 403


def test_approval_in_the_admin_puts_the_entry_on_the_category_page(make_user, make_entry, client_for, moderated,
                                                                    superuser):
    owner = make_user(role=Role.ADMIN)
    entry = make_entry(owner, name="Awaiting approval")
    _publish(client_for(owner), entry, moderated)
    _approve_in_admin(client_for(superuser), _publication(entry, moderated))
    assert "Awaiting approval" in _category_page(client_for(make_user(role=Role.VIEWER)), moderated)


def test_approval_in_the_admin_makes_the_entry_visible(make_user, make_entry, client_for, moderated, superuser):
    owner = make_user(role=Role.ADMIN)
    entry = make_entry(owner)
    _publish(client_for(owner), entry, moderated)
    _approve_in_admin(client_for(superuser), _publication(entry, moderated))
    response = client_for(make_user(role=Role.VIEWER)).get(reverse("mediaspace:entry", args=[entry.pk]))
    assert response.status_code == 200


def test_rejection_in_the_admin_keeps_the_entry_off_the_category_page(make_user, make_entry, client_for, moderated,
                                                                      superuser):
    owner = make_user(role=Role.ADMIN)
    entry = make_entry(owner, name="Awaiting approval")
    _publish(client_for(owner), entry, moderated)
    _approve_in_admin(client_for(superuser), _publication(entry, moderated), action="reject")
    assert (_publication(entry, moderated).status,
            "Awaiting approval" in _category_page(client_for(make_user(role=Role.VIEWER)), moderated)) == (
        Publication.Status.REJECTED, False)


def test_staff_without_change_permission_cannot_approve(make_user, make_entry, client_for, moderated):
    owner = make_user(role=Role.ADMIN)
    entry = make_entry(owner)
    _publish(client_for(owner), entry, moderated)
    staff = make_user(role=Role.UNMODERATED_ADMIN, is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_publication"))
    _approve_in_admin(client_for(staff), _publication(entry, moderated))
    assert _publication(entry, moderated).status == Publication.Status.PENDING


def test_unmoderated_admin_entry_is_on_the_category_page_at_once(make_user, make_entry, client_for, moderated):
    owner = make_user(role=Role.UNMODERATED_ADMIN)
    entry = make_entry(owner, name="Straight in")
    _publish(client_for(owner), entry, moderated)
    assert "Straight in" in _category_page(client_for(make_user(role=Role.VIEWER)), moderated)


# =================================================================================================
# 5. The admin: who may change the Upload module
# =================================================================================================

MODULE_CHANGE_URL = "admin:mediaspace_uploadmodule_change"
DISABLE_FORM = {"allowed_roles": Role.ADMIN.value, "max_size_mb": "5", "allow_video": "on", "allow_audio": "on",
                "allow_image": "on", "make_renditions": "on", "rendition_max_height": "1080",
                "_save": "Save"}  # "enabled" not ticked: turns the module off


def _module_state():
    module = UploadModule.load()
    return module.enabled, module.allowed_roles, module.max_size_mb


@pytest.fixture
def staff_without_permissions(make_user):
    UploadModule.load()
    return make_user(role=Role.UNMODERATED_ADMIN, is_staff=True)


def _grant(user, *codenames):
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames,
                                                         content_type__app_label="mediaspace"))


def test_staff_without_permission_cannot_open_the_upload_module(client_for, staff_without_permissions):
    response = client_for(staff_without_permissions).get(reverse(MODULE_CHANGE_URL, args=[1]))
    assert response.status_code == 403


def test_staff_without_permission_cannot_change_the_upload_module(client_for, staff_without_permissions):
    before = _module_state()
    response = client_for(staff_without_permissions).post(reverse(MODULE_CHANGE_URL, args=[1]), DISABLE_FORM)
    assert (response.status_code, _module_state()) == (403, before)


def test_staff_with_view_permission_only_cannot_change_the_upload_module(client_for, staff_without_permissions):
    _grant(staff_without_permissions, "view_uploadmodule")
    before = _module_state()
    response = client_for(staff_without_permissions).post(reverse(MODULE_CHANGE_URL, args=[1]), DISABLE_FORM)
    assert (response.status_code, _module_state()) == (403, before)


def test_staff_with_view_permission_may_read_the_upload_module(client_for, staff_without_permissions):
    _grant(staff_without_permissions, "view_uploadmodule")
    response = client_for(staff_without_permissions).get(reverse(MODULE_CHANGE_URL, args=[1]))
    assert response.status_code == 200


def test_staff_with_change_permission_can_change_the_upload_module(client_for, staff_without_permissions):
    _grant(staff_without_permissions, "view_uploadmodule", "change_uploadmodule")
    response = client_for(staff_without_permissions).post(reverse(MODULE_CHANGE_URL, args=[1]), DISABLE_FORM)
    assert (response.status_code, _module_state()) == (302, (False, Role.ADMIN, 5))


def test_superuser_can_change_the_upload_module(client_for, superuser):
    UploadModule.load()
    response = client_for(superuser).post(reverse(MODULE_CHANGE_URL, args=[1]), DISABLE_FORM)
    assert (response.status_code, _module_state()) == (302, (False, Role.ADMIN, 5))


def test_module_turned_off_in_the_admin_is_refused_on_the_portal(client_for, superuser, make_user):
    UploadModule.load()
    client_for(superuser).post(reverse(MODULE_CHANGE_URL, args=[1]), DISABLE_FORM)
    response = client_for(make_user(role=Role.UNMODERATED_ADMIN)).get(reverse("mediaspace:upload"))
    assert response.status_code == 403


def test_module_list_opens_the_single_row(client_for, superuser):
    response = client_for(superuser).get(reverse("admin:mediaspace_uploadmodule_changelist"))
    assert (response.status_code, response["Location"]) == (302, reverse(MODULE_CHANGE_URL, args=[1]))


def test_upload_module_cannot_be_added_twice(client_for, superuser):
    UploadModule.load()
    response = client_for(superuser).post(reverse("admin:mediaspace_uploadmodule_add"), DISABLE_FORM)
    assert (response.status_code, UploadModule.objects.count()) == (403, 1)


def test_upload_module_cannot_be_deleted(client_for, superuser):
    UploadModule.load()
    response = client_for(superuser).post(reverse("admin:mediaspace_uploadmodule_delete", args=[1]), {"post": "yes"})
    assert (response.status_code, UploadModule.objects.count()) == (403, 1)


# =================================================================================================
# 6. The OneDrive module: every OneDrive URL × enabled × allowedRoles × role, and the "Add new" menu
# =================================================================================================
# The same rule as Upload (module_required): module off → readable 403 for everybody, signed in or not;
# role below allowedRoles → readable 403; anonymous → sign in first. That holds for every OneDrive address,
# the redirect URI registered in Azure and the import endpoint included. Microsoft is faked with `responses`
# (tests/microsoft), so an allowed request really lists, signs in, imports or retries.

ONEDRIVE_PICKER = reverse("onedrive:picker")
ONEDRIVE_ITEM = load("onedrive_item_intro.json")
ONEDRIVE_DRIVE = ONEDRIVE_ITEM["parentReference"]["driveId"]


@dataclass
class OneDriveAction:
    method: str
    url: Callable
    ok: Callable                          # (response, w) -> bool: the allowed outcome
    data: Callable = field(default=lambda w: {})
    changed: Callable | None = None       # did the request change the database?


ONEDRIVE_ACTIONS = {
    "picker": OneDriveAction(
        "GET", lambda w: ONEDRIVE_PICKER,
        ok=lambda r, w: r.status_code == 200 and "Lecture 1.mp4" in text(r)),
    "sign-in": OneDriveAction(
        "GET", lambda w: reverse("onedrive:signin"),
        ok=lambda r, w: r.status_code == 302
        and r["Location"].startswith(f"{MS_LOGIN_URL}/organizations/oauth2/v2.0/authorize?"),
        changed=lambda w: SignInRequest.objects.exists()),
    "redirect URI GET": OneDriveAction(
        "GET", lambda w: reverse("onedrive:blank_page"),
        ok=lambda r, w: r.status_code == 200 and "onedrive/relay" in text(r)),
    "redirect URI POST": OneDriveAction(
        "POST", lambda w: reverse("onedrive:blank_page"),
        data=lambda w: {"state": "a-state-this-server-never-issued", "error": "access_denied"},
        # Reached the sign-in check: the answer is refused because it belongs to no sign-in of this user.
        ok=lambda r, w: r.status_code == 400 and "does not belong to a sign-in you started here" in text(r)),
    "import": OneDriveAction(
        "POST", lambda w: reverse("onedrive:import"),
        data=lambda w: {"item": f"{ONEDRIVE_DRIVE}/{ONEDRIVE_ITEM['id']}", "back": ONEDRIVE_PICKER},
        ok=lambda r, w: r.status_code == 302 and r["Location"] == reverse("mediaspace:my_media"),
        changed=lambda w: MediaEntry.objects.filter(source=MediaEntry.Source.ONEDRIVE, name="Intro").exists()
        and len(w.queued) == 1),
    "retry": OneDriveAction(
        "POST", lambda w: reverse("onedrive:retry", args=[w.failed.pk]),
        ok=lambda r, w: r.status_code == 302 and r["Location"] == reverse("mediaspace:my_media"),
        changed=lambda w: MediaEntry.objects.get(pk=w.failed.pk).status == MediaEntry.Status.PENDING
        and len(w.queued) == 1),
}


def _failed_onedrive_import(owner, item_id="01BYE5RZ7FAILEDIMPORTAAAAAAAAAAAAA"):
    entry, _created = entry_prepare(source=MediaEntry.Source.ONEDRIVE, owner=owner, name="Failed import",
                                    reference_id=onedrive_imports.reference_for(owner, ONEDRIVE_DRIVE, item_id))
    MediaEntry.objects.filter(pk=entry.pk).update(status=MediaEntry.Status.FAILED, error="accessDenied")
    return entry


@pytest.fixture
def onedrive_world(make_user, settings, monkeypatch):
    """`onedrive_world(enabled, threshold, role)`: the module set so, an actor of that role signed in to
    Microsoft (none for anonymous), a failed OneDrive import of theirs, and Microsoft faked."""
    settings.MICROSOFT_LOGIN_URL, settings.MICROSOFT_GRAPH_URL = MS_LOGIN_URL, MS_GRAPH_URL
    queued = []
    monkeypatch.setattr(onedrive_imports, "async_task", lambda *args, **kwargs: queued.append(args))
    graph = responses.RequestsMock(assert_all_requests_are_fired=False)
    graph.get(f"{MS_GRAPH_URL}/v1.0/me/drive/root/children", json=load("onedrive_root_children_page1.json"))
    graph.get(f"{MS_GRAPH_URL}/v1.0/drives/{ONEDRIVE_DRIVE}/items/{ONEDRIVE_ITEM['id']}", json=ONEDRIVE_ITEM)

    def build(enabled, threshold, role):
        _set_module(OneDriveModule, application_id=MS_CLIENT_ID, enabled=enabled, allowed_roles=threshold)
        actor = None if role == Role.ANONYMOUS else make_user(role=role)
        owner = actor or make_user(role=Role.PRIVATE_ONLY)
        MicrosoftAccount.objects.create(user=owner, tenant_id=MS_TENANT_ID, object_id="oid", application_id=MS_CLIENT_ID,
                                        access_token="eyJ0eXAiOiJKV1Qi.delegated.token",
                                        expires_at=timezone.now() + timedelta(hours=1))
        return SimpleNamespace(actor=actor, owner=owner, failed=_failed_onedrive_import(owner), queued=queued)

    with graph:
        yield build


def _observe_onedrive(response, url, action, w):
    status, page = response.status_code, text(response)
    if status == 302 and response["Location"] == login_redirect(url):
        return LOGIN
    if status == 403 and "The OneDrive module is turned off on this portal." in page:
        return OFF
    if status == 403 and "Your role does not allow you to use the OneDrive module." in page:
        return LOW
    if action.ok(response, w):
        return OK
    return f"HTTP {status} {response.get('Location', '')}"


def _onedrive_cases():
    for action in ONEDRIVE_ACTIONS:
        for enabled, threshold, role, expected in (case.values for case in _upload_cases()):
            yield pytest.param(action, enabled, threshold, role, expected,
                               id=f"{action} | {'on' if enabled else 'off'} | min {threshold.value} | {role.value} "
                                  f"-> {expected}")


@pytest.mark.parametrize("action_name, enabled, threshold, role, expected", list(_onedrive_cases()))
def test_onedrive_matrix(onedrive_world, client_for, action_name, enabled, threshold, role, expected):
    action = ONEDRIVE_ACTIONS[action_name]
    w = onedrive_world(enabled, threshold, role)
    url = action.url(w)
    client = client_for(w.actor)
    response = client.get(url) if action.method == "GET" else client.post(url, action.data(w))
    changed = action.changed(w) if action.changed else None
    expected_change = None if action.changed is None else expected == OK
    assert (_observe_onedrive(response, url, action, w), changed) == (expected, expected_change)


@pytest.mark.parametrize("enabled, threshold, role, expected", list(_upload_cases(signed_in_only=True)))
def test_add_new_menu_lists_import_from_onedrive_exactly_when_allowed(make_user, client_for, category, enabled,
                                                                       threshold, role, expected):
    _set_module(OneDriveModule, application_id=MS_CLIENT_ID, enabled=enabled, allowed_roles=threshold)
    client = client_for(make_user(role=role))
    menu_labels = [str(label) for label, _url in client.get(reverse("mediaspace:my_media")).context["add_new_menu"]]
    page = text(client.get(reverse("mediaspace:category", args=[category.pk])))
    link = f'<a href="{ONEDRIVE_PICKER}">Import from OneDrive</a>'
    assert ("Import from OneDrive" in menu_labels, link in page) == (expected == OK, expected == OK)


@pytest.mark.parametrize("enabled", [True, False], ids=["on", "off"])
def test_signed_out_pages_show_no_import_from_onedrive(db, client, enabled):
    _set_module(OneDriveModule, application_id=MS_CLIENT_ID, enabled=enabled, allowed_roles=Role.VIEWER)
    assert "Import from OneDrive" not in text(client.get(reverse("mediaspace:login")))


@pytest.mark.parametrize("whose", ["another user's OneDrive import", "own upload", "no such entry"])
def test_retry_of_an_entry_that_is_not_ones_own_onedrive_import_is_404(onedrive_world, client_for, make_user,
                                                                         make_entry, whose):
    w = onedrive_world(True, Role.VIEWER, Role.UNMODERATED_ADMIN)
    if whose == "another user's OneDrive import":
        entry = _failed_onedrive_import(make_user(role=Role.UNMODERATED_ADMIN))
    elif whose == "own upload":
        entry = make_entry(w.actor)
        MediaEntry.objects.filter(pk=entry.pk).update(status=MediaEntry.Status.FAILED, error="broken")
    else:
        entry = SimpleNamespace(pk=999_999)
    response = client_for(w.actor).post(reverse("onedrive:retry", args=[entry.pk]))
    assert response.status_code == 404
    assert w.queued == []
    if whose != "no such entry":
        assert MediaEntry.objects.get(pk=entry.pk).status == MediaEntry.Status.FAILED


def test_onedrive_role_too_low_page_names_the_role_needed(onedrive_world, client_for):
    w = onedrive_world(True, Role.ADMIN, Role.PRIVATE_ONLY)
    page = text(client_for(w.actor).post(reverse("onedrive:import"), {"item": "x/y"}))
    assert ("Your role does not allow you to use the OneDrive module. Ask a portal administrator for the role "
            "adminRole or higher.") in page
