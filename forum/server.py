"""What ``forum run`` adds to uvicorn so that slow clients and a crashed parent cannot take the
forum down (``docs/RELIABILITY.md``, "Slow clients" and "kill -9 of the parent").

uvicorn closes a connection only when it has been idle for ``timeout_keep_alive`` *after* a
response: a connection that never sends a request, or sends one byte every few seconds, is
kept for ever, and so is its file descriptor. With the systemd default of 1,024 open files,
2,500 such connections locked every visitor out. :class:`GuardedHttpProtocol` (uvicorn's
httptools protocol with four limits) closes:

- a connection whose request line and headers have not all arrived ``HEADER_TIMEOUT_SECONDS``
  after it opened (or after the first byte of a following request on a kept-alive
  connection): slowloris;
- a request whose body has not all arrived ``BODY_TIMEOUT_SECONDS`` after its headers;
- a connection that has not read what it was sent for ``SEND_TIMEOUT_SECONDS``;
- a request head larger than ``MAX_HEAD_BYTES`` (answered 431 at once; httptools has no such
  limit of its own, and uvicorn keeps every header in memory).

Live streams (``GET /live``, ``forum/web/live.py``) are requests that never end: they are
counted apart, up to :func:`stream_limit` per worker, and past that bound a new stream closes
the oldest one (its page reconnects a few seconds later, or keeps its poll). A stream never
takes an ordinary connection's place, and at shutdown streams are closed at once instead of
holding the worker for the graceful timeout.

And it bounds the other connections of one worker (:func:`connection_limit`, under the
open-file limit): past the bound, a new connection closes an idle one (no request in
progress): the one that has waited longest for its first request, or else the one kept
alive longest after a response. So a newcomer always gets in, and a client already answered
is closed last. Only when every connection has a request in progress is a new request
refused at once with a 503 and ``Retry-After``, instead of piling up until the process runs
out of file descriptors.

The worker side of ``forum run --workers N``: :func:`create_worker_app` is the app factory
the workers load; in a worker (a child of uvicorn's supervisor) it first asks Linux to send
the worker SIGTERM when its parent dies (``PR_SET_PDEATHSIG``), so a ``kill -9`` of the
parent never leaves workers holding the port ("Address already in use" on restart).
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import os
import resource
import signal
import sys
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)

HEADER_TIMEOUT_SECONDS = 10.0
"""The request line and every header must have arrived within this (nginx: 60 s by default;
a browser sends them in one packet)."""
BODY_TIMEOUT_SECONDS = 30.0
"""A request body, once its headers are in, must have arrived within this: 256 KB (the
largest body the app takes) is then at least 8.5 KB/s."""
SEND_TIMEOUT_SECONDS = 30.0
"""A client that reads nothing of its response for this long is dropped."""
KEEP_ALIVE_SECONDS = 5
"""uvicorn's ``timeout_keep_alive``: idle time allowed between two requests. nginx's
``keepalive_timeout`` in the ``upstream`` block must be shorter (deploy/nginx.conf: 4 s), so
that nginx never reuses a connection the app is closing."""
MAX_HEAD_BYTES = 64 * 1024
"""Request line plus headers (nginx: 4 × 8 KB by default)."""
MAX_CONNECTIONS_PER_WORKER = 1000
MAX_STREAMS_PER_WORKER = 4000
"""Open live streams per worker (``docs/LIVE.md``: 2,000 were measured within the worker's
memory budget)."""
STREAM_PATH = b"/live"
FD_RESERVE = 256
"""File descriptors kept for everything but client connections: database connections and
their files (SQLite: the file, its WAL and shared memory per pooled connection), Redis, the
page-cache counter file, logs, the listening socket."""

LINGER_SECONDS = 2.0
"""After a refusal, what the client still sends is read and dropped this long."""
_REFUSED_BODY = ("Le forum ne peut pas répondre à cette demande maintenant : réessaie dans un "
                 "instant.\nThe forum cannot answer this request right now: please try again "
                 "in a moment.\n").encode()
RETRY_AFTER_SECONDS = 5


def raise_open_files_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit (children inherit it);
    returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 65536) if soft != resource.RLIM_INFINITY else 65536
    if soft == resource.RLIM_INFINITY or soft >= hard:
        return soft if soft != resource.RLIM_INFINITY else hard
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        return soft
    return hard


def connection_limit(open_files: int | None = None) -> int:
    """The most client connections one worker keeps: ``MAX_CONNECTIONS_PER_WORKER``, or fewer
    when the open-file limit (this process's, or ``open_files``) leaves less than that beside
    ``FD_RESERVE``."""
    soft = open_files or resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS_PER_WORKER
    return min(MAX_CONNECTIONS_PER_WORKER, max(16, soft - FD_RESERVE))


def stream_limit(open_files: int | None = None) -> int:
    """The most live streams one worker keeps: ``MAX_STREAMS_PER_WORKER``, or what the
    open-file limit leaves beside ``FD_RESERVE`` and the ordinary connections."""
    soft = open_files or resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY:
        return MAX_STREAMS_PER_WORKER
    room = soft - FD_RESERVE - connection_limit(open_files)
    return max(0, min(MAX_STREAMS_PER_WORKER, room))


def is_stream(url: bytes) -> bool:
    path = url.split(b"?", 1)[0]
    return path == STREAM_PATH


class JoinedWrites:
    """A transport that holds what is written until the next write or the event loop's next
    turn, so that a response's head and its body leave in one system call.

    uvicorn writes the status line and headers as soon as the app starts its answer, then the
    body: two ``send`` calls (and two packets) for every response. A profile of a worker
    serving members' cached thread pages gave the first of them about a tenth of its time
    (``docs/PERFORMANCE.md``). Here the head waits for the body, which an app sends in the
    same turn of the loop; what is not followed at once (the head of a live stream, the last
    piece of a stream) still leaves at the loop's next turn. Everything else is the wrapped
    transport's."""

    __slots__ = ("_transport", "_loop", "_held", "_release_handle")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._release_handle: asyncio.Handle | None = None

    def write(self, data: bytes) -> None:
        if not data:
            return
        if self._held is None:
            self._held = bytes(data)
            self._release_handle = self._loop.call_soon(self._release)
            return
        held, self._held = self._held, None
        self._cancel_release()
        self._transport.write(held + data)

    def _cancel_release(self) -> None:
        if self._release_handle is not None:
            self._release_handle.cancel()
            self._release_handle = None

    def _release(self) -> None:
        # Written even when the transport is closing: asyncio closes it itself on a client's
        # half-close and still sends what it is given; skipping a piece there would leave a
        # hole in the stream (a later pair of writes would still go out).
        self._release_handle = None
        held, self._held = self._held, None
        if held is not None:
            self._transport.write(held)

    def discard(self) -> None:
        """Forget what is held: the connection is gone."""
        self._cancel_release()
        self._held = None

    def flush(self) -> None:
        """Write what is held now."""
        self._cancel_release()
        self._release()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self.discard()
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + len(self._held or b"")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header, body and send timeouts, a head size limit and
    a bounded number of connections per worker (see the module's docstring), writing each
    response's head and body together (:class:`JoinedWrites`)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        transport = JoinedWrites(transport, self.loop)  # type: ignore[assignment]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._send_deadline: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._head_complete = False
        self._refused = False
        self._over_limit = False
        self._arm(HEADER_TIMEOUT_SECONDS)
        self._idle(kept=False)[self] = None
        if len(self.connections) - len(self._streams()) > self._limit():
            self._make_room()

    # -- bookkeeping ------------------------------------------------------------------------

    def _shared(self, name: str, make: Callable[[], Any]) -> Any:
        """Bookkeeping shared by this server's connections, kept on uvicorn's server state
        (made on first use: the state object is uvicorn's and knows nothing of it)."""
        value = getattr(self.server_state, name, None)
        if value is None:
            value = make()
            setattr(self.server_state, name, value)
        return value

    def _idle(self, *, kept: bool) -> dict[GuardedHttpProtocol, None]:
        """This server's connections with no request in progress, longest idle first: those
        that have not sent a whole request yet (``kept=False``), or those kept alive after a
        response (``kept=True``)."""
        return self._shared("forum_idle_kept" if kept else "forum_idle_new", dict)

    def _streams(self) -> dict[GuardedHttpProtocol, None]:
        """This server's connections serving a live stream, oldest first."""
        return self._shared("forum_streams", dict)

    def _stream_limit(self) -> int:
        return int(self._shared("forum_stream_limit", stream_limit))

    def _not_idle(self) -> None:
        self._idle(kept=False).pop(self, None)
        self._idle(kept=True).pop(self, None)

    def _limit(self) -> int:
        return int(self._shared("forum_connection_limit", connection_limit))

    def _make_room(self) -> None:
        """Close the connection that has waited longest for its first request or, when there
        is none, the one kept alive longest (never this new one): a client that has been
        answered already is closed last. If every other connection has a request in
        progress, this one's request will get a 503."""
        for kept in (False, True):
            for victim in self._idle(kept=kept):
                if victim is not self:
                    victim._drop()
                    return
        self._over_limit = True

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._drop)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _drop(self) -> None:
        """Close the connection now (a timeout, or room made for a newcomer)."""
        self._disarm()
        self._not_idle()
        if not self.transport.is_closing():
            self.transport.close()

    def _refuse(self, status: bytes, headers: bytes = b"") -> None:
        """Answer at once without the app, then close; later parser callbacks do nothing.

        The client may still be sending (the rest of a huge head, a body): closing with
        unread data would reset the connection and lose the answer, so the connection
        half-closes after the answer and reads and drops what still comes for
        ``LINGER_SECONDS`` (nginx's lingering close)."""
        self._refused = True
        self._disarm()
        self._not_idle()
        if self.transport.is_closing():
            return
        self.transport.write(
            b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\n"
            + headers + b"content-length: " + str(len(_REFUSED_BODY)).encode()
            + b"\r\nconnection: close\r\n\r\n" + _REFUSED_BODY
        )
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self._deadline = self.loop.call_later(LINGER_SECONDS, self._drop)
            self._idle(kept=False)[self] = None  # may make room for a newcomer meanwhile
        else:
            self.transport.close()

    # -- uvicorn's hooks ----------------------------------------------------------------------

    def connection_lost(self, exc: Exception | None) -> None:
        if isinstance(self.transport, JoinedWrites):
            self.transport.discard()
        self._streams().pop(self, None)
        self._disarm()
        if self._send_deadline is not None:
            self._send_deadline.cancel()
            self._send_deadline = None
        self._not_idle()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)
        if self._head_bytes > MAX_HEAD_BYTES and not self._refused:
            self._refuse(b"431 Request Header Fields Too Large")

    def on_message_begin(self) -> None:
        if self._refused:
            return
        super().on_message_begin()
        self._head_bytes = 0
        self._head_complete = False
        if self._deadline is None:  # a following request on a kept-alive connection
            self._arm(HEADER_TIMEOUT_SECONDS)

    def on_url(self, url: bytes) -> None:
        self._head_bytes += len(url)
        if not self._refused and self._head_bytes <= MAX_HEAD_BYTES:
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4
        if not self._refused and self._head_bytes <= MAX_HEAD_BYTES:
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        if self._head_bytes > MAX_HEAD_BYTES:
            self._refuse(b"431 Request Header Fields Too Large")
            return
        self._head_complete = True
        self._not_idle()
        if is_stream(self.url):
            if not self._start_stream():
                return
        elif self._over_limit and len(self.connections) - len(self._streams()) > self._limit():
            log.warning("every connection of this worker has a request in progress: "
                        "a new request was answered 503")
            self._refuse(b"503 Service Unavailable",
                         b"retry-after: " + str(RETRY_AFTER_SECONDS).encode() + b"\r\n")
            return
        self._over_limit = False
        self._arm(BODY_TIMEOUT_SECONDS)
        super().on_headers_complete()

    def _start_stream(self) -> bool:
        """This request is a live stream: counted apart; past the bound the oldest stream
        is closed to make room. False when there is no room at all (this one closed)."""
        streams = self._streams()
        streams[self] = None
        while len(streams) > self._stream_limit():
            oldest = next(iter(streams))
            streams.pop(oldest, None)
            oldest._drop()
            if oldest is self:
                return False
        return True

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        self._streams().pop(self, None)
        super().on_response_complete()
        if not self.transport.is_closing() and (self.cycle is None
                                                or self.cycle.response_complete):
            self._not_idle()
            self._idle(kept=True)[self] = None  # now the most recently idle

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown waits for requests in progress: a live stream never
        ends by itself, so it is closed now (its page reconnects to another worker)."""
        if self in self._streams():
            self._streams().pop(self, None)
            self._drop()
            return
        super().shutdown()

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._send_deadline is None:
            self._send_deadline = self.loop.call_later(SEND_TIMEOUT_SECONDS, self._drop)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._send_deadline is not None:
            self._send_deadline.cancel()
            self._send_deadline = None


# -- workers die with their parent --------------------------------------------------------

PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> bool:
    """Linux: this process gets ``sig`` when its parent exits, however it exits. Returns False
    where that cannot be asked (not Linux). Exits at once if the parent is already gone."""
    if not sys.platform.startswith("linux"):
        return False
    parent = multiprocessing.parent_process()
    expected = parent.pid if parent is not None else None
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if expected is not None and os.getppid() != expected:
        # The parent died between this worker's start and the prctl call: nobody would
        # signal it any more.
        os._exit(1)
    return True


GIL_SWITCH_SECONDS = 0.001
"""How long a thread that holds the GIL keeps it while another waits (Python's default: 5 ms).
The content gate reads posts (Markdown, the crisis screen) in worker threads; each time the
event loop takes a step (a query's answer, a new request) it waits for the GIL up to this long,
so at 5 ms a page with a few steps took tens of milliseconds more for everyone while long posts
were being read (docs/RELIABILITY.md, the regex/size scenario)."""


def create_worker_app() -> Any:
    """The app factory ``forum run`` gives uvicorn. In a worker of ``--workers N`` (a process
    uvicorn's supervisor spawned), first tie the worker's life to the supervisor's; with one
    worker uvicorn serves in its own process, which has no supervisor to outlive."""
    if multiprocessing.parent_process() is not None:
        die_with_parent()
    sys.setswitchinterval(GIL_SWITCH_SECONDS)
    from forum.app import create_server_app

    return create_server_app()
