"""A page's entry cards (includes/entry_cards.html), each taken from the cache of rendered cards when it is there."""
import hashlib

from django import template
from django.core.cache import caches
from django.core.cache.utils import make_template_fragment_key
from django.utils import timezone, translation
from django.utils.safestring import mark_safe

register = template.Library()

CARD_TEMPLATE = "mediaspace/includes/entry_card.html"
CARD_TIMEOUT = 86400


def card_version(entry, show_owner, written_in):
    """A digest of everything the card shows: every stored field of the entry (so a field added later counts too),
    the owner's names where shown, the matching cue of a search, and `written_in` (the language and time zone).
    A change to any of them is a new key, so a cached card is never out of date and needs no invalidation."""
    owner = entry.owner if show_owner else None
    spoken = getattr(entry, "spoken", None)
    shown = [
        written_in,
        [getattr(entry, field.attname) for field in entry._meta.concrete_fields],
        owner and (owner.get_username(), owner.get_full_name()),
        spoken and (spoken.pk, spoken.start, spoken.text),
    ]
    return hashlib.sha256(repr(shown).encode()).hexdigest()


@register.simple_tag(takes_context=True)
def entry_cards(context, page, show_owner=False):
    """The cards of `page`, read from the cache in one call. The language, time zone and cache are looked up once
    per page, not per card: each such look-up takes the lock of asgiref's Local, which a busy process's threads
    queue for. A failed import's card (its retry form carries the viewer's CSRF token) is always rendered."""
    card = context.template.engine.get_template(CARD_TEMPLATE)
    cache = caches["template_fragments"]
    written_in = (translation.get_language(), timezone.get_current_timezone_name())
    entries = list(page)
    keys = {
        entry.pk: make_template_fragment_key("entry_card", [card_version(entry, show_owner, written_in)])
        for entry in entries if not entry.retry_url
    }
    cached, rendered = cache.get_many(keys.values()), {}
    html = []
    with context.push(show_owner=show_owner):
        for entry in entries:
            key = keys.get(entry.pk)
            if key is None or key not in cached:
                context["entry"] = entry
                cached[key] = rendered[key] = card.render(context)
            html.append(cached[key])
    rendered.pop(None, None)  # a failed import's card is not kept
    if rendered:
        cache.set_many(rendered, CARD_TIMEOUT)
    return mark_safe("".join(html))
