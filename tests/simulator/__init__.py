"""A local Microsoft for end-to-end tests: the identity platform and Graph over HTTPS, from an in-memory
tenant, with faults to inject.

    with Simulator() as sim:
        app = sim.add_app(roles=TEAMS_ROLES)
        ann = sim.add_user("ann.lee@contoso.edu", "Ann Lee")
        sim.add_recording(organizer=ann, subject="Physics 101", size=5_000_000, transcript=VTT)
        # MICROSOFT_LOGIN_URL = MICROSOFT_GRAPH_URL = sim.url, REQUESTS_CA_BUNDLE = sim.ca_path

Answers are shaped like Microsoft's (see tests/microsoft/ for the same shapes as fixture files).
Recording content is made from its id and the offset, so a 1 GiB recording costs no memory.
"""
import base64
import hashlib
import json
import random
import re
import secrets
import ssl
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import trustme

TEAMS_ROLES = ["OnlineMeetingRecording.Read.All", "OnlineMeetings.Read.All", "OnlineMeetingTranscript.Read.All",
               "User.ReadBasic.All"]
IDENTITY_ERRORS = {  # AADSTS code: (HTTP status, error, description)
    7000215: (401, "invalid_client", "Invalid client secret provided. Ensure the secret being sent in the request "
                                     "is the client secret value, not the client secret ID, for a secret added to "
                                     "app '{client}'."),
    7000222: (401, "invalid_client", "The provided client secret keys for app '{client}' are expired. Visit the "
                                     "Azure portal to create new keys for your app."),
    7000112: (400, "unauthorized_client", "Application '{client}'(MediaSpace) is disabled."),
    700016: (400, "unauthorized_client", "Application with identifier '{client}' was not found in the directory "
                                         "'{tenant}'."),
}
CHUNK = 64 * 1024


@dataclass
class App:
    client_id: str
    secret: str
    roles: list
    enabled: bool = True
    secret_expired: bool = False
    access_policy: bool = True
    billing: bool = True
    expired_secrets: set = field(default_factory=set)


@dataclass
class Recording:
    id: str
    meeting_id: str
    organizer: dict
    subject: str
    created: datetime
    size: int
    transcript: str | None = None
    attendees: list = field(default_factory=list)  # (user dict, role, tenant id)
    correlation_id: str = field(default_factory=lambda: f"{uuid.uuid4()}-0")

    def content(self, start, end):
        """Bytes start..end (inclusive) of the recording: the same every time, held nowhere."""
        block = hashlib.sha256(self.id.encode()).digest() * (CHUNK // 32)
        position = start
        while position <= end:
            offset = position % CHUNK
            piece = block[offset:min(CHUNK, offset + end - position + 1)]
            yield piece
            position += len(piece)


@dataclass
class Faults:
    throttle_ratio: float = 0.0  # share of Graph answers that are 429 or 503 with Retry-After
    retry_after: int = 1
    cut_ratio: float = 0.0  # share of content downloads that break off halfway
    cut_next: int = 0  # the next N content downloads break off halfway, whatever the ratio
    chunk_delay: float = 0.0  # seconds between two 64 KiB chunks of content: a slow line


class Simulator:
    def __init__(self, tenant_id=None):
        self.tenant_id = tenant_id or str(uuid.uuid4())
        self.apps, self.users, self.recordings = {}, [], []
        self.faults = Faults()
        self.log = []  # (time, method, path, status, authorized)
        self._tokens = {}  # access token -> client id
        self._random = random.Random(1)  # seeded: the same faults at every run
        self._lock = threading.Lock()
        self._ca = trustme.CA()
        self._certificate = self._ca.issue_cert("127.0.0.1", "localhost")
        self._ca_file = tempfile.NamedTemporaryFile(suffix=".pem", delete=False)
        self._ca_file.write(self._ca.cert_pem.bytes())
        self._ca_file.close()
        self.ca_path = self._ca_file.name
        self._server = None

    # -- the tenant --------------------------------------------------------------------------

    def add_app(self, *, roles=TEAMS_ROLES, client_id=None, secret=None, **flags) -> App:
        app = App(client_id or str(uuid.uuid4()), secret or f"Sim8Q~{secrets.token_urlsafe(24)}", list(roles), **flags)
        self.apps[app.client_id] = app
        return app

    def add_user(self, upn, display_name, *, mail=None) -> dict:
        user = {"id": str(uuid.uuid4()), "userPrincipalName": upn, "displayName": display_name,
                "mail": mail if mail is not None else upn}
        self.users.append(user)
        return user

    def add_recording(self, *, organizer, subject, size, transcript=None, attendees=(), created=None) -> Recording:
        recording = Recording(
            id=base64.b64encode(f"VjEjI{uuid.uuid4()}".encode()).decode(),
            meeting_id=base64.b64encode(f"MSo{uuid.uuid4()}".encode()).decode().rstrip("="),
            organizer=organizer, subject=subject, created=created or datetime.now(timezone.utc) - timedelta(hours=1),
            size=size, transcript=transcript, attendees=list(attendees))
        self.recordings.append(recording)
        return recording

    def expire_secret(self, app):
        """The app's secret expires, and the tokens it got are no longer accepted."""
        app.expired_secrets.add(app.secret)
        with self._lock:
            self._tokens = {token: client for token, client in self._tokens.items() if client != app.client_id}

    def new_secret(self, app) -> str:
        """What an administrator does in Certificates & secrets: a new secret value for the app."""
        app.secret = f"Sim8Q~{secrets.token_urlsafe(24)}"
        return app.secret

    # -- the server --------------------------------------------------------------------------

    @property
    def url(self):
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def start(self):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._certificate.configure_cert(context)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def graph_requests(self):
        return [entry for entry in self.log if entry[2].startswith("/v1.0/")]

    # -- answers -----------------------------------------------------------------------------

    def token(self, tenant, form):
        app = self.apps.get(form.get("client_id", ""))
        failure = None
        if tenant != self.tenant_id:
            return 400, _identity_error(90002, 400, "invalid_tenant",
                                        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant "
                                        f"ID and are signing into the correct cloud.")
        if app is None:
            failure = 700016
        elif not app.enabled:
            failure = 7000112
        elif form.get("client_secret") in app.expired_secrets or (
                form.get("client_secret") == app.secret and app.secret_expired):
            failure = 7000222
        elif form.get("client_secret") != app.secret:
            failure = 7000215
        if failure:
            status, error, description = IDENTITY_ERRORS[failure]
            return status, _identity_error(failure, status, error, description.format(
                client=form.get("client_id", ""), tenant=tenant))
        now = int(time.time())
        access_token = ".".join(_b64(json.dumps(part).encode()) for part in (
            {"typ": "JWT", "alg": "RS256"},
            {"aud": "https://graph.microsoft.com", "tid": self.tenant_id, "appid": app.client_id, "roles": app.roles,
             "iat": now, "nbf": now, "exp": now + 3599, "idtyp": "app"})) + "." + _b64(b"simulator")
        with self._lock:
            self._tokens[access_token] = app.client_id
        return 200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": access_token}

    def graph(self, method, path, query, headers, body):
        """(status, headers, body) for one Graph request; body is a dict, bytes, or an iterator of bytes."""
        app = self.apps.get(self._tokens.get(headers.get("Authorization", "").removeprefix("Bearer "), ""))
        if app is None:
            return 401, {}, _graph_error("InvalidAuthenticationToken", "Access token validation failure. Invalid "
                                                                       "audience.")
        if path == "/v1.0/$batch" and method == "POST":
            answers = []
            for request in json.loads(body)["requests"][:20]:
                sub_path, _, sub_query = request["url"].partition("?")
                status, _headers, sub_body = self.graph("GET", "/v1.0" + sub_path, parse_qs(sub_query), headers, b"")
                answers.append({"id": request["id"], "status": status, "headers": {"Content-Type": "application/json"},
                                "body": sub_body})
            return 200, {}, {"responses": answers}
        if self.faults.throttle_ratio and self._random.random() < self.faults.throttle_ratio:
            status = self._random.choice([429, 503])
            return status, {"Retry-After": str(self.faults.retry_after)}, _graph_error(
                "TooManyRequests" if status == 429 else "ServiceUnavailable", "Too many requests.")
        if path == "/v1.0/users":
            return 200, {}, self._page(path, query, self.users)
        match = re.fullmatch(r"/v1\.0/users/([^/]+)/onlineMeetings/(.+)", path)
        if not match:
            return 404, {}, _graph_error("UnknownError", "Resource not found.")
        user_id, rest = match.groups()
        if not app.access_policy:
            return 403, {}, _graph_error("General", "No application access policy found for this app.")
        if rest.startswith("getAllRecordings("):
            if "OnlineMeetingRecording.Read.All" not in app.roles:
                return 403, {}, _graph_error("Forbidden", "Application is not authorized to perform this operation.")
            since = re.search(r"startDateTime=([^,)]+)", rest)
            start = datetime.fromisoformat(since.group(1).replace("Z", "+00:00")) if since else None
            items = [self._recording_json(r) for r in self.recordings if r.organizer["id"] == user_id
                     and (start is None or r.created >= start)]
            return 200, {}, self._page(path, query, items)
        recording_of_meeting = [r for r in self.recordings if r.meeting_id == rest.split("/")[0]]
        if not recording_of_meeting:
            return 404, {}, _graph_error("NotFound", "The requested resource was not found.")
        recording = recording_of_meeting[0]
        if "/" not in rest:
            return 200, {}, self._meeting_json(recording)
        if rest.endswith(f"/recordings/{recording.id}/content"):
            if not app.billing:
                return 402, {}, _graph_error("PaymentRequired", "Payment Required. Ensure that your application is "
                                                                "able to call this premium API.")
            return self._content(recording, headers.get("Range"))
        if rest.endswith("/transcripts"):
            items = [{"id": f"T{recording.id}", "meetingId": recording.meeting_id,
                      "contentCorrelationId": recording.correlation_id,
                      "createdDateTime": _iso(recording.created)}] if recording.transcript else []
            return 200, {}, {"value": items}
        if rest.endswith(f"/transcripts/T{recording.id}/content") and recording.transcript:
            return 200, {"Content-Type": "text/vtt"}, recording.transcript.encode()
        return 404, {}, _graph_error("NotFound", "The requested resource was not found.")

    def _page(self, path, query, items, size=999):  # Graph pages users by at most 999
        top = min(int((query.get("$top") or ["100"])[0]), size)
        skip = int((query.get("$skiptoken") or ["0"])[0])
        page = {"value": items[skip:skip + top]}
        if skip + top < len(items):
            page["@odata.nextLink"] = f"{self.url}{path}?$top={top}&$skiptoken={skip + top}"
        return page

    def _recording_json(self, recording):
        return {"@odata.type": "#microsoft.graph.callRecording", "id": recording.id, "meetingId": recording.meeting_id,
                "callId": str(uuid.UUID(bytes=hashlib.md5(recording.id.encode()).digest())),
                "contentCorrelationId": recording.correlation_id, "createdDateTime": _iso(recording.created),
                "endDateTime": _iso(recording.created + timedelta(minutes=50)),
                "recordingContentUrl": f"{self.url}/v1.0/users/{recording.organizer['id']}/onlineMeetings/"
                                       f"{recording.meeting_id}/recordings/{recording.id}/content",
                "meetingOrganizer": {"application": None, "device": None, "user": {
                    "@odata.type": "#microsoft.graph.teamworkUserIdentity", "id": recording.organizer["id"],
                    "displayName": None, "userIdentityType": "aadUser", "tenantId": self.tenant_id}}}

    def _meeting_json(self, recording):
        def participant(user, role, tenant):
            return {"upn": user["userPrincipalName"], "role": role, "identity": {"user": {
                "id": user["id"], "displayName": user["displayName"], "tenantId": tenant, "identityProvider": "AAD"}}}

        return {"id": recording.meeting_id, "subject": recording.subject,
                "startDateTime": _iso(recording.created - timedelta(minutes=5)),
                "endDateTime": _iso(recording.created + timedelta(minutes=55)),
                "participants": {"organizer": participant(recording.organizer, "presenter", self.tenant_id),
                                 "attendees": [participant(user, role, tenant or self.tenant_id)
                                               for user, role, tenant in recording.attendees]}}

    def _content(self, recording, range_header):
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", range_header or "")
        if match and int(match.group(1)) < recording.size:
            start = int(match.group(1))
        headers = {"Content-Type": "video/mp4", "Content-Length": str(recording.size - start), "Accept-Ranges": "bytes"}
        status = 200
        if start:
            status, headers["Content-Range"] = 206, f"bytes {start}-{recording.size - 1}/{recording.size}"
        body = recording.content(start, recording.size - 1)
        cut = self.faults.cut_next > 0 or (self.faults.cut_ratio and self._random.random() < self.faults.cut_ratio)
        if cut:
            self.faults.cut_next = max(0, self.faults.cut_next - 1)
            body = _cut(body, (recording.size - start) // 2)
        return status, headers, body


class _Cut(Exception):
    pass


def _cut(chunks, after):
    sent = 0
    for chunk in chunks:
        if sent + len(chunk) > after:
            yield chunk[: after - sent]
            raise _Cut
        sent += len(chunk)
        yield chunk


def _handler_for(simulator):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            self._answer("GET")

        def do_POST(self):
            self._answer("POST")

        def _answer(self, method):
            parts = urlsplit(self.path)
            path, query = unquote(parts.path), parse_qs(parts.query)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {}
            identity = re.fullmatch(r"/([^/]+)/(v2\.0/\.well-known/openid-configuration|oauth2/v2\.0/token)", path)
            if identity and identity.group(2).startswith("v2.0"):
                status, payload = self._openid_configuration(identity.group(1))
            elif identity:
                form = {key: values[0] for key, values in parse_qs(body.decode()).items()}
                status, payload = simulator.token(identity.group(1), form)
            else:
                status, headers, payload = simulator.graph(method, path, query, self.headers, body)
            simulator.log.append((time.monotonic(), method, path, status, "Authorization" in self.headers))
            self._send(status, headers, payload)

        def _openid_configuration(self, tenant):
            if tenant != simulator.tenant_id:
                return 400, _identity_error(90002, 400, "invalid_tenant", f"Tenant '{tenant}' not found.")
            base = f"{simulator.url}/{tenant}"
            return 200, {"token_endpoint": f"{base}/oauth2/v2.0/token",
                         "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                         "issuer": f"{base}/v2.0", "jwks_uri": f"{base}/discovery/v2.0/keys",
                         "response_modes_supported": ["query", "fragment", "form_post"],
                         "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
                         "tenant_region_scope": "EU", "cloud_instance_name": "microsoftonline.com"}

        def _send(self, status, headers, payload):
            if isinstance(payload, dict):
                payload = json.dumps(payload).encode()
                headers = {"Content-Type": "application/json", **headers}
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if isinstance(payload, bytes):
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            if "Content-Length" not in headers:
                self.send_header("Connection", "close")
            self.end_headers()
            try:
                for chunk in payload:
                    self.wfile.write(chunk)
                    if simulator.faults.chunk_delay:
                        time.sleep(simulator.faults.chunk_delay)
            except (_Cut, BrokenPipeError, ConnectionResetError):
                self.close_connection = True
                self.connection.shutdown(2)

    return Handler


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _iso(moment):
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def _identity_error(code, status, error, description):
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    return {"error": error, "error_description": f"AADSTS{code}: {description} Trace ID: {trace} Correlation ID: "
                                                 f"{correlation} Timestamp: {stamp}",
            "error_codes": [code], "timestamp": stamp, "trace_id": trace, "correlation_id": correlation,
            "error_uri": f"https://login.microsoftonline.com/error?code={code}"}


def _graph_error(code, message):
    return {"error": {"code": code, "message": message, "innerError": {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"), "request-id": str(uuid.uuid4()),
        "client-request-id": str(uuid.uuid4())}}}
