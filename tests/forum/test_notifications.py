"""Notifications: replies in followed threads, mentions, the unread count, the list, settings."""

from __future__ import annotations

import re

from litestar import Litestar
from sqlalchemy import select

from forum import actions, notifications
from forum.db import Database
from forum.models import Member, Notification
from forum.queries import NOTIFICATIONS_PER_PAGE
from tests.browsing import Browser, Page, another_browser


def thread_id_of(result: Page) -> int:
    match = re.search(r"/t/(\d+)", result.response.headers["location"])
    assert match
    return int(match.group(1))


def post_id_of(result: Page) -> int:
    match = re.search(r"#post-(\d+)", result.response.headers["location"])
    assert match
    return int(match.group(1))


def unread_badge(page: Page) -> str | None:
    badge = page.one("#unread-notifications").select_one(".badge")
    return badge.get_text().strip() if badge else None


async def member_id(database: Database, pseudonym: str) -> int:
    async with database.reader() as session:
        return int(await session.scalar(select(Member.id).where(Member.pseudonym == pseudonym)))


async def test_a_reply_in_my_thread_reaches_me_with_a_link_to_it(
    app: Litestar, browser: Browser, demo: None
) -> None:
    await browser.signup("Hirondelle")
    thread_id = thread_id_of(await browser.start_thread("anxiete", "Mon fil", "Bonjour à tous."))
    assert unread_badge(await browser.get("/")) is None
    async with another_browser(app) as other:
        await other.signup("Martinet")
        reply_id = post_id_of(await other.reply(thread_id, "Je te lis, bienvenue."))
        assert unread_badge(await other.get("/")) is None  # authors hear nothing of their own
    home = await browser.get("/")
    assert unread_badge(home) == "1"
    listing = await browser.get(str(home.one("#unread-notifications")["href"]))
    item = listing.one(".notification--unread")
    assert "Martinet a répondu dans « Mon fil »" in item.get_text()
    assert item.select_one("a.notification__message")["href"] == f"/p/{reply_id}"


async def test_marking_one_read_without_javascript_clears_the_count(
    app: Litestar, browser: Browser, demo: None
) -> None:
    await browser.signup("Hirondelle")
    thread_id = thread_id_of(await browser.start_thread("anxiete", "Mon fil", "Bonjour."))
    async with another_browser(app) as other:
        await other.signup("Martinet")
        await other.reply(thread_id, "Un.")
        await other.reply(thread_id, "Deux.")
    listing = await browser.get("/notifications")
    assert unread_badge(listing) == "2"
    newest = listing.all(".notification")[0]
    assert "Deux" not in newest.get_text()  # notices name the thread, never quote the post
    result = await browser.submit(listing.form(".notification__read"))
    assert result.status == 303
    after = await browser.get("/notifications")
    assert unread_badge(after) == "1"
    assert len(after.all(".notification--unread")) == 1
    done = await browser.submit(after.form("form[action='/notifications/read-all']"))
    assert done.status == 303
    final = await browser.get("/notifications")
    assert unread_badge(final) is None
    assert not final.all(".notification--unread")
    assert len(final.all(".notification")) == 2


async def test_someone_cannot_mark_another_members_notification_read(
    app: Litestar, browser: Browser, demo: None, database: Database
) -> None:
    await browser.signup("Hirondelle")
    async with database.writing() as session:
        notice = await actions.do_notify(
            session, await member_id(database, "Hirondelle"), kind="moderation",
            message="Un message de l'équipe.",
        )
        notice_id = notice.id
    async with another_browser(app) as other:
        await other.signup("Martinet")
        page = await other.get("/notifications")
        await other.client.post(f"/notifications/{notice_id}/read",
                                data={"_csrf_token": page.hx_headers()["x-csrftoken"]})
    assert unread_badge(await browser.get("/")) == "1"


async def test_the_unread_fragment_refreshes_at_most_every_minute_and_is_a_plain_link(
    browser: Browser, demo: None, database: Database
) -> None:
    await browser.signup("Hirondelle")
    link = (await browser.get("/")).one("#unread-notifications")
    assert link["data-hx-trigger"] == "every 60s, forum:live"
    assert link["href"] == "/notifications"
    async with database.writing() as session:
        await actions.do_notify(session, await member_id(database, "Hirondelle"),
                                kind="welfare", message="On pense à toi.")
    fragment = await browser.get(str(link["data-hx-get"]), headers={"HX-Request": "true"})
    assert fragment.status == 200
    assert fragment.response.headers["vary"] == "HX-Request"
    assert fragment.one("a#unread-notifications .badge").get_text() == "1"
    assert not fragment.all("html, body, header")
    plain = await browser.get(str(link["data-hx-get"]), follow_redirects=False)
    assert plain.status == 303
    assert plain.response.headers["location"] == "/notifications"


async def test_a_mention_reaches_the_member_named_even_if_they_do_not_follow(
    app: Litestar, browser: Browser, demo: None
) -> None:
    await browser.signup("Hirondelle")
    async with another_browser(app) as other:
        await other.signup("Martinet")
        await other.reply(1, "Je pense que @hirondelle, tu avais écrit là-dessus. Et @Personne.")
    listing = await browser.get("/notifications")
    assert "Martinet t'a mentionné·e dans « Les crises d'angoisse dans les transports »" in (
        listing.text(".notification")
    )


async def test_a_mention_added_by_an_edit_is_told_once(
    app: Litestar, browser: Browser, demo: None, database: Database
) -> None:
    await browser.signup("Hirondelle")
    async with another_browser(app) as other:
        await other.signup("Martinet")
        post_id = post_id_of(await other.reply(1, "Une première version."))
        for text in ("Avec @Hirondelle maintenant.", "Avec @Hirondelle, encore modifié."):
            edit = await other.get(f"/p/{post_id}/edit")
            assert (await other.submit(edit.form("main form"), {"body": text})).status == 303
    async with database.reader() as session:
        kinds = list(await session.scalars(
            select(Notification.kind).where(
                Notification.member_id == await member_id(database, "Hirondelle"))
        ))
    assert kinds == ["mention"]


async def test_settings_turn_replies_off_but_never_moderation_notices(
    app: Litestar, browser: Browser, demo: None, database: Database
) -> None:
    await browser.signup("Hirondelle")
    thread_id = thread_id_of(await browser.start_thread("anxiete", "Mon fil", "Bonjour."))
    page = await browser.get("/notifications/settings")
    boxes = {box["name"] for box in page.all("#notification-kinds input[type=checkbox]")}
    assert boxes == set(notifications.OPTIONAL_KINDS)
    assert "on ne peut pas les désactiver" in page.text("#notification-kinds")
    saved = await browser.submit(page.form("#notification-kinds"), {"reply": ""})
    assert saved.status == 303
    again = await browser.get(saved.response.headers["location"])
    assert not again.one("#kind-reply").has_attr("checked")
    assert again.one("#kind-mention").has_attr("checked")
    async with another_browser(app) as other:
        await other.signup("Martinet")
        await other.reply(thread_id, "Une réponse que tu n'entendras pas.")
    async with database.writing() as session:
        await actions.do_notify(session, await member_id(database, "Hirondelle"),
                                kind="moderation", message="Ton message a été relu.")
    listing = await browser.get("/notifications")
    assert [n.get_text(" ", strip=True) for n in listing.all(".notification__message")] == [
        "Ton message a été relu."
    ]
    assert "L'équipe de modération" in listing.text(".notification")


async def test_notifications_are_newest_first_and_paginated(
    browser: Browser, demo: None, database: Database
) -> None:
    await browser.signup("Hirondelle")
    me = await member_id(database, "Hirondelle")
    async with database.writing() as session:
        for number in range(NOTIFICATIONS_PER_PAGE + 1):
            await actions.do_notify(session, me, kind="welfare",
                                    message="Message %(n)s", params={"n": number})
    first = await browser.get("/notifications")
    texts = [n.get_text(strip=True) for n in first.all(".notification__message")]
    assert len(texts) == NOTIFICATIONS_PER_PAGE
    assert texts[0] == f"Message {NOTIFICATIONS_PER_PAGE}"
    second = await browser.get(str(first.one(".pager a[rel=next]")["href"]))
    assert [n.get_text(strip=True) for n in second.all(".notification__message")] == [
        "Message 0"
    ]


async def test_notification_parameters_are_escaped(
    app: Litestar, browser: Browser, demo: None
) -> None:
    await browser.signup("Hirondelle")
    thread_id = thread_id_of(
        await browser.start_thread("anxiete", "<img src=x onerror=alert(1)> titre", "Bonjour.")
    )
    async with another_browser(app) as other:
        await other.signup("Martinet")
        await other.reply(thread_id, "Réponse.")
    listing = await browser.get("/notifications")
    assert not listing.all("main img")
    assert "<img src=x onerror=alert(1)> titre" in listing.text(".notification")


async def test_visitors_have_no_notifications(browser: Browser, demo: None) -> None:
    for path in ("/notifications", "/notifications/settings"):
        assert (await browser.get(path, follow_redirects=False)).status == 303
    assert not (await browser.get("/")).all("#unread-notifications")
