"""One helper chooses page or partial, and one answers a successful form.

A page template ``<area>/<feature>/index.html`` includes its ``partial.html``; an htmx request
(not boosted, not a history restore) gets the partial alone. Both carry ``Vary: HX-Request``.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.response import Redirect, Template

VARY = {"Vary": "HX-Request"}


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    return (
        request.headers.get("hx-request") == "true"
        and request.headers.get("hx-boosted") != "true"
        and request.headers.get("hx-history-restore-request") != "true"
    )


def page_or_partial(
    request: Request[Any, Any, Any], feature: str, context: dict[str, Any], *,
    status_code: int = 200, headers: dict[str, str] | None = None,
) -> Template:
    name = "partial.html" if is_htmx(request) else "index.html"
    return Template(
        template_name=f"{feature}/{name}", context=context, status_code=status_code,
        headers={**VARY, **(headers or {})},
    )


def page(
    feature: str, context: dict[str, Any], *, status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Template:
    return Template(
        template_name=f"{feature}/index.html", context=context, status_code=status_code,
        headers=headers,
    )


def see_other(request: Request[Any, Any, Any], url: str) -> Response[Any]:
    """After a successful POST: 303 for a plain form, HX-Redirect for htmx."""
    if is_htmx(request):
        return Response(content=b"", status_code=200, headers={"HX-Redirect": url, **VARY})
    return Redirect(path=url, status_code=303, headers=VARY)
