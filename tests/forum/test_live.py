"""Issue 18, live updates: ``/live`` streams on a real uvicorn server (the in-process test
client cannot read a response as it comes), fed by writes made through the real forms.

Each test serves the test's app on a free port; the writes go through the in-process client
on the same app, so the stream and the write share one worker's bus, as in one ``forum run``
process (across processes: ``tests/scaleout/test_two_processes.py``)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from forum import actions
from forum.models import Space, Visibility
from forum.web import live as live_web
from forum.web.auth import session_cookie_name
from tests.browsing import Browser
from tests.moderation.access_matrix import World, as_role, build_world
from tests.moderation.test_welfare_alerts import post_urgent_reply
from tests.serving import serving

DELIVERY_SECONDS = 2.0
"""The issue's bound: a count updates within 2 seconds of the event."""


class EventStream:
    """One page's ``/live`` stream, read event by event."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next_event(self, within: float = DELIVERY_SECONDS) -> tuple[str, dict[str, Any]]:
        """The next event other than "ready" (``("", {})`` when the stream ended)."""
        kind, data = "message", ""
        async with asyncio.timeout(within):
            async for line in self._lines:
                if line.startswith("event: "):
                    kind = line[len("event: "):]
                elif line.startswith("data: "):
                    data = line[len("data: "):]
                elif line == "" and (data or kind != "message"):
                    if kind != "ready":
                        return kind, json.loads(data) if data else {}
                    kind, data = "message", ""
        return "", {}

    async def nothing_within(self, seconds: float) -> bool:
        try:
            await self.next_event(within=seconds)
        except TimeoutError:
            return True
        return False


@asynccontextmanager
async def stream(port: int, path: str, token: str | None = None,
                 app: Litestar | None = None) -> AsyncIterator[EventStream]:
    cookies = {}
    if token is not None and app is not None:
        cookies[session_cookie_name(app.state.settings)] = token
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", cookies=cookies,
                                 timeout=10) as http:
        async with http.stream("GET", path) as response:
            assert response.status_code == 200, response.status_code
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["cache-control"] == "no-store"
            events = EventStream(response)
            first = await anext(events._lines)
            assert first == "event: ready"
            yield events


async def token_for(app: Litestar, world: World, role: str) -> str:
    async with app.state.database.writing() as session:
        return await actions.do_start_session(session, world.members[role],
                                              lifetime=timedelta(hours=1))


@pytest.fixture
async def port(app: Litestar, client: AsyncTestClient,
               monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[int]:
    monkeypatch.setattr(live_web, "MAX_SECONDS", 60.0)  # tests/conftest.py shortens it
    async with serving(app) as bound:
        yield bound


async def test_a_reply_reaches_a_visitor_reading_the_thread_within_two_seconds(
    app: Litestar, client: AsyncTestClient, browser: Browser, port: int,
) -> None:
    world = await build_world(app)
    thread_id = world.ids["thread"]
    async with stream(port, f"/live?thread={thread_id}") as page:
        await as_role(client, app, world, "author")
        started = time.monotonic()
        sent = await browser.reply(thread_id, "Je te lis, et je suis là ce soir aussi.")
        assert sent.status == 303
        kind, data = await page.next_event()
        assert time.monotonic() - started < DELIVERY_SECONDS + 1
    number = int(sent.response.headers["location"].split("#post-")[1])
    assert kind == "posts"
    assert data["thread"] == thread_id
    assert data["last"] >= 2

    # What the page then asks: the new posts after the last one it shows.
    before = data["last"] - 1
    fragment = await client.get(f"/t/{thread_id}/nouveaux?apres={before}",
                                headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert f'id="post-{number}"' in fragment.text
    assert "Je te lis, et je suis là ce soir aussi." in fragment.text
    assert f'data-number="{before}"' not in fragment.text
    assert 'id="thread-reply-count" data-hx-swap-oob="true"' in fragment.text


async def test_the_new_posts_fragment_checks_access_and_its_input(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    thread_id = world.ids["thread"]
    await as_role(client, app, world, "visitor")
    plain = await client.get(f"/t/{thread_id}/nouveaux?apres=0", follow_redirects=False)
    assert plain.status_code == 303
    assert plain.headers["location"] == f"/t/{thread_id}?page=1"
    for hostile in ("99999999999999999999999", "-5"):
        answer = await client.get(f"/t/{thread_id}/nouveaux?apres={hostile}",
                                  headers={"HX-Request": "true"})
        assert answer.status_code == 200, hostile
    bad = await client.get(f"/t/{thread_id}/nouveaux?apres=abc", headers={"HX-Request": "true"})
    assert bad.status_code == 400
    async with app.state.database.writing() as session:
        await session.execute(update(Space).where(Space.id == world.ids["space"])
                              .values(visibility=Visibility.MEMBERS))
    hidden = await client.get(f"/t/{thread_id}/nouveaux?apres=0", headers={"HX-Request": "true"})
    assert hidden.status_code == 404


async def test_a_stream_opens_only_on_what_its_reader_may_read(
    app: Litestar, client: AsyncTestClient, port: int,
) -> None:
    world = await build_world(app)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
        assert (await http.get("/live")).status_code == 204, "a visitor with nothing to hear"
        assert (await http.get("/live?thread=999999")).status_code == 404
        assert (await http.get("/live?thread=12abc")).status_code == 404
        async with app.state.database.writing() as session:
            await session.execute(update(Space).where(Space.id == world.ids["space"])
                                  .values(visibility=Visibility.MEMBERS))
        members_only = await http.get(f"/live?thread={world.ids['thread']}")
        assert members_only.status_code == 404


async def test_a_space_closed_to_visitors_stops_its_events_for_an_open_visitor_stream(
    app: Litestar, client: AsyncTestClient, browser: Browser, port: int,
) -> None:
    world = await build_world(app)
    thread_id = world.ids["thread"]
    async with stream(port, f"/live?thread={thread_id}") as page:
        async with app.state.database.writing() as session:
            await session.execute(update(Space).where(Space.id == world.ids["space"])
                                  .values(visibility=Visibility.MEMBERS))
        await as_role(client, app, world, "author")
        assert (await browser.reply(thread_id, "Un message pour les membres.")).status == 303
        assert await page.nothing_within(1.5), "checked again on the event: not readable"


async def test_a_reply_to_a_followed_thread_updates_the_followers_unread_count(
    app: Litestar, client: AsyncTestClient, browser: Browser, port: int,
) -> None:
    world = await build_world(app)
    thread_id = world.ids["thread"]
    await as_role(client, app, world, "member")
    page = await browser.get(f"/t/{thread_id}")
    assert (await browser.submit(page.form("form[action$='/follow']"))).status == 303
    member_token = await token_for(app, world, "member")
    async with stream(port, "/live", member_token, app) as header:
        await as_role(client, app, world, "author")
        assert (await browser.reply(thread_id, "Merci pour ton message.")).status == 303
        kind, _ = await header.next_event()
        assert kind == "notices"
    # What the page then asks: the header's count, now 1.
    await as_role(client, app, world, "member")
    unread = await client.get("/notifications/unread", headers={"HX-Request": "true"})
    assert "1 non lue" in unread.text


async def test_an_urgent_post_raises_its_moderators_count_and_no_one_elses(
    app: Litestar, client: AsyncTestClient, browser: Browser, port: int,
) -> None:
    world = await build_world(app)
    tokens = {role: await token_for(app, world, role)
              for role in ("mod_this", "admin", "mod_other", "member")}
    async with (stream(port, "/live", tokens["mod_this"], app) as moderator,
                stream(port, "/live", tokens["admin"], app) as admin,
                stream(port, "/live", tokens["mod_other"], app) as elsewhere,
                stream(port, "/live", tokens["member"], app) as member):
        started = time.monotonic()
        await post_urgent_reply(client, app, world, browser, role="author")
        # The queue's event and the alert notice's, in either order.
        kinds = {(await moderator.next_event())[0] for _ in range(2)}
        assert kinds == {"queue", "notices"}, kinds
        assert time.monotonic() - started < DELIVERY_SECONDS + 2
        assert {(await admin.next_event())[0] for _ in range(2)} == {"queue", "notices"}
        assert await elsewhere.nothing_within(1.0), "another space's moderator hears nothing"
        assert await member.nothing_within(0.5), "a member who moderates nothing hears nothing"
    await as_role(client, app, world, "mod_this")
    count = await client.get("/mod/welfare-count", headers={"HX-Request": "true"})
    assert "1 message urgent à relire" in count.text


async def test_a_stream_whose_session_ended_closes(
    app: Litestar, client: AsyncTestClient, browser: Browser, port: int,
) -> None:
    world = await build_world(app)
    token = await token_for(app, world, "member")
    async with stream(port, f"/live?thread={world.ids['thread']}", token, app) as page:
        async with app.state.database.writing() as session:
            await actions.do_end_session(session, token)
        await as_role(client, app, world, "author")
        assert (await browser.reply(world.ids["thread"], "Bonsoir à toi.")).status == 303
        kind, _ = await page.next_event()
        assert kind == "ended"
        assert await page.next_event() == ("", {}), "and the server closed it"
