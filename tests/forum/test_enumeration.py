"""No enumeration: log-in and recovery answer the same, in content and in time, whether the
pseudonym exists or not (the structural check counts hasher calls; the timing check uses the
real argon2 parameters on a few interleaved samples)."""

from __future__ import annotations

import re
import statistics
import time
from dataclasses import replace

import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from forum.app import create_app
from forum.config import Settings
from forum.db import Database
from forum.models import Member
from forum.passwords import Hasher
from forum.privacy import do_delete_account
from tests.browsing import DEFAULT_PASSWORD, Browser, Page
from tests.conftest import reset_schema

CSRF = re.compile(r'(name="_csrf_token" value="|"x-csrftoken": ")[^"]+')
VARIABLE_HEADERS = {"date", "x-request-id", "content-length", "set-cookie"}


class CountingHasher(Hasher):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.verifications = 0
        self.hashes = 0

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        self.verifications += 1
        return await super().verify(stored_hash, password)

    async def hash(self, password: str) -> str:
        self.hashes += 1
        return await super().hash(password)


@pytest.fixture
def hasher() -> CountingHasher:
    return CountingHasher(cheap=True)


def normalised(response: httpx.Response, typed: str) -> tuple[int, str, dict[str, str], list]:
    body = CSRF.sub(r"\1TOKEN", response.text).replace(typed, "NAME")
    headers = {k: v for k, v in response.headers.items() if k not in VARIABLE_HEADERS}
    cookie_names = sorted(response.cookies.keys())
    return response.status_code, body, headers, cookie_names


async def delete_member(database: Database, pseudonym: str) -> None:
    async with database.writing() as session:
        member = await session.scalar(select(Member).where(Member.pseudonym == pseudonym))
        await do_delete_account(session, member, erase_posts=False)


async def login(browser: Browser, pseudonym: str, password: str) -> Page:
    page = await browser.get("/login")
    return await browser.submit(page.form(), {"pseudonym": pseudonym, "password": password})


async def recover(browser: Browser, pseudonym: str) -> Page:
    page = await browser.get("/recover")
    return await browser.submit(page.form(), {
        "pseudonym": pseudonym, "code": "2222-3333-4444-5555-6666",
        "password": DEFAULT_PASSWORD, "password_confirm": DEFAULT_PASSWORD,
    })


async def test_login_answers_the_same_for_unknown_pseudonyms_wrong_passwords_and_deleted_accounts(
    browser: Browser, database: Database
) -> None:
    await browser.signup("Existante")
    await browser.signup("Supprimee")
    await browser.logout()
    await delete_member(database, "Supprimee")
    wrong = await login(browser, "Existante", "pas le bon mot")
    unknown = await login(browser, "Inconnues", "pas le bon mot")
    deleted = await login(browser, "Supprimee", "une phrase assez longue")
    assert wrong.status == 422
    reference = normalised(wrong.response, "Existante")
    assert normalised(unknown.response, "Inconnues") == reference
    assert normalised(deleted.response, "Supprimee") == reference


async def test_recovery_answers_the_same_whether_the_pseudonym_exists_or_not(
    browser: Browser,
) -> None:
    await browser.signup("Retrouvee")
    await browser.logout()
    known = await recover(browser, "Retrouvee")
    unknown = await recover(browser, "Disparues")
    assert known.status == 422
    assert normalised(unknown.response, "Disparues") == normalised(known.response, "Retrouvee")


@pytest.mark.parametrize("pseudonym, password", [
    ("Comptee", "pas le bon mot"),
    ("Personne", "pas le bon mot"),
    ("nom avec espaces", "pas le bon mot"),
    ("x" * 300, "pas le bon mot"),
])
async def test_every_failed_login_branch_runs_exactly_one_verification(
    browser: Browser, hasher: CountingHasher, pseudonym: str, password: str
) -> None:
    await browser.signup("Comptee")
    await browser.logout()
    hasher.verifications = hasher.hashes = 0
    result = await login(browser, pseudonym, password)
    assert result.status == 422
    assert (hasher.verifications, hasher.hashes) == (1, 0)


@pytest.mark.parametrize("pseudonym", ["Comptee", "Personne"])
async def test_an_oversized_password_is_refused_without_hashing_whoever_it_names(
    browser: Browser, hasher: CountingHasher, pseudonym: str
) -> None:
    await browser.signup("Comptee")
    await browser.logout()
    hasher.verifications = hasher.hashes = 0
    result = await login(browser, pseudonym, "x" * 2000)
    assert result.status == 422
    assert (hasher.verifications, hasher.hashes) == (0, 0)


@pytest.mark.parametrize("pseudonym", ["Recuperee", "Absente"])
async def test_every_failed_recovery_branch_runs_exactly_one_verification(
    browser: Browser, hasher: CountingHasher, pseudonym: str
) -> None:
    await browser.signup("Recuperee")
    await browser.logout()
    hasher.verifications = hasher.hashes = 0
    result = await recover(browser, pseudonym)
    assert result.status == 422
    assert (hasher.verifications, hasher.hashes) == (1, 0)


async def test_login_takes_the_same_time_for_known_and_unknown_pseudonyms_with_real_argon2(
    settings: Settings,
) -> None:
    """Real argon2 parameters, few samples, interleaved; a generous tolerance for busy CI."""
    await reset_schema(settings.database_url)
    app = create_app(replace(settings, rate_limits="off"), hasher=Hasher())
    samples: dict[str, list[float]] = {"Horloge": [], "Fantomes": []}
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        browser = Browser(client)
        await browser.signup("Horloge")
        await browser.logout()
        page = await browser.get("/login")
        form = page.form()
        for _ in range(2):  # warm up both branches
            for name in samples:
                await browser.submit(form, {"pseudonym": name, "password": "pas le bon mot"})
        for _ in range(7):
            for name, timings in samples.items():
                started = time.perf_counter()
                result = await browser.submit(form, {"pseudonym": name,
                                                     "password": "pas le bon mot"})
                timings.append(time.perf_counter() - started)
                assert result.status == 422
    known, unknown = (statistics.median(samples[name]) for name in samples)
    assert known > 0.02, "argon2 with its real parameters should take tens of milliseconds"
    assert abs(known - unknown) < 0.35 * known, (known, unknown)
