"""A fresh database with one space, one thread and N members already logged in.

Members are created with the real actions (``do_signup``, ``do_start_session``), as §8 of the
security plan asks ("sessions seeded directly in the store"): the harness measures posting,
not argon2. The thread is opened with ``do_create_thread`` through the real content gate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, text
from sqlalchemy.engine import make_url

import forum.app  # noqa: F401 - every model registered on Base.metadata
from forum import actions, pseudonyms
from forum.db import Database
from forum.models import Member, Space, Thread, Visibility
from forum.schema import create_all
from forum.sessions import make_store
from moderation.gate import ModerationGate
from moderation.models import WatchedWord

SPACE_SLUG = "fiabilite"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
NO_LOGIN = "!"  # noqa: S105 - not a hash: these members never log in, they get a session
"""Stands for the password and recovery hashes: no password can match it."""


@dataclass(frozen=True)
class Seeded:
    space_slug: str
    thread_id: int
    members: list[tuple[int, str]]
    """(member id, session token) of each virtual member."""


def check_local(url: str) -> None:
    """The harness empties the database it is given: only ever one on this machine."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" and parsed.host not in LOCAL_HOSTS:
        raise SystemExit("reliability: the database must be on 127.0.0.1 (it gets emptied)")


async def reset_schema(url: str) -> None:
    """An empty schema with every table (like the test suite: create_all from the models)."""
    check_local(url)
    database = Database(url, pool=False)
    try:
        async with database.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                await connection.execute(text("CREATE SCHEMA public"))
            await connection.run_sync(create_all)
    finally:
        await database.dispose()


async def seed(url: str, members: int, *, prefix: str = "Pair", redis_url: str = "") -> Seeded:
    """``redis_url``: the sessions go to Redis, as the server's ``FORUM_REDIS_URL`` will look
    for them (the same database URL gives the same namespace)."""
    await reset_schema(url)
    database = Database(url, pool=False)
    if redis_url:
        database.sessions = make_store(redis_url, url)
    gate = ModerationGate()
    try:
        async with database.writing() as session:
            space = Space(slug=SPACE_SLUG, name="Fiabilité", description="Banc d'essai.",
                          visibility=Visibility.PUBLIC)
            session.add(space)
            created: list[tuple[int, str]] = []
            for index in range(members):
                name = f"{prefix}_{index:03d}"
                member = await actions.do_signup(
                    session, pseudonym=name, pseudonym_key=pseudonyms.uniqueness_key(name),
                    password_hash=NO_LOGIN, recovery_hash=NO_LOGIN,
                    locale="fr", region="FR",
                )
                token = await actions.do_start_session(session, member,
                                                       lifetime=timedelta(days=1))
                created.append((member.id, token))
            first = await session.get(Member, created[0][0])
            body = "Un fil pour tenir ensemble, un message après l'autre."
            verdict = await gate.review(session, body, author=first, space=space)
            posted = await actions.do_create_thread(
                session, space=space, author=first, title="Le fil très fréquenté",
                source=body, verdict=verdict,
            )
            thread_id = posted.post.thread_id
    finally:
        await database.dispose()
    return Seeded(space_slug=SPACE_SLUG, thread_id=thread_id, members=created)


async def add_quiet_thread(url: str, author_id: int, *, replies: int = 20) -> int:
    """A second thread with ordinary replies (what a bystander reads while the seeded one
    is under attack), written through the real gate; returns its id."""
    database = Database(url, pool=False)
    gate = ModerationGate()
    try:
        async with database.writing() as session:
            space = await session.scalar(select(Space).where(Space.slug == SPACE_SLUG))
            author = await session.get(Member, author_id)
            assert space is not None and author is not None
            body = "Un fil calme : on se raconte sa journée, sans pression."
            posted = await actions.do_create_thread(
                session, space=space, author=author, title="Le fil calme", source=body,
                verdict=await gate.review(session, body, author=author, space=space),
            )
            thread = await session.get(Thread, posted.post.thread_id)
            assert thread is not None
            for number in range(replies):
                text = (f"Réponse {number} : merci pour ce fil, ça fait du bien de lire "
                        "que d'autres avancent aussi, même doucement.")
                await actions.do_reply(
                    session, thread=thread, author=author, source=text,
                    verdict=await gate.review(session, text, author=author, space=space),
                )
            thread_id = thread.id
    finally:
        await database.dispose()
    return thread_id


async def add_watched_words(url: str, rows: list[tuple[str, str, str]]) -> None:
    """Watched words (pattern, action, label) stored as an admin's form would, without its
    checks: rows saved before RE2, or that the form refuses today."""
    database = Database(url, pool=False)
    try:
        async with database.writing() as session:
            for pattern, action, label in rows:
                session.add(WatchedWord(pattern=pattern, action=action, label=label))
    finally:
        await database.dispose()
