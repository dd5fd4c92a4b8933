"""Pages, sessions and users kept in memory while the database has not changed (mediaspace/page_cache.py).

A kept page must never show anything out of date: a change committed by this connection or by any other (another
thread, process or server) is seen on the next request. These tests commit for real (transaction=True): inside a
test's transaction nothing is kept at all, which the last tests check too.
"""
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import connection, connections, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from mediaspace import services
from mediaspace.models import Category, MediaEntry, Publication, UserRole
from mediaspace.page_cache import Kept, kept
from mediaspace.roles import Role

pytestmark = pytest.mark.django_db(transaction=True)

CSRF_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"')
MY_MEDIA = "/my-media/"


@pytest.fixture
def owner(make_user):
    return make_user(username="owner", role=Role.PRIVATE_ONLY)


@pytest.fixture
def entry(owner):
    return MediaEntry.objects.create(name="Thermodynamics 1", owner=owner, status=MediaEntry.Status.READY,
                                     content_type="video/webm", size=1000, reference_id="kept-1")


@pytest.fixture
def published(entry, owner):
    category = Category.objects.create(name="Physics")
    Publication.objects.create(category=category, entry=entry, status=Publication.Status.APPROVED, published_by=owner)
    return category


@pytest.fixture
def database_sessions(settings):
    """The stand-alone project's sessions without Redis (with REDIS_URL it reads them from Redis, cached_db)."""
    settings.SESSION_ENGINE = "mediaspace.project.sessions"


def signed_in(user, **options):
    client = Client(**options)
    client.force_login(user)
    return client


def queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    return response, [query["sql"] for query in captured.captured_queries]


def elsewhere(sql, params=()):
    """Commit `sql` through a connection of its own, as another process or server would."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute(sql, params)
    finally:
        other.close()


def table(model):
    return connection.ops.quote_name(model._meta.db_table)


def test_a_page_seen_again_is_served_from_memory_after_one_look_at_the_database(owner, entry):
    client = signed_in(owner)
    first, built = queries(client, MY_MEDIA)
    again, served = queries(client, MY_MEDIA)
    assert first.status_code == again.status_code == 200
    assert len(built) > 3
    assert len(served) == 1 and re.search(r"data_version|pg_current_snapshot", served[0])
    assert CSRF_TOKEN.sub("", first.content.decode()) == CSRF_TOKEN.sub("", again.content.decode())
    assert "Thermodynamics 1" in again.content.decode()


def test_a_change_committed_by_another_connection_shows_on_the_next_request(owner, entry):
    client = signed_in(owner)
    client.get(MY_MEDIA)
    client.get(MY_MEDIA)
    elsewhere(f"UPDATE {table(MediaEntry)} SET name = %s WHERE id = %s", ["Thermodynamics 2", entry.pk])
    page = client.get(MY_MEDIA).content.decode()
    assert "Thermodynamics 2" in page and "Thermodynamics 1" not in page


def test_an_entry_taken_out_of_its_category_leaves_its_pages_on_the_next_request(owner, entry, published,
                                                                                 make_user):
    viewer = signed_in(make_user(role=Role.VIEWER))
    entry_url, category_url = reverse("mediaspace:entry", args=[entry.pk]), reverse("mediaspace:category",
                                                                                      args=[published.pk])
    for _ in range(2):
        assert viewer.get(entry_url).status_code == 200
        assert "Thermodynamics 1" in viewer.get(category_url).content.decode()
    services.entry_unpublish(entry=entry, category=published)
    assert viewer.get(entry_url).status_code == 403
    assert "Thermodynamics 1" not in viewer.get(category_url).content.decode()


def test_a_role_changed_elsewhere_takes_effect_on_the_next_request(owner, entry):
    client = signed_in(owner)
    for _ in range(2):
        assert "Add new" in client.get(MY_MEDIA).content.decode()
    elsewhere(f"UPDATE {table(UserRole)} SET role = %s WHERE user_id = %s", [Role.VIEWER.value, owner.pk])
    assert "Add new" not in client.get(MY_MEDIA).content.decode()


def test_a_user_s_kept_page_is_never_served_to_another_user(owner, entry, make_user):
    signed_in(owner).get(MY_MEDIA)
    signed_in(owner).get(MY_MEDIA)
    page = signed_in(make_user(username="other")).get(MY_MEDIA).content.decode()
    assert "Thermodynamics 1" not in page and "Sign out other" in page


def test_a_category_s_listing_is_built_once_for_everyone_and_each_user_gets_their_own_page(owner, entry, published,
                                                                                       make_user):
    url = reverse("mediaspace:category", args=[published.pk])
    first, second = (signed_in(make_user(username=name, role=Role.VIEWER)) for name in ("first", "second"))
    first = first.get(url).content.decode()
    response, asked = queries(second, url)
    page = response.content.decode()
    assert not any("mediaentry" in sql or "publication" in sql for sql in asked)  # the listing was kept
    assert "Thermodynamics 1" in page and "Sign out second" in page and "Sign out first" not in page
    assert "Sign out first" in first
    services.entry_unpublish(entry=entry, category=published)
    assert "Thermodynamics 1" not in signed_in(make_user(username="third", role=Role.VIEWER)).get(url).content.decode()


def test_an_entry_s_content_is_shared_by_viewers_with_the_same_rights_and_never_with_its_owner(owner, entry,
                                                                                             published, make_user):
    url = reverse("mediaspace:entry", args=[entry.pk])
    first, second = (signed_in(make_user(username=name, role=Role.VIEWER)) for name in ("first", "second"))
    mine = signed_in(owner)
    assert first.get(url).status_code == 200
    response, asked = queries(second, url)
    assert response.status_code == 200 and "Sign out second" in response.content.decode()
    assert not any("captiontrack" in sql for sql in asked)  # the content was kept: its captions were not read
    owned = mine.get(url).content.decode()
    assert "Edit details" in owned and "Edit details" not in response.content.decode()


def test_a_co_editor_and_a_viewer_never_get_the_owner_s_entry_content(owner, entry, published, make_user):
    url = reverse("mediaspace:entry", args=[entry.pk])
    editor, viewer = make_user(username="editor"), make_user(username="viewer", role=Role.VIEWER)
    services.collaborator_grant(entry=entry, user=editor, co_viewer=False, co_editor=True, co_publisher=False)
    mine, theirs, seen = (signed_in(user) for user in (owner, editor, viewer))
    for _ in range(2):
        owned, edited, viewed = (client.get(url).content.decode() for client in (mine, theirs, seen))
        assert "Delete" in owned and "Edit details" in owned
        assert "Delete" not in edited and "Edit details" in edited
        assert "Delete" not in viewed and "Edit details" not in viewed


def test_each_request_gets_its_own_csrf_token_and_a_kept_page_s_token_is_accepted(owner, entry):
    first, second = signed_in(owner, enforce_csrf_checks=True), signed_in(owner, enforce_csrf_checks=True)
    first.get(MY_MEDIA)
    response, served = queries(second, MY_MEDIA)
    assert not any("mediaentry" in sql for sql in served)  # the kept page (and user); its own session was read
    tokens = set(CSRF_TOKEN.findall(response.content.decode()))
    assert len(tokens) == 1 and tokens != set(CSRF_TOKEN.findall(first.get(MY_MEDIA).content.decode()))
    signed_out = second.post(reverse("mediaspace:logout"), {"csrfmiddlewaretoken": tokens.pop()})
    assert signed_out.status_code == 302
    assert second.get(MY_MEDIA).status_code == 302  # signed out: to the sign-in page


def test_a_message_is_shown_once_and_never_kept(owner, entry):
    client = signed_in(owner)
    entry_url = reverse("mediaspace:entry", args=[entry.pk])
    client.get(entry_url)
    client.get(entry_url)
    client.post(reverse("mediaspace:entry_edit", args=[entry.pk]),
                {"name": "Renamed", "description": "", "tags": ""})
    assert "Saved." in client.get(entry_url).content.decode()
    again = client.get(entry_url).content.decode()
    assert "Saved." not in again and "Renamed" in again


def test_a_session_ended_elsewhere_is_signed_out_on_the_next_request(database_sessions, owner, entry):
    client = signed_in(owner)
    client.get(MY_MEDIA)
    assert client.get(MY_MEDIA).status_code == 200
    elsewhere(f"DELETE FROM {table(Session)}")
    assert client.get(MY_MEDIA).status_code == 302


def test_a_user_deactivated_elsewhere_is_signed_out_on_the_next_request(owner, entry):
    client = signed_in(owner)
    client.get(MY_MEDIA)
    assert client.get(MY_MEDIA).status_code == 200
    elsewhere(f"UPDATE {table(get_user_model())} SET is_active = %s WHERE id = %s", [False, owner.pk])
    assert client.get(MY_MEDIA).status_code == 302


def test_signing_out_and_in_as_someone_else_on_the_same_browser_shows_their_page_at_once(owner, entry, make_user):
    make_user(username="other")
    client = signed_in(owner)
    client.get(MY_MEDIA)
    assert "Sign out owner" in client.get(MY_MEDIA).content.decode()
    assert client.post(reverse("mediaspace:logout")).status_code == 302
    signed_in_again = client.post(reverse("mediaspace:login"), {"username": "other", "password": "pw-for-tests-1"})
    assert signed_in_again.status_code == 302 and signed_in_again["Location"] == MY_MEDIA
    page = client.get(MY_MEDIA).content.decode()
    assert "Sign out other" in page and "Thermodynamics 1" not in page


def test_a_session_expires_at_its_time_though_nothing_changed(database_sessions, owner, entry, monkeypatch):
    client = signed_in(owner)
    client.get(MY_MEDIA)
    assert client.get(MY_MEDIA).status_code == 200
    expiry = Session.objects.get().expire_date
    monkeypatch.setattr(timezone, "now", lambda: expiry + timezone.timedelta(seconds=1))
    response, asked = queries(client, MY_MEDIA)
    assert response.status_code == 302 and len(asked) == 1  # no change: refused on the kept row's expiry


def test_nothing_is_kept_inside_a_transaction(owner, entry):
    client = signed_in(owner)
    with transaction.atomic():
        client.get(MY_MEDIA)
        _response, asked = queries(client, MY_MEDIA)
    assert len(asked) > 3 and not any("data_version" in sql or "pg_current_snapshot" in sql for sql in asked)


def test_every_page_is_built_when_keeping_is_off(owner, entry, settings):
    settings.MEDIASPACE_PAGE_CACHE_BYTES = 0
    client = signed_in(owner)
    client.get(MY_MEDIA)
    _response, asked = queries(client, MY_MEDIA)
    assert len(asked) > 3


def test_a_failed_answer_is_not_kept(owner, entry, make_user):
    stranger = signed_in(make_user(role=Role.VIEWER))
    entry_url = reverse("mediaspace:entry", args=[entry.pk])
    assert stranger.get(entry_url).status_code == 403
    response, asked = queries(stranger, entry_url)
    assert response.status_code == 403 and len(asked) > 1


def test_what_is_kept_stays_within_its_bytes_and_the_least_recently_used_goes_first(settings):
    settings.MEDIASPACE_PAGE_CACHE_BYTES = 100
    store = Kept()
    generation = store.generation
    for name in "abc":
        store.put(generation, name, name.upper(), 30)
    assert store.get(generation, "a") == "A"  # now the most recently used
    store.put(generation, "d", "D", 30)
    assert [store.get(generation, name) for name in "abcd"] == ["A", None, "C", "D"]
    assert store.size == 90
    store.put(generation, "huge", "H", 101)
    assert store.get(generation, "huge") is None


def test_what_was_read_before_a_change_is_not_kept_after_it(owner, settings):
    settings.MEDIASPACE_PAGE_CACHE_BYTES = 100
    with connection.cursor():
        pass
    generation = kept.look(connection)
    elsewhere(f"UPDATE {table(get_user_model())} SET first_name = %s WHERE id = %s", ["Ada", owner.pk])
    assert kept.look(connection) != generation
    kept.put(generation, "late", "value", 10)
    assert kept.get(generation, "late") is None and kept.get(kept.generation, "late") is None


def test_a_late_store_is_dropped_once_another_connection_has_seen_the_change(owner, settings):
    settings.MEDIASPACE_PAGE_CACHE_BYTES = 100
    other_thread = connections.create_connection("default")  # another thread's connection, in this process
    try:
        before = kept.look(connection)
        assert kept.look(other_thread) != before  # a connection new to this process moves the generation too
        before = kept.look(connection)
        assert kept.look(other_thread) == before and kept.look(connection) == before  # nothing changed
        elsewhere(f"UPDATE {table(get_user_model())} SET first_name = %s WHERE id = %s", ["Ada", owner.pk])
        assert kept.look(other_thread) != before  # the other thread sees the change first
        kept.put(before, "late", "read before the change", 10)  # this thread's late store
        assert kept.get(kept.generation, "late") is None
        assert kept.look(connection) != before
    finally:
        other_thread.close()
