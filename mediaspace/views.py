import re
import uuid
from pathlib import PurePath

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from . import notices, services
from .captions import MAX_CAPTION_BYTES, TOO_LARGE as CAPTION_TOO_LARGE
from .conf import setting
from .decorators import entry_view, forbidden, module_required, post_only, refuse
from .forms import CaptionForm, CollaboratorForm, EntryForm, PublishForm, UploadForm, too_large_message
from .http_range import serve_file
from .ingest import entry_ingest
from .listing import CategoryEntries
from .page_cache import kept_html, kept_while_unchanged
from .models import CaptionCue, CaptionTrack, Category, Collaborator, MediaEntry, Publication, UploadModule
from .permissions import EntryAccess
from .playback import PICTURES, serve_derived, serve_seek_track, serve_stored, sprite_grid, transcript
from .processing import reprocessing
from .uploads import size_limited

ENTRY_ID = re.compile(r"^[0-9]{1,18}$")


def search_text(request):
    """The ?q= search text: bounded, and without NUL characters (PostgreSQL refuses them in text)."""
    return request.GET.get("q", "")[:200].replace("\x00", "")


def with_spoken_matches(page, query):
    """Give each entry of the page the first caption cue that says `query` (`entry.spoken`), in one query."""
    entries = list(page)
    found = {}
    if query.strip() and entries:
        cues = CaptionCue.objects.matching(query.strip()).filter(entry_id__in=[entry.pk for entry in entries])
        found = {cue.entry_id: cue for cue in cues.first_per_entry().only("entry_id", "start", "text")}
    for entry in entries:
        entry.spoken = found.get(entry.pk)
    return page


def paginate(request, queryset):
    return Paginator(queryset, setting("MEDIASPACE_PAGE_SIZE")).get_page(request.GET.get("page"))


def home(request):
    return redirect("mediaspace:my_media" if request.user.is_authenticated else "mediaspace:login")


@login_required
@require_GET
@kept_while_unchanged
def my_media(request):
    tab = "shared" if request.GET.get("tab") == "shared" else "mine"
    query = search_text(request)
    # Only shared entries' cards name their owner: the user's own entries are read without a join to the users.
    entries = (MediaEntry.objects.shared_with(request.user).select_related("owner") if tab == "shared"
               else MediaEntry.objects.owned_by(request.user))
    page = with_spoken_matches(paginate(request, entries.search(query)), query)
    return render(request, "mediaspace/my_media.html", {
        "page": page, "query": query, "tab": tab, "show_owner": tab == "shared", "notices": notices.for_request(request),
        "any_in_progress": any(entry.is_in_progress or entry.status == MediaEntry.Status.PROCESSING
                               for entry in page),
    })


@login_required
@require_GET
def my_media_status(request):
    """Status and progress of the entries named in ?ids=1,2,3 that the user owns or collaborates on."""
    ids = [int(part) for part in request.GET.get("ids", "").split(",")[:100] if ENTRY_ID.match(part.strip())]
    entries = MediaEntry.objects.filter(Q(owner=request.user) | Q(collaborators__user=request.user), pk__in=ids)
    return JsonResponse({
        str(entry.pk): {
            "status": entry.status, "status_label": entry.status_label,
            "percent": entry.progress_percent, "error": entry.error,
        }
        for entry in entries.distinct().only("pk", "status", "bytes_expected", "bytes_received", "processing_progress",
                                             "error")
    })


@require_GET
@kept_while_unchanged  # outside the permission check: that too is a function of the database and the user
@entry_view("can_view")
def entry_detail(request, entry, access):
    return entry_page(request, entry, access)


def start_time(request):
    """?t=seconds (a search result's cue): where the player starts, or None."""
    value = request.GET.get("t", "")
    return int(value) if value.isdigit() and len(value) < 7 else None


def entry_page(request, entry, access, *, status=200, **bound_forms):
    """The entry page; an action whose form was refused shows it again here with its errors."""
    if request.method == "GET" and not bound_forms:
        # The same for everyone with the same rights: a lecture hall opening a recording builds it once.
        content = kept_html(request, lambda: entry_content(request, entry, access), *access.rights)
    else:
        content = entry_content(request, entry, access, **bound_forms)
    return render(request, "mediaspace/entry_detail.html", {"entry": entry, "content": content}, status=status)


def entry_content(request, entry, access, **bound_forms):
    publications = entry.publications.select_related("category__parent")
    captions = list(entry.captions.all())
    context = {
        "entry": entry,
        "access": access,
        "start_at": start_time(request),
        "captions": captions,
        "transcript": transcript(captions) if entry.status == MediaEntry.Status.READY else "",
        "publications": [p for p in publications if p.status == Publication.Status.APPROVED or access.can_publish
                         or access.can_edit],
    }
    if access.can_manage_collaborators or access.can_edit:
        context["collaborators"] = entry.collaborators.select_related("user")
    if access.can_manage_collaborators:
        context["collaborator_form"] = CollaboratorForm(entry=entry)
    if access.can_publish:
        context["publish_form"] = PublishForm()
    if access.can_edit:
        context["caption_form"] = CaptionForm()
    context.update(bound_forms)
    return render_to_string("mediaspace/includes/entry_content.html", context, request)


@require_http_methods(["GET", "POST"])
@entry_view("can_edit")
def entry_edit(request, entry, access):
    form = EntryForm(request.POST if request.method == "POST" else None, instance=entry)
    if request.method == "POST" and form.is_valid():
        services.entry_update(entry=entry, **{name: form.cleaned_data[name] for name in form.fields})
        messages.success(request, _("Saved."))
        return redirect(entry)
    return render(request, "mediaspace/entry_edit.html", {"entry": entry, "form": form},
                  status=400 if form.errors else 200)


@post_only
@entry_view("can_view")
def entry_retry_processing(request, entry, access):
    """The owner's Retry of a failed processing (MediaEntry.retry_url): its original is processed again."""
    if not access.is_owner:
        return forbidden(request, _("Only the owner may retry this entry."))
    try:
        reprocessing.retry(entry)
    except reprocessing.Refused as refusal:
        messages.info(request, _("“%(name)s” is not processed again: %(reason)s") % {
            "name": entry.name, "reason": refusal})
    else:
        messages.success(request, _("“%(name)s” is being processed again.") % {"name": entry.name})
    return redirect(entry)


@require_http_methods(["GET", "POST"])
@entry_view("can_delete")
def entry_delete(request, entry, access):
    if request.method == "POST":
        name = entry.name
        services.entry_delete(entry=entry)
        messages.success(request, _("Deleted “%(name)s”.") % {"name": name})
        return redirect("mediaspace:my_media")
    return render(request, "mediaspace/entry_confirm_delete.html", {"entry": entry})


@require_http_methods(["GET", "HEAD"])
@entry_view("can_view")
def entry_media(request, entry, access):
    if entry.status != MediaEntry.Status.READY or not entry.media:
        return HttpResponse(_("This entry has no playable media yet."), status=404, content_type="text/plain")
    return serve_stored(request, entry.media, content_type=entry.content_type or "application/octet-stream")


@require_http_methods(["GET", "HEAD"])
@entry_view("can_view")
def entry_picture(request, entry, access, name):
    """The poster, thumbnail or seek sprite: private like the media (entry_view), cached by the browser."""
    if name not in PICTURES or not getattr(entry, name):
        return HttpResponse(_("This entry has no such picture."), status=404, content_type="text/plain")
    return serve_derived(request, entry, getattr(entry, name))


@require_http_methods(["GET", "HEAD"])
@entry_view("can_view")
def entry_playback(request, entry, access):
    """The web rendition the pipeline made for browsers (the original stays at entry_media)."""
    if entry.status != MediaEntry.Status.READY or not entry.playback:
        return HttpResponse(_("This entry has no web rendition."), status=404, content_type="text/plain")
    return serve_derived(request, entry, entry.playback)


@require_http_methods(["GET", "HEAD"])
@entry_view("can_view")
def entry_seek_track(request, entry, access):
    """The seek-preview thumbnails as WebVTT (each cue names its tile of the sprite)."""
    if sprite_grid(entry) is None:
        return HttpResponse(_("This entry has no seek previews."), status=404, content_type="text/plain")
    return serve_seek_track(request, entry)


@require_GET
def caption_file(request, pk):
    track = get_object_or_404(CaptionTrack.objects.select_related("entry"), pk=pk)
    if not EntryAccess(request.user, track.entry).can_view:
        return refuse(request, "can_view")
    return serve_file(request, track.file, content_type="text/vtt; charset=utf-8")


def caption_too_large(request, entry, access):
    """413: the entry page saying why; the caption file was not read, or not past the limit."""
    messages.error(request, _("The caption track was not added."))
    return entry_page(request, entry, access, status=413, caption_error=CAPTION_TOO_LARGE)


@post_only
@entry_view("can_edit")
@size_limited(lambda request: MAX_CAPTION_BYTES, caption_too_large)
def caption_add(request, entry, access, size_limit):
    form = CaptionForm(request.POST, request.FILES)  # reads the body: only now is `exceeded` known
    if size_limit.exceeded:
        return caption_too_large(request, entry, access)
    if not form.is_valid():
        return refused(request, entry, access, _("The caption track was not added."), caption_form=form)
    services.caption_add(entry=entry, **form.caption_values())
    messages.success(request, _("Caption track added."))
    return redirect(entry)


@post_only
@entry_view("can_edit")
def caption_remove(request, entry, access, track_pk):
    services.caption_delete(track=get_object_or_404(CaptionTrack, pk=track_pk, entry=entry))
    messages.success(request, _("Caption track removed."))
    return redirect(entry)


@post_only
@entry_view("can_manage_collaborators")
def collaborator_add(request, entry, access):
    form = CollaboratorForm(request.POST, entry=entry)
    if not form.is_valid():
        return refused(request, entry, access, _("No collaborator was added."), collaborator_form=form)
    data = form.cleaned_data
    services.collaborator_grant(entry=entry, user=data["user"], co_viewer=data["is_co_viewer"],
                                co_editor=data["is_co_editor"], co_publisher=data["is_co_publisher"])
    messages.success(request, _("%(user)s is now a collaborator.") % {"user": data["user"]})
    return redirect(entry)


@post_only
@entry_view("can_manage_collaborators")
def collaborator_remove(request, entry, access, collaborator_pk):
    services.collaborator_remove(collaborator=get_object_or_404(Collaborator, pk=collaborator_pk, entry=entry))
    messages.success(request, _("Collaborator removed."))
    return redirect(entry)


@post_only
@entry_view("can_publish")
def publish(request, entry, access):
    form = PublishForm(request.POST)
    if not form.is_valid():
        return refused(request, entry, access, _("The entry was not published."), publish_form=form)
    publication = services.entry_publish(entry=entry, category=form.cleaned_data["category"], user=request.user)
    if publication.status == Publication.Status.APPROVED:
        messages.success(request, _("Published to %(category)s.") % {"category": publication.category})
    else:
        messages.info(request, _("%(category)s is moderated: the entry appears there once an administrator "
                                 "approves it.") % {"category": publication.category})
    return redirect(entry)


@post_only
@entry_view("can_publish")
def unpublish(request, entry, access, category_pk):
    if services.entry_unpublish(entry=entry, category=get_object_or_404(Category, pk=category_pk)):
        messages.success(request, _("Removed from the category."))
    else:
        messages.info(request, _("The entry was not in that category."))
    return redirect(entry)


@login_required
@require_GET
def category_list(request):
    counts = dict(
        Publication.objects.filter(status=Publication.Status.APPROVED, entry__status=MediaEntry.Status.READY)
        .values_list("category").annotate(n=Count("pk"))
    )
    categories = Category.objects.tree()
    for category in categories:
        category.entry_count = counts.get(category.pk, 0)
    return render(request, "mediaspace/category_list.html", {"categories": categories})


@login_required
@require_GET
@kept_while_unchanged
def category_detail(request, pk):
    category = get_object_or_404(Category, pk=pk)
    # What a category lists is the same for every signed-in user: built once, then kept while nothing changes,
    # so a lecture hall opening the page builds it once, not once per student.
    listing = kept_html(request, lambda: category_listing(request, category))
    return render(request, "mediaspace/category_detail.html", {"category": category, "listing": listing})


def category_listing(request, category):
    query = search_text(request)
    # Newest first, as everywhere (ids grow with `created`), read from the publications' index: no sort of the
    # whole category. Without a search, the count and the earlier pages are walked in that index alone.
    entries = CategoryEntries(category) if not query.strip() else (
        MediaEntry.objects.filter(
            status=MediaEntry.Status.READY,
            publications__category=category,
            publications__status=Publication.Status.APPROVED,
        )
        .search(query)
        .select_related("owner")
        .order_by("-publications__entry_id")
    )
    return render_to_string("mediaspace/includes/category_listing.html", {
        "category": category, "children": category.children.all(),
        "page": with_spoken_matches(paginate(request, entries), query),
        "query": query,
    }, request)


def upload_too_large(request):
    return render(request, "mediaspace/upload.html", {
        "form": UploadForm(module=request.module), "error": too_large_message(request.module.max_size_mb),
    }, status=413)


@module_required(UploadModule)
@size_limited(lambda request: request.module.max_size_bytes, upload_too_large)
@require_http_methods(["GET", "POST"])
def upload(request, size_limit):
    """Upload media from the computer. The size limit is enforced while the file arrives."""
    module = request.module
    if request.method != "POST":
        return render(request, "mediaspace/upload.html", {"form": UploadForm(module=module)})
    form = UploadForm(request.POST, request.FILES, module=module)
    if size_limit.exceeded:
        form.is_valid()
        form.errors.pop("file", None)
        form.add_error("file", too_large_message(module.max_size_mb))
        return render(request, "mediaspace/upload.html", {"form": form}, status=413)
    if not form.is_valid():
        return render(request, "mediaspace/upload.html", {"form": form}, status=400)
    data, media_file = form.cleaned_data, form.cleaned_data["file"]
    entry = entry_ingest(
        source=MediaEntry.Source.UPLOAD,
        reference_id=uuid.uuid4().hex,
        owner=request.user,
        name=data["name"] or PurePath(media_file.name).stem or media_file.name,
        description=data["description"],
        tags=data["tags"],
        stream=media_file,
        filename=media_file.name,
        bytes_expected=media_file.size,
    )
    if entry.status != MediaEntry.Status.READY:
        messages.error(request, _("The upload failed: %(why)s") % {"why": entry.error})
        return redirect(entry)
    if data.get("caption_file"):
        services.caption_add(entry=entry, **form.caption_values())
    messages.success(request, _("Uploaded “%(name)s”.") % {"name": entry.name})
    return redirect(entry)


def refused(request, entry, access, summary, **bound_forms):
    """400: the entry page again, with the refused form showing its errors; nothing was changed."""
    messages.error(request, summary)
    return entry_page(request, entry, access, status=400, **bound_forms)
