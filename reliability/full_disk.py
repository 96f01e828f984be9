"""Scenario "full disk": the forum's disk fills up while it serves, and it restarts on a full
disk; no worker may die, visitors keep reading, writes answer 503 + Retry-After (the typed
text kept) or succeed, and everything works again once there is room, without a restart.

The disk is a small tmpfs mounted in a private mount namespace (``unshare --user
--map-root-user --mount``): nothing outside this scenario's processes sees it, and it vanishes
with them. The harness re-runs this module inside that namespace (``python -m
reliability.full_disk``), which starts the server there too, and reads back its outcome.

- SQLite: the database (and so the page-cache counter file beside it) is on the tmpfs.
- PostgreSQL: the database is not (the machine's cluster is never filled); the counter file
  is (``TMPDIR``: under systemd's ``PrivateTmp=yes`` it is created anew at every start).

Phases, with two workers (the recommended deployment):

1. *Fills while serving*: members reply and a visitor reads; the disk is filled to the last
   byte; for ``full_seconds`` they carry on; room is made again.
2. *Restarts on a full disk*: the server is stopped, its counter file removed (as a fresh
   ``/tmp`` would have it), the disk filled again, the server started on it; the same load;
   room again. On SQLite, a connection of the harness's own keeps the WAL and shared-memory
   files in place over the restart, so that what is tested is the forum's own files, not
   SQLite opening a database with no room to create its WAL.

Before the counter file was allocated for real, it was a sparse file: touching one of its
pages on the full tmpfs killed the worker with SIGBUS (uvicorn restarted it, and it died
again at the next page view).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import errno
import os
import pickle
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from forum.config import ROOT
from reliability.checks import Check
from reliability.driver import Attempt, Ledger, VirtualMember, new_key, post_body
from reliability.scenarios import Outcome, Run, Stage
from reliability.server import Server

DISK_MB = 48
RESUME_LIMIT_SECONDS = 5.0
"""Writes succeed again within this once room is made."""
TYPED = "Texte tapé gardé malgré le disque plein n°{}"
TEMPFILE_PROBE_ROOM = 8192


# -- the harness side ----------------------------------------------------------------------

def _unshare_command() -> list[str]:
    found = shutil.which("unshare")
    if found is None:
        raise RuntimeError("unshare is missing (util-linux)")
    return [found, "--user", "--map-root-user", "--mount", "--propagation", "private"]


def namespace_problem() -> str | None:
    """Why a private mount namespace with a tmpfs cannot be had here, or None."""
    try:
        command = _unshare_command()
    except RuntimeError as exc:
        return str(exc)
    probe = subprocess.run(  # noqa: S603 - util-linux, fixed arguments
        [*command, sys.executable, "-c",
         "import reliability.full_disk as f, tempfile; "
         "d = tempfile.mkdtemp(); f.mount_tmpfs(d, 1); print('ok')"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    if probe.returncode != 0 or "ok" not in probe.stdout:
        return ("no private mount namespace with a tmpfs here (unprivileged user namespaces "
                f"off?): {(probe.stderr or probe.stdout).strip()[-300:]}")
    return None


async def full_disk(run: Run, *, members: int = 5, workers: int = 2,
                    full_seconds: float = 10.0) -> Outcome:
    """Run the scenario in a private mount namespace; its outcome, or a failed check that
    says why it could not run."""
    started = time.monotonic()
    problem = await asyncio.to_thread(namespace_problem)
    if problem is not None:
        return Outcome("full disk", Ledger(), time.monotonic() - started,
                       [Check("a private mount namespace with a small tmpfs", False, problem)])
    result = run.workdir / "full-disk.outcome"
    result.unlink(missing_ok=True)
    command = [*_unshare_command(), sys.executable, "-m", "reliability.full_disk",
               "--workdir", str(run.workdir), "--result", str(result),
               "--members", str(members), "--workers", str(workers),
               "--seconds", str(full_seconds)]
    if run.postgres_url:
        command += ["--database", run.postgres_url]
    child = await asyncio.create_subprocess_exec(*command, cwd=ROOT)
    code = await asyncio.wait_for(child.wait(), 900)
    if not result.exists():
        return Outcome("full disk", Ledger(), time.monotonic() - started,
                       [Check("the scenario ran to its end", False,
                              f"python -m reliability.full_disk exited {code}")])
    with result.open("rb") as handle:
        outcome: Outcome = pickle.load(handle)  # noqa: S301 - written by our own child
    return outcome


# -- inside the namespace --------------------------------------------------------------------

def mount_tmpfs(path: str | os.PathLike[str], megabytes: int) -> None:
    """Mount a tmpfs of ``megabytes`` on ``path`` (in this process's mount namespace)."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    options = f"size={megabytes}m,mode=0700".encode()
    if libc.mount(b"tmpfs", os.fsencode(path), b"tmpfs", 0, options) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"mount tmpfs on {path}: {os.strerror(code)}")


def fill(disk: Path, leave: int = 0) -> int:
    """Fill the filesystem of ``disk`` to the last block, then give back ``leave`` bytes;
    returns the bytes of filler added."""
    written = 0
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (1 << 20, 1 << 12, 1):
            chunk = b"\0" * size
            while True:
                try:
                    written += os.write(fd, chunk)
                except OSError as exc:
                    if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                        raise
                    break
        if leave:
            os.ftruncate(fd, max(0, os.fstat(fd).st_size - leave))
            written -= leave
    finally:
        os.close(fd)
    return written


def make_room(disk: Path) -> None:
    (disk / "filler").unlink(missing_ok=True)


def remove_counter_files(disk: Path) -> None:
    """The page-cache counter file (beside a SQLite file, or in TMPDIR for PostgreSQL)."""
    for counter in [*disk.glob("*-pagecache"), *disk.glob("entrepairs-pagecache-*")]:
        counter.unlink()


async def counter_file_appears(disk: Path, limit: float) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if await asyncio.to_thread(lambda: any(disk.glob("entrepairs-pagecache-*"))):
            return True
        await asyncio.sleep(0.1)
    return False


def free_bytes(disk: Path) -> int:
    stats = os.statvfs(disk)
    return stats.f_bavail * stats.f_frsize


class Load:
    """Members reply and a visitor reads, until stopped; everything in the stage's ledger."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        self.numbers = [0] * len(stage.vms)

    async def run(self, seconds: float, *, retry: bool) -> None:
        end = time.monotonic() + seconds

        async def member(index: int, vm: VirtualMember) -> None:
            while time.monotonic() < end:
                body = post_body(index, self.numbers[index])
                self.numbers[index] += 1
                if retry:
                    await vm.reply_until_answered(body, new_key(), deadline=end + 10)
                else:
                    await vm.reply(body, new_key())
                await vm.read(self.stage.thread_id)
                await asyncio.sleep(0.2)

        async def visitor() -> None:
            async with httpx.AsyncClient(base_url=self.stage.server.base_url,
                                         timeout=20) as client:
                while time.monotonic() < end:
                    for path in (f"/t/{self.stage.thread_id}", "/"):
                        begun = time.monotonic()
                        try:
                            status: int | None = (await client.get(path)).status_code
                            error = None
                        except httpx.HTTPError as exc:
                            status, error = None, type(exc).__name__
                        self.stage.ledger.record(Attempt("visit", None, 0, begun,
                                                         time.monotonic() - begun, status,
                                                         error=error))
                    await asyncio.sleep(0.1)

        await asyncio.wait_for(
            asyncio.gather(visitor(), *(member(i, vm) for i, vm in enumerate(self.stage.vms))),
            seconds + 120)


async def typed_text_comes_back(stage: Stage, tries: int = 60) -> tuple[bool | None, str]:
    """Post distinctive replies until one is refused 503 (each success fills the WAL a
    little more): whether that answer carries Retry-After and shows the text typed."""
    vm = stage.vms[0]
    for number in range(tries):
        text = TYPED.format(number)
        key = new_key()
        vm.ledger.sent[key] = vm.member_id
        data = {**vm.fields, "body": text, "idempotency_key": key}
        response = await vm.client.post(vm.action, data=data)
        vm.ledger.record(Attempt("reply", key, vm.member_id, time.monotonic(), 0.0,
                                 response.status_code,
                                 retry_after=response.headers.get("retry-after"),
                                 post_id=_post_id(response)))
        if response.status_code == 503:
            retry_after = response.headers.get("retry-after")
            shown = text in response.text
            return shown and bool(retry_after), (f"refused 503 after {number} accepted; "
                                                 f"Retry-After {retry_after}, text shown: {shown}")
        if response.status_code != 303:
            return False, f"answered {response.status_code}"
    return None, f"{tries} replies all accepted (the database's disk is not the full one)"


def _post_id(response: httpx.Response) -> int | None:
    location = response.headers.get("location", "")
    head, _, number = location.rpartition("#post-")
    return int(number) if head and number.isdigit() else None


def first_write_after(ledger: Ledger, moment: float) -> float | None:
    done = [a.started + a.latency for a in ledger.writes()
            if a.status == 303 and a.started >= moment]
    return min(done) - moment if done else None


async def scenario(workdir: Path, disk: Path, postgres_url: str | None, *, members: int,
                   workers: int, full_seconds: float) -> Outcome:
    started = time.monotonic()
    stage = Stage(Run(disk, postgres_url), "full-disk", members)
    server: Server = stage.server
    server.log_path = workdir / "full-disk.log"
    server.workers = workers
    if postgres_url:
        server.settings["TMPDIR"] = str(disk)  # the counter file goes there
    checks: list[Check] = []
    notes: list[str] = []
    windows: list[tuple[float, float]] = []
    holder: sqlite3.Connection | None = None
    async with stage:
        load = Load(stage)
        await load.run(2.0, retry=True)  # warm up: the WAL and the counters in use

        # 1. the disk fills while the forum serves
        pids = server.serving_pids()
        filled = await asyncio.to_thread(fill, disk)
        full_at = time.monotonic()
        kept, detail = await typed_text_comes_back(stage)
        await load.run(full_seconds, retry=False)
        after = server.serving_pids()
        await asyncio.to_thread(make_room, disk)
        room_at = time.monotonic()
        windows.append((full_at, room_at))
        await load.run(RESUME_LIMIT_SECONDS + 1, retry=True)
        resumed = first_write_after(stage.ledger, room_at)
        checks.append(Check("phase 1 (fills while serving): no worker died",
                            bool(pids) and pids == after == server.serving_pids(),
                            f"workers {pids} before, {after} after"))
        if kept is None:
            notes.append(f"phase 1: {detail}")
        else:
            checks.append(Check("phase 1: a refused reply gets 503 + Retry-After and its text "
                                "back", kept, detail))
        checks.append(Check(f"phase 1: writes resume ≤ {RESUME_LIMIT_SECONDS:g} s after room "
                            "is made", resumed is not None and resumed <= RESUME_LIMIT_SECONDS,
                            f"first reply stored {_seconds(resumed)} after"))
        notes.append(f"phase 1: {filled / 1e6:.1f} MB of filler, {free_bytes(disk)} bytes free "
                     "after making room")

        # 2. the forum restarts on a full disk
        if postgres_url is None:
            path = make_url(stage.url).database or ""
            holder = sqlite3.connect(path, timeout=30, isolation_level=None)
            holder.execute("SELECT count(*) FROM post").fetchone()
        await asyncio.to_thread(server.stop)
        await asyncio.to_thread(remove_counter_files, disk)
        # PostgreSQL: Python's tempfile tries TMPDIR by writing a small file in it, and
        # quietly takes /tmp instead when that fails; a little room is left for that probe,
        # and the rest filled once the workers have made their counter file.
        await asyncio.to_thread(fill, disk, TEMPFILE_PROBE_ROOM if postgres_url else 0)
        full_at = time.monotonic()
        try:
            ready = await asyncio.to_thread(server.start)
            start_error = None
        except RuntimeError as exc:
            ready, start_error = None, str(exc)
        if postgres_url and start_error is None:
            landed = await counter_file_appears(disk, 30.0)
            await asyncio.sleep(2.0)  # the other worker
            await asyncio.to_thread(fill, disk)
            notes.append("phase 2: the counter file was " + ("" if landed else "NOT ")
                         + "made on the full disk")
        checks.append(Check("phase 2 (restarts on a full disk): the server starts",
                            start_error is None,
                            start_error or f"ready in {ready:.2f} s"))
        if start_error is None:
            pids = server.serving_pids()
            await load.run(full_seconds, retry=False)
            after = server.serving_pids()
            await asyncio.to_thread(make_room, disk)
            room_at = time.monotonic()
            windows.append((full_at, room_at))
            await load.run(RESUME_LIMIT_SECONDS + 1, retry=True)
            resumed = first_write_after(stage.ledger, room_at)
            checks.append(Check("phase 2: no worker died",
                                bool(pids) and pids == after == server.serving_pids(),
                                f"workers {pids} after the start, {after} after the load"))
            checks.append(Check(f"phase 2: writes resume ≤ {RESUME_LIMIT_SECONDS:g} s after "
                                "room is made",
                                resumed is not None and resumed <= RESUME_LIMIT_SECONDS,
                                f"first reply stored {_seconds(resumed)} after"))
        else:
            await asyncio.to_thread(make_room, disk)
        if holder is not None:
            holder.close()
        elapsed = time.monotonic() - started
        checks += await stage.final_checks(max_503_share=1.0)
    visits = [a for a in stage.ledger.attempts if a.kind == "visit"
              and any(begin <= a.started <= end for begin, end in windows)]
    answered = [a for a in visits if a.status == 200]
    reads = [a for a in stage.ledger.attempts if a.kind == "read"
             and any(begin <= a.started <= end for begin, end in windows)]
    checks[:0] = [
        Check("while the disk is full, every visit answered 200",
              bool(visits) and len(answered) == len(visits),
              f"{len(answered)} of {len(visits)}"),
        Check("while the disk is full, every member's page answered 200",
              bool(reads) and all(a.status == 200 for a in reads),
              f"{sum(a.status == 200 for a in reads)} of {len(reads)}"),
    ]
    refused = [a for a in stage.ledger.writes() if a.status == 503]
    accepted = [a for a in stage.ledger.writes() if a.status == 303
                and any(begin <= a.started <= end for begin, end in windows)]
    notes.append(f"while full: {len(accepted)} replies stored, {len(refused)} answered 503; "
                 f"server log {server.log_path}")
    return Outcome("full disk", stage.ledger, elapsed, checks, notes)


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reliability.full_disk",
                                     description="(run by the harness inside unshare)")
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--database", default="")
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--disk-mb", type=int, default=DISK_MB)
    args = parser.parse_args(argv)
    disk = args.workdir / "disk"
    disk.mkdir(parents=True, exist_ok=True)
    mount_tmpfs(disk, args.disk_mb)
    outcome = asyncio.run(scenario(args.workdir, disk, args.database or None,
                                   members=args.members, workers=args.workers,
                                   full_seconds=args.seconds))
    with contextlib.suppress(FileNotFoundError):
        args.result.unlink()
    with args.result.open("wb") as handle:
        pickle.dump(outcome, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
