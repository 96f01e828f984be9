"""forum/server.py's limits, on a real uvicorn server in the test's event loop (with short
timeouts and a small connection bound): what slow, idle or greedy clients get. The same limits
under a real attack, in a real ``forum run``, are the "slow clients" scenario
(tests/reliability/test_slow_clients.py)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn

from forum import server as guarded

HOST = "127.0.0.1"


class Gate:
    """A tiny ASGI app: /wait holds its request until ``release`` is set; anything else 200."""

    def __init__(self, expected: int = 0) -> None:
        self.release = asyncio.Event()
        self.waiting = 0
        self.expected = expected
        self.all_waiting = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/wait":
            self.waiting += 1
            if self.waiting >= self.expected:
                self.all_waiting.set()
            await self.release.wait()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"),
                                (b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[int]:
    sock = socket.socket()
    sock.bind((HOST, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, http=guarded.GuardedHttpProtocol, log_level="warning",
                            lifespan="off", timeout_keep_alive=guarded.KEEP_ALIVE_SECONDS)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for it
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


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
