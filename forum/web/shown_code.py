"""A new recovery code, shown after a redirect until the member says they noted it.

Sign-up, recovery and "a new code" (``/me/recovery-code``) make a recovery code that the forum
keeps only as a hash. Shown in the answer to the form, it was lost on a reload (the browser
sent the form again, and an error showed instead). Now those forms answer 303 to
``/recovery-code``, and the code travels in a short-lived cookie, sealed to the session that
was just opened:

- the key is derived from the server's secret and the session token (only the member's
  browser holds the token; the database holds its hash), with a random nonce per code; the
  cookie holds the code XOR an HMAC-SHA512 keystream, and an HMAC tag;
- ``GET /recovery-code`` shows the code as long as the cookie is there and the session is the
  one it was sealed to (a reload shows it again); ``POST /recovery-code`` ("Je l'ai noté")
  removes the cookie and goes on; so does logging out; the cookie expires after an hour.

Nothing is stored on the server for it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.response import Template

from forum.config import Settings
from forum.web.context import session_token_of, viewer_of
from forum.web.deps import AppSettings
from forum.web.htmx import see_other

KINDS = {"signup": "/", "recovered": "/", "renewed": "/me"}
"""Why the code was made, and where "Je l'ai noté" goes next."""

MAX_AGE_SECONDS = 3600
_NONCE_BYTES = 16
_TAG_BYTES = 16


def cookie_name(settings: Settings) -> str:
    return "__Host-entrepairs-code" if settings.https else "entrepairs-code"


def _key(secret: str, token: str) -> bytes:
    return hmac.new(secret.encode(), b"recovery-code\x00" + token.encode(), hashlib.sha256).digest()


def seal(secret: str, token: str, kind: str, code: str) -> str:
    """The cookie value carrying ``code`` for the session ``token``."""
    plain = f"{kind}:{code}".encode()
    key = _key(secret, token)
    nonce = secrets.token_bytes(_NONCE_BYTES)
    stream = hmac.new(key, nonce, hashlib.sha512).digest()
    if len(plain) > len(stream):
        raise ValueError("recovery code too long to seal")
    sealed = nonce + bytes(a ^ b for a, b in zip(plain, stream, strict=False))
    tag = hmac.new(key, b"tag\x00" + sealed, hashlib.sha256).digest()[:_TAG_BYTES]
    return base64.urlsafe_b64encode(sealed + tag).decode().rstrip("=")


def unseal(secret: str, token: str, value: str) -> tuple[str, str] | None:
    """``(kind, code)`` from a cookie value sealed for ``token``; None for anything else."""
    if not token or not value or len(value) > 256:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except ValueError:
        return None
    if len(raw) <= _NONCE_BYTES + _TAG_BYTES:
        return None
    sealed, tag = raw[:-_TAG_BYTES], raw[-_TAG_BYTES:]
    key = _key(secret, token)
    expected = hmac.new(key, b"tag\x00" + sealed, hashlib.sha256).digest()[:_TAG_BYTES]
    if not hmac.compare_digest(tag, expected):
        return None
    stream = hmac.new(key, sealed[:_NONCE_BYTES], hashlib.sha512).digest()
    plain = bytes(a ^ b for a, b in zip(sealed[_NONCE_BYTES:], stream, strict=False))
    kind, _, code = plain.decode("utf-8", "replace").partition(":")
    return (kind, code) if kind in KINDS and code else None


def code_cookie(settings: Settings, value: str) -> Cookie:
    return Cookie(key=cookie_name(settings), value=value, path="/", httponly=True,
                  secure=settings.https, samesite="strict", max_age=MAX_AGE_SECONDS)


def expired_code_cookie(settings: Settings) -> Cookie:
    return Cookie(key=cookie_name(settings), value="", path="/", httponly=True,
                  secure=settings.https, samesite="strict", max_age=0)


def show_next(request: Request[Any, Any, Any], settings: Settings, token: str, kind: str,
              code: str) -> Response[Any]:
    """The answer to a form that made ``code``: 303 to the page that shows it."""
    response = see_other(request, "/recovery-code")
    response.set_cookie(code_cookie(settings, seal(settings.require_secret(), token, kind, code)))
    response.headers["Cache-Control"] = "no-store"
    return response


@get("/recovery-code", name="recovery_code_shown")
async def recovery_code_shown(request: Request[Any, Any, Any], settings: AppSettings) -> Template:
    found = unseal(settings.require_secret(), session_token_of(request),
                   request.cookies.get(cookie_name(settings), ""))
    member = viewer_of(request)
    context: dict[str, Any] = {"code": None, "kind": None,
                               "pseudonym": member.pseudonym if member else ""}
    if found is not None and member is not None:
        context["kind"], context["code"] = found
    return Template(template_name="accounts/recovery_code/index.html", context=context,
                    headers={"Cache-Control": "no-store"})


@post("/recovery-code", name="recovery_code_noted")
async def recovery_code_noted(request: Request[Any, Any, Any],
                              settings: AppSettings) -> Response[Any]:
    found = unseal(settings.require_secret(), session_token_of(request),
                   request.cookies.get(cookie_name(settings), ""))
    response = see_other(request, KINDS[found[0]] if found else "/")
    response.set_cookie(expired_code_cookie(settings))
    return response


ROUTES = [recovery_code_shown, recovery_code_noted]
