"""Random input to every route: nothing anyone sends makes the forum answer 5xx (issue 16).

The routes are read from the Litestar app itself, so a new route is fuzzed the day it is
added. For every route and method (OPTIONS and HEAD included), Hypothesis draws
``FORUM_FUZZ_EXAMPLES`` requests, sent as a visitor, as a logged-in member and as an admin
(whose pages read the most forms), with a valid CSRF token, without one, or with a forged one:
random path parameters (huge and negative numbers, text, NUL bytes, bytes that are not
UTF-8), query strings, form fields (the names the templates and handlers use, and random
ones) as URL-encoded or multipart bodies, or raw bytes under any content type. It runs on the
database the suite runs on (SQLite, or PostgreSQL with ``FORUM_TEST_DATABASE_URL``), behind
the page cache as in production.

Requests = examples x routes (about 150) x 3 identities. Hypothesis only generates: the
requests are sent in order on one forum whose state they change, so a failure is not shrunk
but named (method, address, headers, body).
"""

from __future__ import annotations

import inspect
import os
import re
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote, quote_from_bytes, urlencode

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from litestar import Litestar
from litestar.testing import AsyncTestClient

from forum import actions, pseudonyms, queries
from forum.config import ROOT
from forum.i18n import LANG_COOKIE
from forum.models import MemberStatus, Role
from forum.web.auth import csrf_cookie_name, session_cookie_name
from tests.browsing import Browser

FUZZ_EXAMPLES = int(os.environ.get("FORUM_FUZZ_EXAMPLES", "6"))
"""Requests per route and method, for each identity (raise it to fuzz longer)."""

MEMBER = "Funambule"


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    params: dict[str, type]


def app_routes(app: Litestar) -> list[Route]:
    """Every (method, path) the app answers, read from the app."""
    found = []
    for route in app.routes:
        params = {name: p.type for name, p in (getattr(route, "path_parameters", {}) or {}).items()}
        for handler in getattr(route, "route_handlers", []):
            for method in sorted(handler.http_methods):
                found.append(Route(method, route.path, params))
    return sorted(found, key=lambda r: (r.template, r.method))


READ_BY_HAND = ["page", "apres", "region", "sans-reponse", "saved", "next", "days", "post",
                "member", "q", "space", "_csrf_token"]
"""Names handlers read from the query or the form themselves: drawn more often."""


def field_names(app: Litestar) -> list[str]:
    """The names the forms use (from the templates) and the handlers' own parameters."""
    names = set()
    for path in (ROOT / "templates").rglob("*.html"):
        names.update(re.findall(r'name="([A-Za-z_][\w\-]*)"', path.read_text(encoding="utf-8")))
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            fn = getattr(handler.fn, "__wrapped__", handler.fn)
            names.update(inspect.signature(fn).parameters)
    names.update(READ_BY_HAND)
    names -= {"request", "db", "reader", "gate", "hasher", "settings", "viewport", "robots",
              "color-scheme", "htmx-config"}
    return sorted(names)


# -- strategies -------------------------------------------------------------------------------

COOKIE_NAMES = [LANG_COOKIE, "entrepairs", "csrftoken", "x"]

NASTY_TEXT = st.sampled_from([
    "", "\x00", "a\x00b", "é" * 70, "\u202eexe.txt", "../../etc/passwd", "%00", "%ff",
    "1" * 30, "-1", "0", "9223372036854775808", "1e309", "NaN", " ", "\ud7ff", "\ufffd",
    "<script>", "' OR 1=1 --", "x" * 3000, "bien-etre", "fr", "en", "hide", "restore",
    "approve", "remove", "suspend", "lock", "pin", "accept", "reject", "dismiss", "True",
    "²", "1²", "٣", "+1", "1_0", " 7", "9" * 25, "1700000000.0_" + "9" * 21, "end", "on",
])
TEXT = st.one_of(st.text(max_size=40), NASTY_TEXT)
BYTES = st.binary(max_size=60)
NUMBERS = st.one_of(st.integers(min_value=1, max_value=6), st.integers(-(2**70), 2**70),
                    st.sampled_from([2**63 - 1, 2**63, 2**64, -(2**63) - 1]))


def path_value(kind: type) -> st.SearchStrategy[str]:
    as_text = TEXT.map(lambda t: quote(t, safe=""))
    as_bytes = BYTES.map(lambda b: quote_from_bytes(b, safe=""))
    numbers = NUMBERS.map(str)
    if kind is int:
        return st.one_of(numbers, numbers, as_text, as_bytes)
    return st.one_of(as_text, as_bytes, numbers)


@st.composite
def requests(draw: Any, route: Route, names: list[str], token: str | None) -> dict[str, Any]:
    """One request for ``route``: the keyword arguments of ``client.request``."""
    values = {name: draw(path_value(kind)) for name, kind in route.params.items()}
    path = re.sub(r"\{(\w+):\w+\}", lambda m: values[m.group(1)], route.template)
    # Static files' path parameter takes the rest of the path (slashes included).
    path = path.replace("//", "/")
    name = st.one_of(st.sampled_from(names), st.sampled_from(READ_BY_HAND),
                     st.text(max_size=12))
    query = draw(st.lists(st.tuples(name, TEXT), max_size=4))
    url = path + ("?" + urlencode(query) if query else "")
    if draw(st.booleans()):
        url = path + "?" + quote_from_bytes(draw(BYTES), safe="=&")
    headers: dict[str, Any] = {}
    if draw(st.booleans()):
        headers["hx-request"] = "true"
        headers["hx-current-url"] = draw(TEXT).encode("utf-8", "surrogatepass")
    for header in ("accept-language", "user-agent", "x-forwarded-for"):
        if draw(st.integers(0, 3)) == 0:
            headers[header] = draw(TEXT).encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 7)) == 0:
        # Cookies of one's own making (instead of the browser's): language, session, CSRF.
        jar = draw(st.lists(st.tuples(st.sampled_from(COOKIE_NAMES), TEXT), max_size=3))
        headers["cookie"] = "; ".join(f"{k}={v}" for k, v in jar).encode("utf-8", "surrogatepass")
    csrf = draw(st.sampled_from(["valid", "none", "forged"]))
    form_token: str | None = None
    if csrf == "valid" and token:
        form_token = token
    elif csrf == "forged":
        forged = draw(st.one_of(TEXT, st.just("0" * 128)))
        if draw(st.booleans()):
            headers["x-csrftoken"] = forged.encode("utf-8", "surrogatepass")
        else:
            form_token = forged
    kwargs: dict[str, Any] = {"headers": headers}
    body = draw(st.sampled_from(["none", "form", "multipart", "raw"]))
    fields = draw(st.lists(st.tuples(name, TEXT), max_size=6))
    if form_token is not None:
        fields.append(("_csrf_token", form_token))
    if body == "form" or (body == "none" and form_token is not None):
        kwargs["content"] = urlencode(
            [(k.encode("utf-8", "surrogatepass"), v.encode("utf-8", "surrogatepass"))
             for k, v in fields]).encode()
        headers["content-type"] = "application/x-www-form-urlencoded"
    elif body == "multipart":
        parts = [(k, v.encode("utf-8", "surrogatepass")) for k, v in fields]
        parts += draw(st.lists(st.tuples(st.sampled_from(names), BYTES), max_size=3))
        boundary = "fuzz" + draw(st.text("abcdef0123456789", min_size=1, max_size=8))
        chunks = []
        for key, raw in parts:
            disposition = f'form-data; name="{quote(key)}"'
            if draw(st.integers(0, 5)) == 0:
                disposition += '; filename="f.txt"'
            chunks.append(f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n"
                          .encode() + raw + b"\r\n")
        ending = draw(st.one_of(st.just(f"--{boundary}--\r\n".encode()), BYTES))
        kwargs["content"] = b"".join(chunks) + ending
        headers["content-type"] = f"multipart/form-data; boundary={boundary}"
    elif body == "raw":
        kwargs["content"] = draw(BYTES)
        headers["content-type"] = draw(st.sampled_from([
            "application/x-www-form-urlencoded", "multipart/form-data",
            "multipart/form-data; boundary=", "application/json", "text/plain",
            "application/x-www-form-urlencoded; charset=latin-9", "nonsense",
        ]))
        if form_token is not None:
            headers["x-csrftoken"] = form_token.encode("utf-8", "surrogatepass")
    return {"method": route.method, "url": url, **kwargs}


# -- the identities ---------------------------------------------------------------------------

def cookie(client: AsyncTestClient, name: str) -> str | None:
    return next((c.value for c in client.cookies.jar if c.name == name), None)


def set_cookie(client: AsyncTestClient, name: str, value: str) -> None:
    for existing in [c for c in client.cookies.jar if c.name == name]:
        client.cookies.jar.clear(existing.domain, existing.path, existing.name)
    client.cookies.set(name, value, domain="testserver.local", path="/")


async def ensure_member(app: Litestar, client: AsyncTestClient) -> None:
    """Logged in as MEMBER, whatever the previous requests did (log-out, ended sessions, a
    throttled log-in): a fresh session straight from the actions, as log-in makes one."""
    async with app.state.database.writing() as session:
        member = await queries.find_member_by_key(session, pseudonyms.uniqueness_key(MEMBER))
        assert member is not None
        member.status = MemberStatus.ACTIVE  # a fuzzed admin action may have suspended it
        token = await actions.do_start_session(session, member, lifetime=timedelta(days=1))
    set_cookie(client, session_cookie_name(app.state.settings), token)


def describe(request: dict[str, Any]) -> str:
    content = request.get("content")
    text = f"{request['method']} {request['url']!r} headers={request['headers']!r}"
    return text + (f" body={content[:300]!r}" if content else "")


def draw_requests(route: Route, names: list[str], token: str, count: int) -> list[dict]:
    """``count`` requests for ``route``, as Hypothesis generates them (edge cases first)."""
    drawn: list[dict] = []

    @settings(max_examples=count, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(requests(route, names, token))
    def collect(request: dict[str, Any]) -> None:
        drawn.append(request)

    collect()
    return drawn


@dataclass
class Outcome:
    failures: list[str]
    statuses: Counter[tuple[str, int]]
    """(method, status) -> how many."""

    def check(self) -> None:
        assert not self.failures, (f"{len(self.failures)} requests answered 5xx:\n"
                                   + "\n".join(self.failures))
        # The fuzzing reached the handlers: writes got past the CSRF check and were read.
        past_csrf = sum(n for (method, status), n in self.statuses.items()
                        if method == "POST" and status not in (403, 404, 405))
        assert past_csrf >= 10, self.statuses


async def fuzz(app: Litestar, client: AsyncTestClient, *, member: bool,
               role: Role = Role.MEMBER) -> Outcome:
    """Send FUZZ_EXAMPLES random requests to every route; what they were answered."""
    config = app.state.settings
    routes = app_routes(app)
    assert len(routes) >= 100 and any(r.template == "/t/{thread_id:int}" for r in routes)
    names = field_names(app)
    if member:
        await Browser(client).signup(MEMBER)
        if role != Role.MEMBER:
            async with app.state.database.writing() as session:
                someone = await queries.find_member_by_key(
                    session, pseudonyms.uniqueness_key(MEMBER))
                await actions.do_set_role(session, someone, role)
        await ensure_member(app, client)
    await client.get("/")  # the CSRF cookie
    token = cookie(client, csrf_cookie_name(config))
    assert token
    failures = []
    statuses: Counter[tuple[str, int]] = Counter()
    for route in routes:
        for request in draw_requests(route, names, token, FUZZ_EXAMPLES):
            try:
                response = await client.request(**request, follow_redirects=False)
            except Exception as exc:  # the app raised past its error pages
                failures.append(f"{describe(request)} raised {type(exc).__name__}: {exc}")
                continue
            statuses[route.method, response.status_code] += 1
            if response.status_code >= 500:
                failures.append(f"{describe(request)} answered {response.status_code}")
            if member and not cookie(client, session_cookie_name(config)):
                await ensure_member(app, client)  # logged out by this request: log back in
            if cookie(client, csrf_cookie_name(config)) != token:
                set_cookie(client, csrf_cookie_name(config), token)
    return Outcome(failures, statuses)


async def test_no_route_answers_5xx_to_a_visitor(
    app: Litestar, client: AsyncTestClient, demo: None
) -> None:
    (await fuzz(app, client, member=False)).check()


async def test_no_route_answers_5xx_to_a_member(
    app: Litestar, client: AsyncTestClient, demo: None
) -> None:
    (await fuzz(app, client, member=True)).check()


async def test_no_route_answers_5xx_to_an_admin(
    app: Litestar, client: AsyncTestClient, demo: None
) -> None:
    (await fuzz(app, client, member=True, role=Role.ADMIN)).check()
