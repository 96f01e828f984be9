"""A SQLite file's writers run their statements on the event loop (``forum.sqlite_inline``),
except ``BEGIN`` and ``COMMIT``, which may wait on another program's lock or a checkpoint and
go to the connection's thread, so the loop goes on meanwhile."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import event, text

from forum.db import Database, commit
from tests.conftest import ON_POSTGRES

pytestmark = pytest.mark.skipif(ON_POSTGRES, reason="the SQLite writers' connection")


def _tell_threads(database: Database) -> None:
    """Every new connection of either engine gets ``which_thread()``: the thread SQLite runs
    the statement on."""
    for engine in database.engines:
        @event.listens_for(engine.sync_engine, "connect")
        def add_function(dbapi_conn, _record) -> None:  # noqa: ANN001 - DBAPI objects
            dbapi_conn.create_function("which_thread", 0, threading.get_ident)


async def test_a_writers_statements_run_on_the_loop_and_a_readers_in_its_thread(
    tmp_path: Path,
) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'forum.db'}")
    _tell_threads(database)
    try:
        async with database.writer() as session:
            await session.execute(text("CREATE TABLE note (body TEXT)"))
            await session.execute(text("INSERT INTO note VALUES ('a')"))
            writer_thread = await session.scalar(text("SELECT which_thread()"))
            await commit(session)
        async with database.reader() as session:
            reader_thread = await session.scalar(text("SELECT which_thread()"))
            assert await session.scalar(text("SELECT body FROM note")) == "a"
        assert writer_thread == threading.get_ident()
        assert reader_thread != threading.get_ident()
    finally:
        await database.dispose()


@pytest.fixture
async def notes(tmp_path: Path) -> AsyncIterator[Database]:
    """A database on ``tmp_path / "forum.db"`` with a ``note`` table of unique bodies."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'forum.db'}")
    async with database.writing() as session:
        await session.execute(text("CREATE TABLE note (body TEXT UNIQUE)"))
    yield database
    await database.dispose()


async def _bodies(database: Database) -> list[str]:
    async with database.reader() as session:
        return sorted(await session.scalars(text("SELECT body FROM note")))


def _another_program_writes(path: Path) -> sqlite3.Connection:
    """Another program (a `forum` command, a script) holds SQLite's write lock on ``path``
    (its ``note`` table written, not committed). It does not take the forum's writer lock, so
    the forum's writers meet SQLite's busy timeout. Commit and close it to let go."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO note VALUES ('other')")
    return other


async def _note(database: Database, body: str) -> None:
    async with database.writing() as session:
        await session.execute(text("INSERT INTO note VALUES (:body)"), {"body": body})


async def test_begin_waits_for_another_programs_lock_without_holding_the_loop(
    tmp_path: Path, notes: Database,
) -> None:
    other = _another_program_writes(tmp_path / "forum.db")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking = asyncio.create_task(tick())
    writing = asyncio.create_task(_note(notes, "forum"))
    await asyncio.sleep(0.5)
    assert not writing.done()  # waiting for the other program's lock...
    assert ticks >= 20  # ...while the loop went on
    let_go = time.monotonic()
    other.execute("COMMIT")
    other.close()
    await asyncio.wait_for(writing, 5)
    assert time.monotonic() - let_go < 2
    ticking.cancel()
    assert await _bodies(notes) == ["forum", "other"]


async def test_a_failing_statement_rolls_back_and_the_connection_serves_the_next_writer(
    notes: Database,
) -> None:
    await _note(notes, "a")
    with pytest.raises(Exception, match="UNIQUE"):  # noqa: PT011 - the driver's own class
        async with notes.writing() as session:
            await session.execute(text("INSERT INTO note VALUES ('b')"))
            await session.execute(text("INSERT INTO note VALUES ('a')"))
    await _note(notes, "c")
    assert await _bodies(notes) == ["a", "c"]  # 'b' went with its transaction


async def test_a_writer_cancelled_while_begin_waits_never_freezes_the_loop(
    tmp_path: Path, notes: Database,
) -> None:
    """The writer gives up (cancelled) while its BEGIN waits in the thread for another
    program's lock: what SQLAlchemy does next (roll back, close) queues behind that BEGIN in
    the thread instead of waiting on the loop for the connection the thread holds."""
    other = _another_program_writes(tmp_path / "forum.db")
    giving_up = asyncio.create_task(_note(notes, "given up"))
    await asyncio.sleep(0.3)  # its BEGIN waits in the thread (busy timeout)
    giving_up.cancel()
    gaps: list[float] = []
    last = time.monotonic()
    for _ in range(40):  # 0.4 s: the loop must keep its pace meanwhile
        await asyncio.sleep(0.01)
        now = time.monotonic()
        gaps.append(now - last)
        last = now
    assert max(gaps) < 0.2, max(gaps)
    other.execute("COMMIT")
    other.close()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(giving_up, 10)
    await asyncio.wait_for(_note(notes, "after"), 10)  # the writers' connection still serves
    assert await _bodies(notes) == ["after", "other"]
