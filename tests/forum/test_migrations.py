"""The schema comes only from the migrations: upgrading an empty database gives exactly the
models' schema, on SQLite and on PostgreSQL."""

import asyncio
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from litestar.testing import AsyncTestClient
from sqlalchemy import insert, inspect, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from forum.app import create_app
from forum.config import ROOT, Settings
from forum.db import Base, Database
from forum.models import Post, PostRevision, Space, Thread
from forum.passwords import Hasher
from forum.pseudonyms import uniqueness_key
from forum.schema import include_object
from tests.browsing import Browser
from tests.conftest import ON_POSTGRES, TEST_DATABASE_URL, empty_schema


def _upgrade_in_a_fresh_process(url: str) -> None:
    # `forum db upgrade` runs Alembic with its own event loop: run it as the CLI does.
    result = subprocess.run(
        [sys.executable, "-m", "forum.cli", "db", "upgrade"], cwd=ROOT, capture_output=True,
        text=True, env={"FORUM_DATABASE_URL": url, "PATH": "/usr/bin:/bin"}, timeout=120,
    )
    assert result.returncode == 0, result.stderr


async def _differences(url: str) -> list:
    engine = create_async_engine(url)

    def compare(connection):  # noqa: ANN001, ANN202
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": include_object})
        return compare_metadata(context, Base.metadata)

    async with engine.connect() as connection:
        diffs = await connection.run_sync(compare)
        tables = await connection.run_sync(lambda c: inspect(c).get_table_names())
    await engine.dispose()
    return [d for d in diffs if "alembic_version" not in repr(d)], tables


async def test_upgrading_an_empty_database_gives_the_models_schema(tmp_path: Path) -> None:
    url = TEST_DATABASE_URL if ON_POSTGRES else f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    await empty_schema(url)
    await asyncio.to_thread(_upgrade_in_a_fresh_process, url)
    diffs, tables = await _differences(url)
    assert diffs == [], diffs
    assert set(Base.metadata.tables) <= set(tables)


def _upgrade_to(url: str, revision: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", f"from forum.schema import upgrade; upgrade({url!r}, {revision!r})"],
        cwd=ROOT, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, timeout=120)
    assert result.returncode == 0, result.stderr


def _downgrade_to(url: str, revision: str) -> None:
    code = ("from alembic import command; from forum.schema import alembic_config; "
            f"command.downgrade(alembic_config({url!r}), {revision!r})")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, env={"PATH": "/usr/bin:/bin"}, timeout=120)
    assert result.returncode == 0, result.stderr


async def _columns(url: str, table: str) -> set[str]:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        found = await connection.run_sync(lambda c: inspect(c).get_columns(table))
    await engine.dispose()
    return {column["name"] for column in found}


async def test_post_language_comes_and_goes_without_touching_the_posts(tmp_path: Path) -> None:
    """Migration 0007 on real rows: posts and revisions gain a NULL ``lang`` (no mark, the
    page's language); a downgrade drops it and keeps every post, and upgrading again gives
    the models' schema."""
    url = TEST_DATABASE_URL if ON_POSTGRES else f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    await empty_schema(url)
    await asyncio.to_thread(_upgrade_to, url, "0006")
    engine = create_async_engine(url)
    async with engine.begin() as connection:  # only columns that exist at 0006 are written
        await connection.execute(text(  # the columns of then: the model has more now
            "INSERT INTO member (id, pseudonym, pseudonym_key, password_hash, recovery_hash,"
            " role, status, trained_helper, is_peer_moderator, banned, created_at) VALUES "
            "(1, 'Glycine', 'glycine', 'x', 'x', 'member', 'active', false, false, false, "
            ":now)"), {"now": datetime(2026, 11, 1, tzinfo=UTC)})
        await connection.execute(insert(Space.__table__).values(id=1, slug="s", name="S"))
        await connection.execute(insert(Thread.__table__).values(
            id=1, space_id=1, author_id=1, title="Un fil"))
        await connection.execute(insert(Post.__table__).values(
            id=1, thread_id=1, number=1, author_id=1, source="Bonjour", html="<p>Bonjour</p>",
            renderer_version=1))
        await connection.execute(insert(PostRevision.__table__).values(
            id=1, post_id=1, source="Salut", html="<p>Salut</p>", renderer_version=1))
    await engine.dispose()
    assert "lang" not in await _columns(url, "post")

    await asyncio.to_thread(_upgrade_to, url, "0007")
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        assert (await connection.execute(select(Post.lang, Post.source))).all() == [
            (None, "Bonjour")]
        assert (await connection.execute(select(PostRevision.lang))).all() == [(None,)]
        await connection.execute(update(Post.__table__).values(lang="en"))
    await engine.dispose()

    await asyncio.to_thread(_downgrade_to, url, "0006")
    assert "lang" not in await _columns(url, "post")
    assert "lang" not in await _columns(url, "post_revision")
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT source FROM post"))).all() == [
            ("Bonjour",)]
        assert (await connection.execute(text("SELECT source FROM post_revision"))).all() == [
            ("Salut",)]
    await engine.dispose()

    await asyncio.to_thread(_upgrade_to, url, "head")
    diffs, _ = await _differences(url)
    assert diffs == [], diffs


async def test_pseudonym_keys_lose_their_separators_and_both_look_alikes_still_log_in(
    tmp_path: Path,
) -> None:
    """Migration 0005 on real rows: keys fold their separators; of two names that differ only
    by separators the older takes the new key, the younger keeps its own, and each still logs
    in by the name it chose (on PostgreSQL too: a key may hold no NUL byte)."""
    url = TEST_DATABASE_URL if ON_POSTGRES else f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    await empty_schema(url)
    await asyncio.to_thread(_upgrade_to, url, "0004")
    hasher = Hasher(cheap=True)

    def password(name: str) -> str:  # each their own: logging into the wrong account fails
        return f"la phrase de passe de {name}, assez longue"
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        for member_id, name in ((1, "LucioleTest"), (2, "Luciole-Test"), (3, "Gardien_")):
            old_key = uniqueness_key(name, fold_separators=False)  # the key before 0005
            await connection.execute(text(
                "INSERT INTO member (id, pseudonym, pseudonym_key, password_hash, recovery_hash,"
                " role, status, trained_helper, is_peer_moderator, banned, created_at) VALUES "
                "(:id, :name, :key, :hash, :hash, 'member', 'active', false, false, false, "
                ":now)"), {"id": member_id, "name": name, "key": old_key,
                           "now": datetime(2026, 11, member_id, tzinfo=UTC),
                           "hash": await hasher.hash(password(name))})
    await engine.dispose()
    await asyncio.to_thread(_upgrade_to, url, "head")
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        keys = dict((await connection.execute(
            text("SELECT pseudonym, pseudonym_key FROM member"))).all())
    await engine.dispose()
    assert keys == {"LucioleTest": uniqueness_key("LucioleTest"),  # the older takes it
                    "Luciole-Test": uniqueness_key("Luciole-Test", fold_separators=False),
                    "Gardien_": uniqueness_key("Gardien")}
    assert uniqueness_key("LucioleTest") == uniqueness_key("Luciole-Test")

    settings = Settings(env="test", database_url=url, secret_key="t" * 48,
                        base_url="http://testserver.local").validated()
    app = create_app(settings, hasher=hasher, database=Database(url, pool=False))
    for typed, account in (("LucioleTest", "LucioleTest"), ("Luciole-Test", "Luciole-Test"),
                           ("Gardien_", "Gardien_"), ("Gardien", "Gardien_")):
        async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
            page = await Browser(client).login(typed, password(account))
            assert page.status == 303, (typed, page.status)
            me = await client.get("/me")
            assert me.status_code == 200 and account in me.text, typed


async def test_group_sessions_arrive_and_leave_without_touching_the_threads(
        tmp_path: Path) -> None:
    """Migration 0008 copies ``thread`` on SQLite (its new reference): every thread and post
    stays, with no session; a downgrade keeps them too, and upgrading again gives the models'
    schema."""
    url = TEST_DATABASE_URL if ON_POSTGRES else f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    await empty_schema(url)
    await asyncio.to_thread(_upgrade_to, url, "0007")
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text(  # the columns of then: the model has more now
            "INSERT INTO member (id, pseudonym, pseudonym_key, password_hash, recovery_hash,"
            " role, status, trained_helper, is_peer_moderator, banned, created_at) VALUES "
            "(1, 'Glycine', 'glycine', 'x', 'x', 'member', 'active', false, false, false, "
            ":now)"), {"now": datetime(2026, 11, 1, tzinfo=UTC)})
        await connection.execute(insert(Space.__table__).values(id=1, slug="s", name="S"))
        await connection.execute(insert(Thread.__table__).values(
            id=7, space_id=1, author_id=1, title="Un fil", pinned=True, post_count=1))
        await connection.execute(insert(Post.__table__).values(
            id=1, thread_id=7, number=1, author_id=1, source="Bonjour", html="<p>Bonjour</p>",
            renderer_version=1, lang="fr"))
    await engine.dispose()

    await asyncio.to_thread(_upgrade_to, url, "0008")
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        assert (await connection.execute(select(
            Thread.id, Thread.title, Thread.pinned, Thread.group_session_id))).all() == [
            (7, "Un fil", True, None)]
        assert (await connection.execute(select(Post.thread_id, Post.source))).all() == [
            (7, "Bonjour")]
    await engine.dispose()

    await asyncio.to_thread(_downgrade_to, url, "0007")
    assert "group_session_id" not in await _columns(url, "thread")
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT id, title FROM thread"))).all() == [
            (7, "Un fil")]
        assert (await connection.execute(text("SELECT source FROM post"))).all() == [
            ("Bonjour",)]
    await engine.dispose()

    await asyncio.to_thread(_upgrade_to, url, "head")
    diffs, _ = await _differences(url)
    assert diffs == [], diffs


async def test_conversations_arrive_and_leave_and_never_turn_a_private_thread_public(
        tmp_path: Path) -> None:
    """Migration 0009: members keep their rows and do not accept member requests; threads stay
    (copied on SQLite); a downgrade refuses while a conversation's thread exists (it would
    become a public thread of its space), and goes once it is gone."""
    url = TEST_DATABASE_URL if ON_POSTGRES else f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    await empty_schema(url)
    await asyncio.to_thread(_upgrade_to, url, "0008")
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text(
            "INSERT INTO member (id, pseudonym, pseudonym_key, password_hash, recovery_hash,"
            " role, status, trained_helper, is_peer_moderator, banned, created_at) VALUES "
            "(1, 'Glycine', 'glycine', 'x', 'x', 'member', 'active', false, false, false, "
            ":now)"), {"now": datetime(2026, 11, 1, tzinfo=UTC)})
        await connection.execute(insert(Space.__table__).values(id=1, slug="s", name="S"))
        await connection.execute(text(
            "INSERT INTO thread (id, space_id, author_id, title, created_at, last_activity_at,"
            " post_count, reply_count, pinned, locked) VALUES (7, 1, 1, 'Un fil', :now, :now,"
            " 0, 0, false, false)"), {"now": datetime(2026, 11, 1, tzinfo=UTC)})
    await engine.dispose()

    await asyncio.to_thread(_upgrade_to, url, "0009")
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        assert (await connection.execute(text(
            "SELECT id, accepts_conversations FROM member"))).all() == [(1, False)]
        assert (await connection.execute(text(
            "SELECT id, title, conversation_id FROM thread"))).all() == [(7, "Un fil", None)]
        await connection.execute(text(
            "INSERT INTO conversation (id, member_id, space_id, lang, kind, status, created_at)"
            " VALUES (3, 1, 1, 'fr', 'helper', 'waiting', :now)"),
            {"now": datetime(2026, 11, 2, tzinfo=UTC)})
        await connection.execute(text(
            "INSERT INTO thread (id, space_id, author_id, title, created_at, last_activity_at,"
            " post_count, reply_count, pinned, locked, conversation_id) VALUES (8, 1, 1,"
            " 'Conversation', :now, :now, 0, 0, false, false, 3)"),
            {"now": datetime(2026, 11, 2, tzinfo=UTC)})
    await engine.dispose()

    with pytest.raises(AssertionError, match="conversation thread"):  # its stderr
        await asyncio.to_thread(_downgrade_to, url, "0008")
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM thread WHERE id = 8"))
    await engine.dispose()
    await asyncio.to_thread(_downgrade_to, url, "0008")
    assert "conversation_id" not in await _columns(url, "thread")
    assert "accepts_conversations" not in await _columns(url, "member")

    await asyncio.to_thread(_upgrade_to, url, "head")
    diffs, _ = await _differences(url)
    assert diffs == [], diffs


async def test_search_entries_take_their_threads_space_and_a_move_leaves_the_text_index_alone(
        tmp_path: Path) -> None:
    """Migration 0010: an entry written before a move (its old space) gets its thread's space;
    the others are untouched. On SQLite, the full-text mirror still follows a change of text,
    but no longer fires on a change of space."""
    url = TEST_DATABASE_URL if ON_POSTGRES else f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    await empty_schema(url)
    await asyncio.to_thread(_upgrade_to, url, "0009")
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text(
            "INSERT INTO member (id, pseudonym, pseudonym_key, password_hash, recovery_hash,"
            " role, status, trained_helper, is_peer_moderator, banned, created_at,"
            " accepts_conversations) VALUES (1, 'Glycine', 'glycine', 'x', 'x', 'member',"
            " 'active', false, false, false, :now, false)"),
            {"now": datetime(2026, 11, 1, tzinfo=UTC)})
        await connection.execute(insert(Space.__table__), [
            {"id": 1, "slug": "a", "name": "A"}, {"id": 2, "slug": "b", "name": "B"}])
        await connection.execute(insert(Thread.__table__), [
            {"id": 7, "space_id": 2, "author_id": 1, "title": "Déplacé", "post_count": 1},
            {"id": 8, "space_id": 1, "author_id": 1, "title": "Resté", "post_count": 1}])
        await connection.execute(insert(Post.__table__), [
            {"id": 1, "thread_id": 7, "number": 1, "author_id": 1, "source": "nuit blanche",
             "html": "<p>nuit blanche</p>", "renderer_version": 1},
            {"id": 2, "thread_id": 8, "number": 1, "author_id": 1, "source": "matin calme",
             "html": "<p>matin calme</p>", "renderer_version": 1}])
        await connection.execute(text(  # post 1's entry still says space 1: moved before 0010
            "INSERT INTO search_document (post_id, thread_id, space_id, title, body) VALUES"
            " (1, 7, 1, 'Déplacé', 'nuit blanche'), (2, 8, 1, 'Resté', 'matin calme')"))
    await engine.dispose()

    await asyncio.to_thread(_upgrade_to, url, "0010")
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        assert (await connection.execute(text(
            "SELECT post_id, space_id, body FROM search_document ORDER BY post_id"))).all() == [
            (1, 2, "nuit blanche"), (2, 1, "matin calme")]
        if not ON_POSTGRES:
            assert await _fts_writes_on_a_move(connection) == 0
            await connection.execute(text(
                "UPDATE search_document SET body = 'aube claire' WHERE post_id = 2"))
            found = await connection.scalars(text(
                "SELECT rowid FROM search_fts WHERE search_fts MATCH 'aube'"))
            assert list(found) == [2]
    await engine.dispose()

    await asyncio.to_thread(_downgrade_to, url, "0009")
    if not ON_POSTGRES:  # the trigger of 0009 is back: it rewrote the entry on any update
        engine = create_async_engine(url)
        async with engine.begin() as connection:
            assert await _fts_writes_on_a_move(connection) > 0
        await engine.dispose()
    await asyncio.to_thread(_upgrade_to, url, "head")
    diffs, _ = await _differences(url)
    assert diffs == [], diffs


async def _fts_writes_on_a_move(connection: AsyncConnection) -> int:
    """How many rows FTS5 writes to its own storage when an entry changes space only."""
    count = text("SELECT count(*) FROM search_fts_data")
    before = await connection.scalar(count)
    await connection.execute(text(
        "UPDATE search_document SET space_id = 3 - space_id WHERE post_id = 1"))
    return await connection.scalar(count) - before
