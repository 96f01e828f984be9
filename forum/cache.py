"""The page caches: home, space and thread pages for visitors (shared) and for members (each
member's own copy, ``PageCache._serve_member``: what it keeps, for whom, and what makes it
forget is said there and in ``docs/ARCHITECTURE.md``).

It is an ASGI wrapper *around* the Litestar app (``with_page_cache``), so a hit answers before
routing, CSRF, authentication and the template engine run (``reference/stack.md`` §14: that
stack costs two thirds of the ceiling on a visitor request).

What is cached, and why nothing personal is:

- only ``GET`` of ``/``, ``/s/{slug}`` and ``/t/{id}`` (with their query string), without a
  session cookie and without htmx headers, answered 200 ``text/html`` without any cookie set;
- the key holds everything a visitor's page depends on: path and query, the language (cookie,
  then Accept-Language) and the region (``?region=``, then Accept-Language);
- the CSRF token is the one personal thing on a visitor's page (``<body hx-headers>``, the
  language form). A miss is rendered with a fixed placeholder as the CSRF cookie, so the stored
  bytes hold the placeholder, never a token; each response then gets the visitor's own token
  (their valid ``csrftoken`` cookie, or a fresh signed one set as a cookie, exactly as
  Litestar's CSRF middleware would), so forms on a cached page work as on any other.

Invalidation is by generation counters: ``all`` (any change that can alter every page: a
space's name or visibility, a pseudonym), ``lists`` (home and space pages: any new thread,
post or counter), and one per thread. An entry remembers the counters read *before* it was
rendered, so a write committed during rendering makes it stale at once. Writes are seen by
SQLAlchemy session events (flushed objects and ORM ``UPDATE``/``DELETE`` statements), recorded
in ``session.info`` and applied in ``after_commit``: a rolled-back write invalidates nothing.
Entries also expire after ``PAGE_TTL_SECONDS`` (relative dates, such as "il y a 3 minutes").

A miss is rendered once per worker: visitors who ask for the same page while it is being
rendered wait for that render and get its bytes (with their own CSRF token), instead of
rendering it again each (a popular thread just written to, or a cold start under load).

Backends: in-process LRU by default, its counters in a small shared memory-mapped file, so
every worker of one machine sees every write; Redis (entries and counters) when
``FORUM_REDIS_URL`` is set, so any number of processes on any number of machines do.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import mmap
import os
import re
import struct
import tempfile
import threading
import time
import weakref
import zlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs

from litestar.middleware.csrf import generate_csrf_token
from sqlalchemy import event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction
from sqlalchemy.util import await_only

from forum.config import Settings
from forum.db import utcnow
from forum.i18n import LANG_COOKIE, pick_locale
from forum.resources import resolve_region

log = logging.getLogger(__name__)

PAGE_TTL_SECONDS = 60
"""An entry is served at most this long, even without a write (relative dates age)."""

ALL, LISTS, MEMBERS = "all", "lists", "members"
"""``members``: every member's pages (a write whose member could not be told)."""
_THREAD_PATH = re.compile(r"^/t/(\d{1,18})$")
_SPACE_PATH = re.compile(r"^/s/[^/]{1,64}$")
_TOKEN = re.compile(r"^[0-9a-f]{128}$")
INFO_KEY = "page_cache_tags"
_PER_RESPONSE = frozenset({b"x-request-id", b"date", b"server"})
"""Headers that belong to one response and are never replayed from the cache."""


# --- which pages, and which counters they depend on ------------------------------------------


def tags_for_path(path: str) -> tuple[str, ...] | None:
    """The two counters a cacheable page depends on, or None when the path is not cached."""
    if path == "/" or _SPACE_PATH.match(path):
        return (ALL, LISTS)
    found = _THREAD_PATH.match(path)
    if found:
        return (ALL, f"thread:{int(found.group(1))}")
    return None


def member_tag(member_id: int) -> str:
    return f"member:{member_id}"


@dataclass(frozen=True)
class Entry:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    generations: tuple[int, ...]
    stored_at: float

    def fresh(self, generations: tuple[int, ...], now: float) -> bool:
        return self.generations == generations and now - self.stored_at < PAGE_TTL_SECONDS

    def dumps(self) -> bytes:
        head = {
            "s": self.status, "g": list(self.generations), "t": self.stored_at,
            "h": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in self.headers],
        }
        return json.dumps(head).encode() + b"\n" + self.body

    @classmethod
    def loads(cls, raw: bytes) -> Entry:
        head_raw, _, body = raw.partition(b"\n")
        head = json.loads(head_raw)
        return cls(
            status=int(head["s"]), body=body, stored_at=float(head["t"]),
            generations=tuple(int(g) for g in head["g"]),
            headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in head["h"]],
        )


class Backend(Protocol):
    async def lookup(self, key: str, tags: tuple[str, ...]
                     ) -> tuple[Entry | None, tuple[int, ...]]:
        """The entry (if any, fresh or not) and the current generations of ``tags``."""

    async def generations(self, tags: tuple[str, ...]) -> tuple[int, ...]: ...

    async def store(self, key: str, entry: Entry) -> None: ...

    async def bump(self, tags: Iterable[str]) -> None: ...

    async def close(self) -> None: ...


# --- in-process backend -----------------------------------------------------------------------


class GenerationFile:
    """Counters in a memory-mapped file shared by every process of one machine.

    Slot 0 is ``all``, slot 1 ``lists``, slot 2 ``members``, then threads and members
    alternate (by id modulo the slot count: two sharing a slot only invalidate each other a
    little more often).
    """

    SLOTS = 65536

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < self.SLOTS * 8:
                os.ftruncate(fd, self.SLOTS * 8)
            self._map = mmap.mmap(fd, self.SLOTS * 8)
        finally:
            os.close(fd)
        self._lock = threading.Lock()

    def _slot(self, tag: str) -> int:
        fixed = _FIXED_SLOTS.get(tag)
        if fixed is not None:
            return fixed
        kind, _, number = tag.partition(":")
        return 3 + (2 * int(number) + (kind == "member")) % (self.SLOTS - 3)

    def read(self, tags: tuple[str, ...]) -> tuple[int, ...]:
        return tuple(struct.unpack_from("<Q", self._map, self._slot(tag) * 8)[0]
                     for tag in tags)

    def bump(self, tags: Iterable[str]) -> None:
        with self._lock:
            for tag in set(tags):
                offset = self._slot(tag) * 8
                old = struct.unpack_from("<Q", self._map, offset)[0]
                struct.pack_into("<Q", self._map, offset, max(old + 1, time.time_ns()))


_FIXED_SLOTS = {ALL: 0, LISTS: 1, MEMBERS: 2}


def generation_path(database_url: str) -> Path:
    """Beside the SQLite file; for other databases, in the temporary directory."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database + "-pagecache")
    digest = hashlib.sha256(database_url.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"entrepairs-pagecache-{digest}"


class PageLru:
    """Entries by key, least recently used dropped first, bounded in bytes (per process)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._bytes = 0

    def get(self, key: str) -> Entry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: str, entry: Entry) -> None:
        size = len(entry.body) + 512
        if size > self.max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= len(old.body) + 512
        self._entries[key] = entry
        self._bytes += size
        while self._bytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= len(evicted.body) + 512

    def values(self) -> list[Entry]:
        return list(self._entries.values())


class MemoryBackend:
    """An LRU of entries bounded in bytes, per process; counters in a shared file."""

    def __init__(self, generations: GenerationFile, max_bytes: int) -> None:
        self.counters = generations
        self.pages = PageLru(max_bytes)

    async def lookup(self, key: str, tags: tuple[str, ...]
                     ) -> tuple[Entry | None, tuple[int, ...]]:
        return self.pages.get(key), self.counters.read(tags)

    async def generations(self, tags: tuple[str, ...]) -> tuple[int, ...]:
        return self.counters.read(tags)

    async def store(self, key: str, entry: Entry) -> None:
        self.pages.put(key, entry)

    async def bump(self, tags: Iterable[str]) -> None:
        self.counters.bump(tags)

    def bump_now(self, tags: Iterable[str]) -> None:
        self.counters.bump(tags)

    async def close(self) -> None:
        return None


# --- Redis backend ----------------------------------------------------------------------------


class RedisBackend:
    """Entries and counters in Redis: one round trip (MGET) per lookup."""

    def __init__(self, url: str, namespace: str) -> None:
        from forum.redis_pool import RedisClients

        self.url = url
        self.prefix = f"entrepairs:{namespace}:page:"
        # Per event loop, a bounded pool, short timeouts and a breaker: while Redis is away
        # or hung, lookups fail at once (after the first) and the page is rendered instead.
        self._clients = RedisClients(url, pool_size=16, socket_timeout=1)

    def _redis(self) -> Any:
        return self._clients.get()

    def _gen_key(self, tag: str) -> str:
        return f"{self.prefix}gen:{tag}"

    async def lookup(self, key: str, tags: tuple[str, ...]
                     ) -> tuple[Entry | None, tuple[int, ...]]:
        raw, *counters = await self._redis().mget(
            self.prefix + key, *(self._gen_key(tag) for tag in tags)
        )
        entry = Entry.loads(raw) if raw else None
        return entry, tuple(int(c or 0) for c in counters)

    async def generations(self, tags: tuple[str, ...]) -> tuple[int, ...]:
        counters = await self._redis().mget(*(self._gen_key(tag) for tag in tags))
        return tuple(int(c or 0) for c in counters)

    async def store(self, key: str, entry: Entry) -> None:
        await self._redis().set(self.prefix + key, entry.dumps(), ex=PAGE_TTL_SECONDS)

    async def bump(self, tags: Iterable[str]) -> None:
        pipe = self._redis().pipeline(transaction=False)
        for tag in set(tags):
            pipe.incr(self._gen_key(tag))
        await pipe.execute()

    async def close(self) -> None:
        await self._clients.close()


# --- invalidation: SQLAlchemy session events --------------------------------------------------

_registry: dict[str, weakref.WeakSet[Any]] = {}
_INVISIBLE_TABLES = frozenset({"member_session", "notification", "post_revision"})
_MEMBER_PRIVATE = frozenset({"password_hash", "recovery_hash", "locale", "region"})
_SPACE_COUNTERS = frozenset({"thread_count", "last_activity_at"})
_THREAD_KEY = {"thread": "id", "post": "thread_id"}


def _url_of(session: Session) -> str | None:
    bind = session.bind
    url = getattr(bind, "url", None)
    return None if url is None else url.render_as_string(hide_password=False)


def register(database_url: str, backend: Any) -> None:
    """Writes committed on ``database_url`` in this process invalidate ``backend``."""
    normalized = make_url(database_url).render_as_string(hide_password=False)
    _registry.setdefault(normalized, weakref.WeakSet()).add(backend)


def _record(session: Session, tags: Iterable[str]) -> None:
    session.info.setdefault(INFO_KEY, set()).update(tags)


def _changed(obj: object, names: Iterable[str]) -> set[str]:
    state = inspect(obj)
    return {name for name in names if state.attrs[name].history.has_changes()}


def _tags_for_object(obj: object, *, deleted: bool, new: bool) -> set[str]:
    table = getattr(getattr(obj, "__table__", None), "name", "")
    if table in _INVISIBLE_TABLES:
        return set()
    if table == "member":
        if new:
            return set()
        columns = [c.key for c in inspect(obj).mapper.column_attrs]
        return {ALL} if deleted or _changed(obj, columns) - _MEMBER_PRIVATE else set()
    if table == "space":
        if new:
            return {LISTS}
        columns = [c.key for c in inspect(obj).mapper.column_attrs]
        return {ALL} if deleted or _changed(obj, columns) - _SPACE_COUNTERS else {LISTS}
    thread_id = getattr(obj, "id" if table == "thread" else "thread_id", None)
    if isinstance(thread_id, int):
        return {LISTS, f"thread:{thread_id}"}
    return {LISTS}


# Whose pages a write changes. A member's cached pages also depend on every row that points at
# them (their reactions, blocks, follows, notices, warning choices, flags, ...): any write to a
# row with a foreign key to ``member`` counts for the member(s) it names. Sessions are checked
# on every request instead (a session row changes no page), and the moderators' own working
# rows show only on moderators' pages, which are never kept.
_NOT_A_MEMBER_VIEW = frozenset({"member_session", "mod_claim", "mod_pending_decision",
                                "mod_second_opinion"})
_POST_KEYED = frozenset({"reaction"})
"""Rows about a post that change its thread's page for its author (who sees who reacted)."""


def _member_columns(table: Any) -> tuple[Any, ...]:
    found = _MEMBER_COLUMNS.get(table.name)
    if found is None:
        if table.name == "member":
            found = (table.c.id,)
        elif table.name in _NOT_A_MEMBER_VIEW:
            found = ()
        else:
            found = tuple(
                column for column in table.columns
                if any(fk.column.table.name == "member" for fk in column.foreign_keys)
            )
        _MEMBER_COLUMNS[table.name] = found
    return found


_MEMBER_COLUMNS: dict[str, tuple[Any, ...]] = {}


def _thread_of_post(session: Session, post_id: Any) -> str | None:
    """The thread tag of a post this session holds (never a query: this runs in a flush)."""
    for key, obj in list(session.identity_map.items()):
        if key[1] == (post_id,) and getattr(key[0], "__tablename__", "") == "post":
            thread_id = inspect(obj).dict.get("thread_id")
            return f"thread:{thread_id}" if isinstance(thread_id, int) else None
    return None


def _member_tags_for_object(session: Session, obj: object, *, new: bool = False) -> set[str]:
    """Never loads anything: a value a changed object does not hold counts for every member
    (on a new object, a column left unset is empty)."""
    table = getattr(obj, "__table__", None)
    if table is None:
        return set()
    state = inspect(obj)
    tags = set()
    for column in _member_columns(table):
        key = state.mapper.get_property_by_column(column).key
        values = [*state.attrs[key].history.sum(), state.dict.get(key)]
        if not new and key not in state.dict and not state.attrs[key].history.sum():
            tags.add(MEMBERS)
        tags |= {member_tag(value) for value in values if isinstance(value, int)}
    if table.name in _POST_KEYED:
        tags.add(_thread_of_post(session, state.dict.get("post_id")) or MEMBERS)
    return tags


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    tags: set[str] = set()
    for obj in session.new:
        tags |= _tags_for_object(obj, deleted=False, new=True)
        tags |= _member_tags_for_object(session, obj, new=True)
    for obj in session.dirty:
        if session.is_modified(obj, include_collections=False):
            tags |= _tags_for_object(obj, deleted=False, new=False)
            tags |= _member_tags_for_object(session, obj)
    for obj in session.deleted:
        tags |= _tags_for_object(obj, deleted=True, new=False)
        tags |= _member_tags_for_object(session, obj)
    if tags:
        _record(session, tags)


def _equality_value(clause: Any, column_name: str) -> int | None:
    """The value ``column = :value`` in a WHERE clause (alone or in an AND), or None."""
    clauses = getattr(clause, "clauses", None) or [clause]
    for item in clauses:
        left, right = getattr(item, "left", None), getattr(item, "right", None)
        operator = getattr(getattr(item, "operator", None), "__name__", "")
        if operator == "eq" and getattr(left, "name", None) == column_name:
            value = getattr(right, "value", None)
            if isinstance(value, int):
                return value
    return None


def _value_names(statement: Any) -> set[str]:
    values = getattr(statement, "_values", None) or {}
    return {getattr(key, "key", None) or getattr(key, "name", None) or str(key) for key in values}


def tags_for_statement(statement: Any, *, is_delete: bool) -> set[str]:
    """What an ORM ``UPDATE``/``DELETE`` statement may change on visitors' pages."""
    table = getattr(getattr(statement, "table", None), "name", "")
    if table in _INVISIBLE_TABLES:
        return set()
    if table == "member":
        return {ALL} if is_delete or _value_names(statement) - _MEMBER_PRIVATE else set()
    if table == "space":
        return {ALL} if is_delete or _value_names(statement) - _SPACE_COUNTERS else {LISTS}
    if table in _THREAD_KEY:
        thread_id = _equality_value(statement.whereclause, _THREAD_KEY[table])
        return {ALL} if thread_id is None else {LISTS, f"thread:{thread_id}"}
    return {LISTS}


def _inserted_rows(state: ORMExecuteState) -> list[dict[Any, Any]] | None:
    """The rows an INSERT writes, as {column or name: value}; None when they cannot be read
    (``INSERT … SELECT``)."""
    statement = state.statement
    if getattr(statement, "select", None) is not None:
        return None
    values = {key: getattr(bind, "value", bind)
              for key, bind in (getattr(statement, "_values", None) or {}).items()}
    multi = getattr(statement, "_multi_values", None) or ()
    rows = [dict(row) for group in multi for row in group if isinstance(row, dict)]
    parameters = state.parameters
    if isinstance(parameters, dict):
        parameters = [parameters]
    rows += [dict(row) for row in parameters or () if isinstance(row, dict)]
    if values:
        rows = [{**values, **row} for row in rows] or [values]
    return rows


def _value_in(row: dict[Any, Any], column: Any) -> Any:
    for key, value in row.items():
        if key is column or getattr(key, "name", key) == column.name:
            return value
    return None


def member_tags_for_statement(state: ORMExecuteState) -> set[str]:
    """Whose pages an ORM ``INSERT``/``UPDATE``/``DELETE`` changes: the members it names, or
    ``members`` (all) when it does not say which."""
    statement = state.statement
    table = getattr(statement, "table", None)
    if table is None or not hasattr(table, "columns"):
        return set()
    columns = _member_columns(table)
    if not columns and table.name not in _POST_KEYED:
        return set()
    tags: set[str] = set()
    post_ids: list[Any] = []
    if state.is_insert:
        rows = _inserted_rows(state)
        if rows is None:
            return {MEMBERS}
        for row in rows:
            tags |= {member_tag(v) for v in (_value_in(row, c) for c in columns)
                     if isinstance(v, int)}
            post_ids.append(_value_in(row, table.c.post_id) if "post_id" in table.c else None)
    else:
        named = [_equality_value(statement.whereclause, c.name) for c in columns]
        set_to = [_value_in(dict(getattr(statement, "_values", None) or {}), c) for c in columns]
        tags = {member_tag(getattr(v, "value", v)) for v in (*named, *set_to)
                if isinstance(getattr(v, "value", v), int)}
        if not any(isinstance(v, int) for v in named) and table.name not in _THREAD_KEY:
            tags.add(MEMBERS)
        if "post_id" in table.c:
            post_ids.append(_equality_value(statement.whereclause, "post_id"))
    if table.name in _POST_KEYED:
        tags |= {_thread_of_post(state.session, post_id) or MEMBERS for post_id in post_ids}
    return tags


@event.listens_for(Session, "do_orm_execute")
def _on_orm_execute(state: ORMExecuteState) -> None:
    tags: set[str] = set()
    if state.is_update or state.is_delete:
        tags = tags_for_statement(state.statement, is_delete=state.is_delete)
    if state.is_insert or state.is_update or state.is_delete:
        tags |= member_tags_for_statement(state)
    if tags:
        _record(state.session, tags)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    tags = session.info.pop(INFO_KEY, None)
    if not tags:
        return
    url = _url_of(session)
    for backend in list(_registry.get(url or "", ())):
        try:
            if isinstance(backend, MemoryBackend):
                backend.bump_now(tags)
            else:
                await_only(backend.bump(tags))
        except Exception as exc:  # noqa: BLE001 - the write stands; pages expire by TTL
            log.warning("page cache invalidation failed: %s", type(exc).__name__)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    if not session.in_transaction():
        session.info.pop(INFO_KEY, None)


# --- the ASGI wrapper -------------------------------------------------------------------------


def _cookies(raw: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in raw.split(";"):
        name, _, value = part.strip().partition("=")
        if name:
            found.setdefault(name, value)
    return found


class PageCache:
    """ASGI middleware: answers cacheable visitor GETs from ``backend``, fills it on a miss."""

    def __init__(self, app: Any, settings: Settings, backend: Any) -> None:
        from forum.web.auth import csrf_cookie_name, session_cookie_name

        self.app = app
        self.backend = backend
        self.settings = settings
        self.secret = settings.require_secret()
        self.session_cookie = session_cookie_name(settings)
        self.csrf_cookie = csrf_cookie_name(settings)
        self.placeholder = hmac.new(
            self.secret.encode(), b"entrepairs page cache placeholder", hashlib.sha512
        ).hexdigest()
        self._placeholder_bytes = self.placeholder.encode()
        self._csrf_cookie_attrs = "; Path=/; SameSite=lax; HttpOnly" + (
            "; Secure" if settings.https else ""
        )
        self.member_pages = (PageLru(settings.member_page_cache_mb * 1024 * 1024)
                             if settings.member_page_cache_mb > 0 else None)
        self._keys: dict[tuple[str, ...], tuple[str, str]] = {}
        self._rendering: dict[tuple[str, tuple[int, int]], asyncio.Future[Any]] = {}
        self.hits = 0
        self.misses = 0
        self.member_hits = 0
        self._probe: Any = None
        self.member_misses = 0
        self.shared = 0
        """Misses answered by another request's render (single flight)."""

    def __getattr__(self, name: str) -> Any:
        # Tests and tools reach the Litestar app's attributes (state, ...) through the wrapper.
        return getattr(self.app, name)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            try:
                await self.app(scope, receive, send)
            finally:
                await self.backend.close()
                if self._probe is not None:
                    self._probe.close()
            return
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        tags = tags_for_path(scope["path"])
        request = self._request_facts(scope) if tags else None
        if request is None or tags is None:
            await self.app(scope, receive, send)
        elif request["session"]:
            await self._serve_member(scope, receive, send, tags, request)
        else:
            await self._serve(scope, receive, send, tags, request)

    def _request_facts(self, scope: Any) -> dict[str, str] | None:
        cookie_header = accept = ""
        for name, value in scope["headers"]:
            if name == b"cookie":
                cookie_header = value.decode("latin-1")
            elif name == b"accept-language":
                accept = value.decode("latin-1")
            elif name.startswith(b"hx-"):
                return None
        cookies = _cookies(cookie_header) if cookie_header else {}
        session = cookies.get(self.session_cookie, "")
        if (self.member_pages is None) if session else self.settings.page_cache_mb <= 0:
            return None
        return {
            "path": f"{scope['path']}?{scope.get('query_string', b'').decode('latin-1')}",
            "lang": cookies.get(LANG_COOKIE, ""), "accept": accept, "session": session,
            "csrf": cookies.get(self.csrf_cookie, ""),
            "cookie_header": cookie_header,
        }

    def _key(self, facts: dict[str, str], member: Any = None) -> str:
        """Everything a page depends on besides the database: path and query, language and
        region (the member's own choices first), and whose page it is."""
        query = facts["path"].partition("?")[2]
        locale, region = self._locale_region(
            facts["lang"], facts["accept"], query,
            (member.locale or "", member.region or "") if member is not None else ("", ""))
        owner = f"m{member.id}|" if member is not None else ""
        return f"{owner}{facts['path']}|{locale}|{region}"

    def _locale_region(self, lang: str, accept: str, query: str,
                       chosen: tuple[str, str] = ("", "")) -> tuple[str, str]:
        region_query = parse_qs(query).get("region", [""])[0] if "region=" in query else ""
        memo_key = (lang, accept, region_query, *chosen)
        found = self._keys.get(memo_key)
        if found is None:
            locale = pick_locale(member_locale=chosen[0] or None, cookie=lang or None,
                                 accept_language=accept or None,
                                 default=self.settings.default_locale)
            region = resolve_region(query=region_query or None, member_region=chosen[1] or None,
                                    accept_language=accept or None,
                                    default=self.settings.default_region)
            found = (locale, region)
            if len(self._keys) > 4096:
                self._keys.clear()
            self._keys[memo_key] = found
        return found

    async def _serve(
        self, scope: Any, receive: Any, send: Any, tags: tuple[str, ...], facts: dict[str, str]
    ) -> None:
        key = self._key(facts)
        try:
            entry, generations = await self.backend.lookup(key, tags)
        except Exception as exc:  # noqa: BLE001 - fail open: the app answers
            log.warning("page cache lookup failed: %s", type(exc).__name__)
            await self.app(scope, receive, send)
            return
        if entry is not None and entry.fresh(generations, time.time()):
            self.hits += 1
            await self._respond(send, entry.status, entry.headers, entry.body, facts["csrf"])
            return

        async def keep(entry: Entry) -> None:
            try:
                await self.backend.store(key, entry)
            except Exception as exc:  # noqa: BLE001 - a failed fill costs the next request
                log.warning("page cache store failed: %s", type(exc).__name__)

        await self._miss(scope, receive, send, facts, (key, generations), keep)

    async def _miss(
        self, scope: Any, receive: Any, send: Any, facts: dict[str, str],
        flight: tuple[str, tuple[int, ...]], keep: Callable[[Entry], Awaitable[None]], *,
        member: bool = False,
    ) -> None:
        """Render a page that was not in the cache, and ``keep`` it if it may be kept.

        Single flight: while one request renders a page (same key, same generations), the
        others asking for it wait for that render instead of starting their own, so an
        expired popular page is rendered once, not by every request that arrives meanwhile
        (`make bench`: a member's page expiring under 64 connections was rendered by each of
        them, 3 s apiece)."""
        leader = self._rendering.get(flight)
        if leader is not None and leader.get_loop() is not asyncio.get_running_loop():
            leader = None  # another event loop's render (tests): render here, share nothing
        if leader is not None:
            shared = await asyncio.shield(leader)
            if shared is not None:
                self.shared += 1
                await self._respond(send, *shared, facts["csrf"])
                return
        if member:
            self.member_misses += 1
        else:
            self.misses += 1
        future = None
        if flight not in self._rendering:
            future = asyncio.get_running_loop().create_future()
            self._rendering[flight] = future
        result = None
        try:
            status, headers, body = await self._render(scope, receive, facts)
            if self._storable(status, headers, member=member):
                kept = [(k, v) for k, v in headers if k.lower() not in _PER_RESPONSE]
                result = (status, kept, body)
                await keep(Entry(status, kept, body, flight[1], time.time()))
        finally:
            if future is not None:
                # Waiters get only what a cache hit could have given them; otherwise (an
                # error page, a cookie set, a failed render) each renders its own.
                future.set_result(result)
                if self._rendering.get(flight) is future:
                    del self._rendering[flight]
        await self._respond(send, status, headers, body, facts["csrf"])

    async def _serve_member(
        self, scope: Any, receive: Any, send: Any, tags: tuple[str, ...], facts: dict[str, str]
    ) -> None:
        """A member's own copy of the page, kept in this process (never in Redis), for members
        whose pages depend only on the page's counters and their own (``member:{id}``).

        The session is checked here exactly as the app checks it (one statement); anything
        but a plain valid session (ended, to be touched, unknown) goes to the app."""
        pages = self.member_pages
        if pages is None:  # _request_facts never sends a session here then
            await self.app(scope, receive, send)
            return
        try:
            member = await self._member_of(scope, facts["session"])
        except Exception as exc:  # noqa: BLE001 - fail open: the app answers (and checks)
            log.warning("member page cache: session check failed: %s", type(exc).__name__)
            member = None
        if member is None or not pages_are_shared_by(member):
            await self.app(scope, receive, send)
            return
        key = self._key(facts, member)
        tags = (*tags, MEMBERS, member_tag(member.id))
        try:
            generations = await self.backend.generations(tags)
        except Exception as exc:  # noqa: BLE001 - fail open: the app answers
            log.warning("page cache lookup failed: %s", type(exc).__name__)
            await self.app(scope, receive, send)
            return
        entry = pages.get(key)
        if entry is not None and entry.fresh(generations, time.time()):
            self.member_hits += 1
            await self._respond(send, entry.status, entry.headers, zlib.decompress(entry.body),
                                facts["csrf"])
            return

        async def keep(entry: Entry) -> None:
            # Compressed (a thread page: 80 KB → 10 KB; 0.1 ms to open again): many more
            # members' pages fit, and a worker stays small.
            pages.put(key, replace(entry, body=zlib.compress(entry.body, 6)))

        await self._miss(scope, receive, send, facts, (key, generations), keep, member=True)

    async def _member_of(self, scope: Any, token: str) -> Any:
        """The member (or their facts) whose valid session ``token`` is, or None (for the app
        to handle). SQLite with the table store: ``forum.sessions.SessionProbe``, read without
        leaving the event loop; otherwise the session store, as the app reads it."""
        from forum import queries
        from forum.sessions import SessionProbe
        from forum.web.auth import OK, session_verdict

        app_state = self.app.state
        database = app_state.database
        if database.is_sqlite and database.sessions is None:
            if self._probe is None:
                self._probe = SessionProbe(database.url)
            row = self._probe.find(token)
            found = None if row is None else (row, row)
        else:
            async with database.reader() as session:
                found = await queries.get_session_with_member(session, token)
        if found is None:
            return None
        member_session, member = found
        now = app_state.get("clock", utcnow)()
        return member if session_verdict(member_session, member, now, self.settings) == OK \
            else None

    async def _render(
        self, scope: Any, receive: Any, facts: dict[str, str]
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Run the app with the placeholder as CSRF cookie; capture the whole response."""
        others = [
            part for part in facts["cookie_header"].split(";")
            if part.strip() and part.strip().partition("=")[0] != self.csrf_cookie
        ]
        cookie = "; ".join([f"{self.csrf_cookie}={self.placeholder}", *[p.strip() for p in others]])
        headers = [(k, v) for k, v in scope["headers"] if k != b"cookie"]
        headers.append((b"cookie", cookie.encode("latin-1")))
        inner_scope = {**scope, "headers": headers}
        captured: dict[str, Any] = {"status": 500, "headers": [], "body": []}

        async def capture(message: Any) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                captured["body"].append(message.get("body", b""))

        await self.app(inner_scope, receive, capture)
        return captured["status"], captured["headers"], b"".join(captured["body"])

    @staticmethod
    def _storable(status: int, headers: list[tuple[bytes, bytes]], *, member: bool = False
                  ) -> bool:
        """Only a plain 200 HTML page that sets no cookie and allows storing (a member's page
        always says ``no-store``: that is for the browser, and this copy is theirs alone)."""
        if status != 200:
            return False
        content_type = b""
        for name, value in headers:
            lowered = name.lower()
            if lowered == b"set-cookie":
                return False
            if lowered == b"cache-control" and b"no-store" in value.lower() and not member:
                return False
            if lowered == b"content-type":
                content_type = value
        return content_type.startswith(b"text/html")

    async def _respond(
        self, send: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes, csrf: str
    ) -> None:
        """Send ``body`` with the visitor's own CSRF token in place of the placeholder."""
        token = csrf if _TOKEN.match(csrf) else ""
        out = [(k, v) for k, v in headers if k.lower() != b"content-length"]
        if not token:
            token = generate_csrf_token(self.secret)
            out.append((b"set-cookie",
                        f"{self.csrf_cookie}={token}{self._csrf_cookie_attrs}".encode()))
        body = body.replace(self._placeholder_bytes, token.encode())
        out.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": body})


def pages_are_shared_by(member: Any) -> bool:
    """Whether ``member``'s pages depend only on what the counters follow. Not for admins and
    moderators (their pages show queues that other members' writes change), nor for a member
    under a suspension that ends by itself (their page changes with the clock)."""
    from forum.models import Role
    from forum.permissions import is_restricted

    return (member.role == Role.MEMBER and not member.is_peer_moderator
            and not is_restricted(member))


def make_backend(settings: Settings, max_bytes: int) -> Any:
    if settings.redis_url:
        namespace = hashlib.sha256(settings.database_url.encode()).hexdigest()[:12]
        backend: Any = RedisBackend(settings.redis_url, namespace)
    else:
        backend = MemoryBackend(GenerationFile(generation_path(settings.database_url)), max_bytes)
    register(settings.database_url, backend)
    return backend


def with_page_cache(app: Any, settings: Settings) -> Any:
    """``app`` behind the visitor page cache, or ``app`` itself when the cache is off."""
    if settings.page_cache_mb <= 0 and settings.member_page_cache_mb <= 0:
        return app
    return PageCache(app, settings, make_backend(settings, settings.page_cache_mb * 1024 * 1024))
