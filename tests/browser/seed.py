"""Create the schema from the models and seed the demo content, in a fresh database.

Run as ``python -m tests.browser.seed DATABASE_URL`` by :mod:`tests.browser.live`. Like the
rest of the suite (``tests/conftest.py``), it builds the schema with ``create_all``, so the
browser tests follow the models even before the lead generates the migration for them.
"""

from __future__ import annotations

import asyncio
import sys

from forum.db import Base, Database
from forum.demo import seed_demo
from moderation.gate import ModerationGate


async def seed(database_url: str) -> int:
    database = Database(database_url, pool=False)
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        async with database.writing() as session:
            return await seed_demo(session, ModerationGate())
    finally:
        await database.dispose()


if __name__ == "__main__":
    asyncio.run(seed(sys.argv[1]))
