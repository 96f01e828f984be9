"""Answers compressed with gzip for the clients that accept it (issue 19, "a lighter wire").

An ASGI wrapper, in what ``forum run`` serves (``forum.app.as_served``) outside the page
caches, so that their hits are compressed too, and inside ``AnswerHead``, so that a HEAD gets
the headers its GET would get (``Content-Encoding`` and the compressed length).

What is compressed: an answer (a page, an error page, a static file) whose type is text (HTML,
CSS, JavaScript, SVG, JSON, plain text), of at least ``MIN_BYTES``, with no
``Content-Encoding`` of its own, when the request's ``Accept-Encoding`` gives ``gzip`` (or
``*``) a q-value above zero. The
answer gets ``Content-Encoding: gzip``, its new ``Content-Length``, ``Vary: Accept-Encoding``
(on every answer of those types, compressed or not), a weak ``ETag`` (the bytes differ from the
plain representation's) and no ``Accept-Ranges`` (a range of the gzip stream would be
meaningless to a client asking for a range of the file).

What passes through untouched: other types, 1xx, 204, 206 and 304 answers, a HEAD that
reaches this layer as a HEAD (no body), a body below ``MIN_BYTES``, and a streamed answer
longer than ``MAX_HELD_BYTES`` (its start and first parts are sent as they came once it
outgrows that: nothing is held without bound).

**BREACH.** Compression leaks, through the length of the answer, how much of the page repeats
itself. An attacker who can make a victim's browser send many requests with text of their
choice reflected in the page (a search query) and who can watch the sizes on the wire can
guess, byte by byte, a secret the page holds: here the CSRF token (in every page, and for
a member or a visitor who already has the cookie, the same on every page) and a member's own
page. That attack needs requests sent *by another site* (a page of the attacker's that the
victim has open) carrying the victim's cookies. So an answer to a request that carries one of
``secret_cookies`` (the session cookie, the CSRF cookie) is compressed only when
``Sec-Fetch-Site`` says the request came from the forum's own pages (``same-origin``) or
from the person themselves (``none``: typed, bookmarked). Decided, each way:

- ``cross-site`` and ``same-site`` (a sibling subdomain, which may not be ours): plain.
- ``Sec-Fetch-Site`` absent: plain. Every current browser sends it (Chromium 76, Firefox 90,
  Safari 16.4); a browser that does not cannot tell where a request came from, and guessing
  wrong would expose a member's page, so its members get their pages uncompressed (more
  bytes, nothing worse). A tool (curl, a monitor) sending cookies is treated the same.
- no secret cookie at all (a first visit, a crawler, the page cache's visitors without a
  cookie): compressed whatever the site. Such a page holds a CSRF token drawn for this answer
  alone (set as a cookie with it), so requests cannot converge on it, and no member's data.
- an answer marked ``Cache-Control: public`` (static files only: ``forum/web/headers.py``)
  holds nothing personal by definition: compressed for anyone.

The browser's own header cannot be forged by a page (``Sec-Fetch-*`` are forbidden request
headers), and a tool that forges it has no victim's cookie to send.

Cost: the level is the one measured in ``docs/PERFORMANCE.md`` ("Compression"). A visitor's
cache hit is not compressed here: the page cache answers it already encoded, from the page
compressed once (``GzipTemplate``, below), reading ``GZIP_SCOPE_KEY`` for this layer's
decision.
"""

from __future__ import annotations

import struct
import zlib
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]

LEVEL = 3
"""gzip level of pages (compressed on every request): docs/PERFORMANCE.md ("Compression").
On a 30-post thread page, level 3 took about a third of level 6's time for 15 % more bytes."""
PUBLIC_LEVEL = 6
"""gzip level of answers marked ``public`` (static files): the same bytes for everyone, asked
once per browser under their hashed name, so the smaller output is worth level 6's time."""
MIN_BYTES = 1024
"""Below a kilobyte, gzip's header, trailer and the lost packet-filling gain nothing."""
MAX_HELD_BYTES = 1024 * 1024
"""A streamed answer is held (to be compressed whole) up to this size, then passed on."""

COMPRESSIBLE_TYPES = frozenset({
    b"text/html", b"text/css", b"text/javascript", b"application/javascript",
    b"image/svg+xml", b"application/json", b"text/plain",
})
TRUSTED_FETCH_SITES = frozenset({b"same-origin", b"none"})
"""``Sec-Fetch-Site`` values for which a request carrying a secret cookie is compressed."""
_PLAIN_STATUSES = frozenset({204, 206, 304})
"""No body (204, 304), or a byte range of the plain representation (206)."""


def accepts_gzip(header: str) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip: ``gzip`` (or ``x-gzip``) with a
    q-value above zero, or else ``*`` with one. A q-value that cannot be read counts as zero
    (the plain answer is always acceptable)."""
    explicit: float | None = None
    wildcard: float | None = None
    for item in header.split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        if coding not in ("gzip", "x-gzip", "*"):
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
                if not 0.0 <= quality <= 1.0:
                    quality = 0.0
        if coding == "*":
            wildcard = quality if wildcard is None else max(wildcard, quality)
        else:
            explicit = quality if explicit is None else max(explicit, quality)
    if explicit is not None:
        return explicit > 0
    return wildcard is not None and wildcard > 0


def _cookie_names(header: bytes) -> set[bytes]:
    return {part.partition(b"=")[0].strip() for part in header.split(b";")}


def _media_type(value: bytes) -> bytes:
    return value.partition(b";")[0].strip().lower()


def with_vary(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` with ``Accept-Encoding`` named in ``Vary`` (added to the first ``Vary``,
    or as its own)."""
    for index, (name, value) in enumerate(headers):
        if name.lower() == b"vary":
            named = {part.strip().lower() for part in value.split(b",")}
            if b"accept-encoding" in named or b"*" in named:
                return headers
            out = list(headers)
            out[index] = (name, value + b", Accept-Encoding")
            return out
    return [*headers, (b"vary", b"Accept-Encoding")]


GZIP_SCOPE_KEY = "forum.gzip"
"""Set in the ASGI scope by ``GzipAnswers``: whether this request may get a page (not only a
public file) compressed. The page caches read it to answer a hit from a ``GzipTemplate``."""


def gzip_bytes(body: bytes, level: int = LEVEL) -> bytes:
    """``body`` as a gzip member (RFC 1952), with no file name and no time in its header,
    so the same body always gives the same bytes."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31, 8)  # 31: gzip header and trailer
    return compressor.compress(body) + compressor.flush()


class GzipAnswers:
    """``app``, its text answers gzip-compressed for the requests that may have them."""

    def __init__(self, app: Any, *, secret_cookies: Iterable[str] = (), level: int = LEVEL,
                 public_level: int = PUBLIC_LEVEL, min_bytes: int = MIN_BYTES,
                 max_held_bytes: int = MAX_HELD_BYTES) -> None:
        self.app = app
        self.secret_cookies = frozenset(name.encode("latin-1") for name in secret_cookies)
        self.level = level
        self.public_level = public_level
        self.min_bytes = min_bytes
        self.max_held_bytes = max_held_bytes

    def __getattr__(self, name: str) -> Any:
        # Tests and tools reach the Litestar app's attributes (state, ...) through the wrapper.
        return getattr(self.app, name)

    def request_allows(self, scope: Scope) -> tuple[bool, bool]:
        """(the client accepts gzip, the request may have a personal page compressed)."""
        accept = b""
        fetch_site: bytes | None = None
        secret = False
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                accept = value if not accept else accept + b"," + value
            elif name == b"sec-fetch-site":
                fetch_site = value.strip().lower()
            elif name == b"cookie" and self.secret_cookies and not secret:
                secret = not self.secret_cookies.isdisjoint(_cookie_names(value))
        gzip_ok = bool(accept) and accepts_gzip(accept.decode("latin-1"))
        return gzip_ok, (not secret) or fetch_site in TRUSTED_FETCH_SITES

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] == "HEAD":
            await self.app(scope, receive, send)
            return
        gzip_ok, personal_ok = self.request_allows(scope)
        scope[GZIP_SCOPE_KEY] = gzip_ok and personal_ok
        answer = _Answer(self, send, gzip_ok=gzip_ok, personal_ok=personal_ok)
        await self.app(scope, receive, answer.send)


class _Answer:
    """One response on its way out: passed on as it comes, or held and compressed."""

    def __init__(self, owner: GzipAnswers, send: Any, *, gzip_ok: bool, personal_ok: bool
                 ) -> None:
        self.owner = owner
        self.downstream = send
        self.gzip_ok = gzip_ok
        self.personal_ok = personal_ok
        self.start: Message | None = None
        self.public = False
        self.holding = False
        self.parts: list[bytes] = []
        self.held = 0

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            await self._started(message)
        elif kind == "http.response.body" and self.holding:
            await self._body(message)
        else:
            await self.downstream(message)

    async def _started(self, message: Message) -> None:
        status = message["status"]
        if status < 200 or status in _PLAIN_STATUSES:
            await self.downstream(message)
            return
        headers = message.get("headers", [])
        media_type = b""
        length: int | None = None
        public = False
        for name, value in headers:
            lowered = name.lower()
            if lowered == b"content-type":
                media_type = _media_type(value)
            elif lowered == b"content-length":
                length = int(value) if value.strip().isdigit() else None
            elif lowered == b"cache-control":
                public = b"public" in value.lower()
            elif lowered == b"content-encoding":
                await self.downstream(message)  # already encoded: never twice
                return
        if media_type not in COMPRESSIBLE_TYPES:
            await self.downstream(message)
            return
        message = {**message, "headers": with_vary(headers)}
        if (not self.gzip_ok or not (self.personal_ok or public)
                or (length is not None
                    and not self.owner.min_bytes <= length <= self.owner.max_held_bytes)):
            await self.downstream(message)
            return
        self.start = message
        self.public = public
        self.holding = True

    async def _body(self, message: Message) -> None:
        chunk = message.get("body", b"")
        if chunk:
            self.parts.append(chunk)
            self.held += len(chunk)
        if message.get("more_body", False):
            if self.held > self.owner.max_held_bytes:
                await self._give_up()
            return
        body = b"".join(self.parts)
        self.holding = False
        self.parts = []
        if len(body) < self.owner.min_bytes:
            await self._send_plain(body)
            return
        compressed = gzip_bytes(body, self.owner.public_level if self.public
                                else self.owner.level)
        start = self._held_start()
        headers = [
            (name, value) for name, value in start["headers"]
            if name.lower() not in (b"content-length", b"accept-ranges", b"etag")
        ]
        for name, value in start["headers"]:
            if name.lower() == b"etag":
                headers.append((name, value if value.startswith(b"W/") else b"W/" + value))
        headers += [(b"content-encoding", b"gzip"),
                    (b"content-length", str(len(compressed)).encode())]
        await self.downstream({**start, "headers": headers})
        await self.downstream({"type": "http.response.body", "body": compressed,
                               "more_body": False})

    def _held_start(self) -> Message:
        """The response start held while its body is gathered (set before any body is held)."""
        if self.start is None:
            raise RuntimeError("a response body came before its start")
        return self.start

    async def _send_plain(self, body: bytes) -> None:
        await self.downstream(self._held_start())
        await self.downstream({"type": "http.response.body", "body": body, "more_body": False})

    async def _give_up(self) -> None:
        """Too long to hold: what was held goes on as it came, and the rest as it comes."""
        self.holding = False
        await self.downstream(self._held_start())
        await self.downstream({"type": "http.response.body", "body": b"".join(self.parts),
                               "more_body": True})
        self.parts = []


# -- Cached pages compressed once -----------------------------------------------------------
#
# A cached page differs per visitor only by the CSRF token written in at a placeholder
# (forum/cache.py). Compressing it again on every hit cost more than the hit itself (a 6 KB
# thread page: 8,800 hits/s plain, 4,600/s gzipped, one worker, wrk). A gzip member may hold
# several deflate blocks, and a block may be "stored" (not compressed): so the page is
# compressed once, cut at the placeholder into byte-aligned runs of blocks, and each answer
# puts the visitor's token in between as a stored block. The CRC-32 of the whole is read from
# the plain page and the token by zlib (in C; a page of 40 KB in microseconds).

_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
"""A gzip member's header: deflate, no flags, no time, no extra flags, operating system unknown."""
_LAST_BLOCK = b"\x01\x00\x00\xff\xff"
"""An empty stored block marked final: the end of the deflate stream."""


def _stored(data: bytes) -> bytes:
    """``data`` as stored deflate blocks (not final), from a byte boundary."""
    out = []
    for start in range(0, len(data), 0xFFFF):
        chunk = data[start:start + 0xFFFF]
        out.append(b"\x00" + struct.pack("<HH", len(chunk), len(chunk) ^ 0xFFFF) + chunk)
    return b"".join(out)


@dataclass(frozen=True)
class GzipTemplate:
    """A body compressed once, with a hole wherever its placeholder was."""

    runs: tuple[bytes, ...]
    """Each piece of the body between placeholders, as deflate blocks ending on a byte."""
    spans: tuple[tuple[int, int], ...]
    """Where each piece lies in the body (start, end)."""

    @classmethod
    def build(cls, body: bytes, placeholder: bytes, level: int = PUBLIC_LEVEL) -> GzipTemplate:
        spans, start = [], 0
        while placeholder:
            found = body.find(placeholder, start)
            if found < 0:
                break
            spans.append((start, found))
            start = found + len(placeholder)
        spans.append((start, len(body)))
        runs = []
        for begin, end in spans:
            compressor = zlib.compressobj(level, zlib.DEFLATED, -15, 8)
            runs.append(compressor.compress(body[begin:end]) + compressor.flush(zlib.Z_SYNC_FLUSH))
        return cls(tuple(runs), tuple(spans))

    @property
    def size(self) -> int:
        return sum(len(run) for run in self.runs)

    def render(self, body: bytes, filler: bytes) -> bytes:
        """The gzip member of ``body`` (the one this was built from) with ``filler`` where
        the placeholder was."""
        view = memoryview(body)
        stored = _stored(filler)
        first_begin, first_end = self.spans[0]
        crc = zlib.crc32(view[first_begin:first_end])
        total = first_end - first_begin
        out = [_GZIP_HEADER, self.runs[0]]
        for run, (begin, end) in zip(self.runs[1:], self.spans[1:], strict=True):
            crc = zlib.crc32(view[begin:end], zlib.crc32(filler, crc))
            total += len(filler) + end - begin
            out += [stored, run]
        out += [_LAST_BLOCK, struct.pack("<II", crc, total & 0xFFFFFFFF)]
        return b"".join(out)


class GzipTemplates:
    """This process's templates of cached pages, least recently used dropped past
    ``max_bytes`` (compressed size): at most a few megabytes per worker."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.used = 0
        self._items: OrderedDict[Hashable, GzipTemplate] = OrderedDict()

    def get(self, key: Hashable, body: bytes, placeholder: bytes) -> GzipTemplate:
        """The template of ``key`` (a cached page's key and version), built from ``body``
        when this process has none."""
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
            return found
        template = GzipTemplate.build(body, placeholder)
        if template.size <= self.max_bytes:
            self._items[key] = template
            self.used += template.size
            while self.used > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self.used -= dropped.size
        return template
