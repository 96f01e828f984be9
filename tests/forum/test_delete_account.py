"""Deleting one's account, immediately: posts anonymised ("Membre parti·e") or erased
everywhere (revisions, flag copies, search), threads keep their shape, the pseudonym stays
reserved, sessions end."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from pathlib import Path

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from forum.db import Base, Database
from forum.models import (
    Member,
    MemberSession,
    MemberStatus,
    Notification,
    Post,
    PostStatus,
    Thread,
)
from tests.browsing import DEFAULT_PASSWORD, Browser, Page
from tests.conftest import ON_POSTGRES

CANARY = "Zébulon-canari-7731"


async def start_thread(browser: Browser, title: str, body: str) -> int:
    result = await browser.start_thread("anxiete", title, body)
    assert result.status == 303, result.text()
    return int(re.search(r"/t/(\d+)", result.response.headers["location"]).group(1))


async def delete_account(browser: Browser, posts: str, password: str = DEFAULT_PASSWORD) -> Page:
    page = await browser.get("/me/delete")
    return await browser.submit(page.form(), {"posts": posts, "current_password": password})


async def everything_stored(database: Database) -> str:
    """Every row of every table the app knows, as text."""
    parts = []
    async with database.reader() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                parts.append(repr(tuple(row)))
    return "\n".join(parts)


async def scenario(app: Litestar, browser: Browser) -> tuple[int, Browser]:
    """The leaver writes a thread and a reply (edited once), a peer replies and flags."""
    await browser.signup("Partante")
    thread_id = await start_thread(browser, f"Titre {CANARY}", f"Ouverture {CANARY}")
    reply = await browser.reply(thread_id, f"Réponse {CANARY} première version")
    assert reply.status == 303
    page = await browser.get(f"/t/{thread_id}")
    own_reply = page.all("article.post")[1]["id"].removeprefix("post-")
    edit = await browser.get(f"/p/{own_reply}/edit")
    assert (await browser.submit(edit.form("form.composer"),
                                 {"body": f"Réponse {CANARY} corrigée"})).status == 303
    other = AsyncTestClient(app=app, base_url="http://testserver.local")
    await other.__aenter__()
    peer = Browser(other)
    await peer.signup("Restante")
    assert (await peer.reply(thread_id, "Courage, je te lis.")).status == 303
    # The peer now follows the thread: the leaver's next reply notifies them, by pseudonym.
    assert (await browser.reply(thread_id, f"Encore un mot {CANARY}")).status == 303
    flag_form = await peer.get(f"/p/{own_reply}/flag")
    flagged = await peer.submit(flag_form.form("form.flag-form"), {"reason": "spam"})
    assert flagged.status == 200, flagged.text()
    return thread_id, peer


async def test_erase_removes_the_text_everywhere_and_keeps_the_threads_shape(
    app: Litestar, browser: Browser, database: Database, demo: None
) -> None:
    thread_id, peer = await scenario(app, browser)
    try:
        stored = await everything_stored(database)
        assert CANARY in stored
        assert ("zebulon" in stored) is not ON_POSTGRES  # the search vocabulary's folded word
        async with database.reader() as session:
            notices = list(await session.scalars(select(Notification.params)))
        assert any(params.get("author") == "Partante" for params in notices)
        flags = Base.metadata.tables["flag"]
        async with database.reader() as session:
            copies = list(await session.scalars(select(flags.c.text_copy)))
        assert any(CANARY in copy for copy in copies)
        async with database.reader() as session:
            before = await session.get(Thread, thread_id)
        result = await delete_account(browser, "erase")
        assert result.status == 200
        assert result.one("#account-deleted")
        stored = await everything_stored(database)
        assert CANARY not in stored and "Partante" not in stored and "zebulon" not in stored
        async with database.reader() as session:
            thread = await session.get(Thread, thread_id)
            posts = list(await session.scalars(
                select(Post).where(Post.thread_id == thread_id).order_by(Post.number)
            ))
        assert thread.post_count == before.post_count == 4
        assert thread.reply_count == before.reply_count - 2
        assert [p.status for p in posts] == [PostStatus.DELETED, PostStatus.DELETED,
                                             PostStatus.VISIBLE, PostStatus.DELETED]
        assert posts[2].source == "Courage, je te lis."
        page = await peer.get(f"/t/{thread_id}")
        assert page.status == 200 and len(page.all("article.post")) == 4
        assert "Partante" not in page.response.text
    finally:
        await peer.client.__aexit__(None, None, None)


async def test_anonymise_keeps_the_posts_signed_membre_parti(
    app: Litestar, browser: Browser, database: Database, demo: None
) -> None:
    thread_id, peer = await scenario(app, browser)
    try:
        result = await delete_account(browser, "anonymise")
        assert result.status == 200
        page = await peer.get(f"/t/{thread_id}")
        authors = [a.get_text(strip=True) for a in page.all(".post__author")]
        assert authors == ["Membre parti·e", "Membre parti·e", "Restante", "Membre parti·e"]
        assert "Partante" not in page.response.text
        assert f"Réponse {CANARY} corrigée" in page.text()
        async with database.reader() as session:
            assert list(await session.scalars(
                select(Post.number).where(Post.author_id.is_not(None),
                                          Post.thread_id == thread_id))) == [3]
        assert "Partante" not in await everything_stored(database)
    finally:
        await peer.client.__aexit__(None, None, None)


async def test_deletion_ends_sessions_scrubs_the_account_and_keeps_the_pseudonym_reserved(
    app: Litestar, browser: Browser, database: Database
) -> None:
    await browser.signup("Reservee")
    old_cookie = browser.client.cookies.get("entrepairs")
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as other:
        elsewhere = Browser(other)
        await elsewhere.login("Reservee")
        result = await delete_account(browser, "anonymise")
        assert result.status == 200
        assert not result.all(".account-nav__name")
        assert (await elsewhere.get("/me", follow_redirects=False)).status == 303
    browser.client.cookies.set("entrepairs", old_cookie)
    assert (await browser.get("/me", follow_redirects=False)).status == 303
    async with database.reader() as session:
        member = await session.scalar(select(Member).where(Member.pseudonym_key.is_not(None),
                                                           Member.status == MemberStatus.DELETED))
        assert list(await session.scalars(select(MemberSession))) == []
    assert member.pseudonym == "" and member.deleted_at is not None
    assert not member.password_hash.startswith("$argon2")
    assert not member.recovery_hash.startswith("$argon2")
    assert (await browser.login("Reservee")).status == 422
    page = await browser.get("/signup")
    again = await browser.submit(page.form(), {
        "pseudonym": "Reservee", "password": DEFAULT_PASSWORD,
        "password_confirm": DEFAULT_PASSWORD, "consent": "yes",
    })
    assert again.status == 422
    assert "déjà pris" in again.text("#pseudonym-error")


async def test_a_wrong_password_or_no_choice_deletes_nothing(
    browser: Browser, database: Database
) -> None:
    await browser.signup("Encore")
    wrong = await delete_account(browser, "erase", password="pas le bon")
    assert wrong.status == 422
    assert wrong.one("#current_password-error")
    assert wrong.one("input[value=erase]").has_attr("checked")
    page = await browser.get("/me/delete")
    no_choice = await browser.submit(page.form(), {"current_password": DEFAULT_PASSWORD})
    assert no_choice.status == 422 and no_choice.one("#posts-error")
    async with database.reader() as session:
        member = await session.scalar(select(Member).where(Member.pseudonym == "Encore"))
    assert member.status == MemberStatus.ACTIVE
    assert (await browser.get("/me")).status == 200


def file_bytes_after_checkpoint(path: str) -> bytes:
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    files = [Path(path + suffix) for suffix in ("", "-wal")]
    return b"".join(file.read_bytes() for file in files if file.exists())


async def test_erased_text_does_not_linger_in_the_sqlite_file(
    app: Litestar, browser: Browser, database: Database, demo: None
) -> None:
    """Not in the rows, and not in the file's free pages either (``secure_delete``), once the
    write-ahead log is checkpointed: someone who copies the file cannot read it back."""
    if not database.is_sqlite:
        import pytest

        pytest.skip("the file check is SQLite's; PostgreSQL's dead tuples go with VACUUM")
    thread_id, peer = await scenario(app, browser)
    await peer.client.__aexit__(None, None, None)
    path = database.url.split("///", 1)[1]
    result = await delete_account(browser, "erase")
    assert result.status == 200
    raw = file_bytes_after_checkpoint(path)
    assert raw, "the database file was read"
    assert b"Partante" not in raw
    assert CANARY.encode() not in raw
    assert "Zébulon".encode() not in raw
