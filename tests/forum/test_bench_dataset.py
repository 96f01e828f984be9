"""The benchmark's dataset is built through the real content gate and serves real pages.

``make bench`` is only run by hand; this keeps its dataset builder working as the models and
the moderation rules grow (a small dataset, on SQLite, in a temporary directory).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from bench import dataset
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
