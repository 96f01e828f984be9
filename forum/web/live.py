"""``/live``: one server-sent-events stream per open page (``forum/live.py``, ``docs/LIVE.md``).

The page's script (``static/js/forum.js``) opens ``/live``, with ``?thread=ID`` on a thread
page. The stream listens to:

- the thread's new posts, when the reader may read the thread (visitors too);
- a member's own notices;
- the moderation queues of the spaces a member moderates (every space for an admin).

Access is checked when the stream opens (a thread the reader may not read answers 404, and a
visitor with nothing to follow gets 204, which tells the browser not to try again) and again
before each event is sent: the session must still be valid, the thread still readable, the
spaces still moderated by this member. An event that fails its check is not sent; a session
that ended closes the stream. Events carry only ids and counts: the page then asks the usual
routes, which check access again.

A stream ends by itself after ``MAX_SECONDS`` (the browser reconnects, and access is checked
anew), and sends a comment every ``KEEPALIVE_SECONDS`` so that proxies keep it open.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.response import Stream
from litestar.response.sse import ServerSentEventMessage
from litestar.status_codes import HTTP_204_NO_CONTENT

from forum import permissions, queries
from forum.db import Database
from forum.live import (
    ALL_QUEUES,
    NOTICES,
    POSTS,
    QUEUE,
    Event,
    LiveBus,
    Subscription,
    member_channel,
    queue_channel,
    thread_channel,
)
from forum.models import Member
from forum.throttle import clock_of
from forum.web.auth import END, session_verdict
from forum.web.context import settings_of, viewer_of
from forum.web.deps import Db

log = logging.getLogger(__name__)

LIVE_PATH = "/live"
KEEPALIVE_SECONDS = 25.0
"""A comment this often: nginx closes an upstream silent for 60 s (``proxy_read_timeout``)."""
MAX_SECONDS = 30 * 60.0
RETRY_MS = 5000
"""How long the browser waits before it reconnects a stream that ended."""

NO_STORE = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


def _thread_id(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise NotFoundException()
    return int(raw)


class Listener:
    """What one stream may hear, checked again before each event."""

    def __init__(self, database: Database, request: Request[Any, Any, Any],
                 member: Member | None, thread_id: int | None, spaces: frozenset[int],
                 admin: bool) -> None:
        self.database = database
        self.request = request
        self.member = member
        self.token = request.scope.get("state", {}).get("session_token")
        self.thread_id = thread_id
        self.spaces = spaces
        self.admin = admin

    def channels(self) -> list[str]:
        channels = []
        if self.thread_id is not None:
            channels.append(thread_channel(self.thread_id))
        if self.member is not None:
            channels.append(member_channel(self.member.id))
            if self.admin:
                channels.append(ALL_QUEUES)
            else:
                channels.extend(queue_channel(space_id) for space_id in sorted(self.spaces))
        return channels

    async def allows(self, event: Event) -> bool | None:
        """True to send ``event``, False to skip it, None when the session ended (the
        stream closes). Checked once per event for each reader of this worker: the streams
        woken together by one event share one check in flight (each asking for itself, 2,000
        visitor streams of a thread took 2.8 s of database reads), and a stream that goes
        away meanwhile does not cancel it for the others. A check that fails (the database
        away) skips the event."""
        key = (self.token, event.channel)
        check = event.checked.get(key)
        if check is None:
            check = event.checked[key] = asyncio.ensure_future(self._check(event))
        try:
            return await asyncio.shield(check)
        except Exception:  # noqa: BLE001 - a hint lost; the page's poll catches up
            log.warning("live event not checked: %s", type(check.exception()).__name__
                        if check.done() and not check.cancelled() else "cancelled")
            return False

    async def _check(self, event: Event) -> bool | None:  # noqa: PLR0911 - one answer per rule
        async with self.database.reader() as session:
            member: Member | None = None
            if self.member is not None:
                found = await queries.get_session_with_member(session, self.token or "")
                if found is None:
                    return None
                member_session, member = found
                settings = settings_of(self.request)
                if session_verdict(member_session, member, clock_of(self.request),
                                   settings) == END:
                    return None
            if event.kind == POSTS:
                try:
                    await queries.get_thread_or_404(session, member, event.data["thread"])
                except (NotFoundException, KeyError):
                    return False
                return True
            if member is None:
                return False
            if event.kind == NOTICES:
                return event.channel == member_channel(member.id)
            if event.kind == QUEUE:
                if permissions.is_restricted(member):
                    return False
                if permissions.is_admin(member):
                    return True
                space_id = event.data.get("space")
                return space_id in await queries.moderated_space_ids(session, member.id)
        return False


async def _events(subscription: Subscription, listener: Listener) -> AsyncIterator[bytes]:
    yield ServerSentEventMessage(data="", event="ready", retry=RETRY_MS).encode()
    ends_at = time.monotonic() + MAX_SECONDS
    while (left := ends_at - time.monotonic()) > 0:
        event = await subscription.next(min(KEEPALIVE_SECONDS, left))
        if event is None:
            yield b": \r\n\r\n"
            continue
        verdict = await listener.allows(event)
        if verdict is None:
            yield ServerSentEventMessage(data="", event="ended").encode()
            return
        if verdict:
            yield ServerSentEventMessage(data=json.dumps(event.data, separators=(",", ":")),
                                         event=event.kind).encode()


@get(LIVE_PATH, name="live")
async def live(request: Request[Any, Any, Any], db: Db) -> Response[Any]:
    bus: LiveBus = request.app.state.live
    viewer = viewer_of(request)
    thread_id = _thread_id(request.query_params.get("thread"))
    if thread_id is not None:
        await queries.get_thread_or_404(db, viewer, thread_id)
    if viewer is None and thread_id is None:
        return Response(content=b"", status_code=HTTP_204_NO_CONTENT, headers=NO_STORE)
    spaces: frozenset[int] = frozenset()
    admin = False
    if viewer is not None and not permissions.is_restricted(viewer):
        admin = permissions.is_admin(viewer)
        if not admin:
            spaces = await queries.moderated_space_ids(db, viewer.id)
    await db.close()  # the stream holds no connection while it waits
    listener = Listener(request.app.state.database, request, viewer, thread_id, spaces, admin)

    async def stream() -> AsyncIterator[bytes]:
        with bus.subscribe(listener.channels()) as subscription:
            async for chunk in _events(subscription, listener):
                yield chunk
        if subscription.dropped:
            log.info("a live stream fell behind: %d hints dropped", subscription.dropped)

    return Stream(stream(), media_type="text/event-stream", headers=NO_STORE)


ROUTES = [live]
