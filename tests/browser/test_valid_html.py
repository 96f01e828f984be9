"""The Nu HTML Checker on every page a visitor, a member, a moderator and an admin can open.

The checker is the W3C's own (``vnu.jar``), taken from its npm package ``vnu-jar`` at the
version pinned in ``tests/browser/package.json`` (``make test-browser`` installs it with
``npm ci``); it needs Java. The pages are fetched with the browser's cookies, as the server
sends them (the source, not the DOM after scripts), and checked in one run of the checker.
Any error fails, with the page, the line and the message.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.browser.flows import MEMBERS_ONLY_SLUG, public_thread_url, sign_up
from tests.browser.moderating import log_in
from tests.browser.seed import ADMIN, MODERATOR

pytestmark = pytest.mark.browser

VNU_JAR = Path(__file__).parent / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"

VISITOR_PAGES = [
    "/", "/s/anxiete", f"/s/{MEMBERS_ONLY_SLUG}", "/help", "/help?region=CA-QC", "/signup",
    "/login", "/recover", "/recovery-code", "/charter", "/privacy", "/moderation",
    "/sans-reponse", "/search?q=sommeil", "/search?q=", "/cette-page-n-existe-pas",
    "/?lang=en", "/help?lang=en",
]
MEMBER_PAGES = [
    "/s/anxiete/new", "/settings", "/sans-reponse", "/notifications", "/notifications/settings",
    "/me", "/me/export", "/me/sessions", "/me/password", "/me/break", "/me/delete",
    "/me/recovery-code", "/safety-plan", "/search?q=sommeil",
]
MODERATOR_PAGES = ["/mod", "/mod/log", "/mod/protocol", "/moderation"]
ADMIN_PAGES = ["/admin", "/admin/watched-words", "/admin/templates", "/admin/members",
               "/admin/members?q=e"]


def _checker() -> list[str]:
    """The command that runs the checker; skips (never in CI) when Java or the jar is missing."""
    java = shutil.which("java")
    missing = []
    if java is None:
        missing.append("Java (apt-get install default-jre-headless)")
    if not VNU_JAR.exists():
        missing.append(f"{VNU_JAR} (npm ci --prefix tests/browser)")
    if missing:
        reason = "the Nu HTML Checker cannot run: missing " + ", ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return [str(java), "-Xss8m", "-jar", str(VNU_JAR), "--format", "json", "--errors-only"]


def nu_errors(pages: dict[str, str], folder: Path) -> list[str]:
    """Every error the checker finds in ``pages`` (url -> HTML), one readable line each."""
    files: dict[str, str] = {}
    for index, (url, html) in enumerate(pages.items()):
        path = folder / f"page-{index:03d}.html"
        path.write_text(html, encoding="utf-8")
        files[path.name] = url
    run = subprocess.run([*_checker(), *sorted(str(folder / name) for name in
                                                 os.listdir(folder))],
                         capture_output=True, text=True, timeout=300, check=False)
    report = json.loads(run.stderr or run.stdout)
    return [
        f"{files.get(message.get('url', '').rpartition('/')[2], message.get('url'))}:"
        f"{message.get('lastLine')}: "
        f"{message.get('message')} [{message.get('extract', '').strip()[:80]}]"
        for message in report["messages"] if message.get("type") == "error"
    ]


def _fetch(page: Any, urls: list[str], who: str) -> dict[str, str]:
    pages = {}
    for url in urls:
        answer = page.request.get(url)
        assert answer.headers["content-type"].startswith("text/html"), url
        pages[f"{who} {url} ({answer.status})"] = answer.text()
    return pages


def test_the_checker_reports_a_planted_error_so_a_clean_run_means_something(
    page: Any, tmp_path: Path,
) -> None:
    html = page.request.get("/").text().replace("<main", "<main hx-get=/x", 1)
    errors = nu_errors({"/ (planted)": html}, tmp_path)
    assert any("hx-get" in line for line in errors), errors


def test_every_page_is_valid_html(page: Any, tmp_path: Path) -> None:
    pages = _fetch(page, [*VISITOR_PAGES, public_thread_url(page)], "visitor")
    sign_up(page)
    pages |= _fetch(page, [page.url], "member")  # the recovery code, shown after sign-up
    thread_url = public_thread_url(page)
    page.goto(thread_url)
    post_id = page.get_attribute("article.post", "id").removeprefix("post-")
    block_offer = page.get_attribute("a.post__block-link", "href")
    pages |= _fetch(page, [*MEMBER_PAGES, thread_url, f"/p/{post_id}/flag",
                           f"/p/{post_id}/revisions", block_offer], "member")
    # The reply form sent back with an error, without htmx.
    answer = page.request.post(f"{thread_url}/reply", form={
        "body": "", "_csrf_token": page.input_value("input[name=_csrf_token]"),
    })
    pages[f"member {thread_url}/reply (empty, {answer.status})"] = answer.text()
    page.context.clear_cookies()
    log_in(page, MODERATOR)
    page.goto(f"/mod/posts/{post_id}")
    member_link = page.get_attribute("a[href^='/mod/members/']", "href")
    pages |= _fetch(page, [*MODERATOR_PAGES, f"/mod/posts/{post_id}",
                           *([member_link] if member_link else [])], "moderator")
    page.context.clear_cookies()
    log_in(page, ADMIN)
    pages |= _fetch(page, [*ADMIN_PAGES, "/admin/spaces/1"], "admin")
    page.context.clear_cookies()
    assert len(pages) >= 46
    errors = nu_errors(pages, tmp_path)
    assert errors == [], f"{len(errors)} errors on {len(pages)} pages:\n" + "\n".join(errors)
