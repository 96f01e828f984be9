"""The normal run (``pytest -m "not browser"``) must never load Playwright: sync Playwright
breaks pytest-asyncio tests that run after it in the same process."""

from __future__ import annotations

import sys


def test_the_normal_run_never_imports_playwright() -> None:
    assert not any(name == "playwright" or name.startswith("playwright.")
                   for name in sys.modules)
