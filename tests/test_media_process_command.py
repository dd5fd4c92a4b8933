"""`manage.py media_process`: existing entries get probe data, pictures and renditions (issue 15, item 7), and a
migration processes nothing by itself."""
import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone


from mediaspace.models import MediaEntry
from mediaspace.processing import pipeline
from tests.conftest import PNG_HEAD
from tests.media_files import media_file

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("processing")]


def legacy(entry, **fields):
    """The entry as a portal from before the media pipeline left it: ready, never processed."""
    fields = {"status": MediaEntry.Status.READY, "processed": None, "processing_progress": None, "probe": {},
              "error": "", **fields}
    MediaEntry.objects.filter(pk=entry.pk).update(**fields)
    entry.refresh_from_db()
    return entry


@pytest.fixture
def owner(make_user):
    return make_user(username="owner")


@pytest.fixture
def entries(owner, make_entry):
    """Two never-processed entries, one processed already, one whose import failed (no file)."""
    first = legacy(make_entry(owner, name="First"))
    second = legacy(make_entry(owner, name="Second"))
    done = legacy(make_entry(owner, name="Done"), processed=timezone.now())
    no_file = make_entry(owner, name="No file")
    MediaEntry.objects.filter(pk=no_file.pk).update(status=MediaEntry.Status.FAILED, media="", error="Gone")
    return {"first": first, "second": second, "done": done, "no_file": no_file}


class FakePipeline:
    """pipeline.process and pipeline.queue as the command calls them: what they were given, and outcomes."""

    def __init__(self, fail=()):
        self.processed, self.queued, self.fail = [], [], set(fail)

    def process(self, entry_id, *, on_progress=None):
        self.processed.append(entry_id)
        for percent in (0, 30, 60, 100):
            if on_progress:
                on_progress(percent)
        entry = MediaEntry.objects.get(pk=entry_id)
        if entry_id in self.fail:
            entry.status, entry.error = MediaEntry.Status.FAILED, "The file could not be read as audio or video."
        else:
            entry.status, entry.processed = MediaEntry.Status.READY, timezone.now()
        entry.save()
        return entry

    def queue(self, entry, *, force=False):
        self.queued.append((entry.pk, force))
        return entry.pk not in self.fail


@pytest.fixture
def fake(monkeypatch):
    fake = FakePipeline()
    monkeypatch.setattr(pipeline, "process", fake.process)
    monkeypatch.setattr(pipeline, "queue", fake.queue)
    return fake


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("media_process", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# -- which entries ---------------------------------------------------------------------------------------------


def test_missing_processes_the_ready_entries_never_processed(entries, fake):
    out, _err = run("--missing")
    assert fake.processed == [entries["first"].pk, entries["second"].pk]
    assert "2 entries processed: 2 done, 0 failed." in out


def test_all_processes_every_entry_with_media_again(entries, fake):
    run("--all")
    assert fake.processed == [entries["first"].pk, entries["second"].pk, entries["done"].pk]


def test_entry_processes_that_one_even_when_processed_before(entries, fake):
    run("--entry", str(entries["done"].pk))
    assert fake.processed == [entries["done"].pk]


def test_nothing_missing_says_so(owner, make_entry, fake):
    legacy(make_entry(owner, name="Done"), processed=timezone.now())
    out, _err = run("--missing")
    assert "Nothing to process: every ready audio and video entry has been processed." in out
    assert fake.processed == []


def test_one_of_the_choices_is_needed(entries, fake):
    with pytest.raises(CommandError, match="one of the arguments --missing --all --entry is required"):
        run()
    assert fake.processed == []


def test_an_unknown_entry_is_a_clear_error(entries, fake):
    with pytest.raises(CommandError, match="There is no media entry with id 999999."):
        run("--entry", "999999")
    assert fake.processed == []


def test_an_entry_without_media_is_a_clear_error(entries, fake):
    with pytest.raises(CommandError, match=r"has no media file to process \(it is failed\)"):
        run("--entry", str(entries["no_file"].pk))
    assert fake.processed == []


def test_a_picture_is_not_processed(owner, make_entry, fake):
    picture = legacy(make_entry(owner, name="Photo", content=PNG_HEAD + b"x" * 100, filename="photo.png"))
    with pytest.raises(CommandError, match=r"is a picture \(image/png\), which is shown as it is"):
        run("--entry", str(picture.pk))
    run("--all")
    assert fake.processed == []


# -- dry run, queue, failures, FFmpeg missing ------------------------------------------------------------------


def test_dry_run_lists_what_would_be_processed_and_changes_nothing(entries, fake):
    before = list(MediaEntry.objects.order_by("pk").values())
    out, _err = run("--missing", "--dry-run")
    assert fake.processed == [] and fake.queued == []
    assert list(MediaEntry.objects.order_by("pk").values()) == before
    assert "Dry run - nothing is processed or changed." in out
    assert f"{entries['first'].pk}: First" in out and f"{entries['second'].pk}: Second" in out
    assert "Done" not in out.replace("Dry run done", "")
    assert "never processed" in out
    assert "Dry run done: 2 entries would be processed, nothing changed." in out


def test_queue_hands_the_entries_to_the_processing_cluster(entries, fake):
    out, _err = run("--all", "--queue")
    assert fake.queued == [(entries["first"].pk, True), (entries["second"].pk, True), (entries["done"].pk, True)]
    assert fake.processed == []
    assert "3 entries queued on the processing cluster" in out


def test_missing_with_queue_leaves_the_choice_to_the_pipeline(entries, fake):
    fake.fail.add(entries["second"].pk)  # queued meanwhile by someone else: the pipeline does not queue it twice
    out, _err = run("--missing", "--queue")
    assert fake.queued == [(entries["first"].pk, False), (entries["second"].pk, False)]
    assert "1 entry queued on the processing cluster; its workers process them. 1 entry not queued" in out


def test_queue_without_ffmpeg_says_so(entries, fake, settings):
    settings.MEDIASPACE_FFPROBE = "/nonexistent/ffprobe"
    with pytest.raises(CommandError, match="FFmpeg was not found"):
        run("--all", "--queue")
    assert fake.queued == []


def test_a_failed_entry_makes_the_command_fail_with_a_summary_after_the_others(entries, fake):
    fake.fail.add(entries["first"].pk)
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="1 entry failed"):
        call_command("media_process", "--missing", stdout=out, stderr=err)
    assert fake.processed == [entries["first"].pk, entries["second"].pk]  # the second still ran
    assert "2 entries processed: 1 done, 1 failed." in err.getvalue()
    assert f"{entries['first'].pk}: First: The file could not be read as audio or video." in err.getvalue()


def test_an_entry_whose_run_raises_is_reported_and_the_rest_go_on(entries, fake, monkeypatch):
    def process(entry_id, *, on_progress=None):
        if entry_id == entries["first"].pk:
            raise RuntimeError("held by another worker")
        return fake.process(entry_id, on_progress=on_progress)

    monkeypatch.setattr(pipeline, "process", process)
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="1 entry failed"):
        call_command("media_process", "--missing", stdout=out, stderr=err)
    assert fake.processed == [entries["second"].pk]
    assert "First: held by another worker" in err.getvalue()


def test_an_entry_another_worker_holds_is_not_counted_as_done(entries, fake, monkeypatch):
    monkeypatch.setattr(pipeline, "process", lambda entry_id, on_progress=None: MediaEntry.objects.get(pk=entry_id))
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="2 entries failed"):
        call_command("media_process", "--missing", stdout=out, stderr=err)
    assert "First: another worker is processing it now" in err.getvalue()


def test_with_processing_turned_off_the_command_says_so(entries, fake, settings):
    settings.MEDIASPACE_PROCESSING = False
    with pytest.raises(CommandError, match=r"Processing is turned off on this portal \(MEDIASPACE_PROCESSING\)"):
        run("--all")
    assert fake.processed == []


def test_without_ffmpeg_the_command_says_so_and_processes_nothing(entries, fake, settings):
    settings.MEDIASPACE_FFMPEG = "/nonexistent/ffmpeg"
    with pytest.raises(CommandError, match="FFmpeg was not found .*Nothing was processed."):
        run("--missing")
    assert fake.processed == []


# -- progress --------------------------------------------------------------------------------------------------


def test_in_a_log_progress_is_plain_lines(entries, fake):
    out, _err = run("--missing")
    assert "\r" not in out
    label = f"1/2 First (id {entries['first'].pk})"
    assert [line.strip() for line in out.splitlines() if line.strip().startswith(label)] == [
        f"{label}: 0%", f"{label}: 30%", f"{label}: 60%", f"{label}: 100%", f"{label}: done"]


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_on_a_terminal_one_line_is_redrawn_with_the_overall_and_the_entry_s_bars(entries, fake):
    out = Terminal()
    call_command("media_process", "--missing", stdout=out, stderr=io.StringIO())
    text = out.getvalue()
    # Half way through the first of two entries (60%): 30% overall.
    assert f"\r  all: [######..............]  30%  ·  1/2 First (id {entries['first'].pk}): " \
           "[############........]  60%" in text
    assert "\r  all: [####################] 100%  ·  2/2 Second" in text


# -- the real pipeline -----------------------------------------------------------------------------------------


def test_an_entry_from_before_the_pipeline_gets_its_probe_data_and_pictures(owner, make_entry):
    path = media_file("iphone_hevc.mov")
    entry = legacy(make_entry(owner, name="Old phone video", content=path.read_bytes(), filename="clip.mov"))
    out, _err = run("--missing")
    entry.refresh_from_db()
    assert entry.status == MediaEntry.Status.READY and entry.processed is not None
    assert entry.probe["container"] and entry.probe["has_video"] is True
    assert round(entry.duration) == 3
    assert entry.poster and entry.thumbnail and entry.playback  # HEVC: a web rendition was made
    assert "1 entry processed: 1 done, 0 failed." in out


# -- migrations ------------------------------------------------------------------------------------------------

REPO = Path(__file__).resolve().parent.parent


def manage(database, *args):
    """manage.py in a process of its own on `database` (SQLite; its own queue: the database broker)."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "REDIS_URL", "AWS_STORAGE_BUCKET_NAME")}
    subprocess.run([sys.executable, "manage.py", *args, "--verbosity", "0"], cwd=REPO, check=True, timeout=300,
                   env={**env, "DATABASE_URL": f"sqlite:///{database}", "MEDIA_ROOT": str(database.parent)})


def test_migrating_a_database_with_entries_processes_and_queues_nothing(tmp_path):
    """A real upgrade, in a database of its own: a portal from before the media pipeline (mediaspace 0005) with a
    ready video entry is migrated to the latest; no task is queued or run, and the entry is left for
    `media_process --missing`."""
    database = tmp_path / "upgrade.sqlite3"
    manage(database, "migrate", "mediaspace", "0005_page_indexes")
    with sqlite3.connect(database) as db:
        db.execute("INSERT INTO auth_user (username, password, is_superuser, is_staff, is_active, first_name, "
                   "last_name, email, date_joined) VALUES ('owner', '', 0, 0, 1, '', '', '', '2026-01-01')")
        db.execute("INSERT INTO mediaspace_mediaentry (name, description, tags, owner_id, status, error, media, size, "
                   "content_type, bytes_received, source, reference_id, created, updated) VALUES ('Old', '', '', 1, "
                   "'ready', '', 'entries/1/abc/clip.webm', 100, 'video/webm', 100, 'upload', 'ref-1', '2026-01-01', "
                   "'2026-01-01')")

    manage(database, "migrate")

    with sqlite3.connect(database) as db:
        assert db.execute("SELECT COUNT(*) FROM django_q_ormq").fetchone() == (0,)  # every cluster's queue
        assert db.execute("SELECT COUNT(*) FROM django_q_task").fetchone() == (0,)  # nothing ran either
        assert db.execute("SELECT status, processed, processing_progress, heartbeat_at, poster FROM "
                          "mediaspace_mediaentry").fetchall() == [("ready", None, None, None, "")]


def test_an_upgraded_database_can_go_back_to_before_the_pipeline_and_forward_again(tmp_path):
    """Going back (an operator undoing an upgrade) works on SQLite too: the search's trigram indexes exist only
    on PostgreSQL, and nothing of them is looked for elsewhere."""
    database = tmp_path / "downgrade.sqlite3"
    manage(database, "migrate")

    manage(database, "migrate", "mediaspace", "0005_page_indexes")
    manage(database, "migrate")

    with sqlite3.connect(database) as db:
        applied = {name for (name,) in db.execute("SELECT name FROM django_migrations WHERE app = 'mediaspace'")}
    assert {"0006_media_pipeline", "0008_search_trigram_indexes"} <= applied
