"""Care for moderators and members: the on-duty switch, presence on the space page, the
crisis protocol one click from the queue."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.browsing import Browser
from tests.moderation.access_matrix import as_role, build_world


async def test_on_duty_switch_tells_members_a_moderator_is_present(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    space = await browser.get("/s/alpha")
    assert space.one("#moderator-presence a[href='/help']"), "nobody on duty: the help lines"
    await as_role(client, app, world, "mod_this")
    queue = await browser.get("/mod")
    assert queue.one(".mod-nav a[href='/mod/protocol']")
    started = await browser.submit(queue.form("form[action='/mod/duty']"))
    assert started.status == 303
    queue = await browser.follow(started)
    assert "Mod_This" in queue.text(".mod-duty ul")
    await as_role(client, app, world, "visitor")
    space = await browser.get("/s/alpha")
    assert not space.all("#moderator-presence a[href='/help']")
    other = await browser.get("/s/beta")
    assert other.one("#moderator-presence a[href='/help']")
