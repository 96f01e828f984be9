"""Database plumbing: the declarative base, the engine and its SQLite pragmas, sessions.

Two session factories share one engine:

- ``Database.reader()`` for requests that only read (GET). On SQLite its transactions begin
  ``DEFERRED``: readers never wait for the writer (WAL).
- ``Database.writer()`` for requests that change something. On SQLite its transactions begin
  ``IMMEDIATE``, so the write lock is taken first and the busy timeout applies; a writer that
  read first and upgraded later would fail at once with "database is locked".

On a SQLite file, writers have an engine of their own with ONE connection: a process's writers
queue for it first come, first served (SQLAlchemy's pool queue, on the event loop) instead of
all polling the file lock, whose busy handler sleeps up to 100 ms between tries and favours
nobody; and between processes that connection first takes ``forum.writer_lock`` (a ``flock``
the kernel hands over the moment it is let go). A writer that waits ``WRITER_QUEUE_SECONDS``
for the connection or for the other processes, or the busy timeout for SQLite's lock, gets
DatabaseUnavailable (503 with the text kept). On PostgreSQL, readers and writers share one
pool: its row locks need no queue.

Nothing here commits on its own: the code that writes calls :func:`commit`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from forum import changes, writer_lock
from forum.redis_pool import is_redis_trouble
from forum.sqlite_inline import inline_connector

SQLITE_BUSY_TIMEOUT_MS = 5000
WRITER_QUEUE_SECONDS = 20.0
"""How long a SQLite writer waits for its process's write connection, then again at most as
long for the other processes' writers (``forum.writer_lock``), before the request is answered
503; the busy timeout may add its 5 s for another program's lock. All of it stays under the
60 s a proxy waits for an answer (nginx's ``proxy_read_timeout``). A queue is served in order:
answering 503 sooner would only send the person to its back."""

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database (SQLite stores it naive, in UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


def as_utc(value: datetime) -> datetime:
    """A datetime read back from the database, aware and in UTC (SQLite's are naive, in UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class DatabaseUnavailable(Exception):
    """The database is locked for longer than the busy timeout, unreachable, or its disk is
    full: answer 503."""


UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53100", "53300")
"""PostgreSQL: connection exceptions, admin/crash shutdown, "cannot connect now" (starting up
or shutting down), disk full, too many connections. asyncpg raises these as plain
DBAPIErrors."""

UNAVAILABLE_MESSAGES = ("database is locked", "database is busy", "database or disk is full",
                        "connection", "timeout", "the database system is",
                        "terminating connection")
"""SQLite (and drivers' own errors): the lock held past the busy timeout, a full disk
(SQLITE_FULL: the write is refused whole, and succeeds again once there is room)."""

ROLLED_BACK_MESSAGES = ("no such savepoint", "no transaction is active")
"""On SQLITE_FULL (and SQLITE_IOERR, SQLITE_NOMEM) SQLite may roll the whole transaction back
itself: releasing or rolling back a savepoint then fails with these, hiding the cause, which
is the error they happened while handling (``__context__``)."""


def _sqlstate(exc: DBAPIError) -> str:
    for error in (exc.orig, getattr(exc.orig, "__cause__", None)):
        state = getattr(error, "sqlstate", None)
        if isinstance(state, str):
            return state
    return ""


def is_unavailable(exc: BaseException) -> bool:
    """True for errors that mean "try again shortly" rather than a bug."""
    if isinstance(exc, DatabaseUnavailable):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, DBAPIError) and _sqlstate(exc).startswith(UNAVAILABLE_SQLSTATES):
        return True
    if isinstance(exc, PoolTimeoutError):  # every pooled connection busy for pool_timeout
        return True
    if isinstance(exc, OperationalError):
        text = str(exc.orig).lower()
        if any(marker in text for marker in ROLLED_BACK_MESSAGES):
            cause = exc.__context__
            return isinstance(cause, OperationalError) and is_unavailable(cause)
        return any(marker in text for marker in UNAVAILABLE_MESSAGES)
    if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
        return True
    if is_redis_trouble(exc):  # sessions or counters in Redis: forum/redis_pool.py
        return True
    return type(exc).__module__.startswith("asyncpg") and "Connection" in type(exc).__name__


def _install_sqlite_hooks(engine: AsyncEngine,
                          before_begin: Callable[[Any], None] | None = None) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # noqa: ANN001 - DBAPI objects
        # Let SQLAlchemy emit BEGIN itself (see _on_begin) instead of the driver's implicit one.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        # busy_timeout first: switching to WAL takes a lock, and under load a new connection
        # would otherwise fail at once with "database is locked".
        for pragma in (
            f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
            "journal_mode=WAL",
            "foreign_keys=ON",
            "synchronous=NORMAL",
            # Erased posts must not linger in the file's free pages (a member's "erase my
            # posts" is about health data): deleted content is overwritten with zeros.
            "secure_delete=ON",
            # 512 KiB of page cache per connection (SQLite's default is 2 MiB): the pool holds
            # up to 15 connections per worker, and the OS already caches the file. `make
            # bench`, search page: peak RSS per worker 179 MB at 2 MiB, 160 at 1 MiB, 145 at
            # 512 KiB, with the same throughput.
            "cache_size=-512",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn) -> None:  # noqa: ANN001
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        if before_begin is not None:
            before_begin(conn)
        conn.exec_driver_sql(f"BEGIN {mode}")


PRIVATE_FILE_MODE = 0o600
"""The database holds health-related posts and password hashes: readable by its owner only."""


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL, or None (another database, in memory, a ``file:`` URI)."""
    parsed = make_url(url)
    name = parsed.database
    if parsed.get_backend_name() != "sqlite" or not name or name == ":memory:" \
            or name.startswith("file:"):
        return None
    return Path(name).expanduser()


def create_private_sqlite_file(url: str) -> None:
    """Create the SQLite database file of ``url``, empty and mode 0600, if it does not exist
    yet (SQLite would create it 0644 under the usual umask). SQLite gives the WAL and the
    shared-memory file the mode of the database file, so they are 0600 too. An existing file
    keeps its mode."""
    path = sqlite_file(url)
    if path is None or not path.parent.is_dir():
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)  # whatever the umask
    finally:
        os.close(fd)


def make_engine(url: str, *, pool: bool = True) -> AsyncEngine:
    if url.startswith("sqlite"):
        create_private_sqlite_file(url)
        engine = create_async_engine(url, poolclass=None if pool else NullPool)
        _install_sqlite_hooks(engine)
        return engine
    kwargs: dict[str, object] = {"pool_pre_ping": True}
    if url.startswith("postgresql+asyncpg"):
        kwargs["connect_args"] = {"timeout": 5, "command_timeout": 30}
    if pool:
        # Requests past the pool's 20 connections wait their turn as SQLite's writers do
        # (``WRITER_QUEUE_SECONDS``): 128 writers on two workers waited more than 10 s once.
        kwargs.update(pool_size=10, max_overflow=10, pool_timeout=WRITER_QUEUE_SECONDS)
    else:
        kwargs = {"poolclass": NullPool, "connect_args": kwargs.get("connect_args", {})}
    return create_async_engine(url, **kwargs)


def make_sqlite_write_engine(url: str, path: Path) -> AsyncEngine:
    """The writers' engine of a SQLite file: one connection, queued for in the process
    (FIFO) and across processes (``forum.writer_lock``), whose statements run on the event
    loop (``forum.sqlite_inline``); see the module docstring."""
    create_private_sqlite_file(url)
    engine = create_async_engine(url, pool_size=1, max_overflow=0,
                                 pool_timeout=WRITER_QUEUE_SECONDS,
                                 async_creator=inline_connector(path))
    _install_sqlite_hooks(engine, before_begin=writer_lock.before_begin(
        writer_lock.lock_path(path), patience=WRITER_QUEUE_SECONDS))
    writer_lock.let_go_on_checkin(engine)
    return engine


class Database:
    """One engine and its two session factories; owned by the app (or a CLI command)."""

    def __init__(self, url: str, *, pool: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url, pool=pool)
        self.is_sqlite = url.startswith("sqlite")
        self.sessions: Any = None
        """Where logged-in sessions live (``forum.sessions``): None is the database's table."""
        info = {"database": self}
        self._reader = async_sessionmaker(self.engine, expire_on_commit=False, info=info)
        self.write_engine = self.engine
        """The engine writers' sessions use: on a SQLite file, one of its own with one
        connection (the module docstring)."""
        if pool and (path := sqlite_file(url)) is not None:
            self.write_engine = make_sqlite_write_engine(url, path)
        write_bind = (self.write_engine.execution_options(sqlite_begin="IMMEDIATE")
                      if self.is_sqlite else self.write_engine)
        self._writer = async_sessionmaker(write_bind, expire_on_commit=False, info=info)

    @property
    def engines(self) -> tuple[AsyncEngine, ...]:
        """Every engine this database opens connections with (to watch or dispose them all)."""
        if self.write_engine is self.engine:
            return (self.engine,)
        return (self.engine, self.write_engine)

    def reader(self) -> AsyncSession:
        return self._reader()

    def writer(self) -> AsyncSession:
        return self._writer()

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncSession]:
        """A write unit of work outside a request (CLI, seeding): commit or roll back."""
        async with self.writer() as session:
            try:
                yield session
                await commit(session)
            except BaseException:
                await session.rollback()
                raise

    async def dispose(self) -> None:
        if self.sessions is not None:
            await self.sessions.close()
        for engine in self.engines:
            await engine.dispose()


async def commit(session: AsyncSession) -> None:
    """Commit the request's unit of work; a lock or outage becomes DatabaseUnavailable.

    The views of the data follow what the unit's actions declared (``forum.changes``): the
    search index and notifications in the same transaction, the page caches after it."""
    try:
        await changes.before_commit(session)
        await session.commit()
    except Exception as exc:
        changes.discard(session)
        await session.rollback()
        if is_unavailable(exc):
            raise DatabaseUnavailable(str(exc)) from exc
        raise
    await changes.after_commit(session)
