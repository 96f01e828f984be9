"""Issue 18 on the default deployment, one machine without Redis: ``forum run --workers 2`` on
SQLite. A reply through one worker reaches the ``/live`` streams held by both workers, within
the issue's 2 seconds (``forum.live.LocalChannel``: before it, the other worker's pages waited
for their poll, up to a minute)."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest

from forum.config import ROOT
from forum.db import Database
from forum.models import Space
from tests.browsing import Browser, random_pseudonym
from tests.conftest import reset_schema
from tests.forum.test_live import DELIVERY_SECONDS, EventStream
from tests.scaleout.test_two_processes import free_port, wait_ready

STREAMS = 12
"""Streams opened, each on its own connection: the kernel spreads them over both workers."""


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'forum.db'}"
    asyncio.run(_prepare(url))
    port = free_port()
    log = tmp_path / "forum.log"
    env = {**os.environ, "FORUM_ENV": "production", "FORUM_DATABASE_URL": url,
           "FORUM_SECRET_KEY": secrets.token_urlsafe(48), "FORUM_REDIS_URL": "",
           "FORUM_BASE_URL": "http://127.0.0.1:8000", "FORUM_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [sys.executable, "-m", "forum.cli", "run", "--port", str(port), "--workers", "2"],
        cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process, log)
        yield base
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)


async def _prepare(url: str) -> None:
    await reset_schema(url)
    database = Database(url)
    try:
        async with database.writing() as session:
            session.add(Space(slug="entraide", name="Entraide", description="Pour tout."))
            await session.commit()
    finally:
        await database.dispose()


@pytest.fixture
async def member(two_workers: str) -> AsyncIterator[Browser]:
    async with httpx.AsyncClient(base_url=two_workers, timeout=30) as client:
        yield Browser(client)  # type: ignore[arg-type]


async def test_a_reply_reaches_the_streams_of_both_workers_without_redis(
    two_workers: str, member: Browser,
) -> None:
    await member.signup(random_pseudonym("Tilleul"))
    started = await member.start_thread("entraide", "Qui est là ?", "Je passe dire bonsoir.")
    assert started.status == 303, started.text()
    thread_id = int(started.response.headers["location"].split("#")[0].rsplit("/", 1)[1])
    async with AsyncExitStack() as stack:
        pages: list[EventStream] = []
        for _ in range(STREAMS):
            http = await stack.enter_async_context(
                httpx.AsyncClient(base_url=two_workers, timeout=10))
            response = await stack.enter_async_context(
                http.stream("GET", f"/live?thread={thread_id}"))
            assert response.status_code == 200
            page = EventStream(response)
            assert await anext(page._lines) == "event: ready"
            pages.append(page)
        replied = await member.reply(thread_id, "Moi aussi, je suis là.")
        assert replied.status == 303
        heard = await asyncio.gather(*(page.next_event(within=DELIVERY_SECONDS)
                                       for page in pages), return_exceptions=True)
    missed = [result for result in heard if not isinstance(result, tuple)]
    assert not missed, f"{len(missed)} of {STREAMS} streams heard nothing within 2 s"
    assert all(result == ("posts", {"thread": thread_id, "last": 2}) for result in heard)
