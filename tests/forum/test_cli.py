"""The forum command, run as a person would from a shell."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from forum.config import ROOT
from tests.conftest import ON_POSTGRES


def forum(*args: str, database: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "FORUM_DATABASE_URL": f"sqlite+aiosqlite:///{database}"}
    return subprocess.run([sys.executable, "-m", "forum.cli", *args], cwd=ROOT, env=env,
                          input=stdin, capture_output=True, text=True, timeout=120)


pytestmark = pytest.mark.skipif(ON_POSTGRES, reason="the CLI is exercised on SQLite files")


def test_demo_creates_the_schema_and_seeds_once(tmp_path: Path) -> None:
    database = tmp_path / "demo.db"
    first = forum("demo", database=database)
    assert first.returncode == 0, first.stderr
    with sqlite3.connect(database) as connection:
        counts = [connection.execute(f"select count(*) from {t}").fetchone()[0]
                  for t in ("space", "thread", "post")]
    assert counts[0] >= 8 and counts[1] >= 8 and counts[2] >= 16
    second = forum("demo", database=database)
    assert second.returncode == 0 and "nothing changed" in second.stdout
    with sqlite3.connect(database) as connection:
        again = [connection.execute(f"select count(*) from {t}").fetchone()[0]
                 for t in ("space", "thread", "post")]
    assert again == counts


def test_db_upgrade_migrates_an_empty_file(tmp_path: Path) -> None:
    database = tmp_path / "sub" / "new.db"
    result = forum("db", "upgrade", database=database)
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute("select name from sqlite_master")}
    assert {"member", "space", "thread", "post", "alembic_version"} <= tables


def test_admin_create_reads_the_password_twice_from_stdin(tmp_path: Path) -> None:
    database = tmp_path / "admin.db"
    result = forum("admin", "create", "Équipe", database=database,
                   stdin="un mot de passe solide\nun mot de passe solide\n")
    assert result.returncode == 0, result.stderr
    assert "Recovery code" in result.stdout
    with sqlite3.connect(database) as connection:
        role = connection.execute("select role from member where pseudonym = 'Équipe'").fetchone()
    assert role == ("admin",)


def test_admin_create_refuses_mismatched_passwords_in_one_line(tmp_path: Path) -> None:
    result = forum("admin", "create", "Gardien", database=tmp_path / "a.db",
                   stdin="un mot de passe solide\nun autre mot de passe\n")
    assert result.returncode != 0
    assert "differ" in result.stderr
    assert "Traceback" not in result.stderr
