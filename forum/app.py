"""The composition root: ``create_app(settings)`` builds the Litestar app.

With ``forum/cli.py``, this is the only module of ``forum`` that imports ``moderation``: it
wires moderation's content gate (and, as they come, its routes and template functions) into
the forum. Everything else in ``forum`` depends only on ``forum``.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.config.csrf import CSRFConfig
from litestar.datastructures.state import State
from litestar.middleware import DefineMiddleware
from litestar.template.config import TemplateConfig

from forum import pseudonyms
from forum.cache import with_page_cache
from forum.compression import GzipAnswers
from forum.config import ROOT, Settings
from forum.conversations import ConversationWatch
from forum.db import Database, utcnow
from forum.groups import GroupWatch
from forum.head import AnswerHead
from forum.live import LiveBus
from forum.live import register as register_live
from forum.logging import RequestLogMiddleware, configure_logging
from forum.passwords import Hasher
from forum.privacy import CHARTER_VERSION
from forum.sessions import make_store
from forum.throttle import Throttle
from forum.web import (
    accounts,
    live,
    me,
    pages,
    reading,
    safety,
    shown_code,
    social,
    system,
    writing,
)
from forum.web import conversations as web_conversations
from forum.web import groups as web_groups
from forum.web import notifications as web_notifications
from forum.web import search as web_search
from forum.web.assets import Assets, static_routes
from forum.web.assets import template_globals as asset_globals
from forum.web.auth import (
    MemberAuthentication,
    csrf_cookie_name,
    session_cookie_name,
    sessions_available,
)
from forum.web.deps import DEPENDENCIES
from forum.web.errors import EXCEPTION_HANDLERS
from forum.web.guard import InputGuard
from forum.web.headers import make_before_send
from forum.web.templating import make_engine, make_environment
from moderation import queries as moderation_queries
from moderation import templating as moderation_templating
from moderation import web as moderation_web
from moderation.crisis import load_screen
from moderation.crisis.screen import Screen
from moderation.escalation import WelfareWatch
from moderation.gate import ModerationGate

MAX_REQUEST_BYTES = 256 * 1024
"""Bodies are refused above this (413): a 20,000-character post in UTF-8 is at most 80 KB."""

NOT_AUTHENTICATED_PATHS = ["^/static/", "^/healthz$", "^/robots.txt$", "^/sortie$"]


def make_gate(settings: Settings) -> ModerationGate:
    extra = Path(settings.crisis_lexicon) if settings.crisis_lexicon else None
    return ModerationGate(autoflag=settings.crisis_autoflag == "on", screen=load_screen(extra))


def warm_then_freeze(screen: Screen) -> None:
    """Load the crisis screen's encoder (about a second: not on the first post's time), then
    move what it made out of the garbage collector's way as well."""
    screen.warm()
    gc.freeze()


def create_app(
    settings: Settings | None = None, *, hasher: Hasher | None = None,
    database: Database | None = None,
) -> Litestar:
    settings = settings or Settings.from_env()
    secret = settings.require_secret()
    database = database or Database(settings.database_url)
    if settings.redis_url:
        database.sessions = make_store(settings.redis_url, settings.database_url)
    gate = make_gate(settings)
    assets = Assets(ROOT / "static", watch=settings.env == "development")
    pseudonyms.reserve(settings.reserved_pseudonyms.split(","))
    environment = make_environment({"charter_version": CHARTER_VERSION,
                                    "crisis_level": lambda text: gate.screen_query(text).level,
                                    **social.TEMPLATE_GLOBALS,
                                    **web_notifications.TEMPLATE_GLOBALS,
                                    **moderation_templating.template_globals(),
                                    **asset_globals(assets)},
                                   auto_reload=settings.env == "development")
    configure_logging(settings.log_level)
    throttle = Throttle(settings, database)
    live_bus = LiveBus(settings.redis_url, settings.database_url)
    register_live(settings.database_url, live_bus)
    watch = WelfareWatch(database, after=timedelta(minutes=settings.welfare_escalation_minutes),
                         clock=utcnow)
    group_watch = GroupWatch(database, clock=utcnow)
    conversation_watch = ConversationWatch(
        database, clock=utcnow, wait=timedelta(hours=settings.conversation_wait_hours),
        keep=timedelta(days=settings.conversation_retention_days))

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        watch.clock = lambda: app.state.clock()  # tests move the app's clock
        group_watch.clock = conversation_watch.clock = watch.clock
        watch.start()
        group_watch.start()
        conversation_watch.start()
        # What the process loaded to get here (modules, mappings, templates, the lexicon, then
        # the encoder: about 155,000 objects) lives as long as it does: moved out of the
        # garbage collector's way, so that a full collection, which stops the event loop,
        # walks only what came after (docs/PERFORMANCE.md, "The garbage collector").
        gc.freeze()
        threading.Thread(target=warm_then_freeze, args=(gate.screen,), name="crisis-screen-warm",
                         daemon=True).start()
        try:
            yield
        finally:
            gc.unfreeze()  # an app made and stopped again (tests) leaves nothing uncollectable
            await watch.stop()
            await group_watch.stop()
            await conversation_watch.stop()
            await live_bus.close()
            await throttle.close()
            await database.dispose()

    return Litestar(
        route_handlers=[
            *reading.ROUTES, *writing.ROUTES, *accounts.ROUTES, *pages.ROUTES, *system.ROUTES,
            *me.ROUTES, *moderation_web.ROUTES, *safety.ROUTES,
            *web_search.ROUTES, *web_notifications.ROUTES, *social.ROUTES,
            *shown_code.ROUTES, *live.ROUTES, *web_groups.ROUTES,
            *web_conversations.ROUTES,
            *static_routes(assets),
        ],
        dependencies=DEPENDENCIES,
        guards=[sessions_available],
        middleware=[
            RequestLogMiddleware,
            InputGuard,
            DefineMiddleware(MemberAuthentication, exclude=NOT_AUTHENTICATED_PATHS),
            web_notifications.UnreadCount(more=moderation_queries.header_counts),
        ],
        csrf_config=CSRFConfig(
            secret=secret, cookie_name=csrf_cookie_name(settings), cookie_secure=settings.https,
            cookie_httponly=True, cookie_samesite="lax", header_name="x-csrftoken",
            exclude=NOT_AUTHENTICATED_PATHS,
        ),
        template_config=TemplateConfig(instance=make_engine(environment)),
        exception_handlers=EXCEPTION_HANDLERS,
        before_send=[make_before_send(settings)],
        state=State({
            "throttle": throttle, "clock": utcnow, "welfare_watch": watch,
            "group_watch": group_watch, "conversation_watch": conversation_watch,
            "settings": settings, "database": database, "gate": gate, "live": live_bus,
            "hasher": hasher or Hasher(),
            "search_slots": asyncio.Semaphore(web_search.SEARCH_SLOTS),
        }),
        lifespan=[lifespan],
        openapi_config=None,
        request_max_body_size=MAX_REQUEST_BYTES,
        logging_config=None,
        debug=False,
    )


def create_server_app(settings: Settings | None = None) -> Any:
    """What ``forum run`` serves: ``as_served(create_app(settings), settings)``."""
    settings = settings or Settings.from_env()
    limit_malloc_arenas()
    return as_served(create_app(settings), settings)


def as_served(app: Litestar, settings: Settings) -> Any:
    """``app`` as ``forum run`` serves it, outermost first: HEAD answered as GET without its
    body (``forum/head.py``), text answers gzip-compressed (``forum/compression.py``), the
    page caches (``forum/cache.py``).

    The cache is an ASGI wrapper so that a hit answers before Litestar's middleware runs;
    compression is outside it, so hits are compressed too (after the visitor's own CSRF token
    is written in), and inside ``AnswerHead``, so a HEAD gets its GET's headers.
    ``create_app`` keeps returning the plain Litestar app.
    """
    compressed = GzipAnswers(with_page_cache(app, settings),
                             secret_cookies=(session_cookie_name(settings),
                                             csrf_cookie_name(settings)))
    return AnswerHead(compressed)


MALLOC_ARENAS = 2
"""glibc gives each thread that allocates its own arena (up to eight per core): with the
database driver's threads, a worker's memory fragments across them. Two arenas kept the
benchmark's peak per worker about 10 MB lower (docs/PERFORMANCE.md) at no measurable cost."""


def limit_malloc_arenas() -> None:
    """``mallopt(M_ARENA_MAX, 2)`` in this process, where the C library is glibc; else nothing.
    Called in each worker before the app starts its threads (``MALLOC_ARENA_MAX`` in the
    environment only counts when set before a process starts, which ``forum run`` cannot do
    for the process it runs in)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-8, MALLOC_ARENAS)  # M_ARENA_MAX (malloc.h)
    except (OSError, AttributeError):
        pass
