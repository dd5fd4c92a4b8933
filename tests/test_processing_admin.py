"""The admin of the media pipeline (issue 15, item 8): the entry's page shows what FFmpeg found, the files made
and the processing state with its reason; Reprocess queues one run through the pipeline, or says why not; the
Upload module has the renditions' two settings."""
import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from mediaspace.models import MediaEntry, UploadModule
from mediaspace.processing import pipeline
from mediaspace.queueing import processing_cluster
from mediaspace.roles import Role
from tests.conftest import PNG_HEAD
from tests.processed import make_files, store_processed
from tests.queue import take_queued

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("processing")]

Status = MediaEntry.Status
PROBE = {"container": "mov,mp4,m4a,3gp,3g2,mj2", "video_codec": "hevc", "audio_codec": "aac", "duration": 3723.4,
         "width": 1080, "height": 1920, "rotation": 90, "has_video": True, "has_audio": True,
         "pixel_format": "yuv420p", "index_at_front": False}


def processing_queue():
    return take_queued(processing_cluster())


@pytest.fixture
def files(tmp_path_factory):
    return make_files(tmp_path_factory.mktemp("processed"))


@pytest.fixture
def admin_client(client_for, make_user):
    return client_for(make_user(username="root", is_staff=True, is_superuser=True))


@pytest.fixture
def owner(make_user):
    return make_user(username="owner")


@pytest.fixture
def entry(owner, make_entry):
    """Ready and never processed, as entries from before the pipeline are; the queue emptied of its upload."""
    entry = make_entry(owner, name="Lecture")
    MediaEntry.objects.filter(pk=entry.pk).update(status=Status.READY, processing_progress=None)
    processing_queue()
    entry.refresh_from_db()
    return entry


def change_page(client, entry):
    response = client.get(reverse("admin:mediaspace_mediaentry_change", args=[entry.pk]))
    assert response.status_code == 200
    return response.content.decode()


def set_state(entry, **fields):
    fields = {name: value() if callable(value) else value for name, value in fields.items()}
    MediaEntry.objects.filter(pk=entry.pk).update(**fields)
    entry.refresh_from_db()
    return entry


# -- the entry's page ----------------------------------------------------------------------------------------


STATES = {
    "never processed": dict(status=Status.READY),
    "queued": dict(status=Status.PROCESSING, processing_progress=0),
    # A live worker's heartbeat: taken when the state is set (a time fixed at import goes stale in a long run).
    "processing": dict(status=Status.PROCESSING, processing_progress=45, heartbeat_at=timezone.now),
    "processing failed": dict(status=Status.FAILED, error="The file could not be read as audio or video."),
    "import failed": dict(status=Status.FAILED, media="", error="The transfer ended early."),
    "pending": dict(status=Status.PENDING, media=""),
    "importing": dict(status=Status.IMPORTING, media="", bytes_expected=100, bytes_received=40),
    "odd probe": dict(status=Status.READY, probe={"container": "wav"}, processed=timezone.now()),
}


@pytest.mark.parametrize("state", STATES)
def test_the_entry_page_and_the_list_open_in_every_state(admin_client, entry, state):
    set_state(entry, **STATES[state])
    change_page(admin_client, entry)
    assert admin_client.get(reverse("admin:mediaspace_mediaentry_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:mediaspace_mediaentry_reprocess", args=[entry.pk])).status_code == 200


def test_a_never_processed_entry_says_so(admin_client, entry):
    page = change_page(admin_client, entry)
    assert "Never processed" in page and "Not probed yet." in page
    assert "manage.py media_process --missing" in page


def test_the_probe_data_reads_as_words_not_json(admin_client, entry, files):
    store_processed(entry, files)
    set_state(entry, probe=PROBE)
    page = change_page(admin_client, entry)
    for shown in ("mov,mp4,m4a,3gp,3g2,mj2", "hevc, 1080×1920, yuv420p", "aac", "1:02:03", "90°", "at the end"):
        assert shown in page
    assert '"video_codec"' not in page and "video_codec" not in page


def test_an_audio_probe_says_there_is_no_video(admin_client, entry):
    set_state(entry, probe={**PROBE, "has_video": False, "video_codec": None, "width": None, "height": None,
                            "rotation": 0, "index_at_front": None}, processed=timezone.now())
    page = change_page(admin_client, entry)
    assert "<th scope=\"row\">Video</th><td>none</td>" in page
    assert "MP4 index" not in page


def test_the_files_link_to_the_permission_checked_views_with_previews(admin_client, entry, files):
    store_processed(entry, files)
    page = change_page(admin_client, entry)
    assert f'href="{reverse("mediaspace:entry_media", args=[entry.pk])}"' in page
    assert reverse("mediaspace:entry_playback", args=[entry.pk]) in page
    for name in ("poster", "thumbnail", "sprite"):
        assert f'<img src="{reverse("mediaspace:entry_picture", args=[entry.pk, name])}?v=' in page
    assert "8 pictures of 80×45, one every 2 s, in 4 columns and 2 rows" in page
    assert "/media-files/" not in page
    assert "Done" in page and "Last processed" in page


def test_an_entry_that_plays_as_is_says_so(admin_client, entry, files):
    store_processed(entry, files, playback=False)
    page = change_page(admin_client, entry)
    assert "None: the original plays as is." in page
    assert reverse("mediaspace:entry_playback", args=[entry.pk]) not in page


def test_the_processing_state_shows_its_percent_and_reason(admin_client, entry):
    set_state(entry, **STATES["processing"])
    assert "Processing (45%)" in change_page(admin_client, entry)
    assert "Processing (45%)" in admin_client.get(reverse("admin:mediaspace_mediaentry_changelist")).content.decode()

    set_state(entry, status=Status.FAILED, processing_progress=None, error="FFmpeg could not process the file: boom")
    page = change_page(admin_client, entry)
    assert '<span class="media-failed">Failed</span>: FFmpeg could not process the file: boom' in page


def test_the_pages_use_no_inline_style_which_the_content_security_policy_blocks(admin_client, entry, files):
    store_processed(entry, files)
    set_state(entry, probe=PROBE, status=Status.FAILED, error="boom")
    for url in (reverse("admin:mediaspace_mediaentry_change", args=[entry.pk]),
                reverse("admin:mediaspace_mediaentry_changelist"), reprocess_url(entry)):
        page = admin_client.get(url).content.decode()
        assert " style=" not in page, url
    assert "mediaspace/admin.css" in admin_client.get(
        reverse("admin:mediaspace_mediaentry_change", args=[entry.pk])).content.decode()


# -- Reprocess -----------------------------------------------------------------------------------------------


def reprocess_url(entry):
    return reverse("admin:mediaspace_mediaentry_reprocess", args=[entry.pk])


def test_the_change_page_has_a_reprocess_button_that_asks_first(admin_client, entry):
    assert f'href="{reprocess_url(entry)}"' in change_page(admin_client, entry)
    confirm = admin_client.get(reprocess_url(entry))
    assert confirm.status_code == 200
    assert "Process these entries again?" in confirm.content.decode()
    assert processing_queue() == []  # asking changes nothing


def test_reprocess_queues_exactly_one_run(admin_client, entry, files):
    store_processed(entry, files)
    response = admin_client.post(reprocess_url(entry), follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:mediaspace_mediaentry_change", args=[entry.pk])
    assert "1 entry is queued for processing" in response.content.decode()
    tasks = processing_queue()
    assert [(task["func"], task["args"]) for task in tasks] == [(pipeline.TASK, (entry.pk,))]
    entry.refresh_from_db()
    assert (entry.status, entry.processing_progress) == (Status.READY, 0)  # still plays meanwhile
    assert "Waiting for a processing worker · it plays as before meanwhile" in change_page(admin_client, entry)


def test_a_second_reprocess_while_queued_is_refused(admin_client, entry):
    admin_client.post(reprocess_url(entry))
    response = admin_client.post(reprocess_url(entry), follow=True)
    assert "“Lecture” was not queued: it is queued for processing already." in response.content.decode()
    assert len(processing_queue()) == 1


def test_reprocess_is_refused_while_a_worker_processes_the_entry(admin_client, entry):
    set_state(entry, **STATES["processing"])
    confirm = admin_client.get(reprocess_url(entry)).content.decode()
    assert "it is being processed now (45%)." in confirm and 'value="Reprocess" disabled' in confirm
    response = admin_client.post(reprocess_url(entry), follow=True)
    assert "was not queued: it is being processed now (45%)." in response.content.decode()
    assert processing_queue() == []


@pytest.mark.parametrize("state", ["import failed", "pending", "importing"])
def test_reprocess_is_refused_for_an_entry_without_its_file(admin_client, entry, state):
    set_state(entry, **STATES[state])
    response = admin_client.post(reprocess_url(entry), follow=True)
    assert "“Lecture” was not queued: it" in response.content.decode()
    assert processing_queue() == []


def test_reprocess_is_refused_for_a_picture(admin_client, owner, make_entry):
    picture = make_entry(owner, name="Photo", content=PNG_HEAD + b"x" * 100, filename="photo.png")
    response = admin_client.post(reprocess_url(picture), follow=True)
    assert "was not queued: it is a picture, which is shown as it is" in response.content.decode()
    assert processing_queue() == []


def test_reprocess_is_refused_while_processing_is_off(admin_client, entry, settings):
    settings.MEDIASPACE_PROCESSING = False
    response = admin_client.post(reprocess_url(entry), follow=True)
    assert "processing is turned off on this portal" in response.content.decode()
    assert processing_queue() == []


def test_a_failed_processing_is_queued_again_and_shows_processing(admin_client, entry):
    set_state(entry, **STATES["processing failed"])
    admin_client.post(reprocess_url(entry))
    assert len(processing_queue()) == 1
    entry.refresh_from_db()
    assert (entry.status, entry.error) == (Status.PROCESSING, "")


def test_the_list_action_asks_then_queues_the_selected_and_says_what_it_refused(admin_client, owner, make_entry,
                                                                               entry):
    other = set_state(make_entry(owner, name="Other"), status=Status.READY, processing_progress=None)
    broken = set_state(make_entry(owner, name="Broken"), **STATES["import failed"])
    processing_queue()
    changelist = reverse("admin:mediaspace_mediaentry_changelist")
    form = {"action": "reprocess_selected", "_selected_action": [entry.pk, other.pk, broken.pk]}

    confirm = admin_client.post(changelist, form)
    assert confirm.status_code == 200
    text = confirm.content.decode()
    assert "Process these entries again?" in text and "Broken: it has no media file: its import failed." in text
    assert processing_queue() == []

    done = admin_client.post(changelist, {**form, "post": "yes"}, follow=True).content.decode()
    assert "2 entries are queued for processing" in done
    assert "“Broken” was not queued: it has no media file" in done
    assert sorted(task["args"][0] for task in processing_queue()) == sorted([entry.pk, other.pk])


def test_staff_who_may_only_view_entries_cannot_reprocess(client_for, make_user, entry):
    viewer = make_user(role=Role.UNMODERATED_ADMIN, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_mediaentry"))
    client = client_for(viewer)
    page = client.get(reverse("admin:mediaspace_mediaentry_change", args=[entry.pk])).content.decode()
    assert reprocess_url(entry) not in page
    assert client.post(reprocess_url(entry)).status_code == 403
    assert processing_queue() == []


# -- the Upload module's renditions settings -----------------------------------------------------------------


MODULE_FORM = {"enabled": "on", "allowed_roles": Role.PRIVATE_ONLY.value, "max_size_mb": "2048", "allow_video": "on",
               "allow_audio": "on", "allow_image": "on", "_save": "Save"}


def test_the_upload_module_shows_the_renditions_settings_after_the_media_types(admin_client):
    UploadModule.load()
    page = admin_client.get(reverse("admin:mediaspace_uploadmodule_change", args=[1])).content.decode()
    order = [page.index(label) for label in ("allowedRoles", "maxFileSize (MiB)", "allowedMediaTypes",
                                             "makeRenditions", "renditionMaxHeight")]
    assert order == sorted(order)
    assert "to convert files that browsers cannot play into H.264/AAC MP4" in page
    assert "Select the largest height of a web rendition." in page
    assert '<option value="720">720p</option>' in page


def test_the_upload_module_saves_the_renditions_settings(admin_client):
    UploadModule.load()
    response = admin_client.post(reverse("admin:mediaspace_uploadmodule_change", args=[1]),
                                 {**MODULE_FORM, "rendition_max_height": "720"})  # makeRenditions not ticked
    assert response.status_code == 302
    module = UploadModule.load()
    assert (module.make_renditions, module.rendition_max_height) == (False, 720)


def test_an_unknown_rendition_height_is_refused_and_changes_nothing(admin_client):
    UploadModule.load()
    response = admin_client.post(reverse("admin:mediaspace_uploadmodule_change", args=[1]),
                                 {**MODULE_FORM, "make_renditions": "on", "rendition_max_height": "2160"})
    assert response.status_code == 200
    assert "Select a valid choice. 2160 is not one of the available choices." in response.content.decode()
    module = UploadModule.load()
    assert (module.make_renditions, module.rendition_max_height) == (True, 1080)
