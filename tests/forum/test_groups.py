"""Scheduled group sessions (issue 18, second half), through the real forms and pages: a
trained helper schedules one, members register by accepting the agreement, they are reminded,
the live thread opens at the start to its participants only, the facilitator pauses it,
removes a message (in the moderation log) and ends it; a session not to be kept is deleted.
The app's clock is moved instead of waiting (``app.state.clock``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, update

from forum import actions, groups
from forum.db import utcnow
from forum.models import (
    GroupSession,
    GroupSessionStatus,
    Member,
    MemberSession,
    Notification,
    Post,
    PostStatus,
    SearchDocument,
    Thread,
)
from forum.privacy import do_delete_account
from forum.web.auth import session_cookie_name
from moderation import actions as ma
from moderation import queries as mq
from moderation.models import ActionKind, ModerationAction
from tests.browsing import Browser
from tests.moderation.access_matrix import World, build_world, csrf_headers

AGREEMENT = "On parle en « je », on s'écoute sans juger, ce qui se dit ici reste ici."
URGENT = "J'ai tout préparé, ce soir je vais en finir, je ne veux plus être là demain."


async def _world(app: Litestar) -> World:
    world = await build_world(app)
    async with app.state.database.writing() as session:
        await session.execute(update(Member).where(Member.id == world.members["author"].id)
                              .values(trained_helper=True))
        await session.commit()
    return world


def _at(app: Litestar, moment: datetime) -> None:
    app.state.clock = lambda: moment


async def as_role(client: AsyncTestClient, app: Litestar, world: World, role: str) -> None:
    """A log-in that lasts while the test moves the app's clock by hours (``as_role``'s lasts
    one hour of real time); visitors have none."""
    client.cookies.clear()
    if role != "visitor":
        async with app.state.database.writing() as session:
            token = await actions.do_start_session(session, world.members[role],
                                                   lifetime=timedelta(days=3))
            await session.execute(update(MemberSession).values(last_seen_at=app.state.clock()))
            await session.commit()
        client.cookies.set(session_cookie_name(app.state.settings), token)
    await client.get("/moderation")


def _form_start(start: datetime) -> dict[str, str]:
    local = start.astimezone(ZoneInfo("Europe/Paris"))
    return {"day": local.date().isoformat(), "start": local.strftime("%H:%M"),
            "timezone": "Europe/Paris"}


async def schedule(browser: Browser, start: datetime, **extra: str) -> Browser | int:
    page = await browser.get("/s/alpha/sessions/nouvelle")
    assert page.status == 200, page.status
    sent = await browser.submit(page.form("form.group-form"), {
        "title": "Groupe du jeudi soir", "theme": "Traverser l'hiver",
        "agreement": AGREEMENT, "minutes": "60", "capacity": "3", **_form_start(start),
        **extra})
    assert sent.status == 303, sent.text()
    return int(sent.response.headers["location"].rsplit("/", 1)[1])


async def register(browser: Browser, group_id: int, agree: bool = True) -> int:
    page = await browser.get(f"/sessions/{group_id}")
    sent = await browser.submit(page.form(f"form[action='/sessions/{group_id}/inscription']"),
                                {"agree": "1"} if agree else {})
    return sent.status


async def _group(app: Litestar, group_id: int) -> GroupSession:
    async with app.state.database.reader() as session:
        found = await session.get(GroupSession, group_id)
        assert found is not None
        return found


async def _thread_id(app: Litestar, group_id: int) -> int | None:
    async with app.state.database.reader() as session:
        return await session.scalar(select(Thread.id).where(Thread.group_session_id == group_id))


async def _notices(app: Litestar, member: Member) -> list[Notification]:
    async with app.state.database.reader() as session:
        return list(await session.scalars(
            select(Notification).where(Notification.member_id == member.id,
                                       Notification.kind == groups.GROUP_NOTICE)
            .order_by(Notification.id)))


async def _live_session(app: Litestar, client: AsyncTestClient, browser: Browser, world: World,
                        also: tuple[str, ...] = (), **extra: str) -> tuple[int, int]:
    """A session scheduled by the helper ("author"), "member" (and ``also``) registered, open
    now through the watch; the client is left logged in as "member"."""
    start = utcnow() + timedelta(minutes=40)
    await as_role(client, app, world, "author")
    group_id = await schedule(browser, start, **extra)
    for role in (*also, "member"):
        await as_role(client, app, world, role)
        assert await register(browser, group_id) == 303
    _at(app, start)
    await app.state.group_watch.run_once()
    thread_id = await _thread_id(app, group_id)
    assert thread_id is not None
    return group_id, thread_id


async def test_a_session_is_scheduled_registered_for_reminded_held_and_closed(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await _world(app)
    now = utcnow()
    start = (now + timedelta(hours=2)).replace(second=0, microsecond=0)
    await as_role(client, app, world, "author")
    group_id = await schedule(browser, start)
    stored = await _group(app, group_id)
    assert stored.starts_at == start and stored.facilitator_id == world.members["author"].id
    listing = await browser.get("/s/alpha/sessions")
    assert "Groupe du jeudi soir" in listing.text()

    await as_role(client, app, world, "member")
    page = await browser.get(f"/sessions/{group_id}")
    assert AGREEMENT in page.text(".group-session__agreement")
    assert page.all(".space-lines .line"), "the session page always shows the region's lines"
    assert page.one("time.local-time")["datetime"] == start.strftime("%Y-%m-%dT%H:%M:%SZ")
    refused = await register(browser, group_id, agree=False)
    assert refused == 422, "the agreement must be accepted"
    assert await register(browser, group_id) == 303
    again = await client.post(f"/sessions/{group_id}/inscription", data={"agree": "1"},
                              headers=csrf_headers(client, app), follow_redirects=False)
    assert again.status_code == 303, "a second submit changes nothing"
    async with app.state.database.reader() as session:
        assert await groups.registered_count(session, group_id) == 1

    _at(app, start - timedelta(minutes=20))
    await app.state.group_watch.run_once()
    await app.state.group_watch.run_once()
    reminders = await _notices(app, world.members["member"])
    assert [n.message for n in reminders] == [groups.REMINDER], "reminded once"
    assert await _thread_id(app, group_id) is None, "not open before the start"

    _at(app, start + timedelta(minutes=1))
    await as_role(client, app, world, "member")
    page = await browser.get(f"/sessions/{group_id}")
    thread_id = await _thread_id(app, group_id)
    assert thread_id is not None, "the page opens a due session"
    assert page.one(f"a[href='/t/{thread_id}']")
    thread_page = await browser.get(f"/t/{thread_id}")
    assert thread_page.status == 200
    assert AGREEMENT in thread_page.text("#posts"), "the agreement is the first message"
    assert thread_page.one(".group-banner")
    sent = await browser.reply(thread_id, "Bonsoir à toutes et tous, contente d'être là.")
    assert sent.status == 303

    await as_role(client, app, world, "author")
    thread_page = await browser.get(f"/t/{thread_id}")
    assert "contente d'être là" in thread_page.text("#posts")
    paused = await browser.submit(thread_page.form(
        f".group-banner form[action='/sessions/{group_id}/pause']"))
    assert paused.status == 303
    await as_role(client, app, world, "member")
    thread_page = await browser.get(f"/t/{thread_id}")
    assert not thread_page.all("#reply-form")
    assert "pause" in thread_page.text("main")
    refused_reply = await client.post(f"/t/{thread_id}/reply", data={"body": "Encore moi."},
                                      headers=csrf_headers(client, app), follow_redirects=False)
    assert refused_reply.status_code == 403

    await as_role(client, app, world, "author")
    thread_page = await browser.get(f"/t/{thread_id}")
    resumed = await browser.submit(thread_page.form(
        f".group-banner form[action='/sessions/{group_id}/reprise']"))
    assert resumed.status == 303
    ended = await browser.submit((await browser.get(f"/sessions/{group_id}")).form(
        f"form[action='/sessions/{group_id}/fin']"))
    assert ended.status == 303
    assert (await _group(app, group_id)).status == GroupSessionStatus.ENDED
    await as_role(client, app, world, "member")
    closed = await browser.get(f"/t/{thread_id}")
    assert closed.status == 200 and not closed.all("#reply-form"), "kept, locked"


async def test_only_participants_read_the_live_thread_and_nothing_lists_or_finds_it(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await _world(app)
    _, thread_id = await _live_session(app, client, browser, world)
    await browser.reply(thread_id, "Un mot très singulier : zorglubienne.")
    for role, expected in (("member", 200), ("author", 200), ("mod_this", 200), ("admin", 200),
                           ("mod_other", 404), ("author_2", 404), ("visitor", 404)):
        await as_role(client, app, world, role)
        answer = await client.get(f"/t/{thread_id}")
        assert answer.status_code == expected, role
        assert (await client.get(f"/live?thread={thread_id}")).status_code in (
            (200,) if expected == 200 else (404,)), role
        space_page = await client.get("/s/alpha")
        assert f"/t/{thread_id}" not in space_page.text, role
        home = await client.get("/")
        assert f"/t/{thread_id}" not in home.text, role
        found = await client.get("/search", params={"q": "zorglubienne"})
        assert f"/t/{thread_id}" not in found.text, role
    async with app.state.database.reader() as session:
        indexed = await session.scalar(select(func.count()).select_from(SearchDocument)
                                       .where(SearchDocument.thread_id == thread_id))
    assert indexed == 0, "a session's messages are never in the search index"


async def test_the_facilitator_removes_a_message_and_it_is_in_the_moderation_log(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await _world(app)
    group_id, thread_id = await _live_session(app, client, browser, world)
    sent = await browser.reply(thread_id, "Un message qui dépasse les limites du groupe.")
    post_id = int(sent.response.headers["location"].rsplit("#post-", 1)[1])
    assert not (await browser.get(f"/t/{thread_id}")).all(".post__facilitate"), \
        "members get no facilitator controls"
    forged = await client.post(f"/sessions/{group_id}/messages/{post_id}/retirer",
                               data={"reason": "x"},
                               headers=csrf_headers(client, app), follow_redirects=False)
    assert forged.status_code == 403, "only the facilitator (or a moderator) removes"

    await as_role(client, app, world, "author")
    page = await browser.get(f"/t/{thread_id}")
    removed = await browser.submit(page.form(f"#post-{post_id} .post__facilitate form"),
                                   {"reason": "Hors de l'accord du groupe"})
    assert removed.status == 303
    async with app.state.database.reader() as session:
        post = await session.get(Post, post_id)
        assert post is not None and post.status == PostStatus.REMOVED
        logged = await session.scalar(select(ModerationAction).where(
            ModerationAction.target_post_id == post_id,
            ModerationAction.kind == ActionKind.POST_REMOVED))
        assert logged is not None and logged.actor_id == world.members["author"].id
        told = await session.scalar(select(Notification).where(
            Notification.member_id == world.members["member"].id,
            Notification.post_id == post_id))
        assert told is not None, "the author is told why"


async def test_a_crisis_message_in_a_session_gets_the_pause_and_alerts_the_moderators(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await _world(app)
    _, thread_id = await _live_session(app, client, browser, world)
    pause = await browser.reply(thread_id, URGENT)
    assert pause.one("[data-crisis-level]")["data-crisis-level"] == "urgent"
    published = await browser.submit(pause.form(".crisis-pause__form"), {"crisis_ack": "1"})
    assert published.status == 303
    post_id = int(published.response.headers["location"].rsplit("#post-", 1)[1])
    async with app.state.database.reader() as session:
        alerted = set(await session.scalars(select(Notification.member_id).where(
            Notification.post_id == post_id, Notification.kind == ma.WELFARE_ALERT)))
    assert world.members["admin"].id in alerted
    assert world.members["mod_this"].id in alerted or world.members["mod_second"].id in alerted


async def test_a_session_not_to_be_kept_is_deleted_at_its_end_and_a_full_one_says_so(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await _world(app)
    start = utcnow() + timedelta(hours=1)
    await as_role(client, app, world, "author")
    group_id = await schedule(browser, start, keep_after="0", capacity="2")
    for role in ("member", "author_2"):
        await as_role(client, app, world, role)
        assert await register(browser, group_id) == 303
    await as_role(client, app, world, "mod_second")
    assert await register(browser, group_id) == 409, "two places, both taken"
    page = await browser.get(f"/sessions/{group_id}")
    assert page.status == 200
    await as_role(client, app, world, "member")
    _at(app, start)
    await app.state.group_watch.run_once()
    thread_id = await _thread_id(app, group_id)
    assert thread_id is not None
    await browser.reply(thread_id, "Merci pour ce moment.")
    _at(app, start + timedelta(minutes=60) + groups.CLOSE_AFTER)
    await app.state.group_watch.run_once()
    assert (await _group(app, group_id)).status == GroupSessionStatus.ENDED
    assert await _thread_id(app, group_id) is None, "its messages are deleted"
    page = await browser.get(f"/sessions/{group_id}")
    assert "effacés" in page.text()


async def test_scheduling_refuses_plainly_and_keeps_what_was_typed(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await _world(app)
    await as_role(client, app, world, "member")
    assert (await client.get("/s/alpha/sessions/nouvelle")).status_code == 403, \
        "members who are not trained helpers or moderators do not schedule"
    await as_role(client, app, world, "visitor")
    asked = await client.get("/s/alpha/sessions/nouvelle", follow_redirects=False)
    assert asked.status_code in (401, 303), asked.status_code
    assert asked.status_code == 401 or asked.headers["location"].startswith("/login")
    await as_role(client, app, world, "author")
    page = await browser.get("/s/alpha/sessions/nouvelle")
    past = datetime.now(UTC) - timedelta(days=1)
    sent = await browser.submit(page.form("form.group-form"), {
        "title": "Un titre gardé", "agreement": "court", "capacity": "500", "minutes": "7",
        **_form_start(past)})
    assert sent.status == 422
    assert sent.one("#title")["value"] == "Un titre gardé"
    for field in ("day", "agreement", "capacity", "minutes"):
        assert sent.one(f"#{field}-error"), field
    garbage = await browser.submit(page.form("form.group-form"), {
        "title": "Encore", "agreement": AGREEMENT, "day": "demain", "start": "25:99"})
    assert garbage.status == 422 and garbage.one("#day-error")
    async with app.state.database.reader() as session:
        assert await session.scalar(select(func.count()).select_from(GroupSession)) == 0


async def test_the_reminder_leads_to_the_session_and_the_export_holds_the_registration(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await _world(app)
    start = utcnow() + timedelta(minutes=40)
    await as_role(client, app, world, "author")
    group_id = await schedule(browser, start)
    await as_role(client, app, world, "member")
    await register(browser, group_id)
    _at(app, start - timedelta(minutes=29))
    await app.state.group_watch.run_once()
    await as_role(client, app, world, "member")
    inbox = await browser.get("/notifications")
    link = inbox.one(f".notification__message[href='/sessions/{group_id}']")
    assert "Groupe du jeudi soir" in link.get_text()
    exported = (await client.get("/me/export.json")).json()
    assert [row["group_session_id"] for row in exported["group_sessions_joined"]] == [group_id]
    await as_role(client, app, world, "author")
    mine = (await client.get("/me/export.json")).json()["group_sessions_facilitated"]
    assert [row["title"] for row in mine] == ["Groupe du jeudi soir"]


async def test_a_mention_in_a_session_tells_only_those_who_take_part(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await _world(app)
    _, thread_id = await _live_session(app, client, browser, world, also=("author_2",))
    members = world.members
    sent = await browser.reply(thread_id, f"Merci @{members['author_2'].pseudonym} et "
                                          f"@{members['mod_other'].pseudonym} !")
    post_id = int(sent.response.headers["location"].rsplit("#post-", 1)[1])
    async with app.state.database.reader() as session:
        told = set(await session.scalars(select(Notification.member_id).where(
            Notification.post_id == post_id)))
    assert told == {members["author_2"].id}, "registered: told; not taking part: not told"


async def test_a_pause_stops_edits_and_the_agreement_is_the_sessions_own(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await _world(app)
    start = utcnow() + timedelta(minutes=40)
    await as_role(client, app, world, "author")
    group_id = await schedule(browser, start)
    page = await browser.get(f"/sessions/{group_id}")
    assert not page.all(f"form[action='/sessions/{group_id}/inscription']"), \
        "the facilitator takes no place"
    await client.post(f"/sessions/{group_id}/inscription", data={"agree": "1"},
                      headers=csrf_headers(client, app), follow_redirects=False)
    async with app.state.database.reader() as session:
        assert await groups.registered_count(session, group_id) == 0
    await as_role(client, app, world, "member")
    await register(browser, group_id)
    _at(app, start)
    await app.state.group_watch.run_once()
    thread_id = await _thread_id(app, group_id)
    assert thread_id is not None
    sent = await browser.reply(thread_id, "Mon premier message.")
    post_id = int(sent.response.headers["location"].rsplit("#post-", 1)[1])
    page = await browser.get(f"/sessions/{group_id}")
    assert "1 inscrit·es sur 3" in page.text(), page.text()

    await as_role(client, app, world, "author")
    thread_page = await browser.get(f"/t/{thread_id}")
    agreement = thread_page.all("#posts article.post")[0]
    assert not agreement.select(".post__actions a"), "no edit or delete of the agreement"
    await browser.submit(thread_page.form(
        f".group-banner form[action='/sessions/{group_id}/pause']"))
    await as_role(client, app, world, "member")
    thread_page = await browser.get(f"/t/{thread_id}")
    assert not thread_page.all(f"a[href='/p/{post_id}/edit']"), "no edit during a pause"
    edited = await client.post(f"/p/{post_id}/edit", data={"body": "Changé en pause."},
                               headers=csrf_headers(client, app), follow_redirects=False)
    assert edited.status_code == 403
    async with app.state.database.reader() as session:
        post = await session.get(Post, post_id)
        assert post is not None and post.source == "Mon premier message."


async def test_a_facilitator_removes_a_flagged_message_from_the_group_not_from_the_moderators(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    """The welfare item stays open for the moderators (a facilitator's removal used to close
    it), and a session not to be kept keeps the post until they settle it."""
    world = await _world(app)
    group_id, thread_id = await _live_session(app, client, browser, world, keep_after="0")
    pause = await browser.reply(thread_id, URGENT)
    published = await browser.submit(pause.form(".crisis-pause__form"), {"crisis_ack": "1"})
    post_id = int(published.response.headers["location"].rsplit("#post-", 1)[1])
    await as_role(client, app, world, "author")
    removed = await client.post(f"/sessions/{group_id}/messages/{post_id}/retirer",
                                data={"reason": ""}, headers=csrf_headers(client, app),
                                follow_redirects=False)
    assert removed.status_code == 303
    async with app.state.database.reader() as session:
        assert await mq.is_welfare_item(session, post_id), "still the moderators' item"
        post = await session.get(Post, post_id)
        assert post is not None and post.status == PostStatus.REMOVED
    ended = await browser.submit((await browser.get(f"/sessions/{group_id}")).form(
        f"form[action='/sessions/{group_id}/fin']"))
    assert ended.status == 303
    await app.state.group_watch.run_once()
    assert await _thread_id(app, group_id) == thread_id, "not deleted while the item waits"
    await as_role(client, app, world, "mod_this")
    queue = await client.get("/mod")
    assert f"/mod/posts/{post_id}" in queue.text


async def test_a_session_thread_is_never_moved_pinned_or_reopened(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await _world(app)
    _, thread_id = await _live_session(app, client, browser, world)
    await as_role(client, app, world, "mod_this")
    for action in ("move", "pin", "unlock"):
        answer = await client.post(f"/mod/threads/{thread_id}/{action}",
                                   data={"reason": "essai", "space": "gamma"},
                                   headers=csrf_headers(client, app), follow_redirects=False)
        assert answer.status_code in (403, 404), action
    async with app.state.database.reader() as session:
        thread = await session.get(Thread, thread_id)
        assert thread is not None and thread.space_id == world.spaces["alpha"].id
        assert not thread.pinned


async def test_following_a_session_thread_is_not_offered_and_tells_nobody(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await _world(app)
    _, thread_id = await _live_session(app, client, browser, world)
    page = await browser.get(f"/t/{thread_id}")
    assert not page.all(f"form[action='/t/{thread_id}/follow']")
    followed = await client.post(f"/t/{thread_id}/follow", headers=csrf_headers(client, app),
                                 follow_redirects=False)
    assert followed.status_code < 500
    await as_role(client, app, world, "author")
    await browser.reply(thread_id, "Une réponse de la personne qui anime.")
    async with app.state.database.reader() as session:
        replies = await session.scalar(select(func.count()).select_from(Notification).where(
            Notification.member_id == world.members["member"].id,
            Notification.kind == "reply"))
    assert replies == 0


async def test_odd_dates_and_a_missing_hour_are_told_plainly(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await _world(app)
    await as_role(client, app, world, "author")
    page = await browser.get("/s/alpha/sessions/nouvelle")
    form = page.form("form.group-form")
    for day, start, zone, field in (("0001-01-01", "00:10", "Europe/Paris", "day"),
                                    ("9999-12-31", "23:59", "America/Toronto", "day"),
                                    ("2027-03-28", "02:30", "Europe/Paris", "start")):
        sent = await browser.submit(form, {"title": "Un groupe", "agreement": AGREEMENT,
                                           "day": day, "start": start, "timezone": zone})
        assert sent.status == 422, (day, sent.status)
        assert sent.one(f"#{field}-error"), day
    await as_role(client, app, world, "member")
    refused = await client.post("/s/alpha/sessions", data={"day": "0001-01-01"},
                                headers=csrf_headers(client, app), follow_redirects=False)
    assert refused.status_code == 403, "refused before any work"


async def test_a_missed_session_does_not_invite_anyone_and_a_deleted_facilitator_cancels(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await _world(app)
    start = utcnow() + timedelta(minutes=40)
    await as_role(client, app, world, "author")
    missed = await schedule(browser, start)
    later = await schedule(browser, start + timedelta(days=1))
    await as_role(client, app, world, "member")
    await register(browser, missed)
    await register(browser, later)
    _at(app, start + timedelta(minutes=60) + groups.CLOSE_AFTER)
    await app.state.group_watch.run_once()
    assert (await _group(app, missed)).status == GroupSessionStatus.ENDED
    messages = [n.message for n in await _notices(app, world.members["member"])]
    assert groups.OPENED not in messages, "no invitation to a session already over"
    async with app.state.database.writing() as session:
        author = await session.get(Member, world.members["author"].id)
        assert author is not None
        await do_delete_account(session, author, erase_posts=True)
        await session.commit()
    cancelled = await _group(app, later)
    assert cancelled.status == GroupSessionStatus.CANCELLED
    assert cancelled.agreement == "" and cancelled.title != "Groupe du jeudi soir"
    messages = [n.message for n in await _notices(app, world.members["member"])]
    assert groups.CANCELLED in messages


async def test_each_role_gets_what_the_rules_say_and_a_refusal_changes_nothing(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    """The facilitator's steps, scheduling and removal, for every role: visitors are sent to
    log in, others refused (403), or not told the thread exists (404); nothing moves."""
    world = await _world(app)
    group_id, thread_id = await _live_session(app, client, browser, world)
    sent = await browser.reply(thread_id, "Un message de membre.")
    post_id = int(sent.response.headers["location"].rsplit("#post-", 1)[1])

    async def state() -> tuple[object, ...]:
        async with app.state.database.reader() as session:
            group = await session.get(GroupSession, group_id)
            post = await session.get(Post, post_id)
            count = await session.scalar(select(func.count()).select_from(GroupSession))
            assert group is not None and post is not None
            return group.status, group.paused, post.status, count

    before = await state()
    steps = [f"/sessions/{group_id}/{step}" for step in ("pause", "fin", "annulation")]
    removal = f"/sessions/{group_id}/messages/{post_id}/retirer"
    for role in ("visitor", "member", "author_2", "mod_other"):
        await as_role(client, app, world, role)
        for path in [*steps, removal, "/s/alpha/sessions"]:
            answer = await client.post(path, data={"reason": "x", "title": "Un groupe"},
                                       headers=csrf_headers(client, app),
                                       follow_redirects=False)
            if role == "visitor":
                assert answer.status_code in (401, 303), (role, path, answer.status_code)
                assert answer.status_code == 401 or "/login" in answer.headers["location"]
            elif path == removal and role in ("author_2", "mod_other"):
                assert answer.status_code == 404, (role, path)  # they may not read the thread
            else:
                assert answer.status_code == 403, (role, path, answer.status_code)
        assert await state() == before, role
    await as_role(client, app, world, "mod_this")  # a moderator of the space runs it too
    paused = await client.post(f"/sessions/{group_id}/pause", headers=csrf_headers(client, app),
                               follow_redirects=False)
    assert paused.status_code == 303
    assert (await state())[1] is True
