"""What the simulated Microsoft holds: plain dataclasses that tests create through `Simulator.add_*` and may
change at any time (the server threads read them on every request)."""
import base64
import hashlib
import random
import secrets
import threading
import uuid
from collections import namedtuple
from dataclasses import dataclass, field
from datetime import datetime, timezone

TEAMS_ROLES = ["OnlineMeetingRecording.Read.All", "OnlineMeetings.Read.All", "OnlineMeetingTranscript.Read.All",
               "User.ReadBasic.All"]
BLOCK = 64 * 1024


def now():
    return datetime.now(timezone.utc)


def content(seed, start, stop):
    """Bytes start..stop-1 of the content named `seed`: made on the fly, the same at every call, held nowhere.
    Each 64 KiB block begins with its own number, so bytes written at a wrong offset never compare equal."""
    base = hashlib.shake_256(seed.encode()).digest(BLOCK)
    position = start
    while position < stop:
        number, offset = divmod(position, BLOCK)
        piece = (number.to_bytes(8, "big") + base[8:])[offset:offset + stop - position]
        yield piece
        position += len(piece)


def graph_id(text):
    """An identifier shaped like Teams' (base64 of an internal string) that is safe in a URL path."""
    while "/" in (encoded := base64.b64encode(text.encode()).decode()):
        text += " "
    return encoded


@dataclass(eq=False)
class Tenant:
    id: str
    name: str
    domain: str


@dataclass(eq=False)
class App:
    """An app registration. `secrets` maps each secret value to its expiry (None: never)."""
    tenant: Tenant
    client_id: str
    name: str
    roles: list
    secrets: dict
    enabled: bool = True
    access_policy: bool = True  # a Teams application access policy is granted to the app
    billing: bool = True  # metered APIs (recording and transcript content) are linked to an Azure subscription
    evaluation_allowance: int = 0  # without billing: metered downloads allowed before 402
    redirect_uris: list = field(default_factory=list)
    implicit_grant: bool = True  # "Access tokens" and "ID tokens" ticked under Authentication
    metered_downloads: int = 0

    @property
    def secret(self):
        """The newest secret value."""
        return next(reversed(self.secrets)) if self.secrets else None

    def check_secret(self, value):
        """'valid', 'expired' or 'wrong'."""
        if value not in self.secrets:
            return "wrong"
        expires = self.secrets[value]
        return "expired" if expires is not None and expires <= now() else "valid"


@dataclass(eq=False)
class User:
    tenant: Tenant
    id: str
    upn: str
    display_name: str
    mail: str | None
    drive_id: str = field(default_factory=lambda: "b!" + secrets.token_urlsafe(48))
    root: "DriveItem | None" = None  # the OneDrive's root folder, made on first use


@dataclass(eq=False)
class Group:
    tenant: Tenant
    id: str
    display_name: str
    members: list  # users and groups

    def transitive_members(self):
        """Every user and group inside, nested groups flattened, each once."""
        found, pending = [], list(self.members)
        while pending:
            member = pending.pop(0)
            if member not in found and member is not self:
                found.append(member)
                pending.extend(member.members if isinstance(member, Group) else [])
        return found


@dataclass(eq=False)
class Meeting:
    id: str
    organizer: User
    subject: str
    start: datetime
    end: datetime
    participants: list  # (user, role): role is attendee, presenter, coorganizer or producer
    ad_hoc: bool = False  # a call, not a calendar meeting: never listed by getAllRecordings/getAllTranscripts
    recordings: list = field(default_factory=list)
    transcripts: list = field(default_factory=list)


@dataclass(eq=False)
class Recording:
    id: str
    meeting: Meeting
    size: int
    created: datetime
    correlation_id: str  # contentCorrelationId, shared with the meeting's transcript
    sequence: int  # order of arrival, for delta queries
    call_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    data: bytes | None = None  # real bytes (a playable video) instead of content made on the fly

    @property
    def organizer(self):
        return self.meeting.organizer

    def content(self, start=0, end=None):
        """Bytes start..end (inclusive) of the recording."""
        stop = self.size if end is None else end + 1
        return iter([self.data[start:stop]]) if self.data is not None else content(self.id, start, stop)

    def sha256(self):
        digest = hashlib.sha256()
        for chunk in self.content():
            digest.update(chunk)
        return digest.hexdigest()


@dataclass(eq=False)
class Transcript:
    id: str
    meeting: Meeting
    text: str  # WebVTT
    created: datetime
    correlation_id: str
    sequence: int


@dataclass(eq=False)
class DriveItem:
    id: str
    owner: User
    name: str
    parent: "DriveItem | None"
    folder: bool
    size: int = 0
    mime_type: str = "application/octet-stream"
    modified: datetime = field(default_factory=now)
    children: list = field(default_factory=list)
    data: bytes | None = None  # real bytes (a playable video) instead of content made on the fly

    @property
    def path(self):
        """'/drive/root:' for the root's children, '/drive/root:/Videos' below Videos."""
        names = []
        item = self.parent
        while item is not None and item.parent is not None:
            names.insert(0, item.name)
            item = item.parent
        return "/drive/root:" + "".join(f"/{name}" for name in names)

    @property
    def total_size(self):
        return sum(child.total_size for child in self.children) if self.folder else self.size

    def walk(self):
        for child in self.children:
            yield child
            yield from child.walk()

    def content(self, start=0, end=None):
        """Bytes start..end (inclusive) of the file."""
        stop = self.size if end is None else end + 1
        return iter([self.data[start:stop]]) if self.data is not None else content(self.id, start, stop)


@dataclass
class Faults:
    """Faults to inject, changeable while the server runs. Decisions come from a generator seeded with `seed`."""
    throttle_ratio: float = 0.0  # share of Graph answers that are 429 or 503 with Retry-After
    throttle_next: int = 0  # the next N Graph answers are, whatever the ratio
    throttle_statuses: tuple = (429, 503)
    retry_after: int = 1  # seconds
    cut_ratio: float = 0.0  # share of content downloads that break off halfway
    cut_next: int = 0  # the next N content downloads do, whatever the ratio
    latency: float = 0.0  # seconds before every answer
    chunk_delay: float = 0.0  # seconds after each 64 KiB of content: a slow line
    drop_notifications: float = 0.0  # share of change notifications never sent
    repeat_notifications: float = 0.0  # share of change notifications delivered twice (True: all)
    seed: int = 1

    def __post_init__(self):
        self.reseed(self.seed)

    def reseed(self, seed):
        self.seed, self._random, self._lock = seed, random.Random(seed), threading.Lock()
        self._notifications = random.Random(f"notifications {seed}")  # apart: Graph traffic does not shift it

    def drop_notification(self):
        with self._lock:
            return bool(self.drop_notifications) and self._notifications.random() < self.drop_notifications

    def repeat_notification(self):
        with self._lock:
            return bool(self.repeat_notifications) and self._notifications.random() < self.repeat_notifications

    def throttle(self):
        """The status to answer instead of the real answer, or None."""
        with self._lock:
            if self.throttle_next > 0 or (self.throttle_ratio and self._random.random() < self.throttle_ratio):
                self.throttle_next = max(0, self.throttle_next - 1)
                return self._random.choice(self.throttle_statuses)
        return None

    def cut(self):
        with self._lock:
            if self.cut_next > 0 or (self.cut_ratio and self._random.random() < self.cut_ratio):
                self.cut_next = max(0, self.cut_next - 1)
                return True
        return False


class LoggedRequest(namedtuple("LoggedRequest", "time method path status authorized")):
    """One request the simulator answered. It unpacks as (time, method, path, status, authorized); `query`,
    `client` (app id, user principal name or the client_id sent to the token endpoint), `range` and
    `retry_after` (of a throttled answer) are attributes. `time` is time.monotonic() on arrival."""

    def __new__(cls, time, method, path, status, authorized, *, query="", client="", range="", retry_after=None):
        entry = super().__new__(cls, time, method, path, status, authorized)
        entry.query, entry.client, entry.range, entry.retry_after = query, client, range, retry_after
        return entry

    def as_dict(self):
        return {**self._asdict(), "query": self.query, "client": self.client, "range": self.range,
                "retry_after": self.retry_after}
