from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Count
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _, ngettext
from django.views.decorators.debug import sensitive_post_parameters

from . import services
from .forms import BackfillForm, OwnerPreviewForm, SecretUpdateForm, TeamsIntegrationCreateForm, TeamsIntegrationForm
from .models import AT_RISK_DAYS, Recording, TeamsIntegration
from .tasks import queue_sync
from . import decisions, participants, preview, sync
from .diagnosis import troubleshooting

sensitive_secret = method_decorator(sensitive_post_parameters("client_secret"))


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
    ]
    list_display = ["name_with_marker", "created", "updated", "status_display", "row_actions"]
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
                "last_success_at", "owner_preview_link"]

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

    @admin.display(description=_("Name"), ordering="name")
    def name_with_marker(self, integration):
        marker = ""
        if integration.last_error:
            marker = format_html('<a class="teams-error" href="{}" title="{}" aria-label="{}">!</a>',
                                 reverse("admin:integrations_teamsintegration_test", args=[integration.pk]),
                                 integration.last_error, integration.last_error)
        warning = ""
        if integration.secret_expires_soon():
            days = (integration.secret_expires_on - timezone.localdate()).days
            text = (_("The application secret has expired.") if days < 0 else
                    _("The application secret expires in %(days)s days.") % {"days": days})
            warning = format_html('<span class="teams-secret-warning" title="{}">⚠ {}</span>', text, text)
        at_risk = ""
        if getattr(integration, "at_risk", 0):
            text = ngettext("%(count)d recording expires in Microsoft within %(days)d days and is not in the portal.",
                            "%(count)d recordings expire in Microsoft within %(days)d days and are not in the portal.",
                            integration.at_risk) % {"count": integration.at_risk, "days": AT_RISK_DAYS}
            at_risk = format_html('<a class="teams-secret-warning" href="{}?integration__id__exact={}&expiry=at_risk" '
                                  'title="{}">⚠ {}</a>', reverse("admin:integrations_recording_changelist"),
                                  integration.pk, text, text)
        return format_html("{}{}{}{}", integration.name, marker, warning, at_risk)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.resolver_match and request.resolver_match.url_name == "integrations_teamsintegration_changelist":
            queryset = queryset.with_at_risk_counts()  # the list's marker; other pages do not show it
        return queryset

    @admin.display(description=_("Last error"))
    def last_error_with_tip(self, integration):
        if not integration.last_error:
            return "—"
        return format_html('<strong class="teams-error-text">{}</strong><div class="help">{}</div>',
                           integration.last_error, troubleshooting(integration.last_error_code))

    @admin.display(description=_("Status"), ordering="enabled")
    def status_display(self, integration):
        return _("Enabled") if integration.enabled else _("Disabled")

    @admin.display(description=_("Actions"))
    def row_actions(self, integration):
        links = [
            (reverse("admin:integrations_teamsintegration_change", args=[integration.pk]), _("Edit")),
            (reverse("admin:integrations_teamsintegration_secret", args=[integration.pk]),
             _("Update application (client) secret")),
            (reverse("admin:integrations_teamsintegration_toggle", args=[integration.pk]),
             _("Disable") if integration.enabled else _("Enable")),
            (reverse("admin:integrations_teamsintegration_test", args=[integration.pk]), _("Test connection")),
            (reverse("admin:integrations_teamsintegration_sync", args=[integration.pk]), _("Sync now")),
            (reverse("admin:integrations_recording_changelist") + f"?integration__id__exact={integration.pk}",
             _("Recordings")),
            (reverse("admin:integrations_teamsintegration_permissions", args=[integration.pk]),
             _("Apply permissions to existing recordings")),
            (reverse("admin:integrations_teamsintegration_owner_preview", args=[integration.pk]),
             _("Preview owner mapping")),
            (reverse("admin:integrations_teamsintegration_delete", args=[integration.pk]), _("Delete")),
        ]
        return format_html('<details class="teams-actions"><summary title="{}" aria-label="{}">⋯</summary>'
                           '<ul>{}</ul></details>', _("Actions"), _("Actions"),
                           format_html_join("", '<li><a href="{}">{}</a></li>', links))

    @admin.display(description=_("Application (client) Secret"))
    def secret_action(self, integration):
        return format_html('<a class="button" href="{}">{}</a> {}',
                           reverse("admin:integrations_teamsintegration_secret", args=[integration.pk]),
                           _("Update application (client) secret"),
                           _("(the stored secret is never shown)"))

    @admin.display(description=_("Preview owner mapping"))
    def owner_preview_link(self, integration):
        return format_html('<a class="button" href="{}">{}</a> <span class="help">{}</span>',
                           reverse("admin:integrations_teamsintegration_owner_preview", args=[integration.pk]),
                           _("Preview owner mapping"),
                           _("See, for a UPN or a recent organizer, each step the sync takes with the saved rules."))

    # -- row actions ---------------------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/secret/", view(self.secret_view), name="integrations_teamsintegration_secret"),
            path("<int:pk>/toggle/", view(self.toggle_view), name="integrations_teamsintegration_toggle"),
            path("<int:pk>/test/", view(self.test_view), name="integrations_teamsintegration_test"),
            path("<int:pk>/sync/", view(self.sync_view), name="integrations_teamsintegration_sync"),
            path("<int:pk>/permissions/", view(self.permissions_view),
                 name="integrations_teamsintegration_permissions"),
            path("<int:pk>/owner-preview/", view(self.owner_preview_view),
                 name="integrations_teamsintegration_owner_preview"),
        ] + super().get_urls()

    def _integration_for_change(self, request, pk):
        integration = get_object_or_404(TeamsIntegration, pk=pk)
        if not self.has_change_permission(request, integration):
            raise PermissionDenied
        return integration

    def _page(self, request, template, integration, **context):
        return TemplateResponse(request, f"admin/integrations/teamsintegration/{template}", {
            **self.admin_site.each_context(request), "opts": self.model._meta, "original": integration,
            "title": context.pop("title"), **context,
        }, status=context.pop("status", 200))

    @sensitive_secret
    def secret_view(self, request, pk):
        integration = self._integration_for_change(request, pk)
        form = SecretUpdateForm(request.POST or None, instance=integration)
        if request.method == "POST" and form.is_valid():
            report = services.integration_update_secret(
                integration=integration, client_secret=form.cleaned_data["client_secret"],
                secret_expires_on=form.cleaned_data["secret_expires_on"])
            self.log_change(request, integration, [{"changed": {"fields": ["Application (client) Secret"]}}])
            self._report_outcome(request, report, success=_("The new secret was saved and works."))
            return redirect(reverse("admin:integrations_teamsintegration_changelist"))
        return self._page(request, "secret_form.html", integration, form=form,
                          title=_("Update application (client) secret"), status=400 if form.errors else 200)

    def toggle_view(self, request, pk):
        integration = self._integration_for_change(request, pk)
        form = self._backfill_form(request.POST or None, integration)
        title = _("Disable integration") if integration.enabled else _("Enable integration")
        if request.method == "POST":
            enable = request.POST.get("status") == "enable"
            if enable == integration.enabled:  # a second submit, or a page another administrator made stale
                self.message_user(request, _("%(name)s is already %(status)s.") % {
                    "name": integration, "status": self.status_display(integration).lower()}, messages.INFO)
            elif enable and form is not None and not form.is_valid():
                return self._page(request, "toggle_confirm.html", integration, title=title, form=form, status=400)
            else:
                self._toggle(request, integration, enable=enable,
                             backfill_days=form.cleaned_data["backfill_days"] if form is not None and enable else 0)
            return redirect(reverse("admin:integrations_teamsintegration_changelist"))
        return self._page(request, "toggle_confirm.html", integration, title=title, form=form)

    def test_view(self, request, pk):
        integration = self._integration_for_change(request, pk)
        report = None
        if request.method == "POST":
            report = services.integration_check(integration=integration)
            self.log_change(request, integration, _("Tested the connection: %(outcome)s") % {
                "outcome": report.problem.message if report.problem else _("passed")})
        kind = report.problem.code if report and report.problem else integration.last_error_code
        return self._page(request, "test_connection.html", integration, report=report, title=_("Test connection"),
                          last_error=integration.last_error, tip=troubleshooting(kind))

    def sync_view(self, request, pk):
        integration = self._integration_for_change(request, pk)
        if request.method == "POST":
            self._sync(request, integration)
            return redirect(reverse("admin:integrations_teamsintegration_changelist"))
        return self._page(request, "sync_confirm.html", integration, title=_("Sync now"),
                          counts=dict(integration.recordings.values_list("state").annotate(n=Count("pk"))))

    def permissions_view(self, request, pk):
        """Show what the current permission settings would change on the recordings already in the portal;
        apply it only when the administrator confirms that very plan."""
        integration = self._integration_for_change(request, pk)
        changes = participants.plan(integration)
        fingerprint = participants.fingerprint(changes)
        if request.method == "POST":
            if request.POST.get("plan") != fingerprint:
                self.message_user(request, _("The recordings or settings changed meanwhile: check the new plan, "
                                             "then apply it."), messages.WARNING)
            else:
                applied = participants.apply(changes)
                self.log_change(request, integration, _("Applied permissions to %(count)d existing collaborators")
                                % {"count": applied})
                self.message_user(request, ngettext("%(count)d permission change applied.",
                                                    "%(count)d permission changes applied.", applied)
                                  % {"count": applied}, messages.SUCCESS)
                return redirect(reverse("admin:integrations_teamsintegration_changelist"))
        return self._page(request, "permissions_confirm.html", integration, changes=changes, plan=fingerprint,
                          entries=len({change.entry.pk for change in changes}),
                          people=len({change.user.pk for change in changes}),
                          title=_("Apply permissions to existing recordings"))

    def owner_preview_view(self, request, pk):
        """Each step the sync's owner rules take for a UPN or a recent organizer: resolve_owner in a dry run,
        so nothing is created or changed. A GET form: it only reads."""
        integration = get_object_or_404(TeamsIntegration, pk=pk)
        if not self.has_view_or_change_permission(request, integration):
            raise PermissionDenied
        organizers = preview.recent_organizers(integration)
        asked = "upn" in request.GET or "organizer" in request.GET
        form = OwnerPreviewForm(request.GET if asked else None, organizers=organizers)
        resolution = teams_user = None
        if asked and form.is_valid():
            teams_user = form.cleaned_data["teams_user"]
            resolution = preview.preview_owner(integration, teams_user)
        return self._page(
            request, "owner_preview.html", integration, form=form, resolution=resolution, teams_user=teams_user,
            typed=bool(resolution) and form.cleaned_data["typed"], organizers=organizers,
            outcome=preview.OUTCOME_LABELS.get(resolution.outcome, "") if resolution else "",
            summary=preview.owner_summary(resolution) if resolution else "",
            azure_id_rule=integration.user_id_source == TeamsIntegration.UserIdSource.AZURE_ID,
            title=_("Preview owner mapping"), status=400 if form.errors else 200)

    def _sync(self, request, integration):
        if not integration.enabled:
            self.message_user(request, _("%(name)s is disabled: enable it to sync.") % {"name": integration},
                              messages.ERROR)
            return
        queue_sync(integration.pk)
        self.log_change(request, integration, _("Sync now"))
        self.message_user(request, _("A sync of %(name)s is queued; new recordings appear in its Recordings "
                                     "list.") % {"name": integration}, messages.SUCCESS)

    @staticmethod
    def _backfill_form(data, integration, prefix=None):
        """The first Enable's question (new recordings only, or also the last N days); None after that."""
        return BackfillForm(data, integration=integration, prefix=prefix) if integration.never_enabled else None

    def _toggle(self, request, integration, *, enable, backfill_days=0):
        if not enable:
            services.integration_disable(integration=integration)
            self.log_change(request, integration, _("Disabled"))
            self.message_user(request, _("%(name)s is disabled.") % {"name": integration}, messages.SUCCESS)
            return
        first_time = integration.never_enabled
        report = services.integration_enable(integration=integration, backfill_days=backfill_days)
        if integration.enabled:
            self.log_change(request, integration, _("Enabled"))
        if not first_time:
            success = _("%(name)s is enabled.")
        elif backfill_days:
            success = _("%(name)s is enabled: it brings new recordings and those of the last %(days)d days.")
        else:
            success = _("%(name)s is enabled: it brings new recordings only.")
        self._report_outcome(request, report, success=success % {"name": integration, "days": backfill_days},
                             enabled=integration.enabled, name=integration.name)

    def _report_outcome(self, request, report, *, success, enabled=None, name=""):
        if report.problem is None:
            self.message_user(request, success, messages.SUCCESS)
        elif enabled and report.problem.transient:
            self.message_user(request, _("%(name)s is enabled, but the connection could not be checked: "
                                         "%(problem)s") % {"name": name, "problem": report.problem}, messages.WARNING)
        elif enabled is False:
            self.message_user(request, _("%(name)s stays disabled: %(problem)s") % {
                "name": name, "problem": report.problem}, messages.ERROR)
        else:
            self.message_user(request, report.problem.message, messages.ERROR)

    # -- bulk actions --------------------------------------------------------------------------

    @admin.action(description=_("Sync now"), permissions=["change"])
    def sync_selected(self, request, queryset):
        for integration in queryset:
            self._sync(request, integration)

    @admin.action(description=_("Enable selected integrations"), permissions=["change"])
    def enable_selected(self, request, queryset):
        """Like the row's Enable, after the same question for each one enabled for the first time: an
        intermediate page (as Django's delete-selected) that posts the answers back to this action."""
        confirmed = request.POST.get("post") == "yes"
        choices = [(integration, self._backfill_form(request.POST if confirmed else None, integration,
                                                     prefix=f"integration-{integration.pk}"))
                   for integration in queryset.filter(enabled=False)]
        if not choices:
            self.message_user(request, _("The selected integrations are enabled already."), messages.INFO)
            return None
        valid = [form.is_valid() for _integration, form in choices if form is not None]  # each form's errors
        if confirmed and all(valid):
            for integration, form in choices:
                self._toggle(request, integration, enable=True,
                             backfill_days=form.cleaned_data["backfill_days"] if form is not None else 0)
            return None
        return TemplateResponse(request, "admin/integrations/teamsintegration/enable_selected_confirm.html", {
            **self.admin_site.each_context(request), "opts": self.model._meta, "choices": choices,
            "title": _("Enable selected integrations"), "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }, status=400 if confirmed else 200)

    @admin.action(description=_("Disable selected integrations"), permissions=["change"])
    def disable_selected(self, request, queryset):
        for integration in queryset.filter(enabled=True):
            self._toggle(request, integration, enable=False)

    @admin.action(description=_("Test connection of selected integrations"), permissions=["change"])
    def test_selected(self, request, queryset):
        for integration in queryset:
            report = services.integration_check(integration=integration)
            self._report_outcome(request, report, success=_("%(name)s: the connection works.") % {
                "name": integration})

    # -- delete --------------------------------------------------------------------------------

    def delete_view(self, request, object_id, extra_context=None):
        integration = TeamsIntegration.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
        if integration is not None and integration.enabled:
            self.message_user(request, services.DELETE_ENABLED_REFUSED, messages.ERROR)
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

    list_display = ["recorded_at", "organizer_display", "integration", "state", "expires", "attempts",
                    "next_attempt_at", "entry_link", "owner_rule_marker", "short_reason"]
    list_display_links = ["recorded_at"]
    list_filter = ["state", AtRiskFilter, OwnerRuleFilter, "integration", "transcript_done", "decision"]
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
            rows = response.context_data["cl"].queryset.order_by().values_list("state").annotate(n=Count("pk"))
            counts = dict(rows)
            labels = dict(Recording.State.choices)
            response.context_data["subtitle"] = " · ".join(
                f"{labels[state]}: {counts[state]}" for state in labels if counts.get(state)) or None
        return response

    @admin.display(description=_("organizer"), ordering="organizer_upn")
    def organizer_display(self, recording):
        return recording.organizer_upn or recording.organizer_name or recording.organizer_id

    @admin.display(description=_("media entry"))
    def entry_link(self, recording):
        if recording.entry is None:
            return "—"
        return format_html('<a href="{}">{}</a>', reverse("admin:mediaspace_mediaentry_change",
                                                          args=[recording.entry_id]), recording.entry.name)

    @admin.display(description=_("owner rule"), ordering="owner_rule")
    def owner_rule_marker(self, recording):
        """Which owner rule applied; the ledger's reason (how) in full on hover."""
        rule = recording.owner_rule
        if rule in (Recording.OwnerRule.DEFAULT_AMBIGUOUS, Recording.OwnerRule.DEFAULT_NO_MATCH):
            label = (_("⚠ default user (more than one match)") if rule == Recording.OwnerRule.DEFAULT_AMBIGUOUS
                     else _("⚠ default user (no match)"))
            return format_html('<span class="teams-secret-warning" title="{}">{}</span>', recording.reason, label)
        if rule == Recording.OwnerRule.AMBIGUOUS:
            return format_html('<span class="teams-error-text" title="{}">{}</span>', recording.reason,
                               _("more than one match, no default user"))
        return {Recording.OwnerRule.FOUND: _("found"), Recording.OwnerRule.CREATED: _("created")}.get(rule, "—")

    @admin.display(description=_("reason"))
    def short_reason(self, recording):
        last = recording.reason.strip().splitlines()[-1] if recording.reason.strip() else ""
        return format_html('<span title="{}">{}</span>', recording.reason, last[:120])

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
            queue_sync(integration_id)
        self.message_user(request, _("%(count)d recording(s) will be tried again now.") % {"count": retried},
                          messages.SUCCESS)
