"""The portal's rules for changing entries, categories and collaborators.

Views, admin actions and the integrations call these; none of them changes the models directly.
"""
import posixpath

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from .captions import cues, to_webvtt
from .ingest import remove_tree
from .models import CaptionCue, CaptionTrack, Collaborator, MediaEntry, Publication, entry_folder
from .roles import Role, has_role


def entry_update(*, entry, name, description, tags) -> MediaEntry:
    entry.name, entry.description, entry.tags = name, description, tags
    entry.full_clean(exclude=["media", "reference_id"])
    entry.save(update_fields=["name", "description", "tags", "updated"])
    return entry


def entry_delete(*, entry):
    """Delete the entry, its caption tracks and every file of theirs."""
    storage = entry.media.storage
    caption_names = [track.file.name for track in entry.captions.all() if track.file]
    folder = entry_folder(entry)
    with transaction.atomic():
        entry.delete()
    for name in caption_names:
        storage.delete(name)
    remove_tree(storage, folder)


@transaction.atomic
def entry_publish(*, entry, category, user, by_administrator=False) -> Publication:
    """Publish to a category: at once, or pending approval when the category is moderated and the
    publisher is below unmoderatedAdminRole. Publishing again after a rejection asks again.

    `by_administrator`: the publication follows an administrator's own configuration (an integration's
    "Publish to categories"), so it needs no approval."""
    direct = by_administrator or not category.moderated or has_role(user, Role.UNMODERATED_ADMIN)
    status = Publication.Status.APPROVED if direct else Publication.Status.PENDING
    publication, created = Publication.objects.select_for_update().get_or_create(
        category=category, entry=entry, defaults={"status": status, "published_by": user}
    )
    if created or (publication.status != Publication.Status.APPROVED and publication.status != status):
        publication.status, publication.published_by = status, user
        publication.decided = timezone.now() if direct else None
        publication.save(update_fields=["status", "published_by", "decided"])
    return publication


def entry_unpublish(*, entry, category) -> bool:
    """Remove the entry from the category; False when it was not there."""
    deleted, _by_model = Publication.objects.filter(entry=entry, category=category).delete()
    return bool(deleted)


def publications_decide(*, publications, approve: bool) -> int:
    """An administrator's moderation decision on pending publications; returns how many changed."""
    status = Publication.Status.APPROVED if approve else Publication.Status.REJECTED
    return publications.exclude(status=status).update(status=status, decided=timezone.now())


@transaction.atomic
def collaborator_grant(*, entry, user, co_viewer=False, co_editor=False, co_publisher=False) -> Collaborator | None:
    """Add permissions for `user` on `entry` (keeping those already held). The owner needs none."""
    if user.pk == entry.owner_id or not (co_viewer or co_editor or co_publisher):
        return None
    collaborator, _created = Collaborator.objects.select_for_update().get_or_create(entry=entry, user=user)
    collaborator.is_co_viewer |= co_viewer
    collaborator.is_co_editor |= co_editor
    collaborator.is_co_publisher |= co_publisher
    collaborator.save()
    return collaborator


def collaborator_set(*, entry, user, co_viewer=False, co_editor=False, co_publisher=False) -> Collaborator | None:
    """Give `user` exactly these permissions on `entry`: with none, they are no longer a collaborator."""
    if not (co_viewer or co_editor or co_publisher):
        Collaborator.objects.filter(entry=entry, user=user).delete()
        return None
    collaborator, _created = Collaborator.objects.update_or_create(entry=entry, user=user, defaults={
        "is_co_viewer": co_viewer, "is_co_editor": co_editor, "is_co_publisher": co_publisher})
    return collaborator


def collaborator_remove(*, collaborator):
    collaborator.delete()


def caption_add(*, entry, label, language, content: bytes, reference_id="") -> CaptionTrack:
    """Attach a caption track (WebVTT, or SubRip converted to WebVTT); CaptionError says why not.

    With a reference id, adding the same track again replaces its text instead of adding a second one.
    """
    text = to_webvtt(content)
    track = CaptionTrack.objects.filter(entry=entry, reference_id=reference_id).first() if reference_id else None
    old_name = track.file.name if track else None
    track = track or CaptionTrack(entry=entry, reference_id=reference_id)
    track.label, track.language = label, language
    track.full_clean(exclude=["file"])  # before writing, so a refused track leaves no file behind
    track.file.save(posixpath.basename(f"{label}.vtt"), ContentFile(text.encode("utf-8")), save=False)
    with transaction.atomic():
        track.save()
        track.cues.all().delete()
        CaptionCue.objects.bulk_create(
            CaptionCue(track=track, entry=entry, start=start, end=end, text=cue_text)
            for start, end, cue_text in cues(text))
    if old_name:
        track.file.storage.delete(old_name)
    return track


def caption_delete(*, track):
    name = track.file.name
    track.delete()
    if name:
        track.file.storage.delete(name)
