"""The Teams integration console and the recordings ledger, as admin configuration: lists, forms and
actions. The console's own pages are in admin_views.py, its rules in services.py, its HTML in templates."""
from functools import partial

from django.contrib import admin, messages
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from integrations.microsoft.forms import sensitive_secret
from mediaspace.admin import cell

from . import admin_views, decisions, services, subscriptions, sync
from .admin_views import TEMPLATES
from .diagnosis import troubleshooting
from .forms import TeamsIntegrationCreateForm, TeamsIntegrationForm
from .models import AT_RISK_DAYS, Recording, TeamsIntegration


@admin.register(TeamsIntegration)
class TeamsIntegrationAdmin(admin.ModelAdmin):
    """The Teams integration console: the seed's list, add form, edit form and row actions."""

    add_form = TeamsIntegrationCreateForm
    form = TeamsIntegrationForm
    add_fieldsets = [(None, {"fields": ["name", "tenant_id", "client_id", "client_secret"]})]
    fieldsets = [
        (None, {"fields": ["name", "tenant_id", "client_id", "categories"]}),
        (_("Upload recordings management"), {"fields": ["upload_policy", "groups_text"]}),
        (None, {"fields": ["transcription"]}),
        (_("Assign users permissions for uploaded recordings"),
         {"fields": ["co_organizer_permission", "presenter_permission", "attendee_permission", "guest_permissions"],
          "description": _("Changes apply to new recordings. “Apply permissions to existing recordings” (row menu) "
                           "shows what it would change on the recordings already in the portal, then does it.")}),
        (_("Recordings in Microsoft"), {"fields": ["recording_expiry_days", "ask_owners"]}),
        (_("Set owner for recordings"),
         {"fields": ["user_id_source", "upn_rule", "postfix", "find_user_by", "missing_user", "default_user",
                     "owner_preview_link"],
          "description": _("In Azure, user identification may differ from the portal's. This setting matches "
                           "Azure and portal users by adding or removing a postfix (e.g. @company.com) or by "
                           "keeping the same user ID as in Azure.")}),
        (_("Application (client) secret"), {"fields": ["secret_expires_on", "secret_action"]}),
        (_("Status"), {"fields": ["status_display", "last_error_with_tip", "last_error_at", "last_success_at"]}),
        (_("Change notifications"),
         {"fields": ["notifications_display", "subscriptions_display", "last_notification_at",
                     "last_reconciliation_at"],
          "description": _("With an address Microsoft can reach (PUBLIC_BASE_URL), Microsoft announces new "
                           "recordings and a reconciliation round still runs every few hours; otherwise the "
                           "integration polls.")}),
    ]
    list_display = ["name_with_marker", "created", "updated", "status_display", "mode_display", "row_actions"]
    list_display_links = ["name_with_marker"]
    search_fields = ["name", "tenant_id", "client_id"]
    list_filter = ["enabled"]
    autocomplete_fields = ["categories", "default_user"]
    actions = ["sync_selected", "enable_selected", "disable_selected", "test_selected"]

    class Media:
        css = {"all": ["integrations/admin.css"]}

    # -- forms ---------------------------------------------------------------------------------

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, **kwargs)

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else self.fieldsets

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["tenant_id", "client_id", "secret_action", "status_display", "last_error_with_tip", "last_error_at",
                "last_success_at", "owner_preview_link", "notifications_display", "subscriptions_display",
                "last_notification_at", "last_reconciliation_at"]

    @sensitive_secret
    def add_view(self, request, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "title": _("Add new Teams integration")}
        return super().add_view(request, form_url, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "show_save_and_add_another": False, "title": _("Edit Teams account")}
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
        else:
            services.integration_create(integration=obj)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if change:
            services.integration_set_groups(integration=form.instance, groups=form.cleaned_data["groups_text"])

    def response_add(self, request, obj, post_url_continue=None):
        # "Click Create. The edit window displays."
        messages.info(request, _("The integration was created in 'Disabled' status. Complete its settings, "
                                 "then enable it."))
        return redirect(reverse("admin:integrations_teamsintegration_change", args=[obj.pk]))

    # -- list ----------------------------------------------------------------------------------

    def get_list_display(self, request):
        if self.has_change_permission(request):
            return self.list_display
        return [column for column in self.list_display if column != "row_actions"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.resolver_match and request.resolver_match.url_name == "integrations_teamsintegration_changelist":
            queryset = queryset.with_at_risk_counts()  # the list's marker; other pages do not show it
            queryset = queryset.prefetch_related("subscriptions")  # the mode column, without a query per row
        return queryset

    @admin.display(description=_("Name"), ordering="name")
    def name_with_marker(self, integration):
        secret_days = ((integration.secret_expires_on - timezone.localdate()).days
                       if integration.secret_expires_soon() else None)
        return cell(TEMPLATES + "_name_cell.html", integration=integration, secret_days=secret_days,
                    at_risk_days=AT_RISK_DAYS)

    @admin.display(description=_("Last error"))
    def last_error_with_tip(self, integration):
        return cell(TEMPLATES + "_last_error.html", integration=integration,
                    tip=troubleshooting(integration.last_error_code) if integration.last_error else "")

    @admin.display(description=_("Status"), ordering="enabled")
    def status_display(self, integration):
        return _("Enabled") if integration.enabled else _("Disabled")

    @admin.display(description=_("Finds recordings by"))
    def mode_display(self, integration):
        return cell(TEMPLATES + "_mode.html", mode=subscriptions.mode(integration))

    @admin.display(description=_("Mode"))
    def notifications_display(self, integration):
        return cell(TEMPLATES + "_notifications.html", **subscriptions.overview(integration))

    @admin.display(description=_("Subscriptions"))
    def subscriptions_display(self, integration):
        return cell(TEMPLATES + "_subscriptions.html", subscriptions=integration.subscriptions.all())

    @admin.display(description=_("Actions"))
    def row_actions(self, integration):
        return cell(TEMPLATES + "_row_actions.html", integration=integration)

    @admin.display(description=_("Application (client) Secret"))
    def secret_action(self, integration):
        return cell(TEMPLATES + "_secret_action.html", integration=integration)

    @admin.display(description=_("Preview owner mapping"))
    def owner_preview_link(self, integration):
        return cell(TEMPLATES + "_owner_preview_link.html", integration=integration)

    # -- row actions: the pages of admin_views.py ----------------------------------------------

    def get_urls(self):
        def page(view):
            return self.admin_site.admin_view(partial(view, model_admin=self))

        return [
            path("<int:pk>/secret/", page(admin_views.secret_view), name="integrations_teamsintegration_secret"),
            path("<int:pk>/toggle/", page(admin_views.toggle_view), name="integrations_teamsintegration_toggle"),
            path("<int:pk>/test/", page(admin_views.test_view), name="integrations_teamsintegration_test"),
            path("<int:pk>/sync/", page(admin_views.sync_view), name="integrations_teamsintegration_sync"),
            path("<int:pk>/permissions/", page(admin_views.permissions_view),
                 name="integrations_teamsintegration_permissions"),
            path("<int:pk>/owner-preview/", page(admin_views.owner_preview_view),
                 name="integrations_teamsintegration_owner_preview"),
        ] + super().get_urls()

    # -- bulk actions --------------------------------------------------------------------------

    @admin.action(description=_("Sync now"), permissions=["change"])
    def sync_selected(self, request, queryset):
        for integration in queryset:
            admin_views.sync(self, request, integration)

    @admin.action(description=_("Enable selected integrations"), permissions=["change"])
    def enable_selected(self, request, queryset):
        return admin_views.enable_selected(request, queryset, model_admin=self)

    @admin.action(description=_("Disable selected integrations"), permissions=["change"])
    def disable_selected(self, request, queryset):
        for integration in queryset.filter(enabled=True):
            admin_views.disable(self, request, integration)

    @admin.action(description=_("Test connection of selected integrations"), permissions=["change"])
    def test_selected(self, request, queryset):
        for integration in queryset:
            admin_views.test(self, request, integration)

    # -- delete --------------------------------------------------------------------------------

    def delete_view(self, request, object_id, extra_context=None):
        integration = TeamsIntegration.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
        if integration is not None:
            try:
                services.integration_check_deletable(integration=integration)
            except services.IntegrationError as refusal:
                self.message_user(request, str(refusal), messages.ERROR)
                return redirect(reverse("admin:integrations_teamsintegration_changelist"))
        return super().delete_view(request, object_id, extra_context)

    def delete_model(self, request, obj):
        services.integration_delete(integration=obj)

    def get_actions(self, request):
        # Deleting goes through the row's Delete, which refuses an enabled integration with the seed's message.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


class AtRiskFilter(admin.SimpleListFilter):
    title = _("expiry in Microsoft")
    parameter_name = "expiry"

    def lookups(self, request, model_admin):
        return [("at_risk", _("At risk: expires within %(days)d days, not in the portal") % {"days": AT_RISK_DAYS})]

    def queryset(self, request, queryset):
        return queryset.at_risk() if self.value() == "at_risk" else queryset


class OwnerRuleFilter(admin.SimpleListFilter):
    """Recordings whose owner was not found as one portal user: held by the default user, or failed."""

    title = _("owner rule")
    parameter_name = "owner_rule"

    def lookups(self, request, model_admin):
        return [("default", _("Held by the default user")),
                ("ambiguous", _("More than one portal user matched"))]

    def queryset(self, request, queryset):
        if self.value() == "default":
            return queryset.held_by_default_user()
        if self.value() == "ambiguous":
            return queryset.with_ambiguous_owner()
        return queryset


@admin.register(Recording)
class RecordingAdmin(admin.ModelAdmin):
    """The ledger: every Microsoft recording of every integration, with its state and reason."""

    list_display = ["recorded_at", "organizer_display", "integration", "state", "found_by", "expires", "attempts",
                    "next_attempt_at", "entry_link", "owner_rule_marker", "short_reason"]
    list_display_links = ["recorded_at"]
    list_filter = ["state", AtRiskFilter, OwnerRuleFilter, "integration", "found_by", "transcript_done", "decision"]
    search_fields = ["organizer_upn", "organizer_name", "recording_id", "meeting_id", "entry__name"]
    list_select_related = ["integration", "entry"]
    date_hierarchy = "recorded_at"
    actions = ["retry_selected", "keep_selected", "discard_selected"]
    readonly_fields = [field.name for field in Recording._meta.fields]

    def has_add_permission(self, request):
        return False

    def get_ordering(self, request):
        if request.GET.get(AtRiskFilter.parameter_name) == "at_risk":
            return ["recorded_at", "pk"]  # closest to expiry first
        return super().get_ordering(request)

    @admin.display(description=_("expires in Microsoft"), ordering="recorded_at")
    def expires(self, recording):
        return recording.integration.expires_at(recording.recorded_at) or "—"

    def changelist_view(self, request, extra_context=None):
        """Above the list: how many recordings are in each state (a backfill's progress)."""
        response = super().changelist_view(request, extra_context)
        if hasattr(response, "context_data") and "cl" in response.context_data:
            counts = response.context_data["cl"].queryset.state_counts()
            labels = dict(Recording.State.choices)
            response.context_data["subtitle"] = " · ".join(
                f"{labels[state]}: {counts[state]}" for state in labels if counts.get(state)) or None
        return response

    @admin.display(description=_("organizer"), ordering="organizer_upn")
    def organizer_display(self, recording):
        return recording.organizer_upn or recording.organizer_name or recording.organizer_id

    @admin.display(description=_("media entry"))
    def entry_link(self, recording):
        return cell("admin/integrations/recording/_entry_link.html", recording=recording)

    @admin.display(description=_("owner rule"), ordering="owner_rule")
    def owner_rule_marker(self, recording):
        """Which owner rule applied; the ledger's reason (how) in full on hover."""
        return cell("admin/integrations/recording/_owner_rule.html", recording=recording, rules=Recording.OwnerRule)

    @admin.display(description=_("reason"))
    def short_reason(self, recording):
        lines = recording.reason.strip().splitlines()
        return cell("admin/integrations/recording/_reason.html", recording=recording,
                    last_line=lines[-1] if lines else "")

    @admin.action(description=_("Keep the selected recordings (owner's decision)"), permissions=["change"])
    def keep_selected(self, request, queryset):
        kept = sum(decisions.keep(recording, by=request.user.get_username()) for recording in queryset)
        self.message_user(request, _("%(count)d recording(s) kept.") % {"count": kept}, messages.SUCCESS)

    @admin.action(description=_("Discard the selected recordings: delete their entries, never bring them in again"),
                  permissions=["change"])
    def discard_selected(self, request, queryset):
        discarded = sum(decisions.discard(recording, by=request.user.get_username()) for recording in queryset)
        self.message_user(request, _("%(count)d recording(s) discarded.") % {"count": discarded}, messages.SUCCESS)

    @admin.action(description=_("Retry the selected failed recordings"), permissions=["change"])
    def retry_selected(self, request, queryset):
        retried = sync.retry(queryset)
        for integration_id in queryset.values_list("integration", flat=True).distinct():
            services.queue_sync(integration_id)
        self.message_user(request, _("%(count)d recording(s) will be tried again now.") % {"count": retried},
                          messages.SUCCESS)
