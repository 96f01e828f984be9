"""Dependencies handlers ask for by name: the request's database session, the gate, the hasher."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request
from litestar.di import NamedDependency, Provide
from sqlalchemy.ext.asyncio import AsyncSession

from forum.config import Settings
from forum.db import Database
from forum.gate import ContentGate
from forum.passwords import Hasher

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def provide_db(request: Request[Any, Any, Any]) -> AsyncIterator[AsyncSession]:
    """One session per request: a reader for safe methods, a writer (BEGIN IMMEDIATE on SQLite)
    for the others. Whatever is not committed explicitly is rolled back."""
    database: Database = request.app.state.database
    session = database.reader() if request.method in SAFE_METHODS else database.writer()
    async with session:
        yield session


async def provide_reader(request: Request[Any, Any, Any]) -> AsyncIterator[AsyncSession]:
    """A read-only session for a write handler that must read before slow work (hashing)."""
    database: Database = request.app.state.database
    async with database.reader() as session:
        yield session


def provide_gate(request: Request[Any, Any, Any]) -> ContentGate:
    return request.app.state.gate


def provide_hasher(request: Request[Any, Any, Any]) -> Hasher:
    return request.app.state.hasher


def provide_settings(request: Request[Any, Any, Any]) -> Settings:
    return request.app.state.settings


Db = NamedDependency[AsyncSession]
"""The request's session (``db``); ``Reader`` is the extra read-only one (``reader``)."""
Reader = NamedDependency[AsyncSession]
Gate = NamedDependency[ContentGate]
PasswordHasher = NamedDependency[Hasher]
AppSettings = NamedDependency[Settings]

DEPENDENCIES = {
    "db": Provide(provide_db),
    "reader": Provide(provide_reader),
    "gate": Provide(provide_gate, sync_to_thread=False),
    "hasher": Provide(provide_hasher, sync_to_thread=False),
    "settings": Provide(provide_settings, sync_to_thread=False),
}
