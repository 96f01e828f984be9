"""/admin/members: an admin finds members by pseudonym, sees their roles and restrictions,
grants and revokes the trained peer helper badge and names moderators, every change logged
with the admin; nobody else gets the page, and a form without its CSRF token changes nothing."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from forum.models import Member, SpaceModerator
from moderation import queries as mq
from moderation.models import ActionKind, ModerationAction
from tests.browsing import Browser
from tests.moderation.access_matrix import as_role, build_world, make_member


async def _log(app: Litestar) -> list[ModerationAction]:
    async with app.state.database.reader() as session:
        return list(await session.scalars(select(ModerationAction).order_by(ModerationAction.id)))


async def _member(app: Litestar, member_id: int) -> Member:
    async with app.state.database.reader() as session:
        return await session.get(Member, member_id)


def _names(page) -> list[str]:  # noqa: ANN001
    return [h.get_text(strip=True) for h in page.all(".admin-member__name")]


async def test_an_admin_finds_members_by_pseudonym_whatever_the_case_accents_or_look_alikes(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    await as_role(client, app, world, "admin")
    found = await browser.get("/admin/members?q=AUTH")
    assert found.status == 200
    assert sorted(_names(found)) == ["Author", "Author_2"]
    assert found.one("#member-q")["value"] == "AUTH"
    # Case and accents do not count, as for pseudonyms everywhere.
    restricted = await browser.get("/admin/members?q=suspénded")
    first = restricted.one(f"#member-{world.ids['suspended']}")
    facts = " ".join(first.get_text(" ").split())
    assert "Suspendu·e jusqu'au" in facts and "Propos blessants" in facts
    assert "Membre, sans rôle particulier" in facts

    moderator = (await browser.get("/admin/members?q=mod_this")).one(
        f"#member-{world.ids['mod_this']}")
    roles = moderator.select_one(".admin-member__roles")
    assert "Modérateur·rice pair de :" in roles.get_text()
    assert [a.get_text() for a in roles.select("a")] == ["Alpha", "Gamma"]
    assert roles.select_one(f"a[href='/admin/spaces/{world.spaces['alpha'].id}']")

    nobody = await browser.get("/admin/members?q=zzqq")
    assert not _names(nobody) and "Aucun membre ne correspond" in nobody.text()


async def test_without_a_search_the_page_lists_the_members_who_hold_a_role(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    await as_role(client, app, world, "admin")
    page = await browser.get("/admin/members")
    assert set(_names(page)) == {"Admin", "Mod_This", "Mod_Other", "Mod_Second"}
    admin = page.one(f"#member-{world.members['admin'].id}")
    assert "Équipe : administration du forum" in admin.get_text()
    assert page.one(".mod-nav a[href='/admin/members']")


async def test_a_long_list_is_capped_and_says_how_many_more_to_refine(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    async with app.state.database.writing() as session:
        for number in range(mq.MEMBERS_SHOWN + 4):
            await make_member(session, f"Lecteur{number:02d}")
    await as_role(client, app, world, "admin")
    page = await browser.get("/admin/members?q=lecteur")
    assert len(_names(page)) == mq.MEMBERS_SHOWN
    assert "Et 4 autres membres : précise ta recherche" in page.text()
    exact = await browser.get("/admin/members?q=Lecteur07")
    assert _names(exact) == ["Lecteur07"]


async def test_a_search_too_long_says_so_and_keeps_what_was_typed(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    await as_role(client, app, world, "admin")
    typed = "quelqu'un-au-pseudonyme-vraiment-trop-long"
    page = await browser.get("/admin/members", params={"q": typed})
    assert page.status == 422
    assert "au plus 32 caractères" in page.one("#q-error").get_text()
    assert page.one("#member-q")["value"] == typed
    assert page.one("#member-q")["aria-describedby"] == "q-error"


async def test_an_admin_grants_and_revokes_the_badge_and_the_log_names_them(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    member_id = world.members["member"].id
    await as_role(client, app, world, "admin")
    page = await browser.get("/admin/members?q=memb")
    card = f"#member-{member_id}"
    granted = await browser.submit(page.form(f"{card} form[action$='/helper']"))
    assert granted.status == 303
    location = urlsplit(granted.response.headers["location"])
    assert location.fragment == f"member-{member_id}"
    assert parse_qs(location.query)["q"] == ["memb"], "the admin's search is kept"
    after = await browser.follow(granted)
    assert "Member porte maintenant le badge « Pair-aidant·e formé·e »." in after.text(card)
    assert "Pair-aidant·e formé·e" in after.one(f"{card} .admin-member__roles").get_text()
    assert (await _member(app, member_id)).trained_helper
    entry = (await _log(app))[-1]
    assert (entry.kind, entry.actor_pseudonym, entry.target_member_id) == (
        ActionKind.HELPER_GRANTED, "Admin", member_id)

    # The member's posts now carry the badge (the cached thread page was forgotten).
    thread = await browser.get(f"/t/{world.ids['thread2']}")
    badge = thread.one("article.post .role-badge")
    assert badge.select_one("summary").get_text(strip=True) == "Pair-aidant·e formé·e"

    log = await browser.get(f"/mod/log?kind={int(ActionKind.HELPER_GRANTED)}")
    assert [r.get_text(" ", strip=True) for r in log.all(".mod-log__entry td:nth-of-type(2)")] \
        == ["Badge de pair-aidant·e formé·e donné"]

    again = await browser.submit(page.form(f"{card} form[action$='/helper']"))
    assert "Rien n'a changé" in (await browser.follow(again)).text(card)
    assert (await _log(app))[-1].id == entry.id, "nothing changed, nothing logged"

    revoked = await browser.submit(after.form(f"{card} form[action$='/helper/remove']"))
    assert revoked.status == 303
    assert "ne porte plus le badge" in (await browser.follow(revoked)).text(card)
    assert not (await _member(app, member_id)).trained_helper
    last = (await _log(app))[-1]
    assert (last.kind, last.actor_pseudonym, last.target_pseudonym) == (
        ActionKind.HELPER_REVOKED, "Admin", "Member")
    thread = await browser.get(f"/t/{world.ids['thread2']}")
    assert not thread.all("article.post .role-badge")


async def test_from_the_list_of_roles_a_change_lands_on_the_members_own_search(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    await as_role(client, app, world, "admin")
    page = await browser.get("/admin/members")
    mod_id = world.ids["mod_this"]
    granted = await browser.submit(page.form(f"#member-{mod_id} form[action$='/helper']"))
    assert parse_qs(urlsplit(granted.response.headers["location"]).query)["q"] == ["Mod_This"]


async def test_an_admin_names_a_moderator_from_the_members_page(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    member_id = world.members["member"].id
    gamma = world.spaces["gamma"]
    await as_role(client, app, world, "admin")
    page = await browser.get("/admin/members?q=member")
    form = page.form(f"#member-{member_id} form[action$='/moderators']")

    unchosen = await browser.submit(form, {"space": ""})
    assert unchosen.status == 422
    assert unchosen.one("#space-error").get_text(strip=True) == "Choisis un espace dans la liste."
    assert unchosen.one(f"#moderator-space-{member_id}")["aria-invalid"] == "true"
    assert unchosen.one("#member-q")["value"] == "member", "the search is kept"
    unknown = await browser.submit(form, {"space": "999999"})
    assert unknown.status == 422

    named = await browser.submit(form, {"space": str(gamma.id)})
    assert named.status == 303
    after = await browser.follow(named)
    assert "Member modère maintenant l'espace « Gamma »." in after.text(f"#member-{member_id}")
    async with app.state.database.reader() as session:
        assert await session.get(SpaceModerator, (gamma.id, member_id))
    entry = (await _log(app))[-1]
    assert (entry.kind, entry.actor_pseudonym, entry.space_id, entry.target_member_id) == (
        ActionKind.MODERATOR_ADDED, "Admin", gamma.id, member_id)
    options = after.all(f"#moderator-space-{member_id} option")
    assert str(gamma.id) not in [o.get("value") for o in options], "already moderated"


async def test_nobody_but_an_admin_gets_the_page_or_changes_a_badge(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    member_id = world.members["member"].id
    for role, status in (("member", 403), ("mod_this", 403), ("suspended", 403)):
        await as_role(client, app, world, role)
        assert (await browser.get("/admin/members?q=a")).status == status, role
        assert (await client.get("/admin/members")).status_code == status
    await as_role(client, app, world, "visitor")
    refused = await client.get("/admin/members", follow_redirects=False)
    assert refused.status_code == 303
    assert refused.headers["location"].startswith("/login?next=")

    await as_role(client, app, world, "admin")
    before = len(await _log(app))
    forged = await client.post(f"/admin/members/{member_id}/helper", data={"q": ""},
                               follow_redirects=False)
    assert forged.status_code == 403
    forged = await client.post(f"/admin/members/{member_id}/moderators",
                               data={"space": str(world.spaces["gamma"].id)},
                               follow_redirects=False)
    assert forged.status_code == 403
    assert not (await _member(app, member_id)).trained_helper
    assert len(await _log(app)) == before
    async with app.state.database.reader() as session:
        assert await session.scalar(select(func.count()).select_from(SpaceModerator).where(
            SpaceModerator.member_id == member_id)) == 0


async def test_an_unknown_member_is_not_found(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    await as_role(client, app, world, "admin")
    page = await browser.get("/admin/members?q=member")
    form = page.form(f"#member-{world.members['member'].id} form[action$='/helper']")
    form.element["action"] = "/admin/members/999999/helper"
    assert (await browser.submit(form)).status == 404
