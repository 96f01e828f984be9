"""gzip on the wire (forum/compression.py), through the app as ``forum run`` serves it
(``forum.app.as_served``: HEAD, compression, page caches, the Litestar app), and through
small ASGI apps for what the forum's own routes never answer."""

from __future__ import annotations

import gzip
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from forum.app import as_served
from forum.cache import PageCache
from forum.compression import MIN_BYTES, GzipAnswers, accepts_gzip
from forum.config import Settings
from forum.head import AnswerHead
from tests.browsing import Browser

BASE = "http://testserver.local"
TOKEN = re.compile(rb'"x-csrftoken": "([0-9a-f]{128})"')
SAME_ORIGIN = {"sec-fetch-site": "same-origin"}
CROSS_SITE = {"sec-fetch-site": "cross-site"}


@pytest.fixture
def served(app: Any, settings: Settings) -> Any:
    """The Litestar app of tests/conftest.py, wrapped exactly as ``forum run`` wraps it."""
    assert isinstance(app, AnswerHead) and isinstance(app.app, PageCache)
    litestar_app = app.app.app
    assert isinstance(litestar_app, Litestar)
    stack = as_served(litestar_app, settings)
    assert isinstance(stack, AnswerHead) and isinstance(stack.app, GzipAnswers)
    assert isinstance(stack.app.app, PageCache) and stack.app.app.app is litestar_app
    return stack


@pytest.fixture
async def client(served: Any) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app=served, base_url=BASE) as test_client:
        yield test_client


async def raw_get(client: httpx.AsyncClient, path: str, *, method: str = "GET",
                  **headers: str) -> tuple[httpx.Response, bytes]:
    """The response and its body as it came on the wire (httpx would decode gzip)."""
    async with client.stream(method, path, headers=headers) as response:
        raw = b"".join([part async for part in response.aiter_raw()])
    return response, raw


def vary(response: httpx.Response) -> set[str]:
    return {part.strip().lower() for value in response.headers.get_list("vary")
            for part in value.split(",")}


@pytest.mark.parametrize(("header", "expected"), [
    ("gzip", True), ("gzip, deflate, br", True), ("br;q=1.0, gzip;q=0.8", True),
    ("GZIP", True), ("x-gzip", True), ("*", True), ("deflate, *;q=0.1", True),
    ("gzip;q=0", False), ("gzip; q=0.000", False), ("gzip;q=0, *", False),
    ("*;q=0", False), ("identity", False), ("deflate, br", False), ("", False),
    ("gzip;q=abc", False), ("gzip;q=2", False), ("gzip;q=0, gzip;q=1", True),
])
def test_accept_encoding_is_read_with_its_q_values(header: str, expected: bool) -> None:
    assert accepts_gzip(header) is expected


async def test_a_visitor_page_is_gzipped_and_opens_to_the_plain_page(
    client: AsyncTestClient, demo: None
) -> None:
    # A first visit: no cookie yet, so compressed whatever the site (its token is new).
    first, raw = await raw_get(client, "/t/1", **CROSS_SITE, **{"accept-encoding": "gzip"})
    assert first.status_code == 200
    assert first.headers["content-encoding"] == "gzip"
    assert int(first.headers["content-length"]) == len(raw)
    assert "accept-encoding" in vary(first)
    # Same visitor (same CSRF cookie, so the same token), compressed and plain.
    zipped, raw = await raw_get(client, "/t/1", **SAME_ORIGIN, **{"accept-encoding": "gzip"})
    plain, plain_raw = await raw_get(client, "/t/1", **SAME_ORIGIN,
                                     **{"accept-encoding": "identity"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert "accept-encoding" in vary(plain)
    assert int(plain.headers["content-length"]) == len(plain_raw)
    assert gzip.decompress(raw) == plain_raw
    assert len(raw) < len(plain_raw) / 2
    assert plain_raw.startswith(b"<!doctype html>")


async def test_without_accept_encoding_or_with_gzip_refused_the_page_is_plain(
    client: AsyncTestClient, demo: None
) -> None:
    del client.headers["accept-encoding"]
    for headers in ({}, {"accept-encoding": "gzip;q=0"}, {"accept-encoding": "gzip;q=0, *"},
                    {"accept-encoding": "br, deflate"}, {"accept-encoding": "identity"}):
        response, raw = await raw_get(client, "/", **headers)
        assert response.status_code == 200
        assert "content-encoding" not in response.headers, headers
        assert raw.startswith(b"<!doctype html>")
        assert int(response.headers["content-length"]) == len(raw)


async def test_a_cache_hit_is_compressed_with_the_visitors_own_token_inside(
    served: Any, demo: None
) -> None:
    cache: PageCache = served.app.app
    tokens = []
    for _ in range(2):
        async with AsyncTestClient(app=served, base_url=BASE) as visitor:
            await visitor.get("/t/1")  # the CSRF cookie is set here
            response, raw = await raw_get(visitor, "/t/1", **SAME_ORIGIN)
            assert response.headers["content-encoding"] == "gzip"
            page = gzip.decompress(raw)
            found = TOKEN.search(page)
            assert found is not None
            assert found.group(1).decode() == visitor.cookies["csrftoken"]
            assert cache.placeholder.encode() not in page
            tokens.append(found.group(1))
    assert cache.misses == 1 and cache.hits == 3
    assert tokens[0] != tokens[1]


async def test_a_cache_hit_is_compressed_once_and_opens_to_the_plain_hit(
    served: Any, demo: None
) -> None:
    # A hit used to be compressed again on every request (the page differs per visitor by
    # its token): it now comes from the page compressed once, the token put in as stored
    # deflate blocks. Same page, byte for byte; a new visitor gets a new token and cookie.
    cache: PageCache = served.app.app
    async with AsyncTestClient(app=served, base_url=BASE) as visitor:
        await visitor.get("/t/1")
        plain, plain_raw = await raw_get(visitor, "/t/1")
        zipped, zipped_raw = await raw_get(visitor, "/t/1", **SAME_ORIGIN)
        again, again_raw = await raw_get(visitor, "/t/1", **SAME_ORIGIN)
    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == again.headers["content-encoding"] == "gzip"
    assert gzip.decompress(zipped_raw) == plain_raw == gzip.decompress(again_raw)
    assert int(zipped.headers["content-length"]) == len(zipped_raw)
    assert "accept-encoding" in vary(zipped)
    assert len(cache.gzip_templates._items) == 1  # built once, used twice
    async with AsyncTestClient(app=served, base_url=BASE) as newcomer:
        first, raw = await raw_get(newcomer, "/t/1", **SAME_ORIGIN)
        assert first.headers["content-encoding"] == "gzip"
        token = newcomer.cookies["csrftoken"]
        page = gzip.decompress(raw)
        assert token.encode() in page and cache.placeholder.encode() not in page
    assert len(cache.gzip_templates._items) == 1


def test_a_gzip_template_gives_the_bytes_of_any_filler() -> None:
    from forum.compression import GzipTemplate

    hole = b"PLACEHOLDER-" * 6
    body = b"".join([b"<p>d\xc3\xa9but</p>", hole, b"milieu " * 3000, hole, b"fin", hole])
    template = GzipTemplate.build(body, hole)
    for filler in (b"", b"a", b"0123456789abcdef" * 4, bytes(range(256)) * 300):
        assert gzip.decompress(template.render(body, filler)) == body.replace(hole, filler)
    alone = GzipTemplate.build(b"rien a remplacer", hole)
    assert gzip.decompress(alone.render(b"rien a remplacer", b"x")) == b"rien a remplacer"


async def test_a_member_page_is_compressed_only_for_the_forums_own_pages(
    client: AsyncTestClient, demo: None
) -> None:
    member = Browser(client)
    await member.signup("Glycine")
    for path in ("/t/1", "/search?q=douche", "/notifications"):
        own, raw = await raw_get(client, path, **SAME_ORIGIN)
        assert own.status_code == 200, path
        assert own.headers["content-encoding"] == "gzip", path
        assert b"Glycine" in gzip.decompress(raw)
        typed, _ = await raw_get(client, path, **{"sec-fetch-site": "none"})
        assert typed.headers["content-encoding"] == "gzip", path
        # What a BREACH attacker needs: requests sent by another site, with the cookies.
        for site in ({"sec-fetch-site": "cross-site"}, {"sec-fetch-site": "same-site"}, {}):
            other, raw = await raw_get(client, path, **site)
            assert "content-encoding" not in other.headers, (path, site)
            assert b"Glycine" in raw
            assert "accept-encoding" in vary(other)


async def test_a_visitor_with_a_csrf_cookie_gets_no_compression_from_another_site(
    client: AsyncTestClient, demo: None
) -> None:
    await client.get("/search?q=douche")
    assert "csrftoken" in client.cookies
    other, raw = await raw_get(client, "/search?q=douche", **CROSS_SITE)
    assert "content-encoding" not in other.headers
    assert client.cookies["csrftoken"].encode() in raw
    client.cookies.clear()
    fresh, _ = await raw_get(client, "/search?q=douche", **CROSS_SITE)
    assert fresh.headers["content-encoding"] == "gzip"


async def test_head_has_the_headers_of_the_compressed_get_and_no_body(
    client: AsyncTestClient, demo: None
) -> None:
    for path in ("/", "/t/1", "/static/css/entrepairs.css"):
        got, raw = await raw_get(client, path, **SAME_ORIGIN)
        head, head_raw = await raw_get(client, path, method="HEAD", **SAME_ORIGIN)
        assert head.status_code == 200 and head_raw == b""
        assert head.headers["content-encoding"] == got.headers["content-encoding"] == "gzip"
        if path.startswith("/static/"):  # a page's length differs by its fresh token
            assert head.headers["content-length"] == got.headers["content-length"]


async def test_small_answers_are_left_as_they_are(client: AsyncTestClient, demo: None) -> None:
    for path in ("/healthz", "/robots.txt", "/static/favicon.svg"):
        response, raw = await raw_get(client, path, **SAME_ORIGIN)
        assert response.status_code == 200
        assert len(raw) < MIN_BYTES
        assert "content-encoding" not in response.headers, path
        assert int(response.headers["content-length"]) == len(raw)


async def test_static_css_and_javascript_are_compressed_for_anyone(
    client: AsyncTestClient, demo: None
) -> None:
    page = await client.get("/")
    hrefs = re.findall(r'(?:href|src)="(/static/[^"]+\.(?:css|js))"', page.text)
    assert len(hrefs) == 4
    member = Browser(client)
    await member.signup("Glycine")
    for path in [*hrefs, "/static/css/entrepairs.css"]:
        plain, plain_raw = await raw_get(client, path, **{"accept-encoding": "identity"})
        # Public answers hold nothing personal: even another site's request is compressed.
        zipped, raw = await raw_get(client, path, **CROSS_SITE)
        assert zipped.headers["content-encoding"] == "gzip", path
        assert gzip.decompress(raw) == plain_raw
        assert int(zipped.headers["content-length"]) == len(raw)
        assert "public" in zipped.headers["cache-control"]
        # Not the plain file's validator: the bytes are not the same.
        assert zipped.headers["etag"] == "W/" + plain.headers["etag"]
        assert "accept-ranges" not in zipped.headers


async def test_an_htmx_answer_keeps_its_own_vary(client: AsyncTestClient, demo: None) -> None:
    for headers in ({"hx-request": "true"}, {}):
        response, _ = await raw_get(client, "/s/anxiete", **SAME_ORIGIN, **headers)
        assert vary(response) == {"hx-request", "accept-encoding"}


# --- what the forum's own routes never answer: small ASGI apps --------------------------------

def asgi_app(status: int, headers: list[tuple[bytes, bytes]], parts: list[bytes]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        for index, part in enumerate(parts):
            await send({"type": "http.response.body", "body": part,
                        "more_body": index < len(parts) - 1})
    return app


HTML = [(b"content-type", b"text/html; charset=utf-8")]
BIG = b"<p>Bonjour, bienvenue parmi nous.</p>\n" * 200


async def fetch(app: Any, **headers: str) -> tuple[httpx.Response, bytes]:
    transport = httpx.ASGITransport(app=GzipAnswers(app, secret_cookies=("entrepairs",)))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        return await raw_get(client, "/", **{"accept-encoding": "gzip", **headers})


async def test_an_answer_already_encoded_is_never_encoded_again() -> None:
    body = gzip.compress(BIG)
    response, raw = await fetch(asgi_app(200, [*HTML, (b"content-encoding", b"gzip")], [body]))
    assert raw == body
    assert response.headers.get_list("content-encoding") == ["gzip"]


async def test_answers_without_a_body_or_with_a_range_pass_untouched() -> None:
    for status in (204, 206, 304):
        response, raw = await fetch(asgi_app(status, HTML, [b"" if status != 206 else BIG]))
        assert response.status_code == status
        assert "content-encoding" not in response.headers


async def test_a_streamed_answer_is_compressed_whole_or_passed_on_past_the_limit() -> None:
    parts = [BIG[:3000], BIG[3000:5000], BIG[5000:]]
    response, raw = await fetch(asgi_app(200, HTML, parts))
    assert response.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw) == BIG
    long_parts = [BIG] * 200  # 1.5 MB, above MAX_HELD_BYTES: sent on as it came
    response, raw = await fetch(asgi_app(200, HTML, long_parts))
    assert "content-encoding" not in response.headers
    assert raw == BIG * 200


async def test_other_types_and_a_secret_cookie_from_another_site_stay_plain() -> None:
    image = asgi_app(200, [(b"content-type", b"image/png")], [BIG])
    response, _ = await fetch(image)
    assert "content-encoding" not in response.headers and "vary" not in response.headers
    page = asgi_app(200, HTML, [BIG])
    response, _ = await fetch(page, cookie="entrepairs=abc", **CROSS_SITE)
    assert "content-encoding" not in response.headers
    response, _ = await fetch(page, cookie="entrepairs=abc", **SAME_ORIGIN)
    assert response.headers["content-encoding"] == "gzip"
    response, _ = await fetch(page, cookie="other=abc", **CROSS_SITE)
    assert response.headers["content-encoding"] == "gzip"
