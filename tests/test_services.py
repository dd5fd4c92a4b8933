"""The portal's rules for changing entries, categories and collaborators (mediaspace/services.py), the
new-user signal and the role ladder (mediaspace/roles.py)."""
import itertools

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError

from mediaspace import services
from mediaspace.captions import CaptionError
from mediaspace.models import CaptionTrack, Category, Collaborator, MediaEntry, Publication, UserRole
from mediaspace.roles import LADDER, Role, default_role, has_role, role_of

from .storage import is_stored, read_stored, stored_files

VTT = b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nFirst version\n"
VTT_2 = b"WEBVTT\n\n00:00:05.000 --> 00:00:06.000\nSecond version\n"
SRT = b"1\n00:00:01,250 --> 00:00:02,500\nFrom SubRip\n"
Approved, Pending, Rejected = Publication.Status.APPROVED, Publication.Status.PENDING, Publication.Status.REJECTED


@pytest.fixture
def owner(make_user):
    return make_user(role=Role.PRIVATE_ONLY)


@pytest.fixture
def entry(owner, make_entry):
    return make_entry(owner, name="Original", description="Old words", tags="old")


@pytest.fixture
def open_category(db):
    return Category.objects.create(name="Open")


@pytest.fixture
def moderated_category(db):
    return Category.objects.create(name="Moderated", moderated=True)


# --- entry_update --------------------------------------------------------------------------------

def test_entry_update_saves_the_details(entry):
    services.entry_update(entry=entry, name="New name", description="New words", tags="a, b")
    entry = MediaEntry.objects.get(pk=entry.pk)
    assert (entry.name, entry.description, entry.tags) == ("New name", "New words", "a, b")


def test_entry_update_accepts_empty_description_and_tags(entry):
    services.entry_update(entry=entry, name="Only a name", description="", tags="")
    assert MediaEntry.objects.filter(pk=entry.pk, name="Only a name", description="", tags="").exists()


@pytest.mark.parametrize("name, description, tags, field", [
    ("", "fine", "fine", "name"),
    ("x" * 256, "fine", "fine", "name"),
    ("fine", "fine", "t" * 501, "tags"),
], ids=["empty-name", "name-too-long", "tags-too-long"])
def test_entry_update_rejects_invalid_details(entry, name, description, tags, field):
    with pytest.raises(ValidationError) as raised:
        services.entry_update(entry=entry, name=name, description=description, tags=tags)
    assert field in raised.value.message_dict


def test_entry_update_rejected_changes_nothing_stored(entry):
    with pytest.raises(ValidationError):
        services.entry_update(entry=entry, name="", description="Changed", tags="changed")
    stored = MediaEntry.objects.get(pk=entry.pk)
    assert (stored.name, stored.description, stored.tags) == ("Original", "Old words", "old")


def test_entry_update_keeps_the_media(entry):
    media_name, size = entry.media.name, entry.size
    services.entry_update(entry=entry, name="New", description="", tags="")
    stored = MediaEntry.objects.get(pk=entry.pk)
    assert (stored.media.name, stored.size, stored.status) == (media_name, size, MediaEntry.Status.READY)


# --- entry_delete --------------------------------------------------------------------------------

def test_entry_delete_removes_the_row(entry):
    services.entry_delete(entry=entry)
    assert not MediaEntry.objects.filter(pk=entry.pk).exists()


def test_entry_delete_removes_the_media_file(entry):
    media_name = entry.media.name
    assert is_stored(media_name)
    services.entry_delete(entry=entry)
    assert not is_stored(media_name)


def test_entry_delete_removes_caption_tracks_and_their_files(entry):
    tracks = [services.caption_add(entry=entry, label=label, language="en", content=VTT) for label in ("A", "B")]
    names = [track.file.name for track in tracks]
    assert [is_stored(name) for name in names] == [True, True]
    services.entry_delete(entry=entry)
    assert not CaptionTrack.objects.filter(pk__in=[track.pk for track in tracks]).exists()
    assert [is_stored(name) for name in names] == [False, False]


def test_entry_delete_leaves_no_file_of_the_entry(entry):
    services.caption_add(entry=entry, label="English", language="en", content=VTT)
    assert len(stored_files()) == 2
    services.entry_delete(entry=entry)
    assert stored_files() == []


def test_entry_delete_leaves_other_entries_alone(owner, make_entry, entry):
    other = make_entry(owner, name="Other")
    other_track = services.caption_add(entry=other, label="English", language="en", content=VTT)
    services.entry_delete(entry=entry)
    assert stored_files() == sorted([other.media.name, other_track.file.name])


def test_entry_delete_removes_publications_and_collaborators(entry, open_category, make_user):
    services.entry_publish(entry=entry, category=open_category, user=entry.owner)
    services.collaborator_grant(entry=entry, user=make_user(), co_viewer=True)
    services.entry_delete(entry=entry)
    assert (Publication.objects.count(), Collaborator.objects.count()) == (0, 0)


# --- entry_publish -------------------------------------------------------------------------------

@pytest.mark.parametrize("role", [Role.ADMIN, Role.UNMODERATED_ADMIN])
def test_publish_to_an_unmoderated_category_is_approved(make_user, make_entry, open_category, role):
    user = make_user(role=role)
    publication = services.entry_publish(entry=make_entry(user), category=open_category, user=user)
    publication.refresh_from_db()
    assert (publication.status, publication.published_by) == (Approved, user)
    assert publication.decided is not None


def test_publish_by_admin_to_a_moderated_category_waits(make_user, make_entry, moderated_category):
    user = make_user(role=Role.ADMIN)
    publication = services.entry_publish(entry=make_entry(user), category=moderated_category, user=user)
    publication.refresh_from_db()
    assert (publication.status, publication.decided) == (Pending, None)


def test_publish_by_unmoderated_admin_to_a_moderated_category_is_approved(make_user, make_entry, moderated_category):
    user = make_user(role=Role.UNMODERATED_ADMIN)
    publication = services.entry_publish(entry=make_entry(user), category=moderated_category, user=user)
    publication.refresh_from_db()
    assert publication.status == Approved
    assert publication.decided is not None


def test_publish_again_after_rejection_waits_again(make_user, make_entry, moderated_category):
    user = make_user(role=Role.ADMIN)
    entry = make_entry(user)
    first = services.entry_publish(entry=entry, category=moderated_category, user=user)
    services.publications_decide(publications=Publication.objects.filter(pk=first.pk), approve=False)
    again = services.entry_publish(entry=entry, category=moderated_category, user=user)
    again.refresh_from_db()
    assert (again.pk, again.status, again.decided) == (first.pk, Pending, None)


def test_publish_again_after_rejection_by_unmoderated_admin_is_approved_and_dated(
        make_user, make_entry, moderated_category):
    user = make_user(role=Role.UNMODERATED_ADMIN)
    entry = make_entry(user)
    first = services.entry_publish(entry=entry, category=moderated_category, user=user)
    services.publications_decide(publications=Publication.objects.filter(pk=first.pk), approve=False)
    again = services.entry_publish(entry=entry, category=moderated_category, user=user)
    again.refresh_from_db()
    assert again.status == Approved
    assert again.decided is not None  # an approved publication records when it was decided


def test_publish_again_when_approved_stays_approved(make_user, make_entry, moderated_category):
    admin = make_user(role=Role.ADMIN)
    entry = make_entry(admin)
    first = services.entry_publish(entry=entry, category=moderated_category, user=admin)
    services.publications_decide(publications=Publication.objects.filter(pk=first.pk), approve=True)
    decided = Publication.objects.get(pk=first.pk).decided
    again = services.entry_publish(entry=entry, category=moderated_category, user=admin)
    again.refresh_from_db()
    assert (again.pk, again.status, again.decided) == (first.pk, Approved, decided)


def test_publish_again_while_pending_stays_one_pending_publication(make_user, make_entry, moderated_category):
    admin = make_user(role=Role.ADMIN)
    entry = make_entry(admin)
    services.entry_publish(entry=entry, category=moderated_category, user=admin)
    services.entry_publish(entry=entry, category=moderated_category, user=admin)
    assert list(Publication.objects.values_list("status", flat=True)) == [Pending]


def test_pending_publication_republished_by_unmoderated_admin_is_approved(make_user, make_entry, moderated_category):
    admin, boss = make_user(role=Role.ADMIN), make_user(role=Role.UNMODERATED_ADMIN)
    entry = make_entry(admin)
    services.entry_publish(entry=entry, category=moderated_category, user=admin)
    publication = services.entry_publish(entry=entry, category=moderated_category, user=boss)
    publication.refresh_from_db()
    assert (publication.status, publication.published_by) == (Approved, boss)


def test_unpublish_removes_the_publication(make_user, make_entry, open_category):
    admin = make_user(role=Role.ADMIN)
    entry = make_entry(admin)
    services.entry_publish(entry=entry, category=open_category, user=admin)
    services.entry_unpublish(entry=entry, category=open_category)
    assert not Publication.objects.exists()


# --- publications_decide -------------------------------------------------------------------------

@pytest.fixture
def pending_publications(make_user, make_entry, moderated_category):
    admin = make_user(role=Role.ADMIN)
    for number in range(3):
        services.entry_publish(entry=make_entry(admin, name=f"E{number}"), category=moderated_category, user=admin)
    return Publication.objects.all()


def test_decide_approve_approves_and_dates_them(pending_publications):
    assert services.publications_decide(publications=pending_publications, approve=True) == 3
    assert {(p.status, p.decided is not None) for p in Publication.objects.all()} == {(Approved, True)}


def test_decide_reject_rejects_them(pending_publications):
    assert services.publications_decide(publications=pending_publications, approve=False) == 3
    assert set(Publication.objects.values_list("status", flat=True)) == {Rejected}


def test_decide_counts_only_the_ones_that_change(pending_publications):
    first = pending_publications.order_by("pk").first()
    services.publications_decide(publications=Publication.objects.filter(pk=first.pk), approve=True)
    assert services.publications_decide(publications=Publication.objects.all(), approve=True) == 2


def test_decide_touches_only_the_given_publications(pending_publications):
    first = pending_publications.order_by("pk").first()
    services.publications_decide(publications=Publication.objects.filter(pk=first.pk), approve=False)
    assert sorted(Publication.objects.values_list("status", flat=True)) == [Pending, Pending, Rejected]


def test_decided_publication_makes_the_entry_published(pending_publications):
    first = pending_publications.order_by("pk").first()
    services.publications_decide(publications=Publication.objects.filter(pk=first.pk), approve=True)
    assert list(MediaEntry.objects.published()) == [first.entry]


# --- collaborator_grant --------------------------------------------------------------------------

def flags(collaborator):
    collaborator.refresh_from_db()
    return collaborator.is_co_viewer, collaborator.is_co_editor, collaborator.is_co_publisher


def test_grant_creates_a_collaborator(entry, make_user):
    collaborator = services.collaborator_grant(entry=entry, user=make_user(), co_editor=True)
    assert flags(collaborator) == (False, True, False)


def test_grant_merges_with_the_rights_already_held(entry, make_user):
    user = make_user()
    services.collaborator_grant(entry=entry, user=user, co_viewer=True)
    collaborator = services.collaborator_grant(entry=entry, user=user, co_publisher=True)
    assert flags(collaborator) == (True, False, True)
    assert Collaborator.objects.filter(entry=entry, user=user).count() == 1


def test_grant_never_takes_rights_away(entry, make_user):
    user = make_user()
    services.collaborator_grant(entry=entry, user=user, co_viewer=True, co_editor=True, co_publisher=True)
    collaborator = services.collaborator_grant(entry=entry, user=user, co_viewer=True)
    assert flags(collaborator) == (True, True, True)


def test_grant_to_the_owner_is_ignored(entry):
    assert services.collaborator_grant(entry=entry, user=entry.owner, co_editor=True) is None
    assert not Collaborator.objects.exists()


def test_grant_of_nothing_returns_none_and_stores_nothing(entry, make_user):
    assert services.collaborator_grant(entry=entry, user=make_user()) is None
    assert not Collaborator.objects.exists()


def test_collaborator_remove(entry, make_user):
    collaborator = services.collaborator_grant(entry=entry, user=make_user(), co_viewer=True)
    services.collaborator_remove(collaborator=collaborator)
    assert not Collaborator.objects.exists()


# --- caption_add / caption_delete ----------------------------------------------------------------

def test_caption_add_stores_webvtt(entry):
    track = services.caption_add(entry=entry, label="English", language="en", content=VTT)
    assert (track.label, track.language) == ("English", "en")
    assert read_stored(track.file.name) == VTT


def test_caption_add_converts_subrip(entry):
    track = services.caption_add(entry=entry, label="English", language="en", content=SRT)
    assert read_stored(track.file.name) == b"WEBVTT\n\n1\n00:00:01.250 --> 00:00:02.500\nFrom SubRip\n"


def test_caption_add_rejects_a_bad_file_and_stores_nothing(entry):
    before = stored_files()
    assert before == [entry.media.name]
    with pytest.raises(CaptionError):
        services.caption_add(entry=entry, label="English", language="en", content=b"not captions")
    assert (CaptionTrack.objects.count(), stored_files()) == (0, before)


def test_caption_add_rejects_a_bad_label_and_stores_no_file(entry):
    before = stored_files()
    assert before == [entry.media.name]
    with pytest.raises(ValidationError):
        services.caption_add(entry=entry, label="L" * 101, language="en", content=VTT)
    assert CaptionTrack.objects.count() == 0
    assert stored_files() == before


def test_caption_add_without_reference_id_adds_another_track(entry):
    services.caption_add(entry=entry, label="English", language="en", content=VTT)
    services.caption_add(entry=entry, label="English", language="en", content=VTT)
    assert entry.captions.count() == 2


def test_caption_add_with_the_same_reference_id_replaces_the_track(entry):
    first = services.caption_add(entry=entry, label="Transcript", language="en", content=VTT, reference_id="t-1")
    second = services.caption_add(entry=entry, label="Transcript (edited)", language="en-GB", content=VTT_2,
                                  reference_id="t-1")
    assert second.pk == first.pk
    assert list(entry.captions.values_list("label", "language")) == [("Transcript (edited)", "en-GB")]
    assert read_stored(second.file.name) == VTT_2


def test_caption_add_with_the_same_reference_id_deletes_the_old_file(entry):
    first = services.caption_add(entry=entry, label="Transcript", language="en", content=VTT, reference_id="t-1")
    old_name = first.file.name
    assert is_stored(old_name)
    second = services.caption_add(entry=entry, label="Transcript", language="en", content=VTT_2, reference_id="t-1")
    assert not is_stored(old_name)
    assert stored_files("captions") == [second.file.name]


def test_caption_reference_ids_are_per_entry(owner, make_entry, entry):
    other = make_entry(owner, name="Other")
    services.caption_add(entry=entry, label="T", language="en", content=VTT, reference_id="t-1")
    services.caption_add(entry=other, label="T", language="en", content=VTT, reference_id="t-1")
    assert CaptionTrack.objects.count() == 2


def test_caption_delete_removes_the_row_and_the_file(entry):
    track = services.caption_add(entry=entry, label="English", language="en", content=VTT)
    name = track.file.name
    assert is_stored(name)
    services.caption_delete(track=track)
    assert (CaptionTrack.objects.count(), is_stored(name)) == (0, False)


# --- new users and their role --------------------------------------------------------------------

@pytest.mark.parametrize("role", [Role.VIEWER, Role.PRIVATE_ONLY, Role.ADMIN, Role.UNMODERATED_ADMIN])
def test_new_user_gets_the_default_role_from_settings(db, settings, role):
    settings.MEDIASPACE_DEFAULT_ROLE = role.value
    user = get_user_model().objects.create_user(username="newcomer", password="pw-for-tests-1")
    assert UserRole.objects.get(user=user).role == role


def test_default_role_is_private_only_out_of_the_box(db, settings):
    del settings.MEDIASPACE_DEFAULT_ROLE
    user = get_user_model().objects.create_user(username="newcomer", password="pw-for-tests-1")
    assert UserRole.objects.get(user=user).role == Role.PRIVATE_ONLY


def test_saving_an_existing_user_keeps_their_role(make_user, settings):
    user = make_user(role=Role.ADMIN)
    settings.MEDIASPACE_DEFAULT_ROLE = Role.VIEWER.value
    user.first_name = "Changed"
    user.save()
    assert UserRole.objects.get(user=user).role == Role.ADMIN


def test_user_without_a_role_row_has_the_default_role(db, settings):
    user = get_user_model().objects.create_user(username="newcomer", password="pw-for-tests-1")
    UserRole.objects.filter(user=user).delete()
    settings.MEDIASPACE_DEFAULT_ROLE = Role.VIEWER.value
    assert (role_of(user), default_role()) == (Role.VIEWER, Role.VIEWER)


# --- the role ladder -----------------------------------------------------------------------------

def test_the_ladder_is_in_the_specified_order():
    assert [role.value for role in LADDER] == [
        "anonymousRole", "viewerRole", "privateOnlyRole", "adminRole", "unmoderatedAdminRole"
    ]


@pytest.mark.parametrize("held, minimum", list(itertools.product(LADDER, LADDER)),
                         ids=[f"{held.value}>={minimum.value}" for held, minimum in itertools.product(LADDER, LADDER)])
def test_has_role_follows_the_ladder(make_user, held, minimum):
    user = AnonymousUser() if held == Role.ANONYMOUS else make_user(role=held)
    assert has_role(user, minimum) is (LADDER.index(held) >= LADDER.index(minimum))


def test_has_role_accepts_role_names_as_strings(make_user):
    user = make_user(role=Role.ADMIN)
    assert (has_role(user, "adminRole"), has_role(user, "unmoderatedAdminRole")) == (True, False)


def test_nobody_is_below_anonymous(db):
    assert (has_role(None, Role.ANONYMOUS), has_role(AnonymousUser(), Role.VIEWER)) == (True, False)
