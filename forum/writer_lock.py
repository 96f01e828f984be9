"""One writer at a time across the processes that share a SQLite file, woken by the kernel.

Within a process, writers already queue for the one write connection (``forum.db``). Between
processes they met at SQLite's own lock, whose busy handler sleeps between tries (up to 100 ms
each): when one worker commits and its next writer begins at once, the other worker's writer,
asleep, finds the lock taken again, and again. Under a storm one worker's queue starved until
its writers timed out (503s with two workers; none with one).

So before its ``BEGIN IMMEDIATE`` a writer first takes an exclusive ``flock`` on a file next to
the database (``<database>-writer.lock``, mode 0600). A writer that finds it taken waits in a
thread, blocked in the kernel, which wakes it the moment the holder lets go; the event loop goes
on meanwhile. The lock goes with the connection back to its pool (or the process's death), so
it is held from the first statement of a write transaction to its end, like SQLite's own.

A writer waits at most ``patience`` seconds, then gets TimeoutError (``forum.db.is_unavailable``:
503 with the text kept). A waiting thread whose writer gave up lets the lock go as soon as it
gets it. Other programs (``forum`` commands, a backup) do not take this lock; SQLite's own lock
and busy timeout still order them with the forum.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only

_INFO_KEY = "entrepairs_writer_lock_fd"
_waiters = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sqlite-writer-lock")
"""Threads that wait for the lock: one per process at a time (one write connection), more only
while a writer that gave up still waits."""


def lock_path(database_file: Path) -> Path:
    return database_file.with_name(database_file.name + "-writer.lock")


class _Attempt:
    """One try to take the lock, with its own open file (closing it lets the lock go)."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._mutex = threading.Lock()
        self._abandoned = False
        self._acquired = False

    def try_now(self) -> bool:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def wait(self) -> None:
        """In a thread: block until the lock is ours; let it go at once if nobody wants it."""
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        with self._mutex:
            if self._abandoned:
                os.close(self.fd)
            else:
                self._acquired = True

    def abandon(self) -> None:
        """The writer stopped waiting: the lock, if it came meanwhile, goes back."""
        with self._mutex:
            self._abandoned = True
            if self._acquired:
                os.close(self.fd)


async def acquire(path: Path, patience: float) -> int:
    """Take the lock within ``patience`` seconds; returns the file descriptor that holds it
    (close it to let go)."""
    attempt = _Attempt(path)
    if attempt.try_now():
        return attempt.fd
    waiting = asyncio.get_running_loop().run_in_executor(_waiters, attempt.wait)
    try:
        async with asyncio.timeout(patience):
            await asyncio.shield(waiting)
    except BaseException:
        attempt.abandon()
        raise
    return attempt.fd


def before_begin(path: Path, patience: float) -> Callable[[Any], None]:
    """What a write engine's ``begin`` listener calls before it emits ``BEGIN IMMEDIATE``
    (``forum.db``; SQLAlchemy gives no order between two listeners of one event): take the
    lock for the connection, once, until it goes back to its pool (``let_go_on_checkin``)."""

    def take(conn: Any) -> None:
        info = conn.connection.info  # the pooled connection's: it outlives the transaction
        if _INFO_KEY not in info:
            info[_INFO_KEY] = await_only(acquire(path, patience))

    return take


def let_go_on_checkin(engine: AsyncEngine) -> None:
    """The lock goes with the connection back to the pool (or with it if it is dropped)."""

    def let_go(_dbapi_conn: Any, record: Any, *_args: Any) -> None:
        fd = record.info.pop(_INFO_KEY, None)
        if fd is not None:
            os.close(fd)

    for moment in ("checkin", "invalidate", "close"):
        event.listen(engine.sync_engine.pool, moment, let_go)
