"""Helpers for the reliability tests: whole tables as rows, to compare two databases."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, select

from forum.db import Database


async def table_rows(url: str, table: Table) -> list[tuple[Any, ...]]:
    """Every row of ``table``, ordered by primary key."""
    database = Database(url, pool=False)
    try:
        async with database.reader() as session:
            order = list(table.primary_key.columns) or list(table.columns)
            return [tuple(row) for row in await session.execute(select(table).order_by(*order))]
    finally:
        await database.dispose()
