"""Input no browser sends, but anyone can: each answers a calm 4xx page, never a 500 (issue 16).

Through the real routes, on the database the suite runs on (SQLite, or PostgreSQL with
``FORUM_TEST_DATABASE_URL``): PostgreSQL refuses NUL bytes in text, both databases refuse
integers past 64 bits, and Litestar's CSRF check raises on a non-ASCII token.
"""

from __future__ import annotations

import io
import json
import re
from uuid import uuid4

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from forum import actions, pseudonyms, queries
from forum.db import Database
from forum.models import ID_MAX, Post, Role, Thread
from forum.web.forms import BIDI_CONTROLS
from tests.browsing import Browser, Page

BAD_REQUEST = "Cette demande n'a pas pu être lue"
FORBIDDEN = "Ce n'est pas possible ici"
NOT_FOUND = "Cette page n'existe pas"
SOMETHING_WENT_WRONG = "Quelque chose s'est mal passé"
PAST_64_BITS = (999_999_999_999_999_999_999, ID_MAX + 1, -ID_MAX - 2)


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


# -- multipart fields that are not UTF-8 ------------------------------------------------------

@pytest.mark.parametrize("raw, headers", [
    (b"Je vais \xff\xfe mal", {}),
    (b"caf\xe9 au lait", {}),
    (b"un texte", {"Content-Type": "text/plain; charset=pas-un-charset"}),
])
async def test_a_multipart_field_that_cannot_be_decoded_is_a_calm_400(
    browser: Browser, database: Database, demo: None, raw: bytes, headers: dict[str, str]
) -> None:
    await browser.signup("Glycine")
    values = await reply_form_values(browser)
    before = await count(database, Post)
    fields = [(name, value.encode(), {}) for name, value in values.items() if name != "body"]
    body, content_type = multipart([*fields, ("body", raw, headers)])
    response = await browser.client.post("/t/1/reply", content=body,
                                         headers={"content-type": content_type})
    assert_calm(response, 400, BAD_REQUEST)
    assert await count(database, Post) == before


async def test_a_well_formed_multipart_reply_still_posts(
    browser: Browser, database: Database, demo: None
) -> None:
    """The guard reads multipart forms before the CSRF check: a good one goes through."""
    await browser.signup("Glycine")
    values = await reply_form_values(browser)
    before = await count(database, Post)
    fields = [(name, value.encode(), {}) for name, value in values.items() if name != "body"]
    body, content_type = multipart([*fields, ("body", "Un café, ça va mieux.".encode(), {})])
    response = await browser.client.post("/t/1/reply", content=body,
                                         headers={"content-type": content_type},
                                         follow_redirects=False)
    assert response.status_code == 303, Page(response).text()
    assert await count(database, Post) == before + 1


# -- numbers in addresses past 64 bits, on every route that takes one -------------------------

def int_routes(app: Litestar) -> list[tuple[str, str, list[str]]]:
    """(method, path template, names of its int parameters) for every route of the app."""
    found = []
    for route in app.routes:
        params = getattr(route, "path_parameters", {}) or {}
        ints = [name for name, p in params.items() if p.type is int]
        if not ints:
            continue
        for handler in getattr(route, "route_handlers", []):
            for method in handler.http_methods:
                found.append((method, route.path, ints))
    return sorted(set((m, p, tuple(i)) for m, p, i in found))  # type: ignore[misc]


def fill(template: str, ints: dict[str, int]) -> str:
    def value(match: re.Match[str]) -> str:
        name, kind = match.group(1), match.group(2)
        return str(ints[name]) if kind == "int" else "x"
    return re.sub(r"\{(\w+):(\w+)\}", value, template)


async def make_admin(database: Database, pseudonym: str) -> None:
    async with database.writing() as session:
        member = await queries.find_member_by_key(session, pseudonyms.uniqueness_key(pseudonym))
        assert member is not None
        await actions.do_set_role(session, member, Role.ADMIN)


async def test_every_id_route_answers_404_to_a_number_past_64_bits(
    app: Litestar, browser: Browser, database: Database, demo: None
) -> None:
    routes = int_routes(app)
    # Every {id} route the app has today is covered, and so is any new one.
    assert len({path for _, path, _ in routes}) >= 20
    assert ("GET", "/t/{thread_id:int}", ("thread_id",)) in routes
    await browser.signup("Glycine")
    await make_admin(database, "Glycine")  # so that moderators' routes reach their lookups
    token = (await browser.get("/")).hx_headers()["x-csrftoken"]
    before = await count(database, Post)
    for method, template, names in routes:
        for number in PAST_64_BITS:
            path = fill(template, {name: number for name in names})
            kwargs: dict = {}
            if method not in ("GET", "HEAD", "OPTIONS"):
                kwargs = {"data": {"_csrf_token": token, "body": "Un texte",
                                   "idempotency_key": uuid4().hex}}
            response = await browser.client.request(method, path, **kwargs)
            if method in ("HEAD",):
                assert response.status_code == 404, (method, path)
            else:
                assert_calm(response, 404, NOT_FOUND)
    # The largest id either database holds is an ordinary "no such page".
    assert_calm(await browser.client.get(f"/t/{ID_MAX}"), 404, NOT_FOUND)
    assert_calm(await browser.client.get(f"/p/{ID_MAX}"), 404, NOT_FOUND)
    assert await count(database, Post) == before


async def test_a_visitor_asking_for_a_huge_thread_gets_a_calm_404(client: AsyncTestClient) -> None:
    assert_calm(await client.get("/t/999999999999999999999"), 404, NOT_FOUND)


@pytest.mark.parametrize("ref", ["999999999999999999999", "9223372036854775808", "²", "1²"])
async def test_a_member_reference_that_is_no_id_is_a_calm_404(
    browser: Browser, demo: None, ref: str
) -> None:
    """``/m/{ref}/block`` takes an id or a pseudonym: digits past 64 bits, or digits that
    ``int()`` refuses (``"²".isdigit()`` is true), are neither."""
    await browser.signup("Glycine")
    token = (await browser.get("/")).hx_headers()["x-csrftoken"]
    for action in ("block", "unblock"):
        response = await browser.client.post(f"/m/{ref}/{action}", data={"_csrf_token": token})
        assert_calm(response, 404, NOT_FOUND)


async def test_numbers_past_64_bits_in_queries_are_read_calmly(
    browser: Browser, demo: None
) -> None:
    """A page number or a list cursor past 64 bits shows a page, as a mistyped one does."""
    await browser.signup("Glycine")
    page = await browser.get(f"/notifications?page={10**21}")
    assert page.status == 200
    page = await browser.get(f"/s/bien-etre?apres=1700000000.0_{10**21}")
    assert page.status == 200
    page = await browser.get(f"/s/bien-etre?apres=1700000000.0_{ID_MAX}")
    assert page.status == 200


async def test_a_break_of_unicode_digits_is_refused_calmly(
    browser: Browser, database: Database, demo: None
) -> None:
    await browser.signup("Glycine")
    page = await browser.get("/me/break")
    for days in ("²", "٣", "9" * 30):
        result = await browser.submit(page.form("form:has(input[type=radio])"), {"days": days})
        assert result.status == 422, (days, result.status)
        assert result.one(".field-error")
    async with database.reader() as session:
        member = await queries.find_member_by_key(session, pseudonyms.uniqueness_key("Glycine"))
        assert member is not None and member.break_until is None


# -- CSRF tokens that are not ASCII -----------------------------------------------------------

async def test_a_non_ascii_csrf_token_in_the_form_is_a_calm_403(
    browser: Browser, database: Database, demo: None
) -> None:
    await browser.signup("Glycine")
    values = await reply_form_values(browser)
    before = await count(database, Post)
    for token in ("é" * 128, "0" * 64 + "é" * 64, "\x00" * 128):
        response = await browser.client.post("/t/1/reply", data={**values, "_csrf_token": token,
                                                                 "body": "Un texte"})
        assert_calm(response, 403, FORBIDDEN)
    assert await count(database, Post) == before


async def test_a_non_ascii_csrf_header_is_a_calm_403(browser: Browser, demo: None) -> None:
    await browser.signup("Glycine")
    values = await reply_form_values(browser)
    del values["_csrf_token"]
    response = await browser.client.post(
        "/t/1/reply", data={**values, "body": "Un texte"},
        headers={"x-csrftoken": ("é" * 128).encode(), "hx-request": "true"})
    assert response.status_code == 403
    assert FORBIDDEN in response.text and SOMETHING_WENT_WRONG not in response.text


async def test_a_non_ascii_csrf_cookie_is_a_calm_403(app: Litestar, demo: None) -> None:
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        values = (await Browser(client).get("/login")).form().values()
        client.cookies.clear()
        response = await client.post(
            "/login", data={**values, "pseudonym": "Glycine", "password": "x" * 12},
            headers={"cookie": ("csrftoken=" + "é" * 128).encode()})
        assert_calm(response, 403, FORBIDDEN)


STALE_CSRF = "0" * 64 + "1" * 64
"""The shape of a Litestar token, signed by no secret this forum has (such as a token kept
from before the secret key was changed)."""


def replace_csrf_cookie(browser: Browser, value: str) -> None:
    """Overwrite the browser's CSRF cookie where the forum set it (same domain and path)."""
    jar = browser.client.cookies.jar
    where = next(cookie for cookie in jar if cookie.name == "csrftoken")
    browser.client.cookies.set("csrftoken", value, domain=where.domain, path=where.path)


async def test_a_csrf_cookie_this_forum_did_not_sign_is_replaced_by_the_next_page(
    browser: Browser, database: Database, demo: None
) -> None:
    """Litestar alone keeps such a cookie and writes it into every form, so every form of
    that browser fails; the guard forgets it on a page read, and the page sets a fresh one."""
    await browser.signup("Glycine")
    replace_csrf_cookie(browser, STALE_CSRF)
    page = await browser.get("/s/anxiete/new")  # rendered by the app, not the page cache
    fresh = browser.client.cookies.get("csrftoken")
    assert fresh and fresh != STALE_CSRF
    form = page.form("form.composer")
    assert form.values()["_csrf_token"] == fresh
    before = await count(database, Thread)
    sent = await browser.submit(form, {"title": "Me revoilà", "body": "Après une longue pause."})
    assert sent.status == 303, sent.text
    assert await count(database, Thread) == before + 1


async def test_a_stale_csrf_cookie_still_fails_a_form_sent_with_it(
    browser: Browser, database: Database, demo: None
) -> None:
    """Only page reads forget it: a form sent with it is refused, calmly, and stores nothing."""
    await browser.signup("Glycine")
    values = await reply_form_values(browser)
    replace_csrf_cookie(browser, STALE_CSRF)
    before = await count(database, Post)
    response = await browser.client.post(
        "/t/1/reply", data={**values, "_csrf_token": STALE_CSRF, "body": "Un texte"})
    assert_calm(response, 403, FORBIDDEN)
    assert await count(database, Post) == before


async def test_a_csrf_token_sent_as_a_file_is_a_calm_403(
    browser: Browser, database: Database, demo: None
) -> None:
    await browser.signup("Glycine")
    values = await reply_form_values(browser)
    before = await count(database, Post)
    fields = [(name, value.encode(), {}) for name, value in values.items()
              if name not in ("_csrf_token", "body")]
    body, content_type = multipart([
        *fields, ("body", b"Un texte", {}),
        ("_csrf_token", values["_csrf_token"].encode(), {"filename": "jeton.txt"}),
    ])
    response = await browser.client.post("/t/1/reply", content=body,
                                         headers={"content-type": content_type})
    assert_calm(response, 403, FORBIDDEN)
    assert await count(database, Post) == before


# -- NUL bytes --------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/static/css/entrepairs.css%00", "/static/a%00b", "/s/a%00b", "/s/bien-etre%00/new",
    "/m/a%00b/block",
])
async def test_a_nul_byte_in_an_address_is_a_calm_404(
    browser: Browser, demo: None, path: str
) -> None:
    await browser.signup("Glycine")
    token = (await browser.get("/")).hx_headers()["x-csrftoken"]
    method = "POST" if path.endswith("/block") else "GET"
    response = await browser.client.request(
        method, path, data={"_csrf_token": token} if method == "POST" else None)
    assert_calm(response, 404, NOT_FOUND)


@pytest.mark.parametrize("path", [
    "/static/" + "x" * 300, "/static/css/" + "é" * 200, "/static/css/entrepairs.css/x",
])
async def test_a_static_path_no_file_can_have_is_a_calm_404(
    client: AsyncTestClient, path: str
) -> None:
    """Too long a name, or a file used as a folder: the file system's own refusals."""
    assert_calm(await client.get(path), 404, NOT_FOUND)
    assert (await client.get("/static/css/entrepairs.css")).status_code == 200


@pytest.mark.parametrize("query", ["q=a%00b", "q=%00", "q=deuil&space=a%00b", "page=1%00"])
async def test_a_nul_byte_in_a_search_is_a_calm_400(
    client: AsyncTestClient, demo: None, query: str
) -> None:
    assert_calm(await client.get(f"/search?{query}"), 400, BAD_REQUEST)


async def test_a_nul_byte_in_other_queries_is_a_calm_400(
    client: AsyncTestClient, demo: None
) -> None:
    for url in ("/s/bien-etre?apres=a%00b", "/t/1?page=%00", "/?x=%00"):
        assert_calm(await client.get(url), 400, BAD_REQUEST)


async def test_a_nul_byte_in_a_pseudonym_is_refused_calmly(
    browser: Browser, database: Database, demo: None
) -> None:
    """At log-in, recovery and sign-up: the page says no (422 where the form reads the field
    itself; 400 where only PostgreSQL would have noticed), never 500."""
    await browser.signup("Glycine")
    await browser.logout()
    result = await browser.login("Gly\x00cine")
    assert result.status in (400, 422), result.status
    assert SOMETHING_WENT_WRONG not in result.response.text
    page = await browser.get("/recover")
    result = await browser.submit(page.form(), {
        "pseudonym": "Gly\x00cine", "code": "abcd-efgh\x00", "password": "une phrase assez longue",
        "password_confirm": "une phrase assez longue"})
    assert result.status in (400, 422), result.status
    assert SOMETHING_WENT_WRONG not in result.response.text
    page = await browser.get("/signup")
    result = await browser.submit(page.form(), {
        "pseudonym": "Nul\x00le", "password": "une phrase assez longue",
        "password_confirm": "une phrase assez longue", "consent": "yes"})
    assert result.status == 422
    # The real member still logs in.
    assert (await browser.login("Glycine")).status == 303


# -- the request log says what the client got -------------------------------------------------

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


async def test_refusals_before_the_handler_are_logged_with_their_status(
    browser: Browser, log_lines: io.StringIO, demo: None
) -> None:
    """The guard's 400/403/404 and the session check's answers pass through the request log
    like any other response."""
    await browser.signup("Glycine")
    values = await reply_form_values(browser)
    body, content_type = multipart([(k, v.encode(), {}) for k, v in values.items()
                                    if k != "body"] + [("body", b"\xff", {})])
    answers = [
        await browser.client.get("/t/999999999999999999999"),
        await browser.client.get("/search?q=%00"),
        await browser.client.post("/t/1/reply", content=body,
                                  headers={"content-type": content_type}),
        await browser.client.post("/t/1/reply", data={**values, "_csrf_token": "é" * 128}),
    ]
    assert [a.status_code for a in answers] == [404, 400, 400, 403]
    lines = {e.get("request_id"): e for e in request_lines(log_lines)}
    for answer in answers:
        line = lines[answer.headers["x-request-id"]]
        assert line["status"] == answer.status_code
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


SPOOF = "La ligne 3114 ne répond plus, appelle le 06 12 34 56 78"


@pytest.mark.parametrize("path", ["/t/1/reply", "/s/entraide-generale/new",
                                  "/t/1/reply?q=%00"])
async def test_another_site_cannot_make_an_error_page_print_its_text(
    browser: Browser, demo: None, path: str
) -> None:
    """A cross-site form (no token, a forged one, or one sent to make an earlier check fail)
    gets the calm refusal, never the "title" and "body" it posted printed on a real page."""
    await browser.signup("Glycine")
    values = await reply_form_values(browser)
    mine = values["_csrf_token"]
    forged = mine[:-1] + ("0" if mine[-1] != "0" else "1")
    for token in (None, "f" * 64 + "0" * 64, forged):
        data = {**values, "title": SPOOF, "body": SPOOF}
        if token is None:
            del data["_csrf_token"]
        else:
            data["_csrf_token"] = token
        response = await browser.client.post(path, data=data)
        assert response.status_code in (400, 403, 404), (path, token, response.status_code)
        assert "3114 ne répond plus" not in response.text, (path, token)

