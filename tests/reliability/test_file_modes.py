"""The database, its WAL and shared-memory files, and backups hold health-related posts and
password hashes: they are created readable by their owner only (0600), even under the usual
umask of 022 (before, they were 0644: readable by every user of the machine).

The commands run as ``make run`` runs them (``forum db upgrade``, ``forum demo``), but with
umask 022 forced, so that the forum's own file creation is what is tested."""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from forum.config import ROOT
from forum.db import Database
from tests.conftest import ON_POSTGRES, TEST_DATABASE_URL, empty_schema


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def forum(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "FORUM_DATABASE_URL": url}
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "forum.cli", *args], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=300, check=False,
        preexec_fn=lambda: os.umask(0o022),  # noqa: PLW1509 - the usual umask
    )


@pytest.fixture
def usual_umask() -> object:
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_make_runs_commands_create_the_database_and_its_wal_readable_by_the_owner_only(
    tmp_path: Path, usual_umask: object
) -> None:
    database = tmp_path / "var" / "forum.db"
    url = f"sqlite+aiosqlite:///{database}"
    for command in (("db", "upgrade"), ("demo",)):
        done = forum(*command, url=url)
        assert done.returncode == 0, done.stderr
    assert mode(database) == 0o600

    async def write_while_open() -> dict[str, int]:
        app_database = Database(url)
        try:
            async with app_database.writing() as session:
                await session.execute(text("UPDATE space SET name = name"))
            async with app_database.reader() as session:  # WAL and -shm exist while open
                await session.execute(text("SELECT count(*) FROM post"))
                return {suffix: mode(Path(f"{database}{suffix}")) for suffix in ("-wal", "-shm")}
        finally:
            await app_database.dispose()

    assert asyncio.run(write_while_open()) == {"-wal": 0o600, "-shm": 0o600}


def test_a_new_database_made_by_the_app_itself_is_private(tmp_path: Path,
                                                          usual_umask: object) -> None:
    database = tmp_path / "fresh.db"

    async def touch() -> None:
        app_database = Database(f"sqlite+aiosqlite:///{database}")
        try:
            async with app_database.writing() as session:
                await session.execute(text("CREATE TABLE t (x INTEGER)"))
        finally:
            await app_database.dispose()

    asyncio.run(touch())
    assert mode(database) == 0o600


def test_an_existing_database_keeps_its_mode(tmp_path: Path, usual_umask: object) -> None:
    database = tmp_path / "shared.db"
    database.touch(mode=0o640)
    os.chmod(database, 0o640)
    done = forum("db", "upgrade", url=f"sqlite+aiosqlite:///{database}")
    assert done.returncode == 0, done.stderr
    assert mode(database) == 0o640  # an administrator's choice is kept


def test_a_sqlite_backup_and_its_restoration_are_readable_by_the_owner_only(
    tmp_path: Path, usual_umask: object
) -> None:
    source = f"sqlite+aiosqlite:///{tmp_path / 'forum.db'}"
    assert forum("demo", url=source).returncode == 0
    copy = tmp_path / "copy.backup"
    done = forum("backup", str(copy), url=source)
    assert done.returncode == 0, done.stderr
    assert mode(copy) == 0o600
    assert not list(tmp_path.glob("*.partial"))
    restored = tmp_path / "restored.db"
    done = forum("restore", str(copy), url=f"sqlite+aiosqlite:///{restored}")
    assert done.returncode == 0, done.stderr
    assert mode(restored) == 0o600


@pytest.mark.skipif(not ON_POSTGRES, reason="needs FORUM_TEST_DATABASE_URL on PostgreSQL")
def test_a_postgresql_backup_is_readable_by_the_owner_only(tmp_path: Path,
                                                          usual_umask: object) -> None:
    if not shutil.which("pg_dump"):
        pytest.skip("pg_dump is missing")
    asyncio.run(empty_schema(TEST_DATABASE_URL))  # whatever the test before left there
    upgraded = forum("db", "upgrade", url=TEST_DATABASE_URL)
    assert upgraded.returncode == 0, upgraded.stderr
    copy = tmp_path / "copy.dump"
    done = forum("backup", str(copy), url=TEST_DATABASE_URL)
    assert done.returncode == 0, done.stderr
    assert mode(copy) == 0o600
