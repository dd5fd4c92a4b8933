"""The Teams console's own pages (the row actions) and its bulk Enable: each parses the request, calls one
service (services.py, or preview.py for the dry run), tells the outcome and renders its template.

TeamsIntegrationAdmin wires them: `get_urls` passes itself as `model_admin`, for its permissions, change
log and messages (as Django's AutocompleteJsonView takes its admin site).
"""
from django.contrib import messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _, ngettext
from django.views.decorators.debug import sensitive_post_parameters

from . import participants, preview, services
from .diagnosis import troubleshooting
from .forms import BackfillForm, OwnerPreviewForm, SecretUpdateForm
from .models import TeamsIntegration

TEMPLATES = "admin/integrations/teamsintegration/"


def _changelist():
    return redirect(reverse("admin:integrations_teamsintegration_changelist"))


def _integration_for_change(model_admin, request, pk):
    integration = get_object_or_404(TeamsIntegration, pk=pk)
    if not model_admin.has_change_permission(request, integration):
        raise PermissionDenied
    return integration


def _page(model_admin, request, template, integration, *, title, status=200, **context):
    return TemplateResponse(request, TEMPLATES + template, {
        **model_admin.admin_site.each_context(request), "opts": model_admin.model._meta, "original": integration,
        "title": title, **context,
    }, status=status)


def _backfill_form(data, integration, prefix=None):
    """The first Enable's question (new recordings only, or also the last N days); None after that."""
    return BackfillForm(data, integration=integration, prefix=prefix) if integration.never_enabled else None


# -- the outcomes, told as the admin's messages ------------------------------------------------------------


def report_outcome(model_admin, request, report, *, success, enabled=None, name=""):
    """A connection check's outcome: `success`, a warning (enabled, but Microsoft could not be asked) or why not."""
    if report.problem is None:
        model_admin.message_user(request, success, messages.SUCCESS)
    elif enabled and report.problem.transient:
        model_admin.message_user(request, _("%(name)s is enabled, but the connection could not be checked: "
                                            "%(problem)s") % {"name": name, "problem": report.problem},
                                 messages.WARNING)
    elif enabled is False:
        model_admin.message_user(request, _("%(name)s stays disabled: %(problem)s") % {
            "name": name, "problem": report.problem}, messages.ERROR)
    else:
        model_admin.message_user(request, report.problem.message, messages.ERROR)


def sync(model_admin, request, integration):
    try:
        services.integration_sync(integration=integration)
    except services.IntegrationError as refusal:
        model_admin.message_user(request, str(refusal), messages.ERROR)
        return
    model_admin.log_change(request, integration, _("Sync now"))
    model_admin.message_user(request, _("A sync of %(name)s is queued; new recordings appear in its Recordings "
                                        "list.") % {"name": integration}, messages.SUCCESS)


def disable(model_admin, request, integration):
    services.integration_disable(integration=integration)
    model_admin.log_change(request, integration, _("Disabled"))
    model_admin.message_user(request, _("%(name)s is disabled.") % {"name": integration}, messages.SUCCESS)


def enable(model_admin, request, integration, *, backfill_days=0):
    first_time = integration.never_enabled
    report = services.integration_enable(integration=integration, backfill_days=backfill_days)
    if integration.enabled:
        model_admin.log_change(request, integration, _("Enabled"))
    if not first_time:
        success = _("%(name)s is enabled.")
    elif backfill_days:
        success = _("%(name)s is enabled: it brings new recordings and those of the last %(days)d days.")
    else:
        success = _("%(name)s is enabled: it brings new recordings only.")
    report_outcome(model_admin, request, report, success=success % {"name": integration, "days": backfill_days},
                   enabled=integration.enabled, name=integration.name)


def test(model_admin, request, integration):
    report = services.integration_check(integration=integration)
    report_outcome(model_admin, request, report, success=_("%(name)s: the connection works.") % {
        "name": integration})


# -- the row actions' pages ------------------------------------------------------------------------------


@sensitive_post_parameters("client_secret")
def secret_view(request, pk, *, model_admin):
    integration = _integration_for_change(model_admin, request, pk)
    form = SecretUpdateForm(request.POST or None, instance=integration)
    if request.method == "POST" and form.is_valid():
        report = services.integration_update_secret(
            integration=integration, client_secret=form.cleaned_data["client_secret"],
            secret_expires_on=form.cleaned_data["secret_expires_on"])
        model_admin.log_change(request, integration, [{"changed": {"fields": ["Application (client) Secret"]}}])
        report_outcome(model_admin, request, report, success=_("The new secret was saved and works."))
        return _changelist()
    return _page(model_admin, request, "secret_form.html", integration, form=form,
                 title=_("Update application (client) secret"), status=400 if form.errors else 200)


def toggle_view(request, pk, *, model_admin):
    integration = _integration_for_change(model_admin, request, pk)
    form = _backfill_form(request.POST or None, integration)
    title = _("Disable integration") if integration.enabled else _("Enable integration")
    if request.method == "POST":
        wanted = request.POST.get("status") == "enable"
        if wanted == integration.enabled:  # a second submit, or a page another administrator made stale
            model_admin.message_user(request, _("%(name)s is already %(status)s.") % {
                "name": integration, "status": model_admin.status_display(integration).lower()}, messages.INFO)
        elif not wanted:
            disable(model_admin, request, integration)
        elif form is not None and not form.is_valid():
            return _page(model_admin, request, "toggle_confirm.html", integration, title=title, form=form, status=400)
        else:
            enable(model_admin, request, integration,
                   backfill_days=form.cleaned_data["backfill_days"] if form is not None else 0)
        return _changelist()
    return _page(model_admin, request, "toggle_confirm.html", integration, title=title, form=form)


def test_view(request, pk, *, model_admin):
    integration = _integration_for_change(model_admin, request, pk)
    report = None
    if request.method == "POST":
        report = services.integration_check(integration=integration)
        model_admin.log_change(request, integration, _("Tested the connection: %(outcome)s") % {
            "outcome": report.problem.message if report.problem else _("passed")})
    kind = report.problem.code if report and report.problem else integration.last_error_code
    return _page(model_admin, request, "test_connection.html", integration, report=report,
                 title=_("Test connection"), last_error=integration.last_error, tip=troubleshooting(kind))


def sync_view(request, pk, *, model_admin):
    integration = _integration_for_change(model_admin, request, pk)
    if request.method == "POST":
        sync(model_admin, request, integration)
        return _changelist()
    return _page(model_admin, request, "sync_confirm.html", integration, title=_("Sync now"),
                 counts=integration.recordings.state_counts())


def permissions_view(request, pk, *, model_admin):
    """Show what the current permission settings would change on the recordings already in the portal;
    apply it only when the administrator confirms that very plan."""
    integration = _integration_for_change(model_admin, request, pk)
    if request.method == "POST":
        try:
            applied = services.integration_apply_permissions(integration=integration, plan=request.POST.get("plan"))
        except services.IntegrationError as stale:
            model_admin.message_user(request, str(stale), messages.WARNING)
        else:
            model_admin.log_change(request, integration, _("Applied permissions to %(count)d existing collaborators")
                                   % {"count": applied})
            model_admin.message_user(request, ngettext("%(count)d permission change applied.",
                                                       "%(count)d permission changes applied.", applied)
                                     % {"count": applied}, messages.SUCCESS)
            return _changelist()
    changes = participants.plan(integration)
    return _page(model_admin, request, "permissions_confirm.html", integration, changes=changes,
                 plan=participants.fingerprint(changes), entries=len({change.entry.pk for change in changes}),
                 people=len({change.user.pk for change in changes}),
                 title=_("Apply permissions to existing recordings"))


def owner_preview_view(request, pk, *, model_admin):
    """Each step the sync's owner rules take for a UPN or a recent organizer: resolve_owner in a dry run,
    so nothing is created or changed. A GET form: it only reads."""
    integration = get_object_or_404(TeamsIntegration, pk=pk)
    if not model_admin.has_view_or_change_permission(request, integration):
        raise PermissionDenied
    organizers = preview.recent_organizers(integration)
    asked = "upn" in request.GET or "organizer" in request.GET
    form = OwnerPreviewForm(request.GET if asked else None, organizers=organizers)
    resolution = teams_user = None
    if asked and form.is_valid():
        teams_user = form.cleaned_data["teams_user"]
        resolution = preview.preview_owner(integration, teams_user)
    return _page(
        model_admin, request, "owner_preview.html", integration, form=form, resolution=resolution,
        teams_user=teams_user, typed=bool(resolution) and form.cleaned_data["typed"], organizers=organizers,
        outcome=preview.OUTCOME_LABELS.get(resolution.outcome, "") if resolution else "",
        summary=preview.owner_summary(resolution) if resolution else "",
        azure_id_rule=integration.user_id_source == TeamsIntegration.UserIdSource.AZURE_ID,
        title=_("Preview owner mapping"), status=400 if form.errors else 200)


# -- the bulk Enable's intermediate page -------------------------------------------------------------------


def enable_selected(request, queryset, *, model_admin):
    """Like the row's Enable, after the same question for each one enabled for the first time: an
    intermediate page (as Django's delete-selected) that posts the answers back to the action."""
    confirmed = request.POST.get("post") == "yes"
    choices = [(integration, _backfill_form(request.POST if confirmed else None, integration,
                                            prefix=f"integration-{integration.pk}"))
               for integration in queryset.filter(enabled=False)]
    if not choices:
        model_admin.message_user(request, _("The selected integrations are enabled already."), messages.INFO)
        return None
    valid = [form.is_valid() for _integration, form in choices if form is not None]  # each form's errors
    if confirmed and all(valid):
        for integration, form in choices:
            enable(model_admin, request, integration,
                   backfill_days=form.cleaned_data["backfill_days"] if form is not None else 0)
        return None
    return TemplateResponse(request, TEMPLATES + "enable_selected_confirm.html", {
        **model_admin.admin_site.each_context(request), "opts": model_admin.model._meta, "choices": choices,
        "title": _("Enable selected integrations"), "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }, status=400 if confirmed else 200)
