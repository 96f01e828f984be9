"""Members' own cached pages (``forum/cache.py``: ``PageCache._serve_member``), through real
HTTP requests: each member gets their own copy and nobody else's, with their own CSRF token,
and every write that changes what they see (theirs or someone else's) makes it forget.

The whole suite also runs behind this cache (``tests/conftest.py``), so every test that reads
a page again after a write checks it too; these tests aim at what those do not."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import event, select, update

from forum import actions, changes, queries
from forum.cache import MEMBERS, PageCache, member_tag, tags_for, with_page_cache
from forum.config import Settings
from forum.db import Database, utcnow
from forum.models import Member, Notification, Post, Role
from forum.sessions import SessionProbe
from moderation import actions as ma
from tests.browsing import Page, another_browser
from tests.conftest import require_redis


def name_in_header(page: Page) -> str:
    return page.one(".account-nav__name").get_text(strip=True)


def unread_badge(page: Page) -> str | None:
    badge = page.one("#unread-notifications").select_one(".badge")
    return badge.get_text().strip() if badge else None


def post_id_of(result: Page) -> int:
    match = re.search(r"#post-(\d+)", result.response.headers["location"])
    assert match, result.response.headers["location"]
    return int(match.group(1))


async def member_id(database: Database, pseudonym: str) -> int:
    async with database.reader() as session:
        return int(await session.scalar(select(Member.id).where(Member.pseudonym == pseudonym)))


async def test_each_member_reads_their_own_copy_with_their_own_token(
    app: PageCache, demo: None
) -> None:
    async with (another_browser(app) as glycine, another_browser(app) as bleuet,
                another_browser(app) as visitor):
        await glycine.signup("Glycine")
        await bleuet.signup("Bleuet")
        await glycine.get("/t/1")
        hits = app.member_hits
        again = await glycine.get("/t/1")
        assert app.member_hits == hits + 1
        assert name_in_header(again) == "Glycine"
        assert name_in_header(await bleuet.get("/t/1")) == "Bleuet"
        assert not (await visitor.get("/t/1")).all(".account-nav__name")
        token = glycine.client.cookies.get("csrftoken")
        assert again.hx_headers()["x-csrftoken"] == token
        assert {i["value"] for i in again.all("input[name=_csrf_token]")} == {token}
        assert app.placeholder not in again.response.text
        # A form of the cached page works: it carries this member's token.
        post_id = int(str(again.all("article.post")[0]["id"]).removeprefix("post-"))
        given = await glycine.submit(again.form(f"#reactions-{post_id} form"), {"kind": "merci"})
        assert given.status == 303


async def test_the_author_sees_who_reacted_on_a_page_they_had_read(
    app: PageCache, demo: None
) -> None:
    """A reaction names the reader, not the author: it reaches the author's copy through the
    thread it is in."""
    async with another_browser(app) as author, another_browser(app) as reader:
        await author.signup("Hirondelle")
        post_id = post_id_of(await author.reply(1, "Je partage ma journée."))
        before = await author.get("/t/1")
        assert not before.all(f"#reactions-{post_id} .reactions__received")
        await reader.signup("Martinet")
        page = await reader.get("/t/1")
        assert (await reader.submit(page.form(f"#reactions-{post_id} form"),
                                    {"kind": "courage"})).status == 303
        after = await author.get("/t/1")
        received = after.one(f"#reactions-{post_id} .reactions__received")
        assert "Martinet" in received.get_text()


async def test_a_mention_elsewhere_updates_the_unread_count_on_a_page_already_read(
    app: PageCache, demo: None
) -> None:
    async with another_browser(app) as mentioned, another_browser(app) as writer:
        await mentioned.signup("Hirondelle")
        assert unread_badge(await mentioned.get("/t/1")) is None
        assert unread_badge(await mentioned.get("/t/1")) is None
        await writer.signup("Martinet")
        assert (await writer.reply(2, "Merci @Hirondelle pour ton message.")).status == 303
        assert unread_badge(await mentioned.get("/t/1")) == "1"


async def test_an_ended_session_never_gets_the_copy(
    app: PageCache, database: Database, demo: None
) -> None:
    async with another_browser(app) as glycine:
        await glycine.signup("Glycine")
        await glycine.get("/t/1")
        cookie = glycine.client.cookies.get("entrepairs")
        assert name_in_header(await glycine.get("/t/1")) == "Glycine"
        async with database.writing() as session:
            await actions.do_end_session(session, cookie)
        page = await glycine.get("/t/1")
        assert not page.all(".account-nav__name")
        assert "Glycine" not in page.response.text


async def test_moderators_and_admins_are_never_served_a_copy(
    app: PageCache, database: Database, demo: None
) -> None:
    """Their pages show queues that other members' writes change."""
    async with another_browser(app) as moderator:
        await moderator.signup("Veilleuse")
        await moderator.get("/t/1")
        assert app.member_misses and app.member_pages is not None
        async with database.writing() as session:
            member = await session.get(Member, await member_id(database, "Veilleuse"))
            member.role = Role.ADMIN
        hits, misses = app.member_hits, app.member_misses
        for _ in range(2):
            assert name_in_header(await moderator.get("/t/1")) == "Veilleuse"
        assert (app.member_hits, app.member_misses) == (hits, misses)


async def test_a_new_moderator_stops_being_served_their_copy(
    app: PageCache, database: Database, demo: None
) -> None:
    async with another_browser(app) as member:
        await member.signup("Veilleuse")
        await member.get("/t/1")
        await member.get("/t/1")
        assert not (await member.get("/t/1")).all("a[href='/mod']")
        async with database.writing() as session:
            veilleuse = await session.get(Member, await member_id(database, "Veilleuse"))
            admin = await session.scalar(select(Member).where(Member.role == Role.ADMIN))
            space = (await queries.list_spaces(session))[0]
            await ma.do_add_moderator(session, space, veilleuse, actor=admin, reason="test")
        assert (await member.get("/t/1")).all("a[href='/mod']")


async def test_choosing_english_shows_the_next_page_in_english(
    app: PageCache, database: Database, demo: None
) -> None:
    async with another_browser(app) as member:
        await member.signup("Glycine")
        assert (await member.get("/t/1")).soup.html["lang"] == "fr"
        assert (await member.get("/t/1")).soup.html["lang"] == "fr"
        async with database.writing() as session:
            await session.execute(update(Member).where(Member.pseudonym == "Glycine")
                                  .values(locale="en"))
        assert (await member.get("/t/1")).soup.html["lang"] == "en"


async def test_notices_marked_read_outside_a_request_refresh_the_members_copy(
    app: PageCache, database: Database, demo: None
) -> None:
    """An action run outside a request (a CLI, a background task) declares its member like any
    other: their copy is forgotten."""
    async with another_browser(app) as reader, another_browser(app) as writer:
        await reader.signup("Hirondelle")
        await writer.signup("Martinet")
        assert (await writer.reply(2, "Coucou @Hirondelle.")).status == 303
        assert unread_badge(await reader.get("/t/1")) == "1"
        assert unread_badge(await reader.get("/t/1")) == "1"
        me = await member_id(database, "Hirondelle")
        async with database.writing() as session:
            await actions.do_mark_read(session, await session.get(Member, me))
        assert unread_badge(await reader.get("/t/1")) is None


async def test_the_counters_a_write_bumps_name_the_members_it_touches(
    app: PageCache, database: Database, demo: None
) -> None:
    """What the actions declare (forum.changes), and the counters that follow (as the pages
    above show); a raw statement declares nothing."""
    async with another_browser(app) as browser:
        await browser.signup("Hirondelle")
    me = await member_id(database, "Hirondelle")
    async with database.writer() as session:
        await actions.do_follow(session, me, 1)
        assert tags_for(changes.of(session)) == {member_tag(me)}
        await session.rollback()
    async with database.writer() as session:
        post = await session.get(Post, 1)
        assert post is not None
        reader = await session.get(Member, me)
        await actions.do_toggle_reaction(session, post, member=reader, kind="merci")
        tags = tags_for(changes.of(session))
        assert {member_tag(me), member_tag(post.author_id)} <= tags  # the author sees who
        assert MEMBERS not in tags
        await session.rollback()
    async with database.writer() as session:
        await session.execute(update(Notification).values(read_at=utcnow()))
        assert not changes.of(session)
        await session.rollback()


@pytest.mark.usefixtures("demo")
async def test_member_pages_are_never_stored_in_redis(app: PageCache, settings: Settings
                                                      ) -> None:
    """With Redis, visitors' pages are shared there; a member's copy stays in the process."""
    redis_url = require_redis()
    shared = with_page_cache(app.app, replace(settings, redis_url=redis_url))
    assert isinstance(shared, PageCache)
    async with another_browser(shared) as member:
        await member.signup("Glycine")
        await member.get("/t/1")
        page = await member.get("/t/1")
        assert shared.member_hits == 1 and name_in_header(page) == "Glycine"
        follow = await member.submit(page.form("form[action='/t/1/follow']"))
        assert follow.status == 303  # a write that names the member: its counter, in Redis
    client = Redis.from_url(redis_url)
    try:
        keys = [k.decode() for k in await client.keys(shared.backend.prefix + "*")]
    finally:
        await client.aclose()
    assert not [k for k in keys if "|m" in k or k.startswith(shared.backend.prefix + "m")]
    assert any(k.startswith(shared.backend.prefix + "gen:member:") for k in keys)
    await shared.backend.close()


async def test_on_sqlite_a_copy_is_answered_without_the_pooled_engine(
    app: PageCache, database: Database, demo: None
) -> None:
    """The session of a request the cache answers is read by ``SessionProbe`` on the event
    loop (what ``TableSessions.find`` reads); the app's pooled engine runs no statement."""
    if not database.is_sqlite:
        pytest.skip("SQLite only: elsewhere the session store is asked, as the app asks it")
    async with another_browser(app) as member:
        await member.signup("Glycine")
        await member.get("/t/1")
        statements: list[str] = []

        def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            statements.append(statement)

        engines = [engine.sync_engine for engine in database.engines]
        for engine in engines:
            event.listen(engine, "before_cursor_execute", count)
        try:
            hits = app.member_hits
            page = await member.get("/t/1")
        finally:
            for engine in engines:
                event.remove(engine, "before_cursor_execute", count)
        assert app.member_hits == hits + 1 and name_in_header(page) == "Glycine"
        assert statements == []


async def test_the_session_probe_reads_the_session_and_fails_to_none(
    app: PageCache, database: Database, tmp_path: Path, demo: None
) -> None:
    if not database.is_sqlite:
        pytest.skip("SQLite only")
    async with another_browser(app) as member:
        await member.signup("Glycine")
        token = member.client.cookies.get("entrepairs")
    probe = SessionProbe(database.url)
    try:
        row = probe.find(token)
        assert row is not None
        assert row.id == await member_id(database, "Glycine")
        assert row.role == Role.MEMBER and row.expires_at > utcnow()
        assert probe.find("not-a-session") is None
    finally:
        probe.close()
    broken = SessionProbe(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'none.db'}")
    assert broken.find(token) is None
    broken.close()
    # a file that is not there is not created by asking it (an empty database nobody made)
    absent = tmp_path / "absent.db"
    probe = SessionProbe(f"sqlite+aiosqlite:///{absent}")
    assert probe.find(token) is None
    probe.close()
    assert not absent.exists()


async def test_the_session_probe_reads_each_fact_as_the_app_reads_it(
    app: PageCache, database: Database, demo: None
) -> None:
    """Field by field, the probe's row equals what the ORM reads for the same session (the
    app's own check), for a plain member and for one whose every fact is set: a suspension
    with microseconds, peer moderation, a ban, a language and a region; and it follows a
    change of the member's row at once (no copy kept)."""
    if not database.is_sqlite:
        pytest.skip("SQLite only: the probe reads the SQLite file itself")
    async with another_browser(app) as member:
        await member.signup("Glycine")
        token = member.client.cookies.get("entrepairs")
    glycine = await member_id(database, "Glycine")
    probe = SessionProbe(database.url)
    fields = ("expires_at", "last_seen_at", "status", "role", "is_peer_moderator", "banned",
              "suspended_until", "locale", "region")

    async def both() -> tuple[tuple[object, ...], tuple[object, ...]]:
        async with database.reader() as session:
            found = await queries.get_session_with_member(session, token)
        assert found is not None
        member_session, row = found
        orm = (member_session.expires_at, member_session.last_seen_at, row.status, row.role,
               row.is_peer_moderator, row.banned, row.suspended_until, row.locale, row.region)
        probed = probe.find(token)
        assert probed is not None and probed.id == glycine
        return orm, tuple(getattr(probed, name) for name in fields)

    try:
        orm, probed = await both()
        assert probed == orm
        assert [type(value) for value in probed] == [type(value) for value in orm]
        until = utcnow().replace(microsecond=123456) + timedelta(days=3)
        async with database.writing() as session:
            await session.execute(update(Member).where(Member.id == glycine).values(
                suspended_until=until, is_peer_moderator=True, banned=True,
                locale="en", region="BE"))
        orm, probed = await both()
        assert probed == orm
        assert probed[fields.index("suspended_until")] == until
        assert probed[fields.index("is_peer_moderator")] is True
    finally:
        probe.close()


async def test_a_member_asking_several_times_at_once_for_a_page_costs_one_render(
    app: PageCache, demo: None
) -> None:
    """Single flight on members' copies too: requests for a page being rendered for the same
    member (several tabs, a page of theirs expiring under load) wait for that render instead
    of each starting one."""
    import asyncio

    import httpx

    async with another_browser(app) as glycine:
        await glycine.signup("Glycine")
        cookie = "; ".join(f"{name}={value}" for name, value in glycine.client.cookies.items())
        # httpx's ASGI transport runs them at once on this event loop, as uvicorn would.
        clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://testserver.local",
                                     headers={"Cookie": cookie}) for _ in range(8)]
        misses, hits, shared = app.member_misses, app.member_hits, app.shared
        responses = await asyncio.gather(*(client.get("/t/2") for client in clients))
        for client in clients:
            await client.aclose()
    assert [r.status_code for r in responses] == [200] * 8
    assert all("Glycine" in r.text for r in responses)
    assert app.member_misses == misses + 1
    assert (app.shared - shared) + (app.member_hits - hits) == 7 and app.shared > shared
