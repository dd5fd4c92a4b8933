"""Sizes as people read them, in the binary units the limits are set in (KiB, MiB, GiB), labelled as such.

Django's `filesizeformat` also divides by 1024 but says "MB", which disagreed with the admin's "MiB" limits."""
from django.utils import formats
from django.utils.html import avoid_wrapping
from django.utils.translation import ngettext

UNITS = ((1024 ** 4, "TiB"), (1024 ** 3, "GiB"), (1024 ** 2, "MiB"), (1024, "KiB"))


def readable_size(size: int) -> str:
    size = int(size or 0)
    for factor, unit in UNITS:
        if size >= factor:
            return avoid_wrapping(f"{formats.number_format(size / factor, 1)} {unit}")
    return avoid_wrapping(ngettext("%(size)d byte", "%(size)d bytes", size) % {"size": size})
