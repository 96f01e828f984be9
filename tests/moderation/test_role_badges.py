"""Every role badge on a post explains itself (a native disclosure, reachable by keyboard and
touch, never only a title), /help explains the roles, and the export names the badge."""

from __future__ import annotations

import json

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from forum import cli
from forum.models import Member
from tests.browsing import Browser
from tests.moderation.access_matrix import as_role, build_world


async def test_every_role_badge_on_a_post_opens_its_explanation(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    async with app.state.database.writing() as session:
        await session.execute(update(Member).where(Member.id == world.members["mod_this"].id)
                              .values(trained_helper=True))
    await as_role(client, app, world, "mod_this")
    sent = await browser.reply(world.ids["thread"], "Je passe dire bonjour à tout le monde.")
    page = await browser.follow(sent)
    own = page.all("article.post")[-1]
    badges = own.select("details.role-badge")
    assert [b.select_one("summary").get_text(strip=True) for b in badges] == \
        ["Modérateur·rice pair", "Pair-aidant·e formé·e"]
    for badge in badges:
        # A native disclosure: focusable, opened by Enter, Space or a tap; never a title.
        assert badge.select_one("summary.badge--role") and not badge.select("[title]")
        assert badge.select_one("a[href='/help#roles']")
    moderator, helper = (" ".join(b.get_text(" ").split()) for b in badges)
    assert "Ce n'est pas un·e professionnel·le de santé, ni un service d'urgence" in moderator
    assert "Elle ne soigne pas" in helper and "n'est pas un service d'urgence" in helper

    await as_role(client, app, world, "visitor")
    english = await browser.get(f"/t/{world.ids['thread']}", headers={"accept-language": "en"})
    text = " ".join(english.all("article.post")[-1].select_one("details.role-badge")
                    .get_text(" ").split())
    assert text.startswith("Peer moderator A member like you") and "not an emergency" in text


async def test_help_explains_the_roles_and_what_they_are_not(browser: Browser) -> None:
    page = await browser.get("/help")
    section = page.one("#roles").find_parent("section")
    terms = [dt.get_text(strip=True) for dt in section.select("dt")]
    assert terms == ["Modérateur·rice pair", "Pair-aidant·e formé·e", "Équipe"]
    text = " ".join(section.get_text(" ").split())
    assert "Ce n'est pas une autorité, ni un·e professionnel·le de santé" in text
    assert "Elle n'est ni médecin, ni psychologue, ni thérapeute" in text
    assert "Aucun de ces rôles n'est un service de soin ni un service d'urgence" in text
    english = await browser.get("/help", headers={"accept-language": "en"})
    assert "Roles on Entrepairs" in english.text("#roles")


async def test_the_members_export_names_the_badge(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    settings = app.state.settings
    await cli._helper(settings, "add", "Member")
    await as_role(client, app, world, "member")
    data = json.loads((await client.get("/me/export.json")).content)
    assert data["member"]["trained_helper"] is True
    page = await browser.get("/me/export")
    assert "Pair-aidant·e formé·e" in page.text("#export-account")
