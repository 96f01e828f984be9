"""Sessions: ids rotate at log-in and log-out, unknown ids are never adopted, idle and absolute
lifetimes end them (a fake clock, no sleeping), and a member sees and ends their sessions.

Every test runs twice: sessions in the database's table (the default), and in Redis (as with
``FORUM_REDIS_URL``), where the table must stay empty."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis
import redis.asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from forum.actions import do_end_session, do_start_session, do_touch_session
from forum.config import Settings
from forum.db import Database, utcnow
from forum.models import Member, MemberSession
from forum.privacy import do_delete_account
from forum.queries import get_session_with_member
from forum.sessions import MAX_SESSIONS_PER_MEMBER, make_store, store_of
from tests.browsing import Browser, Form
from tests.conftest import require_redis

COOKIE = "entrepairs"
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1"
DESKTOP = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def is_member(browser: Browser) -> bool:
    page = await browser.get("/me", follow_redirects=False)
    assert page.status in (200, 303), page.status  # 303: to /login
    return page.status == 200


@pytest.fixture(params=["table", "redis"])
def settings(request: pytest.FixtureRequest, database_url: str) -> Settings:
    redis_url = ""
    if request.param == "redis":
        redis_url = require_redis()
        namespace = make_store(redis_url, database_url)
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(f"{namespace.prefix}*"):  # type: ignore[attr-defined]
            client.delete(key)
        client.close()
    return Settings(
        env="test", database_url=database_url, secret_key="t" * 48,
        base_url="http://testserver.local", redis_url=redis_url,
        rate_limits="off",  # with Redis, throttle counters would outlive each test's database
    ).validated()


async def session_rows(database: Database) -> list[Any]:
    """Every open session, through the store in use; with Redis, the table stays empty."""
    async with database.reader() as session:
        rows = []
        for member_id in await session.scalars(select(Member.id)):
            rows += await store_of(session).of_member(session, member_id)
        if database.sessions is not None:
            assert await session.scalar(select(func.count()).select_from(MemberSession)) == 0
        return rows


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


async def test_a_planted_session_cookie_is_replaced_at_login_and_stays_anonymous(
    browser: Browser, database: Database
) -> None:
    await browser.signup("Fixe")
    await browser.logout()
    planted = "a" * 64
    browser.client.cookies.set(COOKIE, planted)
    result = await browser.login("Fixe")
    assert result.status == 303
    issued = result.response.cookies.get(COOKIE)
    assert issued and issued != planted
    assert all(row.token_hash != sha256(planted) for row in await session_rows(database))
    browser.client.cookies.set(COOKIE, planted)
    assert not await is_member(browser)


async def test_an_unknown_session_id_is_never_adopted(
    browser: Browser, database: Database
) -> None:
    browser.client.cookies.set(COOKIE, "attacker-chosen-value")
    page = await browser.get("/")
    assert page.status == 200
    assert COOKIE not in page.response.cookies
    assert not await is_member(browser)
    assert await session_rows(database) == []


async def test_logout_deletes_the_session_and_the_old_cookie_is_anonymous(
    browser: Browser, database: Database
) -> None:
    await browser.signup("Sortie")
    old = browser.client.cookies.get(COOKIE)
    assert old and await is_member(browser)
    result = await browser.logout()
    assert result.status == 303
    assert result.response.headers["clear-site-data"] == '"cache", "storage"'
    assert await session_rows(database) == []
    browser.client.cookies.set(COOKIE, old)
    assert not await is_member(browser)


async def test_a_member_keeps_at_most_twenty_sessions_the_oldest_ends_first(
    browser: Browser, database: Database
) -> None:
    await browser.signup("Nomade")
    first = browser.client.cookies.get(COOKIE)
    start = utcnow()
    async with database.writing() as session:
        member = await session.scalar(select(Member).where(Member.pseudonym == "Nomade"))
        for minute in range(1, MAX_SESSIONS_PER_MEMBER + 1):
            await do_start_session(session, member, lifetime=timedelta(days=1),
                                   now=start + timedelta(minutes=minute))
    rows = await session_rows(database)
    assert len(rows) == MAX_SESSIONS_PER_MEMBER
    assert sha256(first) not in {row.token_hash for row in rows}
    assert not await is_member(browser)


async def test_a_session_unused_longer_than_the_idle_limit_ends(
    app: Litestar, browser: Browser, database: Database
) -> None:
    await browser.signup("Dormeuse")
    clock = FakeClock(utcnow())
    app.state.clock = clock
    clock.now += timedelta(hours=app.state.settings.session_idle_hours - 1)
    assert await is_member(browser)
    clock.now += timedelta(hours=app.state.settings.session_idle_hours + 1)
    assert not await is_member(browser)
    assert await session_rows(database) == []


async def test_an_active_session_still_ends_at_its_absolute_lifetime(
    app: Litestar, browser: Browser, database: Database
) -> None:
    await browser.signup("Marathon")
    start = utcnow()
    clock = FakeClock(start)
    app.state.clock = clock
    max_days = app.state.settings.session_max_days
    for day in range(1, max_days):
        clock.now = start + timedelta(days=day)
        assert await is_member(browser), f"ended on day {day}"
    clock.now = start + timedelta(days=max_days, minutes=1)
    assert not await is_member(browser)
    assert await session_rows(database) == []


async def test_sessions_page_lists_device_class_and_last_seen_day_only(
    app: Litestar, browser: Browser
) -> None:
    await browser.signup("Voyageuse")
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as other:
        phone = Browser(other)
        phone.client.headers["user-agent"] = PHONE
        assert (await phone.login("Voyageuse")).status == 303
        page = await phone.get("/me/sessions")
    assert page.status == 200
    rows = page.all("tr.session")
    assert len(rows) == 2
    devices = sorted(row.select_one("td").get_text(" ", strip=True) for row in rows)
    assert any(text.startswith("Téléphone") and "cet appareil" in text for text in devices)
    assert any(text.startswith("Appareil inconnu") or text.startswith("Ordinateur")
               for text in devices)
    for row in rows:
        seen = row.select_one("time")
        assert re.search(r"\d{4}$", seen.get_text(strip=True))  # "5 déc. 2026", a day in words
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", seen["datetime"])
    assert PHONE not in page.response.text


async def test_ending_other_sessions_logs_out_the_other_devices_only(
    app: Litestar, browser: Browser, database: Database
) -> None:
    browser.client.headers["user-agent"] = DESKTOP
    await browser.signup("Prudente")
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as other:
        phone = Browser(other)
        phone.client.headers["user-agent"] = PHONE
        await phone.login("Prudente")
        assert await is_member(phone)
        page = await browser.get("/me/sessions")
        result = await browser.submit(page.form("#end-others"))
        assert result.status == 303
        assert not await is_member(phone)
    assert await is_member(browser)
    rows = await session_rows(database)
    assert [row.device for row in rows] == ["computer"]


async def test_ending_one_session_by_its_row(app: Litestar, browser: Browser) -> None:
    await browser.signup("Tisane")
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as other:
        tablet = Browser(other)
        tablet.client.headers["user-agent"] = "Mozilla/5.0 (iPad; CPU OS 17_0) Safari/604.1"
        await tablet.login("Tisane")
        page = await browser.get("/me/sessions")
        row = next(r for r in page.all("tr.session") if "Tablette" in r.get_text())
        result = await browser.submit(Form(row.select_one("form"), page))
        assert result.status == 303
        assert not await is_member(tablet)
    assert await is_member(browser)


async def test_a_member_cannot_end_someone_elses_session(
    app: Litestar, browser: Browser, database: Database
) -> None:
    await browser.signup("Gardienne")
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as other:
        intruder = Browser(other)
        await intruder.signup("Curieux")
        rows = await session_rows(database)
        page = await intruder.get("/me/sessions")
        victim_hash = next(r.token_hash for r in rows if r.token_hash not in page.response.text)
        form = page.form("tr.session form")
        result = await intruder.submit(form, {"session": victim_hash})
        assert result.status == 303
    assert await is_member(browser)
    assert len(await session_rows(database)) == 2


@pytest.mark.parametrize("settings", ["redis"], indirect=True)
async def test_in_redis_a_session_expires_at_its_end_and_nothing_brings_an_ended_one_back(
    settings: Settings, database: Database
) -> None:
    client = redis.asyncio.Redis.from_url(settings.redis_url)
    async with database.writing() as session:
        member = Member(pseudonym="Passante", pseudonym_key="passante", password_hash="x",
                        recovery_hash="x")
        session.add(member)
        await session.flush()
        token = await do_start_session(session, member, lifetime=timedelta(days=3))
    store = database.sessions
    key = f"{store.prefix}{sha256(token)}"
    ttl = await client.ttl(key)
    assert 3 * 86400 - 60 < ttl <= 3 * 86400
    assert 0 < await client.ttl(f"{store.prefix}member:{member.id}") <= 3 * 86400
    async with database.writing() as session:
        await do_end_session(session, token)
        await do_touch_session(session, token, utcnow())  # a request that was already running
    assert not await client.exists(key)
    assert await client.zcard(f"{store.prefix}member:{member.id}") == 0
    async with database.writing() as session:
        token = await do_start_session(session, member, lifetime=timedelta(days=3))
        await do_delete_account(session, member, erase_posts=False)
    assert not await client.exists(f"{store.prefix}{sha256(token)}")
    async with database.reader() as session:
        assert await get_session_with_member(session, token) is None
    await client.aclose()
