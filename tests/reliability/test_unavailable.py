"""Which database errors mean "the database is away, try again" (503 + Retry-After), and which
are bugs (500). PostgreSQL restarting shows up in asyncpg as plain DBAPIErrors whose SQLSTATE
says so; the reliability harness found these answered 500 before."""

from __future__ import annotations

import re
import sqlite3
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from forum.db import Database, is_unavailable
from tests.browsing import Browser
from tests.conftest import ON_POSTGRES


class DriverError(Exception):
    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(("sqlstate", "message"), [
    ("57P01", "terminating connection due to administrator command"),
    ("57P03", "the database system is starting up"),
    ("08006", "connection failure"),
    ("53300", "sorry, too many clients already"),
    ("53100", 'could not extend file "base/16384/2619": No space left on device'),
])
def test_postgresql_going_away_is_unavailable(sqlstate: str, message: str) -> None:
    error = DBAPIError("SELECT 1", {}, DriverError(message, sqlstate))
    assert is_unavailable(error)


def test_the_driver_error_wrapped_by_the_adapter_counts_too() -> None:
    adapted = Exception("adapted")
    adapted.__cause__ = DriverError("the database system is shutting down", "57P03")
    assert is_unavailable(DBAPIError("SELECT 1", {}, adapted))


def test_a_constraint_violation_is_not_an_outage() -> None:
    error = IntegrityError("INSERT …", {}, DriverError("duplicate key connection", "23505"))
    assert not is_unavailable(error)


def test_waiting_too_long_for_a_pooled_connection_is_unavailable() -> None:
    assert is_unavailable(PoolTimeoutError("QueuePool limit of size 5 overflow 10 reached"))


def test_a_full_disk_on_sqlite_is_unavailable() -> None:
    error = OperationalError("INSERT …", {}, sqlite3.OperationalError("database or disk is full"))
    assert is_unavailable(error)


def test_a_syntax_error_on_sqlite_is_not_an_outage() -> None:
    error = OperationalError("SELEC", {}, sqlite3.OperationalError('near "SELEC": syntax error'))
    assert not is_unavailable(error)


def _fill(database: Database, pages: int | None) -> None:
    """Every new connection may grow the file to ``pages`` pages at most (SQLite answers
    "database or disk is full" past it, as on a full disk); None lifts the limit."""
    for engine in (engine.sync_engine for engine in database.engines):
        for listener in list(getattr(engine, "_test_full_disk", [])):
            event.remove(engine, "connect", listener)
        engine._test_full_disk = []  # type: ignore[attr-defined]
        if pages is not None:
            def limit(dbapi_conn: Any, _record: Any) -> None:
                cursor = dbapi_conn.cursor()
                cursor.execute(f"PRAGMA max_page_count = {pages}")
                cursor.close()

            event.listen(engine, "connect", limit)
            engine._test_full_disk.append(limit)  # type: ignore[attr-defined]


@pytest.mark.skipif(ON_POSTGRES, reason="a full disk is simulated with SQLite's max_page_count")
async def test_a_reply_on_a_full_disk_gets_503_with_retry_after_and_keeps_the_text(
    browser: Browser, demo: None, database: Database
) -> None:
    await browser.signup("Disquette")
    home = await browser.get("/")
    thread_id = int(re.search(r'href="/t/(\d+)"', home.response.text).group(1))
    async with database.reader() as session:
        pages = (await session.execute(text("PRAGMA page_count"))).scalar_one()
    body = "Ce soir j'écris longtemps pour ne pas y penser. " * 150  # several new pages
    for engine in database.engines:
        await engine.dispose()
    _fill(database, pages)
    try:
        page = await browser.reply(thread_id, body)
        assert page.status == 503, page.text()
        assert page.response.headers["retry-after"].isdigit()
        assert body.strip() in " ".join(page.soup.get_text(" ").split()) + " "
    finally:
        for engine in database.engines:
            await engine.dispose()
        _fill(database, None)
    again = await browser.reply(thread_id, body)  # room again: no restart needed
    assert again.status == 303, again.text()


def test_a_savepoint_lost_to_sqlites_own_rollback_counts_as_its_cause() -> None:
    full = OperationalError("INSERT …", {}, sqlite3.OperationalError("database or disk is full"))
    lost = OperationalError("ROLLBACK TO SAVEPOINT sa_savepoint_1", {},
                            sqlite3.OperationalError("no such savepoint: sa_savepoint_1"))
    lost.__context__ = full
    assert is_unavailable(lost)
    lost.__context__ = IntegrityError("INSERT …", {}, sqlite3.IntegrityError("UNIQUE"))
    assert not is_unavailable(lost)
    lost.__context__ = None
    assert not is_unavailable(lost)
