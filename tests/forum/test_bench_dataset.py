"""The benchmark's dataset looks like a forum's text and serves real pages.

``make bench`` is only run by hand; this keeps its dataset builder working as the models and
the renderer grow (a small dataset, on SQLite, in a temporary directory): every post its own
text, rendered by the content gate's renderer, words drawn by their frequency in French and
English (a vocabulary far beyond the 239 words of the first generator), a tenth in English,
the same for the same seed.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from bench import dataset
from bench.__main__ import SEARCH_WORDS
from bench.words import vocabulary
from forum.app import create_app
from forum.config import Settings
from forum.db import Database
from forum.models import Post, PostStatus, Thread
from forum.passwords import Hasher


@pytest.fixture
async def small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dataset.Dataset:
    monkeypatch.setattr(dataset, "DATA_DIR", tmp_path)
    return await dataset.prepare(posts=1200, threads=60, spaces=3, database_url=None)


async def test_the_dataset_has_the_asked_shape(small: dataset.Dataset) -> None:
    database = Database(small.database_url)
    try:
        async with database.reader() as session:
            assert await session.scalar(select(func.count()).select_from(Post)) == 1200
            assert await session.scalar(select(func.count()).select_from(Thread)) == 60
            assert await session.scalar(
                select(func.count()).select_from(Post).where(
                    Post.status != PostStatus.VISIBLE)) == 0
            assert await session.scalar(
                select(func.count()).select_from(Post).where(Post.html == "")) == 0
            counted = dict((await session.execute(
                select(Post.thread_id, func.count()).group_by(Post.thread_id))).all())
            stored = dict((await session.execute(select(Thread.id, Thread.post_count))).all())
            assert counted == stored
    finally:
        await database.dispose()
    assert small.thread_ids, "the bench needs long threads to read"
    assert len(small.space_slugs) == 3


async def test_the_bench_member_reads_a_long_thread(small: dataset.Dataset) -> None:
    settings = Settings(env="test", database_url=small.database_url, secret_key="b" * 48,
                        base_url="http://testserver.local").validated()
    app = create_app(settings, hasher=Hasher(cheap=True))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        visitor = await client.get(f"/t/{small.thread_ids[0]}")
        assert visitor.status_code == 200
        assert 'action="/logout"' not in visitor.text
        client.cookies.set("entrepairs", small.session_token)
        member = await client.get(f"/t/{small.thread_ids[0]}")
        assert member.status_code == 200
        assert 'action="/logout"' in member.text
        assert member.text.count('<article class="post ') == 30


def _terms_and_languages(url: str) -> tuple[int, dict[str | None, int]]:
    with sqlite3.connect(url.split("///", 1)[1]) as db:
        terms = db.execute("SELECT count(*) FROM search_term").fetchone()[0]
        langs = dict(db.execute("SELECT lang, count(*) FROM post GROUP BY lang").fetchall())
    return terms, langs


async def test_the_vocabulary_is_a_language_s(small: dataset.Dataset) -> None:
    terms, langs = _terms_and_languages(small.database_url)
    # The first generator held 239 distinct words whatever the size; words drawn by their
    # frequency give about 25,000 here (and about 196,000 at 200,000 posts).
    assert terms > 10_000
    assert set(langs) == {"fr", "en"}
    assert 0.07 < langs["en"] / 1200 < 0.13


async def test_the_bench_searches_are_words_of_the_vocabulary() -> None:
    french = set(vocabulary("fr").words)
    assert {word for query in SEARCH_WORDS for word in query.split()} <= french


def _content(url: str) -> str:
    with sqlite3.connect(url.split("///", 1)[1]) as db:
        rows = db.execute(
            "SELECT p.id, p.thread_id, p.number, p.author_id, p.lang, p.source, p.html,"
            " t.title FROM post p JOIN thread t ON t.id = p.thread_id ORDER BY p.id").fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


async def test_the_same_seed_gives_the_same_dataset(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made = []
    for name, seed in (("a", 11), ("b", 11), ("c", 12)):
        monkeypatch.setattr(dataset, "DATA_DIR", tmp_path / name)
        facts = await dataset.prepare(posts=300, threads=15, spaces=2, database_url=None,
                                      seed=seed)
        made.append(_content(facts.database_url))
    assert made[0] == made[1]
    assert made[0] != made[2]


async def test_a_dataset_of_another_version_is_not_reused(small: dataset.Dataset) -> None:
    database = Database(small.database_url)
    try:
        assert await dataset._is_current(database, 1200)
        assert not await dataset._is_current(database, 1300)
        with sqlite3.connect(small.database_url.split("///", 1)[1]) as db:
            db.execute("UPDATE bench_dataset SET version = version - 1")
        assert not await dataset._is_current(database, 1200)
    finally:
        await database.dispose()
    assert f"-v{dataset.DATASET_VERSION}" in small.database_url


def test_the_vocabulary_searches_are_200_of_four_kinds_and_the_same_each_run() -> None:
    from bench import vocabulary as vocabulary_bench

    drawn = vocabulary_bench.queries()
    assert drawn == vocabulary_bench.queries()
    assert len(drawn) == 200
    kinds = {kind: [query for k, query in drawn if k == kind] for kind in vocabulary_bench.KINDS}
    assert all(len(queries) == 50 for queries in kinds.values())
    assert all(query.endswith("*") and 3 <= len(query) - 1 <= 6 for query in kinds["prefix"])
    # 3 to 8 words drawn; an elided French word is written glued to the next ("l'ami").
    assert all(2 <= len(query.split()) <= 8 for query in kinds["phrase"])
    assert len(set(kinds["common"]) | set(kinds["rare"])) > 90  # drawn, not one word repeated


async def test_the_vocabulary_searches_run_on_a_dataset(small: dataset.Dataset) -> None:
    from bench import vocabulary as vocabulary_bench

    result = await vocabulary_bench._run(small.database_url)
    assert result["queries"] == 200
    assert set(result["kinds"]) == set(vocabulary_bench.KINDS)
    assert result["p50_ms"] <= result["p95_ms"] <= result["max_ms"]
    ranked = sum(kind["ordered_by"].get("relevance", 0) for kind in result["kinds"].values())
    assert ranked > 0  # a small forum ranks its searches
