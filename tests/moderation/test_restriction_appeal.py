"""Issue 19: a suspended or banned member is told why, until when and how to appeal, and may
appeal the decision once; whoever could lift the restriction directly (an admin, a moderator
of the space where it was taken or, for one taken forum-wide, of a space the member wrote in;
a ban: admins only; never who took it, never the member) grants it, which lifts the
restriction, or refuses it, which keeps it; the member is told either way, in their
language, and the log keeps the decision and its reason. Everything through HTTP and the real
forms."""

from __future__ import annotations

import re
from datetime import timedelta

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, update

from forum.db import utcnow
from forum.models import Member, Role
from moderation import actions as ma
from moderation.models import ActionKind, Appeal, ModerationAction
from tests.browsing import Browser, Form, Page
from tests.moderation.access_matrix import (
    World,
    as_role,
    build_world,
    csrf_headers,
    make_member,
)

WORLD_APPEALS = 4
"""Two copies of the world, each with a post's appeal and a suspension's."""
ISO_DAY = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


async def deny(browser: Browser, form: Form, reason: str) -> Page:
    """The appeal form's second button (``formaction``): refuse, with the form's fields."""
    action = str(form.element.select_one("button[formaction]")["formaction"])
    response = await browser.client.post(action, data={**form.values(), "reason": reason},
                                         follow_redirects=False)
    return Page(response)


async def log_rows(app: Litestar, member_id: int) -> list[ModerationAction]:
    async with app.state.database.reader() as session:
        return list(await session.scalars(
            select(ModerationAction).where(ModerationAction.target_member_id == member_id)
            .order_by(ModerationAction.id)))


async def appeal_count(app: Litestar) -> int:
    async with app.state.database.reader() as session:
        return int(await session.scalar(select(func.count()).select_from(Appeal)) or 0)


async def second_admin(app: Litestar, world: World) -> Member:
    async with app.state.database.writing() as session:
        admin = await make_member(session, "Veilleuse", role=Role.ADMIN)
    world.members["admin2"] = admin
    return admin


async def suspend_through_the_form(browser: Browser, member_id: int, reason: str) -> None:
    page = await browser.get(f"/mod/members/{member_id}")
    done = await browser.submit(page.form("form#action-suspend"), {"days": "3", "reason": reason})
    assert done.status == 303


async def assert_moot_for_moderators(client: AsyncTestClient, browser: Browser, member_id: int,
                                    appeal_id: int) -> None:
    """The appeal is out of the queue, shown as moot on the member's page with no form, and a
    grant sent anyway is refused (403)."""
    assert not (await browser.get("/mod")).all(f"#member-appeal-{appeal_id}")
    page = await browser.get(f"/mod/members/{member_id}")
    assert "Sans objet" in page.text(f"#appeal-{appeal_id}")
    assert not page.all(f"form#action-appeal-{appeal_id}")
    token = {"_csrf_token": page.form("form#action-warn").values()["_csrf_token"]}
    grant = await client.post(f"/mod/appeals/{appeal_id}/grant",
                              data={**token, "reason": "Je lève"}, follow_redirects=False)
    assert grant.status_code == 403


def notices(page: Page) -> str:
    return " ".join(page.text(".notifications").split())


# -- the whole way, granted ---------------------------------------------------------------------

async def test_a_suspended_member_appeals_from_the_composer_and_a_granted_appeal_lifts_it(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    await second_admin(app, world)
    member_id = world.members["member"].id

    await as_role(client, app, world, "admin")
    await suspend_through_the_form(browser, member_id, "Propos répétés envers un membre")

    # The member meets the refusal on a composer: why, until when, and where to appeal.
    await as_role(client, app, world, "member")
    refused = await browser.get("/s/alpha/new")
    assert refused.status == 403
    text = refused.text()
    assert "Ton compte est suspendu pour l'instant" in text and "jusqu'au" in text
    assert "Propos répétés envers un membre" in text
    assert refused.one(".error-message__appeal a[href='/me/appeal']")
    thread = await browser.get(f"/t/{world.ids['thread']}")
    assert thread.one("#restricted-notice a[href='/me/appeal']")
    inbox = await browser.get("/notifications")
    assert "jusqu'au" in notices(inbox)
    assert inbox.one(".notification a.notification__appeal[href='/me/appeal']")

    form_page = await browser.get("/me/appeal")
    assert form_page.status == 200
    assert "Propos répétés envers un membre" in form_page.text("#appeal-decision")
    assert "jusqu'au" in form_page.text("#appeal-decision")
    sent = await browser.submit(form_page.form("form#appeal-form"),
                                {"message": "Je me suis emporté·e, je m'en excuse."})
    assert sent.status == 303 and sent.response.headers["location"] == "/me/appeal"
    after = await browser.follow(sent)
    assert "bien arrivé le" in after.text("#appeal-state")
    assert not after.all("form#appeal-form"), "once per decision"

    # The admin who suspended sees it, and may not decide it.
    await as_role(client, app, world, "admin")
    async with app.state.database.reader() as session:
        appeal = await session.scalar(select(Appeal).where(Appeal.member_id == member_id))
    queue = await browser.get("/mod")
    assert queue.one(f"#member-appeal-{appeal.id} a[href='/mod/members/{member_id}"
                     f"#appeal-{appeal.id}']")
    page = await browser.get(f"/mod/members/{member_id}")
    assert "Je me suis emporté·e" in page.text(f"#appeal-{appeal.id}")
    assert not page.all(f"form#action-appeal-{appeal.id}")
    token = {"_csrf_token": page.form("form#action-warn").values()["_csrf_token"]}
    refused_actor = await client.post(f"/mod/appeals/{appeal.id}/grant",
                                      data={**token, "reason": "Je me relis"},
                                      follow_redirects=False)
    assert refused_actor.status_code == 403

    # A forum-wide suspension (taken from the member's page, no space) is decided by whoever
    # could lift it: a moderator of a space the member wrote in (mod_this: alpha) sees it and
    # may decide it; a moderator of a space they never wrote in (mod_other: beta) sees nothing.
    await as_role(client, app, world, "mod_this")
    assert (await browser.get("/mod")).all(f"#member-appeal-{appeal.id}")
    page = await browser.get(f"/mod/members/{member_id}")
    assert page.all(f"form#action-appeal-{appeal.id}")
    await as_role(client, app, world, "mod_other")
    assert not (await browser.get("/mod")).all(f"#member-appeal-{appeal.id}")
    hidden = await client.post(f"/mod/appeals/{appeal.id}/grant",
                               data={"reason": "Le recours est fondé"},
                               headers=csrf_headers(client, app), follow_redirects=False)
    assert hidden.status_code == 404

    # Another admin grants it: a reason is required, and what was typed stays.
    await as_role(client, app, world, "admin2")
    page = await browser.get(f"/mod/members/{member_id}")
    form = page.form(f"form#action-appeal-{appeal.id}")
    empty = await browser.submit(form, {"reason": " "})
    assert empty.status == 422
    assert empty.one(f"#appeal-{appeal.id} #reason-error")
    granted = await browser.submit(form, {"reason": "Excuses sincères, on repart de zéro"})
    assert granted.status == 303

    kinds = [row.kind for row in await log_rows(app, member_id)]
    assert kinds[-3:] == [ActionKind.MEMBER_SUSPENDED, ActionKind.APPEAL_GRANTED,
                          ActionKind.MEMBER_RESTRICTION_LIFTED]
    log = await browser.get("/mod/log")
    entries = [" ".join(row.get_text(" ").split()) for row in log.all("tr.mod-log__entry")]
    assert any("Recours accepté" in e and "Excuses sincères" in e for e in entries)
    assert any("Suspension ou exclusion levée" in e for e in entries)
    assert not (await browser.get("/mod")).all(f"#member-appeal-{appeal.id}")

    # The member writes again, is told why in one notice, and has nothing left to appeal.
    await as_role(client, app, world, "member")
    assert (await browser.get("/s/alpha/new")).status == 200
    inbox = notices(await browser.get("/notifications"))
    assert "Ton recours a été accepté : tu peux de nouveau écrire" in inbox
    assert "Excuses sincères, on repart de zéro" in inbox
    assert "Bienvenue." not in inbox, "one notice, not the lift's as well"
    nothing = await browser.get("/me/appeal")
    assert nothing.status == 404
    assert "ni suspendu ni fermé" in nothing.text()


# -- refused, in a space, in English; once per action -------------------------------------------

async def test_a_refused_appeal_keeps_the_suspension_and_a_new_suspension_can_be_appealed(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    """The world's member was suspended in space A by mod_second and appealed."""
    world = await build_world(app)
    member_id, appeal_id = world.ids["suspended"], world.ids["member_appeal"]
    async with app.state.database.writing() as session:
        await session.execute(update(Member).where(Member.id == member_id).values(locale="en"))

    await as_role(client, app, world, "mod_second")  # who suspended: sees it, may not decide
    page = await browser.get(f"/mod/members/{member_id}")
    assert page.one(f"#appeal-{appeal_id}") and not page.all(f"form#action-appeal-{appeal_id}")
    assert (await browser.get("/mod")).one(f"#member-appeal-{appeal_id}")
    token = {"_csrf_token": page.form("form#action-warn").values()["_csrf_token"]}
    response = await client.post(f"/mod/appeals/{appeal_id}/deny",
                                 data={**token, "reason": "Je maintiens"}, follow_redirects=False)
    assert response.status_code == 403

    await as_role(client, app, world, "mod_other")  # another space's moderator: not theirs
    assert not (await browser.get("/mod")).all(f"#member-appeal-{appeal_id}")
    assert (await browser.get(f"/mod/members/{member_id}")).status == 404

    await as_role(client, app, world, "mod_this")  # a moderator of space A decides
    page = await browser.get(f"/mod/members/{member_id}")
    refused = await deny(browser, page.form(f"form#action-appeal-{appeal_id}"),
                         "Les propos visaient une personne du fil")
    assert refused.status == 303
    log = await browser.get("/mod/log")
    entries = [" ".join(row.get_text(" ").split()) for row in log.all("tr.mod-log__entry")]
    assert any("Recours refusé" in e and "Les propos visaient" in e for e in entries)

    await as_role(client, app, world, "suspended")
    assert (await browser.get("/s/alpha/new")).status == 403, "refusing keeps it"
    inbox = notices(await browser.get("/notifications", headers={"accept-language": "en"}))
    assert "who upholds your suspension until" in inbox
    assert "Les propos visaient une personne du fil" in inbox  # the moderator's own words
    assert "maintient" not in inbox and not ISO_DAY.search(inbox)
    state = await browser.get("/me/appeal")
    assert "the decision is upheld" in state.text("#appeal-state")  # their language
    assert "Les propos visaient une personne du fil" in state.text("#appeal-state")
    assert not state.all("form#appeal-form")

    # A second appeal of the same action: already sent, when, and the new text is kept.
    again = await client.post("/me/appeal", data={"message": "Je voudrais quand même en reparler."},
                              headers=csrf_headers(client, app), follow_redirects=False)
    again_page = Page(again)
    assert again.status_code == 409
    assert re.search(r"You already sent an appeal against this decision, on \w{3} \d{1,2}, "
                     r"\d{4}", again_page.text("#appeal-already-sent"))
    assert again_page.one("#appeal-unsent").get_text() == "Je voudrais quand même en reparler."
    async with app.state.database.reader() as session:
        assert await session.scalar(select(func.count()).select_from(Appeal).where(
            Appeal.member_id == member_id)) == 1

    # A new decision (a longer suspension) is a new action: it can be appealed once too.
    await as_role(client, app, world, "admin")
    page = await browser.get(f"/mod/members/{member_id}")
    assert not page.all("form#action-suspend"), "already suspended: lift or ban"
    async with app.state.database.writing() as session:
        member = await session.get(Member, member_id)
        admin = await session.get(Member, world.members["admin"].id)
        assert await ma.do_suspend_member(session, member, actor=admin, days=30,
                                          reason="Récidive")
    await as_role(client, app, world, "suspended")
    fresh = await browser.get("/me/appeal")
    assert "Récidive" in fresh.text("#appeal-decision")
    assert fresh.one("form#appeal-form")


# -- a ban, and what a person can get wrong ------------------------------------------------------

async def test_a_banned_member_appeals_once_and_bad_input_keeps_what_they_typed(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    author_id = world.members["author"].id
    await as_role(client, app, world, "admin")
    page = await browser.get(f"/mod/members/{author_id}")
    banned = await browser.submit(page.form("form#action-ban"), {"reason": "Harcèlement grave"})
    assert banned.status == 303

    await as_role(client, app, world, "author")
    refused = await browser.get("/s/alpha/new")
    assert refused.status == 403 and "Ton accès en écriture est fermé" in refused.text()
    assert refused.one(".error-message__appeal a[href='/me/appeal']")
    inbox = await browser.get("/notifications")
    assert inbox.one("a.notification__appeal[href='/me/appeal']")
    form_page = await browser.get("/me/appeal")
    decision = form_page.text("#appeal-decision")
    assert "fermé ton accès en écriture" in decision and "Harcèlement grave" in decision
    assert "jusqu'au" not in decision

    empty = await browser.submit(form_page.form("form#appeal-form"), {"message": "   "})
    assert empty.status == 422
    assert "vide" in empty.text("#message-error")
    assert empty.one("#appeal-message")["aria-invalid"] == "true"
    too_long = "Je voudrais expliquer. " * 60
    long_page = await browser.submit(form_page.form("form#appeal-form"), {"message": too_long})
    assert long_page.status == 422
    assert "trop long" in long_page.text("#message-error")
    assert long_page.one("#appeal-message").get_text() == too_long
    assert await appeal_count(app) == WORLD_APPEALS

    sent = await browser.submit(long_page.form("form#appeal-form"),
                                {"message": "Ce n'était pas du harcèlement, je vous assure."})
    assert sent.status == 303
    again = await browser.submit(form_page.form("form#appeal-form"),
                                 {"message": "Et je le redis encore."})
    assert again.status == 409
    assert "Tu as déjà envoyé un recours pour cette décision, le" in again.text(
        "#appeal-already-sent")
    assert again.one("#appeal-unsent").get_text() == "Et je le redis encore."
    assert "Ce n'était pas du harcèlement" in again.text("blockquote")
    assert await appeal_count(app) == WORLD_APPEALS + 1

    # A ban is the admins' to lift, so to decide: a moderator of the space the author wrote
    # in sees the appeal but may not decide it.
    async with app.state.database.reader() as session:
        ban_appeal = await session.scalar(select(Appeal).where(Appeal.member_id == author_id)
                                          .order_by(Appeal.id.desc()))
    await as_role(client, app, world, "mod_this")
    page = await browser.get(f"/mod/members/{author_id}")
    assert not page.all(f"form#action-appeal-{ban_appeal.id}")
    not_theirs = await client.post(f"/mod/appeals/{ban_appeal.id}/grant",
                                   data={"reason": "Je lève l'exclusion"},
                                   headers=csrf_headers(client, app), follow_redirects=False)
    assert not_theirs.status_code == 403

    # A refusal says the access stays closed; the admin who banned could not decide it.
    await second_admin(app, world)
    await as_role(client, app, world, "admin2")
    page = await browser.get(f"/mod/members/{author_id}")
    form_id = page.one("form[id^=action-appeal-]")["id"]
    refused = await deny(browser, page.form(f"form#{form_id}"), "Les messages étaient clairs")
    assert refused.status == 303
    await as_role(client, app, world, "author")
    inbox = notices(await browser.get("/notifications"))
    assert "maintient la fermeture de ton accès en écriture" in inbox
    assert "Les messages étaient clairs" in inbox
    assert (await browser.get("/s/alpha/new")).status == 403


# -- who may decide ------------------------------------------------------------------------------

async def test_nobody_decides_the_appeal_of_their_own_suspension(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    """mod_this, suspended in space A (which they moderate), appeals: they may not decide it,
    neither while suspended nor once the suspension has run out; mod_second may, while it
    holds them."""
    world = await build_world(app)
    mod_id = world.members["mod_this"].id
    async with app.state.database.writing() as session:
        mod = await session.get(Member, mod_id)
        admin = await session.get(Member, world.members["admin"].id)
        assert await ma.do_suspend_member(session, mod, actor=admin, days=3,
                                          reason="Propos déplacés", space_id=world.ids["space"])
    await as_role(client, app, world, "mod_this")
    page = await browser.get("/me/appeal")
    sent = await browser.submit(page.form("form#appeal-form"), {"message": "Je conteste."})
    assert sent.status == 303
    async with app.state.database.reader() as session:
        appeal = await session.scalar(select(Appeal).where(Appeal.member_id == mod_id))
    data = {"reason": "Je me donne raison"}
    while_suspended = await client.post(f"/mod/appeals/{appeal.id}/grant", data=data,
                                        headers=csrf_headers(client, app),
                                        follow_redirects=False)
    assert while_suspended.status_code == 403

    await as_role(client, app, world, "mod_second")
    page = await browser.get(f"/mod/members/{mod_id}")
    granted = await browser.submit(page.form(f"form#action-appeal-{appeal.id}"),
                                   {"reason": "La suspension n'était pas justifiée"})
    assert granted.status == 303
    async with app.state.database.reader() as session:
        decided = await session.get(Appeal, appeal.id)
        assert decided.granted is True and decided.decided_by_id == world.members["mod_second"].id
    await as_role(client, app, world, "mod_this")
    inbox = notices(await browser.get("/notifications"))
    assert "Ton recours a été accepté : tu peux de nouveau écrire" in inbox

    # Suspended again, appealed again, and the suspension runs out: the member still may not
    # decide their own appeal (nor may anyone: nothing is left to decide).
    async with app.state.database.writing() as session:
        mod = await session.get(Member, mod_id)
        admin = await session.get(Member, world.members["admin"].id)
        assert await ma.do_suspend_member(session, mod, actor=admin, days=3,
                                          reason="Encore", space_id=world.ids["space"])
    page = await browser.get("/me/appeal")
    assert (await browser.submit(page.form("form#appeal-form"),
                                 {"message": "Je conteste encore."})).status == 303
    async with app.state.database.writing() as session:
        again = await session.scalar(select(Appeal).where(Appeal.member_id == mod_id)
                                     .order_by(Appeal.id.desc()))
        await session.execute(update(Member).where(Member.id == mod_id)
                              .values(suspended_until=utcnow() - timedelta(minutes=1)))
    await as_role(client, app, world, "mod_this")
    page = await browser.get(f"/mod/members/{mod_id}")
    assert page.status == 200 and not page.all(f"form#action-appeal-{again.id}")
    afterwards = await client.post(f"/mod/appeals/{again.id}/grant", data=data,
                                   headers=csrf_headers(client, app), follow_redirects=False)
    assert afterwards.status_code == 403
    async with app.state.database.reader() as session:
        assert (await session.get(Appeal, again.id)).granted is None


async def test_a_member_who_is_not_restricted_is_told_there_is_nothing_to_appeal(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    await as_role(client, app, world, "visitor")
    visitor = await browser.get("/me/appeal", follow_redirects=False)
    assert visitor.status == 303 and visitor.response.headers["location"].startswith("/login")
    await as_role(client, app, world, "member")
    page = await browser.get("/me/appeal")
    assert page.status == 404
    assert "Rien à contester pour l'instant" in page.text("h1")
    assert "ni suspendu ni fermé" in page.text() and not page.all("form#appeal-form")
    posted = await client.post("/me/appeal", data={"message": "Je conteste tout."},
                               headers=csrf_headers(client, app), follow_redirects=False)
    assert posted.status_code == 404
    assert await appeal_count(app) == WORLD_APPEALS


async def test_without_the_csrf_token_nothing_is_sent_nor_decided(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    await as_role(client, app, world, "mod_this")
    forged = await client.post(f"/mod/appeals/{world.ids['member_appeal']}/grant",
                               data={"reason": "Envoyé par un autre site"},
                               follow_redirects=False)
    assert forged.status_code == 403
    async with app.state.database.reader() as session:
        assert (await session.get(Appeal, world.ids["member_appeal"])).decided_at is None

    async with app.state.database.writing() as session:  # a new decision, not yet appealed
        member = await session.get(Member, world.ids["suspended"])
        admin = await session.get(Member, world.members["admin"].id)
        await ma.do_suspend_member(session, member, actor=admin, days=30, reason="Récidive")
    await as_role(client, app, world, "suspended")
    page = await browser.get("/me/appeal")
    assert page.one("form#appeal-form input[name=_csrf_token]")
    forged = await client.post("/me/appeal", data={"message": "Envoyé par un autre site"},
                               follow_redirects=False)
    assert forged.status_code == 403
    assert await appeal_count(app) == WORLD_APPEALS


async def test_lifting_a_suspension_closes_its_pending_appeal_without_a_decision(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    """A lift is not a verdict on the appeal (who lifts may be who suspended): the appeal is
    closed, neither granted nor refused, logged, and the member's one notice says so."""
    world = await build_world(app)
    appeal_id, member_id = world.ids["member_appeal"], world.ids["suspended"]
    await as_role(client, app, world, "mod_second")  # who suspended lifts it early
    page = await browser.get(f"/mod/members/{member_id}")
    lifted = await browser.submit(page.form("form#action-unban"), {"reason": "Levée anticipée"})
    assert lifted.status == 303
    async with app.state.database.reader() as session:
        appeal = await session.get(Appeal, appeal_id)
        assert appeal.granted is None and appeal.decided_at is not None
        assert appeal.decided_by_id is None
    rows = await log_rows(app, member_id)
    assert [row.kind for row in rows[-2:]] == [ActionKind.MEMBER_RESTRICTION_LIFTED,
                                               ActionKind.APPEAL_CLOSED]
    assert rows[-1].details["appeal_id"] == appeal_id and rows[-1].details["cause"] == "lift"
    assert rows[-1].details["replaced_by"] == rows[-2].id
    assert not (await browser.get("/mod")).all(f"#member-appeal-{appeal_id}")
    page = await browser.get(f"/mod/members/{member_id}")
    assert "Recours clos sans décision le" in page.text(f"#appeal-{appeal_id}")
    assert "levée" in page.text(f"#appeal-{appeal_id}")

    await as_role(client, app, world, "suspended")
    inbox = notices(await browser.get("/notifications"))
    assert "tu peux de nouveau écrire sur le forum. Ton recours n'a donc plus besoin" in inbox
    assert inbox.count("Bienvenue.") == 1, "one notice"
    assert "accepté" not in inbox


# -- a later decision, or the end of the suspension, leaves nothing to decide ------------------

async def test_a_ban_closes_the_pending_appeal_of_the_suspension_it_replaces(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    """The world's member, suspended in space A, appealed; an admin then bans them. The old
    appeal is closed without a decision, logged, out of the queue, and can no longer be
    granted (which told the member "la décision est annulée" while the ban stood); the member
    is told why, in their language, and may appeal the ban."""
    world = await build_world(app)
    await second_admin(app, world)
    member_id, appeal_id = world.ids["suspended"], world.ids["member_appeal"]
    async with app.state.database.writing() as session:
        await session.execute(update(Member).where(Member.id == member_id).values(locale="en"))

    await as_role(client, app, world, "admin")
    page = await browser.get(f"/mod/members/{member_id}")
    banned = await browser.submit(page.form("form#action-ban"), {"reason": "Menaces"})
    assert banned.status == 303

    async with app.state.database.reader() as session:
        appeal = await session.get(Appeal, appeal_id)
        assert appeal.decided_at is not None and appeal.granted is None
        assert appeal.decided_by_id is None
    rows = await log_rows(app, member_id)
    assert [row.kind for row in rows[-2:]] == [ActionKind.MEMBER_BANNED, ActionKind.APPEAL_CLOSED]
    assert rows[-1].details == {"appeal_id": appeal_id, "action_id": rows[-1].details["action_id"],
                                "cause": "ban", "replaced_by": rows[-2].id}
    log = await browser.get("/mod/log")
    entries = [" ".join(row.get_text(" ").split()) for row in log.all("tr.mod-log__entry")]
    assert any("Recours clos sans décision" in e for e in entries)

    for role in ("admin", "admin2", "mod_this"):
        await as_role(client, app, world, role)
        assert not (await browser.get("/mod")).all(f"#member-appeal-{appeal_id}"), role
        page = await browser.get(f"/mod/members/{member_id}")
        assert "Recours clos sans décision le" in page.text(f"#appeal-{appeal_id}")
        assert not page.all(f"form#action-appeal-{appeal_id}")
    grant = await client.post(f"/mod/appeals/{appeal_id}/grant",
                              data={"reason": "Je lève"}, headers=csrf_headers(client, app),
                              follow_redirects=False)
    assert grant.status_code == 403
    await as_role(client, app, world, "admin2")
    grant = await client.post(f"/mod/appeals/{appeal_id}/grant",
                              data={"reason": "Je lève"}, headers=csrf_headers(client, app),
                              follow_redirects=False)
    assert grant.status_code == 403
    async with app.state.database.reader() as session:
        assert (await session.get(Member, member_id)).banned

    await as_role(client, app, world, "suspended")
    inbox_page = await browser.get("/notifications", headers={"accept-language": "en"})
    inbox = notices(inbox_page)
    assert "Your appeal against your suspension was closed without a decision" in inbox
    assert "you can appeal it in turn" in inbox
    assert "cancelled" not in inbox and "recours" not in inbox
    assert len(inbox_page.all("a.notification__appeal[href='/me/appeal']")) >= 2
    fresh = await browser.get("/me/appeal")
    assert "Menaces" in fresh.text("#appeal-decision")
    assert fresh.one("form#appeal-form"), "the ban is a new decision, appealable once"


async def test_a_longer_suspension_closes_the_appeal_of_the_one_it_replaces(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    member_id, appeal_id = world.ids["suspended"], world.ids["member_appeal"]
    async with app.state.database.writing() as session:
        member = await session.get(Member, member_id)
        admin = await session.get(Member, world.members["admin"].id)
        assert await ma.do_suspend_member(session, member, actor=admin, days=30,
                                          reason="Récidive")
    async with app.state.database.reader() as session:
        assert (await session.get(Appeal, appeal_id)).granted is None
    rows = await log_rows(app, member_id)
    assert [row.kind for row in rows[-2:]] == [ActionKind.MEMBER_SUSPENDED,
                                               ActionKind.APPEAL_CLOSED]
    assert rows[-1].details["cause"] == "suspension"
    await as_role(client, app, world, "mod_this")
    assert not (await browser.get("/mod")).all(f"#member-appeal-{appeal_id}")
    await as_role(client, app, world, "suspended")
    inbox = notices(await browser.get("/notifications"))
    assert ("Ton recours contre ta suspension précédente est clos sans décision, parce "
            "qu'une nouvelle suspension la remplace, jusqu'au") in inbox
    assert not ISO_DAY.search(inbox)
    assert (await browser.get("/me/appeal")).one("form#appeal-form")


async def test_an_appeal_left_open_by_an_older_version_is_never_granted_once_replaced(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    """Rows written before appeals were closed: a suspension's appeal still open under a ban.
    It is out of the queue, shown as moot, and granting it is refused (the ban stays)."""
    world = await build_world(app)
    await second_admin(app, world)
    member_id, appeal_id = world.ids["suspended"], world.ids["member_appeal"]
    async with app.state.database.writing() as session:
        member = await session.get(Member, member_id)
        admin = await session.get(Member, world.members["admin"].id)
        assert await ma.do_ban_member(session, member, actor=admin, reason="Menaces")
        await session.execute(update(Appeal).where(Appeal.id == appeal_id)
                              .values(decided_at=None, granted=None))
    await as_role(client, app, world, "admin2")
    await assert_moot_for_moderators(client, browser, member_id, appeal_id)
    async with app.state.database.reader() as session:
        assert (await session.get(Member, member_id)).banned
        assert (await session.get(Appeal, appeal_id)).decided_at is None
    await as_role(client, app, world, "suspended")
    assert "annulée" not in notices(await browser.get("/notifications"))


async def test_when_a_suspension_runs_out_its_pending_appeal_leaves_the_queue(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    """No background job: an appeal whose suspension ran out is out of the queue, shown as
    moot on the member's page, cannot be decided, and the member's /me/appeal says calmly
    that the suspension is over and nothing is left to appeal (200; a POST: 409, text kept)."""
    world = await build_world(app)
    member_id, appeal_id = world.ids["suspended"], world.ids["member_appeal"]
    await as_role(client, app, world, "mod_this")
    assert (await browser.get("/mod")).one(f"#member-appeal-{appeal_id}")
    async with app.state.database.writing() as session:
        await session.execute(update(Member).where(Member.id == member_id)
                              .values(suspended_until=utcnow() - timedelta(minutes=1)))

    await assert_moot_for_moderators(client, browser, member_id, appeal_id)
    kinds_before = [row.kind for row in await log_rows(app, member_id)]

    await as_role(client, app, world, "suspended")
    ended = await browser.get("/me/appeal")
    assert ended.status == 200
    assert "Ta suspension est terminée" in ended.text("h1")
    assert "plus rien à contester" in ended.text("#appeal-ended")
    assert "clos sans décision" in ended.text("#appeal-state")
    assert not ended.all("form#appeal-form")
    posted = await client.post("/me/appeal", data={"message": "Et maintenant ?"},
                               headers=csrf_headers(client, app), follow_redirects=False)
    assert posted.status_code == 409
    assert Page(posted).one("#appeal-unsent").get_text() == "Et maintenant ?"
    assert await appeal_count(app) == WORLD_APPEALS
    assert [row.kind for row in await log_rows(app, member_id)] == kinds_before


# -- a ban by the only admin ------------------------------------------------------------------

async def test_a_ban_by_the_only_admin_says_plainly_that_nobody_else_can_review_it(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    """Only admins decide a ban's appeal, never who banned: on a forum with one admin, the
    member is told before writing that nobody can read it for now, may still send it, and the
    admin is told on the member's page why no one can decide it; a second admin then can."""
    world = await build_world(app)
    author_id = world.members["author"].id
    await as_role(client, app, world, "admin")
    page = await browser.get(f"/mod/members/{author_id}")
    assert (await browser.submit(page.form("form#action-ban"),
                                 {"reason": "Harcèlement grave"})).status == 303

    await as_role(client, app, world, "author")
    form_page = await browser.get("/me/appeal")
    assert "pas d'autre admin" in form_page.text("#appeal-nobody-else")
    sent = await browser.submit(form_page.form("form#appeal-form"), {"message": "Je conteste."})
    assert sent.status == 303
    state = await browser.follow(sent)
    assert "personne d'autre que l'admin qui a pris la décision" in state.text("#appeal-state")
    async with app.state.database.reader() as session:
        appeal = await session.scalar(select(Appeal).where(Appeal.member_id == author_id)
                                      .order_by(Appeal.id.desc()))

    await as_role(client, app, world, "admin")
    assert (await browser.get("/mod")).one(f"#member-appeal-{appeal.id}")
    page = await browser.get(f"/mod/members/{author_id}")
    assert "Personne ne peut trancher ce recours" in page.text(f"#appeal-nobody-else-{appeal.id}")
    assert not page.all(f"form#action-appeal-{appeal.id}")

    await second_admin(app, world)
    await as_role(client, app, world, "admin2")
    page = await browser.get(f"/mod/members/{author_id}")
    assert page.one(f"form#action-appeal-{appeal.id}")
    assert not page.all(f"#appeal-nobody-else-{appeal.id}")
    await as_role(client, app, world, "author")
    assert "Une autre personne" in (await browser.get("/me/appeal")).text("#appeal-state")
