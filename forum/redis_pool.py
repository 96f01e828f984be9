"""The forum's Redis clients: bounded pools, short timeouts, and a breaker (``FORUM_REDIS_URL``).

Sessions (``forum/sessions.py``), throttle counters (``forum/throttle.py``) and the visitor page
cache (``forum/cache.py``) each get their client here, so that Redis trouble costs the same
everywhere, and never more than a few seconds:

- **A bounded pool.** redis-py's default pool refuses a command at once with
  ``MaxConnectionsError`` when 100 connections are busy (and more than 100 concurrent member
  requests on one process answered 500). Here each client has a *blocking* pool of
  ``pool_size`` connections per event loop: a command that finds them all busy waits up to
  ``POOL_WAIT_SECONDS`` for one. A Redis round trip takes well under a millisecond, so 32
  connections serve thousands of requests a second; a wait that long means Redis is in trouble.
- **Timeouts.** ``CONNECT_TIMEOUT_SECONDS`` to connect, ``socket_timeout`` for an answer. One
  retry, on a broken connection only (the first command after Redis restarted finds its pooled
  connection closed: the retry reconnects), never after a timeout.
- **A breaker.** After a command fails for want of Redis (refused, reset, timed out, no pooled
  connection), the client *rests* for ``REST_SECONDS``: commands fail at once with
  :class:`RedisResting` instead of each waiting for its timeout. Then one command probes;
  its success closes the breaker, so the forum recovers by itself when Redis is back.

What a failure means is decided by the caller: a member's request answers 503 with
``Retry-After`` (``forum.db.is_unavailable`` counts Redis's connection and timeout errors, and
:class:`RedisResting`, as "try again shortly"), and the visitor page cache falls back to
rendering the page.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import weakref
from types import TracebackType
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import (
    ClusterDownError,
    OutOfMemoryError,
    ReadOnlyError,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

POOL_SIZE = 32
"""Connections per client and event loop (one event loop per worker in production)."""
POOL_WAIT_SECONDS = 2.0
CONNECT_TIMEOUT_SECONDS = 1.0
SOCKET_TIMEOUT_SECONDS = 2.0
REST_SECONDS = 1.0
"""How long the breaker answers at once after a failure, before one command probes Redis."""

TROUBLE = (RedisConnectionError, RedisTimeoutError, OSError, asyncio.TimeoutError)
"""What a missing, stopped, hung or saturated Redis raises (MaxConnectionsError and the
blocking pool's "No connection available" are ConnectionErrors)."""


def namespace_of(database_url: str) -> str:
    """The part of every Redis key and channel that keeps forums on different databases
    apart when they share one Redis."""
    return hashlib.sha256(database_url.encode()).hexdigest()[:12]


class RedisResting(RedisConnectionError):
    """Redis failed a moment ago: this command was not sent (the breaker is open)."""


REFUSING = (OutOfMemoryError, ReadOnlyError, TryAgainError, ClusterDownError)
"""Answers of a Redis that is up but refuses writes for now: maxmemory reached, a replica
after a failover, a cluster that is not ready."""


def is_redis_trouble(exc: BaseException) -> bool:
    """Redis is away, hung, saturated, or refusing writes for now (its disk full: MISCONF):
    "try again shortly", not a bug."""
    if isinstance(exc, (RedisConnectionError, RedisTimeoutError, *REFUSING)):
        return True
    return isinstance(exc, ResponseError) and str(exc).startswith("MISCONF")


class Breaker:
    """Open after a failure for ``rest`` seconds; then one call probes; a success closes it.

    Used as ``async with breaker:`` around each Redis command (or pipeline) of one client."""

    def __init__(self, rest: float = REST_SECONDS,
                 probe_limit: float = SOCKET_TIMEOUT_SECONDS + POOL_WAIT_SECONDS) -> None:
        self.rest = rest
        self.probe_limit = probe_limit
        """A probe that never ended (cancelled) stops blocking others after this long."""
        self._open_until: float | None = None
        self._probe_since: float | None = None

    @property
    def is_open(self) -> bool:
        return self._open_until is not None

    async def __aenter__(self) -> None:
        if self._open_until is None:
            return
        now = time.monotonic()
        if now < self._open_until:
            raise RedisResting("Redis failed a moment ago; not sent")
        if self._probe_since is not None and now - self._probe_since < self.probe_limit:
            raise RedisResting("Redis is being probed; not sent")
        self._probe_since = now

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> bool:
        if exc is None:
            self._open_until = self._probe_since = None
        elif isinstance(exc, TROUBLE) and not isinstance(exc, RedisResting):
            self._open_until = time.monotonic() + self.rest
            self._probe_since = None
        return False


class GuardedPipeline(Pipeline):
    breaker: Breaker

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        async with self.breaker:
            return await super().execute(raise_on_error)


class GuardedRedis(Redis):
    """A redis-py client whose commands and pipelines go through its :class:`Breaker`."""

    breaker: Breaker

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        async with self.breaker:
            return await super().execute_command(*args, **options)

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None
                 ) -> GuardedPipeline:
        pipe = GuardedPipeline(self.connection_pool, self.response_callbacks, transaction,
                               shard_hint)
        pipe.breaker = self.breaker
        return pipe


def connect(url: str, *, pool_size: int = POOL_SIZE,
            socket_timeout: float = SOCKET_TIMEOUT_SECONDS) -> GuardedRedis:
    """A client of its own bounded pool, for the running event loop."""
    pool = BlockingConnectionPool.from_url(
        url, max_connections=pool_size, timeout=POOL_WAIT_SECONDS,
        socket_timeout=socket_timeout, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    )
    client = GuardedRedis.from_pool(pool)
    client.breaker = Breaker()
    return client


class RedisClients:
    """One client per event loop (a connection cannot cross loops: the app's, a CLI
    command's, a test's), each with its own pool and breaker."""

    def __init__(self, url: str, *, pool_size: int = POOL_SIZE,
                 socket_timeout: float = SOCKET_TIMEOUT_SECONDS) -> None:
        self.url = url
        self.pool_size = pool_size
        self.socket_timeout = socket_timeout
        self._clients: weakref.WeakKeyDictionary[Any, GuardedRedis] = (
            weakref.WeakKeyDictionary())

    def get(self) -> GuardedRedis:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = connect(self.url, pool_size=self.pool_size,
                             socket_timeout=self.socket_timeout)
            self._clients[loop] = client
        return client

    async def close(self) -> None:
        """Close the running loop's client (the next command opens a new one)."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
