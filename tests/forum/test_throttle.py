"""Throttling: atomic counters (SQL or Redis), per pseudonym and per client, waits that grow
but never lock the real owner out for more than minutes, a calm 429 with Retry-After."""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from forum.app import create_app
from forum.config import Settings
from forum.db import Database, utcnow
from forum.models import ThrottleCounter
from forum.passwords import Hasher
from forum.throttle import (
    KNOWN_DEVICE_DAYS,
    KNOWN_DEVICE_TOKENS,
    LOGIN_ACCOUNT,
    LOGIN_DEVICE,
    SEARCH_CLIENT,
    Throttle,
)
from tests.browsing import DEFAULT_PASSWORD, Browser, another_browser
from tests.conftest import reset_schema


class CountingHasher(Hasher):
    def __init__(self) -> None:
        super().__init__(cheap=True)
        self.verifications = 0

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        self.verifications += 1
        return await super().verify(stored_hash, password)


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def hasher() -> CountingHasher:
    return CountingHasher()


async def login_attempt(browser: Browser, pseudonym: str, password: str = "pas le bon mot"):
    return await browser.login(pseudonym, password)


async def concurrent_failed_logins(client: AsyncTestClient, pseudonym: str, n: int) -> list[int]:
    page = await client.get("/login")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)

    async def attempt() -> int:
        response = await client.post("/login", data={
            "_csrf_token": token, "pseudonym": pseudonym, "password": "pas le bon mot",
        })
        return response.status_code

    return list(await asyncio.gather(*(attempt() for _ in range(n))))


async def test_fifty_concurrent_failed_logins_run_at_most_the_limit_of_verifications(
    browser: Browser, client: AsyncTestClient, hasher: CountingHasher
) -> None:
    await browser.signup("Forteresse")
    await browser.logout()
    hasher.verifications = 0
    statuses = await concurrent_failed_logins(client, "Forteresse", 50)
    limit = LOGIN_ACCOUNT.tiers[0].limit
    assert hasher.verifications <= limit
    assert statuses.count(422) == hasher.verifications
    assert statuses.count(429) == 50 - hasher.verifications


async def test_a_throttled_login_answers_a_calm_429_with_retry_after_and_keeps_the_pseudonym(
    browser: Browser,
) -> None:
    for _ in range(LOGIN_ACCOUNT.tiers[0].limit):
        assert (await login_attempt(browser, "Inconnue")).status == 422
    page = await login_attempt(browser, "Inconnue")
    assert page.status == 429
    wait = int(page.response.headers["retry-after"])
    assert 0 < wait <= 60
    assert "min" in page.text("#login-error")
    assert page.one("input#pseudonym")["value"] == "Inconnue"


async def test_waits_grow_but_the_owner_is_never_locked_out_for_more_than_minutes(
    app: Litestar, browser: Browser
) -> None:
    await browser.signup("Patiente")
    await browser.logout()
    clock = FakeClock(utcnow())
    app.state.clock = clock
    first, second = LOGIN_ACCOUNT.tiers
    waits = []
    for _ in range(second.limit + 1):
        page = await login_attempt(browser, "Patiente")
        if page.status == 429:
            waits.append(int(page.response.headers["retry-after"]))
            clock.now += timedelta(seconds=first.window + 1)
    assert waits[0] <= first.window
    assert waits[-1] > first.window
    assert max(waits) <= max(tier.window for tier in LOGIN_ACCOUNT.tiers)
    clock.now += timedelta(seconds=max(waits) + 1)
    assert (await browser.login("Patiente", DEFAULT_PASSWORD)).status == 303


async def test_a_successful_login_clears_the_pseudonyms_failures(
    browser: Browser,
) -> None:
    await browser.signup("Oublieuse")
    await browser.logout()
    for _ in range(LOGIN_ACCOUNT.tiers[0].limit - 1):
        assert (await login_attempt(browser, "Oublieuse")).status == 422
    assert (await browser.login("Oublieuse", DEFAULT_PASSWORD)).status == 303
    await browser.logout()
    for _ in range(LOGIN_ACCOUNT.tiers[0].limit):
        assert (await login_attempt(browser, "Oublieuse")).status == 422


async def test_one_client_trying_many_pseudonyms_is_throttled(browser: Browser) -> None:
    statuses = [(await login_attempt(browser, f"Nom{i}")).status for i in range(12)]
    assert statuses[:10] == [422] * 10
    assert statuses[10:] == [429, 429]


async def test_probing_taken_pseudonyms_at_signup_is_throttled(browser: Browser) -> None:
    await browser.signup("Prise")
    await browser.logout()
    statuses = []
    for _ in range(7):
        page = await browser.get("/signup")
        result = await browser.submit(page.form(), {
            "pseudonym": "Prise", "password": DEFAULT_PASSWORD,
            "password_confirm": DEFAULT_PASSWORD, "consent": "yes",
        })
        statuses.append(result.status)
    # The first sign-up counted once already.
    assert statuses[:4] == [422] * 4
    assert statuses[4:] == [429] * 3
    assert result.response.headers["retry-after"].isdigit()
    assert result.one("input#pseudonym")["value"] == "Prise"


async def test_recovery_attempts_are_throttled_per_client(browser: Browser) -> None:
    statuses = []
    for i in range(6):
        page = await browser.get("/recover")
        result = await browser.submit(page.form(), {
            "pseudonym": f"Quelqu-un{i}", "code": "AAAA-BBBB-CCCC-DDDD-EEEE",
            "password": DEFAULT_PASSWORD, "password_confirm": DEFAULT_PASSWORD,
        })
        statuses.append(result.status)
    assert statuses == [422] * 5 + [429]
    assert "min" in result.text("#code-error")


async def test_counter_keys_hold_neither_the_pseudonym_nor_the_client_address(
    browser: Browser, database: Database
) -> None:
    await login_attempt(browser, "Discrete")
    async with database.reader() as session:
        keys = list(await session.scalars(select(ThrottleCounter.key)))
    assert keys
    for key in keys:
        assert re.fullmatch(r"[a-z-]+:\d+:[0-9a-f]{32}", key), key
        assert "discrete" not in key.lower() and "testclient" not in key


async def test_counters_are_atomic_under_concurrency(settings: Settings) -> None:
    await reset_schema(settings.database_url)
    database = Database(settings.database_url)
    throttle = Throttle(settings, database)
    try:
        now = utcnow()
        counts = await asyncio.gather(*(
            throttle._increment([("atomic:60:" + "0" * 32, 60)], now) for _ in range(30)
        ))
    finally:
        await database.dispose()
    assert sorted(hits for [(hits, _)] in counts) == list(range(1, 31))


async def test_rate_limits_off_turns_throttling_off(settings: Settings) -> None:
    await reset_schema(settings.database_url)
    app = create_app(replace(settings, rate_limits="off"), hasher=Hasher(cheap=True))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        browser = Browser(client)
        statuses = [(await login_attempt(browser, "Charge")).status for _ in range(12)]
    assert statuses == [422] * 12


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
async def redis_app(settings: Settings, redis_url: str, hasher: CountingHasher
                    ) -> AsyncIterator[Litestar]:
    await reset_schema(settings.database_url)
    yield create_app(replace(settings, redis_url=redis_url), hasher=hasher)


async def test_with_redis_the_counters_live_in_redis_and_stay_atomic(
    redis_app: Litestar, hasher: CountingHasher
) -> None:
    assert redis_app.state.throttle.backend == "redis"
    async with AsyncTestClient(app=redis_app, base_url="http://testserver.local") as client:
        statuses = await concurrent_failed_logins(client, "Nuage", 50)
    assert hasher.verifications <= LOGIN_ACCOUNT.tiers[0].limit
    assert statuses.count(429) == 50 - hasher.verifications
    async with redis_app.state.database.reader() as session:
        assert list(await session.scalars(select(ThrottleCounter.key))) == []


# -- behind the proxy, known devices, searches (issue 16) ------------------------------------

async def login_from(client: AsyncTestClient, pseudonym: str, password: str,
                     forwarded_for: str | None = None) -> int:
    """One log-in through the real form; ``forwarded_for`` is what the proxy would set."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    page = await client.get("/login", headers=headers)
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)
    response = await client.post("/login", headers=headers, follow_redirects=False, data={
        "_csrf_token": token, "pseudonym": pseudonym, "password": password,
    })
    return response.status_code


@pytest.fixture
async def proxied_app(settings: Settings, hasher: CountingHasher) -> Litestar:
    """The app as deployed behind deploy/nginx.conf: FORUM_TRUST_PROXY=on."""
    await reset_schema(settings.database_url)
    return create_app(replace(settings, trust_proxy="on"), hasher=hasher)


async def test_behind_the_proxy_one_clients_failures_leave_every_other_client_alone(
    proxied_app: Litestar,
) -> None:
    async with AsyncTestClient(app=proxied_app, base_url="http://testserver.local") as admin:
        await Browser(admin).signup("Veilleuse")
        await Browser(admin).logout()
    async with AsyncTestClient(app=proxied_app, base_url="http://testserver.local") as attacker:
        statuses = [await login_from(attacker, f"Nom{i}", "pas le bon mot", "203.0.113.9")
                    for i in range(31)]
    assert statuses[:10] == [422] * 10 and statuses[-1] == 429
    async with AsyncTestClient(app=proxied_app, base_url="http://testserver.local") as other:
        # A member from another address, on a device never used before.
        assert await login_from(other, "Veilleuse", DEFAULT_PASSWORD, "198.51.100.7") == 303


def device_cookie_of(client: AsyncTestClient) -> str | None:
    return client.cookies.get("entrepairs-device")


async def test_a_member_on_a_device_they_used_before_logs_in_whatever_others_fail(
    app: Litestar, browser: Browser,
) -> None:
    await browser.signup("Assiegee")
    await browser.logout()
    assert device_cookie_of(browser.client)
    async with another_browser(app) as attacker:
        statuses = [await login_from(attacker.client, "Assiegee", f"essai {i}")
                    for i in range(LOGIN_ACCOUNT.tiers[1].limit + 2)]
        assert statuses[-1] == 429
        # The account is locked for every device it never used: the attack is real.
        assert await login_from(attacker.client, "Assiegee", DEFAULT_PASSWORD) == 429
    page = await browser.login("Assiegee", DEFAULT_PASSWORD)
    assert page.status == 303


async def test_a_known_device_still_has_its_own_limit_and_its_failures_count_everywhere(
    app: Litestar, browser: Browser,
) -> None:
    await browser.signup("Prudente")
    await browser.logout()
    limit = LOGIN_DEVICE.tiers[0].limit
    statuses = [(await login_attempt(browser, "Prudente")).status for _ in range(limit + 1)]
    assert statuses == [422] * limit + [429]
    # Those wrong passwords counted against the account too: a new device meets its limit.
    async with another_browser(app) as elsewhere:
        assert await login_from(elsewhere.client, "Prudente", DEFAULT_PASSWORD) == 429


async def test_a_device_known_for_one_account_is_a_stranger_to_another(
    app: Litestar, browser: Browser,
) -> None:
    await browser.signup("Voisine")
    await browser.logout()
    async with another_browser(app) as owner:
        await owner.signup("Proprietaire")
        await owner.logout()
    async with another_browser(app) as attacker:
        for i in range(LOGIN_ACCOUNT.tiers[0].limit):
            assert await login_from(attacker.client, "Proprietaire", f"essai {i}") == 422
    # Voisine's browser knows Voisine's account only: Proprietaire's limit applies to it.
    assert await login_from(browser.client, "Proprietaire", DEFAULT_PASSWORD) == 429


async def test_the_known_device_cookie_names_nobody_and_survives_log_out(
    app: Litestar, browser: Browser,
) -> None:
    await browser.signup("Discrete_7")
    signed_up = device_cookie_of(browser.client)
    await browser.logout()
    assert device_cookie_of(browser.client) == signed_up
    result = await browser.login("Discrete_7", DEFAULT_PASSWORD)
    cookie = next(c for c in result.response.headers.get_list("set-cookie")
                  if c.startswith("entrepairs-device="))
    value = cookie.split(";", 1)[0].split("=", 1)[1]
    assert re.fullmatch(r"[0-9a-f]{61}", value), value  # one account: one fresh token
    assert "discrete" not in value.lower()
    attributes = cookie.lower()
    assert "httponly" in attributes and "samesite=lax" in attributes and "path=/" in attributes
    assert f"max-age={KNOWN_DEVICE_DAYS * 86400}" in attributes


async def test_one_browser_remembers_a_few_accounts_and_old_tokens_expire(
    app: Litestar, browser: Browser,
) -> None:
    throttle: Throttle = app.state.throttle
    now = utcnow()
    cookie = None
    for name in ("Une", "Deux", "Trois", "Quatre", "Cinq"):
        cookie = throttle.remember_device(cookie, f"account\x00{name}", now=now)
    assert cookie is not None and len(cookie.split(".")) == KNOWN_DEVICE_TOKENS
    assert throttle.known_device(cookie, "account\x00Une", now=now) is None
    assert throttle.known_device(cookie, "account\x00Cinq", now=now)
    assert throttle.known_device(cookie, "account\x00Deux", now=now)
    later = now + timedelta(days=KNOWN_DEVICE_DAYS + 1)
    assert throttle.known_device(cookie, "account\x00Cinq", now=later) is None
    forged = cookie[:-1] + ("0" if cookie[-1] != "0" else "1")
    assert throttle.known_device(forged, "account\x00Cinq", now=now) is None


async def test_sign_up_and_recovery_make_the_device_known(app: Litestar) -> None:
    async with another_browser(app) as first:
        code = await first.signup("Revenante")
        await first.logout()
    async with another_browser(app) as second:
        page = await second.get("/recover")
        result = await second.submit(page.form(), {
            "pseudonym": "Revenante", "code": code, "password": "une autre phrase longue",
            "password_confirm": "une autre phrase longue",
        })
        assert result.status == 303
        assert device_cookie_of(second.client)
        await second.logout()
        async with another_browser(app) as attacker:
            for i in range(LOGIN_ACCOUNT.tiers[1].limit + 1):
                await login_from(attacker.client, "Revenante", f"essai {i}")
        assert await login_from(second.client, "Revenante", "une autre phrase longue") == 303


async def test_a_search_loop_gets_a_calm_429_and_normal_searching_is_untouched(
    proxied_app: Litestar,
) -> None:
    clock = FakeClock(utcnow())
    proxied_app.state.clock = clock
    limit = SEARCH_CLIENT.tiers[0].limit
    async with AsyncTestClient(app=proxied_app, base_url="http://testserver.local") as client:
        loop = {"X-Forwarded-For": "203.0.113.50"}
        statuses = [(await client.get(f"/search?q=mot{i}", headers=loop)).status_code
                    for i in range(limit)]
        assert statuses == [200] * limit
        refused = await client.get("/search?q=encore", headers=loop)
        assert refused.status_code == 429
        assert 0 < int(refused.headers["retry-after"]) <= 60
        assert "Un petit moment" in refused.text
        # Someone else searches as usual; the search form without a query is never counted.
        other = {"X-Forwarded-For": "198.51.100.20"}
        assert (await client.get("/search?q=courage", headers=other)).status_code == 200
        assert (await client.get("/search", headers=loop)).status_code == 200
        clock.now += timedelta(seconds=61)
        assert (await client.get("/search?q=encore", headers=loop)).status_code == 200
    async with proxied_app.state.database.reader() as session:
        assert list(await session.scalars(select(ThrottleCounter.key))) == []


async def test_a_members_searches_are_counted_per_member(app: Litestar, browser: Browser) -> None:
    await browser.signup("Chercheuse")
    limit = SEARCH_CLIENT.tiers[0].limit
    for i in range(limit):
        assert (await browser.get(f"/search?q=mot{i}")).status == 200
    assert (await browser.get("/search?q=encore")).status == 429
    async with another_browser(app) as visitor:  # the same address, but not the same member
        assert (await visitor.get("/search?q=encore")).status == 200


async def search_statuses(client: AsyncTestClient, count: int, start: int = 0) -> list[int]:
    loop = {"X-Forwarded-For": "203.0.113.77"}
    return [(await client.get(f"/search?q=mot{start + i}", headers=loop)).status_code
            for i in range(count)]


async def test_with_redis_every_worker_counts_the_same_searches(
    settings: Settings, redis_url: str, hasher: CountingHasher
) -> None:
    """Two workers (two apps on one database and one Redis): a client's searches are counted
    once across both, so spreading a loop over workers does not double its allowance; nothing
    is written to the database."""
    await reset_schema(settings.database_url)
    shared = replace(settings, trust_proxy="on", redis_url=redis_url)
    first, second = create_app(shared, hasher=hasher), create_app(shared, hasher=hasher)
    limit = SEARCH_CLIENT.tiers[0].limit
    async with AsyncTestClient(app=first, base_url="http://testserver.local") as one, \
            AsyncTestClient(app=second, base_url="http://testserver.local") as two:
        assert await search_statuses(one, limit // 2) == [200] * (limit // 2)
        assert await search_statuses(two, limit - limit // 2, start=100) == \
            [200] * (limit - limit // 2)
        assert await search_statuses(one, 1, start=200) == [429]
        assert await search_statuses(two, 1, start=300) == [429]
    async with first.state.database.reader() as session:
        assert list(await session.scalars(select(ThrottleCounter.key))) == []


async def test_with_redis_away_searches_still_answer_and_are_counted_in_memory(
    settings: Settings, hasher: CountingHasher
) -> None:
    """Nothing listens at the Redis address: a search is answered (never a 503 for a read)
    and the worker's own count still stops a loop."""
    await reset_schema(settings.database_url)
    away = f"redis://127.0.0.1:{free_port()}/0"
    app = create_app(replace(settings, trust_proxy="on", redis_url=away), hasher=hasher)
    limit = SEARCH_CLIENT.tiers[0].limit
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        assert await search_statuses(client, limit) == [200] * limit
        assert await search_statuses(client, 1, start=100) == [429]


async def test_a_searchs_count_forgotten_and_a_bug_not_mistaken_for_redis_away(
    settings: Settings, redis_url: str, hasher: CountingHasher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``reset`` of a read's rule forgets it in Redis too; anything but Redis trouble (a bug)
    is raised, not quietly counted in memory; with Redis away, ``reset`` does not fail."""
    await reset_schema(settings.database_url)
    throttle = create_app(replace(settings, redis_url=redis_url), hasher=hasher).state.throttle
    now = utcnow()
    limit = SEARCH_CLIENT.tiers[0].limit
    for _ in range(limit):
        assert await throttle.hit(SEARCH_CLIENT, "client\x00a", now=now) is None
    assert await throttle.hit(SEARCH_CLIENT, "client\x00a", now=now)
    await throttle.reset(SEARCH_CLIENT, "client\x00a")
    assert await throttle.hit(SEARCH_CLIENT, "client\x00a", now=now) is None

    async def broken(*_args: object) -> None:
        raise ValueError("a bug, not Redis")

    monkeypatch.setattr(throttle, "_increment_redis", broken)
    with pytest.raises(ValueError):
        await throttle.hit(SEARCH_CLIENT, "client\x00b", now=now)
    away = create_app(replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0"),
                      hasher=hasher).state.throttle
    await away.reset(SEARCH_CLIENT, "client\x00a")
