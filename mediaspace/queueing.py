"""What the portal's background work knows about django-q2's queue.

A task a killed cluster had taken is lost: Redis hands a task out once, and the database broker hands it out
again only after Q_CLUSTER's `retry` (hours, since it must exceed the `timeout` of a long download). So the
work is found again from the database: a recording or an import queued and not taken up within the grace
(MEDIASPACE_QUEUED_GRACE_SECONDS) is queued again, the claim (ledger row or entry) making a duplicate a no-op.
"""
from datetime import timedelta

from django_q.brokers import get_broker
from django_q.conf import Conf

from .conf import setting

PROCESSING_QUEUE = "processing"


def queued_grace() -> timedelta:
    return timedelta(seconds=setting("MEDIASPACE_QUEUED_GRACE_SECONDS"))


def processing_cluster() -> str:
    """The queue of the media processing's clusters: the portal's name (the tasks' signing salt, shared by all
    its clusters) with "-processing" (mediaspace/project/settings.py's Q_QUEUE=processing serves it)."""
    return f"{Conf.PREFIX}-{PROCESSING_QUEUE}"


def tasks_waiting(cluster=None) -> bool:
    """Some task waits in the queue (the default one, or `cluster`'s), not yet taken by a cluster (one queued
    before may be among them, so it is not queued again yet: a long queue is not filled with duplicates)."""
    return get_broker(cluster).queue_size() > 0
