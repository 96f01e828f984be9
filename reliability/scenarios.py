"""The scenarios of security.md §8 (L-3, L-4, F-1, F-5, F-3), each on a fresh database.

Every loop is bounded in count and in time; every request goes to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from reliability.checks import (
    Check,
    error_budget,
    ledger_checks,
    percentile,
    read_stored,
    sqlite_integrity,
)
from reliability.driver import Ledger, VirtualMember, new_key, post_body
from reliability.seed import Seeded, add_quiet_thread, add_watched_words, seed
from reliability.server import READY_LIMIT_SECONDS, Server

SCENARIO_LIMIT_SECONDS = 900.0
"""No scenario drives load for longer than this, whatever its size."""


@dataclass
class Run:
    """Where scenarios run: a directory for SQLite files and logs, or a PostgreSQL URL."""

    workdir: Path
    postgres_url: str | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.postgres_url is None

    def fresh_url(self, name: str) -> str:
        if self.postgres_url:
            return self.postgres_url
        path = self.workdir / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite+aiosqlite:///{path}"


@dataclass
class Outcome:
    name: str
    ledger: Ledger
    elapsed: float
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)


class Stage:
    """A seeded database, its server and its virtual members, torn down whatever happens."""

    def __init__(self, run: Run, name: str, members: int, *, workers: int = 1) -> None:
        self.run, self.name, self.members = run, name, members
        self.url = run.fresh_url(name)
        self.ledger = Ledger()
        self.server = Server(self.url, run.workdir / f"{name}.log", workers=workers)
        self.seeded: Seeded | None = None
        self.vms: list[VirtualMember] = []

    async def __aenter__(self) -> Stage:
        self.seeded = await seed(self.url, self.members)
        try:
            await asyncio.to_thread(self.server.start)
            self.vms = [VirtualMember(self.server.base_url, mid, token, self.ledger)
                        for mid, token in self.seeded.members]
            await asyncio.gather(*(vm.open_thread(self.thread_id) for vm in self.vms))
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.gather(*(vm.close() for vm in self.vms))
        await asyncio.to_thread(self.server.stop)

    @property
    def thread_id(self) -> int:
        assert self.seeded is not None
        return self.seeded.thread_id

    async def final_checks(self, *, expected_posts: int | None = None,
                           max_503_share: float = 0.01) -> list[Check]:
        """Stop the server, then C1–C6 (and the exact post count when one is expected)."""
        await asyncio.to_thread(self.server.stop)
        stored = await read_stored(self.url)
        checks = ledger_checks(self.ledger, stored)
        if expected_posts is not None:
            checks.insert(0, Check("exact post count", stored.posts == expected_posts,
                                   f"{stored.posts} posts stored, {expected_posts} expected"))
        checks.append(await self.storage_check())
        checks.append(error_budget(self.ledger.attempts))
        writes = self.ledger.writes()
        share = sum(a.status == 503 for a in writes) / max(1, len(writes))
        if max_503_share < 1:
            checks.append(Check(f"503s ≤ {max_503_share:.0%} of writes", share <= max_503_share,
                                f"{share:.2%} of {len(writes)} writes"))
        checks.append(self.log_check())
        return checks

    async def storage_check(self) -> Check:
        if self.run.is_sqlite:
            return sqlite_integrity(self.url)
        # PostgreSQL: the server stops cleanly and starts again (the schema and data readable).
        code = self.server.process.returncode if self.server.process else None
        ready = await asyncio.to_thread(self.server.start)
        await asyncio.to_thread(self.server.stop)
        again = self.server.process.returncode if self.server.process else None
        clean = (0, -signal.SIGTERM)  # uvicorn exits through the signal once shut down
        return Check("C5 storage intact (clean stop and restart)",
                     code in clean and again in clean and ready <= 3 * READY_LIMIT_SECONDS,
                     f"exit codes {code}/{again}, ready again in {ready:.2f} s")

    def log_check(self) -> Check:
        log = self.server.log_text()
        bad = [line for line in log.splitlines()
               if "Traceback" in line or "unexpected error" in line]
        return Check("server log: no traceback, no unexpected error", not bad,
                     bad[0][:120] if bad else "clean")


async def _bounded(coroutines: list[Awaitable[object]], limit: float) -> None:
    await asyncio.wait_for(asyncio.gather(*coroutines), timeout=limit)


# -- L-3: hot-thread write storm ------------------------------------------------------------

async def storm(run: Run, *, members: int, replies: int, max_503_share: float = 0.01,
                workers: int = 1, name: str = "storm") -> Outcome:
    """``members`` members each post ``replies`` replies into ONE thread, all at once, to a
    server of ``workers`` processes. ``writers`` (issue 16) is this storm with 128 members
    and 2 workers, the recommended deployment, where no reply may be answered 503."""
    started = time.monotonic()
    async with Stage(run, name, members, workers=workers) as stage:
        deadline = time.monotonic() + SCENARIO_LIMIT_SECONDS

        async def member_posts(index: int, vm: VirtualMember) -> None:
            for number in range(replies):
                if time.monotonic() > deadline:
                    return
                await vm.reply_until_answered(post_body(index, number), new_key(),
                                              deadline=deadline)

        await _bounded([member_posts(i, vm) for i, vm in enumerate(stage.vms)],
                       SCENARIO_LIMIT_SECONDS + 60)
        elapsed = time.monotonic() - started
        checks = await stage.final_checks(expected_posts=1 + members * replies,
                                          max_503_share=max_503_share)
    return Outcome(f"{name} {members}×{replies}, {workers} worker{'s' if workers > 1 else ''}",
                   stage.ledger, elapsed, checks)


# -- L-4: double submit ---------------------------------------------------------------------

async def double_submit(run: Run, *, keys: int, repeats: int = 5, members: int = 20) -> Outcome:
    """``keys`` keys, each sent ``repeats`` times at once by its author."""
    started = time.monotonic()
    members = min(members, keys)
    async with Stage(run, "double", members) as stage:
        deadline = time.monotonic() + SCENARIO_LIMIT_SECONDS
        sends = []
        for k in range(keys):
            vm, key, body = stage.vms[k % members], new_key(), post_body(k % members, k)
            sends += [vm.reply_until_answered(body, key, deadline=deadline)
                      for _ in range(repeats)]
        random.shuffle(sends)
        await _bounded(sends, SCENARIO_LIMIT_SECONDS + 60)
        elapsed = time.monotonic() - started
        checks = await stage.final_checks(expected_posts=1 + keys, max_503_share=1.0)
    final = {}
    for attempt in stage.ledger.writes():
        if attempt.status not in (None, 503):
            final.setdefault(attempt.key, []).append((attempt.status, attempt.post_id))
    same = [k for k, answers in final.items()
            if len(answers) == repeats and all(s == 303 for s, _ in answers)
            and len({p for _, p in answers}) == 1]
    checks.insert(1, Check("every repeat answered 303 to the one stored post",
                           len(same) == keys,
                           f"{len(same)} of {keys} keys: {repeats} answers, all 303, one post"))
    return Outcome(f"double submit {keys}×{repeats}", stage.ledger, elapsed, checks)


# -- F-1: kill -9 ---------------------------------------------------------------------------

async def _write_until(stop: asyncio.Event, vm: VirtualMember, index: int,
                       limit: float) -> None:
    number = 0
    while not stop.is_set() and time.monotonic() < limit:
        attempt = await vm.reply(post_body(index, number), new_key())
        number += 1
        if attempt.status is None:  # the server is gone: wait for the next life
            return


async def kill(run: Run, *, iterations: int, writers: int,
               window: tuple[float, float] = (1.0, 10.0),
               ready_limit: float = READY_LIMIT_SECONDS) -> Outcome:
    """SIGKILL the app at a random moment during writes, restart it, ``iterations`` times."""
    started = time.monotonic()
    notes: list[str] = []
    integrity: list[Check] = []
    not_ready: list[str] = []

    async def restart(stage: Stage) -> bool:
        try:
            await asyncio.to_thread(stage.server.start)
        except RuntimeError as exc:  # not ready in 6× the limit: a failed check, not a crash
            not_ready.append(str(exc))
            await asyncio.to_thread(stage.server.kill)
            return False
        return True

    async with Stage(run, "kill", writers) as stage:
        for iteration in range(iterations):
            if iteration and not await restart(stage):
                break
            stop = asyncio.Event()
            limit = time.monotonic() + window[1] + 30
            tasks = [asyncio.create_task(_write_until(stop, vm, i, limit))
                     for i, vm in enumerate(stage.vms)]
            await asyncio.sleep(random.uniform(*window))  # noqa: S311
            await asyncio.to_thread(stage.server.kill)
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
            if run.is_sqlite:  # the file as the crash left it (WAL recovered on open)
                integrity.append(sqlite_integrity(stage.url))
        if not not_ready:
            await restart(stage)  # the last restart: ready, then read
        ready = stage.server.ready_times
        elapsed = time.monotonic() - started
        checks = await stage.final_checks(max_503_share=1.0)
    bad = [c for c in integrity if not c.ok]
    if run.is_sqlite:
        checks.insert(4, Check("C5 after every kill", not bad,
                               f"{len(integrity) - len(bad)} of {len(integrity)} ok"))
    checks.insert(0, Check(f"ready in ≤ {ready_limit:.0f} s after each start",
                           not not_ready and max(ready) <= ready_limit,
                           f"{len(ready)} starts, slowest {max(ready):.2f} s"
                           + (f"; {not_ready[0]}" if not_ready else "")))
    notes.append(f"ready times: max {max(ready):.2f} s, mean {sum(ready) / len(ready):.2f} s")
    return Outcome(f"kill -9 ×{iterations}", stage.ledger, elapsed, checks, notes)


# -- F-5: a SQLite write lock held longer than the busy timeout ------------------------------

def _hold_write_lock(path: str, seconds: float, window: list[float]) -> None:
    connection = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        window.append(time.monotonic())
        time.sleep(seconds)
        connection.execute("ROLLBACK")
        window.append(time.monotonic())
    finally:
        connection.close()


async def lock_held(run: Run, *, hold: float = 8.0, writers: int = 5,
                    readers: int = 5, read_limit: float = 1.0) -> Outcome:
    if not run.is_sqlite:
        raise ValueError("the lock scenario is for SQLite")
    started = time.monotonic()
    async with Stage(run, "lock", writers + readers) as stage:
        path = make_url(stage.url).database or ""
        window: list[float] = []
        end = time.monotonic() + 1 + hold + 3

        async def write(index: int, vm: VirtualMember) -> None:
            number = 0
            while time.monotonic() < end:
                await vm.reply(post_body(index, number), new_key())
                number += 1

        async def read(vm: VirtualMember) -> None:
            while time.monotonic() < end:
                await vm.read(stage.thread_id)
                await asyncio.sleep(0.05)

        async def locker() -> None:
            await asyncio.sleep(1)
            await asyncio.to_thread(_hold_write_lock, path, hold, window)

        await _bounded([locker(), *(write(i, vm) for i, vm in enumerate(stage.vms[:writers])),
                        *(read(vm) for vm in stage.vms[writers:])], 120)
        elapsed = time.monotonic() - started
        checks = await stage.final_checks(max_503_share=1.0)
    taken, released = window
    attempts = stage.ledger.attempts
    refused = [a for a in attempts if a.kind == "reply" and a.status == 503]
    slow = [a for a in refused if not 4.0 <= a.latency <= 6.5]
    reads = [a for a in attempts if a.kind == "read" and taken <= a.started <= released]
    reads_ok = [a for a in reads if a.status == 200 and a.latency < read_limit]
    after = [a.started + a.latency - released for a in attempts
             if a.kind == "reply" and a.status == 303 and a.started + a.latency > released]
    checks[:0] = [
        Check("writers get 503 + Retry-After after 5 ± 1 s", bool(refused) and not slow,
              f"{len(refused)} writes answered 503, {len(slow)} outside 4–6.5 s"),
        Check(f"readers carry on (200 in < {read_limit:g} s)",
              bool(reads) and len(reads_ok) == len(reads),
              f"{len(reads_ok)} of {len(reads)} reads during the lock"),
        Check("writes resume within 1 s of release", bool(after) and min(after) <= 1.0,
              f"first write acknowledged {min(after, default=float('nan')):.2f} s after"),
    ]
    return Outcome(f"write lock held {hold:.0f} s", stage.ledger, elapsed, checks)


# -- F-3: PostgreSQL restarted mid-load ------------------------------------------------------

def postgres_version() -> str:
    versions = sorted(p.name for p in Path("/etc/postgresql").iterdir() if p.name.isdigit())
    if not versions:
        raise RuntimeError("no PostgreSQL cluster under /etc/postgresql")
    return versions[-1]


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is missing (apt-get install postgresql-common)")
    return found


def _restart_postgres() -> None:
    subprocess.run(  # noqa: S603 - the machine's own cluster, fixed arguments
        [_tool("pg_ctlcluster"), "--skip-systemctl-redirect", postgres_version(), "main",
         "restart"],
        check=True, timeout=120, capture_output=True,
    )


async def _postgres_back(url: str, limit: float) -> float:
    """Poll until PostgreSQL accepts a connection; returns when (monotonic)."""
    parsed = make_url(url)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        done = await asyncio.to_thread(
            subprocess.run,
            [_tool("pg_isready"), "-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432)],
            capture_output=True, check=False,
        )
        if done.returncode == 0:
            return time.monotonic()
        await asyncio.sleep(0.1)
    raise RuntimeError("PostgreSQL did not come back")


async def postgres_restart(run: Run, *, writers: int = 20, duration: float = 45.0,
                           restart_at: float = 10.0) -> Outcome:
    if run.is_sqlite or run.postgres_url is None:
        raise ValueError("the PostgreSQL restart scenario needs --database postgresql+asyncpg://")
    started = time.monotonic()
    async with Stage(run, "pg-restart", writers) as stage:
        pid = stage.server.process.pid if stage.server.process else None
        end = time.monotonic() + duration
        marks: dict[str, float] = {}

        async def member_posts(index: int, vm: VirtualMember) -> None:
            number = 0
            while time.monotonic() < end:
                await vm.reply_until_answered(post_body(index, number), new_key(),
                                              deadline=end + 30)
                number += 1

        async def restarter() -> None:
            await asyncio.sleep(restart_at)
            marks["down"] = time.monotonic()
            await asyncio.to_thread(_restart_postgres)
            marks["back"] = await _postgres_back(run.postgres_url or "", 60)

        await _bounded([restarter(), *(member_posts(i, vm) for i, vm in enumerate(stage.vms))],
                       duration + 120)
        same_process = (stage.server.process is not None and stage.server.process.pid == pid
                        and stage.server.process.poll() is None)
        async with httpx.AsyncClient(timeout=5) as client:
            health = (await client.get(f"{stage.server.base_url}/healthz")).status_code
        elapsed = time.monotonic() - started
        checks = await stage.final_checks(max_503_share=1.0)
    down, back = marks["down"], marks["back"]
    writes = stage.ledger.writes()
    first = min((a.started + a.latency for a in writes
                 if a.status == 303 and a.started >= back), default=None)
    stray = [a for a in writes if a.status == 503
             and not down - 1 <= a.started + a.latency <= back + 5]
    longest = max((a.latency for a in stage.ledger.attempts), default=0.0)
    checks[:0] = [
        Check("app recovered without a restart", same_process and health == 200,
              f"same process: {same_process}, /healthz {health}"),
        Check("first write ≤ 5 s after PostgreSQL is back",
              first is not None and first - back <= 5.0,
              f"{(first - back) if first else float('nan'):.2f} s; outage {back - down:.2f} s"),
        Check("503s only during the outage (+5 s)", not stray,
              f"{len(stray)} answered 503 outside it"),
        Check("no request longer than 35 s", longest <= 35.0, f"longest {longest:.2f} s"),
    ]
    return Outcome("PostgreSQL restart", stage.ledger, elapsed, checks,
                   [f"outage {back - down:.2f} s"])


# -- Regex/size attack: hostile posts while bystanders read (issue 16) ------------------------

HOSTILE_UNITS: dict[str, str] = {
    "digits (the old e-mail pattern: 1.8 s)": "1",
    "word characters, then '!' ((a+)+$)": "a",
    "accented letters": "é",
    "x:// (linkify: 1.7 s)": "x://",
    ":// (linkify: 2 s)": "://",
    "http:// and a space (linkify: 0.9 s)": "http:// ",
    "fuzzy links (linear, the heaviest Markdown)": "a.co ",
    "image brackets (the crisis screen's Markdown regex: 2.6 s)": "![",
    "brackets (the crisis screen's Markdown regex: 3.2 s)": "[",
}
"""What a hostile post repeats up to the body limit (and what it cost before issue 16)."""

ADMIN_PATTERNS: list[tuple[str, str, str]] = [
    (r"(a+)+$", "hold", "nested quantifier (exponential on Python's re)"),
    (r"(?<![\d+])casino", "block", "look-behind, saved before RE2 (RE2 refuses it)"),
]
BODY_LIMIT = 20_000


def hostile_body(unit: str, number: int, size: int = BODY_LIMIT) -> str:
    """``unit`` repeated to ``size`` characters, made unique by ``number``, ending in '!' (so
    a run of 'a' is followed by something ``(a+)+$`` must backtrack over)."""
    head = f"{number} "
    return head + (unit * (size // len(unit) + 1))[: size - len(head) - 1] + "!"


async def regex_attack(run: Run, *, attackers: int = 4, bystanders: int = 4,
                       duration: float = 30.0, quiet: float = 3.0,
                       p99_limit: float = 0.100,
                       hostile_units: dict[str, str] | None = None) -> Outcome:
    """``attackers`` members post hostile 20,000-character bodies back to back (each waits
    for its answer, then sends the next) into one thread, with an admin's ``(a+)+$`` and a
    pattern RE2 refuses stored as watched words; ``bystanders`` members read another
    thread every 50 ms, ``quiet`` seconds before the attack and during its ``duration``.
    The bystanders' page p99 during the attack must stay under ``p99_limit``."""
    started = time.monotonic()
    async with Stage(run, "regex", attackers + bystanders) as stage:
        attacking, reading = stage.vms[:attackers], stage.vms[attackers:]
        assert stage.seeded is not None
        quiet_thread = await add_quiet_thread(stage.url, stage.seeded.members[-1][0])
        await add_watched_words(stage.url, ADMIN_PATTERNS)
        readers = {vm.member_id for vm in reading}
        units = list((hostile_units or HOSTILE_UNITS).values())
        # Warm-up, not counted: the first post loads the crisis screen's encoder.
        await attacking[0].reply(post_body(0, 0), new_key())
        await asyncio.gather(*(vm.read(quiet_thread) for vm in reading))
        marks: dict[str, float] = {"quiet": time.monotonic()}
        marks["attack"] = marks["quiet"] + quiet
        end = marks["attack"] + duration

        async def attack(index: int, vm: VirtualMember) -> None:
            await asyncio.sleep(max(0.0, marks["attack"] - time.monotonic()))
            number = 0
            while time.monotonic() < end:
                await vm.reply(hostile_body(units[(index + number) % len(units)], number),
                               new_key())
                number += 1

        async def read(vm: VirtualMember) -> None:
            while time.monotonic() < end:
                await vm.read(quiet_thread)
                await asyncio.sleep(0.05)

        await _bounded([*(attack(i, vm) for i, vm in enumerate(attacking)),
                        *(read(vm) for vm in reading)], quiet + duration + 120)
        elapsed = time.monotonic() - started
        checks = await stage.final_checks()
    attempts = stage.ledger.attempts
    reads = [a for a in attempts if a.kind == "read" and a.member in readers
             and a.started >= marks["quiet"]]
    before = [a.latency for a in reads if a.started < marks["attack"]]
    during = [a for a in reads if a.started >= marks["attack"]]
    latencies = [a.latency for a in during]
    p99 = percentile(latencies, 0.99)
    writes = stage.ledger.writes()
    answered = [a for a in writes if a.status is not None]
    statuses = sorted({a.status for a in answered if a.status is not None})
    checks[:0] = [
        Check(f"bystanders' page p99 < {p99_limit * 1000:.0f} ms during the attack",
              bool(during) and p99 < p99_limit and all(a.status == 200 for a in during),
              f"{len(during)} reads: p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
              f"p99 {p99 * 1000:.0f} ms, max {max(latencies, default=0) * 1000:.0f} ms, "
              f"{sum(a.status != 200 for a in during)} not 200; before the attack p99 "
              f"{percentile(before, 0.99) * 1000:.0f} ms"),
        Check("every hostile post answered, some stored",
              bool(writes) and len(answered) == len(writes) and bool(stage.ledger.acked),
              f"{len(answered)} of {len(writes)} answered ({', '.join(map(str, statuses))}), "
              f"{len(stage.ledger.acked)} stored"),
    ]
    post_latencies = [a.latency for a in answered]
    notes = [f"hostile posts: p50 {percentile(post_latencies, 0.5) * 1000:.0f} ms, "
             f"p99 {percentile(post_latencies, 0.99) * 1000:.0f} ms "
             f"(the table's latency columns are theirs)"]
    return Outcome(f"regex/size attack {attackers}+{bystanders}", stage.ledger, elapsed,
                   checks, notes)


ScenarioFn = Callable[..., Awaitable[Outcome]]
