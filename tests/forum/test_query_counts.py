"""Every page runs the same number of SQL statements whatever the length of a thread or a
space: counted on the app's engine (``before_cursor_execute``) through real requests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest
from litestar import Litestar
from sqlalchemy import event, func, select

from forum import actions
from forum.config import Settings
from forum.db import Database
from forum.gate import Verdict
from forum.models import Member, Notification, Space, Thread
from tests.browsing import Browser


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """What the app itself does for each page: no page cache in front of it."""
    return replace(settings, page_cache_mb=0, member_page_cache_mb=0)

VERDICT = Verdict(html="<p>Merci de ton message.</p>", renderer_version=1)


@contextmanager
def counted(app: Litestar) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    engines = [engine.sync_engine for engine in app.state.database.engines]
    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)


async def make_thread(database: Database, slug: str, posts: int, title: str) -> int:
    """A thread of ``posts`` posts by the demo members, through the real actions."""
    async with database.writing() as session:
        space = await session.scalar(select(Space).where(Space.slug == slug))
        members = list(await session.scalars(select(Member).order_by(Member.id).limit(6)))
        posted = await actions.do_create_thread(
            session, space=space, author=members[0], title=title, source="Bonjour",
            verdict=VERDICT,
        )
        thread = await session.get(Thread, posted.post.thread_id)
        for index in range(posts - 1):
            await actions.do_reply(session, thread=thread, author=members[index % len(members)],
                                   source="Merci", verdict=VERDICT)
        return thread.id


async def statements_for(app: Litestar, browser: Browser, url: str) -> int:
    with counted(app) as statements:
        page = await browser.get(url)
    assert page.status == 200, url
    return len(statements)


async def test_a_thread_page_runs_as_many_queries_for_5_posts_as_for_65(
    app: Litestar, browser: Browser, database: Database, demo: None
) -> None:
    short = await make_thread(database, "anxiete", 5, "Un fil court")
    long = await make_thread(database, "anxiete", 65, "Un fil long")
    for url in (f"/t/{short}", f"/t/{long}", f"/t/{long}?page=3"):
        await browser.get(url)  # warm: first-request work is not the page's
    visitor = [await statements_for(app, browser, url)
               for url in (f"/t/{short}", f"/t/{long}", f"/t/{long}?page=3")]
    assert visitor[0] == visitor[1] == visitor[2]
    await browser.signup("Glycine")
    member = [await statements_for(app, browser, url)
              for url in (f"/t/{short}", f"/t/{long}", f"/t/{long}?page=3")]
    assert member[0] == member[1] == member[2]
    assert visitor[0] > 0


async def test_a_space_page_runs_as_many_queries_for_3_threads_as_for_60(
    app: Litestar, browser: Browser, database: Database, demo: None
) -> None:
    for index in range(60):
        await make_thread(database, "deuil", 2, f"Fil numéro {index}")
    counts = {}
    for slug in ("anxiete", "deuil"):
        await browser.get(f"/s/{slug}")
        counts[slug] = await statements_for(app, browser, f"/s/{slug}")
    async with database.reader() as session:
        small = await session.scalar(select(Space.thread_count).where(Space.slug == "anxiete"))
    assert small is not None and small <= 3
    assert counts["anxiete"] == counts["deuil"]


async def test_the_home_page_runs_as_many_queries_with_many_threads_as_with_few(
    app: Litestar, browser: Browser, database: Database, demo: None
) -> None:
    await browser.get("/")
    before = await statements_for(app, browser, "/")
    for index in range(30):
        await make_thread(database, "bien-etre", 3, f"Encore un fil {index}")
    after = await statements_for(app, browser, "/")
    assert before == after


async def _followed_by(database: Database, thread_id: int, count: int, prefix: str) -> None:
    """``count`` new members follow the thread (each will be told of a reply)."""
    async with database.writing() as session:
        for index in range(count):
            member = Member(pseudonym=f"{prefix}{index}", pseudonym_key=f"{prefix}{index}",
                            password_hash="x", recovery_hash="x")
            session.add(member)
            await session.flush()
            await actions.do_follow(session, member.id, thread_id)


async def test_a_reply_runs_as_many_statements_for_40_followers_as_for_1(
    app: Litestar, browser: Browser, database: Database, demo: None
) -> None:
    """Issue 20: the notices, the search index and the counters of a reply are written set
    by set; telling forty followers costs no more statements than telling one."""
    quiet = await make_thread(database, "anxiete", 2, "Un fil peu suivi")
    busy = await make_thread(database, "anxiete", 2, "Un fil très suivi")
    await _followed_by(database, quiet, 1, "seule")
    await _followed_by(database, busy, 40, "suiveur")
    await browser.signup("Glycine")
    counts = {}
    for turn, thread_id in enumerate((quiet, busy, quiet, busy)):  # the first warms up
        page = await browser.get(f"/t/{thread_id}")
        with counted(app) as statements:
            sent = await browser.submit(page.form("form#reply-form"), {
                "body": f"Merci à vous, je vous lis depuis longtemps ({turn}).",
            })
        assert sent.status == 303
        counts[thread_id] = len(statements)
    assert counts[quiet] == counts[busy]
    async with database.reader() as session:
        told = await session.scalar(
            select(func.count()).select_from(Notification).where(
                Notification.thread_id == busy, Notification.member_id.in_(
                    select(Member.id).where(Member.pseudonym.like("suiveur%")))))
    assert told == 80  # two replies, forty followers each


async def test_whether_a_thread_needs_care_is_one_probe_of_its_partial_index(
    database: Database,
) -> None:
    """The help banner's question reads the partial index ``ix_post_needs_care`` (which holds
    only the concerning posts), not every post of the thread."""
    from sqlalchemy import text

    from forum.models import NEEDS_CARE, Post

    query = select(Post.id).where(Post.thread_id == 1, text(NEEDS_CARE)).limit(1)
    async with database.reader() as session:
        compiled = str(query.compile(session.bind, compile_kwargs={"literal_binds": True}))
        if database.is_sqlite:
            plan = " ".join(str(row[-1]) for row in await session.execute(
                text(f"EXPLAIN QUERY PLAN {compiled}")))
        else:  # a small test table: make PostgreSQL show what it would do on a large one
            await session.execute(text("SET LOCAL enable_seqscan = off"))
            plan = " ".join(str(row[0]) for row in await session.execute(
                text(f"EXPLAIN {compiled}")))
    assert "ix_post_needs_care" in plan, plan
