"""The Teams integration's life cycle. The admin, the tasks and the sync call these."""
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import participants, subscriptions
from .subscriptions import queue_sync  # the console's Sync now and Retry queue rounds as reconciliations do
from .models import IntegrationGroup, Recording, TeamsIntegration
from .connection import ConnectionReport, test_connection
from .diagnosis import Code

DELETE_ENABLED_REFUSED = "Please change integration status to 'Disable' in order to delete it."


class IntegrationError(Exception):
    pass


def integration_create(*, integration: TeamsIntegration) -> TeamsIntegration:
    """Save a new integration (name, tenant id, client id, secret). It starts disabled: the administrator
    enables it once it is configured."""
    integration.enabled = False
    integration.full_clean()
    integration.save()
    return integration


@transaction.atomic
def integration_set_groups(*, integration, groups):
    """Replace the opt-in / opt-out groups with `groups`: (object id, display name) pairs."""
    wanted = dict(groups)
    integration.groups.exclude(group_id__in=wanted).delete()
    for group_id, display_name in wanted.items():
        IntegrationGroup.objects.update_or_create(
            integration=integration, group_id=group_id, defaults={"display_name": display_name})


def integration_update_secret(*, integration, client_secret, secret_expires_on=None) -> ConnectionReport:
    """Store a new secret and check it at once, so the administrator sees whether it works."""
    integration.client_secret = client_secret
    integration.secret_expires_on = secret_expires_on
    integration.save(update_fields=["client_secret", "secret_expires_on", "updated"])
    report = integration_check(integration=integration)
    if report.ok and integration.enabled:
        gap, asked = subscriptions.gap_flagged(integration), integration.reconciliation_requested_at
        # The next renewal signs in with the new secret; after a failed one (the old secret expired, say) the
        # subscriptions are renewed or created now.
        subscriptions.ensure(integration)
        if gap:  # notifications came while the portal could not sign in: reconciled now, not in hours
            # the recordings held back for the old secret's failure are due at once (the round queues them)
            integration.recordings.filter(state=Recording.State.DISCOVERED, queued_until__gt=timezone.now()).update(
                queued_until=None)
            if integration.reconciliation_requested_at == asked:  # ensure did not queue a round already
                subscriptions.request_reconciliation(integration)
    return report


def integration_check(*, integration) -> ConnectionReport:
    """Test the connection and show the outcome on the integration list (the marker and its text)."""
    report = test_connection(integration)
    if report.problem:
        record_failure(integration, report.problem)
    else:
        record_success(integration, downloaded=report.download_checked)
    return report


def integration_enable(*, integration, backfill_days=0) -> ConnectionReport:
    """Enable after the same checks as Test connection. A configuration problem keeps the integration
    disabled; a passing one (Microsoft unreachable, throttled) enables it and is shown as a warning.

    The first time, `backfill_days` is the administrator's choice: 0 brings new recordings only (and, as every
    round looks back a day for recordings Microsoft lists late, those of the day before), N also
    those of the last N days (through the same sync, closest to expiry first)."""
    report = integration_check(integration=integration)
    if report.problem is None or report.problem.transient:
        integration.enabled = True
        fields = ["enabled", "updated"]
        if integration.never_enabled:
            integration.backfill_days = backfill_days
            integration.synced_until = timezone.now() - timedelta(days=backfill_days)
            fields += ["backfill_days", "synced_until"]
        integration.save(update_fields=fields)
        subscriptions.ensure(integration)  # change notifications when the portal has an address; else polling
    return report


def integration_disable(*, integration):
    integration.enabled = False
    integration.save(update_fields=["enabled", "updated"])
    subscriptions.remove(integration)


def integration_sync(*, integration):
    """Sync now, instead of waiting for the schedule. A disabled integration does not sync."""
    if not integration.enabled:
        raise IntegrationError(_("%(name)s is disabled: enable it to sync.") % {"name": integration})
    queue_sync(integration.pk)


def integration_apply_permissions(*, integration, plan: str) -> int:
    """Give the participants of the recordings already in the portal the permissions of the current settings,
    exactly as the administrator saw them: `plan` is the fingerprint of the plan shown. Returns how many
    permissions changed."""
    changes = participants.plan(integration)
    if participants.fingerprint(changes) != plan:
        raise IntegrationError(_("The recordings or settings changed meanwhile: check the new plan, then apply it."))
    return participants.apply(changes)


def integration_check_deletable(*, integration):
    if integration.enabled:
        raise IntegrationError(DELETE_ENABLED_REFUSED)


def integration_delete(*, integration):
    integration_check_deletable(integration=integration)
    subscriptions.remove(integration)  # Microsoft would go on notifying an address that refuses them
    integration.delete()


def record_failure(integration, problem):
    """Show the error marker with the problem's message until the next success."""
    now = timezone.now()
    TeamsIntegration.objects.filter(pk=integration.pk).update(
        last_error=problem.message, last_error_code=problem.code, last_error_at=now)
    integration.last_error, integration.last_error_code, integration.last_error_at = problem.message, problem.code, now


def record_success(integration, *, downloaded=False):
    """Clear the marker after a success. The billing marker goes only once a download (`downloaded`)
    succeeds: listings are not metered, so their success says nothing about billing."""
    now = timezone.now()
    rows = TeamsIntegration.objects.filter(pk=integration.pk)
    rows.update(last_success_at=now)
    if not downloaded:
        rows = rows.exclude(last_error_code=Code.BILLING_MISSING)
    rows.update(last_error="", last_error_code="")
    integration.last_error, integration.last_error_code = TeamsIntegration.objects.filter(
        pk=integration.pk).values_list("last_error", "last_error_code").first() or ("", "")
    integration.last_success_at = now
