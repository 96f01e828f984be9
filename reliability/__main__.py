"""``python -m reliability``: run the load-and-fault scenarios and print their figures."""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
import tempfile
import time
from pathlib import Path

from forum.config import ROOT
from reliability import availability, full_disk, scenarios, slow_clients
from reliability.report import details, table
from reliability.scenarios import Outcome, Run
from reliability.seed import check_local

AVAILABILITY_SCENARIOS = ("login-storm", "redis-kill", "redis-hang")
SQLITE_SCENARIOS = ("storm", "writers", "double", "kill", "lock", "regex", "slow-clients",
                    "full-disk", *AVAILABILITY_SCENARIOS)
POSTGRES_SCENARIOS = ("storm", "writers", "double", "kill", "pg-restart", "regex", "slow-clients",
                      "full-disk", *AVAILABILITY_SCENARIOS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m reliability",
        description="Start the real forum server on a fresh database, drive it with "
                    "concurrent members under load and faults, check that nothing "
                    "acknowledged was lost (C1-C6 of security.md §8), print the figures.",
    )
    parser.add_argument("--database", metavar="URL", default="",
                        help="postgresql+asyncpg://…@127.0.0.1/DB (EMPTIED at each scenario); "
                             "default: fresh SQLite files in --workdir")
    parser.add_argument("--scenarios", default="",
                        help="comma-separated, among storm, writers (128 members, 2 workers, "
                             "no 503), double, kill, regex, lock (SQLite), "
                             "pg-restart (PostgreSQL; restarts the machine's cluster), "
                             "slow-clients, full-disk (in a private mount namespace), "
                             "login-storm (through nginx when installed), redis-kill, "
                             "redis-hang (a redis-server of its own); "
                             "default: all for the database")
    parser.add_argument("--short", action="store_true",
                        help="the CI sizes: 10×20 replies, writers 64×5, 20 keys×5, 3 kills, "
                             "6 s lock, 10 s regex attack, 1,500 idle connections")
    parser.add_argument("--members", type=int,
                        help="storm: concurrent members (50); writers (128)")
    parser.add_argument("--replies", type=int,
                        help="storm: replies per member (100); writers (20)")
    parser.add_argument("--keys", type=int, help="double submit: keys (200)")
    parser.add_argument("--repeats", type=int, default=5, help="double submit: sends per key")
    parser.add_argument("--kills", type=int, help="kill -9 iterations (20)")
    parser.add_argument("--writers", type=int, help="kill / PG restart: writing members (20)")
    parser.add_argument("--workdir", type=Path, help="where SQLite files and server logs go "
                                                     "(default: a new dir under var/)")
    return parser


async def run_all(args: argparse.Namespace, run: Run, names: list[str]) -> list[Outcome]:
    short = args.short
    outcomes = []
    for name in names:
        print(f"… {name}", flush=True)
        if name == "storm":
            outcome = await scenarios.storm(run, members=args.members or (10 if short else 50),
                                            replies=args.replies or (20 if short else 100))
        elif name == "writers":
            outcome = await scenarios.storm(
                run, members=args.members or (64 if short else 128),
                replies=args.replies or (5 if short else 20), workers=2, max_503_share=0.0,
                name="writers")
        elif name == "double":
            outcome = await scenarios.double_submit(run, keys=args.keys or (20 if short else 200),
                                                    repeats=args.repeats)
        elif name == "kill":
            outcome = await scenarios.kill(
                run, iterations=args.kills or (3 if short else 20),
                writers=args.writers or (5 if short else 20),
                window=(0.5, 2.0) if short else (1.0, 10.0))
        elif name == "lock":
            outcome = await scenarios.lock_held(run, hold=6.0 if short else 8.0)
        elif name == "regex":
            outcome = await scenarios.regex_attack(
                run, attackers=2 if short else 4, bystanders=2 if short else 4,
                duration=10.0 if short else 30.0)
        elif name == "login-storm":
            outcome = await availability.login_storm(
                run, duration=20.0 if short else 60.0, attackers=8 if short else 20,
                members=6 if short else 20, signups=4 if short else 10)
        elif name in ("redis-kill", "redis-hang"):
            outcome = await availability.redis_fault(
                run, mode=name.removeprefix("redis-"), writers=5 if short else 10,
                readers=3 if short else 5, duration=15.0 if short else 30.0,
                at=4.0 if short else 6.0, outage=5.0 if short else 8.0)
        elif name == "pg-restart":
            outcome = await scenarios.postgres_restart(
                run, writers=args.writers or 20, duration=20.0 if short else 45.0)
        elif name == "slow-clients":
            outcome = await slow_clients.slow_clients(run, idle=1500 if short else 2500)
        elif name == "full-disk":
            outcome = await full_disk.full_disk(run, full_seconds=6.0 if short else 10.0)
        else:
            raise SystemExit(f"reliability: unknown scenario {name!r}")
        print(details(outcome), flush=True)
        outcomes.append(outcome)
    return outcomes


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    postgres = args.database or None
    if postgres:
        if not postgres.startswith("postgresql+asyncpg://"):
            raise SystemExit("reliability: --database takes a postgresql+asyncpg:// URL")
        check_local(postgres)
    default = POSTGRES_SCENARIOS if postgres else SQLITE_SCENARIOS
    names = [n.strip() for n in args.scenarios.split(",") if n.strip()] or list(default)
    if "lock" in names and postgres:
        raise SystemExit("reliability: the lock scenario is SQLite's")
    if "pg-restart" in names and not postgres:
        raise SystemExit("reliability: pg-restart needs --database postgresql+asyncpg://…")
    (ROOT / "var").mkdir(exist_ok=True)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="reliability-", dir=ROOT / "var"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    outcomes = asyncio.run(run_all(args, Run(workdir, postgres), names))
    print()
    print(f"Database: {'PostgreSQL' if postgres else 'SQLite'}; Python "
          f"{platform.python_version()}; {time.monotonic() - started:.0f} s; logs in {workdir}")
    print(table(outcomes))
    failed = [o.name for o in outcomes if not o.ok]
    print("FAILED: " + ", ".join(failed) if failed else "All checks passed.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
