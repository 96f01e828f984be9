"""In-app notifications: the list, mark as read, per-kind settings and blocked members,
and the unread count in the header.

``/notifications/unread`` is the header's fragment, refreshed by htmx every 60 s; opened
without htmx it leads to ``/notifications``. The count shown on full pages is read once per
member GET by ``UnreadCount`` (one statement), never for visitors.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context
from litestar import Request, Response, get, post
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from litestar.types import ASGIApp, Receive, Scope, Send
from markupsafe import Markup, escape
from sqlalchemy.ext.asyncio import AsyncSession

from forum import actions, i18n, notifications, permissions, queries
from forum.db import Database, commit
from forum.i18n import N_
from forum.models import Member
from forum.web.context import locale_of, viewer_of
from forum.web.deps import Db
from forum.web.forms import read_form
from forum.web.htmx import VARY, is_htmx, page, see_other

KIND_LABELS: dict[str, str] = {
    notifications.REPLY: N_("Les réponses dans les fils que tu suis"),
    notifications.MENTION: N_("Quand quelqu'un te mentionne avec @ton-pseudonyme"),
}

UNREAD_PATH = "/notifications/unread"


HeaderCounts = Callable[[AsyncSession, Member], Awaitable[dict[str, int]]]
"""More counts for the header, read in the same session (the app wires moderation's)."""


class UnreadCount(ASGIMiddleware):
    """Reads the member's unread count for full pages (after authentication), and whatever
    ``more`` counts (a moderator's open welfare items), into the request's state."""

    scopes = (ScopeType.HTTP,)
    exclude_path_pattern = ("^/static/", "^/healthz$", "^/robots.txt$", f"^{UNREAD_PATH}$",
                            "^/live$")

    def __init__(self, more: HeaderCounts | None = None) -> None:
        self.more = more

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        user = scope.get("user")
        headers = dict(scope.get("headers") or [])
        partial = headers.get(b"hx-request") == b"true" and headers.get(b"hx-boosted") != b"true"
        if isinstance(user, Member) and scope.get("method") == "GET" and not partial:
            database: Database = scope["app"].state.database
            async with database.reader() as session:
                counts = {"unread_count": await queries.unread_notification_count(session,
                                                                                  user.id)}
                if self.more is not None:
                    counts.update(await self.more(session, user))
            scope.setdefault("state", {}).update(counts)
        await next_app(scope, receive, send)


@pass_context
def unread_count(ctx: Context) -> int | None:
    """The count read by ``UnreadCount`` (None where it did not run)."""
    request = ctx.get("request")
    if request is None:
        return None
    return request.scope.get("state", {}).get("unread_count")


@get(UNREAD_PATH, name="unread_notifications")
async def unread(request: Request[Any, Any, Any], db: Db) -> Response[Any]:
    viewer = viewer_of(request)
    if not is_htmx(request):
        return Redirect(path="/notifications", status_code=303, headers=VARY)
    count = 0 if viewer is None else await queries.unread_notification_count(db, viewer.id)
    return Template(template_name="notifications/_unread.html", context={"count": count},
                    headers=VARY)


MAX_PAGE = 1000
"""A larger page number is read as this one: that page is empty anyway, and an offset past
64 bits would make the database raise instead of finding nothing."""


def _page_number(raw: str | None) -> int:
    try:
        return max(1, min(int(raw or 1), MAX_PAGE))
    except ValueError:
        return 1


@get("/notifications", name="notifications")
async def notifications_page(request: Request[Any, Any, Any], db: Db) -> Template:
    member = permissions.check_logged_in(viewer_of(request))
    number = _page_number(request.query_params.get("page"))
    items, has_next = await queries.list_notifications(db, member, number)
    return page("notifications", {"items": items, "page": number, "has_next": has_next,
                                  "unread": sum(1 for item in items if item.read_at is None)})


@post("/notifications/{notification_id:int}/read", name="mark_notification_read")
async def mark_read(request: Request[Any, Any, Any], db: Db,
                    notification_id: FromPath[int]) -> Response[Any]:
    member = permissions.check_logged_in(viewer_of(request))
    await actions.do_mark_read(db, member, notification_id)
    await commit(db)
    return see_other(request, f"/notifications#notification-{notification_id}")


@post("/notifications/read-all", name="mark_all_notifications_read")
async def mark_all_read(request: Request[Any, Any, Any], db: Db) -> Response[Any]:
    member = permissions.check_logged_in(viewer_of(request))
    await actions.do_mark_read(db, member)
    await commit(db)
    return see_other(request, "/notifications")


@get("/notifications/settings", name="notification_settings")
async def settings_page(request: Request[Any, Any, Any], db: Db,
                        saved: FromQuery[int] = 0) -> Template:
    member = permissions.check_logged_in(viewer_of(request))
    disabled = await queries.disabled_notification_kinds(db, member)
    return page("notifications/settings", {
        "kinds": [(kind, label, kind not in disabled) for kind, label in KIND_LABELS.items()],
        "blocked": await queries.blocked_members(db, member), "saved": bool(saved),
    })


@post("/notifications/settings", name="save_notification_settings")
async def save_settings(request: Request[Any, Any, Any], db: Db) -> Response[Any]:
    values = await read_form(request)
    member = permissions.check_logged_in(viewer_of(request))
    await actions.do_set_notification_kinds(
        db, member, {kind: values.get(kind) == "on" for kind in notifications.OPTIONAL_KINDS}
    )
    await commit(db)
    return see_other(request, "/notifications/settings?saved=1")


TRANSLATED_PARAMS = frozenset({"outcome"})
"""Notice parameters that are themselves messages (a flag's outcome, ``moderation.actions.
OUTCOMES``): stored in French like the notice, translated when shown, so an English reader
never reads "Outcome: rien à retirer"."""


DAY_PARAMS = frozenset({"until"})
"""Notice parameters stored as an ISO day (``2026-12-08``): written in words when shown."""

PEOPLES_WORDS_PARAMS = frozenset({"author", "title", "pseudonym", "space", "reason", "note",
                                  "text"})
"""Notice parameters that people wrote (a title, a pseudonym, a moderator's reason): isolated
in ``<bdi dir="auto">`` so that a right-to-left or other-language title keeps its direction
and is not read as part of the sentence's language."""


def params_in(locale: str, params: dict[str, Any]) -> dict[str, Any]:
    """A notice's parameters as ``locale`` says them, ready for a ``Markup`` sentence: people's
    words are escaped inside ``<bdi>``, messages translated, days written in words."""
    shown: dict[str, Any] = {}
    for key, value in params.items():
        if key in TRANSLATED_PARAMS:
            value = i18n.gettext(locale, value)
        elif key in DAY_PARAMS:
            value = _day_in(locale, value)
        elif key in PEOPLES_WORDS_PARAMS:
            value = Markup('<bdi dir="auto">%s</bdi>') % value
        shown[key] = value
    return shown


def _day_in(locale: str, value: Any) -> Any:
    try:
        return i18n.format_day(date.fromisoformat(str(value)[:10]), locale)
    except ValueError:
        return value


def notice_text(locale: str, message: str, params: dict[str, Any]) -> Markup:
    """A notice as a sentence in ``locale``, people's words escaped; its message id alone if
    the parameters do not fit it (a notice stored by an older version)."""
    sentence = escape(i18n.gettext(locale, message))  # plain text: no tag in any notice
    try:
        return sentence % params_in(locale, params) if params else sentence
    except (KeyError, TypeError, ValueError):
        return escape(message)


@pass_context
def notice(ctx: Context, message: str, params: dict[str, Any]) -> Markup:
    """A notice as the reader's language says it (``notice_text``)."""
    return notice_text(locale_of(ctx.get("request")), message, params)


ROUTES = [unread, notifications_page, mark_read, mark_all_read, settings_page, save_settings]
TEMPLATE_GLOBALS: dict[str, Any] = {"unread_count": unread_count, "notice": notice}
