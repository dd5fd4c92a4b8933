"""Microsoft Graph as the Teams integration uses it: every path it calls, one function per call, and
`graph_for`, the client of an integration (in the manner of Sentry's integration clients).

The sync, the dry run and the Test connection call these functions; none of them writes a Graph path.
"""
from datetime import timezone as dt_timezone

from django.views.decorators.debug import sensitive_variables

from integrations.microsoft.errors import GraphNotFound
from integrations.microsoft.graph import PREFER, AppTokenProvider, GraphClient

USERS = "/users"
USER = "/users/{user_id}"
CHECK_MEMBER_GROUPS = "/users/{user_id}/checkMemberGroups"
GROUP_MEMBERS = "/groups/{group_id}/transitiveMembers/microsoft.graph.user"
# Graph needs the organiser in the call as well as in the path.
ALL_RECORDINGS = ("/users/{user_id}/onlineMeetings/getAllRecordings(meetingOrganizerUserId='{user_id}',"
                  "startDateTime={since:%Y-%m-%dT%H:%M:%SZ})")
ALL_TRANSCRIPTS = ("/users/{user_id}/onlineMeetings/getAllTranscripts(meetingOrganizerUserId='{user_id}',"
                   "startDateTime={since:%Y-%m-%dT%H:%M:%SZ})")
MEETING = "/users/{user_id}/onlineMeetings/{meeting_id}"
RECORDING = MEETING + "/recordings/{recording_id}"
RECORDING_CONTENT = MEETING + "/recordings/{recording_id}/content"
TRANSCRIPTS = MEETING + "/transcripts"
TRANSCRIPT = TRANSCRIPTS + "/{transcript_id}"
TRANSCRIPT_CONTENT = TRANSCRIPT + "/content?$format=text/vtt"
BATCH = "/$batch"
SUBSCRIPTIONS = "/subscriptions"
SUBSCRIPTION = "/subscriptions/{subscription_id}"
REAUTHORIZE = SUBSCRIPTION + "/reauthorize"

# The sync does not hold a worker for a long Retry-After: it tries the recording again later.
SYNC_MAX_WAIT_SECONDS = 120

_providers = {}


def token_provider_for(integration, *, fresh=False) -> AppTokenProvider:
    """One token provider per integration and secret in this process, so tokens are reused until they expire.

    `fresh` starts over: a new token, with the permissions granted now (msal would otherwise hand back the
    cached token, and replay a refusal for a minute)."""
    key = (integration.pk, integration.tenant_id, integration.client_id, integration.client_secret)
    provider = None if fresh else _providers.get(key)
    if provider is None:
        for stale in [k for k in _providers if k[0] == integration.pk]:
            del _providers[stale]
        provider = _providers[key] = AppTokenProvider(
            integration.tenant_id, integration.client_id, integration.client_secret)
    return provider


def graph_for(integration, **options) -> GraphClient:
    """The Graph client of background work for `integration`."""
    options.setdefault("max_wait", SYNC_MAX_WAIT_SECONDS)
    options.setdefault("max_tries", 8)  # background work: a throttled tenant is waited out, within max_wait
    return GraphClient(token_provider_for(integration), **options)


# -- users and groups ----------------------------------------------------------------------------


def users(graph, **params):
    """Every user of the directory (all pages)."""
    return graph.iter_pages(USERS, **params)


def users_page(graph, **params) -> list:
    """The first page of users only (`$top` says how many)."""
    return graph.get(USERS, **params).get("value", [])


def user_path(user_id, select) -> str:
    """One user, with the fields `select` names."""
    return USER.format(user_id=user_id) + f"?$select={select}"


def member_groups(graph, user_id, group_ids) -> set:
    """Which of `group_ids` (at most 20) the user is a member of, directly or through nested groups."""
    return set(graph.post(CHECK_MEMBER_GROUPS.format(user_id=user_id), {"groupIds": list(group_ids)}).get("value", []))


def group_members(graph, group_id, **params):
    """The users in a group, those of its nested groups included (all pages)."""
    return graph.iter_pages(GROUP_MEMBERS.format(group_id=group_id), **params)


# -- recordings ----------------------------------------------------------------------------------


def all_recordings_path(user_id, since) -> str:
    """getAllRecordings for meetings organised by `user_id` since `since`."""
    since = since.astimezone(dt_timezone.utc)  # the Z in the path says UTC: a local time would shift the window
    return ALL_RECORDINGS.format(user_id=user_id, since=since)


def all_recordings(graph, user_id, *, since):
    """The recordings of meetings organised by `user_id` since `since` (all pages)."""
    return graph.iter_pages(all_recordings_path(user_id, since))


def all_recordings_page(graph, user_id, *, since, **params) -> list:
    """The first page of those recordings only (`$top` says how many)."""
    return graph.get(all_recordings_path(user_id, since), **params).get("value", [])


def recording_path(user_id, meeting_id, recording_id) -> str:
    """One recording of a meeting organised by `user_id` (its callRecording, without the content)."""
    return RECORDING.format(user_id=user_id, meeting_id=meeting_id, recording_id=recording_id)


def batch(graph, paths) -> dict:
    """GET `paths` in one JSON batch (at most 20): Graph's answers by request id, the path's index as a string,
    in the order Graph gives them. A request Graph does not answer is missing. Each request asks for the enum
    members added since v1.0 (a meeting's coorganizer role), as the client's own requests do."""
    requests = [{"id": str(index), "method": "GET", "url": path, "headers": {"Prefer": PREFER}}
                for index, path in enumerate(paths)]
    return {answer["id"]: answer for answer in graph.post(BATCH, {"requests": requests}).get("responses", [])}


def get_alone(graph, path) -> dict:
    """One of a batch's paths asked for on its own (the client waits out throttling; Microsoft's error raises)."""
    return graph.get(path)


def next_page(graph, next_link):
    """The items of a list's `@odata.nextLink` and of the pages after it."""
    return graph.iter_pages(next_link)


def meeting_path(user_id, meeting_id) -> str:
    """The onlineMeeting (subject, start, participants)."""
    return MEETING.format(user_id=user_id, meeting_id=meeting_id)


def meeting(graph, user_id, meeting_id) -> dict:
    """The onlineMeeting (subject, start, participants)."""
    return graph.get(meeting_path(user_id, meeting_id))


def recording_content(graph, user_id, meeting_id, recording_id, *, content_url="", **options):
    """A recording's bytes, as a resuming download (`options` go to GraphClient.download): from the
    recordingContentUrl Microsoft listed, or, without one, from the recording's content in its meeting."""
    path = content_url or RECORDING_CONTENT.format(user_id=user_id, meeting_id=meeting_id, recording_id=recording_id)
    return graph.download(path, **options)


def recording_first_bytes(graph, content_url, size=1024) -> bytes:
    """The first bytes of a listed recording: whether Microsoft hands its content out at all (billing)."""
    with graph.stream(content_url, chunk_size=size) as download:
        return next(iter(download), b"")


# -- transcripts ---------------------------------------------------------------------------------


def all_transcripts_path(user_id, since) -> str:
    """getAllTranscripts for meetings organised by `user_id` since `since`."""
    return ALL_TRANSCRIPTS.format(user_id=user_id, since=since.astimezone(dt_timezone.utc))


def all_transcripts(graph, user_id, *, since):
    """The transcripts of meetings organised by `user_id` since `since` (all pages)."""
    return graph.iter_pages(all_transcripts_path(user_id, since))


def transcripts(graph, user_id, meeting_id):
    """The meeting's transcripts (all pages)."""
    return graph.iter_pages(TRANSCRIPTS.format(user_id=user_id, meeting_id=meeting_id))


def transcript_path(user_id, meeting_id, transcript_id) -> str:
    """One transcript of a meeting (its callTranscript, without the content)."""
    return TRANSCRIPT.format(user_id=user_id, meeting_id=meeting_id, transcript_id=transcript_id)


def transcript(graph, user_id, meeting_id, transcript_id) -> dict:
    """One transcript of a meeting (its callTranscript, without the content)."""
    return graph.get(transcript_path(user_id, meeting_id, transcript_id))


def transcript_content(graph, user_id, meeting_id, transcript_id) -> bytes:
    """A transcript as WebVTT."""
    path = TRANSCRIPT_CONTENT.format(user_id=user_id, meeting_id=meeting_id, transcript_id=transcript_id)
    with graph.stream(path) as download:
        return b"".join(download)


# -- change notification subscriptions -----------------------------------------------------------


def graph_datetime(moment) -> str:
    """A Graph timestamp (UTC, Z) for a request body."""
    return moment.astimezone(dt_timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@sensitive_variables("client_state")
def create_subscription(graph, *, resource, notification_url, lifecycle_url, expires_at, client_state) -> dict:
    """Subscribe to new items of a tenant-wide `resource` (getAllRecordings, getAllTranscripts): Graph's
    subscription (id, expirationDateTime...). Graph validates both addresses before answering (its POSTs with
    ?validationToken=). A create retried after a lost answer may leave an unused subscription behind: it lapses
    by itself, and its notifications are refused (unknown id)."""
    return graph.post(SUBSCRIPTIONS, {
        "changeType": "created",
        "notificationUrl": notification_url,
        "lifecycleNotificationUrl": lifecycle_url,  # Graph requires one when the expiry is over an hour away
        "resource": resource,
        "expirationDateTime": graph_datetime(expires_at),
        "clientState": client_state,
        "includeResourceData": False,
    })


def renew_subscription(graph, subscription_id, *, expires_at) -> dict:
    """Move a subscription's expiry (a renewal also reauthorizes it): Graph's subscription."""
    return graph.patch(SUBSCRIPTION.format(subscription_id=subscription_id),
                       {"expirationDateTime": graph_datetime(expires_at)})


def reauthorize_subscription(graph, subscription_id):
    """Answer a reauthorizationRequired lifecycle event (204, no body); the expiry stays."""
    graph.post(REAUTHORIZE.format(subscription_id=subscription_id), None)  # no body


def subscription(graph, subscription_id) -> dict:
    return graph.get(SUBSCRIPTION.format(subscription_id=subscription_id))


def delete_subscription(graph, subscription_id) -> bool:
    """Delete a subscription; False when Graph has no such subscription (expired or deleted already)."""
    try:
        graph.delete(SUBSCRIPTION.format(subscription_id=subscription_id))
    except GraphNotFound:
        return False
    return True
