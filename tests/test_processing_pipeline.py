"""The media pipeline's run of an entry (mediaspace/processing/pipeline.py): Importing → Processing → Ready or
Failed with the reason, the plan's rendition (none for what browsers play), Retry, the lease and its takeover,
nothing partial left in storage, processing off without FFmpeg, and the original read from S3 by FFmpeg itself.

Real media files come from tests/media_files.py (made by FFmpeg). The processing cluster is not running: a test
runs the queued task itself (`process_queued`), as that cluster would."""
import io
import json
import os
import posixpath
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.checks import run_checks
from django.utils import timezone
from django_q.brokers import get_broker

from mediaspace.conf import setting
from mediaspace.ingest import entry_ingest
from mediaspace.models import MediaEntry
from mediaspace.processing import ffmpeg, pipeline, renditions
from mediaspace.queueing import processing_cluster
from tests.media_files import MEDIA, media_file
from tests.queue import queue_size, take_queued
from tests.storage import is_stored, store, stored_files

REPO = Path(__file__).resolve().parent.parent
Status = MediaEntry.Status
UNREADABLE = "The file could not be read as audio or video."


@pytest.fixture
def owner(make_user):
    return make_user()


@pytest.fixture
def upload(owner, processing):
    """Ingest a media file of tests/media_files.py as an upload, with the pipeline on."""
    def ingest(name, **extra):
        return entry_ingest(source=extra.pop("source", MediaEntry.Source.UPLOAD), reference_id=f"ref-{name}",
                            owner=owner, name=name, stream=io.BytesIO(media_file(name).read_bytes()),
                            filename=name, **extra)
    return ingest


@pytest.fixture
def renders(monkeypatch):
    """The renders that ran (renditions.render's calls), the real render still running."""
    calls = []
    real = renditions.render

    def render(source, probe, out_path, **options):
        calls.append(probe.video_codec)
        return real(source, probe, out_path, **options)

    monkeypatch.setattr(renditions, "render", render)
    return calls


def processing_queue():
    return get_broker(processing_cluster())


def probe_stored(field_file):
    with pipeline.readable(field_file) as source:
        return pipeline.probe_file(source)


def derived_files(entry):
    return [name for name in stored_files(f"entries/{entry.pk}") if "/derived/" in name]


def run_folders(entry):
    return sorted({name.split("/derived/")[1].split("/")[0] for name in derived_files(entry)})


def test_an_upload_goes_processing_then_ready_with_probe_pictures_and_no_rendition(upload, renders):
    entry = upload("teams.mp4")
    assert entry.status == Status.PROCESSING and entry.processing_progress == 0
    assert entry.progress_percent == 0 and entry.is_received and entry.is_working
    assert processing_queue().queue_size() == 1  # on the processing cluster's queue...
    assert queue_size() == 0  # ...not on the one of downloads and sync rounds

    entry = pipeline.process_queued(entry.pk)

    assert entry.status == Status.READY and entry.error == ""
    assert entry.processing_progress is None and entry.heartbeat_at is None and entry.processed is not None
    assert entry.duration == pytest.approx(MEDIA["teams.mp4"].duration, abs=0.2)
    assert (entry.width, entry.height) == (320, 240)
    assert entry.probe["video_codec"] == "h264" and entry.probe["audio_codec"] == "aac"
    assert entry.sprite_grid["count"] > 0
    assert renders == [] and entry.playback.name == ""  # a Teams-like H.264/AAC MP4 plays as it is
    folder = posixpath.dirname(entry.poster.name)
    assert folder.startswith(f"entries/{entry.pk}/derived/")
    assert {entry.poster.name, entry.thumbnail.name, entry.sprite.name} == set(derived_files(entry))
    assert all(posixpath.dirname(name) == folder for name in derived_files(entry))  # one folder per run
    assert is_stored(entry.media.name)  # the original is kept


@pytest.mark.parametrize("name", ["iphone_hevc.mov", "lecture.wmv"])
def test_what_browsers_cannot_play_gets_a_web_rendition(upload, renders, name):
    entry = pipeline.process_queued(upload(name).pk)

    assert entry.status == Status.READY
    assert len(renders) == 1 and entry.playback.name.endswith("playback.mp4")
    assert probe_stored(entry.playback).video_codec == "h264"
    assert is_stored(entry.media.name)


def test_an_mp4_with_its_index_at_the_end_gets_a_copy_with_the_index_at_the_front(upload, renders):
    entry = pipeline.process_queued(upload("index_end.mp4").pk)

    assert entry.status == Status.READY and renders == []
    playback = probe_stored(entry.playback)
    assert playback.index_at_front and playback.video_codec == "h264"


def test_renditions_follow_the_upload_module(upload, monkeypatch):
    from mediaspace.models import UploadModule

    heights = []
    real_render = renditions.render
    monkeypatch.setattr(renditions, "render", lambda *args, max_height, **options: heights.append(max_height) or
                        real_render(*args, max_height=max_height, **options))
    module = UploadModule.load()
    module.rendition_max_height = 360
    module.save()
    assert pipeline.process_queued(upload("iphone_hevc.mov").pk).playback and heights == [360]

    module.make_renditions = False
    module.save()
    entry = pipeline.process_queued(upload("lecture.wmv").pk)
    assert entry.status == Status.READY and entry.poster and not entry.playback and heights == [360]


@pytest.mark.parametrize("name", ["corrupt.mp4", "truncated.mp4", "empty.mp4"])
def test_a_file_ffmpeg_cannot_read_fails_with_the_reason_and_keeps_no_derived_file(upload, name):
    entry = upload(name)
    assert entry.status == Status.PROCESSING

    entry = pipeline.process_queued(entry.pk)

    assert entry.status == Status.FAILED and entry.error == UNREADABLE
    assert not entry.poster and not entry.playback and derived_files(entry) == []
    assert pipeline.processing_failed(entry) and is_stored(entry.media.name)  # Retry processes it again


def test_retry_of_a_failed_processing_processes_again_without_importing(upload, monkeypatch):
    real_probe = pipeline.probe_file

    def broken(source):
        raise ffmpeg.FFmpegFailed("Conversion failed!")

    monkeypatch.setattr(pipeline, "probe_file", broken)
    entry = pipeline.process_queued(upload("clip.webm").pk)
    assert entry.status == Status.FAILED and "Conversion failed!" in entry.error
    original = entry.media.name
    take_queued()
    processing_queue().purge_queue()

    monkeypatch.setattr(pipeline, "probe_file", real_probe)
    assert pipeline.queue(entry)
    entry.refresh_from_db()
    assert entry.status == Status.PROCESSING and entry.error == "" and processing_queue().queue_size() == 1
    assert queue_size() == 0  # nothing imports it again
    entry = pipeline.process_queued(entry.pk)
    assert entry.status == Status.READY and entry.media.name == original


def test_a_late_duplicate_task_does_nothing(upload, renders):
    entry = pipeline.process_queued(upload("lecture.wmv").pk)
    processed = entry.processed
    again = pipeline.process_queued(entry.pk)
    assert again.processed == processed and len(renders) == 1


def test_progress_is_written_while_rendering(upload, monkeypatch):
    monkeypatch.setattr(pipeline, "PROGRESS_INTERVAL_SECONDS", 0)
    entry = upload("clip.avi")
    seen = []

    def watch(percent):
        seen.append(MediaEntry.objects.values_list("status", "processing_progress").get(pk=entry.pk))

    entry = pipeline.process(entry.pk, on_progress=watch)
    assert entry.status == Status.READY
    percents = [percent for _status, percent in seen]
    assert all(status == Status.PROCESSING for status, _percent in seen)
    assert percents == sorted(percents) and 10 < max(percents) <= 100


def test_a_ready_entry_processed_again_stays_ready_and_loses_its_previous_files(upload):
    entry = pipeline.process_queued(upload("teams.mp4").pk)
    first = run_folders(entry)
    seen = []
    entry = pipeline.process(entry.pk, on_progress=lambda percent: seen.append(
        MediaEntry.objects.values_list("status", flat=True).get(pk=entry.pk)))
    assert set(seen) == {Status.READY}  # playable all along
    assert entry.status == Status.READY and len(run_folders(entry)) == 1 and run_folders(entry) != first


# -- lease and takeover --------------------------------------------------------------------------------------------

def stale(entry, **fields):
    MediaEntry.objects.filter(pk=entry.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=setting("MEDIASPACE_INGEST_LEASE_SECONDS") + 1), **fields)


def test_a_live_workers_run_is_left_alone_and_a_dead_ones_is_taken_over(upload, settings):
    entry = upload("clip.webm")
    MediaEntry.objects.filter(pk=entry.pk).update(heartbeat_at=timezone.now(), processing_progress=40)
    assert pipeline.process_queued(entry.pk).status == Status.PROCESSING  # held: nothing done
    assert derived_files(entry) == []

    # The dead worker stored part of its run: the takeover removes it.
    abandoned = store(f"entries/{entry.pk}/derived/abandoned1234/playback.mp4", b"half a render")
    stale(entry)
    entry = pipeline.process_queued(entry.pk)
    assert entry.status == Status.READY and not is_stored(abandoned)
    assert run_folders(entry) == [posixpath.dirname(entry.poster.name).rsplit("/", 1)[1]]


def test_requeue_stalled_hands_out_dead_and_lost_runs_only(upload, settings):
    dead, lost, live, fresh = (upload(name) for name in ("clip.webm", "tone.wav", "teams.mp4", "song.mp3"))
    stale(dead)
    MediaEntry.objects.filter(pk=live.pk).update(heartbeat_at=timezone.now())
    MediaEntry.objects.filter(pk=lost.pk).update(updated=timezone.now() - timedelta(hours=1))
    processing_queue().purge_queue()

    assert pipeline.requeue_stalled() == 2
    assert processing_queue().queue_size() == 2
    # With tasks waiting in the queue, a queued entry is not taken for lost; a dead worker's is.
    MediaEntry.objects.filter(pk=lost.pk).update(updated=timezone.now() - timedelta(hours=1))
    assert pipeline.requeue_stalled() == 1


def test_exactly_once_a_run_taken_over_stops_and_leaves_nothing(upload, settings, monkeypatch):
    monkeypatch.setattr(pipeline, "PROGRESS_INTERVAL_SECONDS", 0)
    entry = upload("iphone_hevc.mov")

    def taken_over(percent):
        if percent > 20:  # mid-render, another worker took the entry over (this one was thought dead)
            MediaEntry.objects.filter(pk=entry.pk).update(heartbeat_at=timezone.now() + timedelta(seconds=5))

    result = pipeline.process(entry.pk, on_progress=taken_over)

    assert result.status == Status.PROCESSING and not result.poster and not result.playback
    assert derived_files(entry) == []  # its pictures and its partial rendition are gone


def test_an_interrupted_render_leaves_no_partial_file(upload, monkeypatch):
    def interrupted(source, probe, out_path, **options):
        out_path.write_bytes(b"the first half of a rendition")
        raise ffmpeg.FFmpegFailed("Killed")

    monkeypatch.setattr(renditions, "render", interrupted)
    entry = pipeline.process_queued(upload("clip.mkv").pk)
    assert entry.status == Status.FAILED and derived_files(entry) == []


# -- processing off ------------------------------------------------------------------------------------------------

def test_without_ffmpeg_entries_are_ready_as_before_and_a_check_says_why(upload, monkeypatch):
    monkeypatch.setattr(ffmpeg, "available", lambda: False)
    entry = upload("iphone_hevc.mov")
    assert entry.status == Status.READY and entry.processing_progress is None
    assert processing_queue().queue_size() == 0
    assert "mediaspace.W001" in [message.id for message in run_checks()]


def test_with_ffmpeg_no_warning(processing):
    assert "mediaspace.W001" not in [message.id for message in run_checks()]


def test_an_entry_queued_before_ffmpeg_went_missing_becomes_ready(upload, monkeypatch):
    entry = upload("clip.webm")
    monkeypatch.setattr(ffmpeg, "available", lambda: False)
    assert pipeline.process_queued(entry.pk).status == Status.READY


def test_pictures_are_not_processed(owner, processing):
    from tests.conftest import PNG_HEAD

    entry = entry_ingest(source=MediaEntry.Source.UPLOAD, reference_id="picture", owner=owner, name="p",
                         stream=io.BytesIO(PNG_HEAD), filename="p.png")
    assert entry.status == Status.READY and processing_queue().queue_size() == 0


# -- the original in S3 --------------------------------------------------------------------------------------------

def test_on_s3_ffmpeg_reads_a_signed_url_and_the_worker_never_opens_the_file(upload, s3, monkeypatch, renders):
    from storages.backends.s3 import S3Storage

    def never(*args, **kwargs):
        raise AssertionError("the worker read the original itself")

    sources = []
    real_probe = pipeline.probe_file
    monkeypatch.setattr(pipeline, "probe_file", lambda source: sources.append(source) or real_probe(source))
    entry = upload("lecture.wmv")
    monkeypatch.setattr(S3Storage, "_open", never)

    entry = pipeline.process_queued(entry.pk)

    assert entry.status == Status.READY and len(renders) == 1
    assert sources[0].startswith("http") and "Signature" in sources[0]
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=s3.bucket)["Contents"]]
    assert entry.playback.name in keys and entry.poster.name in keys


def test_on_s3_a_failure_reason_never_shows_the_signed_url(upload, s3, monkeypatch):
    def failing(source):
        raise ffmpeg.FFmpegFailed(f"{source}: Server returned 403 Forbidden")

    monkeypatch.setattr(pipeline, "probe_file", failing)
    entry = pipeline.process_queued(upload("clip.webm").pk)
    assert entry.status == Status.FAILED and "Signature" not in entry.error and entry.media.name in entry.error


def test_the_task_and_the_schedule(upload):
    from django_q.models import Schedule

    entry = upload("tone.wav")

    schedule = Schedule.objects.get(name="Media processing stalled runs")
    assert schedule.func == "mediaspace.tasks.requeue_stalled_processing" and schedule.minutes == 1
    from mediaspace import tasks

    assert tasks.process_entry(entry.pk) == Status.READY
    entry.refresh_from_db()  # audio: its waveform is poster and thumbnail, stored once; no seek previews
    assert entry.poster.name.endswith("waveform.png") and entry.thumbnail == entry.poster
    assert not entry.sprite and entry.sprite_grid == {} and derived_files(entry) == [entry.poster.name]


# -- the sources: the integrations' work ends when the bytes are in ------------------------------------------------

def test_teams_marks_its_row_ready_once_the_bytes_are_in_and_never_downloads_them_again(
        db, integration, graph, ms, portal_users, processing):
    from integrations.teams import sync
    from integrations.teams.models import Recording
    from tests.teams_fakes import ready_without_transcript

    _lecture, row = ready_without_transcript(integration, graph, ms)  # the row is ready...
    assert row.entry.status == Status.PROCESSING  # ...while the entry is processed
    assert processing_queue().queue_size() == 1

    # A worker that died after storing the bytes, before the row said so: the next one does not download again.
    Recording.objects.filter(pk=row.pk).update(state=Recording.State.DISCOVERED, lease_until=None)
    downloads = len(ms.content_requests())
    row = sync.ingest(row.pk, graph=graph)
    assert row.state == Recording.State.READY and len(ms.content_requests()) == downloads
    assert MediaEntry.objects.get().status == Status.PROCESSING


# -- the processing cluster ----------------------------------------------------------------------------------------

def cluster_of_the_project(**env):
    """The django-q2 configuration a `qcluster` of the stand-alone project runs with, and where the pipeline
    routes its tasks, in a fresh process with this environment."""
    script = ("import json; from django_q.conf import Conf; from mediaspace.queueing import processing_cluster; "
              "print(json.dumps([Conf.PREFIX, Conf.CLUSTER_NAME, Conf.WORKERS, processing_cluster()]))")
    environment = {name: value for name, value in os.environ.items() if name not in ("Q_QUEUE", "Q_WORKERS")}
    return subprocess.run([sys.executable, "manage.py", "shell", "--no-imports", "-c", script], cwd=REPO,
                          env={**environment, **env}, capture_output=True, text=True, timeout=60)


def test_q_queue_processing_makes_a_cluster_of_the_processing_queue_with_its_own_workers():
    default = json.loads(cluster_of_the_project(Q_CLUSTER_NAME="portal", Q_WORKERS="4").stdout)
    processing = json.loads(cluster_of_the_project(Q_CLUSTER_NAME="portal", Q_WORKERS="4", Q_QUEUE="processing",
                                                   MEDIASPACE_PROCESSING_WORKERS="3").stdout)
    assert default == ["portal", "portal", 4, "portal-processing"]
    # The same name (tasks are signed with it); the queue the pipeline routes to; the renders at once.
    assert processing == ["portal", "portal-processing", 3, "portal-processing"]
    refused = cluster_of_the_project(Q_QUEUE="renders")
    assert refused.returncode != 0 and "Q_QUEUE is 'renders'" in refused.stderr
