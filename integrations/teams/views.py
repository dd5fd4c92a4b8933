"""The owner's Keep and Discard of a Teams recording (from the notice in My Media), and the endpoints Microsoft
sends change and lifecycle notifications to."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from mediaspace.decorators import post_only
from mediaspace.uploads import body_too_large

from .models import Recording
from . import decisions
from .notifications import MAX_BODY_BYTES, Refused, receive, validation_answer


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


@csrf_exempt  # Microsoft cannot send a CSRF token; the clientState of each notification is checked instead
def notifications(request):
    """Change and lifecycle notifications from Microsoft Graph (both URLs), and its validation request. It reads
    neither session nor user, and answers before any work is done: the work is queued."""
    token = request.GET.get("validationToken")
    try:
        if token is not None and request.method in ("GET", "POST"):
            return HttpResponse(validation_answer(token), content_type="text/plain; charset=utf-8")
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if body_too_large(request, MAX_BODY_BYTES, envelope=0):  # refused before a byte of it is read
            raise Refused(413, f"A notification request is at most {MAX_BODY_BYTES} bytes.")
        receive(request.read(MAX_BODY_BYTES + 1))
    except Refused as refused:
        return HttpResponse(str(refused), status=refused.status, content_type="text/plain; charset=utf-8")
    return HttpResponse(status=202)
