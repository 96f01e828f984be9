"""``forum run --workers 2`` killed with SIGKILL leaves no worker behind: the port is free again
within seconds and a new ``forum run`` starts on it. Before, the workers kept serving the port
and the restart failed with "Address already in use".

Real processes on a free port of 127.0.0.1; the test only signals processes it started (the
parent by its pid, and at the end any worker still alive, by the pids it read from /proc).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from forum.config import ROOT
from forum.schema import upgrade
from reliability.server import HOST, _start_child, free_port

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="PR_SET_PDEATHSIG and /proc are Linux's")

FREE_WITHIN_SECONDS = 5.0


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def start(port: int, database: Path, log: Path, workers: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORUM_")}
    env.update({"FORUM_ENV": "production", "FORUM_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
                "FORUM_SECRET_KEY": "k" * 48, "FORUM_LOG_LEVEL": "WARNING"})
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "forum.cli", "run", "--host", HOST, "--port", str(port),
             "--workers", str(workers)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            preexec_fn=lambda: _start_child(None),  # noqa: PLW1509
        )


def wait_healthy(port: int, process: subprocess.Popen[bytes], log: Path,
                 limit: float = 120.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert process.poll() is None, f"forum run exited: {log.read_text()[-2000:]}"
        try:
            if httpx.get(f"http://{HOST}:{port}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"forum run was not ready in {limit:.0f} s: {log.read_text()[-2000:]}")


def test_kill_9_of_the_parent_leaves_no_worker_holding_the_port(tmp_path: Path) -> None:
    database, log = tmp_path / "forum.db", tmp_path / "server.log"
    upgrade(f"sqlite+aiosqlite:///{database}")
    port = free_port()
    parent = start(port, database, log, workers=2)
    workers: list[int] = []
    again = None
    try:
        wait_healthy(port, parent, log)
        deadline = time.monotonic() + 60
        while len(workers) < 2 and time.monotonic() < deadline:  # both workers up
            workers = [pid for pid in children(parent.pid) if alive(pid)]
            time.sleep(0.1)
        assert len(workers) >= 2, f"expected two workers, found {workers}"

        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        killed = time.monotonic()
        while time.monotonic() - killed < FREE_WITHIN_SECONDS:
            if not any(alive(pid) for pid in workers) and port_is_free(port):
                break
            time.sleep(0.05)
        freed = time.monotonic() - killed
        assert not [pid for pid in workers if alive(pid)], \
            f"workers still running {FREE_WITHIN_SECONDS:g} s after the parent's kill -9"
        assert port_is_free(port), "the port is still held"
        print(f"\nworkers gone and port free {freed:.2f} s after kill -9 of the parent")

        again = start(port, database, log, workers=1)
        wait_healthy(port, again, log)
    finally:
        for process in (parent, again):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=20)
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
