"""Welfare alerts at their edges: one alert per item whoever raised it first, no new alert for an
edit that makes a post no more worrying, one escalation per item, alerts that outlive the
author's account, erasure that leaves no sentence behind, automatic hides that never touch a
welfare item, and moderators on a break."""

from __future__ import annotations

from datetime import timedelta

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from forum import actions, privacy
from forum.models import Member, Post, PostStatus, Space
from moderation import actions as ma
from moderation import queries as mq
from moderation.models import Flag
from tests.browsing import Browser
from tests.moderation.access_matrix import World, as_role, build_world, make_member, verdict
from tests.moderation.test_integrity import backdate
from tests.moderation.test_welfare_alerts import URGENT, alerts_for, go_on_duty, post_urgent_reply


async def _flag_danger(client: AsyncTestClient, app: Litestar, world: World, browser: Browser,
                       role: str, post_id: int) -> None:
    await as_role(client, app, world, role)
    page = await browser.get(f"/p/{post_id}/flag")
    sent = await browser.submit(page.form("form.flag-form"),
                                {"reason": "danger", "note": "je m'inquiète"})
    assert sent.status in (200, 303), sent.status


async def _edit(client: AsyncTestClient, app: Litestar, world: World, browser: Browser,
                post_id: int, values: dict[str, str]) -> None:
    """The author edits through the form, and publishes past the pause if there is one."""
    await as_role(client, app, world, "member")
    page = await browser.get(f"/p/{post_id}/edit")
    sent = await browser.submit(page.form("form[action$='/edit']"), values)
    if sent.status == 200 and sent.all(".crisis-pause__form"):
        sent = await browser.submit(sent.form(".crisis-pause__form"), {"crisis_ack": "1"})
    assert sent.status == 303, sent.status


async def test_a_member_flag_then_an_urgent_edit_tell_the_moderators_once(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    post_id = world.ids["post2"]
    await _flag_danger(client, app, world, browser, "mod_other", post_id)
    assert len(await alerts_for(app, world.members["mod_this"].id)) == 1
    async with app.state.database.writing() as session:  # the post is the member's own
        await session.execute(update(Post).where(Post.id == post_id)
                              .values(author_id=world.members["member"].id))
    await _edit(client, app, world, browser, post_id, {"body": URGENT})
    assert len(await alerts_for(app, world.members["mod_this"].id)) == 1
    async with app.state.database.reader() as session:
        reasons = [flag.reason for flag in await session.scalars(
            select(Flag).where(Flag.post_id == post_id, Flag.resolved_at.is_(None)))]
    assert reasons.count("danger") == 2, "the screen's reasons join the item"


async def test_an_edit_that_changes_nothing_worrying_raises_nothing_new(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    post_id = await post_urgent_reply(client, app, world, browser)
    assert len(await alerts_for(app, world.members["mod_this"].id)) == 1
    async with app.state.database.writing() as session:
        post = await mq.get_post(session, post_id)
        await ma.do_dismiss_flags(session, post, actor=world.members["mod_this"],
                                  reason="Parlé avec la personne")
        await ma.do_dismiss_flags(session, post, actor=world.members["admin"],
                                  reason="Parlé avec la personne")
    assert not await _open_danger(app, post_id)
    await _edit(client, app, world, browser, post_id,
                {"body": URGENT + " (typo)", "content_warning": "suicide"})
    assert len(await alerts_for(app, world.members["mod_this"].id)) == 1
    assert not await _open_danger(app, post_id)


async def _open_danger(app: Litestar, post_id: int) -> bool:
    async with app.state.database.reader() as session:
        return await mq.is_welfare_item(session, post_id)


async def test_an_item_is_escalated_once_even_when_a_flag_joins_it_later(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    post_id = await post_urgent_reply(client, app, world, browser)
    watch = app.state.welfare_watch
    start = app.state.clock()
    app.state.clock = lambda: start + timedelta(minutes=16)
    assert [post.id for post in await watch.run_once()] == [post_id]
    told = len(await alerts_for(app, world.members["mod_second"].id))
    await _flag_danger(client, app, world, browser, "mod_other", post_id)
    app.state.clock = lambda: start + timedelta(minutes=45)
    assert await watch.run_once() == []
    assert len(await alerts_for(app, world.members["mod_second"].id)) == told


async def test_alerts_outlive_the_authors_account_and_erasure_leaves_no_sentence(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    post_id = await post_urgent_reply(client, app, world, browser)
    assert len(await alerts_for(app, world.members["mod_this"].id)) == 1
    async with app.state.database.writing() as session:
        member = await session.get(Member, world.members["member"].id)
        await privacy.do_delete_account(session, member, erase_posts=True)
    assert len(await alerts_for(app, world.members["mod_this"].id)) == 1
    async with app.state.database.reader() as session:
        flags = list(await session.scalars(select(Flag).where(Flag.post_id == post_id)))
    assert flags and all(flag.text_copy == "" for flag in flags)
    assert all("préparé" not in str(flag.details) for flag in flags)
    assert all(flag.details == {"automatic": True} for flag in flags if flag.flagger_id is None)


def test_the_notice_kinds_kept_on_leaving_are_moderations_own() -> None:
    assert set(privacy.MODERATOR_NOTICES) == {ma.WELFARE_ALERT, ma.SECOND_OPINION_NOTICE}


async def test_worried_members_never_hide_a_post_automatically(app: Litestar) -> None:
    world = await build_world(app)
    async with app.state.database.writing() as session:
        await session.execute(update(Space).where(Space.id == world.ids["space"])
                              .values(auto_hide_flags=3))
        olds = [await make_member(session, f"Ancien{i}") for i in range(3)]
        thread = await mq.get_thread(session, world.ids["thread"])
        for member in olds:
            for n in range(3):
                await actions.do_reply(session, thread=thread, author=member,
                                       source=f"Message ordinaire {member.pseudonym} {n}.",
                                       verdict=verdict("Message ordinaire."))
        watched = (await actions.do_reply(
            session, thread=thread, author=world.members["author"],
            source="Plus rien n'a de sens.", verdict=verdict("Plus rien n'a de sens."))).post
        ordinary = (await actions.do_reply(
            session, thread=thread, author=world.members["author"],
            source="Achetez mes chaussures.", verdict=verdict("Achetez mes chaussures."))).post
        watched.crisis_answer = "watch"  # a quiet mark: its level stays "none"
        ids = (watched.id, ordinary.id)
    await backdate(app, *olds)
    async with app.state.database.writing() as session:
        for member in olds:
            flagger = await session.get(Member, member.id)
            await ma.do_flag_post(session, await mq.get_post(session, ids[0]), flagger=flagger,
                                  reason="spam", note="")
            await ma.do_flag_post(session, await mq.get_post(session, ids[1]), flagger=flagger,
                                  reason="danger", note="je m'inquiète")
    async with app.state.database.reader() as session:
        for post_id in ids:
            assert (await session.get(Post, post_id)).status == PostStatus.VISIBLE, post_id


async def test_a_moderator_on_a_break_is_not_the_one_on_duty(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    await go_on_duty(client, app, world, browser, "mod_this")
    async with app.state.database.writing() as session:
        moderator = await session.get(Member, world.members["mod_this"].id)
        await actions.do_set_break(session, moderator, app.state.clock() + timedelta(days=2))
    await post_urgent_reply(client, app, world, browser)
    assert await alerts_for(app, world.members["mod_second"].id), "the others are told"
    assert not await alerts_for(app, world.members["mod_this"].id)
