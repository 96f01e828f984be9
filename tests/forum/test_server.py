"""forum/server.py's limits, on a real uvicorn server in the test's event loop (with short
timeouts and a small connection bound): what slow, idle or greedy clients get. The same limits
under a real attack, in a real ``forum run``, are the "slow clients" scenario
(tests/reliability/test_slow_clients.py)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import pytest

from forum import server as guarded
from tests.serving import serving

HOST = "127.0.0.1"


class Gate:
    """A tiny ASGI app: /wait (and /live, a stream to the server) holds its request until
    ``release`` is set; anything else 200."""

    def __init__(self, expected: int = 0) -> None:
        self.release = asyncio.Event()
        self.waiting = 0
        self.expected = expected
        self.all_waiting = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] in ("/wait", "/live"):
            self.waiting += 1
            if self.waiting >= self.expected:
                self.all_waiting.set()
            if not await self._released_before_disconnect(scope, receive):
                return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"),
                                (b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    async def _released_before_disconnect(self, scope: Any, receive: Any) -> bool:
        """Wait for ``release``; a stream (as Litestar's do) also ends when its client
        goes away."""
        if scope["path"] != "/live":
            await self.release.wait()
            return True
        async def disconnected() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        released = asyncio.ensure_future(self.release.wait())
        gone = asyncio.ensure_future(disconnected())
        done, pending = await asyncio.wait({released, gone}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        return released in done


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Everything the server sent until it closed; fails if it did not close in time."""
    received = b""
    deadline = time.monotonic() + seconds
    while True:
        chunk = await asyncio.wait_for(reader.read(65536), max(0.01, deadline - time.monotonic()))
        if not chunk:
            return received
        received += chunk


async def get(port: int, path: str = "/") -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return reader, writer


async def answer(reader: asyncio.StreamReader) -> bytes:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    await asyncio.wait_for(reader.readexactly(2), 5)
    return head


@pytest.fixture
def short_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(guarded, "HEADER_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setattr(guarded, "BODY_TIMEOUT_SECONDS", 0.8)
    monkeypatch.setattr(guarded, "MAX_CONNECTIONS_PER_WORKER", 4)
    monkeypatch.setattr(guarded, "FD_RESERVE", 0)


async def test_a_head_that_never_ends_is_closed_after_the_header_timeout(
    short_limits: None,
) -> None:
    async with serving(Gate()) as port:
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        for number in range(3):  # one more header line now and then: slowloris
            await asyncio.sleep(0.2)
            with contextlib.suppress(ConnectionError):
                writer.write(f"X-{number}: y\r\n".encode())
        assert await closed_within(reader, 4) == b""
        assert 0.4 <= time.monotonic() - started < 3.0
        writer.close()


async def test_a_body_that_never_ends_is_closed_after_the_body_timeout(
    short_limits: None,
) -> None:
    async with serving(Gate()) as port:
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc")
        started = time.monotonic()
        await closed_within(reader, 4)
        assert 0.7 <= time.monotonic() - started < 3.0
        writer.close()


async def test_a_kept_alive_connection_idle_past_the_keep_alive_timeout_is_closed(
    short_limits: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(guarded, "KEEP_ALIVE_SECONDS", 1)
    async with serving(Gate()) as port:
        reader, writer = await get(port)
        assert (await answer(reader)).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        assert await closed_within(reader, 4) == b""
        assert 0.8 <= time.monotonic() - started < 3.5
        writer.close()


async def test_a_huge_head_is_refused_with_431() -> None:
    async with serving(Gate()) as port:
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
        with contextlib.suppress(ConnectionError):
            for number in range(20):
                writer.write(f"X-{number}: {'a' * 8000}\r\n".encode())
                await writer.drain()
        received = await closed_within(reader, 5)
        assert received.startswith(b"HTTP/1.1 431 ")
        writer.close()


async def test_past_the_bound_a_newcomer_closes_the_oldest_connection_still_waiting(
    short_limits: None,
) -> None:
    async with serving(Gate()) as port:
        kept_reader, kept_writer = await get(port)  # a client already answered, kept alive
        assert (await answer(kept_reader)).startswith(b"HTTP/1.1 200")
        silent = [await asyncio.open_connection(HOST, port) for _ in range(3)]
        await asyncio.sleep(0.05)
        reader, writer = await get(port)  # the fifth: one over the bound of four
        assert (await answer(reader)).startswith(b"HTTP/1.1 200")
        assert await closed_within(silent[0][0], 1) == b""  # the oldest silent one went
        kept_writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # the answered one stayed
        assert (await answer(kept_reader)).startswith(b"HTTP/1.1 200")
        for _, w in [*silent, (reader, writer), (kept_reader, kept_writer)]:
            w.close()


async def test_when_every_connection_is_busy_a_new_request_gets_503_with_retry_after(
    short_limits: None,
) -> None:
    app = Gate(expected=4)
    async with serving(app) as port:
        busy = [await get(port, "/wait") for _ in range(4)]
        await asyncio.wait_for(app.all_waiting.wait(), 5)
        reader, writer = await get(port)
        received = await closed_within(reader, 2)
        assert received.startswith(b"HTTP/1.1 503 ")
        assert b"retry-after: 5" in received.lower()
        app.release.set()
        for busy_reader, _ in busy:
            assert (await answer(busy_reader)).startswith(b"HTTP/1.1 200")
        for _, w in [*busy, (reader, writer)]:
            w.close()


def test_the_connection_bound_stays_under_the_open_file_limit() -> None:
    assert guarded.connection_limit(1024) == 1024 - guarded.FD_RESERVE
    assert guarded.connection_limit(65536) == guarded.MAX_CONNECTIONS_PER_WORKER


async def test_live_streams_never_take_the_place_of_other_requests(short_limits: None) -> None:
    app = Gate(expected=6)
    async with serving(app) as port:
        streams = [await get(port, "/live?thread=1") for _ in range(6)]  # over the bound of 4
        await asyncio.wait_for(app.all_waiting.wait(), 5)
        reader, writer = await get(port)
        assert (await answer(reader)).startswith(b"HTTP/1.1 200")
        app.release.set()
        for stream_reader, _ in streams:
            assert (await answer(stream_reader)).startswith(b"HTTP/1.1 200"), "none was closed"
        for _, w in [*streams, (reader, writer)]:
            w.close()


async def test_past_the_stream_bound_a_new_stream_closes_the_oldest(
    short_limits: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(guarded, "MAX_STREAMS_PER_WORKER", 2)
    app = Gate(expected=3)
    async with serving(app) as port:
        oldest = await get(port, "/live")
        await asyncio.sleep(0.05)
        younger = [await get(port, "/live") for _ in range(2)]
        assert await closed_within(oldest[0], 2) == b""
        await asyncio.wait_for(app.all_waiting.wait(), 5)
        app.release.set()
        for stream_reader, _ in younger:
            assert (await answer(stream_reader)).startswith(b"HTTP/1.1 200")
        for _, w in [oldest, *younger]:
            w.close()


async def test_shutting_down_closes_open_streams_at_once() -> None:
    app = Gate(expected=2)
    started = time.monotonic()
    async with serving(app) as port:
        streams = [await get(port, "/live") for _ in range(2)]
        await asyncio.wait_for(app.all_waiting.wait(), 5)
        started = time.monotonic()
    assert time.monotonic() - started < 3.0, "uvicorn's graceful wait was not held by streams"
    for stream_reader, w in streams:
        assert await closed_within(stream_reader, 1) == b""
        w.close()


def test_the_stream_bound_stays_under_the_open_file_limit() -> None:
    room = 4096 - guarded.FD_RESERVE - guarded.connection_limit(4096)
    assert guarded.stream_limit(4096) == room
    assert guarded.stream_limit(1024) == 0
    assert guarded.stream_limit(1 << 20) == guarded.MAX_STREAMS_PER_WORKER
    assert guarded.is_stream(b"/live?thread=3") and guarded.is_stream(b"/live")
    assert not guarded.is_stream(b"/lively") and not guarded.is_stream(b"/t/1/live")


# -- a response's head and body leave together --------------------------------------------------

class Recorder:
    """Stands between JoinedWrites and the socket's transport: what reaches the socket."""

    def __init__(self, transport: Any, writes: list[bytes]) -> None:
        self._transport = transport
        self.writes = writes

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


@pytest.fixture
def socket_writes(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    writes: list[bytes] = []

    class Recorded(guarded.JoinedWrites):
        def __init__(self, transport: Any, loop: Any) -> None:
            super().__init__(Recorder(transport, writes), loop)  # type: ignore[arg-type]

    monkeypatch.setattr(guarded, "JoinedWrites", Recorded)
    return writes


async def test_a_response_head_and_body_reach_the_socket_in_one_write(
    socket_writes: list[bytes],
) -> None:
    async with serving(Gate()) as port:
        reader, writer = await get(port)
        assert (await answer(reader)).startswith(b"HTTP/1.1 200")
        writer.write(b"GET /again HTTP/1.1\r\nHost: x\r\n\r\n")  # kept alive: a second one
        assert (await answer(reader)).startswith(b"HTTP/1.1 200")
        writer.close()
    assert len(socket_writes) == 2
    assert all(w.startswith(b"HTTP/1.1 200") and w.endswith(b"\r\n\r\nok")
               for w in socket_writes)


class SlowBody:
    """Starts its answer, then sends the body only after ``delay`` (a stream's first event)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        await asyncio.sleep(self.delay)
        await send({"type": "http.response.body", "body": b"late", "more_body": True})
        await send({"type": "http.response.body", "body": b""})


async def test_a_head_whose_body_comes_later_is_not_held_for_it(
    socket_writes: list[bytes],
) -> None:
    async with serving(SlowBody(delay=1.5)) as port:
        reader, writer = await get(port)
        started = time.monotonic()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 1.0)
        assert head.startswith(b"HTTP/1.1 200")
        assert time.monotonic() - started < 1.0
        rest = await asyncio.wait_for(reader.readuntil(b"0\r\n\r\n"), 5)
        assert b"late" in rest
        writer.close()
    assert socket_writes[0].endswith(b"\r\n\r\n"), "the head left alone, before the body"


class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.events: list[str] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return "close" in self.events or "abort" in self.events

    def close(self) -> None:
        self.events.append("close")

    def write_eof(self) -> None:
        self.events.append("eof")

    def abort(self) -> None:
        self.events.append("abort")

    def get_write_buffer_size(self) -> int:
        return 10


async def test_what_is_held_is_written_before_closing_and_dropped_on_abort() -> None:
    loop = asyncio.get_running_loop()
    for ending in ("close", "write_eof"):
        fake = FakeTransport()
        joined = guarded.JoinedWrites(fake, loop)  # type: ignore[arg-type]
        joined.write(b"head")
        assert fake.writes == [] and joined.get_write_buffer_size() == 14
        getattr(joined, ending)()
        assert fake.writes == [b"head"]
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert fake.writes == [b"head"], "written once"
    fake = FakeTransport()
    joined = guarded.JoinedWrites(fake, loop)  # type: ignore[arg-type]
    joined.write(b"head")
    joined.abort()
    await asyncio.sleep(0)
    assert fake.writes == [] and fake.events == ["abort"]


async def test_a_piece_held_while_the_transport_closes_is_still_sent_in_order() -> None:
    """asyncio closes a transport itself when the client half-closes, and still sends what it
    is given: a held piece must not be skipped, or the stream would have a hole in it. Once
    the connection is lost, nothing held is written."""
    loop = asyncio.get_running_loop()
    fake = FakeTransport()
    joined = guarded.JoinedWrites(fake, loop)  # type: ignore[arg-type]
    joined.write(b"C")
    fake.events.append("close")  # closed underneath the wrapper
    await asyncio.sleep(0)
    joined.write(b"D")
    joined.write(b"E")
    assert fake.writes == [b"C", b"DE"]
    joined.write(b"F")
    joined.discard()
    await asyncio.sleep(0)
    assert fake.writes == [b"C", b"DE"]
