"""Microsoft Graph change notifications for Teams recordings and transcripts.

The endpoints (views.notifications) call `receive`: it checks that each notification comes from one of our
subscriptions (`accept`: the subscription id is ours and the clientState is its secret, compared in constant
time), stamps when the integration last heard from Microsoft, writes each announced recording into the ledger
(found by notification, from the ids its resource names) and queues its ingest, so that a recording waits behind
no download in the queue; the ingest reads the recording, its organizer and the policy's scope with its meeting
(sync._first_look). Nothing in the request asks Microsoft anything: Microsoft waits about 3 seconds for the
answer. Transcripts are queued: the task (tasks.handle_notifications) calls `handle`.
(https://learn.microsoft.com/graph/change-notifications-delivery-webhooks,
https://learn.microsoft.com/graph/teams-changenotifications-callrecording-and-calltranscript)
"""
import base64
import binascii
import hmac
import json
import logging
import re
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from integrations.microsoft.errors import GraphError, GraphNotFound
from integrations.teams.models import Recording, Subscription, TeamsIntegration

from . import api, subscriptions, sync
from .diagnosis import explain
from .services import record_failure

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # Microsoft's batches of notifications are a few KiB
MAX_VALIDATION_TOKEN = 1024  # Microsoft's token is about 120 characters
LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")
# A notification whose look-up was throttled or could not reach Microsoft is handled again after these.
RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30))

# users/{id}/…, users('{id}')/… or communications/… then onlineMeetings('{meeting}')/recordings('{id}') or
# /transcripts('{id}'): the forms Microsoft's pages show for a notification's resource and @odata.id.
RESOURCE = re.compile(r"/?(?:users(?:\('(?P<quoted_user>[^']+)'\)|/(?P<user>[^/]+))|communications)"
                      r"/onlineMeetings\('(?P<meeting>[^']+)'\)/(?P<kind>recordings|transcripts)\('(?P<item>[^']+)'\)")


class Refused(Exception):
    """A request the endpoint does not take, with the HTTP status and the reason to answer."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Accepted:
    """A notification that carried the secret of one of our subscriptions."""

    subscription: Subscription
    body: dict

    @property
    def lifecycle_event(self) -> str:
        return self.body.get("lifecycleEvent") or ""

    def queued(self) -> dict:
        """What the queued task needs: never the clientState."""
        resource_data = self.body.get("resourceData") if isinstance(self.body.get("resourceData"), dict) else {}
        return {"subscription": self.subscription.pk, "changeType": str(self.body.get("changeType") or ""),
                "resource": str(resource_data.get("@odata.id") or self.body.get("resource") or "")}


def validation_answer(token: str) -> str:
    """The token to echo in Microsoft's validation request (already URL-decoded by Django)."""
    if len(token) > MAX_VALIDATION_TOKEN:
        raise Refused(400, "The validation token is too long.")
    return token


def parse(body: bytes) -> list:
    """The notifications of a request body: Graph's changeNotificationCollection, {"value": [...]}."""
    if len(body) > MAX_BODY_BYTES:
        raise Refused(413, f"A notification request is at most {MAX_BODY_BYTES} bytes.")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError; RecursionError: absurd nesting
        raise Refused(400, "The body is not JSON.") from None
    items = payload.get("value") if isinstance(payload, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise Refused(400, 'The body must be a JSON object with a "value" list of notifications.')
    return items


def accept(body: bytes) -> list:
    """The notifications in `body` that come from our subscriptions (Accepted), in their order. A notification
    with an unknown subscription id, another tenant or a clientState that is not its subscription's secret is
    left out (and logged without the secret). Raises Refused for a body that is too large or not notifications."""
    return _ours(parse(body))


def _ours(items) -> list:
    ids = {item.get("subscriptionId") for item in items if isinstance(item.get("subscriptionId"), str)}
    subscriptions = {subscription.subscription_id: subscription for subscription in
                     Subscription.objects.filter(subscription_id__in=ids).select_related("integration")}
    accepted, refused = [], []
    for item in items:
        subscription = subscriptions.get(item.get("subscriptionId"))
        if subscription is None or not _same_secret(item.get("clientState"), subscription.client_state) \
                or str(item.get("tenantId") or subscription.integration.tenant_id).lower() \
                != subscription.integration.tenant_id.lower():
            refused.append(str(item.get("subscriptionId"))[:64])
        else:
            accepted.append(Accepted(subscription, item))
    if refused:  # one line per request, whatever a forger sends; never the clientState
        logger.warning("%s notification(s) refused (unknown subscription, wrong clientState or tenant), for "
                       "subscription ids %s", len(refused), ", ".join(map(repr, sorted(set(refused))[:5])))
    return accepted


def _same_secret(given, expected) -> bool:
    if not isinstance(given, str) or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def receive(body: bytes) -> int:
    """An endpoint's work: accept, stamp the last notification, queue the work. Returns how many notifications
    were ours; Refused(403) when the request held notifications and none of them was ours."""
    from django_q.tasks import async_task

    notifications = parse(body)
    items = _ours(notifications)
    if notifications and not items:
        raise Refused(403, "No notification in this request comes from a subscription of this portal.")
    changes = [item for item in items if not item.lifecycle_event]
    if changes:
        now = timezone.now()
        later, rows = [], []
        with transaction.atomic():  # the request's writes in one commit (on SQLite, one sync to disk)
            Subscription.objects.filter(pk__in={item.subscription.pk for item in changes}).update(
                last_notification_at=now)
            TeamsIntegration.objects.filter(pk__in={item.subscription.integration_id for item in changes}).update(
                last_notification_at=now)
            # A recording is in the ledger and its ingest queued before the answer: it waits behind no download
            # in the queue. The rest (transcripts) needs Microsoft: queued.
            for item in changes:
                queued = item.queued()
                what = announced(queued["resource"])
                if what is None or what.kind != "recordings":
                    later.append(queued)
                else:
                    rows.append(take_recording(item.subscription.integration, what, queued["changeType"])[1])
        for row in filter(None, rows):  # once committed: a worker that takes it up finds the row
            sync.queue_ingest(row)
        if later:
            async_task("integrations.teams.tasks.handle_notifications", later, task_name="teams-notifications")
    for item in items:
        if item.lifecycle_event in LIFECYCLE_EVENTS:
            async_task("integrations.teams.tasks.handle_lifecycle_event", item.subscription.pk, item.lifecycle_event,
                       task_name=f"teams-lifecycle-{item.subscription.pk}")
        elif item.lifecycle_event:
            logger.warning("Lifecycle event %r of subscription %s is not one we know: ignored", item.lifecycle_event,
                           item.subscription.subscription_id)
    return len(items)


# -- what a notification names ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Announced:
    """A recording or transcript a notification names: its kind ("recordings" or "transcripts"), the meeting's
    organizer, the meeting and the item."""

    kind: str
    organizer_id: str
    meeting_id: str
    item_id: str


def announced(resource: str):
    """What a notification's resource (or resourceData's @odata.id) names, or None when it names nothing we
    know. Microsoft's tenant-wide notifications name the meeting only (communications/onlineMeetings(…)); its
    organizer is then read from the meeting id, which is base64 of "1*{organizer id}*0**{thread id}"."""
    match = RESOURCE.fullmatch(resource or "")
    if match is None:
        return None
    organizer = match.group("quoted_user") or match.group("user") or organizer_of_meeting(match.group("meeting"))
    if not organizer:
        return None
    return Announced(match.group("kind"), organizer, match.group("meeting"), match.group("item"))


def organizer_of_meeting(meeting_id: str) -> str:
    try:
        text = base64.b64decode(meeting_id + "=" * (-len(meeting_id) % 4)).decode("ascii", "replace")
    except (binascii.Error, ValueError):
        return ""
    parts = text.split("*")
    return parts[1] if len(parts) > 2 and parts[0] == "1" and re.fullmatch(r"[0-9a-fA-F-]{36}", parts[1]) else ""


# -- the queued work -------------------------------------------------------------------------------------------


def handle(queued: list) -> dict:
    """The queued task's work (`queued`: Accepted.queued() of each notification). Each transcript is remembered
    and attached to its recording (now, or when the recording is ingested); a recording (queued before the
    endpoint took them in itself) becomes a ledger row and a queued ingest; a notification that names nothing we
    know, or an integration disabled since, is left alone. A look-up that failed for a passing reason (throttled,
    unreachable) is tried again later (RETRY_DELAYS); one refused for the whole integration (the secret expired)
    flags a gap that the next reconciliation covers (Update secret runs it at once)."""
    outcome = {"recorded": 0, "known": 0, "transcripts": 0, "skipped": 0, "failed": 0}
    graphs, again = {}, []
    for item in queued:
        subscription = Subscription.objects.select_related("integration").filter(pk=item.get("subscription")).first()
        what = announced(item.get("resource", ""))
        if subscription is not None and what is not None and what.kind == "recordings":
            taken, row = take_recording(subscription.integration, what, item.get("changeType"))  # queued before
            if row:  # the endpoint took recordings in itself
                sync.queue_ingest(row)
            outcome[taken] += 1
            continue
        if subscription is None or not subscription.integration.enabled or what is None \
                or item.get("changeType") not in ("created", ""):
            outcome["skipped"] += 1
            continue
        integration = subscription.integration
        graph = graphs.get(integration.pk) or graphs.setdefault(integration.pk, api.graph_for(integration))
        try:
            outcome[transcript_announced(integration, graph, what)] += 1
        except GraphError as error:  # TokenError too
            logger.warning("Notification of %s %s not taken up: %s", what.kind, what.item_id, error)
            if isinstance(error, sync.INTEGRATION_WIDE):  # the marker shows it, as after a round; the gap is
                record_failure(integration, explain(error))  # reconciled once the portal can sign in again
                subscriptions.flag_gap(integration)
            elif explain(error).transient and item.get("attempt", 0) < len(RETRY_DELAYS):
                again.append({**item, "attempt": item.get("attempt", 0) + 1})
            outcome["failed"] += 1
    for attempt in sorted({item["attempt"] for item in again}):
        _later([item for item in again if item["attempt"] == attempt], RETRY_DELAYS[attempt - 1])
    return outcome


def _later(items, delay):
    """Queue the work of `items` again after `delay` (a django-q2 schedule that runs once)."""
    from django_q.models import Schedule
    from django_q.tasks import schedule

    schedule("integrations.teams.tasks.handle_notifications", items, schedule_type=Schedule.ONCE, repeats=-1,
             next_run=timezone.now() + delay)


def take_recording(integration, what, change_type) -> tuple:
    """A recording Microsoft announced, into the ledger without asking Microsoft (once, found by notification):
    ("recorded", the new row's id, whose ingest the caller queues once committed), ("known", None: announced
    again, or a round found it first: one row, one entry) or ("skipped", None: the integration is disabled, or
    not a creation). The ingest reads the recording, its organizer and the policy's scope (sync._first_look)."""
    if not integration.enabled or change_type not in ("created", ""):
        return "skipped", None
    row = sync.record_announced(integration, what.organizer_id[:64], what.meeting_id[:512], what.item_id[:512])
    return ("recorded", row.pk) if row else ("known", None)


def transcript_announced(integration, graph, what) -> str:
    """A transcript Microsoft announced: remembered for its meeting, and attached to the meeting's recordings that
    are ready already, after one GET for the correlation id that says which recording it belongs to; without a
    ready recording it costs no request (the recording's ingest reads whose it is with its meeting)."""
    if not integration.transcription:
        return "skipped"
    announced_transcript = {"id": what.item_id, "meetingId": what.meeting_id}
    if not integration.recordings.filter(meeting_id=what.meeting_id, state=Recording.State.READY,
                                         transcript_done=False).exists():
        # No recording of the meeting to attach it to yet: remembered as announced. The recording's ingest reads
        # whose it is in the $batch that reads the meeting (sync._first_look): no request here.
        sync.remember_transcript(integration, what.organizer_id, announced_transcript)
        return "transcripts"
    try:
        transcript = api.transcript(graph, what.organizer_id, what.meeting_id, what.item_id)
    except GraphNotFound:
        return "skipped"
    sync.remember_transcript(integration, what.organizer_id, {"meetingId": what.meeting_id, **transcript})
    sync.attach_known_transcripts(integration, graph, what.meeting_id)
    return "transcripts"
