"""Graph's change notifications for Teams recordings and transcripts: the `/v1.0/subscriptions` calls (create,
get, list, renew, delete, reauthorize), with Microsoft's checks and its validation handshake, and the postman
that delivers change and lifecycle notifications to the subscriber from threads of its own, retrying failed
deliveries with backoff (https://learn.microsoft.com/graph/change-notifications-delivery-webhooks,
https://learn.microsoft.com/graph/teams-changenotifications-callrecording-and-calltranscript)."""
import heapq
import ipaddress
import itertools
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import quote, urlsplit

import requests

from .model import now
from .server import HttpResponse

RECORDINGS = "communications/onlineMeetings/getAllRecordings"
TRANSCRIPTS = "communications/onlineMeetings/getAllTranscripts"
ROLES = {RECORDINGS: {"OnlineMeetingRecording.Read.All"}, TRANSCRIPTS: {"OnlineMeetingTranscript.Read.All"}}
MAX_MINUTES = 4320  # Microsoft's maximum lifetime for both resources (three days)
LIFECYCLE_REQUIRED_AFTER = timedelta(hours=1)
VALIDATION_TIMEOUT = 10  # seconds Microsoft gives the endpoint to answer the validation request
VALIDATION_FAILED = ("Subscription validation request failed. Notification endpoint must respond with 200 OK to "
                     "validation request.")
LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")


@dataclass(eq=False)
class Subscription:
    id: str
    app: object  # the App that created it (Graph's applicationId)
    tenant: object
    resource: str  # RECORDINGS or TRANSCRIPTS
    notification_url: str
    lifecycle_url: str | None
    client_state: str | None
    expires: datetime
    change_type: str = "created"
    created: datetime = field(default_factory=now)
    needs_reauthorization: bool = False  # a reauthorizationRequired was sent: notifications wait for reauthorize

    @property
    def live(self):
        """Subscriptions really expire at their time, and Graph forgets them."""
        return self.expires > now()

    def covers(self, item):
        """Whether a new recording or transcript is announced to this subscription."""
        kind = RECORDINGS if type(item).__name__ == "Recording" else TRANSCRIPTS
        return (self.live and kind == self.resource and not item.meeting.ad_hoc
                and item.meeting.organizer.tenant is self.tenant)


@dataclass
class Delivery:
    """One POST the simulated Microsoft made (or decided not to make) to a subscriber. `outcome`: delivered (a 2xx
    answer in time), failed (another status, no answer within the timeout, or no connection: retried), dropped
    (a fault: never sent) or held (the subscription waits for reauthorization: never sent)."""
    time: float  # time.monotonic() when sent
    kind: str  # "notification", "lifecycle" or "validation"
    subscription_id: str
    url: str
    body: object  # the JSON sent (dict), or the validation token
    attempt: int = 1
    status: int | None = None
    seconds: float = 0.0  # how long the subscriber took to answer
    outcome: str = "delivered"


def iso(moment):
    """Graph's form in notifications and subscriptions: 2023-09-17T08:27:05.0241757+00:00 / ...Z."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def subscription_json(base, subscription):
    return {"@odata.context": f"{base}/v1.0/$metadata#subscriptions/$entity", "id": subscription.id,
            "resource": subscription.resource, "applicationId": subscription.app.client_id,
            "changeType": subscription.change_type, "clientState": subscription.client_state,
            "notificationUrl": subscription.notification_url, "notificationQueryOptions": None,
            "lifecycleNotificationUrl": subscription.lifecycle_url, "expirationDateTime": iso(subscription.expires),
            "creatorId": subscription.app.client_id, "includeResourceData": False,
            "latestSupportedTlsVersion": "v1_2", "encryptionCertificate": None, "encryptionCertificateId": None,
            "notificationUrlAppId": None}


def change_notification(subscription, item):
    """A change notification without resource data, in the shape of Microsoft's page for these resources."""
    kind, odata_type = ("recordings", "callRecording") if subscription.resource == RECORDINGS \
        else ("transcripts", "callTranscript")
    resource = f"communications/onlineMeetings('{item.meeting.id}')/{kind}('{item.id}')"
    return {"value": [{
        "subscriptionId": subscription.id, "subscriptionExpirationDateTime": iso(subscription.expires),
        "changeType": "created", "resource": resource,
        "resourceData": {"id": item.id, "@odata.type": f"#Microsoft.Graph.{odata_type}", "@odata.id": resource},
        "clientState": subscription.client_state, "tenantId": subscription.tenant.id}]}


def lifecycle_notification(subscription, event):
    return {"value": [{
        "subscriptionId": subscription.id, "subscriptionExpirationDateTime": iso(subscription.expires),
        "tenantId": subscription.tenant.id, "clientState": subscription.client_state, "lifecycleEvent": event}]}


# -- the Graph calls ---------------------------------------------------------------------------------------------


def _graph():
    from . import graph  # graph imports this module for its routes

    return graph


def subscriptions(sim, caller, request, subscription=None, action=None):
    """/subscriptions: POST creates, GET lists; /subscriptions/{id}: GET, PATCH (renew), DELETE;
    /subscriptions/{id}/reauthorize: POST."""
    error = _graph().error
    if caller.app is None:
        return error(403, "ExtensionError", "Operation: Create; Exception: [Status Code: Forbidden; Reason: "
                                            "Delegated permissions are not supported for this resource.]")
    if subscription is None:
        if request.method == "POST":
            return create(sim, caller, request)
        if request.method == "GET":
            mine = [item for item in sim.subscriptions.values() if item.app is caller.app and item.live]
            return HttpResponse(200, {"@odata.context": f"{request.base}/v1.0/$metadata#subscriptions",
                                      "value": [subscription_json(request.base, item) for item in mine]})
        return _not_allowed()
    found = sim.subscriptions.get(subscription)
    if found is None or found.app is not caller.app or not found.live:
        return error(404, "ResourceNotFound", f"The object was not found. Subscription '{subscription}' "
                                              "does not exist or has expired.")
    if action == "reauthorize":
        if request.method != "POST":
            return _not_allowed()
        denied = _graph().require(caller, ROLES[found.resource], "teams")
        if denied:
            return denied
        found.needs_reauthorization = False
        return HttpResponse(204)
    if request.method == "GET":
        return HttpResponse(200, subscription_json(request.base, found))
    if request.method == "DELETE":
        found.expires = now()
        sim.subscriptions.pop(found.id, None)
        return HttpResponse(204)
    if request.method == "PATCH":
        return renew(sim, caller, request, found)
    return _not_allowed()


def _not_allowed():
    return _graph().error(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")


def _body(request):
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = None
    return body if isinstance(body, dict) else None


def _expiry(text, lifecycle_url):
    """The requested expiry, or an error answer: not in the past, at most 4,320 minutes ahead, and a lifecycle
    URL when more than an hour away."""
    error = _graph().error
    try:
        expires = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return error(400, "InvalidRequest", f"Cannot convert the literal '{text}' to the expected type "
                                            "'Edm.DateTimeOffset'.")
    expires = expires if expires.tzinfo else expires.replace(tzinfo=timezone.utc)
    if expires <= now():
        return error(400, "ExtensionError", "Subscription expiration must be in the future.")
    if expires > now() + timedelta(minutes=MAX_MINUTES):
        return error(400, "ExtensionError", f"Subscription expiration can only be {MAX_MINUTES} minutes in the "
                                            "future.")
    if expires > now() + LIFECYCLE_REQUIRED_AFTER and not lifecycle_url:
        return error(400, "ValidationError", "lifecycleNotificationUrl is required for subscription creation on "
                                             "this resource when the expirationDateTime value exceeds 1 hour.")
    return expires


def create(sim, caller, request):
    error, require = _graph().error, _graph().require
    body = _body(request)
    if body is None:
        return error(400, "BadRequest", "Invalid request body: a JSON subscription object is expected.")
    for name in ("changeType", "notificationUrl", "resource", "expirationDateTime"):
        if not body.get(name):
            return error(400, "InvalidRequest", f"The '{name}' property is required.")
    resource = body["resource"].lstrip("/")
    if resource not in ROLES:
        return error(400, "InvalidRequest", f"Resource '{body['resource']}' is not supported by this simulator: "
                                            f"subscribe to {RECORDINGS} or {TRANSCRIPTS}.")
    denied = require(caller, ROLES[resource], "teams")
    if denied:
        return denied
    if body["changeType"] != "created":
        return error(400, "InvalidRequest", f"The change type '{body['changeType']}' is not supported for the "
                                            "resource; only 'created' is.")
    if len(body.get("clientState") or "") > 255:
        return error(400, "InvalidRequest", "The clientState property exceeds the maximum length of 255.")
    lifecycle_url = body.get("lifecycleNotificationUrl") or None
    expires = _expiry(body["expirationDateTime"], lifecycle_url)
    if isinstance(expires, HttpResponse):
        return expires
    for url in filter(None, (body["notificationUrl"], lifecycle_url)):
        refused = _check_url(url) or _validate(sim, url)
        if refused:
            return refused
    subscription = Subscription(str(uuid.uuid4()), caller.app, caller.tenant, resource, body["notificationUrl"],
                                lifecycle_url, body.get("clientState"), expires)
    sim.subscriptions[subscription.id] = subscription
    return HttpResponse(201, subscription_json(request.base, subscription))


def renew(sim, caller, request, subscription):
    """PATCH: a new expirationDateTime (and, optionally, a new notificationUrl, validated again)."""
    error = _graph().error
    body = _body(request)
    if body is None or not body.get("expirationDateTime"):
        return error(400, "InvalidRequest", "The 'expirationDateTime' property is required.")
    denied = _graph().require(caller, ROLES[subscription.resource], "teams")
    if denied:
        return denied
    expires = _expiry(body["expirationDateTime"], subscription.lifecycle_url)
    if isinstance(expires, HttpResponse):
        return expires
    url = body.get("notificationUrl")
    if url and url != subscription.notification_url:
        refused = _check_url(url) or _validate(sim, url)
        if refused:
            return refused
        subscription.notification_url = url
    subscription.expires, subscription.needs_reauthorization = expires, False
    return HttpResponse(200, subscription_json(request.base, subscription))


def _check_url(url):
    """Microsoft calls https endpoints only; this simulator also calls plain http on a loopback address."""
    parts = urlsplit(url)
    try:
        loopback = parts.hostname == "localhost" or ipaddress.ip_address(parts.hostname or "").is_loopback
    except ValueError:
        loopback = False
    if parts.scheme == "https" or (parts.scheme == "http" and loopback):
        return None
    return _graph().error(400, "InvalidRequest", "The notification URL must be an absolute HTTPS URL.")


def _validate(sim, url):
    """Microsoft's validation request: POST url?validationToken=<token>; the endpoint must answer 200, text/plain,
    the decoded token, within 10 seconds. None when it did, else the 400 answer."""
    token = f"Validation: Testing client application reachability for subscription Request-Id: {uuid.uuid4()}"
    separator = "&" if "?" in url else "?"
    started = time.monotonic()
    delivery = Delivery(started, "validation", "", url, token)
    try:
        answer = requests.post(f"{url}{separator}validationToken={quote(token)}",
                               headers={"Content-Type": "text/plain; charset=utf-8"}, timeout=VALIDATION_TIMEOUT)
        delivery.status = answer.status_code
        passed = (answer.status_code == 200 and answer.text == token
                  and answer.headers.get("Content-Type", "").split(";")[0].strip() == "text/plain")
    except requests.RequestException:
        passed = False
    delivery.seconds = time.monotonic() - started
    delivery.outcome = "delivered" if passed else "failed"
    sim.deliveries.append(delivery)
    return None if passed else _graph().error(400, "ValidationError", VALIDATION_FAILED)


# -- delivery ----------------------------------------------------------------------------------------------------


class Postman:
    """Delivers notifications from threads of its own, as Microsoft does: each POST waits
    `sim.notification_timeout` seconds for an answer; one that fails (no 2xx in time, or no connection) is sent
    again after each of `sim.notification_retry_delays` seconds in turn (Microsoft retries for up to four hours;
    the simulator's defaults are shortened for tests), then given up."""

    def __init__(self, sim, *, workers=16):
        self.sim = sim
        self._pending = []  # heap of (due, number, job)
        self._numbers = itertools.count()
        self._busy = 0  # jobs queued or being sent
        self._condition = threading.Condition()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="microsoft-notifications")
        self._session = requests.Session()
        self._session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=workers))
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="microsoft-postman", daemon=True)
        self._thread.start()

    def send(self, kind, subscription, url, body):
        with self._condition:
            self._busy += 1
            heapq.heappush(self._pending, (time.monotonic(), next(self._numbers),
                                           (kind, subscription.id, url, body, 1)))
            self._condition.notify()

    def idle(self, timeout=30.0):
        """Wait until every queued delivery was made or given up; True if so within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._condition.wait(min(left, 0.05))
        return True

    def stop(self):
        with self._condition:
            self._stopped = True
            self._condition.notify_all()
        self._thread.join()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._session.close()

    def _run(self):
        with self._condition:
            while not self._stopped:
                if self._pending and self._pending[0][0] <= time.monotonic():
                    self._pool.submit(self._deliver, heapq.heappop(self._pending)[2])
                    continue
                self._condition.wait(self._pending[0][0] - time.monotonic() if self._pending else None)

    def _deliver(self, job):
        kind, subscription_id, url, body, attempt = job
        started = time.monotonic()
        delivery = Delivery(started, kind, subscription_id, url, body, attempt, outcome="failed")
        try:
            answer = self._session.post(url, data=json.dumps(body), timeout=self.sim.notification_timeout,
                                        headers={"Content-Type": "application/json; charset=utf-8"})
            delivery.status = answer.status_code
            if 200 <= answer.status_code < 300:
                delivery.outcome = "delivered"
        except requests.RequestException:
            pass
        delivery.seconds = time.monotonic() - started
        self.sim.deliveries.append(delivery)
        with self._condition:
            delays = self.sim.notification_retry_delays
            if delivery.outcome == "failed" and attempt <= len(delays) and not self._stopped:
                self._busy += 1
                heapq.heappush(self._pending, (time.monotonic() + delays[attempt - 1],
                                               next(self._numbers), (kind, subscription_id, url, body, attempt + 1)))
            self._busy -= 1
            self._condition.notify_all()


def announce(sim, item):
    """A recording or transcript was added: a change notification to every live subscription that covers it,
    unless a fault drops it (or repeats it), or the subscription waits for reauthorization."""
    for subscription in list(sim.subscriptions.values()):
        if not subscription.covers(item):
            continue
        body = change_notification(subscription, item)
        if subscription.needs_reauthorization or sim.faults.drop_notification():
            outcome = "held" if subscription.needs_reauthorization else "dropped"
            sim.deliveries.append(Delivery(time.monotonic(), "notification", subscription.id,
                                           subscription.notification_url, body, status=None, outcome=outcome))
            continue
        for _ in range(2 if sim.faults.repeat_notification() else 1):
            sim.postman.send("notification", subscription, subscription.notification_url, body)


def send_lifecycle(sim, subscription, event):
    if event not in LIFECYCLE_EVENTS:
        raise ValueError(f"{event!r}: a lifecycle event is one of {', '.join(LIFECYCLE_EVENTS)}")
    if not subscription.lifecycle_url:
        raise ValueError("this subscription has no lifecycleNotificationUrl: Microsoft sends it no lifecycle event")
    body = lifecycle_notification(subscription, event)
    if event == "reauthorizationRequired":
        subscription.needs_reauthorization = True
    elif event == "subscriptionRemoved":
        subscription.expires = now()
        sim.subscriptions.pop(subscription.id, None)
    sim.postman.send("lifecycle", subscription, subscription.lifecycle_url, body)
    return body
