"""Live updates: committed changes become events for the pages open on them (issue 18).

A page that JavaScript runs on holds one server-sent-events stream (``forum/web/live.py``).
What travels on it is a *hint*, never content: "your notices changed", "N new posts in this
thread", "this space's moderation queue changed". The page then asks the usual route (the
unread count, the new posts, the welfare count), which checks access as it always does; so a
stream can never show a word its reader may not read, and a lost event costs only the
minute until the page's own poll.

Events come from the declared changes of each unit of work (``forum.changes``), after the
commit, so a rolled-back write tells nobody. The channels:

- ``member:{id}``: that member's notices or own pages changed (``Changes.members``);
- ``thread:{id}``: posts became visible in the thread, up to which number
  (``Changes.newest``);
- ``queue:{space id}`` and ``queue:all``: a space's moderation queue changed
  (``Changes.queues``): its moderators listen to the first, admins to the second.

How events travel (:class:`LiveBus`): in-process, each worker keeps its subscribers' queues
and hands an event to each queue of its channel. With ``FORUM_REDIS_URL`` every worker of
every machine publishes to one Redis pub/sub channel of this forum and listens to it, so an
event published by one process reaches the pages held by all of them. Without Redis, the
processes of one machine (``forum run --workers N``) pass events to each other as Unix
datagrams (:class:`LocalChannel`); processes on other machines need Redis (``docs/LIVE.md``).

Publishing never fails or holds a write: it happens beside the write's answer, and Redis away
means the event is lost and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forum import changes
from forum.changes import Changes
from forum.redis_pool import RedisClients, namespace_of

log = logging.getLogger(__name__)

QUEUE_SIZE = 32
"""Events waiting for one stream. A stream this far behind has a reader who is not reading:
later events are dropped for it (they are hints; the page's poll catches up)."""
PUBLISH_TIMEOUT_SECONDS = 0.5
"""How long one publish may wait for Redis (in the background, after the write answered)."""
RECONNECT_SECONDS = (0.5, 1.0, 2.0, 5.0)
"""Waits between attempts to listen to Redis again after it failed (the last one repeats)."""

NOTICES, POSTS, QUEUE = "notices", "posts", "queue"
ALL_QUEUES = "queue:all"


def member_channel(member_id: int) -> str:
    return f"member:{member_id}"


def thread_channel(thread_id: int) -> str:
    return f"thread:{thread_id}"


def queue_channel(space_id: int) -> str:
    return f"queue:{space_id}"


@dataclass
class Event:
    """One hint for the pages listening to ``channel``."""

    channel: str
    kind: str
    data: dict[str, int] = field(default_factory=dict)
    checked: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)
    """Access checks of this event by the streams of this worker, done or in flight (a key
    per viewer and target: ``forum.web.live.Listener.allows``): many pages of one reader,
    or every visitor of a thread, check once."""

    def as_json(self) -> dict[str, Any]:
        return {"c": self.channel, "k": self.kind, "d": self.data}

    @classmethod
    def from_json(cls, raw: Any) -> Event | None:
        try:
            data = {str(k): int(v) for k, v in dict(raw.get("d") or {}).items()}
            return cls(channel=str(raw["c"]), kind=str(raw["k"]), data=data)
        except (KeyError, TypeError, ValueError, AttributeError):
            return None


def events_for(record: Changes) -> list[Event]:
    """The events a committed unit of work gives."""
    events = [Event(member_channel(member_id), NOTICES) for member_id in sorted(record.members)]
    events += [Event(thread_channel(thread_id), POSTS, {"thread": thread_id, "last": last})
               for thread_id, last in sorted(record.newest.items())]
    for space_id in sorted(record.queues):
        events.append(Event(queue_channel(space_id), QUEUE, {"space": space_id}))
        events.append(Event(ALL_QUEUES, QUEUE, {"space": space_id}))
    return events


class Subscription:
    """One stream's queue of events, for as long as the stream lasts."""

    def __init__(self, channels: frozenset[str]) -> None:
        self.channels = channels
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self.dropped = 0

    def offer(self, event: Event) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1

    async def next(self, within: float) -> Event | None:
        """The next event, or None after ``within`` seconds without one (a timer on the
        stream's own task: ``wait_for`` would add a task per waiting stream)."""
        try:
            async with asyncio.timeout(within):
                return await self.queue.get()
        except TimeoutError:
            return None


LOCAL_DATAGRAM_BYTES = 60_000
"""Largest payload sent between local processes in one datagram (a commit's events are a few
hundred bytes; a larger batch is cut in several)."""


def local_directory(database_url: str) -> Path:
    """Where the processes of one forum on this machine meet (one directory per database, in
    the system's temporary directory: a Unix socket's path must stay under 108 bytes)."""
    name = f"entrepairs-{os.getuid()}-{namespace_of(database_url)[:16]}"
    return Path(tempfile.gettempdir()) / name


class LocalChannel:
    """Events between the processes of one machine without Redis (``forum run --workers N``).

    Each process that holds streams binds a Unix datagram socket in the forum's private
    directory (``local_directory``, mode 0700); a publish is one datagram to each other socket
    there: no broker, no polling, nothing to run. A socket whose process died refuses the
    datagram and is removed; a receiver too busy to read drops it (events are hints)."""

    def __init__(self, directory: Path, received: Callable[[bytes], None]) -> None:
        self.directory = directory
        self.received = received
        self.path = directory / f"{os.getpid()}-{id(self):x}.sock"
        self._sock: socket.socket | None = None
        self._sender: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _private_directory(self) -> bool:
        try:
            self.directory.mkdir(mode=0o700, exist_ok=True)
            found = self.directory.stat()
        except OSError as exc:
            log.warning("live events: no local directory: %s", type(exc).__name__)
            return False
        if found.st_uid != os.getuid() or found.st_mode & 0o077:
            log.warning("live events: %s is not private to this user; not used", self.directory)
            return False
        return True

    def listen(self) -> None:
        """Bind this process's socket (once per event loop) and read it on the loop."""
        loop = asyncio.get_running_loop()
        if self._sock is not None and self._loop is loop:
            return
        self.close()
        if not self._private_directory():
            return
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.setblocking(False)
        try:
            sock.bind(str(self.path))
        except OSError as exc:
            sock.close()
            log.warning("live events: local socket not bound: %s", type(exc).__name__)
            return
        self._sock, self._loop = sock, loop
        loop.add_reader(sock.fileno(), self._readable)

    def _readable(self) -> None:
        while self._sock is not None:
            try:
                data = self._sock.recv(LOCAL_DATAGRAM_BYTES + 1024)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            self.received(data)

    def send(self, payload: bytes) -> None:
        """One datagram to every other process of this forum that listens; never blocks."""
        try:
            peers = [path for path in self.directory.iterdir()
                     if path.suffix == ".sock" and path != self.path]
        except OSError:
            return  # nobody listens yet
        if not peers:
            return
        if self._sender is None:
            self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sender.setblocking(False)
        for peer in peers:
            try:
                self._sender.sendto(payload, str(peer))
            except (ConnectionRefusedError, FileNotFoundError):
                with contextlib.suppress(OSError):  # its process is gone
                    peer.unlink()
            except (BlockingIOError, InterruptedError):
                log.info("live events: a local process is behind; a hint dropped")
            except OSError as exc:
                log.warning("live events: not sent to a local process: %s",
                            type(exc).__name__)

    def close(self) -> None:
        if self._sock is not None:
            if self._loop is not None and not self._loop.is_closed():
                with contextlib.suppress(Exception):
                    self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
            with contextlib.suppress(OSError):
                self.path.unlink()
            with contextlib.suppress(OSError):  # the last one out (a process binding in it
                self.directory.rmdir()          # meanwhile tries again at its next stream)
        if self._sender is not None:
            self._sender.close()
            self._sender = None


class LiveBus:
    """Where a worker's streams subscribe and its commits publish (see the module)."""

    def __init__(self, redis_url: str = "", database_url: str = "") -> None:
        self.redis_url = redis_url
        self.channel = f"entrepairs:{namespace_of(database_url)}:live"
        self._subscribers: dict[str, set[Subscription]] = {}
        self._listener: asyncio.Task[None] | None = None
        self._publisher: Any = None
        self._sending: set[asyncio.Task[None]] = set()
        self.local = None if redis_url else LocalChannel(
            local_directory(database_url), self._received)

    # -- streams --------------------------------------------------------------------------

    @contextlib.contextmanager
    def subscribe(self, channels: Iterable[str]) -> Iterator[Subscription]:
        subscription = Subscription(frozenset(channels))
        for channel in subscription.channels:
            self._subscribers.setdefault(channel, set()).add(subscription)
        self._ensure_listener()
        try:
            yield subscription
        finally:
            for channel in subscription.channels:
                held = self._subscribers.get(channel)
                if held is not None:
                    held.discard(subscription)
                    if not held:
                        del self._subscribers[channel]

    def deliver(self, event: Event) -> int:
        """Hand ``event`` to this worker's streams of its channel; returns how many."""
        held = self._subscribers.get(event.channel)
        if not held:
            return 0
        for subscription in list(held):
            subscription.offer(event)
        return len(held)

    # -- publishing -----------------------------------------------------------------------

    async def publish(self, events: list[Event]) -> None:
        """Send ``events`` to every stream that listens (through Redis when set). Never
        raises and never waits for Redis: a write has committed and its answer goes now (a
        hung Redis held each write's answer for the command's timeout); a lost hint costs a
        page its poll interval."""
        if not events:
            return
        if self.local is not None:
            for event in events:
                self.deliver(event)
            for payload in _payloads(events):
                self.local.send(payload.encode())
            return
        payload = json.dumps([event.as_json() for event in events], separators=(",", ":"))
        sending = asyncio.get_running_loop().create_task(self._send(payload))
        self._sending.add(sending)
        sending.add_done_callback(self._sending.discard)

    async def _send(self, payload: str) -> None:
        try:
            await self._redis().publish(self.channel, payload)
        except Exception as exc:  # noqa: BLE001 - the write stands; pages poll
            log.warning("live events not published: %s", type(exc).__name__)

    def _redis(self) -> Any:
        if self._publisher is None:
            self._publisher = RedisClients(self.redis_url, pool_size=4,
                                           socket_timeout=PUBLISH_TIMEOUT_SECONDS)
        return self._publisher.get()

    # -- listening to Redis ---------------------------------------------------------------

    def _ensure_listener(self) -> None:
        if self.local is not None:
            self.local.listen()
            return
        if self._listener is not None and not self._listener.done():
            if self._listener.get_loop() is asyncio.get_running_loop():
                return
        self._listener = asyncio.get_running_loop().create_task(
            self._listen(), name="live-redis-listener")

    async def _listen(self) -> None:
        from redis.asyncio import Redis

        attempt = 0
        while True:
            client = Redis.from_url(self.redis_url, socket_connect_timeout=1.0)
            try:
                async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    attempt = 0
                    while True:
                        message = await pubsub.get_message(timeout=30.0)
                        if message is not None:
                            self._received(message.get("data"))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis away: listen again shortly
                log.warning("live events: listening to Redis failed: %s", type(exc).__name__)
            finally:
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(RECONNECT_SECONDS[min(attempt, len(RECONNECT_SECONDS) - 1)])
            attempt += 1

    def _received(self, data: Any) -> None:
        try:
            raw_events = json.loads(data)
        except (TypeError, ValueError):
            return
        if not isinstance(raw_events, list):
            return
        for raw in raw_events:
            event = Event.from_json(raw) if isinstance(raw, dict) else None
            if event is not None:
                self.deliver(event)

    async def close(self) -> None:
        """Stop listening; events still being sent get ``PUBLISH_TIMEOUT_SECONDS``."""
        if self.local is not None:
            self.local.close()
        if self._sending:
            await asyncio.wait(set(self._sending), timeout=PUBLISH_TIMEOUT_SECONDS * 2)
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
            self._listener = None
        if self._publisher is not None:
            await self._publisher.close()


def _payloads(events: list[Event]) -> Iterator[str]:
    """``events`` as JSON arrays of at most ``LOCAL_DATAGRAM_BYTES`` each."""
    batch: list[dict[str, Any]] = []
    size = 2
    for event in events:
        raw = event.as_json()
        length = len(json.dumps(raw, separators=(",", ":"))) + 1
        if batch and size + length > LOCAL_DATAGRAM_BYTES:
            yield json.dumps(batch, separators=(",", ":"))
            batch, size = [], 2
        batch.append(raw)
        size += length
    if batch:
        yield json.dumps(batch, separators=(",", ":"))


# -- the view: committed changes become events ------------------------------------------------

_followers = changes.Followers()


def register(database_url: str, bus: LiveBus) -> None:
    """Commits on ``database_url`` in this process publish to ``bus``."""
    _followers.add(database_url, bus)


async def follow_changes(session: Any, record: Changes) -> None:
    buses = _followers.of(session)
    if not buses:
        return
    events = events_for(record)
    for bus in buses:
        await bus.publish(events)


changes.view("live", after_commit=follow_changes)
