"""The database plumbing: SQLite pragmas, BEGIN IMMEDIATE for writers, aware datetimes,
password rehash at log-in."""

import pytest
from argon2 import extract_parameters
from sqlalchemy import event, select, text

from forum.db import Database
from forum.models import Member
from forum.passwords import Hasher
from tests.browsing import DEFAULT_PASSWORD, Browser
from tests.conftest import ON_POSTGRES

sqlite_only = pytest.mark.skipif(ON_POSTGRES, reason="SQLite pragmas and BEGIN modes")


@sqlite_only
async def test_sqlite_runs_in_wal_with_foreign_keys_and_a_busy_timeout(database: Database) -> None:
    async with database.reader() as session:
        values = {name: (await session.execute(text(f"PRAGMA {name}"))).scalar()
                  for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")}
    assert values == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 5000,
                      "synchronous": 1}


@sqlite_only
async def test_writers_begin_immediate_and_readers_deferred(database: Database) -> None:
    statements: list[str] = []

    def record(conn, cursor, statement, *args):  # noqa: ANN001, ANN202
        if statement.startswith("BEGIN"):
            statements.append(statement)

    engines = [engine.sync_engine for engine in database.engines]
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        async with database.writer() as session:
            await session.execute(select(Member.id))
            await session.rollback()
        async with database.reader() as session:
            await session.execute(select(Member.id))
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)
    assert statements == ["BEGIN IMMEDIATE", "BEGIN DEFERRED"]


async def test_stored_datetimes_come_back_timezone_aware(browser: Browser,
                                                         database: Database) -> None:
    await browser.signup("Horloge")
    async with database.reader() as session:
        member = await session.scalar(select(Member).where(Member.pseudonym == "Horloge"))
    assert member.created_at.tzinfo is not None
    assert member.created_at.utcoffset().total_seconds() == 0


async def test_a_password_is_rehashed_at_login_when_the_parameters_change(
    app, browser: Browser, database: Database
) -> None:
    await browser.signup("Ancienne")
    await browser.logout()
    async with database.reader() as session:
        old = (await session.scalar(select(Member).where(Member.pseudonym == "Ancienne")))
    assert extract_parameters(old.password_hash).memory_cost < 65536
    app.state.hasher = Hasher()  # the production parameters
    assert (await browser.login("Ancienne", DEFAULT_PASSWORD)).status == 303
    async with database.reader() as session:
        new = (await session.scalar(select(Member).where(Member.pseudonym == "Ancienne")))
    assert new.password_hash != old.password_hash
    assert extract_parameters(new.password_hash).memory_cost == 65536
