"""The schema comes only from the migrations: upgrading an empty database gives exactly the
models' schema, on SQLite and on PostgreSQL."""

import asyncio
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from forum.config import ROOT
from forum.db import Base
from forum.schema import include_object
from tests.conftest import ON_POSTGRES, TEST_DATABASE_URL


async def _empty_database(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


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
    await _empty_database(url)
    await asyncio.to_thread(_upgrade_in_a_fresh_process, url)
    diffs, tables = await _differences(url)
    assert diffs == [], diffs
    assert set(Base.metadata.tables) <= set(tables)
