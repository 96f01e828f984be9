"""Pages anyone can read without an account: help, the charter, the privacy page."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.response import Template

from forum.resources import REGIONS, lines_for, region_name
from forum.sessions import MAX_SESSIONS_PER_MEMBER
from forum.throttle import KNOWN_DEVICE_DAYS
from forum.web.context import locale_of, region_of


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


ROUTES = [help_page, charter_page, privacy_page]
