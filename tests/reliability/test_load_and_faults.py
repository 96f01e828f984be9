"""The short CI version of ``make reliability``: the real server process, concurrent members
posting through the real reply form, and the checks C1–C6 of security.md §8 afterwards.

Storm and double submit run on the test database (SQLite, or PostgreSQL when
``FORUM_TEST_DATABASE_URL`` is set); kill -9 and the held write lock are SQLite's scenarios
and always run on a SQLite file.

Three thresholds are looser here than in ``make reliability``, because CI machines are shared
and slow to start Python: up to 10 % of the storm's writes may be answered 503 (each with
Retry-After, then retried with the same key until stored), a restart may take 60 s to be
ready, and a read during the held lock may take up to 3 s (a read that waited for the lock
would take the 5 s busy timeout). Everything else (nothing lost, nothing twice, counters,
integrity, no 500) is exact.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reliability import scenarios
from reliability.report import details
from reliability.scenarios import Outcome, Run
from tests.conftest import TEST_DATABASE_URL


@pytest.fixture
def run(tmp_path: Path) -> Run:
    return Run(tmp_path, TEST_DATABASE_URL or None)


@pytest.fixture
def sqlite_run(tmp_path: Path) -> Run:
    return Run(tmp_path)


def failed(outcome: Outcome) -> list[str]:
    return [f"{c.name}: {c.detail}" for c in outcome.checks if not c.ok]


async def test_ten_members_replying_at_once_into_one_thread_lose_nothing(run: Run) -> None:
    outcome = await scenarios.storm(run, members=10, replies=20, max_503_share=0.10)

    assert not failed(outcome), details(outcome)
    assert len(outcome.ledger.acked) == 200
    assert not [a for a in outcome.ledger.attempts if a.status and a.status >= 500
                and a.status != 503]


async def test_a_form_sent_five_times_at_once_is_stored_once_and_every_send_gets_it(
    run: Run,
) -> None:
    outcome = await scenarios.double_submit(run, keys=20, repeats=5)

    assert not failed(outcome), details(outcome)
    assert len(outcome.ledger.acked) == 20
    assert all(len(post_ids) == 1 for post_ids in outcome.ledger.acked.values())


async def test_killing_the_server_mid_write_loses_no_acknowledged_post(sqlite_run: Run) -> None:
    outcome = await scenarios.kill(sqlite_run, iterations=3, writers=5, window=(0.5, 1.5),
                                   ready_limit=60.0)

    assert not failed(outcome), details(outcome)
    assert outcome.ledger.acked, "no write was acknowledged: the scenario tested nothing"


async def test_a_write_lock_held_past_the_busy_timeout_gives_writers_a_calm_503(
    sqlite_run: Run,
) -> None:
    outcome = await scenarios.lock_held(sqlite_run, hold=6.0, writers=3, readers=3,
                                        read_limit=3.0)

    assert not failed(outcome), details(outcome)
