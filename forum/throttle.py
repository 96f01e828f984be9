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
``X-Forwarded-For`` entry with ``FORUM_TRUST_PROXY=on`` (the shipped nginx configuration sets
it to the peer's address); it is used only inside such a key.

Two more things keep one person from shutting others out:

- **Known devices.** A successful log-in, sign-up or recovery leaves a *known-device* cookie:
  up to four tokens ``day + random + HMAC(secret key, account, day, random)``, one per account
  that used this browser, valid for ``KNOWN_DEVICE_DAYS``. It names no account: only the
  server can tell, and only for the pseudonym typed in the form. A log-in with a valid token for
  the pseudonym typed is counted against that device's own limit (``login-device``) instead of
  the account's and the client's: whoever fails log-ins for a member elsewhere cannot refuse
  the member on a device they used before. Its wrong passwords still count against the
  account's and the client's limits, so the token gives a guesser nothing more than its own
  small allowance.
- **Rules for reads** (``Rule.for_reads``): searches are never counted in the database (a search
  is a read, and must stay one). With ``FORUM_REDIS_URL`` they are counted in Redis like the
  others, so the limit holds across workers and machines; without it, or while Redis cannot
  answer, in the process's memory (a bounded dictionary of the same keyed hashes), so each
  worker allows the limit and a search never fails because Redis is away.

``FORUM_RATE_LIMITS=off`` turns everything off (load tests only).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import re
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from litestar.connection import ASGIConnection
from sqlalchemy import case, delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from forum.config import Settings
from forum.db import Database, commit, is_unavailable, utcnow
from forum.models import ThrottleCounter
from forum.redis_pool import RedisClients, RedisResting

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
    for_reads: bool = False
    """A read's rule: never counted in the database; in Redis when configured, otherwise (or
    while Redis is away) in this process's memory."""

    @property
    def longest_wait(self) -> int:
        return max(tier.window for tier in self.tiers)


MINUTE = 60
QUARTER = 15 * MINUTE

LOGIN_ACCOUNT = Rule("login-account", (Tier(5, MINUTE), Tier(10, QUARTER)))
"""Log-in attempts per pseudonym (existing or not); reset by a successful log-in."""
LOGIN_CLIENT = Rule("login-client", (Tier(10, MINUTE), Tier(30, QUARTER)))
LOGIN_DEVICE = Rule("login-device", (Tier(5, MINUTE), Tier(10, QUARTER)))
"""Log-in attempts from a known device for the account it knows (instead of the two above)."""
SIGNUP_CLIENT = Rule("signup-client", (Tier(5, MINUTE), Tier(20, QUARTER)))
"""Sign-up attempts per client: "pseudonym taken" answers can't be used to list members."""
RECOVER_CLIENT = Rule("recover-client", (Tier(5, MINUTE), Tier(15, QUARTER)))
RECOVER_ACCOUNT = Rule("recover-account", (Tier(5, QUARTER),))
REAUTH_ACCOUNT = Rule("reauth-account", (Tier(5, MINUTE), Tier(10, QUARTER)))
"""Password checks of a logged-in member (change password, new code, deletion)."""

SEARCH_CLIENT = Rule("search-client", (Tier(20, MINUTE), Tier(150, QUARTER)), for_reads=True)
"""Searches per client (a member: per member). A person searches, refines and turns pages a
few times a minute; a loop that holds the worker's search slot is stopped after twenty."""

RULES = (LOGIN_ACCOUNT, LOGIN_CLIENT, LOGIN_DEVICE, SIGNUP_CLIENT, RECOVER_CLIENT,
         RECOVER_ACCOUNT, REAUTH_ACCOUNT, SEARCH_CLIENT)

KNOWN_DEVICE_DAYS = 180
"""A known-device token is valid this long after the log-in that issued it (each log-in
issues a fresh one)."""
KNOWN_DEVICE_TOKENS = 4
"""Accounts one browser remembers (a shared family computer); the oldest is dropped first."""
_DEVICE_TOKEN = re.compile(r"[0-9a-f]{61}")
LOCAL_KEYS = 100_000
"""Process-local counters kept at most (about 10 MB); expired ones go first, then the oldest."""


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
        self._local: OrderedDict[str, tuple[int, datetime]] = OrderedDict()

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
        keys = [(self.key(rule, tier, subject), tier.window) for tier in rule.tiers]
        counts = await self._increment_read(keys, now) if rule.for_reads else \
            await self._increment(keys, now)
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
        if rule.for_reads:
            for key in keys:
                self._local.pop(key, None)
            if self._clients is not None:
                try:
                    await self._redis.delete(*keys)
                except Exception as exc:
                    if not is_unavailable(exc):  # Redis away, not a bug
                        raise
            return
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

    async def _increment_read(
        self, keys: list[tuple[str, int]], now: datetime
    ) -> list[tuple[int, datetime]]:
        """A read's attempts: in Redis when configured (shared by every worker), else in this
        process's memory; Redis in trouble falls back to memory rather than refuse a read."""
        if self._clients is not None:
            try:
                return await self._increment_redis(keys, now)
            except Exception as exc:
                if not is_unavailable(exc):  # Redis away, not a bug
                    raise
                if not isinstance(exc, RedisResting):  # once per failure, not per search
                    log.warning("throttle: Redis unavailable, counting searches in memory: %s",
                                type(exc).__name__)
        return self._increment_local(keys, now)

    def _increment_local(self, keys: list[tuple[str, int]], now: datetime
                         ) -> list[tuple[int, datetime]]:
        """The same fixed windows, in this process's memory (no await: atomic on its loop)."""
        results = []
        for key, window in keys:
            hits, expires_at = self._local.pop(key, (0, now))
            if expires_at <= now:
                hits, expires_at = 0, now + timedelta(seconds=window)
            self._local[key] = (hits + 1, expires_at)
            results.append((hits + 1, expires_at))
        if len(self._local) > LOCAL_KEYS:
            for key in [k for k, (_, ends) in self._local.items() if ends <= now]:
                del self._local[key]
            while len(self._local) > LOCAL_KEYS:
                self._local.popitem(last=False)
        return results

    # -- known devices ---------------------------------------------------------------------

    def _device_mac(self, subject: str, day: int, nonce: str) -> str:
        return hmac.new(self._secret, f"known-device\x00{subject}\x00{day}\x00{nonce}".encode(),
                        hashlib.sha256).hexdigest()[:32]

    @staticmethod
    def _device_tokens(cookie: str | None) -> list[str]:
        if not cookie or len(cookie) > 62 * KNOWN_DEVICE_TOKENS:
            return []
        return [token for token in cookie.split(".") if _DEVICE_TOKEN.fullmatch(token)]

    def _device_nonce(self, token: str, subject: str, now: datetime) -> str | None:
        """The token's random part when it is valid for ``subject`` today, else None."""
        day, nonce, mac = int(token[:5], 16), token[5:29], token[29:]
        today = int(now.timestamp() // 86400)
        if not today - KNOWN_DEVICE_DAYS <= day <= today + 1:
            return None
        return nonce if hmac.compare_digest(mac, self._device_mac(subject, day, nonce)) else None

    def known_device(self, cookie: str | None, subject: str, *, now: datetime) -> str | None:
        """The subject to count under ``LOGIN_DEVICE`` when the known-device cookie holds a
        valid token for ``subject`` (an account); None otherwise."""
        for token in self._device_tokens(cookie):
            nonce = self._device_nonce(token, subject, now)
            if nonce is not None:
                return f"device\x00{subject}\x00{nonce}"
        return None

    def remember_device(self, cookie: str | None, subject: str, *, now: datetime) -> str:
        """The cookie's new value after a successful log-in to ``subject``: a fresh token for
        it, after the still valid tokens of other accounts (the oldest beyond four dropped)."""
        today = int(now.timestamp() // 86400)
        kept = [token for token in self._device_tokens(cookie)
                if today - KNOWN_DEVICE_DAYS <= int(token[:5], 16) <= today + 1
                and self._device_nonce(token, subject, now) is None]
        nonce = secrets.token_hex(12)
        fresh = f"{today:05x}{nonce}{self._device_mac(subject, today, nonce)}"
        return ".".join([*kept[-(KNOWN_DEVICE_TOKENS - 1):], fresh])

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


async def record_attempt(
    connection: ASGIConnection[Any, Any, Any, Any], *attempts: tuple[Rule, str]
) -> None:
    """Count the attempts of this request without refusing it (they weigh on later ones)."""
    throttle: Throttle = connection.app.state.throttle
    now = clock_of(connection)
    for rule, subject in attempts:
        await throttle.hit(rule, subject, now=now)


async def forget_attempts(
    connection: ASGIConnection[Any, Any, Any, Any], rule: Rule, subject: str
) -> None:
    throttle: Throttle = connection.app.state.throttle
    await throttle.reset(rule, subject)


def retry_after_header(exc: Throttled) -> dict[str, str]:
    return {"Retry-After": str(exc.retry_after)}
