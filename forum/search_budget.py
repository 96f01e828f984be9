"""A search's time budget: past it, the database itself stops the search's statements.

:func:`limited` wraps the statements of one search (``forum.search``). Inside it, once the
budget has run out, the statement running is stopped and :class:`OutOfTime` is raised; the
caller then answers with what it can cheaply (``forum.search.search``). Nothing of it outlives
the block: the next statement on the same pooled connection runs with no limit.

- **SQLite**: a progress handler on the raw connection (``sqlite3``'s
  ``set_progress_handler``, through aiosqlite), called every :data:`PROGRESS_OPCODES` virtual
  machine instructions, compares the clock with the deadline; a non-zero answer interrupts the
  statement (``OperationalError: interrupted``, or another error when it stops one of FTS5's
  own statements: once the handler has fired, the error is the budget's). A read is
  interrupted cleanly: the read transaction stays usable. The handler is installed for the
  block only and removed in a ``finally``, and it stops answering non-zero the moment the
  block ends, even if removing it failed (a closed connection).
- **PostgreSQL**: ``statement_timeout`` set with ``set_config(…, is_local => true)`` (what
  ``SET LOCAL`` does) inside a savepoint: the search's statements are their own
  subtransaction. A timeout (SQLSTATE 57014) rolls the savepoint back, which also undoes the
  setting, and leaves the request's transaction usable for the cheaper answer; otherwise the
  setting is put back to its previous value before the savepoint is released. Either way the
  transaction, and with it anything local, ends with the request. A timeout that lands while
  asyncpg prepares a statement can leave the driver out of step with the server
  (``InternalClientError``, MagicStack/asyncpg#1069, seen with a 1 ms budget): the session's
  connection is then invalidated (never returned to the pool) and the budget counts as spent.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

PROGRESS_OPCODES = 1000
"""SQLite virtual machine instructions between two looks at the clock (a few tens of
microseconds of work: the budget is kept to well under a millisecond, at a cost too small to
measure)."""

QUERY_CANCELED = "57014"
"""PostgreSQL's SQLSTATE for a statement stopped by ``statement_timeout``."""

clock = time.monotonic
"""The clock the SQLite handler reads (a test may replace it)."""


class OutOfTime(Exception):
    """A statement of the search ran past its time budget and the database stopped it."""


def _interrupted(exc: BaseException) -> bool:
    if isinstance(exc, OperationalError) and "interrupted" in str(exc.orig).lower():
        return True
    if isinstance(exc, DBAPIError):
        for error in (exc.orig, getattr(exc.orig, "__cause__", None)):
            if getattr(error, "sqlstate", None) == QUERY_CANCELED:
                return True
    return False


@asynccontextmanager
async def limited(session: AsyncSession, milliseconds: int | None) -> AsyncIterator[None]:
    """Run the block's statements within ``milliseconds`` (from now); past it they raise
    :class:`OutOfTime`. ``None``: no limit."""
    if milliseconds is None:
        yield
        return
    milliseconds = max(1, int(milliseconds))  # 0 would mean "no limit" to PostgreSQL
    if session.bind.dialect.name == "postgresql":
        async with _postgres(session, milliseconds):
            yield
    else:
        async with _sqlite(session, milliseconds):
            yield


@asynccontextmanager
async def _sqlite(session: AsyncSession, milliseconds: int) -> AsyncIterator[None]:
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection  # aiosqlite
    deadline = clock() + milliseconds / 1000
    active, fired = True, False

    def over_budget() -> int:  # runs on aiosqlite's thread, inside sqlite3_step
        nonlocal fired
        if active and clock() >= deadline:
            fired = True
            return 1
        return 0

    await driver.set_progress_handler(over_budget, PROGRESS_OPCODES)
    try:
        yield
    except OperationalError as exc:
        # Stopped inside FTS5's own statements, the error is not always "interrupted"
        # ("vtable constructor failed: search_fts"): once the handler has stopped a
        # statement, the error is the budget's.
        if fired or _interrupted(exc):
            raise OutOfTime from None
        raise
    finally:
        active = False
        await driver.set_progress_handler(None, PROGRESS_OPCODES)


@asynccontextmanager
async def _postgres(session: AsyncSession, milliseconds: int) -> AsyncIterator[None]:
    try:
        async with session.begin_nested():
            previous = await session.scalar(
                text("SELECT current_setting('statement_timeout') AS previous, "
                     "set_config('statement_timeout', :limit, true)"),
                {"limit": f"{milliseconds}ms"},
            )
            yield
            await session.execute(text("SELECT set_config('statement_timeout', :previous, true)"),
                                  {"previous": previous})
    except DBAPIError as exc:
        if _interrupted(exc):
            raise OutOfTime from None
        if _driver_lost_track(exc):
            # A timeout that lands while asyncpg prepares a statement can leave the driver out
            # of step with the server (MagicStack/asyncpg#1069): the connection is not reused.
            await session.invalidate()
            raise OutOfTime from None
        raise


def _driver_lost_track(exc: DBAPIError) -> bool:
    return any(type(error).__name__ == "InternalClientError"
               for error in (exc.orig, getattr(exc.orig, "__cause__", None)))
