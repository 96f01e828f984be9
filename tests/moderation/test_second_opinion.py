"""Welfare items need two people: a moderator's closing decision on a post with an open
"danger" flag waits until a different moderator (or an admin) takes the same decision; and any
moderator can ask the others for a second opinion, with a note they all receive."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from forum.models import Notification, Post, PostStatus
from moderation import actions as ma
from moderation import queries as mq
from moderation.models import ActionKind, Flag, ModerationAction
from tests.browsing import Browser
from tests.moderation.access_matrix import World, as_role, build_world


async def _danger_flag(app: Litestar, world: World, post_id: int, *,
                       screen: bool = False) -> None:
    async with app.state.database.writing() as session:
        post = await mq.get_post(session, post_id)
        if screen:
            await ma.do_raise_crisis_flag(session, post, post.thread.space)
        else:
            await ma.do_flag_post(session, post, flagger=world.members["member"],
                                  reason="danger", note="")


async def _status(app: Litestar, post_id: int) -> PostStatus:
    async with app.state.database.reader() as session:
        return (await session.get(Post, post_id)).status


async def _open_flags(app: Litestar, post_id: int) -> int:
    async with app.state.database.reader() as session:
        return len(list(await session.scalars(
            select(Flag).where(Flag.post_id == post_id, Flag.resolved_at.is_(None)))))


async def _hide(browser: Browser, post_id: int, reason: str) -> int:
    item = await browser.get(f"/mod/posts/{post_id}")
    sent = await browser.submit(item.form("#action-hide"), {"reason": reason})
    return sent.status


async def test_one_moderator_cannot_close_a_danger_item_alone(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    post_id = world.ids["post2"]
    await _danger_flag(app, world, post_id)

    await as_role(client, app, world, "mod_this")
    assert await _hide(browser, post_id, "Détails de méthode") == 303
    assert await _status(app, post_id) == PostStatus.VISIBLE
    assert await _open_flags(app, post_id) == 1
    item = await browser.get(f"/mod/posts/{post_id}")
    assert "Détails de méthode" in item.text("#pending-decision")
    queue = await browser.get("/mod")
    assert queue.one(f"#item-{post_id} .mod-item__pending")


async def test_the_same_moderator_confirming_twice_does_not_count(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    post_id = world.ids["post2"]
    await _danger_flag(app, world, post_id)
    await as_role(client, app, world, "mod_this")
    assert await _hide(browser, post_id, "Détails de méthode") == 303
    assert await _hide(browser, post_id, "Détails de méthode") == 303
    item = await browser.get(f"/mod/posts/{post_id}")
    dismissed = await browser.submit(item.form("#action-dismiss"),
                                     {"reason": "Rien à retirer"})
    assert dismissed.status == 303
    assert await _status(app, post_id) == PostStatus.VISIBLE
    assert await _open_flags(app, post_id) == 1


async def test_a_second_moderator_confirms_and_the_item_closes(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    post_id = world.ids["post2"]
    await _danger_flag(app, world, post_id, screen=True)
    await as_role(client, app, world, "mod_this")
    assert await _hide(browser, post_id, "Détails de méthode") == 303

    await as_role(client, app, world, "mod_second")
    assert await _hide(browser, post_id, "Je confirme") == 303
    assert await _status(app, post_id) == PostStatus.HIDDEN
    assert await _open_flags(app, post_id) == 0
    async with app.state.database.reader() as session:
        kinds = list(await session.scalars(
            select(ModerationAction.kind).where(ModerationAction.target_post_id == post_id)
            .order_by(ModerationAction.id)))
    assert kinds[-2:] == [ActionKind.DECISION_PROPOSED, ActionKind.POST_HIDDEN]
    queue = await browser.get("/mod")
    assert not queue.all(f"#item-{post_id}")


async def test_an_ordinary_flag_is_still_closed_by_one_moderator(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    post_id = world.ids["post"]  # flagged as spam
    await as_role(client, app, world, "mod_this")
    assert await _hide(browser, post_id, "Publicité") == 303
    assert await _status(app, post_id) == PostStatus.HIDDEN


async def test_asking_a_second_opinion_notifies_the_others_and_shows_in_the_queue(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    post_id = world.ids["post2"]
    await as_role(client, app, world, "mod_this")
    item = await browser.get(f"/mod/posts/{post_id}")
    empty = await browser.submit(item.form("form#action-second-opinion"), {"note": ""})
    assert empty.status == 422
    assert empty.one("#note-error")
    asked = await browser.submit(item.form("form#action-second-opinion"),
                                 {"note": "Je ne sais pas si c'est de l'ironie"})
    assert asked.status == 303
    queue = await browser.get("/mod")
    assert queue.one(f"#item-{post_id} .mod-item__second")
    assert "Je ne sais pas si c'est de l'ironie" in queue.text(f"#item-{post_id}")

    async with app.state.database.reader() as session:
        notified = set(await session.scalars(
            select(Notification.member_id).where(Notification.kind == "second_opinion")))
    m = world.members
    assert notified == {m["mod_second"].id, m["admin"].id}


async def test_another_moderator_gives_the_second_opinion_and_the_request_closes(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    post_id = world.ids["post2"]
    await as_role(client, app, world, "mod_this")
    item = await browser.get(f"/mod/posts/{post_id}")
    await browser.submit(item.form("form#action-second-opinion"),
                         {"note": "Ton un peu inquiétant ?"})
    item = await browser.get(f"/mod/posts/{post_id}")
    assert not item.all("form#action-second-opinion-given"), "not one's own request"

    await as_role(client, app, world, "mod_second")
    item = await browser.get(f"/mod/posts/{post_id}")
    given = await browser.submit(item.form("form#action-second-opinion-given"),
                                 {"reason": "Ça me semble aller, on garde un œil"})
    assert given.status == 303
    queue = await browser.get("/mod")
    assert not queue.all(f"#item-{post_id}")


async def test_an_admin_can_be_the_second_person_and_a_different_choice_waits_again(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    post_id = world.ids["post2"]
    await _danger_flag(app, world, post_id)
    await as_role(client, app, world, "mod_this")
    assert await _hide(browser, post_id, "Détails de méthode") == 303

    await as_role(client, app, world, "mod_second")
    item = await browser.get(f"/mod/posts/{post_id}")
    removed = await browser.submit(item.form("#action-remove"), {"reason": "Plutôt retirer"})
    assert removed.status == 303
    assert await _status(app, post_id) == PostStatus.VISIBLE, "a new proposal, not a close"

    await as_role(client, app, world, "admin")
    item = await browser.get(f"/mod/posts/{post_id}")
    assert "Plutôt retirer" in item.text("#pending-decision")
    confirmed = await browser.submit(item.form("#action-remove"), {"reason": "D'accord"})
    assert confirmed.status == 303
    assert await _status(app, post_id) == PostStatus.REMOVED
    assert await _open_flags(app, post_id) == 0
