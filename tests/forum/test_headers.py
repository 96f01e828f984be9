"""HDR-01 to HDR-15 (shared/reference/security.md §2.3), plus SESS-04: CSRF on every unsafe
route enumerated from the app, security headers on every page, cookies over https, no
OpenAPI, no TRACE, no CORS, generic error pages."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from http.cookies import SimpleCookie
from urllib.parse import urljoin, urlsplit

import pytest
from litestar import Litestar, get
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from forum.app import NOT_AUTHENTICATED_PATHS, create_app
from forum.config import Settings
from forum.db import Base, Database
from forum.passwords import Hasher
from tests.browsing import Browser
from tests.conftest import reset_schema

SAFE = {"GET", "HEAD", "OPTIONS"}
SAMPLE_PARAMS = {int: "1", str: "anxiete"}


def concrete_path(route: HTTPRoute) -> str:
    path = route.path_format
    for name, definition in route.path_parameters.items():
        path = path.replace("{" + name + "}", SAMPLE_PARAMS.get(definition.type, "x"))
    return path


def unsafe_routes(app: Litestar) -> list[tuple[str, str]]:
    found = []
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for method in sorted(route.methods - SAFE):
                found.append((method, concrete_path(route)))
    return found


def page_routes(app: Litestar) -> list[str]:
    return [concrete_path(route) for route in app.routes
            if isinstance(route, HTTPRoute) and "GET" in route.methods
            and not route.path.startswith("/static")]


async def fingerprint(database: Database) -> str:
    digest = hashlib.sha256()
    async with database.reader() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                digest.update(repr((table.name, tuple(row))).encode())
    return digest.hexdigest()


@pytest.fixture
async def member(browser: Browser, demo: None) -> Browser:
    await browser.signup("Gardienne")
    return browser


async def test_every_unsafe_route_refuses_a_missing_foreign_or_malformed_csrf_token(
    app: Litestar, member: Browser, database: Database
) -> None:
    routes = unsafe_routes(app)
    assert ("POST", "/login") in routes and ("POST", "/me/delete") in routes
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as other:
        foreign = (await Browser(other).get("/login")).form().values()["_csrf_token"]
    await member.get("/")
    before = await fingerprint(database)
    for method, path in routes:
        for label, token in (("missing", None), ("foreign", foreign), ("malformed", "x" * 12)):
            data = {"body": "texte", "pseudonym": "Gardienne"}
            if token is not None:
                data["_csrf_token"] = token
            response = await member.client.request(method, path, data=data)
            assert response.status_code == 403, (method, path, label, response.status_code)
    assert await fingerprint(database) == before


async def test_reading_any_page_changes_nothing_in_the_database(
    app: Litestar, member: Browser, database: Database
) -> None:
    await member.get("/")
    before = await fingerprint(database)
    for path in page_routes(app):
        await member.client.get(path)
        await member.client.get(path, headers={"HX-Request": "true"})
    assert await fingerprint(database) == before


async def test_every_page_carries_the_security_headers(app: Litestar, member: Browser) -> None:
    for path in page_routes(app):
        response = await member.client.get(path)
        headers = response.headers
        csp = {part.split()[0]: part.split()[1:] for part in
               headers["content-security-policy"].split("; ")}
        assert csp["default-src"] == ["'self'"], path
        assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"], path
        assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"], path
        assert csp["frame-ancestors"] == ["'none'"] and csp["form-action"] == ["'self'"], path
        assert csp["img-src"] == ["'self'"] and csp["connect-src"] == ["'self'"], path
        assert headers["referrer-policy"] == "no-referrer", path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["cross-origin-opener-policy"] == "same-origin", path
        policy = headers["permissions-policy"]
        assert all(f"{f}=()" in policy for f in ("camera", "microphone", "geolocation")), path
        assert "strict-transport-security" not in headers, path
        if not any(re.match(pattern, path) for pattern in NOT_AUTHENTICATED_PATHS):
            # Machine routes (health, robots) know nothing of the session, so show nothing
            # private; every other answer to a member must not be cached anywhere.
            assert headers.get("cache-control") == "no-store", (path, response.status_code)
        if headers.get("content-type", "").startswith("text/html"):
            assert headers["content-type"] == "text/html; charset=utf-8", path


async def test_a_visitors_page_is_for_their_own_browser_only(
    app: Litestar, browser: Browser, demo: None
) -> None:
    # Issue 19: the page holds the visitor's CSRF token, often with the cookie that goes with
    # it; a shared cache in front must never hand them to another visitor.
    for path in page_routes(app):
        browser.client.cookies.clear()
        first = await browser.client.get(path)  # the cookie set here, the page from the app
        again = await browser.client.get(path)  # the cookie sent back (maybe the page cache)
        for response in (first, again):
            policy = response.headers.get("cache-control", "")
            assert "private" in policy or "no-store" in policy, (path, policy)
            assert "public" not in policy, path
    static = await browser.client.get("/static/js/forum.js")
    assert "public" in static.headers["cache-control"]


@pytest.fixture
async def https_app(settings: Settings) -> Litestar:
    await reset_schema(settings.database_url)
    return create_app(replace(settings, base_url="https://forum.example"),
                      hasher=Hasher(cheap=True))


@pytest.fixture
async def https_browser(https_app: Litestar) -> AsyncIterator[Browser]:
    async with AsyncTestClient(app=https_app, base_url="https://forum.example") as client:
        yield Browser(client)


def set_cookies(response) -> dict[str, SimpleCookie]:  # noqa: ANN001 - httpx.Response
    cookies = {}
    for raw in response.headers.get_list("set-cookie"):
        cookie = SimpleCookie()
        cookie.load(raw)
        for name, morsel in cookie.items():
            cookies[name] = morsel
    return cookies


async def test_over_https_cookies_are_secure_host_prefixed_and_hsts_is_sent(
    https_browser: Browser,
) -> None:
    page = await https_browser.get("/signup")
    hsts = page.response.headers["strict-transport-security"]
    assert "includeSubDomains" in hsts
    assert int(hsts.split("max-age=")[1].split(";")[0]) >= 31_536_000
    result = await https_browser.submit(page.form(), {
        "pseudonym": "Chiffree", "password": "une phrase assez longue",
        "password_confirm": "une phrase assez longue", "consent": "yes",
    })
    assert result.status == 303
    cookies = set_cookies(result.response)
    session = cookies["__Host-entrepairs"]
    assert session.value and session["secure"] and session["httponly"]
    assert session["samesite"].lower() == "lax" and session["path"] == "/"
    assert not session["domain"]
    code = cookies["__Host-entrepairs-code"]  # the recovery code until noted
    assert code.value and code["secure"] and code["httponly"] and code["path"] == "/"
    assert code["samesite"].lower() == "strict" and not code["domain"]
    assert 0 < int(code["max-age"]) <= 3600
    csrf = set_cookies(page.response)["__Host-csrftoken"]
    assert csrf["secure"] and csrf["path"] == "/" and not csrf["domain"]


async def test_pages_served_as_page_or_fragment_vary_on_hx_request(member: Browser) -> None:
    response = await member.client.get("/s/anxiete", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "HX-Request" in response.headers["vary"]


async def test_there_is_no_openapi_schema_or_docs_route(client: AsyncTestClient) -> None:
    for path in ("/schema", "/schema/openapi.json", "/schema/swagger", "/schema/redoc",
                 "/docs", "/openapi.json"):
        assert (await client.get(path)).status_code == 404, path


async def test_trace_and_undeclared_methods_answer_405(app: Litestar, member: Browser) -> None:
    for path in page_routes(app):
        response = await member.client.request("TRACE", path)
        assert response.status_code == 405, path
    assert (await member.client.delete("/login")).status_code == 405


async def test_no_cors_headers_for_a_foreign_origin(client: AsyncTestClient) -> None:
    preflight = await client.options("/login", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
    })
    simple = await client.get("/", headers={"Origin": "https://evil.example"})
    for response in (preflight, simple):
        assert not [h for h in response.headers if h.lower().startswith("access-control-")]


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example", "/\\evil.example", "https:evil.example",
    "/%2F%2Fevil.example", "javascript:alert(1)",
])
async def test_login_never_redirects_off_site(browser: Browser, target: str) -> None:
    await browser.signup("Voyageuse")
    await browser.logout()
    page = await browser.get("/login", params={"next": target})
    result = await browser.submit(page.form(), {"pseudonym": "Voyageuse",
                                                "password": "une phrase assez longue"})
    assert result.status == 303
    location = result.response.headers["location"]
    assert urlsplit(urljoin("http://testserver.local/login", location)).netloc == (
        "testserver.local"
    )


async def test_an_unexpected_error_is_a_generic_page_with_an_incident_code(
    app: Litestar, client: AsyncTestClient
) -> None:
    @get("/test-only-boom", name="test_only_boom")
    async def boom() -> str:
        raise RuntimeError("secret detail SELECT * FROM member")

    app.register(boom)
    response = await client.get("/test-only-boom")
    assert response.status_code == 500
    assert "secret detail" not in response.text and "Traceback" not in response.text
    assert "RuntimeError" not in response.text
    assert response.headers["x-request-id"]
