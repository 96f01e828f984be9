"""Security headers on every response, errors and static files included."""

from __future__ import annotations

from typing import Any

from litestar.types import Message, Scope

from forum.config import Settings

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)

PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
)


def security_headers(settings: Settings) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
        (b"referrer-policy", b"no-referrer"),
        (b"x-content-type-options", b"nosniff"),
        (b"permissions-policy", PERMISSIONS_POLICY.encode()),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"x-frame-options", b"DENY"),
    ]
    if settings.https:
        headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
    return headers


def _cache_policy(headers: list[Any], *, member: bool) -> list[Any]:
    """A member's page is never stored anywhere (``no-store``). A visitor's page holds their
    own CSRF token (in its forms, and often in a ``Set-Cookie``): only their own browser may
    keep it, and it asks again before reusing it (``private, no-cache``), so a shared cache in
    front never hands one visitor's token or cookie to another. A handler's own policy (such
    as ``no-store``) is kept for visitors. Static files keep their year-long public policy."""
    if member:
        return [*((k, v) for k, v in headers if k.lower() != b"cache-control"),
                (b"cache-control", b"no-store")]
    if any(k.lower() == b"cache-control" for k, _ in headers):
        return headers
    return [*headers, (b"cache-control", b"private, no-cache")]


def make_before_send(settings: Settings) -> Any:
    """A Litestar ``before_send`` hook: it sees every response, errors and 404s included."""
    extra = security_headers(settings)
    names = {name for name, _ in extra}

    async def add_security_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers: list[Any] = [
            (k, v) for k, v in message.get("headers", []) if k.lower() not in names
        ]
        headers.extend(extra)
        if not scope["path"].startswith("/static/"):
            headers = _cache_policy(headers, member=scope.get("user") is not None)
        message["headers"] = headers

    return add_security_headers
