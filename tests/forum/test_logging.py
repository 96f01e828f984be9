"""Structured logs: one JSON object per line, UTC times, a request id matching X-Request-Id,
and no pseudonym, password, content, cookie, token or recovery code (LOG-01, 04, 05, 07)."""

from __future__ import annotations

import io
import json
import logging

from litestar import Litestar, get
from litestar.testing import AsyncTestClient

from forum.logging import HANDLER_NAME, configure_logging
from tests.browsing import Browser

PSEUDONYM = "Alouette"
PASSWORD = "ma-phrase-canari-4242"
BODY = "Texte-canari-du-message-8181"


def parsed(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_each_request_logs_one_json_line_with_its_request_id(
    client: AsyncTestClient, log_lines: io.StringIO
) -> None:
    response = await client.get("/help")
    request_id = response.headers["x-request-id"]
    entries = [e for e in parsed(log_lines) if e["event"] == "request"]
    [entry] = [e for e in entries if e.get("request_id") == request_id]
    assert entry["method"] == "GET" and entry["route"] == "/help" and entry["status"] == 200
    assert entry["time"].endswith("Z") and entry["level"] == "info"
    assert isinstance(entry["duration_ms"], float)


async def test_logs_hold_no_pseudonym_password_content_cookie_or_code(
    app: Litestar, browser: Browser, log_lines: io.StringIO, demo: None
) -> None:
    code = await browser.signup(PSEUDONYM, PASSWORD)
    await browser.start_thread("anxiete", "Titre-canari-7373", BODY)
    cookies = [value for value in browser.client.cookies.values()]
    await browser.logout()
    await browser.login(PSEUDONYM, "un mauvais mot de passe")
    await browser.login(PSEUDONYM + "\r\n{\"forged\": true}", PASSWORD)
    text = log_lines.getvalue()
    assert '"event": "login failed"' in text
    for canary in (PSEUDONYM, PASSWORD, BODY, "Titre-canari-7373", code, *cookies):
        assert canary not in text, canary
    for entry in parsed(log_lines):  # every line is one JSON object: nothing was forged
        assert "forged" not in entry


async def test_routes_are_logged_as_templates_not_as_paths(
    client: AsyncTestClient, log_lines: io.StringIO, demo: None
) -> None:
    await client.get("/s/anxiete?q=mon-secret")
    routes = [e["route"] for e in parsed(log_lines) if e["event"] == "request"]
    assert "/s/{slug}" in routes
    assert "mon-secret" not in log_lines.getvalue()


async def test_an_unexpected_error_is_logged_once_with_the_request_id_and_no_message(
    app: Litestar, client: AsyncTestClient, log_lines: io.StringIO
) -> None:
    @get("/test-only-failure", name="test_only_failure")
    async def failure() -> str:
        raise ValueError("quoted text from a member: Texte-canari")

    app.register(failure)
    response = await client.get("/test-only-failure")
    assert response.status_code == 500
    request_id = response.headers["x-request-id"]
    errors = [e for e in parsed(log_lines) if e["level"] == "error"]
    assert len(errors) == 1 and errors[0]["request_id"] == request_id
    assert "Texte-canari" not in log_lines.getvalue()


def test_configure_logging_replaces_its_own_handler_and_keeps_others() -> None:
    root = logging.getLogger()
    foreign = logging.NullHandler()
    root.addHandler(foreign)
    try:
        first = configure_logging("INFO", io.StringIO())
        second = configure_logging("WARNING", io.StringIO())
        ours = [h for h in root.handlers if h.get_name() == HANDLER_NAME]
        assert ours == [second] and first not in root.handlers
        assert foreign in root.handlers
        assert root.level == logging.WARNING
    finally:
        root.removeHandler(foreign)
        configure_logging("INFO")
