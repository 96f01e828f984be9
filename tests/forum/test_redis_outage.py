"""Redis in trouble (``FORUM_REDIS_URL``): members get a calm 503 with Retry-After that keeps
what they typed, visitors keep reading, and the forum recovers by itself when Redis is back.

Each test starts its own redis-server on a free port (it gets killed, stopped and resumed:
never the machine's shared Redis). Skipped, with the reason printed, when redis-server is not
installed; in CI (``CI=true``) that fails instead.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from sqlalchemy import func, select

from forum.config import Settings
from forum.db import is_unavailable
from forum.models import Post
from forum.redis_pool import Breaker, RedisResting, connect
from forum.sessions import RedisSessions
from tests.browsing import Browser, Page, another_browser
from tests.conftest import IN_CI

TYPED = "Ce soir c'est dur, mais j'écris quand même ces quelques lignes."


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRedis:
    """A redis-server of this test's own, persisting every write (AOF, fsync always), so that
    a kill and a restart keep the sessions, as a production Redis must (docs/DEPLOYMENT.md)."""

    def __init__(self, directory: Path) -> None:
        self.binary = shutil.which("redis-server")
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.binary is not None
        self.process = subprocess.Popen(  # noqa: S603 - redis-server, fixed arguments
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def signal(self, number: int) -> None:
        assert self.process is not None
        os.kill(self.process.pid, number)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.signal(signal.SIGCONT)
            self.signal(signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    if server.binary is None:
        reason = "redis-server is not installed (apt-get install redis-server)"
        if IN_CI:
            pytest.fail(f"{reason}, and CI must run this test")
        print(f"\nskipped: {reason}")
        pytest.skip(reason)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def settings(database_url: str, private_redis: PrivateRedis) -> Settings:
    return Settings(
        env="test", database_url=database_url, secret_key="t" * 48,
        base_url="http://testserver.local", redis_url=private_redis.url,
    ).validated()


async def posts(app: Litestar) -> int:
    async with app.state.database.reader() as session:
        return int(await session.scalar(select(func.count()).select_from(Post)))


async def until(condition: object, seconds: float = 10.0) -> Page:
    """Ask again (as a person would) until the answer is no longer a 503."""
    deadline = time.monotonic() + seconds
    while True:
        page = await condition()  # type: ignore[operator]
        if page.status != 503 or time.monotonic() > deadline:
            return page
        await asyncio.sleep(0.25)


def assert_calm_503(page: Page) -> None:
    assert page.status == 503, page.status
    assert int(page.response.headers["retry-after"]) > 0
    assert "Quelque chose s'est mal passé" not in page.response.text


async def test_more_concurrent_session_checks_than_connections_wait_their_turn(
    private_redis: PrivateRedis,
) -> None:
    """redis-py's default pool refused the 101st concurrent command (MaxConnectionsError: a
    500 for the member); the bounded blocking pool makes it wait a moment instead."""
    store = RedisSessions(private_redis.url, "pool")
    try:
        answers = await asyncio.gather(*(store.of_member(None, 1)  # type: ignore[arg-type]
                                         for _ in range(300)), return_exceptions=True)
    finally:
        await store.close()
    assert [a for a in answers if isinstance(a, BaseException)] == []


async def test_the_breaker_answers_at_once_after_a_failure_then_lets_one_probe_through(
) -> None:
    breaker = Breaker(rest=0.2, probe_limit=5)
    with pytest.raises(ConnectionError):
        async with breaker:
            raise ConnectionError("refused")
    with pytest.raises(RedisResting):
        async with breaker:
            pytest.fail("a command was sent while resting")
    await asyncio.sleep(0.25)
    async with breaker:  # the probe, which succeeds
        pass
    assert not breaker.is_open
    assert is_unavailable(RedisResting("resting"))


def test_a_redis_refusing_writes_for_now_is_unavailable_and_a_wrong_command_is_a_bug() -> None:
    from redis.exceptions import OutOfMemoryError, ReadOnlyError, ResponseError

    assert is_unavailable(ResponseError("MISCONF Redis is configured to save RDB snapshots, "
                                        "but it's currently unable to persist to disk"))
    assert is_unavailable(OutOfMemoryError("command not allowed when used memory > 'maxmemory'"))
    assert is_unavailable(ReadOnlyError("You can't write against a read only replica."))
    assert not is_unavailable(ResponseError("WRONGTYPE Operation against a key holding the "
                                            "wrong kind of value"))


async def test_a_dead_redis_fails_fast_and_is_used_again_once_back(
    private_redis: PrivateRedis,
) -> None:
    client = connect(private_redis.url)
    try:
        assert await client.ping()
        private_redis.kill()
        started = time.monotonic()
        for _ in range(20):
            with pytest.raises(Exception) as raised:
                await client.get("k")
            assert is_unavailable(raised.value)
        assert time.monotonic() - started < 5
        private_redis.start()
        await asyncio.sleep(1.2)
        assert await client.ping()
    finally:
        await client.aclose()


async def test_with_redis_killed_a_member_gets_a_calm_503_keeping_the_reply_and_recovers(
    app: Litestar, browser: Browser, demo: None, private_redis: PrivateRedis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await browser.signup("Tenace")
    space = (await browser.get("/")).one("a[href^='/s/']")["href"]
    thread = (await browser.get(str(space))).one("a[href^='/t/']")["href"]
    page = await browser.get(str(thread))
    before = await posts(app)

    private_redis.kill()
    refused = await browser.submit(page.form("#reply-form"), {"body": TYPED})
    assert_calm_503(refused)
    assert TYPED in refused.text()
    assert await posts(app) == before
    assert_calm_503(await browser.get("/me"))
    async with another_browser(app) as visitor:
        assert (await visitor.get("/")).status == 200
        assert (await visitor.get(str(thread))).status == 200
        assert (await visitor.get("/search?q=courage")).status == 200
        # The visitor page cache (in Redis) failed, and the pages were rendered instead.
        assert any("page cache lookup failed" in r.getMessage() for r in caplog.records)
        login = await visitor.get("/login")
        assert_calm_503(await visitor.submit(login.form(), {"pseudonym": "Tenace",
                                                            "password": "peu importe ici"}))

    private_redis.start()  # the same port, its data read back from the AOF
    again = await until(lambda: browser.submit(page.form("#reply-form"), {"body": TYPED}))
    assert again.status == 303, again.status
    assert await posts(app) == before + 1
    assert (await browser.get("/me")).status == 200


async def test_with_redis_hung_members_get_a_503_within_seconds_and_it_recovers(
    app: Litestar, browser: Browser, private_redis: PrivateRedis,
) -> None:
    await browser.signup("Patiente")
    private_redis.signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        assert_calm_503(await browser.get("/me"))
        assert time.monotonic() - started < 10
        for _ in range(5):  # the breaker answers the next ones at once
            assert_calm_503(await browser.get("/me"))
        async with another_browser(app) as visitor:
            assert (await visitor.get("/")).status == 200
            login = await visitor.get("/login")
            assert_calm_503(await visitor.submit(login.form(), {"pseudonym": "Patiente",
                                                                "password": "peu importe"}))
    finally:
        private_redis.signal(signal.SIGCONT)
    page = await until(lambda: browser.get("/me"))
    assert page.status == 200
