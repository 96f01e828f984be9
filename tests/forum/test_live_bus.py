"""forum/live.py: how committed changes become events, and how events travel (in one process,
and through Redis between processes). The streams themselves: tests/forum/test_live.py."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import pytest
from litestar import Litestar

from forum import live
from forum.changes import Changes
from forum.live import Event, LiveBus
from tests.conftest import TEST_DATABASE_URL, require_redis
from tests.moderation.access_matrix import build_world, reply

DATABASE_URL = TEST_DATABASE_URL or "sqlite+aiosqlite:///unused.db"


def test_a_committed_record_gives_one_event_per_member_thread_and_queue() -> None:
    record = Changes(members={7, 3}, newest={12: 40}, queues={5})
    events = [(e.channel, e.kind, e.data) for e in live.events_for(record)]
    assert events == [
        ("member:3", "notices", {}), ("member:7", "notices", {}),
        ("thread:12", "posts", {"thread": 12, "last": 40}),
        ("queue:5", "queue", {"space": 5}), ("queue:all", "queue", {"space": 5}),
    ]
    assert live.events_for(Changes()) == []


async def test_an_event_reaches_the_streams_of_its_channel_only() -> None:
    bus = LiveBus("", DATABASE_URL)
    with bus.subscribe(["thread:1"]) as one, bus.subscribe(["thread:2", "member:4"]) as two:
        await bus.publish([Event("thread:1", "posts", {"thread": 1, "last": 3})])
        assert (await one.next(1)).data == {"thread": 1, "last": 3}
        assert await two.next(0.05) is None
    assert bus.deliver(Event("thread:1", "posts")) == 0, "a closed stream is forgotten"
    assert bus.deliver(Event("member:4", "notices")) == 0


async def test_a_reader_who_does_not_read_loses_hints_not_the_worker() -> None:
    bus = LiveBus("", DATABASE_URL)
    with bus.subscribe(["member:1"]) as slow:
        for _ in range(live.QUEUE_SIZE + 10):
            bus.deliver(Event("member:1", "notices"))
        assert slow.queue.qsize() == live.QUEUE_SIZE
        assert slow.dropped == 10


async def test_a_rolled_back_write_tells_nobody_and_a_committed_one_does(app: Litestar) -> None:
    world = await build_world(app)
    bus = LiveBus("", app.state.settings.database_url)
    live.register(app.state.settings.database_url, bus)
    thread_id = world.ids["thread"]
    with bus.subscribe([live.thread_channel(thread_id)]) as page:
        with pytest.raises(RuntimeError):
            async with app.state.database.writing() as session:
                await reply(session, thread_id, world.members["author"], "Pas publié.")
                raise RuntimeError("rolled back")
        assert await page.next(0.2) is None
        async with app.state.database.writing() as session:
            post = await reply(session, thread_id, world.members["author"], "Publié.")
        event = await page.next(1)
    assert event is not None and event.data == {"thread": thread_id, "last": post.number}


async def test_publishing_with_redis_away_never_fails_the_write(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = LiveBus("redis://127.0.0.1:9/0", DATABASE_URL)
    with caplog.at_level(logging.WARNING, logger="forum.live"):
        await bus.publish([Event("member:1", "notices")])
        await bus.close()
    assert "live events not published" in caplog.text


async def test_publishing_with_redis_hung_never_holds_the_write(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A Redis that accepts connections and never answers (SIGSTOP): the write's answer
    does not wait for it; the event is given up after PUBLISH_TIMEOUT_SECONDS."""
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    bus = LiveBus(f"redis://127.0.0.1:{port}/0", DATABASE_URL)
    try:
        with caplog.at_level(logging.WARNING, logger="forum.live"):
            started = asyncio.get_running_loop().time()
            await bus.publish([Event("member:1", "notices")])
            assert asyncio.get_running_loop().time() - started < 0.05
            await bus.close()
        assert "live events not published" in caplog.text
    finally:
        server.close()


async def test_through_redis_an_event_published_by_one_process_reaches_another() -> None:
    url = require_redis()
    publisher, listener = LiveBus(url, DATABASE_URL), LiveBus(url, DATABASE_URL)
    other_forum = LiveBus(url, DATABASE_URL + "-another-forum")
    try:
        with listener.subscribe(["thread:9"]) as page, other_forum.subscribe(["thread:9"]) as o:
            for _ in range(50):  # the listener subscribes to Redis in its own task
                await asyncio.sleep(0.05)
                await publisher.publish([Event("thread:9", "posts", {"thread": 9, "last": 2})])
                if (event := await page.next(0.05)) is not None:
                    break
            assert event is not None and event.data == {"thread": 9, "last": 2}
            assert await o.next(0.3) is None, "another forum on the same Redis hears nothing"
            # Garbage on the channel (anyone who can reach Redis can publish) is ignored.
            client = publisher._redis()
            for junk in (b"not json", b"{}", b'[{"c": "thread:9"}]', b'[{"c": 1, "k": 2, "d": 3}]'):
                await client.publish(publisher.channel, junk)
            await publisher.publish([Event("thread:9", "posts", {"thread": 9, "last": 3})])
            assert (await page.next(2)).data == {"thread": 9, "last": 3}
    finally:
        for bus in (publisher, listener, other_forum):
            await bus.close()


class _Request:
    scope: dict[str, Any] = {}


async def test_the_streams_woken_by_one_event_share_one_access_check(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    from forum.web.live import Listener

    calls = 0

    async def slow_check(self: Listener, event: Event) -> bool:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        if event.channel == "thread:666":
            raise ConnectionError("the database is away")
        return True

    monkeypatch.setattr(Listener, "_check", slow_check)
    visitors = [Listener(None, _Request(), None, 1, frozenset(), False)  # type: ignore[arg-type]
                for _ in range(200)]
    event = Event("thread:1", "posts", {"thread": 1, "last": 2})
    first = asyncio.ensure_future(visitors[0].allows(event))
    await asyncio.sleep(0)
    first.cancel()  # that page went away: the others still get their answer
    verdicts = await asyncio.gather(*(v.allows(event) for v in visitors[1:]))
    assert verdicts == [True] * 199
    assert calls == 1, "one database check for every visitor stream of the worker"
    with caplog.at_level(logging.WARNING, logger="forum.web.live"):
        failing = Event("thread:666", "posts", {"thread": 666, "last": 2})
        assert await asyncio.gather(*(v.allows(failing) for v in visitors[:3])) == [False] * 3
    assert "live event not checked: ConnectionError" in caplog.text


# -- between the processes of one machine, without Redis (LocalChannel) ------------------------

def _url(tmp_path: Any) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'forum.db'}"


async def test_without_redis_an_event_reaches_the_other_processes_of_the_machine_once(
    tmp_path: Any,
) -> None:
    """Two buses of one forum stand for two workers (each binds its own socket): an event
    published by one reaches the streams of both, each once."""
    url = _url(tmp_path)
    one, two = LiveBus("", url), LiveBus("", url)
    try:
        with one.subscribe(["thread:1"]) as here, two.subscribe(["thread:1"]) as there:
            await one.publish([Event("thread:1", "posts", {"thread": 1, "last": 2})])
            assert (await there.next(1)).data == {"thread": 1, "last": 2}
            assert (await here.next(1)).data == {"thread": 1, "last": 2}
            assert await here.next(0.1) is None, "its own event is not heard twice"
            assert await there.next(0.1) is None
    finally:
        await one.close()
        await two.close()
    assert not live.local_directory(url).exists(), "sockets and directory removed on close"


async def test_another_forum_on_the_machine_hears_nothing(tmp_path: Any) -> None:
    ours, theirs = LiveBus("", _url(tmp_path / "a")), LiveBus("", _url(tmp_path / "b"))
    try:
        with theirs.subscribe(["thread:1"]) as page:
            await ours.publish([Event("thread:1", "posts", {"thread": 1, "last": 2})])
            assert await page.next(0.2) is None
    finally:
        await ours.close()
        await theirs.close()


async def test_a_dead_process_socket_is_removed_and_a_big_batch_is_cut(tmp_path: Any) -> None:
    url = _url(tmp_path)
    directory = live.local_directory(url)
    directory.mkdir(mode=0o700, exist_ok=True)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dead.bind(str(directory / "1-dead.sock"))
    dead.close()  # its file stays, as after a worker killed with SIGKILL
    sender, receiver = LiveBus("", url), LiveBus("", url)
    try:
        channels = [f"member:{n}" for n in range(3_000)]  # about 90 KB: two datagrams
        with receiver.subscribe([channels[0], channels[-1]]) as page:
            await sender.publish([Event(channel, "notices") for channel in channels])
            heard = [(await page.next(1)), (await page.next(1))]
            assert [event.channel for event in heard if event] == [channels[0], channels[-1]]
        assert not (directory / "1-dead.sock").exists()
    finally:
        await sender.close()
        await receiver.close()


async def test_a_directory_others_can_write_into_is_not_used(
    tmp_path: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    url = _url(tmp_path)
    directory = live.local_directory(url)
    directory.mkdir(mode=0o700, exist_ok=True)
    directory.chmod(0o777)
    bus = LiveBus("", url)
    try:
        with caplog.at_level(logging.WARNING, logger="forum.live"), \
                bus.subscribe(["thread:1"]) as page:
            await bus.publish([Event("thread:1", "posts", {"thread": 1, "last": 2})])
            assert (await page.next(1)).data == {"thread": 1, "last": 2}, "in-process still"
        assert "not private" in caplog.text
        assert not list(directory.glob("*.sock"))
    finally:
        await bus.close()
        directory.chmod(0o700)
