"""SQL statements per request, measured in-process on the benchmark's own data.

The plain Litestar app (no page cache: a cached visitor page costs no statement at all) is
driven through Litestar's test client; a ``before_cursor_execute`` listener on the app's
engine counts what each request runs.
"""

from __future__ import annotations

import re
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import event

from bench.dataset import Dataset
from forum.app import create_app
from forum.config import Settings


async def count_queries(database_url: str, dataset: Dataset) -> dict[str, int]:
    settings = Settings(env="production", database_url=database_url, secret_key="b" * 48,
                        base_url="http://bench.local", rate_limits="off").validated()
    app = create_app(settings)
    seen: list[str] = []

    def count(*_args: Any) -> None:
        seen.append("q")

    for engine in app.state.database.engines:
        event.listen(engine.sync_engine, "before_cursor_execute", count)
    thread = f"/t/{dataset.thread_ids[0]}"
    member = {"entrepairs": dataset.session_token}
    results: dict[str, int] = {}
    async with AsyncTestClient(app=app, base_url="http://bench.local") as client:
        page = await client.get(thread, cookies=member)
        token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)
        requests: dict[str, tuple[str, str, dict[str, str], dict[str, str] | None]] = {
            "thread_visitor": ("GET", thread, {}, None),
            "thread_member": ("GET", thread, member, None),
            "space": ("GET", f"/s/{dataset.space_slugs[0]}", {}, None),
            "home": ("GET", "/", {}, None),
            "search": ("GET", "/search?q=sommeil", {}, None),
            "reply": ("POST", f"{thread}/reply", member, {
                "_csrf_token": token, "idempotency_key": "benchqueries01",
                "body": "Merci pour ton message, je me reconnais beaucoup.",
            }),
        }
        for name, (method, url, cookies, form) in requests.items():
            client.cookies.clear()
            if cookies:
                client.cookies.update(cookies)
            if form is not None:
                client.cookies.set("csrftoken", token)
            seen.clear()
            response = await client.request(method, url, data=form, follow_redirects=False)
            if response.status_code < 400:
                results[name] = len(seen)
    for engine in app.state.database.engines:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    await app.state.database.dispose()
    return results
