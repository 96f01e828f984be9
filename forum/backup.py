"""Backups: a consistent copy of the database while the forum runs, and its restoration.

- SQLite: the online backup API (``sqlite3.Connection.backup``) copies every page in one step
  inside a read transaction, so the copy is one consistent snapshot even while members post
  (WAL: the copy never blocks the writer). The copy is written beside ``PATH`` and renamed
  into place only once it passes ``PRAGMA integrity_check``.
- PostgreSQL: ``pg_dump -Fc --no-owner --no-privileges`` (one snapshot, a repeatable-read
  transaction); ``pg_restore --no-owner --no-privileges --exit-on-error --single-transaction``
  brings it back. Connection parameters come from the database URL; a password, if any, goes
  through ``PGPASSWORD`` so that it never shows in the process list.

A restore goes only into an EMPTY database: it refuses, with :class:`BackupError`, when the
target already has tables, so that a restore never mixes two forums or overwrites one.

A backup holds health-related posts and password hashes: every file written here (the copy,
a restored SQLite database) is created mode 0600, readable by its owner only, whatever the
umask.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from forum.db import PRIVATE_FILE_MODE

PG_TIMEOUT_SECONDS = 3600


class BackupError(Exception):
    """A backup or restore cannot be done; the message says why, in plain words."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    tables: int


def backup(database_url: str, path: str | os.PathLike[str]) -> BackupResult:
    """Write a consistent copy of the database to ``path`` (which must not exist yet)."""
    target = Path(path)
    if target.exists():
        raise BackupError(f"{target} already exists; choose a new file name")
    if not target.parent.is_dir():
        raise BackupError(f"the directory {target.parent} does not exist")
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        tables = _sqlite_backup(_sqlite_path(url), target)
    elif url.get_backend_name() == "postgresql":
        tables = _pg_dump(url, target)
    else:
        raise BackupError(f"no backup method for {url.get_backend_name()}")
    return BackupResult(path=target, size=target.stat().st_size, tables=tables)


def restore(database_url: str, path: str | os.PathLike[str]) -> int:
    """Restore the backup at ``path`` into the (empty) database; returns its table count."""
    source = Path(path)
    if not source.is_file():
        raise BackupError(f"{source} is not a file")
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_restore(source, _sqlite_path(url))
    if url.get_backend_name() == "postgresql":
        return _pg_restore(source, url)
    raise BackupError(f"no restore method for {url.get_backend_name()}")


def _create_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 (the tools then write into it, keeping its mode)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)  # whatever the umask
    finally:
        os.close(fd)


# -- SQLite ----------------------------------------------------------------------------------

def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory database cannot be backed up or restored")
    return Path(url.database).expanduser()


def _sqlite_tables(connection: sqlite3.Connection) -> int:
    row = connection.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ).fetchone()
    return int(row[0])


def _sqlite_check(connection: sqlite3.Connection, what: str) -> None:
    result = [row[0] for row in connection.execute("PRAGMA integrity_check")]
    if result != ["ok"]:
        raise BackupError(f"{what} fails the integrity check: {result[:3]}")
    if connection.execute("PRAGMA foreign_key_check").fetchone() is not None:
        raise BackupError(f"{what} has rows whose foreign keys point nowhere")


def _sqlite_backup(source: Path, target: Path) -> int:
    if not source.is_file():
        raise BackupError(f"the database {source} does not exist")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    _create_private(partial)
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)  # pages=-1: every page in one step, one consistent snapshot
            dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
            _sqlite_check(dst, "the copy")
            tables = _sqlite_tables(dst)
        finally:
            dst.close()
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    partial.replace(target)
    return tables


def _sqlite_restore(source: Path, target: Path) -> int:
    src = sqlite3.connect(source)
    try:
        try:
            _sqlite_check(src, "the backup")
            if _sqlite_tables(src) == 0:
                raise BackupError(f"{source} holds no tables: it is not a forum backup")
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{source} is not a SQLite backup") from exc
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            _create_private(target)
        dst = sqlite3.connect(target, timeout=30)
        try:
            present = _sqlite_tables(dst)
            if present:
                raise BackupError(
                    f"the target database already has {present} table(s); restore only into "
                    "an empty database (point FORUM_DATABASE_URL at a new file)"
                )
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=WAL")
            _sqlite_check(dst, "the restored database")
            return _sqlite_tables(dst)
        finally:
            dst.close()
    finally:
        src.close()


# -- PostgreSQL ------------------------------------------------------------------------------

def _pg_arguments(url: URL) -> tuple[list[str], dict[str, str]]:
    """libpq options and environment for ``url`` (never the password on the command line)."""
    if not url.database:
        raise BackupError("the PostgreSQL URL names no database")
    args = ["--dbname", url.database]
    if url.host:
        args += ["--host", url.host]
    if url.port:
        args += ["--port", str(url.port)]
    if url.username:
        args += ["--username", url.username]
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return args, env


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is missing: install the PostgreSQL client (postgresql-client)")
    return found


def _run(command: list[str], env: dict[str, str], what: str) -> str:
    try:
        done = subprocess.run(  # noqa: S603 - fixed tool, arguments from the settings
            command, env=env, capture_output=True, text=True, timeout=PG_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BackupError(f"{what} took longer than {PG_TIMEOUT_SECONDS} s") from exc
    if done.returncode != 0:
        raise BackupError(f"{what} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def _pg_count_tables(url: URL) -> int:
    args, env = _pg_arguments(url)
    out = _run(
        [_pg_tool("psql"), *args, "--no-psqlrc", "--tuples-only", "--no-align", "--command",
         "SELECT count(*) FROM information_schema.tables WHERE table_schema NOT IN "
         "('pg_catalog', 'information_schema')"],
        env, "counting the tables",
    )
    return int(out.strip() or 0)


def _pg_dump(url: URL, target: Path) -> int:
    args, env = _pg_arguments(url)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        _create_private(partial)  # pg_dump writes into it and keeps its mode
        _run([_pg_tool("pg_dump"), *args, "--format=custom", "--no-owner", "--no-privileges",
              "--file", str(partial)], env, "pg_dump")
        listing = _run([_pg_tool("pg_restore"), "--list", str(partial)], env, "reading the dump")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)
    return sum(1 for line in listing.splitlines() if " TABLE " in line and " DATA " not in line)


def _pg_restore(source: Path, url: URL) -> int:
    args, env = _pg_arguments(url)
    _run([_pg_tool("pg_restore"), "--list", str(source)], env, "reading the backup")
    present = _pg_count_tables(url)
    if present:
        raise BackupError(
            f"the target database already has {present} table(s); restore only into an empty "
            "database (createdb a new one and point FORUM_DATABASE_URL at it)"
        )
    _run([_pg_tool("pg_restore"), *args, "--no-owner", "--no-privileges", "--exit-on-error",
          "--single-transaction", str(source)], env, "pg_restore")
    return _pg_count_tables(url)
