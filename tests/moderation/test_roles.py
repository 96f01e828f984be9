"""Roles: admins manage spaces and moderators (forms and shell), badges show who is who."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from forum import cli
from forum.models import Space, SpaceModerator
from tests.browsing import Browser
from tests.moderation.access_matrix import as_role, build_world


async def test_admin_creates_a_space_and_names_a_moderator_who_gets_the_badge(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    await as_role(client, app, world, "admin")
    admin = await browser.get("/admin")
    bad = await browser.submit(admin.form("#create-space"), {"name": "Sommeil", "slug": "Pas Bon"})
    assert bad.status == 422 and bad.one("#slug-error")
    assert bad.one("#space-name")["value"] == "Sommeil"
    created = await browser.submit(admin.form("#create-space"), {
        "name": "Sommeil", "slug": "sommeil", "position": "4",
        "charter": "On parle de soi.", "visibility": "members"})
    assert created.status == 303
    space_page = await browser.follow(created)
    added = await browser.submit(space_page.form("#add-moderator"), {"pseudonym": "Author"})
    assert added.status == 303
    async with app.state.database.reader() as session:
        space = await session.scalar(select(Space).where(Space.slug == "sommeil"))
        assert space.visibility == "members" and space.position == 4
        assert await session.get(SpaceModerator, (space.id, world.members["author"].id))

    page = await browser.get(f"/t/{world.ids['thread']}")
    badges = page.all(f"#post-{world.ids['post']} .badge--role")
    assert not badges, "the author moderates another space, not this one"

    await as_role(client, app, world, "author")
    home = await browser.get("/")
    assert home.one(".account-nav a[href='/mod']")


async def test_moderator_badge_shows_in_the_space_they_moderate(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    await as_role(client, app, world, "mod_this")
    sent = await browser.reply(world.ids["thread"], "Je passe dire bonjour à tout le monde.")
    page = await browser.follow(sent)
    own = page.all("article.post")[-1]
    assert [b.get_text(strip=True) for b in own.select(".badge--role")] == \
        ["Modérateur·rice pair"]
    await as_role(client, app, world, "member")
    home = await browser.get("/")
    assert not home.all(".account-nav a[href='/mod']")


async def test_the_shell_adds_and_removes_a_moderator(app: Litestar) -> None:
    world = await build_world(app)
    settings = app.state.settings
    assert await cli._moderator(settings, "add", "Member", "beta") is True
    assert await cli._moderator(settings, "add", "Member", "beta") is False
    async with app.state.database.reader() as session:
        assert await session.get(SpaceModerator, (world.spaces["beta"].id,
                                                  world.members["member"].id))
    assert await cli._moderator(settings, "remove", "Member", "beta") is True
    async with app.state.database.reader() as session:
        assert await session.get(SpaceModerator, (world.spaces["beta"].id,
                                                  world.members["member"].id)) is None
