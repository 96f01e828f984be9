"""The app under test: ``forum run`` (uvicorn) as a child process on 127.0.0.1.

The harness only ever signals the processes it started, by their pid.
"""

from __future__ import annotations

import ctypes
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from forum.config import ROOT

HOST = "127.0.0.1"
READY_LIMIT_SECONDS = 10.0
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Linux: the server gets SIGKILL if the harness dies first (no orphan left running)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


def _start_child(open_files: int | None) -> None:
    _die_with_parent()
    if open_files is not None:  # e.g. 1,024: systemd's default for a service
        resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))


def _is_worker(pid: int) -> bool:
    """A uvicorn worker (not multiprocessing's resource tracker), still running."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z" and b"resource_tracker" not in command


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """One forum server process; ``start`` again after ``kill`` restarts it on the same port."""

    database_url: str
    log_path: Path
    port: int = field(default_factory=free_port)
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    process: subprocess.Popen[bytes] | None = None
    ready_times: list[float] = field(default_factory=list)
    open_files: int | None = None
    """RLIMIT_NOFILE (soft and hard) of the server process; None: the harness's own."""
    settings: dict[str, str] = field(default_factory=dict)
    """More environment variables, over the defaults below (Redis, throttling, a proxy,
    ``TMPDIR``)."""
    workers: int = 1

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FORUM_")}
        env.update({
            "FORUM_ENV": "production", "FORUM_DATABASE_URL": self.database_url,
            "FORUM_SECRET_KEY": self.secret_key, "FORUM_BASE_URL": self.base_url,
            "FORUM_LOG_LEVEL": "WARNING",
            # Throttling is for people, not for a load test (the setting may not exist yet:
            # Settings ignores variables it does not know).
            "FORUM_RATE_LIMITS": "off",
        })
        env.update(self.settings)
        return env

    def start(self) -> float:
        """Start the process and wait until /healthz answers 200; returns the seconds it took."""
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("the server is already running")
        started = time.monotonic()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "forum.cli", "run", "--host", HOST,
                 "--port", str(self.port), "--workers", str(self.workers)],
                cwd=ROOT, env=self.environment(), stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=lambda: _start_child(self.open_files),  # noqa: PLW1509
            )
        ready = self.wait_ready(started)
        self.ready_times.append(ready)
        return ready

    def wait_ready(self, started: float, limit: float = 6 * READY_LIMIT_SECONDS) -> float:
        deadline = started + limit
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(f"the server exited ({self.process.returncode}); "
                                       f"see {self.log_path}")
                try:
                    if client.get(f"{self.base_url}/healthz").status_code == 200:
                        return time.monotonic() - started
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        raise RuntimeError(f"the server was not ready within {limit:.0f} s")

    def kill(self) -> None:
        """SIGKILL, as a crash would: no shutdown, no checkpoint, no flush."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def serving_pids(self) -> list[int]:
        """The processes that answer requests: the server itself with one worker, else its
        worker children (Linux /proc)."""
        if self.process is None or self.process.poll() is not None:
            return []
        if self.workers <= 1:
            return [self.process.pid]
        found: list[int] = []
        for task in Path(f"/proc/{self.process.pid}/task").glob("*"):
            try:
                found += [int(p) for p in (task / "children").read_text().split()]
            except OSError:
                continue
        return sorted(pid for pid in found if _is_worker(pid))

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
