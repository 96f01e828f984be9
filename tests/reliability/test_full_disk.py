"""The "full disk" scenario of ``make reliability`` at CI size: a small tmpfs in a private mount
namespace fills up while ``forum run --workers 2`` serves, then the forum restarts on it. No
worker dies, visitors and members keep reading, a refused reply answers 503 + Retry-After with
its text, and writes resume once there is room.

Before: 'database or disk is full' answered 500, and after a restart on the full disk the
sparse page-cache counter file killed the workers with SIGBUS at the first page view.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reliability import full_disk
from reliability.report import details
from reliability.scenarios import Run
from tests.conftest import IN_CI, TEST_DATABASE_URL


async def test_a_full_disk_kills_no_worker_and_answers_503_with_the_text_kept(
    tmp_path: Path,
) -> None:
    problem = full_disk.namespace_problem()
    if problem is not None:
        if IN_CI:
            pytest.fail(f"{problem}, and CI must run this test")
        print(f"\nskipped: {problem}")
        pytest.skip(problem)

    outcome = await full_disk.full_disk(Run(tmp_path, TEST_DATABASE_URL or None),
                                        full_seconds=6.0)

    assert outcome.ok, details(outcome)
    names = [check.name for check in outcome.checks]
    assert "phase 2: no worker died" in names, details(outcome)
    if not TEST_DATABASE_URL:  # on SQLite the database's own disk is the full one
        assert any(a.status == 503 for a in outcome.ledger.writes())
        assert any(name.startswith("phase 1: a refused reply") for name in names)
