"""Browser fixtures: the real app served by ``forum run`` on a demo database, and Debian's
Chromium driven by Playwright (sync API).

These tests run in their own pytest process (``pytest -m browser tests/browser``): sync
Playwright breaks pytest-asyncio tests in the same process. Nothing here imports Playwright at
import time, so ``pytest -m "not browser"`` never loads it. Without /usr/bin/chromium every
browser test is skipped with the reason printed.

Every page a test opens is watched: a request to any host but 127.0.0.1, a Content Security
Policy violation or an uncaught script error fails the test.

When ``FORUM_BROWSER_MARKER`` names a file, the session writes into it how many browser tests
passed, so CI can tell that they really ran.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.live import CHROMIUM, launch_chromium, live_server

ALLOWED_HOSTS = {"127.0.0.1"}
_passed_browser_tests = 0


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    global _passed_browser_tests
    if report.when == "call" and report.passed and "browser" in report.keywords:
        _passed_browser_tests += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    marker = os.environ.get("FORUM_BROWSER_MARKER")
    if marker:
        Path(marker).write_text(f"{_passed_browser_tests}\n", encoding="utf-8")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Browser tests skipped: /usr/bin/chromium is missing "
                    "(apt-get install chromium).")
    with launch_chromium() as browser:
        yield browser


@pytest.fixture(scope="session")
def base_url(tmp_path_factory: pytest.TempPathFactory, chromium: Any) -> Iterator[str]:
    with live_server(tmp_path_factory.mktemp("live")) as url:
        yield url


@dataclass
class Watch:
    """What a page did that it must never do."""

    foreign_requests: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        page.on("request", self._on_request)
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.script_errors.append(str(error)))

    def _on_request(self, request: Any) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in ALLOWED_HOSTS:
            self.foreign_requests.append(request.url)

    def _on_console(self, message: Any) -> None:
        text = message.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            self.csp_violations.append(text)

    def check(self) -> None:
        assert self.foreign_requests == [], f"requests left 127.0.0.1: {self.foreign_requests}"
        assert self.csp_violations == [], f"CSP violations: {self.csp_violations}"
        assert self.script_errors == [], f"script errors: {self.script_errors}"


def _open_page(chromium: Any, base_url: str, **context_args: Any) -> Iterator[Any]:
    context = chromium.new_context(
        base_url=base_url, locale="fr-FR", viewport={"width": 1280, "height": 900},
        **context_args,
    )
    page = context.new_page()
    page.set_default_timeout(20_000)  # a loaded CI machine is slow
    watch = Watch()
    watch.attach(page)
    page.watch = watch
    try:
        yield page
        watch.check()
    finally:
        context.close()


@pytest.fixture
def page(chromium: Any, base_url: str) -> Iterator[Any]:
    """A page under the real Content Security Policy, with JavaScript on."""
    yield from _open_page(chromium, base_url)


@pytest.fixture
def nojs_page(chromium: Any, base_url: str) -> Iterator[Any]:
    """A page with JavaScript disabled: everything must still work."""
    yield from _open_page(chromium, base_url, java_script_enabled=False)


@pytest.fixture
def axe_page(chromium: Any, base_url: str) -> Iterator[Any]:
    """A page where the CSP is bypassed, only so that axe-core can be injected."""
    yield from _open_page(chromium, base_url, bypass_csp=True)
