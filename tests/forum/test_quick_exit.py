"""The quick exit's way out, ``GET /sortie`` (issue 19): straight on to the neutral site, for
anyone, whatever state the sessions are in, leaving nothing behind.

static/js/quick-exit.js leaves history entries with this address where the forum's pages were,
so that Back after "Quitter rapidement" lands on the neutral site again (tests/browser/
test_crisis_flows.py watches that in Chromium).
"""

from __future__ import annotations

import io
import json
from dataclasses import replace

import pytest
from litestar.testing import AsyncTestClient

from forum.config import ROOT
from forum.web import auth
from forum.web.pages import QUICK_EXIT_PATH
from tests.browsing import Browser

NEUTRAL = "https://meteofrance.com/"


def assert_sent_to_the_neutral_site(response) -> None:
    assert response.status_code == 303, response.status_code
    assert response.headers["location"] == NEUTRAL
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "set-cookie" not in response.headers
    assert response.content == b""


async def test_sortie_sends_a_visitor_to_the_neutral_site_and_sets_no_cookie(
    client: AsyncTestClient,
) -> None:
    assert QUICK_EXIT_PATH == "/sortie"
    assert_sent_to_the_neutral_site(await client.get("/sortie", follow_redirects=False))
    assert not client.cookies, "not even a CSRF cookie for a visitor on the way out"


async def test_sortie_sends_a_member_on_without_looking_their_session_up(
    browser: Browser, monkeypatch: pytest.MonkeyPatch,
) -> None:
    await browser.signup("Passerine")

    async def sessions_away(*_args: object) -> None:
        raise ConnectionError("the session store is away")

    monkeypatch.setattr(auth.queries, "get_session_with_member", sessions_away)
    # Any page that checks the session now answers 503; the way out must not.
    assert (await browser.client.get("/help")).status_code == 503
    assert_sent_to_the_neutral_site(await browser.client.get("/sortie", follow_redirects=False))


async def test_sortie_goes_where_the_setting_says(app, client: AsyncTestClient) -> None:
    app.state.settings = replace(app.state.settings, quick_exit_url="https://example.org/meteo")
    response = await client.get("/sortie", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "https://example.org/meteo"


async def test_head_of_sortie_is_the_same_redirect(client: AsyncTestClient) -> None:
    response = await client.head("/sortie", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == NEUTRAL


async def test_sortie_logs_the_usual_request_line_and_nothing_else(
    browser: Browser, log_lines: io.StringIO,
) -> None:
    await browser.signup("Bergeronnette")
    log_lines.truncate(0)
    log_lines.seek(0)
    await browser.client.get("/sortie", follow_redirects=False)
    entries = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    assert [(e["event"], e["route"], e["status"]) for e in entries] == [
        ("request", "/sortie", 303)], entries


def test_the_script_and_the_route_name_the_same_path() -> None:
    script = (ROOT / "static" / "js" / "quick-exit.js").read_text(encoding="utf-8")
    assert f'"{QUICK_EXIT_PATH}"' in script


@pytest.mark.parametrize(("language", "remains", "without_script"), [
    ("fr", "garde la liste des pages du forum", "Sans JavaScript, un seul Retour"),
    ("en", "keeps the list of the forum pages", "Without JavaScript, a single Back"),
])
async def test_help_says_plainly_what_the_quick_exit_leaves_in_the_history(
    browser: Browser, language: str, remains: str, without_script: str,
) -> None:
    page = await browser.get("/help", headers={"Accept-Language": language})
    section = page.text("section[aria-labelledby=privacy-heading]")
    assert remains in section and without_script in section
    assert ("cinq fois" if language == "fr" else "five times") in section
