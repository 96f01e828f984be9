"""Following a thread (and the thread page's constant query count with reactions and blocks)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from litestar import Litestar
from sqlalchemy import event, select

from forum import actions
from forum.db import Database
from forum.models import Member, Post, Space, Thread
from tests.browsing import Browser, Page, another_browser


def thread_id_of(result: Page) -> int:
    match = re.search(r"/t/(\d+)", result.response.headers["location"])
    assert match
    return int(match.group(1))


def follow_button(page: Page) -> str:
    return " ".join(page.one("#follow-form button").get_text().split())


async def test_starting_a_thread_follows_it_and_unfollowing_stops_replies(
    app: Litestar, browser: Browser, demo: None
) -> None:
    await browser.signup("Hirondelle")
    thread_id = thread_id_of(await browser.start_thread("anxiete", "Mon fil", "Bonjour."))
    page = await browser.get(f"/t/{thread_id}")
    assert follow_button(page) == "Ne plus suivre"
    result = await browser.submit(page.form("#follow-form"))
    assert result.status == 303
    assert result.response.headers["location"] == f"/t/{thread_id}"
    assert follow_button(await browser.get(f"/t/{thread_id}")) == "Suivre ce fil"
    async with another_browser(app) as other:
        await other.signup("Martinet")
        await other.reply(thread_id, "Une réponse.")
    assert not (await browser.get("/notifications")).all(".notification")


async def test_replying_follows_and_followers_hear_of_replies(
    app: Litestar, browser: Browser, demo: None
) -> None:
    await browser.signup("Hirondelle")
    await browser.reply(2, "Je passe par là aussi.")
    assert follow_button(await browser.get("/t/2")) == "Ne plus suivre"
    async with another_browser(app) as other:
        await other.signup("Martinet")
        await other.reply(2, "Moi aussi.")
    assert "Martinet a répondu dans « Anxiété sociale au travail »" in (
        (await browser.get("/notifications")).text(".notification")
    )


async def test_following_with_htmx_swaps_the_button(browser: Browser, demo: None) -> None:
    await browser.signup("Hirondelle")
    page = await browser.get("/t/3")
    form = page.form("#follow-form")
    assert form.element["data-hx-target"] == "this"
    fragment = await browser.submit(form, htmx=True)
    assert fragment.status == 200
    assert not fragment.all("html, body")
    assert follow_button(fragment) == "Ne plus suivre"
    back = await browser.submit(fragment.form("#follow-form"), htmx=True)
    assert follow_button(back) == "Suivre ce fil"


async def test_a_reply_sent_with_htmx_turns_the_follow_button_too(browser: Browser,
                                                                  demo: None) -> None:
    """Replying follows the thread: the htmx answer brings the page's button along, out of band
    (it said "Suivre ce fil" until a reload)."""
    await browser.signup("Hirondelle")
    page = await browser.get("/t/3")
    assert follow_button(page) == "Suivre ce fil"
    fragment = await browser.submit(page.form("#reply-form"),
                                     {"body": "Je passe vous lire, bonne soirée."}, htmx=True)
    assert fragment.status == 200
    oob = fragment.one("#follow-form")
    assert oob["data-hx-swap-oob"] == "true"
    assert follow_button(fragment) == "Ne plus suivre"
    assert follow_button(await browser.get("/t/3")) == "Ne plus suivre"


async def test_visitors_have_no_follow_button_and_cannot_follow(browser: Browser,
                                                               demo: None) -> None:
    page = await browser.get("/t/1")
    assert not page.all("#follow-form")
    result = await browser.client.post("/t/1/follow",
                                       data={"_csrf_token": page.hx_headers()["x-csrftoken"]})
    assert result.status_code == 401


# -- query counts ------------------------------------------------------------------------------

@contextmanager
def counting(database: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001 - SQLAlchemy hook
        statements.append(statement)

    engines = [engine.sync_engine for engine in database.engines]
    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)


async def _thread_with(database: Database, app: Litestar, posts: int, *, reader: str,
                       writer: str) -> int:
    """A thread of ``posts`` posts by two members, with reactions both ways and a block."""
    gate = app.state.gate
    async with database.writing() as session:
        me = await session.scalar(select(Member).where(Member.pseudonym == reader))
        them = await session.scalar(select(Member).where(Member.pseudonym == writer))
        space = await session.scalar(select(Space).where(Space.slug == "anxiete"))
        verdict = await gate.review(session, "Bonjour à toutes et tous.", author=them,
                                    space=space)
        posted = await actions.do_create_thread(
            session, space=space, author=them, title=f"Fil de {posts} messages",
            source="Bonjour à toutes et tous.", verdict=verdict,
        )
        thread = await session.get(Thread, posted.post.thread_id)
        for number in range(2, posts + 1):
            author = me if number % 3 == 0 else them
            text = f"Message {number}, @{reader} et @{writer}."
            verdict = await gate.review(session, text, author=author, space=space)
            reply = await actions.do_reply(session, thread=thread, author=author, source=text,
                                           verdict=verdict)
            giver = them if author is me else me
            await actions.do_toggle_reaction(session, reply.post, member=giver, kind="merci")
        return thread.id


async def test_thread_page_query_count_does_not_grow_with_the_thread(
    app: Litestar, browser: Browser, demo: None, database: Database
) -> None:
    for name in ("Corbeau", "Martinet"):
        async with another_browser(app) as other:
            await other.signup(name)
    short = await _thread_with(database, app, 5, reader="Martinet", writer="Corbeau")
    long = await _thread_with(database, app, 60, reader="Martinet", writer="Corbeau")
    async with database.reader() as session:
        assert await session.scalar(
            select(Post.number).where(Post.thread_id == long).order_by(Post.number.desc())
        ) == 60

    counts: dict[str, list[int]] = {"visitor": [], "member": []}
    for url in (f"/t/{short}", f"/t/{long}?page=2"):
        with counting(database) as statements:
            page = await browser.get(url)  # first visit: never served from a cache
        assert page.status == 200
        counts["visitor"].append(len(statements))
    assert (await browser.login("Martinet")).status == 303
    for url in (f"/t/{short}", f"/t/{long}?page=2"):
        with counting(database) as statements:
            page = await browser.get(url)
        assert page.status == 200
        assert page.all(".reactions__received")  # the member's own posts got reactions
        assert page.all("button[aria-pressed=true]")  # and they gave some
        counts["member"].append(len(statements))
    assert counts["visitor"][0] == counts["visitor"][1] > 0
    assert counts["member"][0] == counts["member"][1] > 0
