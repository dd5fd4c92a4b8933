"""The key of an entry card's cached fragment (includes/entry_cards.html)."""
import hashlib

from django import template
from django.utils import timezone, translation

register = template.Library()


@register.filter
def card_version(entry, show_owner=False):
    """A digest of everything the card shows: every stored field of the entry (so a field added later counts too),
    the owner's names where shown, the matching cue of a search, and the language and time zone it is written
    in. A change to any of them is a new key, so a cached card is never out of date and needs no invalidation."""
    owner = entry.owner if show_owner else None
    spoken = getattr(entry, "spoken", None)
    shown = [
        translation.get_language(), timezone.get_current_timezone_name(),
        [getattr(entry, field.attname) for field in entry._meta.concrete_fields],
        owner and (owner.get_username(), owner.get_full_name()),
        spoken and (spoken.pk, spoken.start, spoken.text),
    ]
    return hashlib.sha256(repr(shown).encode()).hexdigest()
