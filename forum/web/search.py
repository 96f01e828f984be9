"""``GET /search?q=&space=&page=``: full-text search over what the reader may see."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from litestar import Request, get
from litestar.exceptions import TooManyRequestsException
from litestar.params import FromQuery
from litestar.response import Template

from forum import permissions, queries, search
from forum.throttle import SEARCH_CLIENT, Throttled, check_attempt, client_of, retry_after_header
from forum.web.context import viewer_of
from forum.web.deps import Db
from forum.web.htmx import page

SEARCH_SLOTS = 1
"""Searches running at once per worker; the others wait their turn. A search is CPU-bound
(a worker runs one thing at a time anyway) and a common word's index lists take megabytes:
`make bench` at 64 connections peaked at 170 MB per worker with no limit, 162–177 MB with
four slots, 153 MB with two, 146 MB with one, at the same 62–64 searches a second and a
lower p99 each time (2.4 s, 1.5 s, 1.3 s; docs/PERFORMANCE.md)."""


def _page_number(raw: str | None) -> int:
    try:
        return max(1, min(int(raw or 1), search.MAX_PAGE))
    except ValueError:
        return 1


@get("/search", name="search")
async def search_page(
    request: Request[Any, Any, Any], db: Db, q: FromQuery[str] = "",
    space: FromQuery[str] = "",
) -> Template:
    """``page`` is read by hand: a mistyped page number shows page 1, not an error."""
    viewer = viewer_of(request)
    query = " ".join(q.split())[: search.MAX_QUERY_LENGTH]
    number = _page_number(request.query_params.get("page"))
    if query:
        # Per client (a member: per member), in Redis or this process's memory, never in the
        # database: a loop of searches gets a calm 429 page with Retry-After instead of
        # holding the search slot.
        subject = f"member\x00{viewer.id}" if viewer is not None else client_of(request)
        try:
            await check_attempt(request, (SEARCH_CLIENT, subject))
        except Throttled as exc:
            raise TooManyRequestsException(headers=retry_after_header(exc)) from None
    # A waiting search has not touched the database yet: it holds no pooled connection.
    async with request.app.state.search_slots if query else nullcontext():
        spaces = [s for s in await queries.list_spaces(db)
                  if permissions.can_read_space_content(viewer, s)]
        chosen = next((s for s in spaces if s.slug == space), None)
        results = None
        if query:
            results = await search.search(
                db, viewer, query, space=chosen, page=number,
                budget_ms=request.app.state.settings.search_budget_ms)
        hidden = await queries.hidden_warning_themes(db, viewer) if results else frozenset()
    return page("search", {
        "query": query, "spaces": spaces, "chosen_space": chosen, "results": results,
        "has_terms": bool(search.query_terms(query)), "hidden_themes": hidden,
    })


ROUTES = [search_page]
