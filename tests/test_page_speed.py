"""Pages stay cheap however many entries there are (issue 17), and what makes them cheap never shows a user
something out of date: an entry's visibility, its details and a user's role take effect on the next request."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from mediaspace.models import Category, MediaEntry, Publication, UserRole
from mediaspace.roles import Role
from mediaspace.sizes import readable_size

MAX_QUERIES = 10


@pytest.fixture
def owner(make_user):
    return make_user(username="owner")


@pytest.fixture
def category(db):
    return Category.objects.create(name="Lectures")


def add_entries(owner, category, count, *, start=0):
    """`count` ready entries of `owner`, all published to `category` (no files: only the pages are measured)."""
    entries = MediaEntry.objects.bulk_create(
        MediaEntry(name=f"Lecture {number:05d}", owner=owner, status=MediaEntry.Status.READY,
                   content_type="video/webm", size=1000 + number, reference_id=f"bulk-{number}")
        for number in range(start, start + count))
    Publication.objects.bulk_create(
        Publication(category=category, entry=entry, status=Publication.Status.APPROVED) for entry in entries)
    return entries


def queries_of(client, url):
    client.get(url)  # the first request may fill caches; the second is what every later one costs
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return [query["sql"] for query in queries.captured_queries]


def plan(sql):
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql)
        return " / ".join(str(row[-1]) for row in cursor.fetchall())


def page_url(name, category):
    return reverse("mediaspace:my_media") if name == "my media" else reverse("mediaspace:category", args=[category.pk])


@pytest.mark.parametrize("name", ["my media", "category"])
def test_a_list_page_issues_the_same_queries_at_100_and_1000_entries(client_for, owner, category, name):
    client = client_for(owner)
    add_entries(owner, category, 100)
    few = queries_of(client, page_url(name, category) + "?page=2")
    add_entries(owner, category, 900, start=100)
    many = queries_of(client, page_url(name, category) + "?page=20")
    assert (len(few), len(many) <= MAX_QUERIES) == (len(many), True)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="reads SQLite's query plans")
@pytest.mark.parametrize("name", ["my media", "category"])
def test_a_list_page_is_read_from_an_index_without_sorting_the_whole_set(client_for, owner, category, name):
    client = client_for(owner)
    add_entries(owner, category, 30)
    # The count (a category's comes from its publications) and the page's rows.
    listing = [sql for sql in queries_of(client, page_url(name, category) + "?page=2")
               if sql.split(" FROM ", 1)[1].startswith('"mediaspace_mediaentry"') or "COUNT(*)" in sql]
    assert [("COUNT(*)" in sql.split(" FROM ")[0], sql.startswith('SELECT "mediaspace_mediaentry"'))
            for sql in listing] == [(True, False), (False, True)]
    for sql in listing:
        assert "TEMP B-TREE" not in plan(sql) and "SCAN" not in plan(sql), plan(sql)


# --- the entry cards' fragment cache --------------------------------------------------------------------------


def card_renders(client, url):
    """How many entry cards the template engine rendered (not taken from the cache) for one request."""
    response = client.get(url)
    assert response.status_code == 200
    return sum(template.name == "mediaspace/includes/entry_card.html" for template in response.templates)


def test_cards_are_rendered_once_and_then_taken_from_the_cache(client_for, owner, category, make_user):
    add_entries(owner, category, 3)
    client = client_for(owner)
    assert [card_renders(client, page_url("my media", category)) for _ in range(2)] == [3, 0]
    # A category's cards do not depend on who looks: another user gets the same cached cards.
    client = client_for(owner)
    card_renders(client, page_url("category", category))
    assert card_renders(client_for(make_user(role=Role.VIEWER)), page_url("category", category)) == 0


def test_a_changed_entry_shows_its_new_details_on_the_next_request(client_for, owner, category):
    entry, = add_entries(owner, category, 1)
    client = client_for(owner)
    for name in ("my media", "category"):
        assert "Lecture 00000" in client.get(page_url(name, category)).content.decode()
    # Written without save(), as progress reports and bulk changes are: the card must not trust `updated`.
    MediaEntry.objects.filter(pk=entry.pk).update(name="Renamed lecture", size=5 * 1024 * 1024)
    for name in ("my media", "category"):
        page = client.get(page_url(name, category)).content.decode()
        assert ("Renamed lecture" in page, "Lecture 00000" in page, readable_size(5 * 1024 * 1024) in page) == (
            True, False, True)


def test_an_import_s_progress_shows_on_the_next_request(client_for, owner, category):
    entry, = add_entries(owner, category, 1)
    MediaEntry.objects.filter(pk=entry.pk).update(status=MediaEntry.Status.IMPORTING, bytes_expected=1000,
                                                  bytes_received=100)
    client = client_for(owner)
    assert 'value="10"' in client.get(page_url("my media", category)).content.decode()
    MediaEntry.objects.filter(pk=entry.pk).update(bytes_received=700)
    assert 'value="70"' in client.get(page_url("my media", category)).content.decode()


def test_an_entry_taken_out_of_a_category_leaves_its_page_on_the_next_request(client_for, owner, category,
                                                                               make_user):
    kept, removed = add_entries(owner, category, 2)
    viewer = client_for(make_user(role=Role.VIEWER))
    assert "Lecture 00001" in viewer.get(page_url("category", category)).content.decode()
    Publication.objects.filter(entry=removed).update(status=Publication.Status.REJECTED)
    page = viewer.get(page_url("category", category)).content.decode()
    assert ("Lecture 00000" in page, "Lecture 00001" in page) == (True, False)
    MediaEntry.objects.filter(pk=kept.pk).update(status=MediaEntry.Status.FAILED)
    assert "Lecture 00000" not in viewer.get(page_url("category", category)).content.decode()


def test_the_owner_s_name_on_a_card_follows_a_rename_on_the_next_request(client_for, owner, category, make_user):
    add_entries(owner, category, 1)
    viewer = client_for(make_user(role=Role.VIEWER))
    assert "owner" in viewer.get(page_url("category", category)).content.decode()
    get_user_model().objects.filter(pk=owner.pk).update(first_name="Ada", last_name="Lovelace")
    assert "Ada Lovelace" in viewer.get(page_url("category", category)).content.decode()


def test_a_failed_import_s_retry_button_is_never_taken_from_the_cache(client_for, owner, category, make_user):
    """The retry form carries the viewer's CSRF token and shows only to the owner: such a card is always rendered."""
    entry, = add_entries(owner, category, 1)
    MediaEntry.objects.filter(pk=entry.pk).update(status=MediaEntry.Status.FAILED, error="The source went away.",
                                                  source=MediaEntry.Source.ONEDRIVE)
    client = client_for(owner)
    assert [card_renders(client, page_url("my media", category)) for _ in range(2)] == [1, 1]


def test_each_failed_import_shows_its_own_card(client_for, owner, category):
    entries = add_entries(owner, category, 2)
    MediaEntry.objects.filter(pk__in=[entry.pk for entry in entries]).update(
        status=MediaEntry.Status.FAILED, error="The source went away.", source=MediaEntry.Source.ONEDRIVE)
    page = client_for(owner).get(page_url("my media", category)).content.decode()
    assert ("Lecture 00000" in page, "Lecture 00001" in page, page.count('class="card"')) == (True, True, 2)


@pytest.mark.parametrize("name", ["my media", "category"])
def test_cached_cards_do_not_look_up_the_request_s_language_and_time_zone_per_card(client_for, owner, category,
                                                                                   name, monkeypatch):
    """Every look-up of the request's language, time zone or a cache takes the lock of asgiref's Local, which a
    busy process's threads queue for: a page of cached cards must not take it once more per card."""
    import asgiref.local

    def lookups(url):
        client.get(url)  # fills the card cache
        count, original = [0], asgiref.local._DefaultLocal.__getattr__

        def counting(local, key):
            count[0] += 1
            return original(local, key)

        with monkeypatch.context() as patch:
            patch.setattr(asgiref.local._DefaultLocal, "__getattr__", counting)
            assert client.get(url).status_code == 200
        return count[0]

    client = client_for(owner)
    add_entries(owner, category, 2)
    few = lookups(page_url(name, category))
    add_entries(owner, category, 10, start=2)
    assert lookups(page_url(name, category)) == few


def test_a_card_is_written_in_the_viewer_s_language_and_time_zone(client_for, owner, category, settings):
    """The language and time zone are part of a cached card's key: a card cached for one is not shown in another."""
    entry, = add_entries(owner, category, 1)
    MediaEntry.objects.filter(pk=entry.pk).update(created="2026-03-01T23:30:00Z")
    client = client_for(owner)
    assert "Mar 1, 2026" in client.get(page_url("my media", category)).content.decode()
    settings.TIME_ZONE = "Asia/Tokyo"
    assert "Mar 2, 2026" in client.get(page_url("my media", category)).content.decode()


# --- sessions ------------------------------------------------------------------------------------------------


@pytest.fixture
def cached_sessions(settings):
    """Sessions read from a cache, as with Redis (cached_db), here an in-memory one of this process."""
    settings.CACHES = {**settings.CACHES, "sessions": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                                       "LOCATION": "test-sessions"}}
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    settings.SESSION_CACHE_ALIAS = "sessions"
    yield
    caches["sessions"].clear()


def test_a_cached_session_sees_a_role_change_on_the_next_request(cached_sessions, client_for, make_user):
    user = make_user(role=Role.PRIVATE_ONLY)
    client = client_for(user)
    upload = reverse("mediaspace:upload")
    assert client.get(upload).status_code == 200
    UserRole.objects.filter(user=user).update(role=Role.VIEWER)
    assert client.get(upload).status_code == 403
    UserRole.objects.filter(user=user).update(role=Role.PRIVATE_ONLY)
    assert client.get(upload).status_code == 200


def test_a_cached_session_of_a_deactivated_user_is_signed_out_on_the_next_request(cached_sessions, client_for,
                                                                                  make_user):
    user = make_user()
    client = client_for(user)
    assert client.get(reverse("mediaspace:my_media")).status_code == 200
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    assert client.get(reverse("mediaspace:my_media")).status_code == 302


@pytest.mark.skipif(connection.vendor != "sqlite", reason="reads SQLite's query plans")
def test_my_media_s_notices_do_not_go_through_every_entry_of_the_user(client_for, owner, category):
    add_entries(owner, category, 30)
    notices = [sql for sql in queries_of(client_for(owner), page_url("my media", category))
               if sql.split(" FROM ", 1)[1].startswith('"integrations_recording"')]
    assert [plan(sql).split(" / ")[0] for sql in notices] == [
        "SEARCH integrations_recording USING INDEX recording_decision (decision=?)"]


def test_every_page_s_menu_reads_every_module_in_one_query_and_only_whether_it_is_on_and_for_whom(
        client_for, owner, category):
    """One query for all the modules, and not the whole module row: no secret decrypted on every page (the admin and
    the module's own views load it)."""
    modules = [sql for sql in queries_of(client_for(owner), page_url("my media", category)) if 'module"."' in sql]
    assert len(modules) == 1, modules
    parts = [part.split(" FROM ") for part in re.split(r"\s+UNION ALL\s+", modules[0].strip("()"))]
    tables = {source.split(" ")[0].strip('()"') for _select, source in parts}
    columns = {column for select, _source in parts for column in re.findall(r'"\w+"\."(\w+)"', select)}
    assert (tables, columns) == ({"mediaspace_uploadmodule", "onedrive_onedrivemodule"}, {"enabled", "allowed_roles"})


def test_the_add_new_menu_follows_a_module_turned_off_or_on_on_the_next_request(client_for, owner, category):
    from mediaspace.models import UploadModule

    client = client_for(owner)
    UploadModule.objects.update_or_create(pk=1, defaults={"enabled": True})
    assert "Upload media" in client.get(page_url("my media", category)).content.decode()
    UploadModule.objects.filter(pk=1).update(enabled=False)
    assert "Upload media" not in client.get(page_url("my media", category)).content.decode()
    UploadModule.objects.all().delete()  # a missing row is the defaults': upload is on
    assert "Upload media" in client.get(page_url("my media", category)).content.decode()


def test_my_own_entries_are_read_without_their_owner_and_shared_ones_name_theirs_in_the_same_query(
        client_for, owner, category, make_user):
    """My own entries' cards do not name me, so their page reads no user row; a shared entry's card names its owner,
    read with the entries (the same queries for 2 shared entries as for 12, not one per card)."""
    from mediaspace.models import Collaborator

    add_entries(owner, category, 3)
    mine = [sql for sql in queries_of(client_for(owner), page_url("my media", category))
            if sql.startswith('SELECT "mediaspace_mediaentry"."id"')]
    assert len(mine) == 1 and "auth_user" not in mine[0], mine
    get_user_model().objects.filter(pk=owner.pk).update(first_name="Ada", last_name="Lovelace")
    friend = make_user()

    def shared(count, start):
        Collaborator.objects.bulk_create(Collaborator(entry=entry, user=friend, is_co_viewer=True)
                                         for entry in add_entries(owner, category, count, start=start))
        url = reverse("mediaspace:my_media") + "?tab=shared"
        return len(queries_of(client_for(friend), url)), client_for(friend).get(url).content.decode().count(
            "Ada Lovelace")

    few, many = shared(2, 100), shared(10, 200)
    assert (few[1], many[1], many[0]) == (2, 12, few[0])


def project_settings(**environment):
    """Database and session settings of the stand-alone project under this environment, from a fresh process."""
    script = ("import json; from django.conf import settings as s; d = s.DATABASES['default']; "
              "print(json.dumps([d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'], s.SESSION_ENGINE, "
              "s.CACHES.get(s.SESSION_CACHE_ALIAS, {}).get('BACKEND')]))")
    result = subprocess.run([sys.executable, "manage.py", "shell", "--no-imports", "-c", script],
                            cwd=Path(__file__).resolve().parent.parent, env={**os.environ, **environment},
                            capture_output=True, text=True, timeout=60, check=True)
    return json.loads(result.stdout)


def test_connections_persist_and_sessions_are_kept_only_where_a_sign_out_in_any_process_ends_them():
    # Database sessions whose rows each process keeps until the database changes (tests/test_kept_pages.py).
    assert project_settings(REDIS_URL="") == [600, True, "mediaspace.project.sessions",
                                              "django.core.cache.backends.locmem.LocMemCache"]
    assert project_settings(REDIS_URL="redis://127.0.0.1:6379/0", CONN_MAX_AGE="0") == [
        0, True, "django.contrib.sessions.backends.cached_db", "django.core.cache.backends.redis.RedisCache"]


def test_my_media_s_notices_read_only_what_a_notice_shows(client_for, owner, category):
    notices = [sql.split(" FROM ")[0] for sql in queries_of(client_for(owner), page_url("my media", category))
               if sql.split(" FROM ", 1)[1].startswith('"integrations_recording"')]
    assert len(notices) == 1 and notices[0].count(",") <= 3, notices


# --- a category page ----------------------------------------------------------------------------------------


@pytest.mark.skipif(connection.vendor != "sqlite", reason="reads SQLite's query plans")
@pytest.mark.parametrize("page", [1, 2])
def test_a_category_page_counts_and_pages_its_entries_in_the_publications_index(client_for, owner, category, page):
    """Page n of N needs the count, and page n steps past the earlier entries: both walk the publications' index,
    and the entries' table is read only for the page's own entries (a join would read every entry of the
    category, row by row, for the count and for every entry stepped past)."""
    client = client_for(owner)
    add_entries(owner, category, 30)
    listing = [sql for sql in queries_of(client, page_url("category", category) + f"?page={page}")
               if "mediaspace_publication" in sql]
    assert len(listing) == 2
    for sql in listing:
        steps = plan(sql).split(" / ")
        by_row = [number for number, step in enumerate(steps) if "mediaspace_mediaentry" in step and "rowid=?" in step]
        # Read by row only as the outer loop over the page's list of ids.
        assert by_row in ([], [0]) and (not by_row or steps[1].startswith("LIST SUBQUERY")), steps


def test_a_category_page_lists_exactly_its_ready_approved_entries_newest_first(client_for, owner, category,
                                                                                make_user, settings):
    settings.MEDIASPACE_PAGE_SIZE = 4
    entries = add_entries(owner, category, 11)
    MediaEntry.objects.filter(pk__in=[entries[1].pk, entries[6].pk]).update(status=MediaEntry.Status.FAILED)
    MediaEntry.objects.filter(pk=entries[9].pk).update(status=MediaEntry.Status.IMPORTING)
    Publication.objects.filter(entry=entries[4]).update(status=Publication.Status.REJECTED)
    other = Category.objects.create(name="Other")
    add_entries(owner, other, 3, start=100)
    viewer = client_for(make_user(role=Role.VIEWER))
    shown, pages = [], []
    for number in (1, 2):
        page = viewer.get(page_url("category", category) + f"?page={number}").content.decode()
        shown += re.findall(r"Lecture \d{5}", page)
        pages += re.findall(r"Page \d+ of \d+", page)
    assert (shown, pages) == (
        [f"Lecture {number:05d}" for number in (10, 8, 7, 5, 3, 2, 0)], ["Page 1 of 2", "Page 2 of 2"])


# --- search ----------------------------------------------------------------------------------------------------


@pytest.mark.skipif(connection.vendor != "postgresql", reason="reads PostgreSQL's query plans")
def test_a_search_can_read_the_matching_entries_through_indexes_alone(owner):
    """Name, description and tags through their trigram indexes, what was said through the captions' full-text index,
    combined (BitmapOr), so the planner need not read every entry of a user or a category. With sequential scans
    priced out, a search of every entry must still find an index path."""
    add_entries(owner, Category.objects.create(name="Physics"), 50)
    sql, params = MediaEntry.objects.search("chromodynamics").order_by().query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN SELECT COUNT(*) FROM (" + sql + ") AS found", params)
        steps = "\n".join(row[0] for row in cursor.fetchall())
    assert "Seq Scan on mediaspace_mediaentry" not in steps and "BitmapOr" in steps, steps
    assert all(f"mediaentry_{field}_trigram" in steps for field in ("name", "description", "tags")), steps


@pytest.mark.parametrize("name", ["my media", "category"])
def test_a_search_finds_the_text_in_any_field_or_in_what_was_said(client_for, owner, category, name):
    from mediaspace.models import CaptionCue, CaptionTrack

    entries = add_entries(owner, category, 6)
    MediaEntry.objects.filter(pk=entries[1].pk).update(description="About 100% of PHYSICS")
    MediaEntry.objects.filter(pk=entries[2].pk).update(tags="math, Physics_2")
    track = CaptionTrack.objects.create(entry=entries[3], label="English", language="en", file="captions/x.vtt")
    CaptionCue.objects.create(track=track, entry=entries[3], start=1, end=2, text="the physics of sound")
    client = client_for(owner)

    def found(text):
        page = client.get(page_url(name, category), {"q": text}).content.decode()
        return sorted(int(number) for number in re.findall(r"Lecture (\d{5})", page))

    assert (found("physics"), found("100%"), found("s_2"), found("LECTURE 00005"), found("nothing like it")) == (
        [1, 2, 3], [1], [2], [5], [])
