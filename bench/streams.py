"""The live streams stage of ``make bench`` (issue 18): what open ``/live`` streams cost.

Twice, each time on a forum of its own (``forum run --workers N`` on the run's copy of the
dataset): first as the rest of the bench serves (no Redis), then with ``FORUM_REDIS_URL``
(``--streams-redis``, when it answers). Every stream of every worker is expected to hear each
reply in both: without Redis the workers pass events to each other as Unix datagrams
(``forum.live.LocalChannel``), with it through pub/sub. With Redis the visitor page cache lives
in Redis too (a lookup is a round trip), so the thread page is compared only on the first
forum, in the configuration of the bench's page figures.

1. (No Redis only) the visitor thread page under ``wrk`` with no stream open (``without``).
   Each run of the page is on copies its own warm-up made (``PageRuns``).
2. ``--streams`` streams per worker opened by visitors (``GET /live?thread=ID``, raw asyncio
   connections, HTTP/1.1 as a browser asks), spread over the first ``--streams-threads`` long
   threads (so an event wakes ``streams / threads`` streams in each worker); each must answer
   200 with ``event: ready``. Which worker holds which stream is read from ``/proc`` (the
   workers' socket inodes against ``/proc/net/tcp``); more are opened while a worker holds
   fewer than asked (the kernel hands connections to whichever worker accepts).
3. Each worker's RSS (``VmRSS``) before any stream, with ``FIRST_STREAMS`` per worker (the
   route's first use), and with all: the cost of a stream is the growth between the last two.
4. ``ROUNDS`` rounds of one reply per thread, posted as the bench member (one at a time, each
   waited for): for each stream, the time from sending the reply (and from its answer) to the
   arrival of its ``event: posts``.
5. (No Redis only) the page under ``wrk`` with the streams open (``with_streams``), one more
   round of replies (the streams must still deliver), and the page again once the streams
   are closed (``without_after``: how far two runs without streams differ is the noise the
   ratios are read against). Peak RSS (``VmHWM``) per worker at the end.

The delivery time includes this client's own work: one Python process reads every stream,
on the same two CPUs as the workers, so the last of a thousand streams is read after the
others (``first_stream_ms``: when the first stream of each reply heard of it).
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import contextlib
import dataclasses
import json
import math
import os
import re
import resource
import sys
import time
import urllib.parse
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.__main__ import (
    member_credentials,
    page_plan,
    run_wrk,
    server_env,
    start,
    stop,
    wait_ready,
    warm_up,
)
from bench.dataset import BENCH_PSEUDONYM, Dataset
from forum.cache import PAGE_TTL_SECONDS

ROUNDS = 3
"""Rounds of replies (one per thread) with the streams open, before the page's run."""
DELIVERY_TIMEOUT = 10.0
"""Seconds a reply's event is waited for; a stream without it by then has lost it."""
FIRST_STREAMS = 100
"""Per worker, opened before the memory reading the cost per stream is counted from."""
OPEN_CONCURRENCY = 50
READY_TIMEOUT = 30.0
TOP_UPS = 10
"""Times more streams are opened when a worker holds fewer than asked (at most half again)."""
RSS_BUDGET_MB = 250.0
DELIVERY_P99_MS = 2000.0
HOST = "127.0.0.1"


# --- the event-stream format (HTTP/1.1 chunks, then server-sent events) ------------------------


class Dechunker:
    """HTTP/1.1 chunked transfer coding, fed as it arrives: returns the body bytes so far."""

    def __init__(self) -> None:
        self._buffer = b""
        self._left = 0
        self._state = "size"
        self.finished = False

    def feed(self, data: bytes) -> bytes:
        self._buffer += data
        out: list[bytes] = []
        while not self.finished:
            if self._state == "size":
                end = self._buffer.find(b"\r\n")
                if end < 0:
                    break
                size = int(self._buffer[:end].split(b";", 1)[0].strip(), 16)
                self._buffer = self._buffer[end + 2:]
                if size == 0:
                    self.finished = True
                    break
                self._left, self._state = size, "data"
            elif self._state == "data":
                if not self._buffer:
                    break
                piece = self._buffer[:self._left]
                out.append(piece)
                self._left -= len(piece)
                self._buffer = self._buffer[len(piece):]
                if self._left == 0:
                    self._state = "end"
            else:
                if len(self._buffer) < 2:
                    break
                if self._buffer[:2] != b"\r\n":
                    raise ValueError("a chunk does not end with CRLF")
                self._buffer = self._buffer[2:]
                self._state = "size"
        return b"".join(out)


_EOL = re.compile(r"\r\n|\r|\n")


class SSEParser:
    """Server-sent events as the HTML standard reads them: lines end with CRLF, LF or CR, a
    blank line dispatches the event when it has data, comments (``:``) and ``id``/``retry``
    are skipped. ``feed`` returns the ``(event, data)`` pairs completed by these bytes."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._buffer = ""
        self._event = ""
        self._data: list[str] = []

    def feed(self, data: bytes) -> list[tuple[str, str]]:
        self._buffer += self._decoder.decode(data)
        events: list[tuple[str, str]] = []
        while (found := _EOL.search(self._buffer)) is not None:
            if found.group() == "\r" and found.end() == len(self._buffer):
                break  # perhaps the first half of a CRLF split between two reads
            line, self._buffer = self._buffer[:found.start()], self._buffer[found.end():]
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def _line(self, line: str) -> tuple[str, str] | None:
        if line == "":
            event, data = self._event or "message", self._data
            self._event, self._data = "", []
            return (event, "\n".join(data)) if data else None
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        return None


# --- the client ---------------------------------------------------------------------------------


class LiveStream(asyncio.Protocol):
    """One visitor's ``/live?thread=ID``: its answer, ``ready``, and each event's arrival
    (``time.monotonic()`` when its bytes were read)."""

    def __init__(self, thread_id: int, port: int, loop: asyncio.AbstractEventLoop) -> None:
        self.thread_id = thread_id
        self.request = (f"GET /live?thread={thread_id} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
                        "Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n").encode()
        self.ready: asyncio.Future[bool] = loop.create_future()
        self.events: list[tuple[float, str, str]] = []
        self.failure = ""
        self.closed = False
        self.local_port = 0
        self.worker = 0
        self.transport: asyncio.Transport | None = None
        self._status: int | None = None
        self._head = b""
        self._chunks: Dechunker | None = None
        self._parser = SSEParser()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.local_port = transport.get_extra_info("sockname")[1]
        self.transport.write(self.request)  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        try:
            if self._status is None:
                data = self._answer(data)
                if self._status is None or self.failure:
                    return
            body = self._chunks.feed(data) if self._chunks is not None else data
        except ValueError as exc:
            self._fail(f"unreadable answer: {exc}")
            return
        for kind, payload in self._parser.feed(body):
            if kind == "ready":
                if not self.ready.done():
                    self.ready.set_result(True)
            else:
                self.events.append((now, kind, payload))

    def _answer(self, data: bytes) -> bytes:
        """The status line and headers; returns what follows them."""
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end < 0:
            return b""
        head, rest = self._head[:end].decode("latin-1"), self._head[end + 4:]
        self._head = b""
        lines = head.split("\r\n")
        self._status = int(lines[0].split()[1])
        headers = {name.strip().lower(): value.strip()
                   for name, _, value in (line.partition(":") for line in lines[1:])}
        kind = headers.get("content-type", "")
        if self._status != 200 or not kind.startswith("text/event-stream"):
            self._fail(f"answered {self._status} {kind}".strip())
            return b""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._chunks = Dechunker()
        return rest

    def _fail(self, reason: str) -> None:
        self.failure = self.failure or reason
        if not self.ready.done():
            self.ready.set_result(False)
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.ready.done():
            self.failure = self.failure or "closed before ready"
            self.ready.set_result(False)

    @property
    def alive(self) -> bool:
        return self.ready.done() and self.ready.result() and not self.closed


async def open_streams(port: int, threads: list[int], count: int, first: int = 0
                       ) -> list[LiveStream]:
    """``count`` streams, ``OPEN_CONCURRENCY`` being opened at a time, each waited for until
    its ``ready`` (or its failure)."""
    loop = asyncio.get_running_loop()
    slots = asyncio.Semaphore(OPEN_CONCURRENCY)

    async def one(index: int) -> LiveStream:
        stream = LiveStream(threads[index % len(threads)], port, loop)
        async with slots:
            try:
                await loop.create_connection(lambda: stream, HOST, port)
                await asyncio.wait_for(asyncio.shield(stream.ready), READY_TIMEOUT)
            except TimeoutError:
                stream._fail("no ready within 30 s")  # noqa: SLF001 - our own class
            except OSError as exc:
                stream.failure = f"connect: {type(exc).__name__}"
                if not stream.ready.done():
                    stream.ready.set_result(False)
        return stream

    return list(await asyncio.gather(*(one(first + i) for i in range(count))))


async def post_reply(port: int, thread_id: int, cookie: str, csrf: str, serial: int
                     ) -> tuple[int, float, float]:
    """One reply as the bench member, as a browser's form sends it: (status, sent, answered),
    times from ``time.monotonic()`` (answered: the answer's head read)."""
    body = urllib.parse.urlencode({
        "_csrf_token": csrf, "idempotency_key": f"benchlive{serial}x{int(time.time())}",
        "body": f"Merci pour ton message {serial}, je me reconnais beaucoup dans ce que tu "
                "décris.",
    }).encode()
    request = (f"POST /t/{thread_id}/reply HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
               f"Cookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
               f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
    sent = time.monotonic()
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        answered = time.monotonic()
        await reader.read()
    finally:
        writer.close()
    return int(head.split(b" ", 2)[1]), sent, answered


# --- the workers, from /proc ----------------------------------------------------------------------


def worker_pids(master: int) -> list[int]:
    from bench.__main__ import children

    pids = []
    for pid in children(master):
        with contextlib.suppress(OSError):
            if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                pids.append(pid)
    return sorted(pids)


def memory_mb(pid: int) -> dict[str, float]:
    """``VmRSS`` (now) and ``VmHWM`` (peak) of ``pid``, in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    found = {name: int(re.search(rf"{name}:\s+(\d+) kB", status).group(1)) / 1024
             for name in ("VmRSS", "VmHWM")}
    return {"rss_mb": round(found["VmRSS"], 1), "peak_rss_mb": round(found["VmHWM"], 1)}


def peers_by_worker(master: int, port: int) -> dict[int, int]:
    """Client port → worker pid, for the established connections to ``port``."""
    peer_of_inode: dict[str, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if fields[3] != "01" or int(fields[1].rsplit(":", 1)[1], 16) != port:
                    continue
                peer_of_inode[fields[9]] = int(fields[2].rsplit(":", 1)[1], 16)
    owner: dict[int, int] = {}
    for pid in worker_pids(master):
        with contextlib.suppress(OSError):
            for fd in os.scandir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(fd.path)
                    if target.startswith("socket:["):
                        peer = peer_of_inode.get(target[8:-1])
                        if peer is not None:
                            owner[peer] = pid
    return owner


def held_by(streams: list[LiveStream], master: int, port: int) -> Counter[int]:
    """Marks each open stream with its worker; returns the open streams per worker."""
    owner = peers_by_worker(master, port)
    held: Counter[int] = Counter({pid: 0 for pid in worker_pids(master)})
    for stream in streams:
        stream.worker = owner.get(stream.local_port, 0) if stream.alive else 0
        if stream.worker:
            held[stream.worker] += 1
    return held


def raise_open_files(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = hard if hard == resource.RLIM_INFINITY else min(hard, max(needed, soft))
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# --- Redis --------------------------------------------------------------------------------------


def redis_answers(url: str) -> bool:
    from redis import Redis

    try:
        client = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - any trouble: not usable
        return False


def forget_run_keys(url: str, database_url: str) -> None:
    """This run's database's keys (sessions, cached pages) in the bench's Redis database
    (``--streams-redis``: 15 by default, the tests use 0): a previous run's copies would
    describe a database that was copied again since."""
    from redis import Redis

    from forum.redis_pool import namespace_of

    client = Redis.from_url(url, socket_timeout=5)
    try:
        keys = list(client.scan_iter(match=f"entrepairs:{namespace_of(database_url)}:*",
                                     count=1000))
        for begin in range(0, len(keys), 1000):
            client.delete(*keys[begin:begin + 1000])
    finally:
        client.close()


async def redis_session(redis_url: str, database_url: str) -> str:
    """A session of the bench member in Redis (with ``FORUM_REDIS_URL`` the forum looks for
    sessions there, not in the dataset's ``member_session`` table)."""
    from sqlalchemy import select

    from forum.db import Database, utcnow
    from forum.models import Member
    from forum.redis_pool import namespace_of
    from forum.sessions import RedisSessions

    database = Database(database_url)
    store = RedisSessions(redis_url, namespace_of(database_url))
    try:
        async with database.reader() as session:
            member = await session.scalar(select(Member).where(Member.pseudonym ==
                                                                BENCH_PSEUDONYM))
            return await store.start(session, member, now=utcnow(), lifetime=timedelta(days=1),
                                     device=None)
    finally:
        await store.close()
        await database.dispose()


# --- figures ------------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    """Nearest rank: the smallest value with at least ``share`` of the values at or below."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None, "max": None}
    return {"p50": round(percentile(values, 0.5), 1), "p99": round(percentile(values, 0.99), 1),
            "max": round(max(values), 1)}


@dataclasses.dataclass
class Delivery:
    """The replies posted with the streams open, and what each stream heard of them. ``lost``:
    streams that should have heard a reply and did not (every stream of its thread, on every
    worker, with or without Redis)."""

    replies: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    since_sent: list[float] = dataclasses.field(default_factory=list)
    since_answered: list[float] = dataclasses.field(default_factory=list)
    reply_ms: list[float] = dataclasses.field(default_factory=list)

    async def round(self, label: str, streams: list[LiveStream], threads: list[int],
                    cookie: str, csrf: str, port: int) -> None:
        for thread_id in threads:
            listening = [s for s in streams if s.thread_id == thread_id and s.alive]
            before = {id(s): len(s.events) for s in listening}
            serial = len(self.replies) + 1
            status, sent, answered = await post_reply(port, thread_id, cookie, csrf, serial)
            self.reply_ms.append((answered - sent) * 1000)
            deadline = sent + DELIVERY_TIMEOUT
            while time.monotonic() < deadline and not self._settled(  # noqa: ASYNC110
                    listening, before):  # a poll: arrival times are taken as bytes are read
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.05)  # a late duplicate would show now
            self.replies.append(self._heard(label, thread_id, status, sent, answered,
                                            listening, before))
            await asyncio.sleep(0.2)

    def _settled(self, listening: list[LiveStream], before: dict[int, int]) -> bool:
        return all(len(s.events) > before[id(s)] for s in listening)

    def _heard(self, label: str, thread_id: int, status: int, sent: float, answered: float,
               listening: list[LiveStream], before: dict[int, int]) -> dict[str, Any]:
        heard, lasts, extra, arrivals = [], Counter(), 0, []
        for stream in listening:
            new = stream.events[before[id(stream)]:]
            if not new:
                continue
            arrival, kind, data = new[0]
            extra += len(new) - 1
            heard.append(stream)
            arrivals.append((arrival - sent) * 1000)
            self.since_sent.append((arrival - sent) * 1000)
            self.since_answered.append((arrival - answered) * 1000)
            with contextlib.suppress(ValueError, TypeError, KeyError):
                lasts[f"{kind} {json.loads(data)['last']}"] += 1
        workers_heard = {s.worker for s in heard}
        return {
            "round": label, "thread": thread_id, "status": status,
            "reply_ms": round((answered - sent) * 1000, 1), "streams": len(listening),
            "heard": len(heard), "workers_heard": len(workers_heard), "extra_events": extra,
            "events": dict(lasts),
            "first_ms": round(min(arrivals), 1) if arrivals else None,
            "last_ms": round(max(arrivals), 1) if arrivals else None,
        }

    def figures(self) -> dict[str, Any]:
        expected = sum(r["streams"] for r in self.replies)
        heard = sum(r["heard"] for r in self.replies)
        late = sum(1 for ms in self.since_sent if ms > DELIVERY_P99_MS)
        return {
            "replies": len(self.replies),
            "answered_303": sum(1 for r in self.replies if r["status"] == 303),
            "expected": expected, "delivered": heard, "lost": expected - heard,
            "later_than_2s": late,
            "since_sent_ms": spread(self.since_sent),
            "since_answered_ms": spread(self.since_answered),
            "reply_ms": spread(self.reply_ms),
            "first_stream_ms": spread([r["first_ms"] for r in self.replies
                                       if r["first_ms"] is not None]),
            "rounds": self.replies,
        }


# --- the stage ----------------------------------------------------------------------------------


def _page(result: dict[str, Any]) -> dict[str, Any]:
    return {k: result[k] for k in ("rps", "p50_ms", "p99_ms", "requests", "errors")}


class PageRuns:
    """The visitor thread page under ``wrk``, each run on copies made by its own warm-up.

    A cached page is kept ``PAGE_TTL_SECONDS`` (60 s) from when it was rendered, and a hit
    does not renew it: a warm-up that finds the previous run's copies still there renders
    nothing, and they expire during the next run, which then renders 200 pages under load (in
    trials, the run after the streams were closed had a p99 of 120 to 145 ms against 8 ms,
    three times out of three). So each run first waits until every copy the previous warm-up
    made has expired (``PAGE_TTL_SECONDS`` after that warm-up ended), and its own warm-up
    renders them all again."""

    def __init__(self, base: str, paths: list[str], args: argparse.Namespace) -> None:
        self.base, self.paths, self.args = base, paths, args
        self.warmed_at: float | None = None
        """When the last warm-up ended (its last copy made)."""
        self.waited = 0.0

    async def run(self, label: str) -> dict[str, Any]:
        if self.warmed_at is not None:
            wait = self.warmed_at + PAGE_TTL_SECONDS + 1 - time.monotonic()
            if wait > 0:
                print(f"streams: waiting {wait:.0f} s for the cached pages to expire",
                      flush=True)
                self.waited += wait
                await asyncio.sleep(wait)
        began = time.monotonic()
        await asyncio.to_thread(warm_up, self.base, self.paths)
        self.warmed_at = time.monotonic()
        warmed = self.warmed_at - began
        result = _page(await asyncio.to_thread(run_wrk, self.base, "paths.lua", self.paths,
                                               self.args, {}, label))
        result["warm_up_seconds"] = round(warmed, 1)
        print(f"streams: thread_visitor {label}: {result['rps']:.0f} req/s, p50 "
              f"{result['p50_ms']} ms, p99 {result['p99_ms']} ms, errors {result['errors']} "
              f"(warmed up in {warmed:.1f} s)", flush=True)
        return result


async def _open(args: argparse.Namespace, server_pid: int, threads: list[int],
                streams: list[LiveStream], per_worker: int) -> Counter[int]:
    """Opens streams until each worker holds ``per_worker`` (or half again the streams asked
    were opened); returns the open streams per worker."""
    asked = per_worker * args.workers
    streams += await open_streams(args.port, threads, asked - len(streams), first=len(streams))
    held = held_by(streams, server_pid, args.port)
    for _ in range(TOP_UPS):
        short = per_worker - min(held.values())
        room = asked + asked // 2 - len(streams)
        if short <= 0 or room <= 0:
            break
        more = min(room, short * args.workers)
        print(f"streams: a worker holds {min(held.values())}: opening {more} more", flush=True)
        streams += await open_streams(args.port, threads, more, first=len(streams))
        held = held_by(streams, server_pid, args.port)
    return held


async def _stage(args: argparse.Namespace, dataset: Dataset, server_pid: int, base: str,
                 redis: bool, pages: bool) -> dict[str, Any]:
    """One forum's figures: streams, memory, delivery, and (``pages``) the thread page."""
    threads = dataset.thread_ids[:args.streams_threads]
    paths = page_plan(dataset, "", "")["thread_visitor"][1]
    cookie, csrf = await asyncio.to_thread(member_credentials, base, dataset)
    runs: dict[str, Any] = {}
    page = PageRuns(base, paths, args)
    if pages:
        runs["without"] = await page.run("without")
    workers = worker_pids(server_pid)
    before = {pid: memory_mb(pid) for pid in workers}

    # A first few streams, so that what the first one costs (the route's first use) is not
    # counted per stream: the cost of a stream is the growth from there to all of them.
    began = time.monotonic()
    streams: list[LiveStream] = []
    first = await _open(args, server_pid, threads, streams, min(FIRST_STREAMS, args.streams))
    await asyncio.sleep(2)  # let the workers settle before reading their memory
    few = {pid: memory_mb(pid) for pid in workers}
    held = await _open(args, server_pid, threads, streams, args.streams)
    took = time.monotonic() - began - 2
    ready = [s for s in streams if s.alive]
    failures = Counter(s.failure for s in streams if s.failure)
    print(f"streams: {len(ready)} of {len(streams)} ready in {took:.1f} s; per worker "
          f"{dict(held)}" + (f"; failures {dict(failures)}" if failures else ""), flush=True)
    await asyncio.sleep(2)
    opened = {pid: memory_mb(pid) for pid in workers}

    delivery = Delivery()
    for number in range(ROUNDS):
        await delivery.round(f"at rest {number + 1}", streams, threads, cookie, csrf, args.port)
    after_events = {pid: memory_mb(pid) for pid in workers}
    if pages:
        runs["with_streams"] = await page.run("with_streams")
        await delivery.round("after the page's run", streams, threads, cookie, csrf, args.port)
    still_open = sum(1 for s in ready if s.alive)
    peak = {pid: memory_mb(pid) for pid in workers}
    figures = delivery.figures()
    print(f"streams: delivered {figures['delivered']} of {figures['expected']}, since sent "
          f"{figures['since_sent_ms']} ms", flush=True)

    for stream in streams:
        if stream.transport is not None:
            stream.transport.close()
    await asyncio.sleep(1)
    if pages:
        runs["without_after"] = await page.run("without_after")
        runs["waited_for_expiry_seconds"] = round(page.waited)
        for label in ("without", "without_after"):
            runs[f"rps_ratio_vs_{label}"] = round(runs["with_streams"]["rps"]
                                                   / runs[label]["rps"], 3)
            runs[f"p99_ratio_vs_{label}"] = round(runs["with_streams"]["p99_ms"]
                                                   / runs[label]["p99_ms"], 3)
    memory = []
    for pid in workers:
        added = held.get(pid, 0) - first.get(pid, 0)
        grown = opened[pid]["rss_mb"] - few[pid]["rss_mb"]
        memory.append({
            "pid": pid, "streams": held.get(pid, 0), "rss_before_mb": before[pid]["rss_mb"],
            "rss_first_streams_mb": few[pid]["rss_mb"], "first_streams": first.get(pid, 0),
            "rss_with_streams_mb": opened[pid]["rss_mb"],
            "rss_after_events_mb": after_events[pid]["rss_mb"],
            "peak_rss_mb": peak[pid]["peak_rss_mb"],
            "kb_per_stream": round(grown * 1024 / added, 1) if added > 0 else None,
        })
    return {
        "redis": redis,
        "streams": {"opened": len(streams), "ready": len(ready), "failures": dict(failures),
                    "per_worker": sorted(held.values()), "threads": threads,
                    "open_seconds": round(took, 1), "still_open_at_the_end": still_open},
        "memory": memory, "client_rss_mb": memory_mb(os.getpid())["rss_mb"],
        "delivery": figures, "thread_visitor": runs or None,
    }


def _on_a_forum(args: argparse.Namespace, dataset: Dataset, database_url: str, redis_url: str,
                pages: bool) -> dict[str, Any]:
    """Starts the forum (with ``FORUM_REDIS_URL`` = ``redis_url`` when set), measures, stops."""
    env = server_env(database_url, args.port)
    log_name = "forum-streams-redis.log" if redis_url else "forum-streams.log"
    if redis_url:
        env["FORUM_REDIS_URL"] = redis_url
        forget_run_keys(redis_url, database_url)
        token = _run(redis_session(redis_url, database_url))
        dataset = dataclasses.replace(dataset, session_token=token)
    print(f"streams: {args.streams} per worker, {args.workers} workers, "
          f"{'events through Redis ' + redis_url if redis_url else 'no Redis'}", flush=True)
    server = start([sys.executable, "-m", "forum.cli", "run", "--port", str(args.port),
                    "--workers", str(args.workers)], env, log_name)
    try:
        wait_ready(f"http://{HOST}:{args.port}/healthz", server, log_name)
        return _run(_stage(args, dataset, server.pid, f"http://{HOST}:{args.port}",
                           bool(redis_url), pages))
    finally:
        stop(server)
        if redis_url:
            with contextlib.suppress(Exception):
                forget_run_keys(redis_url, database_url)


def measure(args: argparse.Namespace, dataset: Dataset, database_url: str) -> dict[str, Any]:
    """The stage (see the module), on forums of its own; returns the results row."""
    began = time.monotonic()
    raise_open_files(args.streams * args.workers * 2 + 1024)
    row: dict[str, Any] = {"page": "live_streams", "rps": None, "workers": args.workers,
                           "streams_per_worker": args.streams}
    row["without_redis"] = _on_a_forum(args, dataset, database_url, "", pages=True)
    redis_url = args.streams_redis
    if redis_url and not redis_answers(redis_url):
        print(f"streams: Redis does not answer at {redis_url}: events across workers are not "
              "measured", flush=True)
        redis_url = ""
    row["with_redis"] = (_on_a_forum(args, dataset, database_url, redis_url, pages=False)
                         if redis_url else None)
    row["targets"] = {"streams_per_worker": args.streams, "rss_mb": RSS_BUDGET_MB,
                      "delivery_p99_ms": DELIVERY_P99_MS}
    row["seconds"] = round(time.monotonic() - began)
    return row


def _run(coroutine: Any) -> Any:
    """With uvloop when it is there (as the forum's workers run): the client reads thousands
    of sockets, and its own delay counts in the delivery times."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def report(row: dict[str, Any]) -> str:
    lines = [f"live streams ({row['workers']} workers, {row['streams_per_worker']} streams "
             f"asked per worker, {row['seconds']} s):"]
    for key in ("without_redis", "with_redis"):
        if row[key] is not None:
            lines += _report_run(row[key])
    return "\n".join(lines)


def _report_run(run: dict[str, Any]) -> list[str]:
    streams, delivery, pages = run["streams"], run["delivery"], run["thread_visitor"]
    per_worker = ", ".join(str(n) for n in streams["per_worker"])
    lines = [f" {'events through Redis' if run['redis'] else 'no Redis'}:",
             f"  {streams['ready']} of {streams['opened']} streams ready (per worker: "
             f"{per_worker}), opened in {streams['open_seconds']} s, over "
             f"{len(streams['threads'])} threads; {streams['still_open_at_the_end']} still "
             "open at the end"]
    if streams["failures"]:
        lines.append(f"  failures: {streams['failures']}")
    for worker in run["memory"]:
        verdict = "within" if worker["peak_rss_mb"] <= RSS_BUDGET_MB else "OVER"
        cost = (f"{worker['kb_per_stream']} KB a stream" if worker["kb_per_stream"] is not None
                else f"no cost per stream: no more asked than the first {FIRST_STREAMS}")
        lines.append(f"  worker {worker['pid']}: {worker['streams']} streams, RSS "
                     f"{worker['rss_before_mb']} → {worker['rss_first_streams_mb']} "
                     f"({worker['first_streams']} streams) → "
                     f"{worker['rss_with_streams_mb']} MB ({cost}), "
                     f"{worker['rss_after_events_mb']} MB after the replies' events, "
                     f"peak {worker['peak_rss_mb']} MB ({verdict} {RSS_BUDGET_MB:.0f} MB)")
    sent, answered = delivery["since_sent_ms"], delivery["since_answered_ms"]
    heard = f"{delivery['delivered']} of {delivery['expected']} delivered"
    lines.append(f"  events: {heard}, {delivery['lost']} lost ({delivery['replies']} replies, "
                 f"{delivery['answered_303']} answered 303), {delivery['later_than_2s']} later "
                 "than 2 s after the reply was sent")
    lines.append(f"  since the reply was sent: p50 {sent['p50']}, p99 {sent['p99']}, max "
                 f"{sent['max']} ms; since its answer: p50 {answered['p50']}, p99 "
                 f"{answered['p99']}, max {answered['max']} ms; first stream of each reply: "
                 f"p50 {delivery['first_stream_ms']['p50']}, max "
                 f"{delivery['first_stream_ms']['max']} ms")
    if pages:
        for label in ("without", "with_streams", "without_after"):
            page = pages[label]
            lines.append(f"  thread_visitor {label:<14} {page['rps']:>8.0f} req/s, p50 "
                         f"{page['p50_ms']} ms, p99 {page['p99_ms']} ms, errors "
                         f"{page['errors']}")
        lines.append(f"  with / without: req/s {pages['rps_ratio_vs_without']}× "
                     f"(vs after: {pages['rps_ratio_vs_without_after']}×), p99 "
                     f"{pages['p99_ratio_vs_without']}× (vs after: "
                     f"{pages['p99_ratio_vs_without_after']}×)")
    return lines
