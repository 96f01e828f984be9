"""Scenario "slow clients": many idle, slowloris and slow-body connections against one worker
whose open-file limit is systemd's default (1,024), while a visitor and members carry on.

Before ``forum/server.py``, uvicorn kept every such connection for ever: 2,500 idle
connections used up the worker's 1,024 file descriptors and every visitor was refused.

The attackers, all on 127.0.0.1, all bounded in number and time:

- ``idle``: connections opened at once that never send a byte;
- ``slowloris``: connections that send a request line, then one more header line every
  ``trickle`` seconds, never the blank line that ends the head;
- ``slow bodies``: POSTs that announce a 100 KB body and send ten bytes a second.

Meanwhile a visitor, in its own process (so that its timings are the server's), opens a NEW
connection for each page (the worst case: every request needs a free descriptor) every 100 ms,
first for 5 s without any attack, and members keep reading and replying through their own
kept-alive connections. The checks: every bystander request answered, quickly; the server
closed every idle and slowloris connection within the header timeout and every slow body
within the body timeout (plus a margin); its descriptors stayed under the limit; it never
restarted; C1–C6 for the members' replies.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import sys
import time
from dataclasses import dataclass, field

import httpx

from forum.config import ROOT
from forum.server import BODY_TIMEOUT_SECONDS, HEADER_TIMEOUT_SECONDS, connection_limit
from reliability.checks import Check, percentile
from reliability.driver import Attempt, VirtualMember, new_key, post_body
from reliability.scenarios import Outcome, Run, Stage
from reliability.server import HOST

OPEN_FILES = 1024
"""The server's RLIMIT_NOFILE: systemd's default for a service."""
BASELINE_SECONDS = 5.0
VISIT_MAX = 5.0
"""No visit may take longer than this (the p99 limit is ``visit_limit``, 1 s)."""
MARGIN_SECONDS = 5.0
"""Timers fire on a busy event loop: a connection counts as closed in time within this."""


@dataclass
class Attacker:
    kind: str
    opened: float = 0.0
    closed: float | None = None
    refused: bool = False

    @property
    def held(self) -> float | None:
        return None if self.closed is None else self.closed - self.opened


@dataclass
class Attack:
    attackers: list[Attacker] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def of(self, kind: str) -> list[Attacker]:
        return [a for a in self.attackers if a.kind == kind]


def raise_own_open_files(needed: int) -> int:
    """The harness holds every attacking socket itself: raise its own soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed and soft != resource.RLIM_INFINITY:
        target = hard if hard == resource.RLIM_INFINITY else min(hard, max(needed, soft))
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def _connect(port: int, attacker: Attacker
                   ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    attacker.opened = time.monotonic()
    try:
        return await asyncio.wait_for(asyncio.open_connection(HOST, port), 10)
    except (TimeoutError, OSError):
        attacker.refused = True
        attacker.closed = time.monotonic()
        return None


async def _until_closed(reader: asyncio.StreamReader, attacker: Attacker,
                        attack: Attack) -> None:
    """Wait for the server to close (EOF or reset), or the end of the attack."""
    read = asyncio.ensure_future(reader.read(65536))
    stop = asyncio.ensure_future(attack.stop.wait())
    try:
        while True:
            done, _ = await asyncio.wait({read, stop}, return_when=asyncio.FIRST_COMPLETED)
            if read in done:
                try:
                    data = read.result()
                except OSError:
                    data = b""
                if not data:
                    attacker.closed = time.monotonic()
                    return
                read = asyncio.ensure_future(reader.read(65536))
                continue
            return
    finally:
        for task in (read, stop):
            task.cancel()


async def idle_connection(port: int, attack: Attack) -> None:
    attacker = Attacker("idle")
    attack.attackers.append(attacker)
    pair = await _connect(port, attacker)
    if pair is None:
        return
    reader, writer = pair
    try:
        await _until_closed(reader, attacker, attack)
    finally:
        writer.close()


async def slowloris(port: int, attack: Attack, trickle: float) -> None:
    attacker = Attacker("slowloris")
    attack.attackers.append(attacker)
    pair = await _connect(port, attacker)
    if pair is None:
        return
    reader, writer = pair
    watcher = asyncio.ensure_future(_until_closed(reader, attacker, attack))
    try:
        writer.write(f"GET / HTTP/1.1\r\nHost: {HOST}\r\n".encode())
        number = 0
        while not watcher.done():
            await asyncio.wait({watcher}, timeout=trickle)
            if watcher.done():
                break
            writer.write(f"X-Lent-{number}: oui\r\n".encode())
            number += 1
            with contextlib.suppress(OSError):
                await writer.drain()
    finally:
        await asyncio.wait({watcher}, timeout=1)
        watcher.cancel()
        writer.close()


async def slow_body(port: int, path: str, attack: Attack) -> None:
    attacker = Attacker("slow body")
    attack.attackers.append(attacker)
    pair = await _connect(port, attacker)
    if pair is None:
        return
    reader, writer = pair
    watcher = asyncio.ensure_future(_until_closed(reader, attacker, attack))
    try:
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            "Content-Length: 100000\r\n\r\nbody=".encode()
        )
        while not watcher.done():
            await asyncio.wait({watcher}, timeout=1.0)
            if watcher.done():
                break
            writer.write(b"a" * 10)
            with contextlib.suppress(OSError):
                await writer.drain()
    finally:
        await asyncio.wait({watcher}, timeout=1)
        watcher.cancel()
        writer.close()


def open_descriptors(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


async def slow_clients(run: Run, *, idle: int = 2500, slowloris_count: int = 200,
                       slow_bodies: int = 50, members: int = 5, duration: float | None = None,
                       trickle: float = 2.0, visit_limit: float = 1.0) -> Outcome:
    """The attack above for ``duration`` seconds (by default long enough for the body
    timeout to fire), bystanders throughout."""
    duration = duration or BODY_TIMEOUT_SECONDS + 2 * MARGIN_SECONDS
    needed = idle + slowloris_count + slow_bodies + 200
    own = raise_own_open_files(needed)
    notes = []
    if own < needed:  # the harness cannot hold that many sockets itself: fewer idle ones
        idle = max(0, own - slowloris_count - slow_bodies - 200)
        notes.append(f"the harness may open {own} files: {idle} idle connections only")
    started = time.monotonic()
    stage = Stage(run, "slow-clients", members)
    stage.server.open_files = OPEN_FILES
    async with stage:
        server, pid = stage.server, stage.server.process.pid if stage.server.process else 0
        port = server.port
        thread_path = f"/t/{stage.thread_id}"
        attack = Attack()
        end = 0.0  # set once the baseline is measured, before anything below runs
        descriptors: list[int] = []

        async def visitor(until: float, kind: str = "visit") -> None:
            # In its own process, so that its timings are the server's, not those of the
            # harness's event loop busy with thousands of attacking sockets.
            child = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "reliability.slow_clients", server.base_url + thread_path,
                f"{until - time.monotonic():.3f}", cwd=ROOT, stdout=asyncio.subprocess.PIPE)
            out, _ = await asyncio.wait_for(child.communicate(), until - time.monotonic() + 60)
            for line in out.decode().splitlines():
                begun, latency, status = line.split()
                stage.ledger.record(Attempt(
                    kind, None, 0, float(begun), float(latency),
                    int(status) if status.isdigit() else None,
                    error=None if status.isdigit() else status))

        async def member(index: int, vm: VirtualMember) -> None:
            number = 0
            while time.monotonic() < end:
                await vm.read(stage.thread_id)
                await vm.reply_until_answered(post_body(index, number), new_key(),
                                              deadline=end + 20)
                number += 1
                await asyncio.sleep(0.5)

        async def watch_descriptors() -> None:
            while time.monotonic() < end:
                descriptors.append(open_descriptors(pid))
                await asyncio.sleep(0.5)

        async def attackers() -> None:
            tasks = [asyncio.ensure_future(idle_connection(port, attack)) for _ in range(idle)]
            tasks += [asyncio.ensure_future(slowloris(port, attack, trickle))
                      for _ in range(slowloris_count)]
            tasks += [asyncio.ensure_future(slow_body(port, thread_path + "/reply", attack))
                      for _ in range(slow_bodies)]
            await asyncio.sleep(max(0.0, end - time.monotonic()))
            attack.stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)

        # The same visitor first without any attack: what "quickly" is on this machine now.
        await visitor(time.monotonic() + BASELINE_SECONDS, "visit before")
        end = time.monotonic() + duration
        bystanders = [visitor(end), watch_descriptors(),
                      *(member(i, vm) for i, vm in enumerate(stage.vms))]
        await asyncio.wait_for(asyncio.gather(attackers(), *bystanders), duration + 90)
        alive = server.process is not None and server.process.poll() is None \
            and server.process.pid == pid
        elapsed = time.monotonic() - started
        checks = await stage.final_checks(max_503_share=0.0)
    visits = [a for a in stage.ledger.attempts if a.kind == "visit"]
    answered = [a for a in visits if a.status == 200]
    latencies = [a.latency * 1000 for a in answered]
    p99 = percentile(latencies, 0.99) / 1000
    member_reads = [a for a in stage.ledger.attempts if a.kind == "read"]
    limit = OPEN_FILES - 1

    def closed_in_time(kind: str, timeout: float) -> Check:
        group = attack.of(kind)
        late = [a for a in group if a.held is None or a.held > timeout + MARGIN_SECONDS]
        held = [a.held for a in group if a.held is not None]
        return Check(f"every {kind} connection closed by the server ≤ {timeout:g} s "
                     f"(+{MARGIN_SECONDS:g})", bool(group) and not late,
                     f"{len(group) - len(late)} of {len(group)}; longest held "
                     f"{max(held, default=float('nan')):.1f} s")

    checks[:0] = [
        Check("the server never died or restarted", alive, f"pid {pid}"),
        Check(f"every visit answered 200, p99 ≤ {visit_limit:g} s, none > {VISIT_MAX:g} s",
              bool(visits) and len(answered) == len(visits) and p99 <= visit_limit
              and max(latencies, default=0) <= VISIT_MAX * 1000,
              f"{len(answered)} of {len(visits)} answered; p50 "
              f"{percentile(latencies, 0.5):.0f} ms, p99 {p99 * 1000:.0f} ms, "
              f"max {max(latencies, default=0):.0f} ms"),
        Check("every member read answered 200",
              bool(member_reads) and all(a.status == 200 for a in member_reads),
              f"{sum(a.status == 200 for a in member_reads)} of {len(member_reads)}"),
        closed_in_time("idle", HEADER_TIMEOUT_SECONDS),
        closed_in_time("slowloris", HEADER_TIMEOUT_SECONDS),
        closed_in_time("slow body", BODY_TIMEOUT_SECONDS),
        Check(f"the server's descriptors stayed under its limit ({OPEN_FILES})",
              bool(descriptors) and max(descriptors) < limit,
              f"at most {max(descriptors, default=0)} open"),
    ]
    before = [a.latency * 1000 for a in stage.ledger.attempts
              if a.kind == "visit before" and a.status == 200]
    notes.append(f"the visitor before the attack: p50 {percentile(before, 0.5):.0f} ms, p99 "
                 f"{percentile(before, 0.99):.0f} ms, max {max(before, default=0):.0f} ms "
                 f"({len(before)} pages)")
    refused = sum(a.refused for a in attack.attackers)
    notes.append(f"{len(attack.of('idle'))} idle, {len(attack.of('slowloris'))} slowloris, "
                 f"{len(attack.of('slow body'))} slow-body connections ({refused} refused at "
                 f"connect); per-worker connection bound under {OPEN_FILES} files: "
                 f"{connection_limit(OPEN_FILES)}")
    return Outcome("slow clients", stage.ledger, elapsed, checks, notes)



def visit(url: str, seconds: float) -> None:
    """The visitor (its own process): GET ``url`` on a new connection every 100 ms for
    ``seconds``; one line per page: start (monotonic, shared by every process of the
    machine), seconds taken, status or error."""
    until = time.monotonic() + seconds
    with httpx.Client(timeout=20, limits=httpx.Limits(max_keepalive_connections=0)) as client:
        while time.monotonic() < until:
            begun = time.monotonic()
            try:
                outcome = str(client.get(url).status_code)
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            print(f"{begun:.6f} {time.monotonic() - begun:.6f} {outcome}", flush=True)
            time.sleep(0.1)


if __name__ == "__main__":
    visit(sys.argv[1], float(sys.argv[2]))
