"""``forum backup`` / ``forum restore``: a consistent copy taken while members post, restored
into an empty database, holds every post acknowledged before it began, row for row."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from forum import backup
from forum.cli import main as forum_main
from forum.db import Base, Database
from forum.models import Post
from tests.browsing import Browser
from tests.conftest import ON_POSTGRES, TEST_DATABASE_URL
from tests.reliability.helpers import table_rows

if ON_POSTGRES and not (shutil.which("pg_dump") and shutil.which("pg_restore")):
    pytest.skip("pg_dump/pg_restore are missing", allow_module_level=True)


@pytest.fixture
def restored_url(tmp_path: Path) -> str:
    """A fresh, empty database to restore into (next to the test database on PostgreSQL)."""
    if not ON_POSTGRES:
        return f"sqlite+aiosqlite:///{tmp_path / 'restored.db'}"
    url = make_url(TEST_DATABASE_URL)
    name = f"{url.database}_restored"
    for sql in (f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"'):
        subprocess.run(  # noqa: S603 - fixed client, test database server
            [shutil.which("psql") or "psql", "--host", url.host or "127.0.0.1",
             "--port", str(url.port or 5432), "--username", url.username or "postgres",
             "--dbname", "postgres", "--no-psqlrc", "--command", sql],
            check=True, capture_output=True,
        )
    return url.set(database=name).render_as_string(hide_password=False)


async def _opened_thread(browser: Browser) -> int:
    await browser.signup("Sauvegarde")
    page = await browser.start_thread("bien-etre", "Ce qui m'aide le soir", "Une tisane.")
    assert page.status == 303, page.text()
    return int(re.search(r"/t/(\d+)", page.response.headers["location"]).group(1))


async def _reply(browser: Browser, thread_id: int, body: str) -> int:
    """Reply through the form, on the thread's last page (where the form is)."""
    thread = await browser.get(f"/t/{thread_id}")
    if not thread.all("#reply-form"):
        last = thread.one("a[href*='#reply-form']")["href"].split("#")[0]
        thread = await browser.get(last)
    page = await browser.submit(thread.form("#reply-form"), {"body": body})
    assert page.status == 303, page.text()
    return int(page.response.headers["location"].rsplit("#post-", 1)[1])


async def test_backup_taken_while_members_post_restores_every_acknowledged_post(
    browser: Browser, demo: None, settings: Any, restored_url: str, tmp_path: Path
) -> None:
    thread_id = await _opened_thread(browser)
    acknowledged = [await _reply(browser, thread_id, f"Avant la copie, n°{n}") for n in range(5)]
    stop = asyncio.Event()

    async def keep_posting() -> int:
        count = 0
        while not stop.is_set() and count < 40:
            await _reply(browser, thread_id, f"Pendant la copie, n°{count}")
            count += 1
        return count

    writer = asyncio.create_task(keep_posting())
    await asyncio.sleep(0.05)
    copy = tmp_path / "forum.backup"
    result = await asyncio.to_thread(backup.backup, settings.database_url, copy)
    stop.set()
    during = await writer

    assert during > 0 and result.size > 0 and result.tables >= 6
    assert await asyncio.to_thread(backup.restore, restored_url, copy) == result.tables
    restored = Database(restored_url, pool=False)
    try:
        async with restored.reader() as session:
            restored_ids = set(await session.scalars(select(Post.id)))
    finally:
        await restored.dispose()
    assert set(acknowledged) <= restored_ids
    # One snapshot: what the copy holds is exactly the source's rows up to some moment.
    source = await table_rows(settings.database_url, Post.__table__)
    copied = await table_rows(restored_url, Post.__table__)
    assert copied == source[: len(copied)]


async def test_cli_round_trip_gives_back_the_same_rows_in_every_table(
    browser: Browser, demo: None, settings: Any, restored_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    thread_id = await _opened_thread(browser)
    for n in range(3):
        await _reply(browser, thread_id, f"Réponse n°{n}")
    copy = tmp_path / "cli.backup"
    monkeypatch.setenv("FORUM_DATABASE_URL", settings.database_url)
    assert await asyncio.to_thread(forum_main, ["backup", str(copy)]) == 0
    monkeypatch.setenv("FORUM_DATABASE_URL", restored_url)
    assert await asyncio.to_thread(forum_main, ["restore", str(copy)]) == 0
    assert "Restored" in capsys.readouterr().out

    for table in Base.metadata.sorted_tables:
        assert await table_rows(restored_url, table) == \
            await table_rows(settings.database_url, table), table.name


async def test_restore_refuses_a_database_that_already_has_tables(
    browser: Browser, demo: None, settings: Any, tmp_path: Path
) -> None:
    copy = tmp_path / "forum.backup"
    await asyncio.to_thread(backup.backup, settings.database_url, copy)
    before = await table_rows(settings.database_url, Post.__table__)

    with pytest.raises(backup.BackupError, match="already has .* table"):
        await asyncio.to_thread(backup.restore, settings.database_url, copy)
    assert await table_rows(settings.database_url, Post.__table__) == before


async def test_cli_refuses_to_overwrite_a_file_or_to_restore_something_not_a_backup(
    demo: None, settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "forum.backup"
    copy.write_text("an earlier file")
    monkeypatch.setenv("FORUM_DATABASE_URL", settings.database_url)

    with pytest.raises(SystemExit, match="already exists"):
        await asyncio.to_thread(forum_main, ["backup", str(copy)])
    assert copy.read_text() == "an earlier file"
    with pytest.raises(SystemExit, match="restore refused"):
        await asyncio.to_thread(forum_main, ["restore", str(copy)])
