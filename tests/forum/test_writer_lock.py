"""Writers of one SQLite file queue across processes on ``forum.writer_lock`` (a flock the
kernel hands over at once), and within a process for its one write connection (FIFO)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
from sqlalchemy import select, text

from forum import writer_lock
from forum.db import Database, commit, is_unavailable
from forum.models import Member
from tests.conftest import ON_POSTGRES

sqlite_only = pytest.mark.skipif(ON_POSTGRES, reason="the SQLite writers' queue")


async def test_the_lock_is_exclusive_and_handed_over_when_let_go(tmp_path: Path) -> None:
    path = tmp_path / "forum.db-writer.lock"
    held = await writer_lock.acquire(path, 1.0)
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    waiting = asyncio.create_task(writer_lock.acquire(path, 5.0))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    let_go_at = time.monotonic()
    os.close(held)
    second = await waiting
    assert time.monotonic() - let_go_at < 0.5  # woken, not polling
    os.close(second)


async def test_a_writer_that_gives_up_never_keeps_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "forum.db-writer.lock"
    held = await writer_lock.acquire(path, 1.0)
    with pytest.raises(TimeoutError):
        await writer_lock.acquire(path, 0.2)
    os.close(held)  # the abandoned waiter gets it now, and must let it go at once
    again = await writer_lock.acquire(path, 2.0)
    os.close(again)


async def test_a_cancelled_writer_never_keeps_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "forum.db-writer.lock"
    held = await writer_lock.acquire(path, 1.0)
    waiting = asyncio.create_task(writer_lock.acquire(path, 30.0))
    await asyncio.sleep(0.1)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    os.close(held)
    again = await writer_lock.acquire(path, 2.0)
    os.close(again)


@sqlite_only
async def test_a_write_waits_for_another_processs_writer_then_answers_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two Database objects on one file stand for two worker processes: each attempt opens
    # the lock file anew, and flock locks of two open files exclude each other.
    url = f"sqlite+aiosqlite:///{tmp_path / 'forum.db'}"
    first, second = Database(url), Database(url)
    try:
        async with first.writing() as session:
            await session.execute(text("CREATE TABLE note (body TEXT)"))
        # Patience is read when the engine is made: make a third one, impatient.
        monkeypatch.setattr("forum.db.WRITER_QUEUE_SECONDS", 0.3)
        impatient = Database(url)
        async with first.writer() as holding:
            await holding.execute(text("INSERT INTO note VALUES ('a')"))
            started = time.monotonic()
            with pytest.raises(Exception) as refused:  # noqa: PT011 - checked just below
                async with impatient.writer() as waiting:
                    await waiting.execute(text("INSERT INTO note VALUES ('b')"))
                    await commit(waiting)
            assert is_unavailable(refused.value)  # a 503 with the text kept, in a request
            assert time.monotonic() - started < 3  # its own patience, not the busy timeout
            assert impatient.write_engine.pool.checkedout() == 0  # its connection went back
            late = asyncio.create_task(_insert(second, "c"))
            await asyncio.sleep(0.3)
            assert not late.done()  # queued behind the holder
            await commit(holding)
        await asyncio.wait_for(late, 5)
        async with first.reader() as session:
            rows = sorted(await session.scalars(text("SELECT body FROM note")))
        assert rows == ["a", "c"]
        await impatient.dispose()
    finally:
        await first.dispose()
        await second.dispose()


async def _insert(database: Database, body: str) -> None:
    async with database.writer() as session:
        await session.execute(text("INSERT INTO note VALUES (:body)"), {"body": body})
        await commit(session)


@sqlite_only
async def test_writers_of_one_process_share_one_connection_in_order(database: Database) -> None:
    order: list[int] = []

    async def write(number: int) -> None:
        async with database.writer() as session:
            await session.execute(select(Member.id).limit(1))
            order.append(number)
            await asyncio.sleep(0.01)
            await commit(session)

    tasks = []
    for number in range(8):
        tasks.append(asyncio.create_task(write(number)))
        await asyncio.sleep(0.001)
    await asyncio.gather(*tasks)
    assert order == list(range(8))
    assert database.write_engine is not database.engine
    assert database.write_engine.pool.size() == 1
