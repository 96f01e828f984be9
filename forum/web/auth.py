"""Who is asking: the session cookie, checked against the session store (the ``member_session``
table, or Redis with ``FORUM_REDIS_URL``: ``forum/sessions.py``).

The cookie carries a random token that only the server issues (its SHA-256 is stored), so:

- a token the server did not issue is never adopted (it matches no session: the request is a
  visitor's, and nothing is stored for visitors at all);
- logging in issues a new token (a fresh session), logging out deletes it: ids rotate;
- a session ends after ``FORUM_SESSION_IDLE_HOURS`` without use, and ``FORUM_SESSION_MAX_DAYS``
  after log-in whatever its use;
- a session that cannot be checked (Redis or the database away) answers 503 with Retry-After,
  from the guard ``sessions_available``, after the CSRF check has read the form (so the error
  page shows back what was typed); never a 500, and never the page of a visitor.

The known-device cookie (``forum/throttle.py``) is set at log-in, sign-up and recovery, and
kept at log-out.

Litestar's own server-side sessions are not used: they adopt any id a cookie names and store
a session for every visitor (``shared/reference/security.md`` §0.2).
"""

from __future__ import annotations

import hmac
import logging
import re
from datetime import datetime, timedelta
from typing import Any

from litestar import Response
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.exceptions import ServiceUnavailableException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.csrf import generate_csrf_hash

from forum import actions, queries
from forum.config import Settings
from forum.db import Database, commit, is_unavailable
from forum.models import Member, MemberStatus
from forum.throttle import KNOWN_DEVICE_DAYS, clock_of
from forum.web.shown_code import expired_code_cookie

TOUCH_EVERY = timedelta(hours=1)
RETRY_AFTER_SECONDS = 5

log = logging.getLogger("forum.auth")
_HEX = re.compile(r"[0-9a-f]+")


def session_cookie_name(settings: Settings) -> str:
    return "__Host-entrepairs" if settings.https else "entrepairs"


def csrf_cookie_name(settings: Settings) -> str:
    return "__Host-csrftoken" if settings.https else "csrftoken"


def csrf_token_signed(value: str, secret: str) -> bool:
    """Whether *value* is a CSRF token this forum signed with *secret*, as Litestar makes them
    (64 hexadecimal characters, then their HMAC-SHA256). A cookie that is not one, such as a
    token from before the secret key was changed, is replaced on the next page instead of
    failing every form the person sends."""
    if len(value) != 128 or not value.isascii() or not _HEX.fullmatch(value):
        return False
    return hmac.compare_digest(value[64:], generate_csrf_hash(value[:64], secret))


def device_cookie_name(settings: Settings) -> str:
    """The known-device cookie (``forum/throttle.py``): kept at log-out, on purpose."""
    return "__Host-entrepairs-device" if settings.https else "entrepairs-device"


def device_cookie(settings: Settings, value: str) -> Cookie:
    return Cookie(
        key=device_cookie_name(settings), value=value, path="/", httponly=True,
        secure=settings.https, samesite="lax", max_age=KNOWN_DEVICE_DAYS * 86400,
    )


def session_cookie(settings: Settings, token: str, *, remember: bool = True) -> Cookie:
    """``remember``: the cookie outlives the browser (up to ``FORUM_SESSION_MAX_DAYS``), as
    the member asked at log-in ("Rester connecté·e"); otherwise it ends with the browser. The
    session itself ends on the server as always (idle time, absolute end, log-out)."""
    return Cookie(
        key=session_cookie_name(settings), value=token, path="/", httponly=True,
        secure=settings.https, samesite="lax",
        max_age=settings.session_max_days * 86400 if remember else None,
    )


def expired_cookie(settings: Settings, key: str) -> Cookie:
    return Cookie(
        key=key, value="", path="/", httponly=True, secure=settings.https, samesite="lax",
        max_age=0, expires=0,
    )


def set_login_cookies(response: Response[Any], settings: Settings, token: str, *,
                      remember: bool = True) -> None:
    """The new session cookie, and a fresh CSRF token on the next page."""
    response.set_cookie(session_cookie(settings, token, remember=remember))
    response.set_cookie(expired_cookie(settings, csrf_cookie_name(settings)))


def set_logout_cookies(response: Response[Any], settings: Settings) -> None:
    """End the session in the browser too: the cookies, and the cache and storage (htmx's
    history snapshots) that could show the pages read while logged in (SESS-05)."""
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    response.set_cookie(expired_cookie(settings, session_cookie_name(settings)))
    response.set_cookie(expired_cookie(settings, csrf_cookie_name(settings)))
    response.set_cookie(expired_code_cookie(settings))  # a recovery code not yet noted


def session_lifetime(settings: Settings) -> timedelta:
    return timedelta(days=settings.session_max_days)


OK, TOUCH, END = "ok", "touch", "end"


def session_verdict(member_session: Any, member: Member, now: datetime,
                    settings: Settings) -> str:
    """What a request with this session does: END it (member no longer active, past its
    absolute end or idle too long), TOUCH it (first use in TOUCH_EVERY), or nothing (OK)."""
    if (
        member.status != MemberStatus.ACTIVE
        or member_session.expires_at <= now
        or now - member_session.last_seen_at > timedelta(hours=settings.session_idle_hours)
    ):
        return END
    if now - member_session.last_seen_at > TOUCH_EVERY:
        return TOUCH
    return OK


SESSIONS_UNAVAILABLE = "sessions_unavailable"
"""Set in the request's state when its session could not be checked (Redis or the database
away): ``sessions_available`` then answers 503."""


def sessions_available(connection: ASGIConnection[Any, Any, Any, Any], _handler: Any) -> None:
    """Guard of every route: a request whose session could not be checked answers 503 with
    Retry-After. A guard runs after the CSRF check, which has read a form post by then, so
    the error page shows back what was typed; authentication itself runs before both."""
    if connection.scope.get("state", {}).get(SESSIONS_UNAVAILABLE):
        raise ServiceUnavailableException(headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


class MemberAuthentication(AbstractAuthenticationMiddleware):
    """Sets ``request.user`` to the logged-in Member, or None for a visitor."""

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        settings: Settings = connection.app.state.settings
        token = connection.cookies.get(session_cookie_name(settings))
        if not token:
            return AuthenticationResult(user=None, auth=None)
        try:
            return await self._authenticate(connection, settings, token)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            log.warning("session check unavailable: %s", type(exc).__name__)
            connection.scope.setdefault("state", {})[SESSIONS_UNAVAILABLE] = True
            return AuthenticationResult(user=None, auth=None)

    async def _authenticate(self, connection: ASGIConnection[Any, Any, Any, Any],
                            settings: Settings, token: str) -> AuthenticationResult:
        database: Database = connection.app.state.database
        async with database.reader() as session:
            found = await queries.get_session_with_member(session, token)
        if found is None:
            return AuthenticationResult(user=None, auth=None)
        member_session, member = found
        now = clock_of(connection)
        verdict = session_verdict(member_session, member, now, settings)
        if verdict == END:
            async with database.writer() as session:
                await actions.do_end_session(session, token)
                await commit(session)
            return AuthenticationResult(user=None, auth=None)
        if verdict == TOUCH:
            async with database.writer() as session:
                await actions.do_touch_session(session, token, now)
                await commit(session)
        connection.scope.setdefault("state", {})["session_token"] = token
        return AuthenticationResult(user=member, auth=token)
