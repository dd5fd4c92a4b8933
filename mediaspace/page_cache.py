"""Pages, and the parts of pages that every viewer shares, kept in memory while the database has not changed.

A GET page of the portal is a function of what the database holds, its address, the user, and the language and
time zone; a category's listing, or an entry's content, is the same for every user (with the same rights). Each
database connection can tell cheaply whether anything was committed since it last looked: on SQLite, `PRAGMA
data_version` (commits by other connections) with the connection's own `total_changes`; on PostgreSQL,
`pg_current_snapshot()` (it moves whenever a transaction that writes begins or ends). When the answer moves, the
process's generation moves on and everything kept is dropped. So an entry's visibility, a user's role, a
membership or anything else stored takes effect on the next request, without an invalidation rule per model.

Not kept: what differs per request. The CSRF token is a placeholder in the kept copy, filled in for each request;
a page with messages to show is never kept nor served from here. Only 200 answers rendered outside a transaction
are kept (inside one, a page could show writes that are then rolled back).
"""
import re
import secrets
import threading
from collections import OrderedDict
from functools import wraps

from django.db import connection
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.utils import timezone, translation

from .conf import setting

CSRF_TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"')
# Random per process: stored text (a caption cue, say) cannot carry it into a kept page to be filled in.
CSRF_PLACEHOLDER = f"\x00csrf-{secrets.token_hex(16)}\x00".encode()


def database_stamp(db):
    """What the connection says of the database's state now (see the module's text), or None on other databases."""
    db.ensure_connection()
    with db.cursor() as cursor:
        if db.vendor == "sqlite":
            cursor.execute("PRAGMA data_version")
            return cursor.fetchone()[0], db.connection.total_changes
        if db.vendor == "postgresql":
            cursor.execute("SELECT pg_current_snapshot()::text")
            return cursor.fetchone()[0]
    return None


class Kept:
    """What this process keeps for its current generation of the database; the least recently used goes first
    beyond MEDIASPACE_PAGE_CACHE_BYTES."""

    def __init__(self):
        self.lock = threading.Lock()
        self.generation = 0
        self.values = OrderedDict()
        self.size = 0

    def look(self, db):
        """Ask the connection whether the database changed since it last looked; return the generation."""
        stamp = database_stamp(db)
        if stamp is None:
            return None
        seen = getattr(db, "kept_stamp", None)
        with self.lock:
            # A new connection, or a change since this connection last looked (which other connections of this
            # process may not have looked for yet): the generation moves on and everything kept is dropped.
            if seen is None or seen[0] is not db.connection or seen[1] != stamp:
                self.generation += 1
                self.values.clear()
                self.size = 0
                db.kept_stamp = (db.connection, stamp)
            return self.generation

    def request_generation(self, db):
        """The generation of the current request's reads, or None: outside a request, keeping off, or inside a
        transaction, whose reads could include writes that are then rolled back. The connection is asked once per
        request, before the first thing kept for the request is read (GenerationMiddleware)."""
        generation = getattr(db, "kept_generation", None)
        if generation is None or db.in_atomic_block:
            return None
        if generation is ASK:
            generation = db.kept_generation = self.look(db)
        return generation

    def get(self, generation, key):
        with self.lock:
            value = self.values.get(key) if generation == self.generation else None
            if value is None:
                return None
            self.values.move_to_end(key)
            return value[0]

    def put(self, generation, key, value, size):
        limit = setting("MEDIASPACE_PAGE_CACHE_BYTES")
        with self.lock:
            if generation != self.generation or size > limit:
                return  # read before a change: it may already be out of date
            if key in self.values:
                self.size -= self.values.pop(key)[1]
            self.values[key] = (value, size)
            self.size += size
            while self.size > limit:
                self.size -= self.values.popitem(last=False)[1][1]


kept = Kept()
ASK = object()  # a request's generation not asked for yet


class GenerationMiddleware:
    """Mark the connection's requests: each asks for the database's generation once, when first needed."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        db = connection
        db.kept_generation = ASK if setting("MEDIASPACE_PAGE_CACHE_BYTES") else None
        try:
            return self.get_response(request)
        finally:
            db.kept_generation = None


def has_messages(request):
    return len(getattr(request, "_messages", ())) > 0


def address_key(request):
    """What besides the database and the user a page depends on."""
    return (request.scheme, request.get_host(), request.get_full_path(), translation.get_language(),
            timezone.get_current_timezone_name())


def kept_html(request, build, *vary):
    """build()'s HTML, the same for every user of the request's address, language and time zone (and `vary`, the
    user's rights where it shows them): kept while the database has not changed. HTML that carries a CSRF token is
    someone's own and is not kept."""
    generation = kept.request_generation(connection)
    if generation is None:
        return build()
    key = ("shared", *vary, *address_key(request))
    html = kept.get(generation, key)
    if html is None:
        html = build()
        if not CSRF_TOKEN.search(html.encode()):
            kept.put(generation, key, html, len(html))
    return html


def without_csrf_tokens(content):
    """The page with each CSRF token it shows replaced by the placeholder, wherever the token appears."""
    for token in set(CSRF_TOKEN.findall(content)):
        content = content.replace(token, CSRF_PLACEHOLDER)
    return content


def kept_while_unchanged(view):
    """Serve the view's page from memory while nothing in the database has changed (MEDIASPACE_PAGE_CACHE_BYTES)."""

    @wraps(view)
    def served(request, *args, **kwargs):
        generation = kept.request_generation(connection)
        if generation is None or request.method != "GET" or has_messages(request):
            return view(request, *args, **kwargs)
        user = request.user
        key = ("page", user.pk if user.is_authenticated else None, *address_key(request))
        page = kept.get(generation, key)
        if page is not None:
            content, headers = page
            if CSRF_PLACEHOLDER in content:
                content = content.replace(CSRF_PLACEHOLDER, get_token(request).encode())
            return HttpResponse(content, headers=headers)
        response = view(request, *args, **kwargs)
        if response.status_code == 200 and not response.streaming and not response.cookies and not has_messages(request):
            content = without_csrf_tokens(response.content)
            kept.put(generation, key, (content, dict(response.headers)), len(content))
        return response

    return served
