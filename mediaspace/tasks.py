"""django-q2 tasks of the portal core: thin wrappers around the media pipeline (mediaspace/processing/)."""
from .processing import pipeline


def process_entry(entry_id: int) -> str:
    """Runs on the processing cluster (pipeline.queue routes it there)."""
    entry = pipeline.process_queued(entry_id)
    return entry.status if entry is not None else "no such entry"


def requeue_stalled_processing() -> int:
    return pipeline.requeue_stalled()
