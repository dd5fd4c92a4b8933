"""The owner's Keep and Discard of a Teams recording (from the notice in My Media)."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _

from mediaspace.decorators import post_only

from .models import Recording
from . import decisions


def _owned(request, pk):
    return get_object_or_404(Recording.objects.select_related("entry"), pk=pk, entry__owner=request.user,
                             decision=Recording.Decision.PENDING)


@login_required
@post_only
def keep(request, pk):
    recording = _owned(request, pk)
    decisions.keep(recording, by=request.user.get_username())
    messages.success(request, _("“%(name)s” stays in the portal.") % {"name": recording.entry.name})
    return redirect("mediaspace:my_media")


@login_required
@post_only
def discard(request, pk):
    recording = _owned(request, pk)
    name = recording.entry.name
    decisions.discard(recording, by=request.user.get_username())
    messages.success(request, _("“%(name)s” was discarded and will not be brought in again.") % {"name": name})
    return redirect("mediaspace:my_media")
