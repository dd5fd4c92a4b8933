"""A local Microsoft for tests: the identity platform and Graph over HTTPS, answered from an in-memory model,
with faults to inject and a log of every request. See README.md in this folder.

    with Simulator() as sim:
        app = sim.add_app()
        ann = sim.add_user("ann.lee@contoso.edu", "Ann Lee")
        sim.add_meeting(ann, "Physics 101", recordings=[5_000_000], transcript=VTT)
        # MICROSOFT_LOGIN_URL = MICROSOFT_GRAPH_URL = sim.url, REQUESTS_CA_BUNDLE = sim.ca_path
"""
import mimetypes
import os
import secrets
import shutil
import ssl
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import defaultdict
from datetime import timedelta

import requests
import trustme

from . import graph, identity, scenario, subscriptions
from .model import (TEAMS_ROLES, App, DriveItem, Faults, Group, LoggedRequest, Meeting, Recording, Tenant, Transcript,
                    User, graph_id, now)
from .server import HttpResponse, ServerThread
from .subscriptions import Delivery, Subscription

__all__ = ["Simulator", "Faults", "TEAMS_ROLES", "App", "Delivery", "DriveItem", "Group", "Meeting", "Recording",
           "Subscription", "Tenant", "Transcript", "User"]


class Simulator:
    """The simulated Microsoft: its model (add_*), faults, request log and HTTPS server. See README.md."""

    def __init__(self, tenant_id=None, *, seed=1, redirect_recordings=False, token_lifetime=3599,
                 notification_timeout=3.0, notification_retry_delays=(1, 2, 4, 8)):
        self.tenants, self.apps, self.drive_items = {}, {}, {}  # by id
        self.subscriptions = {}  # change-notification subscriptions, by id
        self.deliveries = []  # Delivery: every notification, lifecycle event and validation request, in order
        self.notification_timeout, self.notification_retry_delays = notification_timeout, notification_retry_delays
        self._postman = None
        self.users, self.groups, self.meetings, self.recordings, self.transcripts = [], [], [], [], []
        self.faults = Faults(seed=seed)
        self.log = []  # LoggedRequest, in arrival order
        self.redirect_recordings = redirect_recordings  # recording /content: 302 to a pre-authenticated URL
        self.token_lifetime = token_lifetime  # seconds
        self.answered_lifetime = None  # when set, the token endpoint's `expires_in` (a fault: any value, any type)
        self._sequence = 0  # last arrival number given to a recording or transcript (delta queries)
        self._lock = threading.Lock()
        self._codes, self._redeemed, self._refresh_tokens = {}, set(), {}
        self._issued, self._revoked = defaultdict(set), set()  # token ids (uti) by app or user id
        self._download_key = secrets.token_bytes(32)
        self._indexes = {}
        self.tenant = self.add_tenant("Contoso", tenant_id=tenant_id, domain="contoso.onmicrosoft.com")
        self._ca = trustme.CA()
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert("127.0.0.1", "localhost").configure_cert(self._context)
        self._folder = tempfile.mkdtemp(prefix="microsoft-simulator-")
        self.ca_path = os.path.join(self._folder, "ca.pem")  # the test CA, for REQUESTS_CA_BUNDLE
        self._ca.cert_pem.write_to_path(self.ca_path)
        self._thread = None

    # -- the server ----------------------------------------------------------------------------------------

    def start(self, host="127.0.0.1", port=0):
        self._thread = ServerThread(self, self._context, host, port)
        self._thread.start()
        self._thread.is_ready.wait()
        if self._thread.error:
            raise self._thread.error
        return self

    def stop(self):
        if self._postman is not None:
            self._postman.stop()
            self._postman = None
        if self._thread is not None:
            self._thread.terminate()
            self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        """Stop, and remove the CA file."""
        self.stop()
        shutil.rmtree(self._folder, ignore_errors=True)

    @property
    def url(self):
        """https://127.0.0.1:port: both MICROSOFT_LOGIN_URL and MICROSOFT_GRAPH_URL."""
        if self._thread is None:
            raise RuntimeError("The simulator is not running: call start() or use it in a with block.")
        return f"https://{self._thread.host}:{self._thread.port}"

    @property
    def tenant_id(self):
        return self.tenant.id

    def answer(self, request):
        """The answer to one request (called by the server's threads), logged."""
        arrived = time.monotonic()
        if request.path.startswith("/_simulator/"):
            return scenario.control(self, request)  # the test's own channel: not delayed, not logged
        if self.faults.latency:
            time.sleep(self.faults.latency)
        try:
            if request.path.startswith("/v1.0/"):
                response = graph.answer(self, request)
            elif request.path.startswith("/download/"):
                response = graph.download(self, request)
            else:
                response = identity.answer(self, request)
        except Exception:  # a bug in the simulator: say so, and keep serving
            traceback.print_exc(file=sys.stderr)
            response = HttpResponse(500, {"error": {"code": "generalException", "message": "Simulator error."}})
        retry_after = response.headers.get("Retry-After")
        self.log.append(LoggedRequest(arrived, request.method, request.path, response.status,
                                      "Authorization" in request.headers, query=request.query, client=request.client,
                                      range=request.headers.get("Range", ""),
                                      retry_after=int(retry_after) if retry_after else None))
        return response

    # -- the request log -----------------------------------------------------------------------------------

    def graph_requests(self):
        return [entry for entry in self.log if entry.path.startswith("/v1.0/")]

    def early_requests(self, slack=0.05):
        """Requests for a URL sent before the Retry-After of an earlier throttled answer for it had passed."""
        early = []
        for index, throttled in enumerate(self.log):
            if throttled.retry_after is None:
                continue
            following = next((entry for entry in self.log[index + 1:]
                              if (entry.path, entry.query) == (throttled.path, throttled.query)), None)
            if following and following.time < throttled.time + throttled.retry_after - slack:
                early.append(following)
        return early

    # -- the directory -------------------------------------------------------------------------------------

    def add_tenant(self, name="Fabrikam", *, tenant_id=None, domain=None):
        tenant = Tenant(tenant_id or str(uuid.uuid4()), name, domain or f"{name.lower()}.onmicrosoft.com")
        self.tenants[tenant.id] = tenant
        return tenant

    def find_tenant(self, id_or_domain):
        key = id_or_domain.lower()
        return next((tenant for tenant in self.tenants.values() if key in (tenant.id.lower(), tenant.domain)), None)

    def add_app(self, tenant=None, client_id=None, secret=None, *, roles=TEAMS_ROLES, name="MediaSpace",
                secret_expires=None, enabled=True, access_policy=True, billing=True, evaluation_allowance=0,
                redirect_uris=(), implicit_grant=True):
        """An app registration with one client secret (`secret=False`: none, a public client); see App."""
        secret = f"Sim8Q~{secrets.token_urlsafe(30)}" if secret is None else secret
        app = App(tenant or self.tenant, client_id or str(uuid.uuid4()), name, list(roles),
                  {secret: secret_expires} if secret else {}, enabled, access_policy, billing, evaluation_allowance,
                  list(redirect_uris), implicit_grant)
        self.apps[app.client_id] = app
        return app

    def expire_secret(self, app):
        """The app's secrets expire now, and the tokens it got stop working (a sync mid-run sees it at once)."""
        for value in app.secrets:
            app.secrets[value] = now()
        self._revoke(app.client_id)

    def new_secret(self, app, *, expires=None):
        """What an administrator does in Certificates & secrets: a new secret value for the app."""
        value = f"Sim8Q~{secrets.token_urlsafe(30)}"
        app.secrets[value] = expires
        return value

    def add_user(self, upn, display_name=None, *, mail=None, tenant=None):
        """A user; `mail` defaults to the UPN, and "" gives a user without one (Graph says null)."""
        user = User(tenant or self.tenant, str(uuid.uuid4()), upn, display_name or upn.split("@")[0],
                    upn if mail is None else (mail or None))
        self.users.append(user)
        return user

    def add_guest(self, upn, display_name=None):
        """Someone from another organisation (a tenant of its own, by the UPN's domain), to invite to meetings."""
        domain = upn.rpartition("@")[2].lower()
        tenant = self.find_tenant(domain) or self.add_tenant(domain.split(".")[0].title(), domain=domain)
        return self.add_user(upn, display_name, tenant=tenant)

    def find_user(self, id_or_upn, tenant=None):
        found = self._index("users by id", self.users, lambda user: user.id).get(id_or_upn) or \
            self._index("users by upn", self.users, lambda user: user.upn).get(id_or_upn) or [None]
        return found[0] if found[0] is not None and tenant in (None, found[0].tenant) else None

    def add_group(self, display_name="Group", members=(), *, tenant=None):
        """A group; members are users and groups (transitiveMembers flattens them)."""
        group = Group(tenant or self.tenant, str(uuid.uuid4()), display_name, list(members))
        self.groups.append(group)
        return group

    def sign_out(self, user):
        """The user's access and refresh tokens stop working (their session ended, or an admin revoked it)."""
        self._revoke(user.id)

    def _revoke(self, subject):
        with self._lock:
            self._revoked |= self._issued.pop(subject, set())

    # -- Teams -----------------------------------------------------------------------------------------------

    def add_meeting(self, organizer, subject="Teams meeting", start=None, *, duration=timedelta(hours=1),
                    participants=(), recordings=(), transcript=None, ad_hoc=False):
        """A calendar meeting (or, with ad_hoc=True, a call) with recordings of the given sizes in bytes and a
        WebVTT transcript. participants: (user, role), role attendee/presenter/coorganizer/producer."""
        start = start or now() - duration - timedelta(hours=1)
        meeting = Meeting(graph_id(f"1*{organizer.id}*0**19:meeting_{secrets.token_urlsafe(36)}@thread.v2"),
                          organizer, subject, start, start + duration,
                          [(user, role) for user, role, *_ in participants], ad_hoc)
        self.meetings.append(meeting)
        for index, size in enumerate(recordings):  # the first recording shares its correlation id with the transcript
            recording = Recording(graph_id(f"V2##{uuid.uuid4().hex}{organizer.id}##{uuid.uuid4()}"), meeting, size,
                                  start + timedelta(minutes=1 + index), str(uuid.uuid4()), self._next_sequence())
            meeting.recordings.append(recording)
            self.recordings.append(recording)
        for recording in meeting.recordings:
            subscriptions.announce(self, recording)
        if transcript is not None:
            self.add_transcript(meeting, transcript)
        return meeting

    def add_recording(self, *, organizer, subject, size=None, transcript=None, attendees=(), created=None, data=None):
        """Shorthand: a meeting with one recording of `size` bytes made on the fly, or of `data` (a playable video),
        created at `created`; returns the recording."""
        start = created - timedelta(minutes=1) if created else None
        recording = self.add_meeting(organizer, subject, start, participants=attendees,
                                     recordings=[len(data) if data is not None else size],
                                     transcript=transcript).recordings[0]
        recording.data = data
        return recording

    def add_transcript(self, meeting, text, *, created=None):
        """A transcript, also later than the recording (as Teams may publish it)."""
        correlation = meeting.recordings[0].correlation_id if meeting.recordings else str(uuid.uuid4())
        transcript = Transcript(graph_id(f"1##0##{uuid.uuid4()}"), meeting, text,
                                created or meeting.end + timedelta(minutes=2), correlation, self._next_sequence())
        meeting.transcripts.append(transcript)
        self.transcripts.append(transcript)
        subscriptions.announce(self, transcript)
        return transcript

    def artifacts_of(self, organizer_id, *, recordings=True):
        """The recordings (or transcripts) of the meetings and calls that `organizer_id` organised."""
        name, items = ("recordings", self.recordings) if recordings else ("transcripts", self.transcripts)
        return self._index(f"{name} by organizer", items, lambda item: item.meeting.organizer.id).get(organizer_id, [])

    def _index(self, name, items, key):
        """`items` (one of the lists above) grouped by `key`, cached until the list changes length: large tenants
        stay fast, and tests may still append to, remove from or clear the lists."""
        cached = self._indexes.get(name)
        if cached is None or cached[0] != len(items):
            grouped = defaultdict(list)
            for item in list(items):
                grouped[key(item)].append(item)
            cached = self._indexes[name] = (len(items), grouped)
        return cached[1]

    def _next_sequence(self):
        with self._lock:
            self._sequence += 1
            return self._sequence

    def content_url(self, recording):
        return graph.recording_json(self.url, recording)["recordingContentUrl"]

    def _recording_json(self, recording):  # kept for bench/teams_sync.py
        return graph.recording_json(self.url, recording)

    # -- change notifications ----------------------------------------------------------------------------------

    @property
    def postman(self):
        """What delivers notifications (subscriptions.Postman), started on first use."""
        with self._lock:
            if self._postman is None:
                self._postman = subscriptions.Postman(self)
            return self._postman

    def find_subscription(self, id_or_resource):
        """A live subscription by id, or the newest live one to a resource (e.g. "...getAllRecordings")."""
        found = self.subscriptions.get(id_or_resource)
        if found is None:
            found = next((item for item in reversed(list(self.subscriptions.values()))
                          if item.resource.endswith(id_or_resource.lstrip("/"))), None)
        return found if found is not None and found.live else None

    def send_lifecycle(self, subscription, event):
        """A lifecycle notification (reauthorizationRequired, subscriptionRemoved or missed) to the subscription's
        lifecycleNotificationUrl. reauthorizationRequired holds its change notifications until it is reauthorized
        or renewed; subscriptionRemoved removes it. Returns the body sent."""
        if isinstance(subscription, str):
            subscription = self.subscriptions[subscription]
        return subscriptions.send_lifecycle(self, subscription, event)

    def expire_subscription(self, subscription):
        """The subscription's time is up now: Graph forgets it (404) and announces nothing more to it."""
        if isinstance(subscription, str):
            subscription = self.subscriptions[subscription]
        subscription.expires = now()

    def wait_for_deliveries(self, timeout=30.0):
        """Wait until every queued notification was delivered or given up (retries included)."""
        return self._postman is None or self._postman.idle(timeout)

    # -- OneDrive --------------------------------------------------------------------------------------------

    def drive_root(self, user):
        if user.root is None:
            user.root = DriveItem(self._drive_item_id(), user, "root", None, folder=True)
            self.drive_items[user.root.id] = user.root
        return user.root

    def add_folder(self, owner, path):
        """The folder at `path` ("Videos/2024") in the user's OneDrive, made with its parents if missing."""
        folder = self.drive_root(owner)
        for name in [part for part in path.split("/") if part]:
            found = next((child for child in folder.children if child.name == name and child.folder), None)
            if found is None:
                found = DriveItem(self._drive_item_id(), owner, name, folder, folder=True)
                folder.children.append(found)
                self.drive_items[found.id] = found
            folder = found
        return folder

    def add_file(self, owner, path, size=1024, *, mime_type=None, modified=None, data=None):
        """A file of `size` bytes (made on the fly when downloaded, or `data`) at `path` ("Videos/Lecture 1.mp4")."""
        folder_path, _, name = path.rpartition("/")
        folder = self.add_folder(owner, folder_path)
        item = DriveItem(self._drive_item_id(), owner, name, folder, folder=False,
                         size=len(data) if data is not None else size,
                         mime_type=mime_type or mimetypes.guess_type(name)[0] or "application/octet-stream",
                         modified=modified or now(), data=data)
        folder.children.append(item)
        self.drive_items[item.id] = item
        return item

    @staticmethod
    def _drive_item_id():
        return "01" + secrets.token_hex(16).upper()

    # -- tokens without a sign-in ------------------------------------------------------------------------------

    def app_token(self, app, *, lifetime=None):
        """An application token as the token endpoint would issue it (roles as granted now)."""
        return identity.app_token(self, app, lifetime)

    def user_token(self, user, app=None, scopes=("Files.Read.All", "User.Read", "openid", "profile"), *,
                   lifetime=None):
        """A delegated token of `user` for `app`, as a finished sign-in would give (for OneDrive tests)."""
        return identity.user_token(self, user, app.client_id if app else str(uuid.uuid4()), list(scopes), lifetime)

    # -- the subprocess mode -----------------------------------------------------------------------------------

    def load(self, data):
        """Add a JSON scenario (see README.md); returns the snapshot."""
        return scenario.load(self, data)

    def snapshot(self):
        return scenario.snapshot(self)


def sign_in(authorize_url, upn, **form):
    """A person on the sign-in page: it lists the users; they click theirs (or Cancel, with cancel="1").
    Returns the page's answer, not followed: a redirect to the app's redirect URI, or a form_post page."""
    page = requests.get(authorize_url)
    assert page.status_code == 200, page.text
    return requests.post(page.url, data=form or {"login": upn}, allow_redirects=False)
