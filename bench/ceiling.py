"""The ceiling: the same server and worker count serving the exact bytes of a thread page.

``BENCH_CEILING_FILE`` names the file holding the bytes (the visitor thread page fetched from
the forum in the same run). Served by a bare Litestar handler: no middleware, no database, no
template, so the gap between this and a forum page is what the forum's own work costs.
"""

from __future__ import annotations

import os
from pathlib import Path

from litestar import Litestar, Response, get


def create_app() -> Litestar:
    body = Path(os.environ["BENCH_CEILING_FILE"]).read_bytes()

    @get("/t/{thread_id:int}", sync_to_thread=False)
    def page(thread_id: int) -> Response[bytes]:
        return Response(content=body, media_type="text/html; charset=utf-8")

    return Litestar(route_handlers=[page], openapi_config=None, logging_config=None)
