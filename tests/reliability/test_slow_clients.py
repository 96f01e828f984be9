"""The "slow clients" scenario of ``make reliability`` at CI size: 1,500 idle, 200 slowloris
and 50 slow-body connections against one worker limited to 1,024 open files (systemd's
default), while a visitor opens a new connection for every page and members read and reply.

Before forum/server.py the worker ran out of file descriptors and refused every visitor.
"""

from __future__ import annotations

from pathlib import Path

from reliability import slow_clients
from reliability.report import details
from reliability.scenarios import Run
from tests.conftest import TEST_DATABASE_URL


async def test_idle_and_slow_connections_never_lock_a_visitor_out(tmp_path: Path) -> None:
    outcome = await slow_clients.slow_clients(Run(tmp_path, TEST_DATABASE_URL or None),
                                              idle=1500, members=3)

    assert outcome.ok, details(outcome)
    visits = [a for a in outcome.ledger.attempts if a.kind == "visit"]
    assert len(visits) > 50, "the visitor hardly asked for anything: the scenario tested nothing"
    assert len(outcome.ledger.acked) > 10
