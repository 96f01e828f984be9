"""Bringing a database up to date with the migrations, and asking where it stands; or, for
tests and tools, building it at once from the models (:func:`create_all`)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from forum.config import ROOT
from forum.db import Base, create_private_sqlite_file

DDL_MODULES = ("forum.search", "moderation.models")
"""The modules that attach to the models the schema ``create_all`` cannot express: the search
index's FTS5 table and triggers (SQLite) or its configuration and vector (PostgreSQL), and the
moderation log's append-only guard."""


def create_all(connection: Any) -> None:
    """Every table of the models and the schema attached to them (a synchronous connection:
    ``await connection.run_sync(create_all)``). A process that never imported
    ``forum.search`` used to get no full-text index at all, and every edit then failed."""
    for module in DDL_MODULES:
        importlib.import_module(module)
    Base.metadata.create_all(connection)


def alembic_config(database_url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def ensure_sqlite_directory(database_url: str) -> None:
    """The directory of a SQLite database, and the file itself, private (``forum.db``)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        create_private_sqlite_file(database_url)


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply every migration not yet applied (runs its own event loop: call it from sync code)."""
    ensure_sqlite_directory(database_url)
    command.upgrade(alembic_config(database_url), revision)


EXTRA_DDL_OBJECTS = ("search_fts", "ix_search_document_fts", "search_vector")
"""Objects created by DDL the models cannot express (full-text search): autogenerate and the
schema comparison must not see them as strays."""


def include_object(obj: object, name: str | None, type_: str, reflected: bool,
                   compare_to: object) -> bool:
    """Alembic's include_object hook: leave the extra DDL objects out of comparisons."""
    return not (reflected and compare_to is None and name and name.startswith(EXTRA_DDL_OBJECTS))
