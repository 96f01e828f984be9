"""Past one machine: two app processes (``forum run``) on one PostgreSQL database and one
Redis. A session made on one works on the other, a throttle counted on one holds on the
other, and a write through one invalidates the visitor page cached by the other.

Skipped, with the reason printed, when PostgreSQL (127.0.0.1:5432, or
``FORUM_SCALEOUT_DATABASE_URL``) or Redis (127.0.0.1:6379, or ``FORUM_SCALEOUT_REDIS_URL``)
cannot be reached; in CI (``CI=true``) that fails instead.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from forum.config import ROOT
from forum.sessions import make_store
from tests.browsing import Browser, random_pseudonym
from tests.conftest import require_service, reset_schema

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "entrepairs_scaleout"
DATABASE_URL = os.environ.get(
    "FORUM_SCALEOUT_DATABASE_URL", f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DATABASE}"
)
REDIS_URL = os.environ.get("FORUM_SCALEOUT_REDIS_URL", "redis://127.0.0.1:6379/0")


async def create_database() -> None:
    import asyncpg

    connection = await asyncpg.connect(ADMIN_URL)
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE)
        if not exists:
            await connection.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await connection.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the app process stopped:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"the app process did not start:\n{log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    require_service("Redis", "127.0.0.1", 6379)
    require_service("PostgreSQL", "127.0.0.1", 5432)
    asyncio.run(create_database())
    asyncio.run(reset_schema(DATABASE_URL))
    env = {
        **os.environ, "FORUM_ENV": "production", "FORUM_DATABASE_URL": DATABASE_URL,
        "FORUM_REDIS_URL": REDIS_URL, "FORUM_SECRET_KEY": secrets.token_urlsafe(48),
        "FORUM_BASE_URL": "http://127.0.0.1:8000", "FORUM_LOG_LEVEL": "WARNING",
        "FORUM_RATE_LIMITS": "on",
    }
    logs = tmp_path_factory.mktemp("scaleout")
    processes, bases = [], []
    for name in ("one", "two"):
        port = free_port()
        log = logs / f"{name}.log"
        processes.append((subprocess.Popen(
            [sys.executable, "-m", "forum.cli", "run", "--port", str(port)], cwd=ROOT, env=env,
            stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
        ), log))
        bases.append(f"http://127.0.0.1:{port}")
    try:
        for (process, log), base in zip(processes, bases, strict=True):
            wait_ready(base, process, log)
        yield bases[0], bases[1]
    finally:
        for process, _ in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=20)


@pytest.fixture
async def member(servers: tuple[str, str]) -> AsyncIterator[Browser]:
    """A browser whose cookies go to both processes (cookies do not depend on the port)."""
    async with httpx.AsyncClient(base_url=servers[0], timeout=60) as client:
        yield Browser(client)  # type: ignore[arg-type]


@pytest.fixture
async def visitor(servers: tuple[str, str]) -> AsyncIterator[Browser]:
    async with httpx.AsyncClient(base_url=servers[1], timeout=60) as client:
        yield Browser(client)  # type: ignore[arg-type]


def on(browser: Browser, base: str) -> Browser:
    browser.client.base_url = base  # type: ignore[misc]
    return browser


def new_name(prefix: str) -> str:
    return random_pseudonym(prefix)


async def test_a_session_made_on_one_process_works_on_the_other(
    servers: tuple[str, str], member: Browser
) -> None:
    name = new_name("Aulne")
    await on(member, servers[0]).signup(name)
    page = await on(member, servers[1]).get("/")
    assert page.one(".account-nav__name").get_text(strip=True) == name
    assert await session_places() == (0, True), "the session is not (only) in Redis"
    await on(member, servers[1]).logout()
    page = await on(member, servers[0]).get("/")
    assert page.all(".account-nav__name") == []


async def test_a_throttle_counted_on_one_process_holds_on_the_other(
    servers: tuple[str, str], member: Browser
) -> None:
    name = new_name("Sureau")
    await on(member, servers[0]).signup(name)
    await member.logout()
    for _ in range(5):
        refused = await on(member, servers[0]).login(name, "pas le bon mot de passe")
        assert refused.status in (401, 422)
    throttled = await on(member, servers[1]).login(name)
    assert throttled.status == 429
    assert throttled.all(".account-nav__name") == []


async def test_a_write_through_one_process_invalidates_the_page_cached_by_the_other(
    servers: tuple[str, str], member: Browser, visitor: Browser
) -> None:
    import redis

    await on(member, servers[0]).signup(new_name("Tilleul"))
    space_slug = await first_public_space(servers[0])
    started = await member.start_thread(space_slug, "Un fil partagé", "Bonjour à vous.")
    assert started.status == 303, started.text()
    thread_url = started.response.headers["location"].split("#")[0].split("?")[0]
    first = await visitor.get(thread_url)
    second = await visitor.get(thread_url)
    assert first.status == second.status == 200
    keys = redis.Redis.from_url(REDIS_URL).keys(f"entrepairs:*:page:{thread_url}?*")
    assert keys, "the visitor's page was not cached in Redis"
    replied = await on(member, servers[0]).reply(int(thread_url.rsplit("/", 1)[1]),
                                                 "Une réponse écrite sur l'autre machine.")
    assert replied.status == 303
    after = await visitor.get(thread_url)
    assert "Une réponse écrite sur l'autre machine." in after.text()


async def session_places() -> tuple[int, bool]:
    """Rows in the ``member_session`` table, and whether Redis holds a session."""
    import redis
    from sqlalchemy import func, select

    from forum.db import Database
    from forum.models import MemberSession

    database = Database(DATABASE_URL, pool=False)
    try:
        async with database.reader() as session:
            rows = await session.scalar(select(func.count()).select_from(MemberSession))
    finally:
        await database.dispose()
    prefix = make_store(REDIS_URL, DATABASE_URL).prefix  # type: ignore[attr-defined]
    in_redis = bool(redis.Redis.from_url(REDIS_URL).keys(f"{prefix}*"))
    return int(rows or 0), in_redis


async def first_public_space(base: str) -> str:
    """The demo content is not there: make a space through the database, as an admin would."""
    from sqlalchemy import select

    from forum.db import Database
    from forum.models import Space

    database = Database(DATABASE_URL, pool=False)
    try:
        async with database.writing() as session:
            slug = await session.scalar(select(Space.slug).limit(1))
            if slug is None:
                session.add(Space(slug="entraide", name="Entraide", description="Pour tout."))
                slug = "entraide"
        return slug
    finally:
        await database.dispose()


async def test_a_reply_through_one_process_reaches_a_thread_page_open_on_the_other(
    servers: tuple[str, str], member: Browser
) -> None:
    """Issue 18: live events travel through Redis pub/sub between processes."""
    await on(member, servers[0]).signup(new_name("Charme"))
    space_slug = await first_public_space(servers[0])
    started = await member.start_thread(space_slug, "Un fil en direct", "Qui est là ce soir ?")
    assert started.status == 303, started.text()
    thread_id = int(started.response.headers["location"].split("#")[0].split("?")[0]
                    .rsplit("/", 1)[1])
    async with httpx.AsyncClient(base_url=servers[1], timeout=10) as reader:
        async with reader.stream("GET", f"/live?thread={thread_id}") as stream:
            assert stream.status_code == 200
            lines = stream.aiter_lines()
            assert await anext(lines) == "event: ready"
            started_at = time.monotonic()
            replied = await on(member, servers[0]).reply(thread_id, "Moi, je suis là.")
            assert replied.status == 303
            async with asyncio.timeout(5):
                async for line in lines:
                    if line == "event: posts":
                        break
            data = await anext(lines)
    assert data == f'data: {{"thread":{thread_id},"last":2}}'
    assert time.monotonic() - started_at < 5


async def _in_database(work) -> object:  # noqa: ANN001 - an async function of a session
    from forum.db import Database

    database = Database(DATABASE_URL, pool=False)
    try:
        async with database.writing() as session:
            found = await work(session)
            await session.commit()
            return found
    finally:
        await database.dispose()


async def _member_with_a_session(session, *, trained_helper: bool = False) -> str:  # noqa: ANN001
    """A member made as sign-up makes one (account and consent) and logged in, in the stores
    the processes read: this module's other tests spend this address's sign-ups (5 a minute,
    counted in Redis, as ``test_a_throttle_counted…`` shows)."""
    from forum import actions, privacy
    from forum.db import utcnow
    from forum.pseudonyms import uniqueness_key

    name = new_name("Frene")
    member = await actions.do_signup(
        session, pseudonym=name, pseudonym_key=uniqueness_key(name), password_hash="x",
        recovery_hash="x", locale="fr", region="FR")
    member.trained_helper = trained_helper
    await privacy.do_record_consent(session, member)
    store = make_store(REDIS_URL, DATABASE_URL)
    try:
        return await store.start(session, member, now=utcnow(), lifetime=timedelta(hours=1),
                                 device=None)
    finally:
        await store.close()


async def test_a_group_session_scheduled_on_one_process_is_held_live_across_both(
    servers: tuple[str, str], member: Browser
) -> None:
    """Issue 18: a trained helper schedules a session through process one; a member registers
    through process two; the session opens, the member's message through process two reaches
    the facilitator's live stream on process one, and the end through process one locks the
    thread for the member on process two."""
    from sqlalchemy import select, update

    from forum.db import utcnow
    from forum.models import GroupSession, Notification

    helper = await _in_database(lambda session: _member_with_a_session(session,
                                                                       trained_helper=True))
    on(member, servers[0]).client.cookies.set("entrepairs", str(helper))
    space_slug = await first_public_space(servers[0])
    start = utcnow() + timedelta(days=1)
    form = (await member.get(f"/s/{space_slug}/sessions/nouvelle")).form("form.group-form")
    sent = await member.submit(form, {
        "title": "Groupe du soir", "agreement": "On s'écoute sans juger, ce qui est dit reste ici.",
        "day": start.date().isoformat(), "start": start.strftime("%H:%M"), "timezone": "UTC",
        "minutes": "60", "capacity": "5"})
    assert sent.status == 303, sent.text()
    group_id = int(sent.response.headers["location"].rsplit("/", 1)[1])

    token = await _in_database(_member_with_a_session)  # the other tests used the sign-ups
    async with httpx.AsyncClient(base_url=servers[1], timeout=60,
                                 cookies={"entrepairs": str(token)}) as other:
        participant = Browser(other)  # type: ignore[arg-type]
        page = await participant.get(f"/sessions/{group_id}")
        joined = await participant.submit(
            page.form(f"form[action='/sessions/{group_id}/inscription']"), {"agree": "1"})
        assert joined.status == 303

        async def bring_forward(session):  # noqa: ANN001, ANN202
            await session.execute(update(GroupSession).where(GroupSession.id == group_id)
                                  .values(starts_at=utcnow() + timedelta(minutes=10)))

        await _in_database(bring_forward)
        await participant.get(f"/sessions/{group_id}")  # the page takes the due step: remind

        async def reminders(session):  # noqa: ANN001, ANN202
            return list(await session.scalars(select(Notification.message).where(
                Notification.kind == "group")))

        assert len(await _in_database(reminders)) == 1

        async def start_now(session):  # noqa: ANN001, ANN202
            await session.execute(update(GroupSession).where(GroupSession.id == group_id)
                                  .values(starts_at=utcnow() - timedelta(minutes=1)))

        await _in_database(start_now)
        opened = await participant.get(f"/sessions/{group_id}")
        link = opened.one("#inscription a.button")["href"]
        thread_id = int(str(link).rsplit("/", 1)[1])
        async with member.client.stream("GET", f"/live?thread={thread_id}") as stream:
            assert stream.status_code == 200, "the facilitator, on process one"
            lines = stream.aiter_lines()
            assert await anext(lines) == "event: ready"
            replied = await participant.reply(thread_id, "Bonsoir, merci d'être là.")
            assert replied.status == 303
            async with asyncio.timeout(5):
                async for line in lines:
                    if line == "event: posts":
                        break
        ended = await member.submit((await member.get(f"/sessions/{group_id}")).form(
            f"form[action='/sessions/{group_id}/fin']"))
        assert ended.status == 303
        closed = await participant.get(f"/t/{thread_id}")
        assert closed.status == 200 and not closed.all("#reply-form")
        assert "Bonsoir, merci d'être là." in closed.text("#posts")


async def test_a_conversation_asked_on_one_process_is_taken_and_heard_on_the_other(
    servers: tuple[str, str], member: Browser
) -> None:
    """Issue 17: a helper says what they take through process one; a member asks through
    process two; the helper accepts through process one, and the member's next message
    through process two reaches the helper's live stream on process one. A third member, on
    either process, gets nothing."""
    space_slug = await first_public_space(servers[0])
    helper = await _in_database(lambda session: _member_with_a_session(session,
                                                                       trained_helper=True))
    on(member, servers[0]).client.cookies.set("entrepairs", str(helper))
    page = await member.get("/helpers")
    token = page.form("form[action='/helpers/disponibilites']").values()["_csrf_token"]
    saved = await member.client.post("/helpers/disponibilites", data={
        "_csrf_token": token, "themes": [space_slug], "langs": ["fr"], "capacity": "2"})
    assert saved.status_code == 303, saved.text

    asker_token = await _in_database(_member_with_a_session)
    third_token = await _in_database(_member_with_a_session)
    async with httpx.AsyncClient(base_url=servers[1], timeout=60,
                                 cookies={"entrepairs": str(asker_token)}) as other:
        asker = Browser(other)  # type: ignore[arg-type]
        asking = await asker.get(f"/conversations/new?theme={space_slug}")
        sent = await asker.submit(asking.form("form.composer"),
                                  {"body": "Bonsoir, j'aimerais parler un peu."})
        assert sent.status == 303, sent.text()
        thread_id = int(sent.response.headers["location"].split("/t/", 1)[1].split("?")[0])

        queue = await member.get("/helpers")
        accept = queue.all("form[action$='/accepter']")
        assert len(accept) == 1
        taken = await member.submit(queue.form("form[action$='/accepter']"))
        assert taken.status == 303
        async with member.client.stream("GET", f"/live?thread={thread_id}") as stream:
            assert stream.status_code == 200, "the helper, on process one"
            lines = stream.aiter_lines()
            assert await anext(lines) == "event: ready"
            replied = await asker.reply(thread_id, "Merci d'avoir accepté.")
            assert replied.status == 303
            async with asyncio.timeout(5):
                async for line in lines:
                    if line == "event: posts":
                        break
        for base in servers:
            async with httpx.AsyncClient(base_url=base, timeout=60,
                                         cookies={"entrepairs": str(third_token)}) as third:
                assert (await third.get(f"/t/{thread_id}")).status_code == 404, base
