"""Create the schema from the models and seed the demo content, in a fresh database.

Run as ``python -m tests.browser.seed DATABASE_URL`` by :mod:`tests.browser.live`. Like the
rest of the suite (``tests/conftest.py``), it builds the schema with ``create_all``, so the
browser tests follow the models even before the lead generates the migration for them.

It also creates the staff the moderation tests log in as (:data:`STAFF`): an admin and a
moderator of the ``anxiete`` space, with the password of :data:`tests.browser.flows.PASSWORD`.
"""

from __future__ import annotations

import asyncio
import sys

from sqlalchemy.ext.asyncio import AsyncSession

from forum import actions, pseudonyms, queries
from forum.db import Database
from forum.demo import seed_demo
from forum.models import Role
from forum.passwords import Hasher, generate_recovery_code, normalize_recovery_code
from forum.schema import create_all
from moderation import actions as moderation_actions
from moderation.gate import ModerationGate
from tests.browser.flows import PASSWORD

ADMIN = "Veilleuse_Admin"
MODERATOR = "Phare_Modo"
MODERATED_SLUG = "anxiete"
STAFF = (ADMIN, MODERATOR)


async def _seed_staff(session: AsyncSession) -> None:
    hasher = Hasher()
    for name in STAFF:
        member = await actions.do_signup(
            session, pseudonym=name, pseudonym_key=pseudonyms.uniqueness_key(name),
            password_hash=await hasher.hash(PASSWORD),
            recovery_hash=await hasher.hash(normalize_recovery_code(generate_recovery_code())),
            locale=None, region=None,
        )
        if name == ADMIN:
            await actions.do_set_role(session, member, Role.ADMIN)
        else:
            space = await queries.get_space_or_404(session, MODERATED_SLUG)
            await moderation_actions.do_add_moderator(session, space, member, actor=None,
                                                      reason="browser tests")


async def seed(database_url: str) -> int:
    database = Database(database_url, pool=False)
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(create_all)
        async with database.writing() as session:
            seeded = await seed_demo(session, ModerationGate())
            await _seed_staff(session)
            return seeded
    finally:
        await database.dispose()


if __name__ == "__main__":
    asyncio.run(seed(sys.argv[1]))
