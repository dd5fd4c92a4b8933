"""Search inside what was said: caption cues are searchable, and a result links to the moment."""
import importlib

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from mediaspace.captions import cues
from mediaspace.models import CaptionCue, Category, MediaEntry
from mediaspace.roles import Role
from mediaspace.services import caption_add, caption_delete, entry_publish

LECTURE = """WEBVTT

1
00:00:01.000 --> 00:00:04.000
<v Ann Lee>Welcome to Physics 101.</v>

2
00:01:05.500 --> 00:01:09.000
<v Ann Lee>Today: the <b>photoelectric</b> effect
and Einstein's quanta.</v>

01:02:03.250 --> 01:02:05.000 align:start
See you next week.
"""


def test_cues_are_plain_text_with_their_times():
    assert list(cues(LECTURE)) == [
        (1.0, 4.0, "Welcome to Physics 101."),
        (65.5, 69.0, "Today: the photoelectric effect and Einstein's quanta."),
        (3723.25, 3725.0, "See you next week."),
    ]


@pytest.fixture
def lecture(make_user, make_entry):
    owner = make_user(username="ann", role=Role.UNMODERATED_ADMIN)
    entry = make_entry(owner, name="Week 3")
    caption_add(entry=entry, label="Teams transcript", language="en", content=LECTURE.encode(), reference_id="t-1")
    return entry


def test_a_track_keeps_its_cues_in_step(lecture):
    track = lecture.captions.get()
    assert CaptionCue.objects.filter(entry=lecture).count() == 3

    caption_add(entry=lecture, label="Teams transcript", language="en", reference_id="t-1",
                content=b"WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nOnly this now.\n")
    assert list(CaptionCue.objects.filter(entry=lecture).values_list("text", flat=True)) == ["Only this now."]

    caption_delete(track=lecture.captions.get())
    assert not CaptionCue.objects.exists() and not lecture.captions.filter(pk=track.pk).exists()


def test_my_media_finds_what_was_said_and_links_to_the_moment(lecture, client_for, make_entry):
    make_entry(lecture.owner, name="Something else")
    client = client_for(lecture.owner)

    found = client.get(reverse("mediaspace:my_media"), {"q": "photoelectric"})
    nothing = client.get(reverse("mediaspace:my_media"), {"q": "thermodynamics"})

    entries = list(found.context["page"])
    assert [entry.name for entry in entries] == ["Week 3"]
    assert entries[0].spoken.text.startswith("Today: the photoelectric effect")
    page = found.content.decode()
    assert f'href="{lecture.get_absolute_url()}?t=65"' in page and "1:05" in page
    assert not list(nothing.context["page"])


def test_the_entry_page_starts_the_player_at_the_cue(lecture, client_for):
    client = client_for(lecture.owner)
    media = reverse("mediaspace:entry_media", args=[lecture.pk])

    assert f'src="{media}#t=3723"' in client.get(lecture.get_absolute_url(), {"t": "3723"}).content.decode()
    for bad in ["-5", "1e9", "abc", "9" * 20]:
        page = client.get(lecture.get_absolute_url(), {"t": bad})
        assert page.status_code == 200 and f'src="{media}"' in page.content.decode()


def test_category_search_finds_spoken_words_of_published_entries_only(lecture, client_for, make_user, make_entry):
    category = Category.objects.create(name="Physics")
    entry_publish(entry=lecture, category=category, user=None, by_administrator=True)
    hidden = make_entry(lecture.owner, name="Unpublished")
    caption_add(entry=hidden, label="t", language="en", content=LECTURE.encode())
    client = client_for(make_user(username="viewer", role=Role.VIEWER))

    found = client.get(reverse("mediaspace:category", args=[category.pk]), {"q": "Einstein"})

    assert [entry.name for entry in found.context["page"]] == ["Week 3"]


def test_search_does_not_query_per_row(make_user, make_entry, client_for):
    owner = make_user(username="ann")
    client = client_for(owner)

    def queries_for_a_page():
        client.get(reverse("mediaspace:my_media"), {"q": "quanta"})  # modules' rows are made on first use
        with CaptureQueriesContext(connection) as queries:
            page = client.get(reverse("mediaspace:my_media"), {"q": "quanta"})
        assert all(entry.spoken for entry in page.context["page"])
        return len(page.context["page"]), len(queries)

    def add_entries(count):
        for number in range(count):
            entry = make_entry(owner, name=f"Lecture {number}")
            caption_add(entry=entry, label="t", language="en", content=LECTURE.encode())

    add_entries(2)
    few = queries_for_a_page()
    add_entries(20)
    many = queries_for_a_page()

    assert (few[0], many[0]) == (2, 22) and few[1] == many[1]


def test_the_migration_fills_cues_of_tracks_made_before_it(lecture):
    CaptionCue.objects.all().delete()
    migration = importlib.import_module("mediaspace.migrations.0002_caption_cues")

    migration.cues_of_existing_tracks(apps, None)

    assert CaptionCue.objects.filter(entry=lecture).count() == 3


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's full-text index")
def test_postgresql_search_uses_the_full_text_index(lecture):
    matching = CaptionCue.objects.matching("photoelectric")
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")  # a tiny table: make the planner show it can use the index
        plan = matching.explain()
        cursor.execute("SET enable_seqscan = on")

    assert "mediaspace_captioncue_text_search" in plan
    assert [cue.text for cue in matching] == ["Today: the photoelectric effect and Einstein's quanta."]
    assert MediaEntry.objects.search("photoelectric").get() == lecture


# --- WebVTT character references are text: stored decoded, found, shown escaped once -------------

REFERENCES = """WEBVTT

00:00:01.000 --> 00:00:03.000
Q&amp;A: is 1 &lt; 2 &gt; 0?&nbsp;Yes &#8212; &#x263A; &lrm;done

00:00:04.000 --> 00:00:06.000
<v Bob>Type <b>&lt;script&gt;alert(1)&lt;/script&gt;</b> here</v>

00:00:07.000 --> 00:00:08.000
Write &amp;lt; for a literal &amp;lt;
"""
DECODED = [
    "Q&A: is 1 < 2 > 0? Yes \u2014 \u263a \u200edone",
    "Type <script>alert(1)</script> here",
    "Write &lt; for a literal &lt;",
]


def test_cue_text_has_its_character_references_decoded():
    assert [text for _start, _end, text in cues(REFERENCES)] == DECODED


@pytest.fixture
def quiz(make_user, make_entry):
    entry = make_entry(make_user(username="quizmaster", role=Role.PRIVATE_ONLY), name="Quiz")
    caption_add(entry=entry, label="English", language="en", content=REFERENCES.encode())
    return entry


def test_stored_cues_are_decoded(quiz):
    assert list(CaptionCue.objects.filter(entry=quiz).values_list("text", flat=True)) == DECODED


@pytest.mark.parametrize("query, cue", [("<", 0), ("&", 0), ("1 < 2", 0), ("<script>", 1), ("&lt;", 2)])
def test_search_finds_what_a_character_reference_says(quiz, client_for, query, cue):
    found = client_for(quiz.owner).get(reverse("mediaspace:my_media"), {"q": query})
    assert [(entry.name, entry.spoken.text) for entry in found.context["page"]] == [("Quiz", DECODED[cue])]


def test_search_result_shows_decoded_text_escaped_once(quiz, client_for):
    page = client_for(quiz.owner).get(reverse("mediaspace:my_media"), {"q": "here"}).content.decode()
    assert "Type &lt;script&gt;alert(1)&lt;/script&gt; here" in page
    assert "<script>alert(1)" not in page and "&amp;lt;" not in page


def _decode_migration():
    return importlib.import_module("mediaspace.migrations.0003_caption_cue_character_references")


def _store_cues_as_before_the_fix(entry):
    """What was stored before decoding: the references as written (markup stripped)."""
    for cue, literal in zip(CaptionCue.objects.filter(entry=entry), [
        "Q&amp;A: is 1 &lt; 2 &gt; 0?&nbsp;Yes &#8212; &#x263A; &lrm;done",
        "Type &lt;script&gt;alert(1)&lt;/script&gt; here",
        "Write &amp;lt; for a literal &amp;lt;",
    ], strict=True):
        CaptionCue.objects.filter(pk=cue.pk).update(text=literal)


def test_the_migration_decodes_cues_stored_before_it(quiz):
    _store_cues_as_before_the_fix(quiz)

    _decode_migration().decode_character_references(apps, None)

    assert list(CaptionCue.objects.filter(entry=quiz).values_list("start", "text")) == list(zip([1.0, 4.0, 7.0],
                                                                                              DECODED))


def test_the_migration_never_decodes_twice(quiz):
    _decode_migration().decode_character_references(apps, None)  # cues stored decoded already

    assert list(CaptionCue.objects.filter(entry=quiz).values_list("text", flat=True)) == DECODED


def test_the_migration_decodes_the_stored_text_when_the_file_is_gone(quiz):
    _store_cues_as_before_the_fix(quiz)
    track = quiz.captions.get()
    track.file.storage.delete(track.file.name)

    _decode_migration().decode_character_references(apps, None)

    assert list(CaptionCue.objects.filter(entry=quiz).values_list("text", flat=True)) == DECODED
