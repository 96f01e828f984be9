"""The SQLite writers' connection: its statements run on the event loop, not in a thread.

Every statement through ``aiosqlite`` is a hop to the connection's thread and back: the thread
runs it, then asks the event loop to wake the waiting coroutine, which runs again only when the
loop comes to it, behind whatever else the worker's other requests queued meanwhile. A reply
runs about twenty statements (three hops each: cursor, execute, fetch) while it holds the
database's one write lock, so under load the lock was held for the loop's queue, not for the
writes: in process, a reply's write transaction lasted 23 ms for 5.5 ms of SQL (`make bench`,
issue 20, ``docs/PERFORMANCE.md``), and every writer of every worker waited behind it.

:class:`InlineConnection` is ``aiosqlite``'s connection with its statements run at once on the
caller's thread, so a write transaction runs from ``BEGIN`` to ``COMMIT`` without giving the
loop away between its statements (the handler's own awaits aside). Two kinds of call still go to
the connection's thread, because they may wait rather than work: ``BEGIN`` (SQLite's busy
timeout, while another program such as a ``forum`` command holds the file's lock) and
``COMMIT`` (an automatic WAL checkpoint writes and syncs the file). A statement that works long
(erasing an account's thousands of posts) holds the worker's loop meanwhile; every other writer
already waits for it, and readers of the other workers are not held.

Only the writers' engine of a SQLite file uses it (``forum.db.make_sqlite_write_engine``):
readers keep ``aiosqlite``'s thread, and a search's time budget (``forum.search_budget``)
stays on theirs. sqlite3 is built serialized (``sqlite3.threadsafety == 3``), and the connection
is opened with ``check_same_thread=False`` as SQLAlchemy opens ``aiosqlite``'s.

It overrides ``aiosqlite.Connection._execute``, through which every call of the connection and
its cursors passes (aiosqlite 0.22, pinned in ``requirements.lock``); ``tests/forum/
test_sqlite_inline.py`` fails if a new version routes them elsewhere.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import aiosqlite

_WAITING_CALLS = frozenset({"commit"})
"""Connection methods that may wait on the disk rather than work: to the thread."""


def _may_wait(fn: Callable[..., Any], args: tuple[Any, ...]) -> bool:
    name = getattr(fn, "__name__", "")
    if name in _WAITING_CALLS:
        return True
    if name == "execute" and args and isinstance(args[0], str):
        return args[0].lstrip()[:5].upper() in {"BEGIN", "PRAGM"}
    return False


class InlineConnection(aiosqlite.Connection):
    """``aiosqlite.Connection`` whose calls run on the caller's thread, except those that may
    wait (:func:`_may_wait`), which go to the connection's own thread as before.

    While a call sent to the thread has not finished there, every later call goes to the
    thread too, behind it: the task that waited for it may have been cancelled meanwhile
    (a writer that gave up, a watch stopped at shutdown), and SQLAlchemy then rolls back or
    closes the connection. Run on the loop, that would wait for SQLite's lock on the
    connection, which the thread holds (the busy timeout: up to 5 s of a frozen worker), and
    use the connection from two threads at once; queued, it runs after, as in aiosqlite."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_thread = 0
        self._count = threading.Lock()

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        with self._count:
            to_thread = self._in_thread > 0 or _may_wait(fn, args)
            if to_thread:
                self._in_thread += 1
        if not to_thread:
            return fn(*args, **kwargs)
        return await super()._execute(self._counted(fn), *args, **kwargs)

    def _counted(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn``, telling the connection when it has finished in the thread."""

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            finally:
                with self._count:
                    self._in_thread -= 1

        return call


def inline_connector(path: Path) -> Callable[[], Awaitable[InlineConnection]]:
    """The ``async_creator`` of a write engine on the SQLite file ``path``."""

    async def connect() -> InlineConnection:
        connection = InlineConnection(
            partial(sqlite3.connect, str(path), check_same_thread=False), iter_chunk_size=64)
        connection._thread.daemon = True  # as SQLAlchemy does: never hold the process's exit
        return await connection

    return connect
