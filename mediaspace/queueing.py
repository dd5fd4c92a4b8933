"""What the portal's background work knows about django-q2's queue.

A task a killed cluster had taken is lost: Redis hands a task out once, and the database broker hands it out
again only after Q_CLUSTER's `retry` (hours, since it must exceed the `timeout` of a long download). So the
work is found again from the database: a recording or an import queued and not taken up within the grace
(MEDIASPACE_QUEUED_GRACE_SECONDS) is queued again, the claim (ledger row or entry) making a duplicate a no-op.
"""
from datetime import timedelta

from django_q.brokers import get_broker

from .conf import setting


def queued_grace() -> timedelta:
    return timedelta(seconds=setting("MEDIASPACE_QUEUED_GRACE_SECONDS"))


def tasks_waiting() -> bool:
    """Some task waits in the queue, not yet taken by a cluster (one queued before may be among them, so it
    is not queued again yet: a long queue is not filled with duplicates)."""
    return get_broker().queue_size() > 0
