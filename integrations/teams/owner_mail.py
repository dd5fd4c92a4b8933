"""Ambiguity is explicit: when a recording went to the integration's default user (no portal user matched its
organizer, or more than one did), the organizer is told by e-mail which entry it is and who holds it, so that
nobody's recording quietly lives in someone else's account.

The sync calls `tell_the_real_owner` once per recording: when its ledger row becomes ready. A mail server that
fails costs only the e-mail (logged, and noted on the ledger row), never the recording.
"""
from django.utils.translation import gettext as _

from mediaspace.mail import portal_link, send_quietly

from .owners import AMBIGUOUS, email_of, organizer_of

def recipient(recording) -> str:
    """The organizer's e-mail address as Teams gives it (their mail, or their UPN when it is an address)."""
    return email_of(organizer_of(recording))


def tell_the_real_owner(recording, entry, resolution) -> bool:
    """E-mail the recording's organizer that the default user holds its entry. True when sent."""
    address = recipient(recording)
    if not address:
        recording.add_note(_("The organizer's e-mail address is not known: nobody was told that the default user "
                           "holds the entry."))
        return False
    holder = entry.owner
    holder_name = holder.get_full_name() or holder.get_username()
    why = (_("more than one portal account matches you, so the portal did not guess which one is yours")
           if resolution.fallback == AMBIGUOUS else _("no portal account matches you"))
    subject = _("Your Teams recording “%(name)s” is held by %(holder)s") % {"name": entry.name, "holder": holder_name}
    body = _(
        "Hello %(organizer)s,\n\n"
        "Your Teams meeting recording “%(name)s” is now in the video portal: %(link)s\n\n"
        "It is held by %(holder)s (user %(username)s), because %(why)s. Ask the portal's administrator to give "
        "the entry to your account.\n\n"
        "How the portal chose its owner:\n%(steps)s\n"
    ) % {"organizer": recording.organizer_name or address, "name": entry.name, "link": portal_link(entry.get_absolute_url()),
         "holder": holder_name, "username": holder.get_username(), "why": why,
         "steps": "\n".join(f"- {step}" for step in resolution.steps)}
    error = send_quietly(subject, body, [address])  # a mail server problem must not fail the ingest
    if error is not None:
        recording.add_note(_("The e-mail to %(address)s could not be sent: %(error)s") % {
            "address": address, "error": error})
        return False
    recording.add_note(_("E-mailed %(address)s that %(holder)s holds the entry.") % {
        "address": address, "holder": holder.get_username()})
    return True
