"""Machine-facing routes: health check and robots.txt."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.exceptions import HTTPException
from sqlalchemy import select

from forum.models import Space, Visibility
from forum.web.deps import Db


@get("/healthz", name="healthz", media_type="text/plain")
async def healthz(db: Db) -> str:
    """200 when the database answers; 503 otherwise (no detail either way)."""
    try:
        await db.execute(select(1))
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        raise HTTPException(status_code=503, headers={"Retry-After": "5"}) from exc
    return "ok"


@get("/robots.txt", name="robots", media_type="text/plain")
async def robots(request: Request[Any, Any, Any], db: Db) -> Response[str]:
    """Search engines may index only the public spaces an admin opted in, and their threads."""
    indexable = list(await db.scalars(
        select(Space.slug).where(Space.indexable.is_(True), Space.archived.is_(False),
                                 Space.visibility == Visibility.PUBLIC)
    ))
    lines = ["User-agent: *"]
    lines += [f"Allow: /s/{slug}" for slug in indexable]
    if indexable:
        lines.append("Allow: /t/")  # thread pages carry their own robots meta tag
    lines += ["Disallow: /", ""]
    return Response("\n".join(lines), media_type="text/plain")


ROUTES = [healthz, robots]
