"""django-q2 tasks: thin wrappers that load by id and call the sync engine."""
from .models import TeamsIntegration
from .services import queue_sync
from . import sync


def sync_all():
    """The schedule's task: one sync round per enabled integration, each a task of its own."""
    for integration_id in TeamsIntegration.objects.enabled().values_list("pk", flat=True):
        queue_sync(integration_id)


def queue_due_recordings() -> int:
    """The minute schedule's task: hand out the due recordings of every enabled integration without asking
    Microsoft, so that a dead worker's recording (its lease lapsed) or a lost task is taken up again within
    minutes, between two sync rounds."""
    return sum(sync.queue_due(integration) for integration in TeamsIntegration.objects.enabled())


def sync_integration(integration_id: int) -> dict:
    integration = TeamsIntegration.objects.enabled().filter(pk=integration_id).first()
    if integration is None:
        return {"skipped": "disabled or deleted"}
    return sync.run(integration)


def ingest_recording(recording_id: int) -> str:
    recording = sync.ingest(recording_id)
    return recording.state if recording else "nothing to do"
