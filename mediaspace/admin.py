import posixpath

from functools import partial

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _, ngettext

from . import playback, services
from .forms import UploadModuleForm
from .models import CaptionTrack, Category, Collaborator, MediaEntry, Publication, UploadModule, UserRole
from .processing import reprocessing
from .sizes import readable_size


def cell(template_name, **context):
    """A list column or read-only field drawn by its template: the admins build no HTML in Python."""
    return mark_safe(render_to_string(template_name, context).strip())  # the template escaped its values


class UserRoleInline(admin.StackedInline):
    model = UserRole
    can_delete = False
    verbose_name_plural = _("portal role")


User = get_user_model()
# Add the portal role to the user pages, keeping whatever user admin the project has.
BaseUserAdmin = type(admin.site.get_model_admin(User)) if admin.site.is_registered(User) else UserAdmin
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class PortalUserAdmin(BaseUserAdmin):
    inlines = [*BaseUserAdmin.inlines, UserRoleInline]
    list_display = [*BaseUserAdmin.list_display, "portal_role_display"]
    list_filter = [*BaseUserAdmin.list_filter, "portal_role__role"]
    list_select_related = ["portal_role"]

    @admin.display(description=_("portal role"), ordering="portal_role__role")
    def portal_role_display(self, user):
        role = getattr(user, "portal_role", None)
        return role.role if role else _("(default)")


@admin.register(UserRole)
class UserRoleAdmin(admin.ModelAdmin):
    list_display = ["user", "role"]
    list_filter = ["role"]
    list_editable = ["role"]
    search_fields = ["user__username", "user__email", "user__first_name", "user__last_name"]
    autocomplete_fields = ["user"]


class CaptionTrackInline(admin.TabularInline):
    model = CaptionTrack
    extra = 0
    fields = ["label", "language", "file_link", "reference_id", "created"]
    readonly_fields = ["file_link", "created"]

    def has_add_permission(self, request, obj=None):
        return False  # tracks are added on the entry's page, which converts them and makes their cues searchable

    @admin.display(description=_("WebVTT file"))
    def file_link(self, track):
        return cell("admin/mediaspace/captiontrack/_file_link.html", track=track,
                    filename=posixpath.basename(track.file.name))


class CollaboratorInline(admin.TabularInline):
    model = Collaborator
    extra = 0
    autocomplete_fields = ["user"]


class PublicationInline(admin.TabularInline):
    model = Publication
    extra = 0
    autocomplete_fields = ["category", "published_by"]
    readonly_fields = ["created", "decided"]


ENTRY_TEMPLATES = "admin/mediaspace/mediaentry/"


@admin.register(MediaEntry)
class MediaEntryAdmin(admin.ModelAdmin):
    change_form_template = ENTRY_TEMPLATES + "change_form.html"
    list_display = ["name", "owner", "status_display", "source", "size_display", "duration_display", "created"]
    list_filter = ["status", "source", "created"]
    search_fields = ["name", "description", "tags", "owner__username", "owner__email", "reference_id"]
    list_select_related = ["owner"]
    autocomplete_fields = ["owner"]
    date_hierarchy = "created"
    actions = ["reprocess_selected"]
    readonly_fields = ["media_links", "size", "content_type", "duration", "bytes_expected", "bytes_received",
                       "heartbeat_at", "source", "reference_id", "created", "updated", "processing_state",
                       "probe_display", "renditions"]
    fieldsets = [
        (None, {"fields": ["name", "description", "tags", "owner"]}),
        (_("Status"), {"fields": ["status", "error", "bytes_expected", "bytes_received", "heartbeat_at"]}),
        (_("Media"), {"fields": ["media_links", "size", "content_type", "duration"]}),
        (_("Processing"), {"fields": ["processing_state", "probe_display", "renditions"],
                           "description": _("What the media pipeline found in the file and made from it. "
                                            "“Reprocess” (top right, or the list's action) runs it again.")}),
        (_("Origin"), {"fields": ["source", "reference_id", "created", "updated"]}),
    ]
    inlines = [CollaboratorInline, CaptionTrackInline, PublicationInline]

    class Media:
        css = {"all": ["mediaspace/admin.css"]}

    @admin.display(description=_("status"), ordering="status")
    def status_display(self, entry):
        if entry.status == MediaEntry.Status.FAILED:
            return cell(ENTRY_TEMPLATES + "_failed_status.html", entry=entry)
        if entry.status != MediaEntry.Status.READY and entry.progress_percent is not None:
            return f"{entry.get_status_display()} ({entry.progress_percent}%)"
        return entry.get_status_display()

    @admin.display(description=_("media file"))
    def media_links(self, entry):
        return cell(ENTRY_TEMPLATES + "_media_links.html", entry=entry,
                    filename=posixpath.basename(entry.media.name) if entry.media else "")

    @admin.display(description=_("size"), ordering="size")
    def size_display(self, entry):
        return readable_size(entry.size) if entry.size is not None else "—"

    @admin.display(description=_("duration"), ordering="duration")
    def duration_display(self, entry):
        return playback.duration_label(entry.duration) or "—"

    # -- processing: what the pipeline found and made ----------------------------------------------------------

    @admin.display(description=_("processing"))
    def processing_state(self, entry):
        return cell(ENTRY_TEMPLATES + "_processing.html", entry=entry,
                    processing_failed=entry.status == MediaEntry.Status.FAILED and bool(entry.media))

    @admin.display(description=_("what FFmpeg found"))
    def probe_display(self, entry):
        probe = entry.probe if isinstance(entry.probe, dict) else {}
        return cell(ENTRY_TEMPLATES + "_probe.html", probe=probe,
                    duration=playback.duration_label(probe.get("duration", entry.duration)))

    @admin.display(description=_("files"))
    def renditions(self, entry):
        pictures = [(label, playback.picture_url(entry, name), posixpath.basename(getattr(entry, name).name))
                    for name, label in (("poster", _("Poster")), ("thumbnail", _("Thumbnail")),
                                        ("sprite", _("Seek preview sprite")))]
        return cell(ENTRY_TEMPLATES + "_renditions.html", entry=entry, pictures=pictures,
                    original_name=posixpath.basename(entry.media.name),
                    playback_url=playback.playback_url(entry) if entry.playback else "",
                    playback_name=posixpath.basename(entry.playback.name), grid=playback.sprite_grid(entry))

    # -- Reprocess: the change page's button and the list's action, both confirmed first ------------------------

    def get_urls(self):
        return [path("<int:pk>/reprocess/", self.admin_site.admin_view(partial(reprocess_view, model_admin=self)),
                     name="mediaspace_mediaentry_reprocess")] + super().get_urls()

    @admin.action(description=_("Reprocess the selected entries"), permissions=["change"])
    def reprocess_selected(self, request, queryset):
        entries = list(queryset.order_by("pk"))
        if request.POST.get("post") == "yes":
            reprocess(self, request, entries)
            return None
        return reprocess_page(self, request, entries, action="reprocess_selected")

    def delete_model(self, request, entry):
        services.entry_delete(entry=entry)

    def delete_queryset(self, request, queryset):
        for entry in queryset:
            services.entry_delete(entry=entry)


def reprocess(model_admin, request, entries):
    """Queue each entry's processing again through the pipeline, which refuses what it cannot do now."""
    queued = 0
    for entry in entries:
        try:
            reprocessing.reprocess(entry)
        except reprocessing.Refused as refusal:
            model_admin.message_user(request, _("“%(name)s” was not queued: %(reason)s") % {
                "name": entry.name, "reason": refusal}, messages.ERROR)
            continue
        model_admin.log_change(request, entry, _("Reprocess queued"))
        queued += 1
    if queued:
        model_admin.message_user(request, ngettext(
            "%d entry is queued for processing; its state shows here.",
            "%d entries are queued for processing; their state shows here.", queued) % queued, messages.SUCCESS)


def reprocess_page(model_admin, request, entries, *, original=None, action=""):
    """The confirmation page: what will be processed, and what the pipeline would refuse and why."""
    refused = [(entry, reason) for entry in entries if (reason := reprocessing.refusal(entry))]
    refused_pks = {entry.pk for entry, _reason in refused}
    return TemplateResponse(request, ENTRY_TEMPLATES + "reprocess_confirm.html", {
        **model_admin.admin_site.each_context(request), "opts": model_admin.model._meta, "original": original,
        "entries": [entry for entry in entries if entry.pk not in refused_pks], "refused": refused,
        "action": action, "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME, "title": _("Reprocess"),
    })


def reprocess_view(request, pk, *, model_admin):
    entry = get_object_or_404(MediaEntry, pk=pk)
    if not model_admin.has_change_permission(request, entry):
        raise PermissionDenied
    if request.method == "POST":
        reprocess(model_admin, request, [entry])
        return redirect(reverse("admin:mediaspace_mediaentry_change", args=[entry.pk]))
    return reprocess_page(model_admin, request, [entry], original=entry)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["__str__", "moderated", "created"]
    list_filter = ["moderated"]
    search_fields = ["name", "description"]
    autocomplete_fields = ["parent"]
    list_select_related = ["parent__parent"]


@admin.register(Publication)
class PublicationAdmin(admin.ModelAdmin):
    list_display = ["entry", "category", "status", "published_by", "created", "decided"]
    list_filter = ["status", "category"]
    search_fields = ["entry__name", "category__name", "published_by__username"]
    autocomplete_fields = ["entry", "category", "published_by"]
    list_select_related = ["entry", "category__parent", "published_by"]
    actions = ["approve", "reject"]

    @admin.action(description=_("Approve the selected publications"), permissions=["change"])
    def approve(self, request, queryset):
        changed = services.publications_decide(publications=queryset, approve=True)
        self.message_user(request, ngettext("%d publication approved.", "%d publications approved.", changed)
                          % changed, messages.SUCCESS)

    @admin.action(description=_("Reject the selected publications"), permissions=["change"])
    def reject(self, request, queryset):
        changed = services.publications_decide(publications=queryset, approve=False)
        self.message_user(request, ngettext("%d publication rejected.", "%d publications rejected.", changed)
                          % changed, messages.SUCCESS)


@admin.register(Collaborator)
class CollaboratorAdmin(admin.ModelAdmin):
    list_display = ["entry", "user", "is_co_viewer", "is_co_editor", "is_co_publisher"]
    list_filter = ["is_co_viewer", "is_co_editor", "is_co_publisher"]
    search_fields = ["entry__name", "user__username", "user__email"]
    autocomplete_fields = ["entry", "user"]
    list_select_related = ["entry", "user"]


class ModuleAdmin(admin.ModelAdmin):
    """A module is one row: the list opens it, it cannot be added twice or deleted."""

    list_display = ["__str__", "enabled", "allowed_roles", "updated"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        module = self.model.load()
        opts = self.model._meta
        return redirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[module.pk]))


@admin.register(UploadModule)
class UploadModuleAdmin(ModuleAdmin):
    form = UploadModuleForm
    fieldsets = [(None, {"fields": ["enabled", "allowed_roles", "max_size_mb"]}),
                 (_("allowedMediaTypes"), {"fields": ["allow_video", "allow_audio", "allow_image"]}),
                 (_("Web renditions"), {"fields": ["make_renditions", "rendition_max_height"]})]


@admin.register(CaptionTrack)
class CaptionTrackAdmin(admin.ModelAdmin):
    list_display = ["label", "language", "entry", "reference_id", "created"]
    list_filter = ["language"]
    search_fields = ["label", "entry__name", "reference_id"]
    autocomplete_fields = ["entry"]
    list_select_related = ["entry"]
    readonly_fields = ["created"]

    def delete_model(self, request, track):
        services.caption_delete(track=track)

    def delete_queryset(self, request, queryset):
        for track in queryset:
            services.caption_delete(track=track)
