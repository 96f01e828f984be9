"""Malformed requests are refused at the door, before anything reads them.

Some input no person's browser sends, but anyone can: a NUL byte in an address, a query or a
CSRF token; a number in an address past what the database can hold; a multipart field that
is not UTF-8. Left alone, each reaches code that fails on it (PostgreSQL refuses text with
NUL, SQLite and asyncpg refuse integers past 64 bits, Litestar's CSRF check compares tokens
with ``hmac.compare_digest``, which raises on non-ASCII text), and the person gets a 500.
``InputGuard`` runs once per request, after routing and before the CSRF check, the session
lookup and the handler, so every route, present and future, is covered by the same checks:

- a NUL byte in the path, or a number in the path outside 1 … 2**63 - 1: 404 (no such page);
- a NUL byte in the query string: 400;
- a form body that cannot be decoded (invalid UTF-8, an unknown charset): 400;
- a CSRF token (header, form field or cookie) that is not a short printable ASCII string: 403,
  as for any other token that does not match;
- on a page read (GET, HEAD), a CSRF cookie this forum did not sign (a token from before the
  secret key changed, a forged one): forgotten, so the page sets a fresh one. Litestar alone
  would keep it, and every form of that browser would fail until its cookies were cleared.

Each raises the usual Litestar exception, so the answer is the calm page of
``forum/web/errors.py`` (or its htmx fragment). NUL bytes in form fields are not refused here:
the text fields go through ``forms.clean_text``, whose field error keeps the form as typed;
what else reaches PostgreSQL with a NUL is answered 400 by ``errors.py``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_to_bytes

from litestar.enums import RequestEncodingType
from litestar.exceptions import (
    ClientException,
    NotFoundException,
    PermissionDeniedException,
)
from litestar.types import ASGIApp, Receive, Scope, Send

from forum.models import ID_MAX
from forum.web.auth import csrf_token_signed

CSRF_TOKEN_MAX = 256
"""Litestar's tokens are 128 hexadecimal characters; anything much longer is not one."""

FORM_TYPES = (RequestEncodingType.URL_ENCODED, RequestEncodingType.MULTI_PART)


def _is_token(value: Any) -> bool:
    return (isinstance(value, str) and len(value) <= CSRF_TOKEN_MAX and value.isascii()
            and value.isprintable())


def number_out_of_range(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and not 1 <= value <= ID_MAX


class InputGuard:
    """ASGI middleware: the checks above, in order, for every HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.check(scope, receive)
        await self.app(scope, receive, send)

    async def check(self, scope: Scope, receive: Receive) -> None:
        if "\x00" in scope["path"]:
            raise NotFoundException()
        if any(number_out_of_range(v) for v in (scope.get("path_params") or {}).values()):
            raise NotFoundException()
        query = scope.get("query_string") or b""
        if b"\x00" in unquote_to_bytes(query):
            raise ClientException()
        app = scope["litestar_app"]
        request = app.request_class(scope=scope, receive=receive)
        form: Any = None
        if request.content_type[0] in FORM_TYPES:
            # Whatever the method: Litestar's CSRF middleware reads a form body on a GET too.
            try:
                # Parsed once here; Litestar keeps it for the CSRF check and the handler.
                form = await request.form()
            except (UnicodeDecodeError, LookupError) as exc:
                raise ClientException() from exc
        csrf = app.csrf_config
        if csrf is None:
            return
        if scope["method"] in csrf.safe_methods:
            # Litestar would keep a cookie it cannot verify and put it in every form, so each
            # of them would fail: forgetting it here makes Litestar set a fresh one.
            cookie = request.cookies.get(csrf.cookie_name)
            if cookie is not None and not csrf_token_signed(cookie, csrf.secret):
                del request.cookies[csrf.cookie_name]
            return
        sources = [request.headers.get(csrf.header_name), request.cookies.get(csrf.cookie_name)]
        if form is not None:
            sources.extend(form.getall("_csrf_token", []))
        if any(value is not None and not _is_token(value) for value in sources):
            raise PermissionDeniedException("CSRF token verification failed")
