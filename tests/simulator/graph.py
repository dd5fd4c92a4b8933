"""Microsoft Graph v1.0: the calls the portal makes, answered from the simulator's model in Graph's shapes
(https://learn.microsoft.com/graph/api/overview), with Graph's checks: the bearer token, the permission in
it, the Teams application access policy, metered billing, and throttling when a fault says so."""
import base64
import hmac
import json
import re
import time
import uuid
from dataclasses import dataclass
from functools import partial
from datetime import datetime, timezone
from urllib.parse import quote, urlencode

import jwt
from requests.structures import CaseInsensitiveDict

from . import identity, subscriptions
from .model import Group, content
from .server import HttpRequest, HttpResponse

USERS = {"User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
GROUP_MEMBERS = {"GroupMember.Read.All", "Group.Read.All", "GroupMember.ReadWrite.All", "Group.ReadWrite.All",
                 "Directory.Read.All", "Directory.ReadWrite.All"}
MEETINGS = {"OnlineMeetings.Read.All", "OnlineMeetings.ReadWrite.All"}
RECORDINGS = {"OnlineMeetingRecording.Read.All"}
TRANSCRIPTS = {"OnlineMeetingTranscript.Read.All"}
FILES = {"Files.Read", "Files.Read.All", "Files.ReadWrite", "Files.ReadWrite.All", "Sites.Read.All",
         "Sites.ReadWrite.All"}
ME = {"User.Read", "User.ReadWrite", "User.ReadBasic.All", "User.Read.All", "Directory.Read.All"}
EVOLVABLE_ROLES = {"coorganizer", "producer"}  # "unknownFutureValue" without Prefer: include-unknown-enum-members
DOWNLOAD_LIFETIME = 3600
MEETINGS_PATH = r"/v1\.0/users/(?P<user>[^/]+)/onlineMeetings"
DRIVE_PATH = r"/v1\.0/(?:me/drive|drives/(?P<drive>[^/]+))"
ITEM_PATH = DRIVE_PATH + r"/(?:root|items/(?P<item>[^/]+))"


@dataclass
class Caller:
    tenant: object
    app: object  # an App for application tokens
    user: object  # a User for delegated tokens
    permissions: set


def error(status, code, message, headers=None):
    request_id = str(uuid.uuid4())
    return HttpResponse(status, {"error": {"code": code, "message": message, "innerError": {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"), "request-id": request_id,
        "client-request-id": request_id}}}, {"request-id": request_id, "client-request-id": request_id,
                                             **(headers or {})})


def not_found(what):
    return error(404, "Request_ResourceNotFound", f"Resource '{what}' does not exist or one of its queried "
                                                  f"reference-property objects are not present.")


ITEM_NOT_FOUND = ("itemNotFound", "The resource could not be found.")


def answer(sim, request):
    caller = authenticate(sim, request)
    if isinstance(caller, HttpResponse):
        return caller
    return dispatch(sim, caller, request)


def authenticate(sim, request):
    token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not token or token.startswith("Basic "):
        return error(401, "InvalidAuthenticationToken", "Access token is empty.")
    try:
        claims = identity.signing_key().claims(token)
    except jwt.DecodeError:
        return error(401, "InvalidAuthenticationToken", "CompactToken parsing failed with error code: 80049217")
    except jwt.InvalidTokenError:
        return error(401, "InvalidAuthenticationToken", "Access token validation failure.")
    if claims.get("aud") not in identity.GRAPH_AUDIENCES:
        return error(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
    if claims.get("exp", 0) < time.time() or claims.get("uti") in sim._revoked:
        return error(401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")
    tenant = sim.tenants.get(claims.get("tid"))
    if claims.get("idtyp") == "app":
        request.client = claims.get("appid", "")
        return Caller(tenant, sim.apps.get(claims.get("appid")), None, set(claims.get("roles", [])))
    request.client = claims.get("upn", "")
    return Caller(tenant, None, sim.find_user(claims.get("oid", "")), set(claims.get("scp", "").split()))


def dispatch(sim, caller, request):
    for pattern, handler in ROUTES:
        match = re.fullmatch(pattern, request.path)
        if match:
            if handler is not batch:
                status = sim.faults.throttle()
                if status:
                    return throttled(caller, status, sim.faults.retry_after)
            if request.method != "GET" and handler not in (batch, check_member_groups, subscriptions.subscriptions):
                return error(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
            return handler(sim, caller, request, **{k: v for k, v in match.groupdict().items() if v is not None})
    segment = request.path.removeprefix("/v1.0/").split("/")[0]
    return error(400, "BadRequest", f"Resource not found for the segment '{segment}'.")


def throttled(caller, status, retry_after):
    headers = {"Retry-After": str(retry_after)}
    if status == 429:
        identifier = caller.app.client_id if caller.app else caller.user.upn if caller.user else "unknown"
        return error(429, "TooManyRequests", f"Too many requests from Identifier:{identifier} under "
                                             f"category:throttle.simulator. Please try again later.", headers)
    return error(status, "serviceNotAvailable", "The service is temporarily unavailable. Retry after the delay "
                                                "given in the Retry-After header.", headers)


def require(caller, permissions, kind):
    """403 when the token carries none of `permissions`, in the words of the service behind the call."""
    if caller.permissions & permissions:
        return None
    if kind == "directory":
        return error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
    if kind == "files":
        return error(403, "accessDenied", "The caller does not have permission to perform the action.")
    return error(403, "Forbidden", "Application is not authorized to perform this operation. Application must have "
                                   f"one of the following scopes: {', '.join(sorted(permissions))}")


def policy(caller):
    if caller.app is not None and not caller.app.access_policy:
        return error(403, "General", "No application access policy found for this app.")
    return None


# -- paging ------------------------------------------------------------------------------------------------


def page(request, items, render, *, size=100, maximum=999, context=None, delta=None):
    """One page of `items` (each made JSON by `render`) with @odata.nextLink while more remain; a delta
    round's last page has @odata.deltaLink instead. `delta` is (since, until): the round's sequence window."""
    params = request.params
    state = _decode(params.get("$skiptoken")) or [0]
    offset = state[0]
    top = max(1, min(int(params.get("$top") or size), maximum))
    body = {"@odata.context": f"{request.base}/v1.0/$metadata#{context or 'Collection(Edm.Entity)'}",
            "value": _select([render(item) for item in items[offset:offset + top]], params.get("$select"))}
    path = quote(request.path, safe="/()',:=$@!*+;")
    if offset + top < len(items):
        kept = {name: value for name, value in params.items() if name not in ("$skiptoken", "$deltatoken")}
        token = _encode([offset + top, *delta] if delta else [offset + top])
        body["@odata.nextLink"] = f"{request.base}{path}?{urlencode({**kept, '$skiptoken': token})}"
    elif delta:
        body["@odata.deltaLink"] = f"{request.base}{path}?{urlencode({'$deltatoken': _encode([delta[1]])})}"
    return HttpResponse(200, body)


def _select(items, select):
    if not select:
        return items
    wanted = {name.strip().lower() for name in select.split(",")}
    return [{key: value for key, value in item.items() if key.lower() in wanted or key.startswith("@odata.")}
            for item in items]


def _encode(state):
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode().rstrip("=")


def _decode(token):
    if not token:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except ValueError:
        return None


# -- directory -----------------------------------------------------------------------------------------------


def user_json(user):
    given, _, surname = user.display_name.partition(" ")
    return {"businessPhones": [], "displayName": user.display_name, "givenName": given or None, "jobTitle": None,
            "mail": user.mail, "mobilePhone": None, "officeLocation": None, "preferredLanguage": None,
            "surname": surname or None, "userPrincipalName": user.upn, "id": user.id}


def group_json(group):
    return {"id": group.id, "displayName": group.display_name, "mail": None, "groupTypes": [], "mailEnabled": False,
            "securityEnabled": True}


def list_users(sim, caller, request):
    denied = require(caller, USERS, "directory")
    if denied:
        return denied
    users = [user for user in sim.users if user.tenant is caller.tenant]
    select = request.params.get("$select")
    return page(request, users, user_json, context=f"users({select})" if select else "users")


def get_user(sim, caller, request, user):
    if caller.user is None or user not in (caller.user.id, caller.user.upn):
        denied = require(caller, USERS, "directory")
        if denied:
            return denied
    found = sim.find_user(user, caller.tenant)
    return HttpResponse(200, _select([user_json(found)], request.params.get("$select"))[0]) if found \
        else not_found(user)


def group_members(sim, caller, request, group, relation, cast=None):
    denied = require(caller, GROUP_MEMBERS, "directory")
    if denied:
        return denied
    found = next((item for item in sim.groups if item.id == group and item.tenant is caller.tenant), None)
    if found is None:
        return not_found(group)
    members = found.transitive_members() if relation == "transitiveMembers" else found.members

    def kind(member):
        return "group" if isinstance(member, Group) else "user"

    def render(member):
        body = group_json(member) if kind(member) == "group" else user_json(member)
        return body if cast else {"@odata.type": f"#microsoft.graph.{kind(member)}", **body}

    return page(request, [member for member in members if cast in (None, kind(member))], render,
                context=f"{cast}s" if cast else "directoryObjects")


def check_member_groups(sim, caller, request, user):
    """POST /users/{id}/checkMemberGroups {"groupIds": [...]}: those the user is in, directly or nested (≤ 20)."""
    if request.method != "POST":
        return error(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
    denied = require(caller, GROUP_MEMBERS, "directory")
    if denied:
        return denied
    found = sim.find_user(user, caller.tenant)
    if found is None:
        return not_found(user)
    try:
        wanted = json.loads(request.body)["groupIds"]
    except (ValueError, KeyError, TypeError):
        return error(400, "Request_BadRequest", "Invalid request: the groupIds parameter is required.")
    if not isinstance(wanted, list) or len(wanted) > 20:
        return error(400, "Request_BadRequest", "The groupIds parameter holds at most 20 group ids.")
    member_of = [group.id for group in sim.groups if group.id in wanted and found in group.transitive_members()]
    return HttpResponse(200, {"@odata.context": f"{request.base}/v1.0/$metadata#Collection(Edm.String)",
                              "value": member_of})


def me(sim, caller, request):
    if caller.user is None:
        return error(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
    denied = require(caller, ME, "directory")
    return denied or HttpResponse(200, {"@odata.context": f"{request.base}/v1.0/$metadata#users/$entity",
                                        **_select([user_json(caller.user)], request.params.get("$select"))[0]})


# -- Teams meetings ------------------------------------------------------------------------------------------


def _iso(moment):
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def _organizer_identity(meeting):
    return {"application": None, "device": None, "user": {
        "@odata.type": "#microsoft.graph.teamworkUserIdentity", "id": meeting.organizer.id, "displayName": None,
        "userIdentityType": "aadUser", "tenantId": meeting.organizer.tenant.id}}


def recording_json(base, recording):
    meeting = recording.meeting
    return {"@odata.type": "#microsoft.graph.callRecording", "id": recording.id, "meetingId": meeting.id,
            "callId": recording.call_id, "contentCorrelationId": recording.correlation_id,
            "createdDateTime": _iso(recording.created), "endDateTime": _iso(meeting.end),
            "recordingContentUrl": f"{base}/v1.0/users/{meeting.organizer.id}/onlineMeetings/{meeting.id}"
                                   f"/recordings/{recording.id}/content",
            "meetingOrganizer": _organizer_identity(meeting)}


def transcript_json(base, transcript):
    meeting = transcript.meeting
    return {"@odata.type": "#microsoft.graph.callTranscript", "id": transcript.id, "meetingId": meeting.id,
            "callId": None, "contentCorrelationId": transcript.correlation_id,
            "createdDateTime": _iso(transcript.created), "endDateTime": _iso(meeting.end),
            "transcriptContentUrl": f"{base}/v1.0/users/{meeting.organizer.id}/onlineMeetings/{meeting.id}"
                                    f"/transcripts/{transcript.id}/content",
            "meetingOrganizer": _organizer_identity(meeting)}


def meeting_json(base, meeting, prefer):
    def participant(user, role):
        if role in EVOLVABLE_ROLES and "include-unknown-enum-members" not in prefer:
            role = "unknownFutureValue"
        return {"upn": user.upn, "role": role, "identity": {"user": {
            "id": user.id, "displayName": None, "tenantId": user.tenant.id, "identityProvider": "AAD"}}}

    return {"@odata.context": f"{base}/v1.0/$metadata#users('{meeting.organizer.id}')/onlineMeetings/$entity",
            "id": meeting.id, "creationDateTime": _iso(meeting.start), "startDateTime": _iso(meeting.start),
            "endDateTime": _iso(meeting.end), "subject": meeting.subject,
            "joinWebUrl": f"https://teams.microsoft.com/l/meetup-join/{quote(meeting.id)}",
            "isEntryExitAnnounced": True, "allowedPresenters": "everyone",
            "chatInfo": {"threadId": f"19:meeting_{meeting.id[:24]}@thread.v2", "messageId": "0"},
            "participants": {"organizer": participant(meeting.organizer, "presenter"),
                             "attendees": [participant(user, role) for user, role in meeting.participants],
                             "producers": [], "contributors": []}}


def _parse_time(text):
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _meeting_checks(sim, caller, user, permissions):
    denied = require(caller, permissions, "teams") or policy(caller)
    if denied:
        return denied
    if sim.find_user(user, caller.tenant) is None:
        return not_found(user)
    return None


def all_artifacts(sim, caller, request, user, function, params="", delta=None):
    """getAllRecordings / getAllTranscripts(meetingOrganizerUserId='…',startDateTime=…,endDateTime=…)[/delta]:
    artifacts of the organizer's calendar meetings, never of ad hoc calls."""
    recordings = function == "getAllRecordings"
    denied = _meeting_checks(sim, caller, user, RECORDINGS if recordings else TRANSCRIPTS)
    if denied:
        return denied
    args = {name: value.strip().strip("'") for name, value in re.findall(r"(\w+)\s*=\s*('[^']*'|[^,]*)", params)}
    filtered = re.search(r"MeetingOrganizer/User/Id eq '([^']+)'", request.params.get("$filter", ""), re.I)
    organizer = args.get("meetingOrganizerUserId") or (filtered.group(1) if filtered else None)
    if not organizer:
        return error(400, "BadRequest", "The function parameter meetingOrganizerUserId is required.")
    try:
        start, end = (_parse_time(args.get(name)) for name in ("startDateTime", "endDateTime"))
    except ValueError as e:
        return error(400, "BadRequest", f"Invalid date in the function parameters: {e}")
    artifacts = [artifact for artifact in sim.artifacts_of(organizer, recordings=recordings)
                 if not artifact.meeting.ad_hoc and artifact.meeting.organizer.tenant is caller.tenant
                 and (start is None or artifact.created >= start) and (end is None or artifact.created <= end)]
    window = None
    if delta:
        state = _decode(request.params.get("$skiptoken"))
        since = _decode(request.params.get("$deltatoken"))
        window = tuple(state[1:]) if state else (since[0] if since else 0, sim._sequence)
        artifacts = [artifact for artifact in artifacts if window[0] < artifact.sequence <= window[1]]
    render = recording_json if recordings else transcript_json
    return page(request, artifacts, lambda artifact: render(request.base, artifact),
                context=f"Collection({'callRecording' if recordings else 'callTranscript'})", delta=window)


def get_meeting(sim, caller, request, user, meeting):
    denied = _meeting_checks(sim, caller, user, MEETINGS)
    if denied:
        return denied
    found = _meeting(sim, user, meeting)
    if found is None:
        return error(404, "NotFound", "The requested onlineMeeting could not be found.")
    return HttpResponse(200, meeting_json(request.base, found, request.headers.get("Prefer", "")))


def _meeting(sim, user, meeting_id):
    return next((meeting for meeting in sim.meetings if meeting.id == meeting_id and not meeting.ad_hoc
                 and meeting.organizer.id == user), None)


def artifacts(sim, caller, request, user, meeting, kind, artifact=None, content=None):
    """/recordings and /transcripts of one meeting: the list, one item, or its content (metered)."""
    recordings = kind == "recordings"
    denied = _meeting_checks(sim, caller, user, RECORDINGS if recordings else TRANSCRIPTS)
    if denied:
        return denied
    found = _meeting(sim, user, meeting)
    if found is None:
        return error(404, "NotFound", "The requested onlineMeeting could not be found.")
    render = recording_json if recordings else transcript_json
    items = [item for item in (sim.recordings if recordings else sim.transcripts) if item.meeting is found]
    if artifact is None:
        return page(request, items, lambda item: render(request.base, item),
                    context=f"Collection({'callRecording' if recordings else 'callTranscript'})")
    item = next((item for item in items if item.id == artifact), None)
    if item is None:
        return error(404, "NotFound", f"The requested {kind[:-1]} could not be found.")
    if not content:
        return HttpResponse(200, render(request.base, item))
    app = caller.app
    if app is not None and not app.billing:
        if app.metered_downloads >= app.evaluation_allowance:
            return error(402, "PaymentRequired", "Evaluation mode capacity has been exceeded. Use a valid billing "
                                                 "model. Visit https://docs.microsoft.com/en-us/graph/teams-licenses "
                                                 "for more details.")
        app.metered_downloads += 1
    if not recordings:
        return HttpResponse(200, item.text.encode(), {"Content-Type": "text/vtt"})
    if sim.redirect_recordings:
        return HttpResponse(302, headers={"Location": download_url(sim, request, "recording", item.id)})
    return stream(sim, request, item.id, item.size, "video/mp4", body=lambda start, stop: item.content(start, stop - 1))


# -- OneDrive ------------------------------------------------------------------------------------------------


def _drive_caller(sim, caller, drive):
    """The user whose drive is addressed, or an error answer."""
    if caller.user is None:
        return error(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
    denied = require(caller, FILES, "files")
    if denied:
        return denied
    if drive is not None and drive != caller.user.drive_id:
        return error(404, *ITEM_NOT_FOUND)
    return caller.user


def _item(sim, caller, drive, item):
    owner = _drive_caller(sim, caller, drive)
    if isinstance(owner, HttpResponse):
        return owner
    found = sim.drive_root(owner) if item is None else sim.drive_items.get(item)
    if found is None or found.owner is not owner:
        return error(404, *ITEM_NOT_FOUND)
    return found


def item_json(sim, request, item, *, searched=False):
    owner = item.owner
    owner_identity = {"user": {"email": owner.mail, "id": owner.id, "displayName": owner.display_name}}
    body = {"createdDateTime": _iso(item.modified), "eTag": f'"{{{item.id}}},1"', "id": item.id,
            "lastModifiedDateTime": _iso(item.modified), "name": item.name,
            "webUrl": f"{request.base}/personal/{owner.upn.replace('@', '_').replace('.', '_')}/Documents"
                      f"{item.path.removeprefix('/drive/root:')}/{quote(item.name)}",
            "cTag": f'"c:{{{item.id}}},1"', "size": item.total_size, "createdBy": owner_identity,
            "lastModifiedBy": owner_identity,
            "parentReference": {"driveType": "business", "driveId": owner.drive_id}}
    if item.parent is None:
        body["root"] = {}
    else:
        body["parentReference"]["id"] = item.parent.id
        if not searched:  # search results leave the path out
            body["parentReference"]["path"] = item.path
    if item.folder:
        body["folder"] = {"childCount": len(item.children)}
    else:
        body["file"] = {"mimeType": item.mime_type}
        body["@microsoft.graph.downloadUrl"] = download_url(sim, request, "item", item.id)
    return body


def get_drive(sim, caller, request, drive=None):
    owner = _drive_caller(sim, caller, drive)
    if isinstance(owner, HttpResponse):
        return owner
    return HttpResponse(200, {"@odata.context": f"{request.base}/v1.0/$metadata#drives/$entity",
                              "driveType": "business", "id": owner.drive_id, "name": "OneDrive", "owner": {"user": {
                                  "email": owner.mail, "id": owner.id, "displayName": owner.display_name}}})


def get_item(sim, caller, request, drive=None, item=None):
    found = _item(sim, caller, drive, item)
    return found if isinstance(found, HttpResponse) else HttpResponse(200, item_json(sim, request, found))


def children(sim, caller, request, drive=None, item=None):
    found = _item(sim, caller, drive, item)
    if isinstance(found, HttpResponse):
        return found
    return page(request, found.children, lambda child: item_json(sim, request, child), size=200,
                context="Collection(driveItem)")


def search(sim, caller, request, q, drive=None):
    root = _item(sim, caller, drive, None)
    if isinstance(root, HttpResponse):
        return root
    words = q.replace("''", "'").lower().split()
    found = [item for item in root.walk() if all(word in item.name.lower() for word in words)]
    return page(request, found, lambda item: {**item_json(sim, request, item, searched=True), "searchResult": {}},
                size=200, context="Collection(driveItem)")


def item_content(sim, caller, request, drive=None, item=None):
    """302 to a short-lived pre-authenticated URL (as OneDrive does); Range belongs on that URL."""
    found = _item(sim, caller, drive, item)
    if isinstance(found, HttpResponse):
        return found
    if found.folder:
        return error(404, *ITEM_NOT_FOUND)
    return HttpResponse(302, headers={"Location": download_url(sim, request, "item", found.id)})


# -- content and pre-authenticated downloads -----------------------------------------------------------------


def stream(sim, request, seed, size, content_type, *, body=None):
    """The bytes of `seed` (or of `body(start, stop)`), honouring Range (200 whole, 206 partial, 416 unsatisfiable); a fault may cut it."""
    start, stop, status = 0, size, 200
    headers = {"Content-Type": content_type, "Accept-Ranges": "bytes"}
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", request.headers.get("Range", "").strip())
    if match and match.group(1):
        start, stop = int(match.group(1)), min(size, int(match.group(2)) + 1 if match.group(2) else size)
    elif match and match.group(2):
        start = max(0, size - int(match.group(2)))
    if match and (start >= size or start >= stop):
        return HttpResponse(416, b"", {"Content-Range": f"bytes */{size}"})
    if match:
        status, headers["Content-Range"] = 206, f"bytes {start}-{stop - 1}/{size}"
    headers["Content-Length"] = str(stop - start)
    cut_after = (stop - start) // 2 if sim.faults.cut() else None
    return HttpResponse(status, (body or partial(content, seed))(start, stop), headers, cut_after=cut_after)


def download_url(sim, request, kind, ident):
    """A pre-authenticated URL on the other name of this server (127.0.0.1 <-> localhost), as Microsoft's point
    to another host: a client that keeps its bearer token for Graph's host does not send it there."""
    host = request.headers.get("Host", "127.0.0.1")
    name, _, port = host.rpartition(":")
    other = "localhost" if name == "127.0.0.1" else "127.0.0.1"
    payload = _encode([kind, ident, int(time.time()) + DOWNLOAD_LIFETIME])
    signature = hmac.new(sim._download_key, payload.encode(), "sha256").hexdigest()[:32]
    return f"https://{other}:{port}/download/{payload}.{signature}"


def download(sim, request):
    payload, _, signature = request.path.removeprefix("/download/").partition(".")
    expected = hmac.new(sim._download_key, payload.encode(), "sha256").hexdigest()[:32]
    state = _decode(payload) if hmac.compare_digest(signature, expected) else None
    if "Authorization" in request.headers:  # stricter than Microsoft on purpose: a leaked token fails the test
        return error(401, "unauthenticated", "A pre-authenticated download URL is fetched without an Authorization "
                                             "header.")
    if state is None or state[2] < time.time():
        return error(401, "unauthenticated", "The pre-authenticated download URL is invalid or has expired.")
    kind, ident, _expires = state
    if kind == "recording":
        found = next((item for item in sim.recordings if item.id == ident), None)
        return (stream(sim, request, found.id, found.size, "video/mp4", body=lambda start, stop: found.content(
            start, stop - 1)) if found else error(404, *ITEM_NOT_FOUND))
    found = sim.drive_items.get(ident)
    if found is None:
        return error(404, *ITEM_NOT_FOUND)
    return stream(sim, request, found.id, found.size, found.mime_type, body=lambda start, stop: found.content(start, stop - 1))


# -- JSON batching -------------------------------------------------------------------------------------------


def batch(sim, caller, request):
    """POST /$batch: up to 20 requests, each answered as if sent alone (throttling included, per request)."""
    if request.method != "POST":
        return error(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
    try:
        requests = json.loads(request.body)["requests"]
        ids = [str(item["id"]) for item in requests]
    except (ValueError, KeyError, TypeError):
        return error(400, "BadRequest", "Invalid batch payload format.")
    if len(requests) > 20:
        return error(400, "BadRequest", "The number of requests in the batch exceeds the maximum of 20.")
    if len(set(ids)) != len(ids):
        return error(400, "BadRequest", "Batch request contains duplicate request ids.")
    answers, statuses = [], {}
    for item in requests:
        url, _, query = item.get("url", "").lstrip("/").partition("?")
        headers = CaseInsensitiveDict(request.headers)
        headers.update(item.get("headers") or {})
        body = json.dumps(item["body"]).encode() if "body" in item else b""
        if any(statuses.get(str(need), 200) >= 400 for need in item.get("dependsOn", [])):
            response = error(424, "FailedDependency", "A request that this request depends on failed.")
        else:
            sub = HttpRequest(item.get("method", "GET").upper(), "/v1.0/" + url, query, headers, body)
            response = dispatch(sim, caller, sub)
        statuses[str(item["id"])] = response.status
        body = response.body
        if not isinstance(body, (dict, list)):
            body = base64.b64encode(body if isinstance(body, bytes) else b"".join(body)).decode() if body else None
        answers.append({"id": str(item["id"]), "status": response.status,
                        "headers": {"Content-Type": "application/json", **{
                            name: value for name, value in response.headers.items()
                            if name in ("Retry-After", "Location", "Content-Type")}},
                        "body": body})
    return HttpResponse(200, {"responses": answers})


ROUTES = [
    (r"/v1\.0/\$batch", batch),
    (r"/v1\.0/me", me),
    (r"/v1\.0/users", list_users),
    (r"/v1\.0/users/(?P<user>[^/]+)", get_user),
    (r"/v1\.0/users/(?P<user>[^/]+)/checkMemberGroups", check_member_groups),
    (r"/v1\.0/groups/(?P<group>[^/]+)/(?P<relation>transitiveMembers|members)(?:/microsoft\.graph\.(?P<cast>user|group))?",
     group_members),
    (MEETINGS_PATH + r"/(?P<function>getAllRecordings|getAllTranscripts)(?:\((?P<params>[^)]*)\))?(?P<delta>/delta)?",
     all_artifacts),
    (MEETINGS_PATH + r"/(?P<meeting>[^/]+)", get_meeting),
    (MEETINGS_PATH + r"/(?P<meeting>[^/]+)/(?P<kind>recordings|transcripts)"
                     r"(?:/(?P<artifact>[^/]+)(?P<content>/content)?)?", artifacts),
    (DRIVE_PATH, get_drive),
    (DRIVE_PATH + r"/root/search\(q='(?P<q>(?:[^']|'')*)'\)", search),
    (ITEM_PATH, get_item),
    (ITEM_PATH + r"/children", children),
    (ITEM_PATH + r"/content", item_content),
    (r"/v1\.0/subscriptions(?:/(?P<subscription>[^/]+)(?:/(?P<action>reauthorize))?)?",
     subscriptions.subscriptions),
]
