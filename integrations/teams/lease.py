"""A worker's hold on a ledger row while it ingests the recording.

The claim gives the worker the row until `lease_until`; the worker renews it by heartbeat through every step
(the meeting's metadata, the download, the transcript, the collaborators, the publishing: on each answer from
Microsoft, each chunk, each wait between tries and between the steps). So the lease can be short, and the
row of a worker that died is taken over soon after (see `RecordingQuerySet.claimable` and `sync.queue_due`).
A renewal is conditional on the row still being this worker's: one that was taken for dead stops.
"""
from contextlib import contextmanager
from datetime import timedelta

from django.utils import timezone

from integrations.teams.models import Recording
from mediaspace.conf import setting

# Beats this often per lease: a Graph request times out within 70 s (10 s to connect, 60 s between bytes),
# so with a 90 s lease a beat always comes before the lease lapses.
BEATS_PER_LEASE = 6


class LeaseLost(Exception):
    """Another worker has taken the recording over (this one was taken for dead): this worker stops."""


def lease_length() -> timedelta:
    return timedelta(seconds=setting("TEAMS_CLAIM_LEASE_SECONDS"))


class Lease:
    """The claimed `recording`'s lease; `beat()` renews it (at most every sixth of it) and keeps
    `recording.lease_until` what the row says, so later writes can be made only while the row is ours."""

    def __init__(self, recording):
        self.recording = recording
        self.renewed_at = timezone.now()

    def beat(self):
        now = timezone.now()
        if now - self.renewed_at < lease_length() / BEATS_PER_LEASE:
            return
        until = now + lease_length()
        renewed = Recording.objects.filter(pk=self.recording.pk, state=Recording.State.DOWNLOADING,
                                           lease_until=self.recording.lease_until).update(lease_until=until)
        if not renewed:
            raise LeaseLost(f"Recording {self.recording.pk} was taken over by another worker.")
        self.recording.lease_until, self.renewed_at = until, now

    def beating(self, chunks):
        """The chunks of a download, with a beat before each."""
        for chunk in chunks:
            self.beat()
            yield chunk

    @contextmanager
    def watching(self, graph):
        """Beat on every answer from Microsoft and through every wait between tries (which may be longer than
        the lease: it is slept in slices)."""
        sleep = graph.sleep

        def sleep_beating(seconds):
            step = lease_length().total_seconds() / BEATS_PER_LEASE
            while seconds > 0:
                sleep(min(seconds, step))
                seconds -= step
                self.beat()

        def on_answer(_response, *_args, **_kwargs):
            self.beat()

        graph.sleep = sleep_beating
        graph.session.hooks["response"].append(on_answer)
        try:
            yield graph
        finally:
            graph.sleep = sleep
            graph.session.hooks["response"].remove(on_answer)
