"""Throttling with atomic counters: failed log-ins, sign-ups, recoveries and re-authentication.

Every attempt is counted *before* the slow work (a password verification) in one atomic
statement: ``INSERT … ON CONFLICT (key) DO UPDATE SET hits = hits + 1 … RETURNING hits`` on
SQLite and PostgreSQL, or ``SET NX EX`` + ``INCR`` in one Redis transaction when
``FORUM_REDIS_URL`` is set. So 50 attempts sent at the same moment run at most ``limit``
verifications: there is no read-then-write window (Litestar's rate limiter has one, and keeps
its counters per process).

Each rule has tiers (a fixed window each), so waits grow: a few attempts a minute, then fewer a
quarter of an hour. No tier is longer than 15 minutes, so the real owner of an account that
someone hammers is never locked out for more than minutes, and the recovery code still works
from another network.

Counter keys never hold a pseudonym or an address: they are ``HMAC-SHA256(secret key, subject)``
truncated to 128 bits, and the row or Redis key expires with its window (the SQL rows are
deleted on the next attempt after they expire). The client is the socket peer, or the last
``X-Forwarded-For`` entry with ``FORUM_TRUST_PROXY=on``; it is used only inside such a key.
``FORUM_RATE_LIMITS=off`` turns everything off (load tests only).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from litestar.connection import ASGIConnection
from sqlalchemy import case, delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from forum.config import Settings
from forum.db import Database, commit, utcnow
from forum.models import ThrottleCounter
from forum.redis_pool import RedisClients

log = logging.getLogger("forum.throttle")

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Tier:
    limit: int
    """Attempts allowed in one window; the next one waits for the window's end."""
    window: int
    """Seconds."""


@dataclass(frozen=True)
class Rule:
    name: str
    tiers: tuple[Tier, ...]

    @property
    def longest_wait(self) -> int:
        return max(tier.window for tier in self.tiers)


MINUTE = 60
QUARTER = 15 * MINUTE

LOGIN_ACCOUNT = Rule("login-account", (Tier(5, MINUTE), Tier(10, QUARTER)))
"""Log-in attempts per pseudonym (existing or not); reset by a successful log-in."""
LOGIN_CLIENT = Rule("login-client", (Tier(10, MINUTE), Tier(30, QUARTER)))
SIGNUP_CLIENT = Rule("signup-client", (Tier(5, MINUTE), Tier(20, QUARTER)))
"""Sign-up attempts per client: "pseudonym taken" answers can't be used to list members."""
RECOVER_CLIENT = Rule("recover-client", (Tier(5, MINUTE), Tier(15, QUARTER)))
RECOVER_ACCOUNT = Rule("recover-account", (Tier(5, QUARTER),))
REAUTH_ACCOUNT = Rule("reauth-account", (Tier(5, MINUTE), Tier(10, QUARTER)))
"""Password checks of a logged-in member (change password, new code, deletion)."""

RULES = (LOGIN_ACCOUNT, LOGIN_CLIENT, SIGNUP_CLIENT, RECOVER_CLIENT, RECOVER_ACCOUNT,
         REAUTH_ACCOUNT)


class Throttled(Exception):
    """Too many attempts: try again in ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.retry_after / 60))


class Throttle:
    """The counters of one app: in its database, or in Redis when configured."""

    def __init__(self, settings: Settings, database: Database) -> None:
        self.enabled = settings.rate_limits == "on"
        self.trust_proxy = settings.trust_proxy == "on"
        self._secret = settings.require_secret().encode()
        self._database = database
        self._clients = RedisClients(settings.redis_url, pool_size=16) \
            if settings.redis_url else None

    @property
    def _redis(self) -> Any:
        return None if self._clients is None else self._clients.get()

    @property
    def backend(self) -> str:
        return "redis" if self._clients is not None else "database"

    def key(self, rule: Rule, tier: Tier, subject: str) -> str:
        digest = hmac.new(self._secret, f"{rule.name}\x00{subject}".encode(),
                          hashlib.sha256).hexdigest()[:32]
        return f"{rule.name}:{tier.window}:{digest}"

    async def hit(self, rule: Rule, subject: str, *, now: datetime) -> int | None:
        """Count one attempt; return the seconds to wait if it is over a tier's limit."""
        if not self.enabled:
            return None
        wait = 0
        counts = await self._increment(
            [(self.key(rule, tier, subject), tier.window) for tier in rule.tiers], now
        )
        for tier, (hits, expires_at) in zip(rule.tiers, counts, strict=True):
            if hits > tier.limit:
                wait = max(wait, math.ceil((expires_at - now).total_seconds()))
        if wait <= 0:
            return None
        log.info("throttled", extra={"fields": {"rule": rule.name, "retry_after": wait}})
        return wait

    async def check(self, *attempts: tuple[Rule, str], now: datetime) -> None:
        """Count each (rule, subject) attempt; raise Throttled with the longest wait."""
        waits = [await self.hit(rule, subject, now=now) for rule, subject in attempts]
        longest = max((wait for wait in waits if wait), default=0)
        if longest:
            raise Throttled(longest)

    async def reset(self, rule: Rule, subject: str) -> None:
        """Forget the attempts under ``subject`` (after a successful log-in)."""
        if not self.enabled:
            return
        keys = [self.key(rule, tier, subject) for tier in rule.tiers]
        if self._clients is not None:
            await self._redis.delete(*keys)
            return
        async with self._database.writer() as session:
            await session.execute(delete(ThrottleCounter).where(ThrottleCounter.key.in_(keys)))
            await commit(session)

    async def _increment(
        self, keys: list[tuple[str, int]], now: datetime
    ) -> list[tuple[int, datetime]]:
        if self._clients is not None:
            return await self._increment_redis(keys, now)
        results: list[tuple[int, datetime]] = []
        async with self._database.writer() as session:
            insert = (postgresql_insert if session.bind.dialect.name == "postgresql"
                      else sqlite_insert)
            table = ThrottleCounter.__table__
            for key, window in keys:
                statement = insert(table).values(
                    key=key, hits=1, expires_at=now + timedelta(seconds=window)
                )
                expired = table.c.expires_at <= now
                statement = statement.on_conflict_do_update(
                    index_elements=[table.c.key],
                    set_={
                        "hits": case((expired, 1), else_=table.c.hits + 1),
                        "expires_at": case((expired, statement.excluded.expires_at),
                                           else_=table.c.expires_at),
                    },
                ).returning(table.c.hits, table.c.expires_at)
                row = (await session.execute(statement)).one()
                results.append((int(row[0]), row[1]))
            await session.execute(
                delete(ThrottleCounter).where(ThrottleCounter.expires_at <= now)
            )
            await commit(session)
        return results

    async def _increment_redis(
        self, keys: list[tuple[str, int]], now: datetime
    ) -> list[tuple[int, datetime]]:
        async with self._redis.pipeline(transaction=True) as pipe:
            for key, window in keys:
                pipe.set(key, 0, ex=window, nx=True)
                pipe.incr(key)
                pipe.pttl(key)
            replies = await pipe.execute()
        results = []
        for index in range(len(keys)):
            hits, ttl_ms = replies[3 * index + 1], replies[3 * index + 2]
            results.append((int(hits), now + timedelta(milliseconds=max(int(ttl_ms), 0))))
        return results

    async def close(self) -> None:
        if self._clients is not None:
            await self._clients.close()


# -- per request -----------------------------------------------------------------------------

def clock_of(connection: ASGIConnection[Any, Any, Any, Any]) -> datetime:
    """The app's notion of now (tests replace ``app.state.clock`` instead of sleeping)."""
    clock: Clock = connection.app.state.get("clock", utcnow)
    return clock()


def client_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """Who is asking, for throttling only: used inside a keyed hash, never stored or logged."""
    throttle: Throttle = connection.app.state.throttle
    if throttle.trust_proxy:
        forwarded = connection.headers.get("x-forwarded-for", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return f"client\x00{last}"
    client = connection.scope.get("client")
    return f"client\x00{client[0] if client else ''}"


async def check_attempt(
    connection: ASGIConnection[Any, Any, Any, Any], *attempts: tuple[Rule, str]
) -> None:
    """Count the attempts of this request; raise Throttled when one is over its limit."""
    throttle: Throttle = connection.app.state.throttle
    await throttle.check(*attempts, now=clock_of(connection))


async def forget_attempts(
    connection: ASGIConnection[Any, Any, Any, Any], rule: Rule, subject: str
) -> None:
    throttle: Throttle = connection.app.state.throttle
    await throttle.reset(rule, subject)


def retry_after_header(exc: Throttled) -> dict[str, str]:
    return {"Retry-After": str(exc.retry_after)}
