"""The OneDrive module's pages: sign-in and its redirect URI, the picker, imports and retries.

Every view goes through `module_required`: with the module off, or a role below allowedRoles, each
address (the redirect URI and the import endpoint included) answers 403.
"""
import logging
from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET

from integrations.microsoft.errors import GraphError, GraphNotFound
from mediaspace.models import MediaEntry
from mediaspace.decorators import module_required, post_only

from . import drive, imports, signin
from .models import OneDriveModule

logger = logging.getLogger(__name__)

# What the blank page accepts from Microsoft, in the query (code flow) or the relayed fragment (implicit).
ANSWER_FIELDS = ("state", "code", "access_token", "id_token", "token_type", "expires_in", "scope",
                 "error", "error_description", "session_state")
MAX_QUERY = 200


def _picker_url(folder="", query="", page=""):
    params = {key: value for key, value in (("folder", folder), ("q", query), ("page", page)) if value}
    return reverse("onedrive:picker") + (f"?{urlencode(params)}" if params else "")


def _picker_address(request, value):
    """`value` when it is an address of the picker on this site (where to come back to), else the picker."""
    picker = reverse("onedrive:picker")
    if value.startswith(picker) and url_has_allowed_host_and_scheme(value, allowed_hosts={request.get_host()}):
        return value
    return picker


def _sign_in_again(request, next_url):
    return redirect(reverse("onedrive:signin") + "?" + urlencode({"next": next_url}))


@module_required(OneDriveModule)
@require_GET
@never_cache
def picker(request):
    module = request.module
    folder = request.GET.get("folder", "").strip()
    query = " ".join(request.GET.get("q", "").split())[:MAX_QUERY]
    page = request.GET.get("page", "").strip()[:40]
    if folder and not drive.ID.match(folder):
        messages.error(request, _("That folder address is not valid; here is your OneDrive's first folder."))
        return redirect(_picker_url())
    try:  # no sign-in, or an expired one, raises SignInRequired before anything is asked of Microsoft
        graph = signin.graph_for_user(request.user, module, max_wait=10, max_tries=3)
        if query:
            listing = drive.search(graph, request.session, module, query, page)
        else:
            listing = drive.list_folder(graph, request.session, module, folder, page)
    except signin.SignInRequired:
        return _sign_in_again(request, _picker_url(folder, query))
    except drive.PageExpired:
        messages.info(request, _("That page of the list is no longer available; here is the first page."))
        return redirect(_picker_url(folder, query))
    except (GraphNotFound, ValueError) as error:
        if not folder and not query:  # the root itself: sending the user back there would loop
            logger.info("OneDrive root not found for user %s: %s", request.user.pk, error)
            return render(request, "onedrive/problem.html", {
                "title": _("Your OneDrive was not found"),
                "message": _("Microsoft has no OneDrive for your account (%(error)s). A OneDrive is set up the first "
                             "time it is opened: open OneDrive in Microsoft 365 once, or ask your administrator "
                             "whether your account includes OneDrive.") % {"error": error},
            }, status=502)
        messages.error(request, _("That folder is not in your OneDrive any more; here is your OneDrive's first "
                                  "folder."))
        return redirect(_picker_url())
    except GraphError as error:
        logger.info("OneDrive listing failed for user %s: %s", request.user.pk, error)
        return render(request, "onedrive/problem.html", {
            "title": _("OneDrive is not available just now"),
            "message": _("OneDrive could not be read just now (%(error)s). Try again in a moment.") % {"error": error},
        }, status=502)
    return render(request, "onedrive/picker.html", {
        "listing": listing, "folder_id": folder, "query": query, "module": module,
        "account": graph.token_provider.account,
        "next_url": _picker_url(folder, query, listing.next_page) if listing.next_page else "",
        "first_page_url": _picker_url(folder, query) if page else "",
    })


@module_required(OneDriveModule)
@require_GET
def start_signin(request):
    """Send the browser to Microsoft, to come back to `next` (a picker address) once signed in."""
    next_url = _picker_address(request, request.GET.get("next", ""))
    try:
        return redirect(signin.start(request, request.module, next_url))
    except signin.SignInProblem as problem:
        return _problem(request, problem, status=502)


@module_required(OneDriveModule)
@never_cache
@sensitive_post_parameters("access_token", "id_token", "code")
@sensitive_variables()  # every frame below holds the answer or the tokens
def blank_page(request):
    """The redirect URI: Microsoft's answer arrives in the query (code flow, errors) or in the fragment,
    which only the browser sees: the page then relays it here with a same-site POST."""
    source = request.POST if request.method == "POST" else request.GET
    answer = {name: source.get(name, "")[:20000] for name in ANSWER_FIELDS if source.get(name)}
    if not answer:
        if request.method == "POST":
            return _problem(request, signin.SignInProblem(
                _("Nothing arrived from Microsoft. Start again from “Import from OneDrive”.")))
        return render(request, "onedrive/blank_page.html")
    try:
        sign_in = signin.complete(request, request.module, answer)
    except signin.SignInProblem as problem:
        return _problem(request, problem)
    return redirect(sign_in.next_url or reverse("onedrive:picker"))


def _problem(request, problem, status=400):
    return render(request, "onedrive/problem.html", {
        "message": problem.message, "for_administrator": problem.for_administrator,
        "retry_url": reverse("onedrive:signin"),
    }, status=status)


@module_required(OneDriveModule)
@post_only
def start_import(request):
    module = request.module
    keys = request.POST.getlist("item")[: imports.MAX_SELECTED + 1]
    back = _picker_address(request, request.POST.get("back", ""))
    if not keys:
        messages.error(request, _("Select at least one video, audio or image file to import."))
        return redirect(back)
    if len(keys) > imports.MAX_SELECTED:
        messages.error(request, _("Select at most %(count)d files at a time.") % {"count": imports.MAX_SELECTED})
        return redirect(back)
    try:
        graph = signin.graph_for_user(request.user, module, max_wait=10, max_tries=3)
        outcome = imports.start_imports(request.user, module, graph, keys)
    except signin.SignInRequired:
        messages.info(request, _("Your Microsoft sign-in has expired: sign in again, then select the files again."))
        return _sign_in_again(request, back)
    except GraphError as error:
        messages.error(request, _("OneDrive could not be read just now (%(error)s). Nothing was imported; try "
                                  "again in a moment.") % {"error": error})
        return redirect(back)
    if outcome.started:
        count = len(outcome.started)
        messages.success(request, ngettext("%(count)d file is being imported; it shows here once it is ready.",
                                           "%(count)d files are being imported; they show here once they are ready.",
                                           count) % {"count": count})
    if outcome.already:
        messages.info(request, _("Already in My Media: %(names)s.") % {
            "names": ", ".join(entry.name for entry in outcome.already)})
    for name, reason in outcome.refused:
        messages.error(request, _("Not imported: %(name)s (%(reason)s).") % {"name": name, "reason": reason})
    if not outcome.started and not outcome.already:
        return redirect(back)
    return redirect("mediaspace:my_media")


@module_required(OneDriveModule)
@post_only
def retry(request, pk):
    entry = get_object_or_404(MediaEntry, pk=pk, owner=request.user, source=MediaEntry.Source.ONEDRIVE)
    if entry.status != MediaEntry.Status.FAILED:
        messages.info(request, _("“%(name)s” is not a failed import.") % {"name": entry.name})
        return redirect("mediaspace:my_media")
    if not signin.is_signed_in(request.user, request.module):
        messages.info(request, _("Sign in to Microsoft, then choose Retry again."))
        return _sign_in_again(request, reverse("onedrive:picker"))
    imports.queue(entry)
    messages.success(request, _("“%(name)s” is being imported again.") % {"name": entry.name})
    return redirect("mediaspace:my_media")
