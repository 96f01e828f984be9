"""Input no browser sends, but anyone can: each answers a calm 4xx page, never a 500 (issue 16).

Through the real routes, on the database the suite runs on (SQLite, or PostgreSQL with
``FORUM_TEST_DATABASE_URL``): PostgreSQL refuses NUL bytes in text, both databases refuse
integers past 64 bits, and Litestar's CSRF check raises on a non-ASCII token.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from uuid import uuid4

import httpx
import pytest
from sqlalchemy import func, select

from forum.db import Database
from forum.logging import JsonFormatter
from forum.models import Thread
from forum.web.forms import BIDI_CONTROLS
from tests.browsing import Browser, Page

BAD_REQUEST = "Cette demande n'a pas pu être lue"
FORBIDDEN = "Ce n'est pas possible ici"
NOT_FOUND = "Cette page n'existe pas"
SOMETHING_WENT_WRONG = "Quelque chose s'est mal passé"


def assert_calm(response: httpx.Response, status: int, title: str) -> None:
    """The project's own error page, with the status the person gets."""
    assert response.status_code == status, (response.request.url, response.status_code)
    assert response.headers["content-type"].startswith("text/html")
    page = Page(response)
    assert page.one(".error-message__title").get_text().strip() == title
    assert SOMETHING_WENT_WRONG not in response.text
    assert "Traceback" not in response.text


async def count(database: Database, model: type) -> int:
    async with database.reader() as session:
        return int(await session.scalar(select(func.count()).select_from(model)))


async def reply_form_values(browser: Browser, thread_id: int = 1) -> dict[str, str]:
    return (await browser.get(f"/t/{thread_id}")).form("#reply-form").values()


def multipart(fields: list[tuple[str, bytes, dict[str, str]]]) -> tuple[bytes, str]:
    """A multipart body built by hand: (name, raw bytes, extra part headers) per field."""
    boundary = uuid4().hex
    chunks = []
    for name, raw, headers in fields:
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"'
        if "filename" in headers:
            head += f'; filename="{headers["filename"]}"'
        for key, value in headers.items():
            if key != "filename":
                head += f"\r\n{key}: {value}"
        chunks.append(head.encode() + b"\r\n\r\n" + raw + b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


# -- the request log says what the client got -------------------------------------------------

@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def request_lines(stream: io.StringIO) -> list[dict]:
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    return [e for e in entries if e["event"] == "request"]


async def test_a_failed_csrf_check_is_logged_as_the_403_it_is_with_its_request_id(
    browser: Browser, log_lines: io.StringIO, demo: None
) -> None:
    await browser.signup("Glycine")
    values = await reply_form_values(browser)
    response = await browser.client.post("/t/1/reply",
                                         data={**values, "_csrf_token": "0" * 128})
    assert_calm(response, 403, FORBIDDEN)
    request_id = response.headers["x-request-id"]
    [line] = [e for e in request_lines(log_lines) if e.get("request_id") == request_id]
    assert line["status"] == 403 and line["route"] == "/t/{thread_id}/reply"
    assert not [e for e in request_lines(log_lines) if e["status"] >= 500]


# -- bidi controls in titles ------------------------------------------------------------------

async def test_thread_titles_lose_bidi_controls_as_post_bodies_do(
    browser: Browser, database: Database, demo: None
) -> None:
    await browser.signup("Glycine")
    typed = "\u202eAide\u202c urgente \u2067fdp.exe\u2069 \u200fمرحبا"
    result = await browser.start_thread("bien-etre", typed, "Un texte \u202eà l'envers\u202c.")
    assert result.status == 303
    page = await browser.follow(result)
    expected = "Aide urgente fdp.exe \u200fمرحبا"  # the mark U+200F stays, as in bodies
    assert page.one("h1").get_text().strip() == expected
    assert not BIDI_CONTROLS.search(page.response.text)
    async with database.reader() as session:
        title = await session.scalar(select(Thread.title).order_by(Thread.id.desc()).limit(1))
    assert title == expected


async def test_a_title_of_only_bidi_controls_is_empty(browser: Browser, demo: None) -> None:
    await browser.signup("Glycine")
    result = await browser.start_thread("bien-etre", "\u202e\u202d\u2066", "Un texte.")
    assert result.status == 422
    assert "Ce champ est vide." in result.one(".field-error").get_text()


def test_titles_and_bodies_strip_the_same_bidi_controls() -> None:
    from moderation.sanitize import _BIDI_RE

    every = "".join(chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF)
    assert BIDI_CONTROLS.findall(every) == _BIDI_RE.findall(every)
    assert len(BIDI_CONTROLS.findall(every)) == 9
