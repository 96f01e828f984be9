"""What every page knows about its request: the viewer, the language and the region.

Computed lazily and cached on the request, so error pages raised before routing (a 404 for an
unknown path, a CSRF 403) still render in the right language.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection

from forum.config import Settings
from forum.i18n import LANG_COOKIE, pick_locale
from forum.models import Member
from forum.resources import resolve_region


def settings_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Settings:
    return connection.app.state.settings


def viewer_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Member | None:
    """The logged-in member, or None; safe to call where the auth middleware did not run."""
    user = connection.scope.get("user")
    return user if isinstance(user, Member) else None


def session_token_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The session token the auth middleware accepted for this request ("" for a visitor)."""
    return str(connection.scope.get("state", {}).get("session_token") or "")


def locale_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    state = connection.scope.setdefault("state", {})
    if "locale" not in state:
        member = viewer_of(connection)
        state["locale"] = pick_locale(
            member_locale=member.locale if member else None,
            cookie=connection.cookies.get(LANG_COOKIE),
            accept_language=connection.headers.get("accept-language"),
            default=settings_of(connection).default_locale,
        )
    return state["locale"]


def region_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    state = connection.scope.setdefault("state", {})
    if "region" not in state:
        member = viewer_of(connection)
        state["region"] = resolve_region(
            query=connection.query_params.get("region"),
            member_region=member.region if member else None,
            accept_language=connection.headers.get("accept-language"),
            default=settings_of(connection).default_region,
        )
    return state["region"]
