"""The harness's checks can fail: a lost post, a phantom post and a counter drift are caught."""

from __future__ import annotations

from sqlalchemy import update

from forum.db import Database
from forum.models import Thread
from reliability.checks import ledger_checks, read_stored
from reliability.driver import Attempt, Ledger
from tests.browsing import Browser


def _ack(ledger: Ledger, key: str, post_id: int) -> None:
    ledger.sent[key] = 1
    ledger.record(Attempt("reply", key, 1, 0.0, 0.01, 303, post_id=post_id))


async def _reply_with_key(browser: Browser, key: str) -> int:
    page = await browser.reply(1, "Merci pour ce fil.", idempotency_key=key)
    assert page.status == 303, page.text()
    return int(page.response.headers["location"].rsplit("#post-", 1)[1])


async def test_checks_pass_when_the_database_holds_exactly_what_was_acknowledged(
    browser: Browser, demo: None, database_url: str
) -> None:
    await browser.signup("Verifieuse")
    ledger = Ledger()
    _ack(ledger, "a" * 32, await _reply_with_key(browser, "a" * 32))

    checks = ledger_checks(ledger, await read_stored(database_url))

    assert [c.name for c in checks if not c.ok] == []


async def test_checks_catch_a_lost_post_a_phantom_post_and_a_counter_drift(
    browser: Browser, demo: None, database: Database, database_url: str
) -> None:
    await browser.signup("Verifieuse")
    ledger = Ledger()
    _ack(ledger, "lost" * 8, 999_999)  # acknowledged, never stored
    ledger.sent["b" * 32] = 1  # stored although its request was refused: a phantom
    await _reply_with_key(browser, "b" * 32)
    ledger.record(Attempt("reply", "b" * 32, 1, 0.0, 0.01, 422))
    async with database.writing() as session:
        await session.execute(update(Thread).where(Thread.id == 1)
                              .values(post_count=Thread.post_count + 1))

    failing = {c.name.split()[0] for c in ledger_checks(ledger, await read_stored(database_url))
               if not c.ok}

    assert failing == {"C1", "C3", "C4"}
