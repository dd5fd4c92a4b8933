"""Who is signed in, read once per generation of the database (mediaspace/page_cache.py) instead of per request.

SESSION_ENGINE "mediaspace.project.sessions" is Django's database sessions whose rows are kept while the database
has not changed; AuthenticationMiddleware keeps the user of a session the same way. A sign-out, a password
change or a deactivated account is a write, so it takes effect on the next request; a session's expiry is
checked on every request. Each request gets its own copy of the user.
"""
import copy

from django.contrib import auth
from django.contrib.auth import middleware
from django.contrib.sessions.backends import db as database_sessions
from django.db import connection
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from mediaspace.page_cache import kept

KEPT_BYTES = 2048  # what a kept session row or user counts for, against MEDIASPACE_PAGE_CACHE_BYTES


class SessionStore(database_sessions.SessionStore):
    def _get_session_from_db(self):
        generation = kept.request_generation(connection)
        if generation is None:
            return super()._get_session_from_db()
        key = ("session", self.session_key)
        row = kept.get(generation, key)
        if row is None:
            row = super()._get_session_from_db()
            if row is None:
                return None
            kept.put(generation, key, row, KEPT_BYTES + len(row.session_data))
        if row.expire_date <= timezone.now():
            self._session_key = None
            return None
        return copy.copy(row)


def kept_user(request):
    """auth.get_user(request): a function of the session's user, backend and hash, and of the user's row."""
    session = request.session
    key = ("user", session.get(auth.SESSION_KEY), session.get(auth.BACKEND_SESSION_KEY),
           session.get(auth.HASH_SESSION_KEY))
    if key[1] is None:
        return auth.get_user(request)  # nobody signed in: nothing to read
    generation = kept.request_generation(connection)
    user = None if generation is None else kept.get(generation, key)
    if user is None:
        user = auth.get_user(request)
        if generation is None or not user.is_authenticated:
            return user
        kept.put(generation, key, user, KEPT_BYTES)
    return copy.copy(user)


class AuthenticationMiddleware(middleware.AuthenticationMiddleware):
    def process_request(self, request):
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: kept_user(request))
