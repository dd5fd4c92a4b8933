"""django-q2 tasks: thin wrappers that load by id and call the sync engine."""
from django.db.models import Q
from django.utils import timezone

from .models import Subscription, TeamsIntegration
from .services import queue_sync
from . import notifications as graph_notifications, subscriptions, sync


def sync_all():
    """The schedule's task: one sync round per enabled integration, each a task of its own. An integration whose
    change notifications are healthy syncs only when a reconciliation is due (subscriptions.reconciliation_due)."""
    for integration in TeamsIntegration.objects.enabled():
        if subscriptions.mode(integration) == subscriptions.POLLING or subscriptions.reconciliation_due(integration):
            queue_sync(integration.pk)


def renew_subscriptions():
    """The renewal schedule's task: every enabled integration's subscriptions created, renewed when due, or
    removed (subscriptions.ensure); without PUBLIC_BASE_URL it costs no request."""
    for integration in TeamsIntegration.objects.filter(Q(enabled=True) | Q(subscriptions__isnull=False)).distinct():
        subscriptions.ensure(integration)  # a disabled integration's leftovers are removed


def queue_due_recordings() -> int:
    """The minute schedule's task: hand out the due recordings of every enabled integration without asking
    Microsoft, so that a dead worker's recording (its lease lapsed) or a lost task is taken up again within
    minutes, between two sync rounds."""
    return sum(sync.queue_due(integration) for integration in TeamsIntegration.objects.enabled())


def sync_integration(integration_id: int) -> dict:
    integration = TeamsIntegration.objects.enabled().filter(pk=integration_id).first()
    if integration is None:
        return {"skipped": "disabled or deleted"}
    started = timezone.now()
    result = sync.run(integration)
    if "discovered" in result:  # a complete round: it reconciled everything up to when it began
        subscriptions.reconciled(integration, started)
    return result


def ingest_recording(recording_id: int) -> str:
    recording = sync.ingest(recording_id)
    return recording.state if recording else "nothing to do"


def handle_notifications(notifications: list) -> dict:
    """Queued by the notification endpoint: what Microsoft announced becomes ledger rows and queued ingests."""
    return graph_notifications.handle(notifications)


def handle_lifecycle_event(subscription_pk: int, event: str) -> str:
    """Queued by the notification endpoint for a lifecycle notification (reauthorizationRequired,
    subscriptionRemoved, missed): the subscription's life cycle takes it from there."""
    subscription = Subscription.objects.select_related("integration").filter(pk=subscription_pk).first()
    if subscription is None:
        return "the subscription is gone"
    subscriptions.on_lifecycle_event(subscription, event)
    return event
