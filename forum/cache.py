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
- the CSRF token is the one personal thing on a visitor's page (``<body data-hx-headers>``, the
  language form). A miss is rendered with a fixed placeholder as the CSRF cookie, so the stored
  bytes hold the placeholder, never a token; each response then gets the visitor's own token
  (their valid ``csrftoken`` cookie, or a fresh signed one set as a cookie, exactly as
  Litestar's CSRF middleware would), so forms on a cached page work as on any other.

Invalidation is by generation counters: ``all`` (any change that can alter every page: a
space's name or visibility, a pseudonym), ``lists`` (home and space pages: any new thread,
post or counter), one per thread, and one per member (their own copies). An entry remembers
the counters read *before* it was rendered, so a write committed during rendering makes it
stale at once. The counters follow what each unit of work's actions declared they changed
(``forum.changes``), bumped after its commit: a rolled-back write invalidates nothing, and no
counter is guessed from SQL statements. Entries also expire after ``PAGE_TTL_SECONDS``
(relative dates, such as "il y a 3 minutes").

A miss is rendered once per worker: visitors who ask for the same page while it is being
rendered wait for that render and get its bytes (with their own CSRF token), instead of
rendering it again each (a popular thread just written to, or a cold start under load).

Backends: in-process LRU by default, its counters in a small shared memory-mapped file, so
every worker of one machine sees every write; Redis (entries and counters) when
``FORUM_REDIS_URL`` is set, so any number of processes on any number of machines do.
"""

from __future__ import annotations

import asyncio
import errno
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
from array import array
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs

from litestar.middleware.csrf import generate_csrf_hash, generate_csrf_token
from sqlalchemy.engine import make_url

from forum import changes
from forum.changes import Changes
from forum.compression import GZIP_SCOPE_KEY, MIN_BYTES, GzipTemplates, with_vary
from forum.config import Settings
from forum.db import utcnow
from forum.i18n import LANG_COOKIE, pick_locale
from forum.packing import open_page, pack_page
from forum.resources import resolve_region

log = logging.getLogger(__name__)

PAGE_TTL_SECONDS = 60
"""An entry is served at most this long, even without a write (relative dates age)."""

ALL, LISTS, MEMBERS = "all", "lists", "members"
"""``members``: every member's pages (a write whose member could not be told)."""
_THREAD_PATH = re.compile(r"^/t/(\d{1,18})$")
_SPACE_PATH = re.compile(r"^/s/[^/]{1,64}$")
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
    cuts: array | None = None
    """A member's copy: ``body`` is packed without the CSRF placeholder, and these are where
    it was (``forum.packing.pack_page``)."""

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

    The file's blocks are allocated for real when it is opened (``posix_fallocate``), never
    left sparse: a process that touches a page of a mapped file with no block behind it, on a
    full disk, is killed by SIGBUS (with one worker the whole server went down, status 135).
    If the blocks cannot be had (the disk is full already), opening fails with ``OSError``
    and ``with_page_cache`` serves without the cache.
    """

    SLOTS = 65536

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            allocate(fd, self.SLOTS * 8)
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


def allocate(fd: int, size: int) -> None:
    """Give the first ``size`` bytes of the open file ``fd`` real blocks (extending it with
    zeros if shorter; what is there is kept). ``OSError`` (ENOSPC) when the disk is full."""
    try:
        os.posix_fallocate(fd, 0, size)
        return
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            raise
    # A filesystem without fallocate: write the zeros (only over what is not there yet).
    have = os.fstat(fd).st_size
    if have < size:
        os.pwrite(fd, bytes(size - have), have)
    os.fsync(fd)


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


# --- invalidation: the declared changes of each unit of work ----------------------------------

_followers = changes.Followers()


def register(database_url: str, backend: Any) -> None:
    """Writes committed on ``database_url`` in this process invalidate ``backend``."""
    _followers.add(database_url, backend)


def tags_for(record: Changes) -> set[str]:
    """The counters of the pages that show what a unit of work declared it changed: every
    page (a space, a pseudonym, a badge), the lists (home and space pages: any post or thread),
    each changed thread's pages, and each member's own copies."""
    tags: set[str] = {member_tag(member_id) for member_id in record.members}
    if record.everyone:
        tags.add(ALL)
    if record.posts or record.threads:
        tags.add(LISTS)
    tags |= {f"thread:{thread_id}" for thread_id in record.threads}
    return tags


async def follow_changes(session: Any, record: Changes) -> None:
    """The page caches follow the declared changes, after the commit (a rolled-back unit of
    work declared nothing that happened)."""
    tags = tags_for(record)
    if not tags:
        return
    for backend in _followers.of(session):
        try:
            await backend.bump(tags)
        except Exception as exc:  # noqa: BLE001 - the write stands; pages expire by TTL
            log.warning("page cache invalidation failed: %s", type(exc).__name__)


changes.view("page caches", after_commit=follow_changes)


# --- the ASGI wrapper -------------------------------------------------------------------------


def _cookies(raw: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in raw.split(";"):
        name, _, value = part.strip().partition("=")
        if name:
            found.setdefault(name, value)
    return found


GZIP_TEMPLATE_BYTES = 4 * 1024 * 1024
"""Per worker: the compressed pages kept ready for gzip hits (``forum.compression.
GzipTemplate``), about 400 thread pages of 10 KB compressed."""


class PageCache:
    """ASGI middleware: answers cacheable visitor GETs from ``backend``, fills it on a miss."""

    def __init__(self, app: Any, settings: Settings, backend: Any) -> None:
        from forum.web.auth import csrf_cookie_name, csrf_token_signed, session_cookie_name

        self.app = app
        self.backend = backend
        self.settings = settings
        self.secret = settings.require_secret()
        self.session_cookie = session_cookie_name(settings)
        self.csrf_cookie = csrf_cookie_name(settings)
        self._signed = csrf_token_signed
        # Signed as Litestar signs its tokens, so the app takes it as a CSRF cookie of its own
        # (forum.web.guard forgets any other); derived from the secret, never sent to anyone.
        seed = hmac.new(self.secret.encode(), b"entrepairs page cache placeholder",
                        hashlib.sha256).hexdigest()
        self.placeholder = seed + generate_csrf_hash(seed, self.secret)
        self._placeholder_bytes = self.placeholder.encode()
        self._csrf_cookie_attrs = "; Path=/; SameSite=lax; HttpOnly" + (
            "; Secure" if settings.https else ""
        )
        self.member_pages = (PageLru(settings.member_page_cache_mb * 1024 * 1024)
                             if settings.member_page_cache_mb > 0 else None)
        self._keys: dict[tuple[str, ...], tuple[str, str]] = {}
        self._rendering: dict[tuple[str, tuple[int, int]], asyncio.Future[Any]] = {}
        self.gzip_templates = GzipTemplates(GZIP_TEMPLATE_BYTES)
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
            "gzip": "1" if scope.get(GZIP_SCOPE_KEY) else "",
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
            if facts["gzip"] and len(entry.body) >= MIN_BYTES:
                template = self.gzip_templates.get((key, entry.stored_at, entry.generations),
                                                   entry.body, self._placeholder_bytes)
                token, cookie = self._token(facts["csrf"])
                compressed = template.render(entry.body, token.encode())
                headers = [(k, v) for k, v in entry.headers if k.lower() != b"content-length"]
                await self._send(send, entry.status, [
                    *with_vary(headers), *cookie, (b"content-encoding", b"gzip"),
                    (b"content-length", str(len(compressed)).encode())], compressed)
                return
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
            token, cookie = self._token(facts["csrf"])
            body = open_page(entry.body, entry.cuts or (), token.encode())
            await self._send_with_length(send, entry.status, entry.headers, cookie, body)
            return

        async def keep(entry: Entry) -> None:
            # Packed (LZ4: an 87 KB thread page to about a third, 14 µs to open again), without its
            # CSRF placeholders: more members' pages fit, a worker stays small, and a hit puts
            # the reader's token in without searching the page for it.
            try:
                packed, cuts = pack_page(entry.body, self._placeholder_bytes)
                pages.put(key, replace(entry, body=packed, cuts=cuts))
            except Exception as exc:  # noqa: BLE001 - a failed fill costs the next request
                log.warning("member page cache store failed: %s", type(exc).__name__)

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
        token, cookie = self._token(csrf)
        body = body.replace(self._placeholder_bytes, token.encode())
        await self._send_with_length(send, status, headers, cookie, body)

    async def _send_with_length(
        self, send: Any, status: int, headers: list[tuple[bytes, bytes]],
        cookie: list[tuple[bytes, bytes]], body: bytes,
    ) -> None:
        out = [(k, v) for k, v in headers if k.lower() != b"content-length"]
        await self._send(send, status, [*out, *cookie,
                                        (b"content-length", str(len(body)).encode())], body)

    def _token(self, csrf: str) -> tuple[str, list[tuple[bytes, bytes]]]:
        """The visitor's CSRF token if this forum signed it, or a new one with the header that
        sets it."""
        if self._signed(csrf, self.secret):
            return csrf, []
        token = generate_csrf_token(self.secret)
        return token, [(b"set-cookie",
                        f"{self.csrf_cookie}={token}{self._csrf_cookie_attrs}".encode())]

    @staticmethod
    async def _send(send: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes
                    ) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
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
        from forum.redis_pool import namespace_of

        backend: Any = RedisBackend(settings.redis_url, namespace_of(settings.database_url))
    else:
        backend = MemoryBackend(GenerationFile(generation_path(settings.database_url)), max_bytes)
    register(settings.database_url, backend)
    return backend


def with_page_cache(app: Any, settings: Settings) -> Any:
    """``app`` behind the visitor page cache, or ``app`` itself when the cache is off, or
    when its counter file cannot be allocated (a full disk: serving without the cache beats
    not serving)."""
    if settings.page_cache_mb <= 0 and settings.member_page_cache_mb <= 0:
        return app
    try:
        backend = make_backend(settings, settings.page_cache_mb * 1024 * 1024)
    except OSError as exc:
        log.warning("page cache off in this process: its counter file cannot be allocated "
                    "(%s)", exc.strerror or type(exc).__name__)
        return app
    return PageCache(app, settings, backend)
