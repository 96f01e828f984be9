"""After a scripted session (sign-ups, posts, a flag, failed log-ins, a recovery attempt) from
a distinctive client address and user agent, neither the database (file and WAL on SQLite,
every row on PostgreSQL) nor the logs contain them."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import select
from sqlalchemy.engine import make_url

from forum.config import Settings
from forum.db import Base, Database
from tests.browsing import DEFAULT_PASSWORD, Browser

CLIENT_ADDRESS = "203.0.113.77"
FORWARDED_ADDRESS = "198.51.100.23"
USER_AGENT = "CanaryBrowser/9.9 (UA-canary-5150; Linux x86_64)"
CANARIES = (CLIENT_ADDRESS, FORWARDED_ADDRESS, "UA-canary-5150", "CanaryBrowser")


@pytest.fixture(params=["off", "on"])
def settings(request: pytest.FixtureRequest, database_url: str) -> Settings:
    """As run directly, and as deployed behind deploy/nginx.conf (FORUM_TRUST_PROXY=on: the
    forwarded address is read, for throttling, and must still be found nowhere)."""
    return Settings(
        env="test", database_url=database_url, secret_key="t" * 48,
        base_url="http://testserver.local", trust_proxy=request.param,
    ).validated()


@pytest.fixture
async def canary_browser(app: Litestar) -> AsyncIterator[Browser]:
    transport = httpx.ASGITransport(app=app, client=(CLIENT_ADDRESS, 40404))
    headers = {"User-Agent": USER_AGENT, "X-Forwarded-For": FORWARDED_ADDRESS,
               "X-Real-IP": FORWARDED_ADDRESS, "Forwarded": f"for={FORWARDED_ADDRESS}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local",
                                 headers=headers) as client:
        yield Browser(client)  # type: ignore[arg-type] - same request API


async def scripted_session(browser: Browser) -> None:
    await browser.signup("Gypaete")
    started = await browser.start_thread("anxiete", "Un fil de test", "Un premier message.")
    assert started.status == 303
    thread_id = int(re.search(r"/t/(\d+)", started.response.headers["location"]).group(1))
    await browser.logout()
    await browser.signup("Grimpereau")
    assert (await browser.reply(thread_id, "Une réponse bienveillante.")).status == 303
    page = await browser.get(f"/t/{thread_id}")
    first = page.one("article.post")["id"].removeprefix("post-")
    flag_page = await browser.get(f"/p/{first}/flag")
    assert (await browser.submit(flag_page.form("form.flag-form"),
                                 {"reason": "spam"})).status == 200
    await browser.logout()
    for password in ("mauvais mot un", "mauvais mot deux"):
        assert (await browser.login("Gypaete", password)).status == 422
    assert (await browser.login("Personne", "mauvais mot trois")).status == 422
    recover = await browser.get("/recover")
    await browser.submit(recover.form(), {
        "pseudonym": "Gypaete", "code": "2222-3333-4444-5555-6666",
        "password": DEFAULT_PASSWORD, "password_confirm": DEFAULT_PASSWORD,
    })
    assert (await browser.login("Gypaete")).status == 303
    assert (await browser.get("/me/sessions")).status == 200


def database_files(settings: Settings) -> list[Path]:
    path = Path(make_url(settings.database_url).database)
    return [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]


async def every_row(database: Database) -> str:
    parts = []
    async with database.reader() as session:
        for table in Base.metadata.sorted_tables:
            parts += [repr(tuple(row)) for row in (await session.execute(select(table))).all()]
    return "\n".join(parts)


async def test_neither_the_database_nor_the_logs_hold_the_clients_address_or_user_agent(
    canary_browser: Browser, database: Database, settings: Settings,
    log_lines: io.StringIO, demo: None,
) -> None:
    await scripted_session(canary_browser)
    rows = await every_row(database)
    assert "Gypaete" in rows  # the dump does see what was stored
    logs = log_lines.getvalue()
    assert '"event": "request"' in logs and '"event": "login failed"' in logs
    for canary in CANARIES:
        assert canary not in rows, canary
        assert canary not in logs, canary
    if settings.is_sqlite:
        files = database_files(settings)  # while open: the WAL holds the latest writes
        assert any(f.name.endswith("-wal") for f in files)
        contents = b"".join(f.read_bytes() for f in files)
        await database.dispose()  # the last close checkpoints the WAL into the main file
        contents += b"".join(f.read_bytes() for f in database_files(settings))
        assert b"Gypaete" in contents
        for canary in CANARIES:
            for encoded in (canary.encode(), canary.encode("utf-16-le")):
                assert encoded not in contents, (canary, encoded)
