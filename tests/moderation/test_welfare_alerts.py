"""Issue 14, part 4: moderators are told of an urgent post at once, see the count in the
header before opening /mod, get an escalation when nobody claims it, and see why the screen
fired. Everything goes through the real forms and pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from forum.models import Notification
from moderation import actions as ma
from moderation import queries as mq
from moderation.models import ActionKind, ModerationAction
from tests.browsing import Browser
from tests.moderation.access_matrix import World, as_role, build_world

URGENT = "J'ai tout préparé, ce soir je vais en finir, je ne veux plus être là demain."


async def alerts_for(app: Litestar, member_id: int) -> list[Notification]:
    async with app.state.database.reader() as session:
        return list(await session.scalars(
            select(Notification).where(Notification.member_id == member_id,
                                       Notification.kind == ma.WELFARE_ALERT)
            .order_by(Notification.id)))


async def post_urgent_reply(client: AsyncTestClient, app: Litestar, world: World,
                            browser: Browser, role: str = "member") -> int:
    """A member replies with an urgent text, sees the pause and publishes anyway."""
    await as_role(client, app, world, role)
    pause = await browser.reply(world.ids["thread"], URGENT)
    assert pause.one("[data-crisis-level]")["data-crisis-level"] == "urgent"
    published = await browser.submit(pause.form(".crisis-pause__form"), {"crisis_ack": "1"})
    assert published.status == 303
    return int(published.response.headers["location"].rsplit("#post-", 1)[1])


async def go_on_duty(client: AsyncTestClient, app: Litestar, world: World, browser: Browser,
                     role: str) -> None:
    await as_role(client, app, world, role)
    queue = await browser.get("/mod")
    assert (await browser.submit(queue.form("form[action='/mod/duty']"))).status == 303


async def test_an_urgent_post_tells_the_moderator_on_duty_and_the_admins_at_once(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    await go_on_duty(client, app, world, browser, "mod_this")
    post_id = await post_urgent_reply(client, app, world, browser)
    on_duty = await alerts_for(app, world.members["mod_this"].id)
    assert [n.post_id for n in on_duty] == [post_id]
    assert await alerts_for(app, world.members["admin"].id)
    assert not await alerts_for(app, world.members["mod_second"].id), "not on duty"
    assert not await alerts_for(app, world.members["mod_other"].id), "another space"
    assert not await alerts_for(app, world.members["member"].id), "never the author"

    await as_role(client, app, world, "mod_this")
    home = await browser.get("/")
    assert home.one("#mod-link .badge").get_text(strip=True) == "1"
    assert "1 message urgent à relire" in home.text("#mod-link")
    notices = await browser.get("/notifications")
    link = notices.one(".notification--unread a.notification__message")
    assert link["href"] == f"/mod/posts/{post_id}"
    assert "Message urgent" in link.get_text()


async def test_with_nobody_on_duty_every_moderator_of_the_space_is_told(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    post_id = await post_urgent_reply(client, app, world, browser)
    for role in ("mod_this", "mod_second", "admin"):
        assert [n.post_id for n in await alerts_for(app, world.members[role].id)] == [post_id]
    assert not await alerts_for(app, world.members["mod_other"].id)


async def test_the_header_count_refreshes_through_htmx_and_members_have_no_link(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    await as_role(client, app, world, "mod_this")
    fragment = await browser.get("/mod/welfare-count", headers={"HX-Request": "true"})
    assert not fragment.all("#mod-link .badge")
    await post_urgent_reply(client, app, world, browser)
    await as_role(client, app, world, "mod_this")
    fragment = await browser.get("/mod/welfare-count", headers={"HX-Request": "true"})
    assert fragment.one("#mod-link .badge").get_text(strip=True) == "1"
    await as_role(client, app, world, "member")
    assert not (await browser.get("/")).all("#mod-link")
    assert (await client.get("/mod/welfare-count", headers={"HX-Request": "true"})
            ).status_code == 403


async def test_a_danger_flag_from_members_alerts_the_moderators_once(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    post_id = world.ids["post2"]
    for role in ("member", "mod_other"):
        await as_role(client, app, world, role)
        form_page = await browser.get(f"/p/{post_id}/flag")
        sent = await browser.submit(
            form_page.form("form.flag-form"),
            {"reason": "danger", "note": "Je m'inquiète pour cette personne."})
        assert sent.status in (200, 303)
    alerts = await alerts_for(app, world.members["mod_this"].id)
    assert [n.post_id for n in alerts] == [post_id]


async def test_an_unclaimed_item_is_escalated_once_and_logged_and_a_claimed_one_is_not(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    await go_on_duty(client, app, world, browser, "mod_this")
    post_id = await post_urgent_reply(client, app, world, browser)
    watch = app.state.welfare_watch
    assert await watch.run_once() == [], "not yet 15 minutes"
    now = app.state.clock()
    app.state.clock = lambda: now + timedelta(minutes=16)
    escalated = await watch.run_once()
    assert [post.id for post in escalated] == [post_id]
    second = await alerts_for(app, world.members["mod_second"].id)
    assert [n.post_id for n in second] == [post_id], "everyone now, off duty too"
    assert second[0].params["minutes"] == 15
    assert await watch.run_once() == [], "once"
    async with app.state.database.reader() as session:
        logged = list(await session.scalars(select(ModerationAction).where(
            ModerationAction.kind == int(ActionKind.WELFARE_ESCALATED))))
    assert [row.target_post_id for row in logged] == [post_id]

    # A second urgent post, claimed by the moderator on duty: no escalation.
    app.state.clock = lambda: now
    claimed_id = await post_urgent_reply(client, app, world, browser, role="author")
    await as_role(client, app, world, "mod_this")
    item = await browser.get(f"/mod/posts/{claimed_id}")
    assert (await browser.submit(item.form(f"form[action='/mod/posts/{claimed_id}/claim']"))
            ).status == 303
    app.state.clock = lambda: now + timedelta(minutes=40)
    assert await watch.run_once() == []


async def test_the_item_page_credits_the_screen_and_says_why_it_fired(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    post_id = await post_urgent_reply(client, app, world, browser)
    await as_role(client, app, world, "mod_this")
    item = await browser.get(f"/mod/posts/{post_id}")
    flag = item.one(".mod-flag--danger")
    assert "Détection automatique" in flag.get_text()
    assert "Membre parti·e" not in flag.get_text()
    why = flag.select_one(".mod-screen")
    text = why.get_text(" ", strip=True)
    assert "lexique" in text and "je vais en finir" in text
    assert "Score du modèle" in text
    assert len(why.select("ol li")) == 3, "the three nearest labelled examples"
    assert all(li.select_one(".badge") for li in why.select("ol li"))


async def test_the_queue_puts_urgent_items_first_marked_apart_and_links_to_them_at_the_top(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    """A concern published through the pause and a plain flag come before the urgent post in
    time; the queue still shows the urgent one first, with its own badge and class, and says
    so above everything else on the page (on a phone the queue is screens down)."""
    world = await build_world(app)
    await as_role(client, app, world, "member")
    pause = await browser.reply(world.ids["thread"], "J'ai envie de mourir depuis des semaines.")
    assert pause.one("[data-crisis-level]")["data-crisis-level"] == "concern"
    concern = await browser.submit(pause.form(".crisis-pause__form"), {"crisis_ack": "1"})
    concern_id = int(concern.response.headers["location"].rsplit("#post-", 1)[1])
    await as_role(client, app, world, "mod_other")
    form_page = await browser.get(f"/p/{world.ids['post2']}/flag")
    assert (await browser.submit(form_page.form("form.flag-form"), {"reason": "spam"})
            ).status in (200, 303)
    await as_role(client, app, world, "member")
    urgent_id = await post_urgent_reply(client, app, world, browser)

    await as_role(client, app, world, "mod_this")
    queue = await browser.get("/mod")
    items = queue.all(".mod-queue > .mod-item")
    ids = [item["id"] for item in items]
    assert ids[0] == f"item-{urgent_id}", ids
    assert ids.index(f"item-{concern_id}") < ids.index(f"item-{world.ids['post2']}")
    first, concern_item = items[0], queue.one(f"#item-{concern_id}")
    assert "mod-item--urgent" in first["class"]
    assert "quelqu'un est peut-être en danger" in first.select_one(".badge--urgent").get_text()
    assert "mod-item--welfare" in concern_item["class"]
    assert not concern_item.select(".badge--urgent")
    assert "Inquiétude pour la personne" in concern_item.get_text()
    summary = queue.one(".mod-urgent-summary a")
    assert summary["href"] == f"#item-{urgent_id}"
    assert "1 message urgent en tête de file" in summary.get_text()
    main = queue.one("main")
    assert str(main).index("mod-urgent-summary") < str(main).index("duty-heading")


async def test_a_queue_without_urgent_items_has_no_urgent_summary(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    await as_role(client, app, world, "mod_other")
    form_page = await browser.get(f"/p/{world.ids['post2']}/flag")
    assert (await browser.submit(form_page.form("form.flag-form"), {"reason": "spam"})
            ).status in (200, 303)
    await as_role(client, app, world, "mod_this")
    queue = await browser.get("/mod")
    assert queue.all(".mod-queue > .mod-item")
    assert not queue.all(".mod-urgent-summary")
    assert not queue.all(".mod-item--urgent")


async def test_a_full_queue_keeps_its_urgent_items(
    app: Litestar, client: AsyncTestClient, browser: Browser, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past its limit the queue used to keep the oldest items and drop the newest, an urgent
    one included, while the header still counted it: urgent items are chosen first."""
    world = await build_world(app)
    monkeypatch.setattr(mq, "QUEUE_LIMIT", 1)
    urgent_id = await post_urgent_reply(client, app, world, browser)
    await as_role(client, app, world, "mod_this")
    queue = await browser.get("/mod")
    assert [item["id"] for item in queue.all(".mod-queue > .mod-item")] == [f"item-{urgent_id}"]
    assert queue.one(".mod-urgent-summary a")["href"] == f"#item-{urgent_id}"
