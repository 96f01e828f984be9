"""Shared fixtures: a fresh database per test (SQLite file, or PostgreSQL when
``FORUM_TEST_DATABASE_URL`` is set), the real app, and an HTTP client that uses the real forms.
"""

from __future__ import annotations

import io
import logging
import os
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import settings as hypothesis_settings
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from forum.app import create_app
from forum.cache import with_page_cache
from forum.config import Settings
from forum.db import Database
from forum.demo import seed_demo
from forum.head import AnswerHead
from forum.logging import JsonFormatter
from forum.passwords import Hasher
from forum.schema import create_all
from tests.browsing import Browser

TEST_DATABASE_URL = os.environ.get("FORUM_TEST_DATABASE_URL", "")
ON_POSTGRES = TEST_DATABASE_URL.startswith("postgresql")
TEST_REDIS_URL = os.environ.get("FORUM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI") == "true"

# The property tests draw new examples on every local run, so they keep searching; in CI they
# replay the same examples each time, so a rare find (one run in 270, as the sanitiser's was)
# cannot fail one run of unchanged code and pass the next. A find becomes a named test.
hypothesis_settings.register_profile("forum-ci", derandomize=True, database=None,
                                     print_blob=True)
if IN_CI:
    hypothesis_settings.load_profile("forum-ci")


def service_missing(what: str, host: str, port: int) -> str | None:
    """Why a test that needs ``what`` cannot run here, or None when it is reachable."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return None
    except OSError:
        return f"{what} is not reachable on {host}:{port}"


def require_service(what: str, host: str, port: int) -> None:
    """Skip, with the reason printed, when ``what`` is not reachable; in CI, fail instead:
    there the services are part of the machine, and a skip would count as a pass."""
    reason = service_missing(what, host, port)
    if reason is None:
        return
    if IN_CI:
        pytest.fail(f"{reason}, and CI must run this test")
    print(f"\nskipped: {reason}")
    pytest.skip(reason)


def require_redis() -> str:
    """The test Redis's URL (``FORUM_TEST_REDIS_URL``, default 127.0.0.1:6379)."""
    parsed = urlsplit(TEST_REDIS_URL)
    require_service("Redis", parsed.hostname or "127.0.0.1", parsed.port or 6379)
    return TEST_REDIS_URL


@pytest.fixture(autouse=True)
def short_live_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-process test client reads a whole response before it returns: a ``/live``
    stream (tests that visit every page visit it too) ends after a moment instead of 30
    minutes. The stream tests on a real server (tests/forum/test_live.py) set it back."""
    from forum.web import live

    monkeypatch.setattr(live, "MAX_SECONDS", 0.3)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return TEST_DATABASE_URL or f"sqlite+aiosqlite:///{tmp_path / 'forum.db'}"


async def empty_schema(url: str) -> None:
    """No table at all on PostgreSQL (the state ``forum db upgrade`` starts from); a SQLite
    file is left alone (a test gives each its own)."""
    database = Database(url, pool=False)
    try:
        async with database.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await database.dispose()


async def reset_schema(url: str) -> None:
    """An empty schema with every table, the same way on both databases."""
    database = Database(url, pool=False)
    try:
        async with database.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                await connection.execute(text("CREATE SCHEMA public"))
            await connection.run_sync(create_all)
    finally:
        await database.dispose()


@pytest.fixture
def settings(database_url: str) -> Settings:
    # A search's time budget (250 ms by default) is tested on its own (test_search_budget.py);
    # elsewhere a loaded test machine must not turn a ranked answer into the newest matches
    # (seen: 549 ms for a search on a tiny forum while other suites ran).
    return Settings(
        env="test", database_url=database_url, secret_key="t" * 48,
        base_url="http://testserver.local", search_budget_ms=60_000,
    ).validated()


@pytest.fixture
def hasher() -> Hasher:
    return Hasher(cheap=True)


@pytest.fixture
async def app(settings: Settings, hasher: Hasher) -> Litestar:
    await reset_schema(settings.database_url)
    # The test client serves the app on its own event loop while tests read the database on
    # theirs: asyncpg connections cannot cross loops, so PostgreSQL tests do not pool.
    database = Database(settings.database_url, pool=not ON_POSTGRES)
    # Behind the page caches, as in production (forum.app.create_server_app): every test that
    # reads a page after a write also checks that the caches forgot what the write changed.
    return AnswerHead(with_page_cache(create_app(settings, hasher=hasher, database=database),
                                      settings))


@pytest.fixture
async def database(app: Litestar) -> Database:
    return app.state.database


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as test_client:
        yield test_client


@pytest.fixture
async def demo(app: Litestar) -> None:
    """The demo spaces and threads, seeded through the real actions and content gate."""
    async with app.state.database.writing() as session:
        await seed_demo(session, app.state.gate)


@pytest.fixture
def browser(client: AsyncTestClient) -> Browser:
    """A visitor who reads pages and submits their forms, as a person would without JS."""
    return Browser(client)


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Every log record of the test, from DEBUG up, as the forum's JSON lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
