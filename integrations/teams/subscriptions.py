"""Change notifications: an integration's Graph subscriptions (one per resource), their life cycle, and the way
the integration finds recordings.

- **notifications**: the portal has an address Microsoft can reach (`PUBLIC_BASE_URL`: https, or plain http on a
  loopback address for the simulator) and every resource the integration needs has a live subscription with no
  failure since. Microsoft announces new recordings; a reconciliation round (a sync) still runs every
  TEAMS_RECONCILIATION_HOURS, and at once after a gap.
- **polling**, otherwise: every sync round asks Microsoft, as before notifications.

The renewal schedule calls `ensure`; Enable, Disable, Delete and Update secret (services.py) call `ensure` and
`remove`; lifecycle notifications (notifications.py, through a task) call `on_lifecycle_event`. The client state
is a secret: it is stored encrypted and never logged or shown.
"""
import ipaddress
import logging
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

from django.db import IntegrityError
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.debug import sensitive_variables
from django_q.tasks import async_task

from mediaspace.conf import setting

from integrations.microsoft.errors import GraphError, GraphNotFound

from . import api
from .diagnosis import RECORDING_PERMISSION, TRANSCRIPT_PERMISSION, explain, explain_subscription_error
from .models import Subscription, TeamsIntegration

logger = logging.getLogger(__name__)

NOTIFICATIONS, POLLING = "notifications", "polling"
MAX_LIFETIME = timedelta(minutes=4320)  # Microsoft's maximum for recordings and transcripts
LIFETIME = MAX_LIFETIME - timedelta(minutes=30)  # a little less: clocks differ, and the request takes time
RENEW_BEFORE = timedelta(days=1)  # renewed this long before expiry: many renewal rounds may fail before it lapses
PERMISSIONS = {Subscription.Resource.RECORDINGS: RECORDING_PERMISSION,
               Subscription.Resource.TRANSCRIPTS: TRANSCRIPT_PERMISSION}
LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")

NO_ADDRESS = ("PUBLIC_BASE_URL is not set: Microsoft has no address to send notifications to, so the integration "
              "polls every TEAMS_SYNC_MINUTES.")
NOT_HTTPS = ("PUBLIC_BASE_URL ({url}) is not an https:// address: Microsoft sends notifications over HTTPS only "
             "(plain http is accepted on a loopback address, for tests), so the integration polls.")

NOT_ENABLED = "The integration is disabled."
NOT_YET = "No live subscription yet: the next renewal round (every 30 minutes) creates it."


# -- the address ----------------------------------------------------------------------------------


def address_problem() -> str:
    """Why no address can be registered with Microsoft ('' when PUBLIC_BASE_URL is usable)."""
    url = setting("PUBLIC_BASE_URL").strip()
    if not url:
        return NO_ADDRESS
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:  # a malformed address, e.g. an unclosed [ of an IPv6 host
        return NOT_HTTPS.format(url=url)
    if host and (parts.scheme == "https" or parts.scheme == "http" and _loopback(host)):
        return ""
    return NOT_HTTPS.format(url=url)


def _loopback(host) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def notification_urls():
    """(notificationUrl, lifecycleNotificationUrl) as registered with Microsoft, or None without a usable
    PUBLIC_BASE_URL (`address_problem` says why)."""
    if address_problem():
        return None
    base = setting("PUBLIC_BASE_URL").strip().rstrip("/")
    return (base + reverse("integrations:notifications"), base + reverse("integrations:lifecycle-notifications"))


# -- the mode -------------------------------------------------------------------------------------


def resources(integration) -> list:
    """The resources the integration subscribes to: transcripts only when it brings them in."""
    wanted = [Subscription.Resource.RECORDINGS]
    if integration.transcription:
        wanted.append(Subscription.Resource.TRANSCRIPTS)
    return wanted


def mode(integration, now=None) -> str:
    """NOTIFICATIONS while every resource has a live subscription and nothing failed since; POLLING otherwise."""
    if not integration.enabled or integration.notifications_error or notification_urls() is None:
        return POLLING
    now = now or timezone.now()
    live = {row.resource for row in integration.subscriptions.all() if row.expires_at > now}  # prefetched in lists
    return NOTIFICATIONS if live >= set(resources(integration)) else POLLING


def overview(integration) -> dict:
    """What the console shows: the mode, the addresses registered (or why none), the subscriptions, and why
    notifications are off ('' when they are on)."""
    current = mode(integration)
    reason = ""
    if current == POLLING:
        reason = (integration.notifications_error or address_problem()
                  or (NOT_ENABLED if not integration.enabled else NOT_YET))
    return {"mode": current, "urls": notification_urls(), "address_problem": address_problem(), "reason": reason,
            "subscriptions": list(integration.subscriptions.all())}


def reconciliation_due(integration, now=None) -> bool:
    """Whether a scheduled round should ask Microsoft for everything: never reconciled, a gap flagged after the
    last round began, or TEAMS_RECONCILIATION_HOURS since it."""
    last, requested = integration.last_reconciliation_at, integration.reconciliation_requested_at
    if last is None or requested is not None and requested >= last:
        return True
    return (now or timezone.now()) - last >= timedelta(hours=setting("TEAMS_RECONCILIATION_HOURS"))


def queue_sync(integration_id):
    """Queue one sync round of an integration: a reconciliation, whatever the mode."""
    async_task("integrations.teams.tasks.sync_integration", integration_id, task_name=f"teams-sync-{integration_id}")


def request_reconciliation(integration):
    """A gap in the notifications: flag it (a round that starts later covers it) and queue a round now."""
    flag_gap(integration)
    if integration.enabled:
        queue_sync(integration.pk)


def flag_gap(integration):
    """A gap that no round can cover yet (the portal cannot sign in: what a notification announced was not
    followed up): flagged only. The schedule's rounds are due from now on, and Update secret reconciles at once."""
    now = timezone.now()
    TeamsIntegration.objects.filter(pk=integration.pk).update(reconciliation_requested_at=now)
    integration.reconciliation_requested_at = now


def gap_flagged(integration) -> bool:
    """A gap was flagged after the last reconciliation round began."""
    requested, last = integration.reconciliation_requested_at, integration.last_reconciliation_at
    return requested is not None and (last is None or requested >= last)


def reconciled(integration, started):
    """A sync round that began at `started` completed: it covers every gap flagged before it began."""
    TeamsIntegration.objects.filter(pk=integration.pk).update(last_reconciliation_at=started)
    integration.last_reconciliation_at = started


# -- the life cycle -------------------------------------------------------------------------------


class _Failed(Exception):
    def __init__(self, problem):
        super().__init__(problem.message)
        self.problem = problem


def ensure(integration, *, renew=False) -> bool:
    """Bring the subscriptions in line: create the missing ones, renew those due (all of them with `renew`, or
    after a failure), create again those found expired or gone (then reconcile the gap), delete those no longer
    needed. True when notifications are healthy. A failure keeps the reason in `notifications_error` (the
    integration polls at once) and the next renewal round tries again. Without a usable address, or disabled,
    the subscriptions are removed."""
    urls = notification_urls()
    if urls is None or not integration.enabled:
        remove(integration)
        return False
    graph = api.graph_for(integration)
    now = timezone.now()
    failed_before = bool(integration.notifications_error)
    gap = failed_before
    wanted = resources(integration)
    try:
        for subscription in integration.subscriptions.all():
            if subscription.resource not in wanted:
                _delete(graph, subscription)
            elif subscription.expires_at <= now:
                logger.info("Subscription %s of %s expired: creating it again", subscription.subscription_id,
                            integration)
                _delete(graph, subscription)
                gap = True
            elif renew or failed_before or subscription.expires_at - now < RENEW_BEFORE:
                gap |= not _renew(graph, subscription, urls)
        have = set(integration.subscriptions.values_list("resource", flat=True))
        for resource in wanted:
            if resource not in have:
                _create(graph, integration, resource, urls)
    except _Failed as failure:
        _record(integration, failure.problem.message)
        return False
    _record(integration, "")
    if gap:
        request_reconciliation(integration)
    return True


def remove(integration):
    """Delete the integration's subscriptions at Microsoft (one already gone is fine) and here. One Microsoft
    refuses to delete lapses by itself within three days, and its notifications are refused (unknown id)."""
    subscriptions = list(integration.subscriptions.all())
    if subscriptions:
        graph = api.graph_for(integration)
        for subscription in subscriptions:
            _delete(graph, subscription)
    _record(integration, "")


def on_lifecycle_event(subscription, event):
    """A lifecycle notification of `subscription`. reauthorizationRequired: reauthorize it (renew it if that is
    refused); subscriptionRemoved, missed: create it again. Either way a reconciliation covers the gap."""
    integration = subscription.integration
    urls = notification_urls()
    if event not in LIFECYCLE_EVENTS:
        logger.warning("Unknown lifecycle event %r for subscription %s: ignored", event,
                       subscription.subscription_id)
        return
    if not integration.enabled or urls is None:
        remove(integration)
        return
    graph = api.graph_for(integration)
    try:
        if event == "reauthorizationRequired":
            try:
                api.reauthorize_subscription(graph, subscription.subscription_id)
            except GraphNotFound:
                _delete(graph, subscription)
                _create(graph, integration, subscription.resource, urls)
            except GraphError:
                _renew(graph, subscription, urls)  # a renewal reauthorizes too
        else:
            _delete(graph, subscription)
            _create(graph, integration, subscription.resource, urls)
    except _Failed as failure:
        _record(integration, failure.problem.message)
    else:
        _record(integration, "")
    request_reconciliation(integration)


@sensitive_variables("client_state")  # blanked on the debug page, in every frame
def _create(graph, integration, resource, urls):
    client_state = secrets.token_urlsafe(64)  # 86 characters (Graph allows 128), new for each subscription
    try:
        created = api.create_subscription(graph, resource=resource, notification_url=urls[0],
                                          lifecycle_url=urls[1], expires_at=timezone.now() + LIFETIME,
                                          client_state=client_state)
    except GraphError as error:
        raise _Failed(_problem(error, resource, urls)) from error
    try:
        Subscription.objects.update_or_create(integration=integration, resource=resource, defaults={
            "subscription_id": created["id"], "client_state": client_state, "expires_at": _expiry(created),
            "renewed_at": None, "last_notification_at": None})
    except IntegrityError:  # another worker created it meanwhile: ours is not needed
        try:
            api.delete_subscription(graph, created["id"])
        except GraphError:
            pass  # it lapses by itself; its notifications are refused (unknown id)
        return
    logger.info("Subscribed %s to %s (subscription %s)", integration, resource, created["id"])


def _renew(graph, subscription, urls) -> bool:
    """Renew; False when Microsoft no longer had it and it was created again."""
    try:
        renewed = api.renew_subscription(graph, subscription.subscription_id, expires_at=timezone.now() + LIFETIME)
    except GraphNotFound:
        logger.info("Subscription %s is gone at Microsoft: creating it again", subscription.subscription_id)
        subscription.delete()
        _create(graph, subscription.integration, subscription.resource, urls)
        return False
    except GraphError as error:
        raise _Failed(_problem(error, subscription.resource, urls)) from error
    subscription.expires_at, subscription.renewed_at = _expiry(renewed), timezone.now()
    subscription.save(update_fields=["expires_at", "renewed_at"])
    return True


def _delete(graph, subscription):
    try:
        api.delete_subscription(graph, subscription.subscription_id)
    except GraphError as error:
        logger.warning("Subscription %s could not be deleted (%s); it lapses by itself at %s",
                       subscription.subscription_id, explain(error).message, subscription.expires_at)
    subscription.delete()


def _expiry(answer):
    return parse_datetime(answer.get("expirationDateTime") or "") or timezone.now() + LIFETIME


def _problem(error, resource, urls):
    return explain_subscription_error(error, permission=PERMISSIONS[resource], notification_url=urls[0])


def _record(integration, reason):
    if integration.notifications_error != reason:
        TeamsIntegration.objects.filter(pk=integration.pk).update(notifications_error=reason)
        integration.notifications_error = reason
    if reason:
        logger.warning("Notifications of %s are off, the integration polls: %s", integration, reason)
