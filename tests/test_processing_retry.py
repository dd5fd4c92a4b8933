"""The owner's Retry of a failed processing (issue 15, item 4): the pages' Retry processes the stored original
again, for every source, instead of importing it again; it is refused clearly when there is nothing to retry."""
import pytest
from django.urls import reverse

from mediaspace.models import MediaEntry
from mediaspace.processing import pipeline
from mediaspace.queueing import processing_cluster
from mediaspace.services import collaborator_grant
from tests.queue import take_queued

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("processing")]

Status = MediaEntry.Status
REASON = "The file could not be read as audio or video."


def processing_queue():
    return take_queued(processing_cluster())


@pytest.fixture
def owner(make_user):
    return make_user(username="owner")


def failed_processing(make_entry, owner, **extra):
    entry = make_entry(owner, name="Lecture", **extra)
    MediaEntry.objects.filter(pk=entry.pk).update(status=Status.FAILED, error=REASON, processing_progress=None)
    processing_queue()  # the upload's own run
    entry.refresh_from_db()
    return entry


def retry_url(entry):
    return reverse("mediaspace:entry_retry_processing", args=[entry.pk])


@pytest.mark.parametrize("source", [MediaEntry.Source.UPLOAD, MediaEntry.Source.TEAMS, MediaEntry.Source.ONEDRIVE])
def test_a_failed_processing_retries_the_processing_whatever_the_source(make_entry, owner, source):
    entry = failed_processing(make_entry, owner, source=source)
    assert entry.retry_url == retry_url(entry)


def test_a_failed_import_keeps_its_source_s_retry(make_entry, owner):
    entry = make_entry(owner, source=MediaEntry.Source.ONEDRIVE)
    MediaEntry.objects.filter(pk=entry.pk).update(status=Status.FAILED, media="", error="Gone")
    entry.refresh_from_db()
    assert entry.retry_url == reverse("onedrive:retry", args=[entry.pk])


def test_the_owner_sees_retry_on_the_entry_page_and_on_my_media(client_for, make_entry, owner):
    entry = failed_processing(make_entry, owner)
    client = client_for(owner)
    form = f'<form method="post" action="{retry_url(entry)}"'
    assert form in client.get(entry.get_absolute_url()).content.decode()
    assert form in client.get(reverse("mediaspace:my_media")).content.decode()


def test_retry_queues_one_run_and_the_entry_shows_processing(client_for, make_entry, owner):
    entry = failed_processing(make_entry, owner)
    response = client_for(owner).post(retry_url(entry), follow=True)
    assert response.redirect_chain[-1][0] == entry.get_absolute_url()
    assert "“Lecture” is being processed again." in response.content.decode()
    assert [(task["func"], task["args"]) for task in processing_queue()] == [(pipeline.TASK, (entry.pk,))]
    entry.refresh_from_db()
    assert (entry.status, entry.error, entry.processing_progress) == (Status.PROCESSING, "", 0)


def test_a_second_retry_is_refused_while_the_first_waits(client_for, make_entry, owner):
    entry = failed_processing(make_entry, owner)
    client = client_for(owner)
    client.post(retry_url(entry))
    response = client.post(retry_url(entry), follow=True)
    assert "“Lecture” is not processed again: it is queued for processing already." in response.content.decode()
    assert len(processing_queue()) == 1


def test_a_ready_entry_is_not_retried(client_for, make_entry, owner):
    entry = make_entry(owner, name="Lecture")
    MediaEntry.objects.filter(pk=entry.pk).update(status=Status.READY, processing_progress=None)
    processing_queue()
    response = client_for(owner).post(retry_url(entry), follow=True)
    assert "is not processed again: its processing did not fail." in response.content.decode()
    assert processing_queue() == []


def test_a_failed_import_is_not_retried_here(client_for, make_entry, owner):
    entry = make_entry(owner, name="Lecture")
    MediaEntry.objects.filter(pk=entry.pk).update(status=Status.FAILED, media="", error="Gone")
    processing_queue()
    response = client_for(owner).post(retry_url(entry), follow=True)
    assert "is not processed again: it has no media file: its import failed." in response.content.decode()
    assert processing_queue() == []


def test_only_the_owner_may_retry(client_for, make_entry, make_user, owner):
    entry = failed_processing(make_entry, owner)
    editor = make_user()
    collaborator_grant(entry=entry, user=editor, co_editor=True)
    assert client_for(editor).post(retry_url(entry)).status_code == 403
    assert client_for(make_user()).post(retry_url(entry)).status_code == 403
    assert processing_queue() == []
    entry.refresh_from_db()
    assert entry.status == Status.FAILED


def test_opening_the_address_changes_nothing(client_for, make_entry, owner):
    entry = failed_processing(make_entry, owner)
    assert client_for(owner).get(retry_url(entry)).status_code == 405
    assert processing_queue() == []
