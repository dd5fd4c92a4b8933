"""The django-q2 queue as the tests see it: through django-q2's broker API, so that the same assertions hold
for the database broker (the embedded default) and for Redis (a scaled portal). conftest empties the queue
before every test when it is Redis (the database broker's rows go with each test's transaction)."""
from django_q.brokers import get_broker
from django_q.signing import SignedPackage

from mediaspace.queueing import processing_cluster


def queue_size():
    return get_broker().queue_size()


def take_queued(cluster=None):
    """Every task waiting in the queue (the default one, or `cluster`'s, such as processing_cluster()), as
    django-q2's task dicts ("func", "args", "kwargs"...), in the order queued; taken off the queue (acknowledged),
    so a second call sees only what was queued since."""
    broker = get_broker(cluster)
    tasks = []
    while broker.queue_size():
        for ack_id, payload in broker.dequeue() or []:
            tasks.append(SignedPackage.loads(payload))
            broker.acknowledge(ack_id)
    return tasks


def purge_queue():
    """The default queue and the media processing's."""
    get_broker().purge_queue()
    get_broker(processing_cluster()).purge_queue()
