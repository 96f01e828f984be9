"""Where logged-in sessions live: the ``member_session`` table, or Redis with ``FORUM_REDIS_URL``.

Both stores keep the same facts (only the SHA-256 of the cookie's token, the member, when the
session began, was last used and ends, and the device class) and answer the same calls; the
functions in ``forum.actions`` and ``forum.queries`` pick the store of the database session
they are given (``Database.sessions``).

The table is the default: one process or several on one database. With Redis (several
processes, several machines, ``docs/DEPLOYMENT.md``), checking a session costs one Redis
round trip and a primary-key read of the member, and the database is not written when a
session is used. Each session is a hash that Redis expires at the session's absolute end; each
member has a sorted set of their session hashes (by start), to list them and end them all.

Redis is not part of the database transaction. Ending sessions therefore happens at once, before
the caller commits: if the commit then fails, the sessions are ended anyway, which is the safe
side (a password change that did not happen, but the devices logged out). A session started
in a transaction that then fails is never handed to anyone (its token was not sent), and expires.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from forum.db import as_utc
from forum.models import Member, MemberSession, MemberStatus, Role
from forum.redis_pool import RedisClients, namespace_of

MAX_SESSIONS_PER_MEMBER = 20
"""A member's open sessions at most: a new one ends the oldest beyond it (SESS-10)."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class SessionInfo:
    """One session, as the Redis store keeps it (the table's rows have the same attributes)."""

    token_hash: str
    member_id: int
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    device: str | None


class SessionStore(Protocol):
    async def start(self, db: AsyncSession, member: Member, *, now: datetime,
                    lifetime: timedelta, device: str | None) -> str: ...

    async def find(self, db: AsyncSession, token: str) -> tuple[Any, Member] | None: ...

    async def touch(self, db: AsyncSession, token: str, now: datetime) -> None: ...

    async def end(self, db: AsyncSession, token: str) -> None: ...

    async def end_one(self, db: AsyncSession, member_id: int, hashed: str) -> bool: ...

    async def end_all(self, db: AsyncSession, member_id: int, *,
                      keep_hash: str | None = None) -> None: ...

    async def of_member(self, db: AsyncSession, member_id: int) -> list[Any]: ...


class TableSessions:
    """Sessions as rows of ``member_session``, in the caller's transaction."""

    async def start(self, db: AsyncSession, member: Member, *, now: datetime,
                    lifetime: timedelta, device: str | None) -> str:
        token = new_token()
        db.add(MemberSession(token_hash=token_hash(token), member_id=member.id, created_at=now,
                             last_seen_at=now, expires_at=now + lifetime, device=device))
        await db.flush()
        newest = (
            select(MemberSession.token_hash).where(MemberSession.member_id == member.id)
            .order_by(MemberSession.created_at.desc(), MemberSession.token_hash)
            .limit(MAX_SESSIONS_PER_MEMBER)
        )
        await db.execute(
            delete(MemberSession).where(MemberSession.member_id == member.id,
                                        MemberSession.token_hash.not_in(newest.scalar_subquery()))
        )
        return token

    async def find(self, db: AsyncSession, token: str) -> tuple[Any, Member] | None:
        row = (await db.execute(
            select(MemberSession, Member)
            .join(Member, Member.id == MemberSession.member_id)
            .where(MemberSession.token_hash == token_hash(token))
        )).first()
        return None if row is None else (row[0], row[1])

    async def touch(self, db: AsyncSession, token: str, now: datetime) -> None:
        await db.execute(update(MemberSession)
                         .where(MemberSession.token_hash == token_hash(token))
                         .values(last_seen_at=now))

    async def end(self, db: AsyncSession, token: str) -> None:
        await db.execute(delete(MemberSession).where(MemberSession.token_hash == token_hash(token)))

    async def end_one(self, db: AsyncSession, member_id: int, hashed: str) -> bool:
        result = await db.execute(delete(MemberSession).where(
            MemberSession.member_id == member_id, MemberSession.token_hash == hashed))
        return bool(result.rowcount)

    async def end_all(self, db: AsyncSession, member_id: int, *,
                      keep_hash: str | None = None) -> None:
        query = delete(MemberSession).where(MemberSession.member_id == member_id)
        if keep_hash is not None:
            query = query.where(MemberSession.token_hash != keep_hash)
        await db.execute(query)

    async def of_member(self, db: AsyncSession, member_id: int) -> list[Any]:
        return list(await db.scalars(
            select(MemberSession).where(MemberSession.member_id == member_id)
            .order_by(MemberSession.last_seen_at.desc(), MemberSession.created_at.desc())
        ))


_TOUCH = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('HSET', KEYS[1], 'last_seen_at', ARGV[1])
end
return 0
"""
"""Touch a session only if it still exists (a plain HSET would bring an ended one back)."""

_FIELDS = ("member_id", "created_at", "last_seen_at", "expires_at", "device")


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _time(raw: bytes) -> datetime:
    return datetime.fromisoformat(raw.decode())


class RedisSessions:
    """Sessions in Redis, shared by every process that uses the same Redis and database."""

    def __init__(self, url: str, namespace: str) -> None:
        self.url = url
        self.prefix = f"entrepairs:{namespace}:session:"
        self._clients = RedisClients(url)

    def _redis(self) -> Any:
        """The client of the running event loop: a bounded pool, timeouts and a breaker
        (``forum/redis_pool.py``); Redis trouble raises, and the request answers 503."""
        return self._clients.get()

    def _key(self, hashed: str) -> str:
        return f"{self.prefix}{hashed}"

    def _index(self, member_id: int) -> str:
        return f"{self.prefix}member:{member_id}"

    async def start(self, db: AsyncSession, member: Member, *, now: datetime,
                    lifetime: timedelta, device: str | None) -> str:
        token = new_token()
        hashed = token_hash(token)
        expires = now + lifetime
        redis = self._redis()
        async with redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._key(hashed), mapping={
                "member_id": member.id, "created_at": _stamp(now), "last_seen_at": _stamp(now),
                "expires_at": _stamp(expires), "device": device or "",
            })
            pipe.expireat(self._key(hashed), expires)
            pipe.zadd(self._index(member.id), {hashed: now.timestamp()})
            pipe.expireat(self._index(member.id), expires)
            await pipe.execute()
        await self._prune(member.id, keep=MAX_SESSIONS_PER_MEMBER)
        return token

    async def _prune(self, member_id: int, *, keep: int) -> None:
        """Forget index entries whose session expired; end the oldest beyond ``keep``."""
        redis = self._redis()
        hashes = [h.decode() for h in await redis.zrevrange(self._index(member_id), 0, -1)]
        if not hashes:
            return
        async with redis.pipeline(transaction=False) as pipe:
            for hashed in hashes:
                pipe.exists(self._key(hashed))
            exists = await pipe.execute()
        living = [h for h, alive in zip(hashes, exists, strict=True) if alive]
        gone = [h for h, alive in zip(hashes, exists, strict=True) if not alive]
        surplus = living[keep:]
        if gone or surplus:
            async with redis.pipeline(transaction=True) as pipe:
                for hashed in surplus:
                    pipe.delete(self._key(hashed))
                pipe.zrem(self._index(member_id), *(gone + surplus))
                await pipe.execute()

    async def _info(self, hashed: str) -> SessionInfo | None:
        values = await self._redis().hmget(self._key(hashed), *_FIELDS)
        if any(v is None for v in values[:4]):
            return None
        member_id, created, seen, expires, device = values
        return SessionInfo(hashed, int(member_id), _time(created), _time(seen), _time(expires),
                           (device or b"").decode() or None)

    async def find(self, db: AsyncSession, token: str) -> tuple[Any, Member] | None:
        info = await self._info(token_hash(token))
        if info is None:
            return None
        member = await db.get(Member, info.member_id)
        return None if member is None else (info, member)

    async def touch(self, db: AsyncSession, token: str, now: datetime) -> None:
        await self._redis().eval(_TOUCH, 1, self._key(token_hash(token)), _stamp(now))

    async def end(self, db: AsyncSession, token: str) -> None:
        hashed = token_hash(token)
        info = await self._info(hashed)
        async with self._redis().pipeline(transaction=True) as pipe:
            pipe.delete(self._key(hashed))
            if info is not None:
                pipe.zrem(self._index(info.member_id), hashed)
            await pipe.execute()

    async def end_one(self, db: AsyncSession, member_id: int, hashed: str) -> bool:
        redis = self._redis()
        if await redis.zscore(self._index(member_id), hashed) is None:
            return False
        async with redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._key(hashed))
            pipe.zrem(self._index(member_id), hashed)
            ended, _ = await pipe.execute()
        return bool(ended)

    async def end_all(self, db: AsyncSession, member_id: int, *,
                      keep_hash: str | None = None) -> None:
        redis = self._redis()
        hashes = [h.decode() for h in await redis.zrange(self._index(member_id), 0, -1)]
        ending = [h for h in hashes if h != keep_hash]
        if not ending:
            return
        async with redis.pipeline(transaction=True) as pipe:
            pipe.delete(*[self._key(h) for h in ending])
            pipe.zrem(self._index(member_id), *ending)
            await pipe.execute()

    async def of_member(self, db: AsyncSession, member_id: int) -> list[Any]:
        hashes = [h.decode() for h in await self._redis().zrange(self._index(member_id), 0, -1)]
        found = [info for h in hashes if (info := await self._info(h)) is not None]
        return sorted(found, key=lambda s: (s.last_seen_at, s.created_at), reverse=True)

    async def close(self) -> None:
        await self._clients.close()


TABLE = TableSessions()


def store_of(db: AsyncSession) -> SessionStore:
    """The store of the database that ``db`` belongs to (the table when none is set)."""
    database = db.info.get("database")
    return getattr(database, "sessions", None) or TABLE


def make_store(redis_url: str, database_url: str) -> SessionStore:
    if not redis_url:
        return TABLE
    return RedisSessions(redis_url, namespace_of(database_url))


@dataclass(frozen=True, slots=True)
class ProbedSession:
    """A session and its member's facts, read by :class:`SessionProbe` (what the app's
    ``MemberSession`` and ``Member`` rows say of them, converted as the ORM converts them)."""

    expires_at: datetime
    last_seen_at: datetime
    id: int
    status: MemberStatus
    role: Role
    is_peer_moderator: bool
    banned: bool
    suspended_until: datetime | None
    locale: str | None
    region: str | None


def _stored_utc(value: str | None) -> datetime | None:
    """A datetime as ``forum.db.UTCDateTime`` reads it back from SQLite's text."""
    return None if value is None else as_utc(datetime.fromisoformat(value))


class SessionProbe:
    """A session check that never leaves the event loop: SQLite and the table store only.

    The member page cache (``forum/cache.py``) checks the session of every request it answers.
    Through the pooled async engine that check took 1 ms of a 1.3 ms answer, most of it the
    hop to aiosqlite's thread and back; through a synchronous SQLAlchemy engine, 43 µs; here it
    is one primary-key read through the ``sqlite3`` module itself (about 6 µs, and 2 µs to
    convert the row), on its own read-only connection (``query_only``, a short busy timeout:
    WAL readers are not blocked by writers). It reads what ``TableSessions.find`` reads (the
    statement is compiled from the same columns) and converts the row as the ORM does
    (:class:`ProbedSession`); any error returns None and the app checks the session itself, as
    it does for every request the cache does not answer.
    """

    BUSY_TIMEOUT_MS = 50

    def __init__(self, database_url: str) -> None:
        from sqlalchemy.dialects import sqlite
        from sqlalchemy.engine import make_url

        self.path = make_url(database_url).database or ""
        query = (
            select(MemberSession.expires_at, MemberSession.last_seen_at, Member.id,
                   Member.status, Member.role, Member.is_peer_moderator, Member.banned,
                   Member.suspended_until, Member.locale, Member.region)
            .join(Member, Member.id == MemberSession.member_id)
            .where(MemberSession.token_hash == bindparam("hashed"))
        )
        self._sql = str(query.compile(dialect=sqlite.dialect()))
        self._connection: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            if not self.path or self.path == ":memory:":
                raise sqlite3.OperationalError("no database file to probe")
            # mode=rw: a missing file is an error, never a new empty database beside the app
            uri = f"{Path(self.path).resolve().as_uri()}?mode=rw"
            connection = sqlite3.connect(uri, uri=True, isolation_level=None,
                                         check_same_thread=False)
            connection.execute(f"PRAGMA busy_timeout={self.BUSY_TIMEOUT_MS}")
            connection.execute("PRAGMA query_only=ON")
            self._connection = connection
        return self._connection

    def find(self, token: str) -> ProbedSession | None:
        """The session and its member's facts (``expires_at``, ``last_seen_at``, ``id``,
        ``status``, ``role``, ...), or None (no such session, or the read failed)."""
        try:
            row = self._connect().execute(self._sql, (token_hash(token),)).fetchone()
            if row is None:
                return None
            expires, seen, member_id, status, role, moderator, banned, until, locale, region = row
            return ProbedSession(
                expires_at=_stored_utc(expires), last_seen_at=_stored_utc(seen),
                id=int(member_id), status=MemberStatus(status), role=Role(role),
                is_peer_moderator=bool(moderator), banned=bool(banned),
                suspended_until=_stored_utc(until), locale=locale, region=region,
            )
        except Exception:  # noqa: BLE001 - the app checks the session itself instead
            self.close()  # a fresh connection next time (a file replaced, a broken handle)
            return None

    def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            connection.close()
