"""Pages anyone can read without an account: help, the charter, the privacy page; and the
quick exit's way out (``/sortie``)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.response import Redirect, Template

from forum.resources import REGIONS, lines_for, region_name
from forum.sessions import MAX_SESSIONS_PER_MEMBER
from forum.throttle import KNOWN_DEVICE_DAYS
from forum.web.context import locale_of, region_of
from forum.web.deps import AppSettings

QUICK_EXIT_PATH = "/sortie"
"""Where static/js/quick-exit.js points the history entries it adds (the same path there)."""


@get("/help", name="help")
async def help_page(request: Request[Any, Any, Any]) -> Template:
    """Crisis and support lines for the reader's region; works without JavaScript."""
    region = region_of(request)
    locale = locale_of(request)
    return Template(
        template_name="help/index.html",
        context={
            "region": region, "lines": lines_for(region, include_topic_lines=True),
            "regions": [(code, region_name(code, locale)) for code in REGIONS],
            "region_label": region_name(region, locale),
        },
    )


@get("/charter", name="charter")
async def charter_page() -> Template:
    return Template(template_name="charter/index.html", context={})


@get("/privacy", name="privacy")
async def privacy_page() -> Template:
    return Template(template_name="privacy/index.html",
                    context={"max_sessions": MAX_SESSIONS_PER_MEMBER,
                             "known_device_days": KNOWN_DEVICE_DAYS})


@get(QUICK_EXIT_PATH, name="quick_exit")
async def quick_exit(settings: AppSettings) -> Redirect:
    """Straight on to the neutral site (``FORUM_QUICK_EXIT_URL``).

    After "Quitter rapidement", static/js/quick-exit.js leaves a few history entries with this
    address where the forum's pages were: Back lands on one, the browser asks for it again
    and is sent on to the neutral site, never shown a forum page. Nothing is read or
    written: the path is in ``forum.app.NOT_AUTHENTICATED_PATHS``, so no session is looked up
    (this answers even when sessions cannot be checked, and a member's session is not touched)
    and no CSRF cookie is set; nothing is cached, no referrer is sent."""
    return Redirect(path=settings.quick_exit_url, status_code=303,
                    headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


ROUTES = [help_page, charter_page, privacy_page, quick_exit]
