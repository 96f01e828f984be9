"""A live Entrepairs server and a Debian Chromium, shared by the browser tests and
``make screenshots``.

The server is the real app, started the way a person would with ``forum run`` on a free port of
127.0.0.1, over a fresh SQLite file seeded with the demo content (:mod:`tests.browser.seed`).
Playwright is imported only inside :func:`launch_chromium`, so the normal test run never
imports it.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
]
AXE_PATH = Path(__file__).parent / "vendor" / "axe.min.js"
QUICK_EXIT_URL = "https://127.0.0.1:9/"


def _forum_command() -> str:
    """The ``forum`` script next to the running interpreter (the project's .venv)."""
    candidate = Path(sys.executable).parent / "forum"
    return str(candidate) if candidate.exists() else "forum"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_health(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"forum run exited early:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"forum run did not answer /healthz:\n{log.read_text(errors='replace')}")


@contextmanager
def live_server(workdir: Path) -> Iterator[str]:
    """Seed a demo database in ``workdir`` and serve it; yields the base URL."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "FORUM_ENV": "development",
        "FORUM_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'forum.db'}",
        "FORUM_SECRET_KEY": secrets.token_urlsafe(48),
        "FORUM_BASE_URL": url,
        "FORUM_LOG_LEVEL": "WARNING",
        # Every test signs a member up from 127.0.0.1: the sign-up throttle would refuse them.
        "FORUM_RATE_LIMITS": "off",
        # An unclaimed urgent item escalates after one minute (the watch looks every 15 s),
        # so that tests/browser/test_crisis_screen.py can see it happen.
        "FORUM_WELFARE_ESCALATION_MINUTES": "1",
        # The quick exit must go somewhere the guard allows: a local https port that refuses.
        "FORUM_QUICK_EXIT_URL": QUICK_EXIT_URL,
    }
    env.pop("FORUM_TEST_DATABASE_URL", None)
    forum = _forum_command()
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", "tests.browser.seed", env["FORUM_DATABASE_URL"]],
        cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
    )
    log = workdir / "server.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(  # noqa: S603
            [forum, "run", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
        )
        try:
            _wait_for_health(url, process, log)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


@contextmanager
def launch_chromium() -> Iterator[Any]:
    """Debian's Chromium through Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def axe_source() -> str:
    return AXE_PATH.read_text(encoding="utf-8")
