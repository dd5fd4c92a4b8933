"""A fake Microsoft Graph for the Teams engine's tests, and the fixtures and helpers they share.

`FakeMicrosoft` answers every Graph request through `responses` the way Graph does (shapes from Microsoft's
documentation): the paged ``/users`` collection and a group's ``transitiveMembers/microsoft.graph.user``
with ``@odata.nextLink``, ``getAllRecordings`` (callRecording items, filtered by ``startDateTime``), the JSON
``$batch`` endpoint (``{"responses": [{"id", "status", "headers", "body"}]}``, in any order, at most 20
requests), ``getAllTranscripts``, one callRecording, one user, ``onlineMeeting`` with its participants
(``coorganizer`` only with ``Prefer: include-unknown-enum-members``), callTranscript lists, one callTranscript
and their ``text/vtt`` content, and recording content with ``Range`` support, cuts mid-stream and injected
error answers.

The fixtures (`ms`, `graph`, `integration`, `portal_users`, `lecture`) are registered for every test module by
tests/conftest.py; import the helpers and constants from here.
"""
import hashlib
import json
import re
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import pytest
import responses
from django.utils import timezone

from integrations.microsoft.graph import GraphClient
from integrations.teams.models import Recording, TeamsIntegration
from integrations.teams import sync
from mediaspace.models import Category
from tests import SEEDS
from tests.microsoft import (CLIENT_ID, GRAPH_URL, LOGIN_URL, TENANT_ID, app_token_payload, cut_body, load,
                             make_jwt)
from tests.storage import stored_files

SEED = SEEDS / "teams-integration-setup.txt"
# A test that checks our literals against the seed's wording; CI has the seeds beside the clone.
needs_the_seed = pytest.mark.skipif(not SEED.exists(), reason=f"the seed {SEED.name} is not in {SEED.parent} "
                                                              "(shared/seeds beside the clone, or MEDIASPACE_SEEDS)")
V1 = f"{GRAPH_URL}/v1.0"
SECRET = "Zk88Q~sync.Secret_value-0123456789abcdefgh"
GUEST_TENANT = "0a1b2c3d-4e5f-4061-8a7b-9c8d7e6f5a4b"
MIB = 1024 * 1024


def graph_user(user_id, name, upn, mail="same"):
    return {"id": user_id, "displayName": name, "userPrincipalName": upn, "mail": upn if mail == "same" else mail}


ANN = graph_user("3d0f1c9e-5b8a-4f2e-9c1d-7a6b5e4d3c21", "Ann Lee", "ann.lee@contoso.edu")
BOB = graph_user("8e7d6c5b-4a39-4281-9f0e-1d2c3b4a5968", "Bob Ray", "bob.ray@contoso.edu")
CAROL = graph_user("5c4b3a29-1807-46f5-8e4d-3c2b1a098f7e", "Carol Diaz", "carol.diaz@contoso.edu")
DAVE = graph_user("2a3b4c5d-6e7f-4809-9a1b-2c3d4e5f6a7b", "Dave Kim", "dave.kim@contoso.edu", mail=None)
EVE = graph_user("99999999-0000-4000-8000-000000000001", "Eve Guest", "eve@fabrikam.com")


def many_users(count):
    return [graph_user(f"00000000-0000-4000-8000-{index:012d}", f"User {index}", f"user{index}@contoso.edu")
            for index in range(count)]


def utc(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def graph_time(moment):
    """A Graph timestamp: UTC, seven fractional digits, Z."""
    return moment.astimezone(dt_timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "7Z"


def graph_error(code, message):
    return {"error": {"code": code, "message": message, "innerError": {
        "date": "2026-11-24T10:00:00", "request-id": "b7a3e6c1-2f0d-4c1e-9a8b-5d4c3b2a1f09",
        "client-request-id": "b7a3e6c1-2f0d-4c1e-9a8b-5d4c3b2a1f09"}}}


THROTTLED = graph_error("TooManyRequests", "Too many requests from Identifier:West Europe under category:"
                                           "throttle.teams.recordings. Please try again later.")
UNAVAILABLE = graph_error("ServiceUnavailable", "The service is temporarily unavailable. Please try again later.")
NOT_FOUND = graph_error("NotFound", "The requested resource was not found.")
PAYMENT_REQUIRED = graph_error(
    "PaymentRequired", "To call this API, the app must be associated with an Azure subscription, see "
                       "https://aka.ms/teams-api-payment-requirements for details.")


# --- a fake Microsoft Graph ----------------------------------------------------------------------


class FakeMicrosoft:
    """Graph's answers for one tenant, routed by path; state is plain attributes the tests change."""

    def __init__(self, rsps):
        self.rsps = rsps
        self.users = []
        self.users_page_size = 999
        self.groups = {}  # group id -> [user]
        self.members_page_size = 999
        self.recordings = {}  # organizer id -> [callRecording]
        self.recordings_page_size = 100
        self.unlisted = set()  # recording ids Microsoft does not list yet (listed late)
        self.meetings = {}  # meeting id -> onlineMeeting
        self.contents = {}  # content path -> bytes
        self.transcripts = {}  # meeting id -> [(callTranscript, vtt text)]
        self.faults = []  # [regex on the path, status, headers, body, how many times]
        self.sub_faults = {}  # user id -> [(status, headers, body)] answered inside the next batches
        self.cuts = []  # content answers break off at these file offsets, one per answer
        self.ignore_range = False
        self.on_request = None
        rsps.add_callback(responses.GET, re.compile(re.escape(GRAPH_URL) + r"/.*"), callback=self._get)
        rsps.add_callback(responses.POST, f"{V1}/$batch", callback=self._batch)

    # what the tests look at

    @property
    def calls(self):
        return [call for call in self.rsps.calls if call.request.url.startswith(GRAPH_URL)]

    def paths(self, pattern=""):
        """The paths Graph was asked for (GET and POST), those matching `pattern` (a regex on the path)."""
        paths = [unquote(urlsplit(call.request.url).path) for call in self.calls]
        return [path for path in paths if re.search(pattern, path)]

    def batches(self):
        return [json.loads(call.request.body)["requests"] for call in self.calls if call.request.method == "POST"]

    def recording_batches(self):
        """The batches that list recordings (getAllRecordings), without those that list transcripts."""
        return [batch for batch in self.batches() if "getAllRecordings" in batch[0]["url"]]

    def content_requests(self):
        return [call.request for call in self.calls if call.request.url.split("?")[0].endswith("/content")
                and "/recordings/" in call.request.url]

    # set-up

    def fail(self, pattern, status, body=None, headers=None, times=1):
        self.faults.append([pattern, status, headers or {}, body, times])

    def add_lecture(self, lecture):
        self.recordings.setdefault(lecture.organizer["id"], []).append(lecture.recording)
        self.meetings[lecture.meeting_id] = lecture.meeting
        self.contents[lecture.content_path] = lecture.content
        self.transcripts[lecture.meeting_id] = list(lecture.transcripts)

    # Graph

    def _get(self, request):
        if self.on_request:
            self.on_request(request)
        split = urlsplit(request.url)
        status, headers, body = self.answer(unquote(split.path), parse_qs(split.query), request.headers)
        if isinstance(body, (dict, list)):
            headers = {"Content-Type": "application/json;odata.metadata=minimal;odata.streaming=true;"
                                       "IEEE754Compatible=false;charset=utf-8", **headers}
            body = json.dumps(body)
        return status, headers, body

    def answer(self, path, query, headers, *, direct=True):
        for fault in self.faults if direct else ():  # faults inside batches: `sub_faults`
            if fault[4] and re.search(fault[0], path):
                fault[4] -= 1
                return fault[1], dict(fault[2]), fault[3] if fault[3] is not None else ""
        if path == "/v1.0/users":
            return 200, {}, self._page(self.users, query, f"{V1}/users", self.users_page_size,
                                       f"{V1}/$metadata#users(id,userPrincipalName,displayName,mail)")
        if match := re.fullmatch(r"/v1\.0/groups/([^/]+)/transitiveMembers/microsoft\.graph\.user", path):
            if match.group(1) not in self.groups:
                return 404, {}, graph_error("Request_ResourceNotFound", f"Resource '{match.group(1)}' does not exist.")
            return 200, {}, self._page(self.groups[match.group(1)], query, f"{GRAPH_URL}{path}",
                                       self.members_page_size, f"{V1}/$metadata#users")
        if match := re.fullmatch(r"/v1\.0/users/([^/]+)/onlineMeetings/getAllRecordings\((.*)\)", path):
            return 200, {}, self._recordings(match.group(1), match.group(2), path, query)
        if match := re.fullmatch(r"/v1\.0/users/([^/]+)/onlineMeetings/getAllTranscripts\((.*)\)", path):
            return 200, {}, self._all_transcripts(match.group(1), match.group(2), path, query)
        if match := re.fullmatch(r"/v1\.0/users/([^/]+)/onlineMeetings/([^/]+)/recordings/([^/]+)/content", path):
            return self._content(path, headers)
        if match := re.fullmatch(r"/v1\.0/users/([^/]+)/onlineMeetings/([^/]+)/transcripts/([^/]+)/content", path):
            for transcript, text in self.transcripts.get(match.group(2), []):
                if transcript["id"] == match.group(3):
                    return 200, {"Content-Type": "text/vtt"}, text
        if match := re.fullmatch(r"/v1\.0/users/([^/]+)/onlineMeetings/([^/]+)/transcripts/([^/]+)", path):
            for transcript, _text in self.transcripts.get(match.group(2), []):
                if transcript["id"] == match.group(3):
                    return 200, {}, {"@odata.context": f"{V1}/$metadata#users('{match.group(1)}')/onlineMeetings("
                                                       f"'{match.group(2)}')/transcripts/$entity", **transcript}
        if match := re.fullmatch(r"/v1\.0/users/([^/]+)/onlineMeetings/([^/]+)/transcripts", path):
            if match.group(2) in self.meetings:
                listed = [transcript for transcript, _text in self.transcripts.get(match.group(2), [])]
                return 200, {}, {"@odata.context": f"{V1}/$metadata#users('{match.group(1)}')/onlineMeetings("
                                                   f"'{match.group(2)}')/transcripts", "value": listed}
        if match := re.fullmatch(r"/v1\.0/users/([^/]+)/onlineMeetings/([^/]+)/recordings/([^/]+)", path):
            for recording in self.recordings.get(match.group(1), []):
                if (recording["meetingId"], recording["id"]) == match.group(2, 3):
                    return 200, {}, {"@odata.context": f"{V1}/$metadata#users('{match.group(1)}')/onlineMeetings("
                                                       f"'{match.group(2)}')/recordings/$entity", **recording}
        if match := re.fullmatch(r"/v1\.0/users/([^/]+)", path):
            for user in self.users:
                if user["id"] == match.group(1):
                    return 200, {}, {"@odata.context": f"{V1}/$metadata#users(id,userPrincipalName,displayName,mail)"
                                                       f"/$entity", **user}
        if match := re.fullmatch(r"/v1\.0/users/([^/]+)/onlineMeetings/([^/]+)", path):
            if match.group(2) in self.meetings:
                return 200, {}, self._meeting(self.meetings[match.group(2)], headers)
        return 404, {}, NOT_FOUND

    def _page(self, items, query, base, size, context):
        start = int(query.get("$skiptoken", ["0"])[0])
        body = {"@odata.context": context, "value": items[start:start + size]}
        if start + size < len(items):
            kept = {key: values[0] for key, values in query.items() if key != "$skiptoken"}
            body["@odata.nextLink"] = f"{base}?{urlencode({**kept, '$skiptoken': start + size}, safe='$,')}"
        return body

    def _recordings(self, user_id, arguments, path, query):
        organizer = re.search(r"meetingOrganizerUserId='([^']*)'", arguments).group(1)
        since = re.search(r"startDateTime=([^,)]+)", arguments)
        assert organizer == user_id, "getAllRecordings needs the organizer in the call"
        listed = [recording for recording in self.recordings.get(user_id, [])
                  if recording["id"] not in self.unlisted
                  and (since is None or utc(recording["createdDateTime"]) >= utc(since.group(1)))]
        return self._page(listed, query, f"{GRAPH_URL}{path}", self.recordings_page_size,
                          f"{V1}/$metadata#Collection(microsoft.graph.callRecording)")

    def _all_transcripts(self, user_id, arguments, path, query):
        organizer = re.search(r"meetingOrganizerUserId='([^']*)'", arguments).group(1)
        since = re.search(r"startDateTime=([^,)]+)", arguments)
        assert organizer == user_id, "getAllTranscripts needs the organizer in the call"
        listed = [transcript for transcripts in self.transcripts.values() for transcript, _text in transcripts
                  if transcript["meetingOrganizer"]["user"]["id"] == user_id
                  and (since is None or utc(transcript["createdDateTime"]) >= utc(since.group(1)))]
        return self._page(listed, query, f"{GRAPH_URL}{path}", self.recordings_page_size,
                          f"{V1}/$metadata#Collection(microsoft.graph.callTranscript)")

    def _meeting(self, meeting, headers):
        meeting = json.loads(json.dumps(meeting))
        if "include-unknown-enum-members" not in headers.get("Prefer", ""):
            for attendee in meeting["participants"]["attendees"]:
                if attendee["role"] in ("coorganizer", "producer"):
                    attendee["role"] = "unknownFutureValue"
        return meeting

    def _content(self, path, headers):
        if path not in self.contents:
            return 404, {}, NOT_FOUND
        data = self.contents[path]
        start, status, answer_headers = 0, 200, {"Content-Type": "video/mp4", "Accept-Ranges": "bytes"}
        wanted = headers.get("Range")
        if wanted and not self.ignore_range:
            start = int(wanted.removeprefix("bytes=").rstrip("-"))
            status = 206
            answer_headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        part = data[start:]
        answer_headers["Content-Length"] = str(len(part))
        if self.cuts:
            return status, answer_headers, cut_body(part[:max(0, self.cuts.pop(0) - start)])
        return status, answer_headers, part

    def _batch(self, request):
        sent = json.loads(request.body)["requests"]
        if len(sent) > 20:
            return 400, {}, json.dumps(graph_error("BadRequest", "The number of batch requests exceeds 20."))
        answers = []
        for sub in sent:
            assert sub["method"] == "GET"
            split = urlsplit(sub["url"])
            path = "/v1.0" + unquote(split.path)
            user_id = path.split("/")[3]
            if self.sub_faults.get(user_id):
                status, headers, body = self.sub_faults[user_id].pop(0)
            else:
                status, headers, body = self.answer(path, parse_qs(split.query), sub.get("headers") or {},
                                                    direct=False)
            answers.append({"id": sub["id"], "status": status,
                            "headers": {"Cache-Control": "no-cache", "Content-Type": "application/json", **headers},
                            "body": body})
        answers.reverse()  # Graph answers in any order: the ids say which is which
        return 200, {"Content-Type": "application/json"}, json.dumps({"responses": answers})


class Lecture:
    """A scheduled Teams meeting with its recording, content, participants and transcripts."""

    def __init__(self, organizer=ANN, *, number=1, subject="Physics 101", start="2026-11-24T10:00:00Z",
                 created=None, content=None, attendees=None, transcripts=None):
        self.organizer = organizer
        self.meeting_id = f"MSozZDBmMWM5ZS01YjhhLTRmMmUtOWMxZC03YTZiNWU0ZDNjMjEqMCoqMTk6bWVldGluZ19{number:04d}"
        self.recording_id = f"VjEjIzEjIzNkMGYxYzllLTViOGEtNGYyZS05YzFkLTdhNmI1ZTRkM2MyMSMjMTk6bWVldGluZw{number:04d}"
        self.correlation = f"bc4c6af8-3f5c-4a3d-8bd0-2f5c5f8f{number:04d}-0"
        self.content = CONTENT if content is None else content
        self.content_path = (f"/v1.0/users/{organizer['id']}/onlineMeetings/{self.meeting_id}/recordings/"
                             f"{self.recording_id}/content")
        self.content_url = f"{GRAPH_URL}{self.content_path}"
        created = created or (timezone.now() - timedelta(hours=2))
        self.recording = {
            "@odata.type": "#microsoft.graph.callRecording",
            "id": self.recording_id, "meetingId": self.meeting_id,
            "callId": f"af630fe0-04d3-4559-8cf9-91fe45e3{number:04d}", "contentCorrelationId": self.correlation,
            "createdDateTime": graph_time(created), "endDateTime": graph_time(created + timedelta(minutes=42)),
            "recordingContentUrl": self.content_url,
            "meetingOrganizer": {"application": None, "device": None, "user": {
                "@odata.type": "#microsoft.graph.teamworkUserIdentity", "id": organizer["id"],
                "displayName": None, "userIdentityType": "aadUser", "tenantId": TENANT_ID}},
        }
        self.meeting = {
            "@odata.context": f"{V1}/$metadata#users('{organizer['id']}')/onlineMeetings/$entity",
            "id": self.meeting_id, "creationDateTime": "2026-11-20T08:12:31.2910000Z",
            "startDateTime": start, "endDateTime": "2026-11-24T11:00:00Z", "subject": subject,
            "joinWebUrl": "https://teams.microsoft.com/l/meetup-join/19%3ameeting_NWY3%40thread.v2/0",
            "isBroadcast": False, "allowedPresenters": "roleIsPresenter",
            "chatInfo": {"threadId": "19:meeting_NWY3@thread.v2", "messageId": "0", "replyChainMessageId": None},
            "participants": {
                "organizer": participant(organizer, "presenter"),
                "attendees": [participant(CAROL, "coorganizer"), participant(BOB, "presenter"),
                              participant(DAVE, "attendee"),
                              participant(EVE, "attendee", tenant=GUEST_TENANT)] if attendees is None else attendees,
            },
        }
        self.transcript_id = f"MSMjMCMjZDAwYWU3NjUtNmM2Yi00NjQxLTgwMWQtMTkzMmFmMjEzNzdh{number:04d}"
        self.transcripts = [
            (self.transcript(self.transcript_id, self.correlation), VTT),
            (self.transcript(f"MSMjMCMjb3RoZXJyZWNvcmRpbmc{number:04d}", f"another-{number:04d}-0"), OTHER_VTT),
        ] if transcripts is None else transcripts

    def transcript(self, transcript_id, correlation):
        return {"id": transcript_id, "meetingId": self.meeting_id, "callId": self.recording["callId"],
                "contentCorrelationId": correlation, "createdDateTime": self.recording["endDateTime"],
                "endDateTime": self.recording["endDateTime"],
                "transcriptContentUrl": f"{V1}/users/{self.organizer['id']}/onlineMeetings/{self.meeting_id}/"
                                        f"transcripts/{transcript_id}/content",
                "meetingOrganizer": self.recording["meetingOrganizer"]}


def participant(user, role, tenant=TENANT_ID):
    return {"upn": user["userPrincipalName"], "role": role, "identity": {
        "application": None, "device": None, "phone": None,
        "user": {"id": user["id"], "displayName": user["displayName"], "tenantId": tenant,
                 "identityProvider": "AAD"}}}


CONTENT = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + bytes(range(256)) * (3 * 4096) + b"end"
VTT = ("WEBVTT\n\n00:00:00.000 --> 00:00:02.500\n<v Ann Lee>Welcome to the lecture.</v>\n\n"
       "00:00:02.500 --> 00:00:05.000\n<v Ann Lee>Today: waves.</v>\n")
OTHER_VTT = "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<v Ann Lee>A different recording.</v>\n"


# --- fixtures and helpers --------------------------------------------------------------------------


@pytest.fixture
def ms():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeMicrosoft(rsps)


@pytest.fixture
def graph(sleeps):
    return GraphClient(lambda: "app-token", sleep=sleeps.append)


@pytest.fixture
def integration():
    lectures = Category.objects.create(name="Lectures", moderated=True)
    archive = Category.objects.create(name="Teams archive")
    integration = TeamsIntegration.objects.create(
        name="Contoso", tenant_id=TENANT_ID, client_id=CLIENT_ID, client_secret=SECRET, enabled=True,
        transcription=True,
        co_organizer_permission=TeamsIntegration.Permission.CO_EDITORS_AND_PUBLISHERS,
        presenter_permission=TeamsIntegration.Permission.CO_VIEWERS,
        attendee_permission=TeamsIntegration.Permission.CO_PUBLISHERS,
        upn_rule=TeamsIntegration.UpnRule.REMOVE_POSTFIX, postfix="@contoso.edu")
    integration.categories.add(lectures, archive)
    return integration


@pytest.fixture
def portal_users(make_user):
    """Ann, Bob, Carol and Dave have portal users named as the remove-postfix rule makes them."""
    return {name: make_user(username=name, email=f"{name}@contoso.edu")
            for name in ("ann.lee", "bob.ray", "carol.diaz", "dave.kim")}


@pytest.fixture
def lecture(ms):
    lecture = Lecture()
    ms.users = [ANN, BOB]
    ms.add_lecture(lecture)
    return lecture


def discover(integration, graph, **options):
    queued = []
    result = sync.run(integration, graph=graph, queue=queued.append, **options)
    return result, queued


def discovered(integration, graph, ms):
    """One round, then the ledger row of the (single) recording, with Microsoft's log emptied."""
    discover(integration, graph)
    ms.rsps.calls.reset()
    return Recording.objects.get()


def ready_without_transcript(integration, graph, ms, number=1):
    """A lecture of Ann's ingested ready while Teams has no transcript for it yet: (lecture, ledger row).
    The integration is reloaded, with the watermark the round left."""
    ms.users = [ANN]
    lecture = Lecture(number=number)
    ms.add_lecture(lecture)
    ms.transcripts[lecture.meeting_id] = []  # Teams has not finished the transcript yet
    recording = sync.ingest(discovered(integration, graph, ms).pk, graph=graph)
    assert recording.state == Recording.State.READY
    integration.refresh_from_db()
    return lecture, recording


def media_files():
    """Every stored file, on disk or in the bucket (tests/storage.py)."""
    return stored_files()


def entry_files():
    return stored_files("entries")


def sha(data):
    return hashlib.sha256(data).hexdigest()


def stored_bytes(entry):
    with entry.media.open("rb") as media:
        return media.read()


def window_start(batch_requests):
    urls = {request["url"] for request in batch_requests}
    starts = {re.search(r"startDateTime=([0-9T:\-]+Z)", url).group(1) for url in urls}
    assert len(starts) == 1, starts
    return starts.pop()


def fake_sign_in(ms, *, status=200, body=None):
    configuration_url = f"{LOGIN_URL}/{TENANT_ID}/v2.0/.well-known/openid-configuration"
    token_url = f"{LOGIN_URL}/{TENANT_ID}/oauth2/v2.0/token"
    ms.rsps.get(configuration_url, json=load("openid_configuration.json"))
    if body is None:
        body = load("token_success.json")
        body["access_token"] = make_jwt(app_token_payload())
    return ms.rsps.post(token_url, status=status, json=body)
