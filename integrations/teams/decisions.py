"""Owners decide what stays: with "Ask owners to keep or discard new recordings" on, a recording that
becomes ready waits for its owner's Keep or Discard (e-mail and a notice in My Media). Nothing is ever
discarded without the owner's or an administrator's action; a discarded recording stays in the ledger as
discarded, so no later sync brings it in again.
"""
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from integrations.teams.models import Recording
from mediaspace.mail import portal_link, send_quietly
from mediaspace.notices import Notice
from mediaspace.services import entry_delete

def ask(recording) -> bool:
    """Ask the owner of a recording that just became ready, once. True when asked now."""
    asked = Recording.objects.filter(pk=recording.pk, state=Recording.State.READY, entry__isnull=False,
                                     decision=Recording.Decision.NONE).update(decision=Recording.Decision.PENDING)
    if not asked:
        return False
    entry = Recording.objects.select_related("entry__owner").get(pk=recording.pk).entry
    owner = entry.owner
    if owner.email:  # a mail server problem must not undo the ingest; the notice in My Media remains
        send_quietly(
            _("Keep or discard your Teams recording “%(name)s”?") % {"name": entry.name},
            _("Your Teams meeting recording “%(name)s” is now in the portal. Keep it there, or discard it (the "
              "entry and its file are deleted and the recording is not brought in again): %(link)s\n\n"
              "Nothing is discarded until you choose.") % {
                "name": entry.name, "link": portal_link(reverse("mediaspace:my_media"))},
            [owner.email])
    return True


def pending_for(user):
    return (Recording.objects.filter(decision=Recording.Decision.PENDING, entry__owner=user)
            .select_related("entry").order_by("entry__created"))


def keep(recording, *, by) -> bool:
    kept = Recording.objects.filter(pk=recording.pk, decision=Recording.Decision.PENDING).update(
        decision=Recording.Decision.KEPT)
    if kept:
        recording.add_note(_("Kept by %(user)s.") % {"user": by})
    return bool(kept)


def discard(recording, *, by) -> bool:
    """Delete the entry and its files; the ledger remembers the recording as discarded."""
    with transaction.atomic():
        recording = (Recording.objects.select_for_update(of=("self",)).select_related("entry")
                     .filter(pk=recording.pk).first())
        if recording is None or recording.state == Recording.State.DISCARDED or recording.entry is None:
            return False
        entry = recording.entry
        Recording.objects.filter(pk=recording.pk).update(
            state=Recording.State.DISCARDED, decision=Recording.Decision.NONE, entry=None)
        recording.add_note(_("Discarded by %(user)s on %(date)s: not brought in again.") % {
            "user": by, "date": timezone.localtime().strftime("%Y-%m-%d %H:%M")})
    entry_delete(entry=entry)  # files go only once the ledger remembers the discard
    return True


def notices(request):
    """My Media's notices: the signed-in user's recordings waiting for Keep or Discard."""
    if not request.user.is_authenticated:
        return []
    return [
        Notice(_("Your Teams recording “%(name)s” is ready. Keep it in the portal, or discard it?") % {
            "name": recording.entry.name},
            actions=[(_("Keep"), reverse("integrations:keep", args=[recording.pk]), "primary"),
                     (_("Discard"), reverse("integrations:discard", args=[recording.pk]), "danger")])
        for recording in pending_for(request.user).only("pk", "entry__name")  # on every My Media: what it shows
    ]
