"""A realistic dataset, written fast: spaces, members, threads and posts of French Markdown.

Every post has its own text, 300 to 1,500 characters of Markdown (paragraphs, lists, quotes,
links, bold) whose words are drawn by their real frequency (``bench.words``: wordfreq's French
and English lists), so the vocabulary follows the language's Zipf curve and grows with the
forum; a tenth of the posts are in English (``Post.lang``). Each text is rendered by the
content gate's own renderer and sanitiser (``moderation.sanitize.render_markdown``: the HTML
the gate would store), in a pool of processes. Rows are bulk-inserted with SQLAlchemy Core
(so column defaults apply) into a fresh database, then the search index is rebuilt through
``forum.search.rebuild_index``.

The same seed and size give the same dataset. The SQLite file is cached under ``bench/data/``
by size and ``DATASET_VERSION``: a second run reuses it.
"""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import os
import random
import time
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text

import forum.app  # noqa: F401 - registers every model and its DDL (search, moderation)
from bench.words import Vocabulary, vocabulary
from forum.actions import do_start_session
from forum.db import Base, Database, utcnow
from forum.models import Member, Post, PostStatus, Space, Thread, Visibility
from forum.schema import create_all
from forum.sessions import make_store
from moderation.sanitize import RENDERER_VERSION, render_markdown

DATA_DIR = Path(__file__).resolve().parent / "data"
DATASET_VERSION = 2
"""Bumped when the generator changes what it writes: a dataset of another version is made
again (2: every post its own text, words by frequency, a tenth in English; 1: 400 bodies
repeated, 239 distinct words)."""
BENCH_PSEUDONYM = "banc-essai"
MEMBERS = 2000
LONG_THREADS = 100
"""The first threads are long (300 posts: 10 pages), the ones the thread benchmarks read."""
LONG_THREAD_POSTS = 300
ENGLISH_SHARE = 0.1
"""The share of posts written in English."""
POOL_FROM = 20_000
"""From this many posts, the texts are rendered in a pool of processes (one per CPU)."""

SPACE_NAMES = [
    "Anxiété et angoisses", "Dépression", "Bipolarité", "Addictions : alcool",
    "Addictions : cannabis", "Jeux d'argent", "Troubles alimentaires", "Deuil",
    "Proches et aidant·es", "Parentalité", "Travail et burn-out", "Sommeil",
    "Psychotraumatisme", "Solitude", "Rétablissement", "TDAH", "Phobies sociales",
    "Troubles obsessionnels", "Schizophrénie et psychoses", "Café des pairs",
]

LINKS = [
    "[le site de Psycom](https://www.psycom.org)",
    "[la page d'aide du forum](/help)",
    "[Drogues info service](https://www.drogues-info-service.fr)",
]
PHRASES = {
    "fr": {"list": "Ce qui m'aide :", "link": "J'ai trouvé des infos utiles sur {link}."},
    "en": {"list": "What helps me:", "link": "I found useful information on {link}."},
}


def post_body(rng: random.Random, words: Vocabulary) -> str:
    """300 to 1,500 characters of Markdown in ``words``' language: paragraphs, sometimes a
    list, a quote, a link, a word in bold."""
    phrases = PHRASES[words.lang]
    target = rng.randint(300, 1500)
    parts: list[str] = []
    length = 0
    while length < target:
        roll = rng.random()
        if roll < 0.12:
            items = [words.phrase(rng, 2, 6) for _ in range(rng.randint(2, 4))]
            block = phrases["list"] + "\n\n" + "\n".join(f"- {item}" for item in items)
        elif roll < 0.2:
            block = "> " + words.sentence(rng)
        elif roll < 0.26:
            block = phrases["link"].format(link=rng.choice(LINKS))
        else:
            block = " ".join(words.sentence(rng) for _ in range(rng.randint(2, 5)))
            if rng.random() < 0.2:
                word = rng.choice(block.split()[:4])
                block = block.replace(word, f"**{word}**", 1)
        parts.append(block)
        length += len(block) + 2
    return "\n\n".join(parts)[:1500].rstrip()


def thread_title(rng: random.Random, words: Vocabulary) -> str:
    return words.sentence(rng, 3, 10).rstrip(" .?")[:140]


def language(rng: random.Random) -> str:
    return "en" if rng.random() < ENGLISH_SHARE else "fr"


def thread_sizes(threads: int, posts: int, rng: random.Random) -> list[int]:
    """Posts per thread: LONG_THREADS long ones first, the rest spread around the mean."""
    long_count = min(LONG_THREADS, threads // 2, posts * 15 // 100 // LONG_THREAD_POSTS)
    sizes = [LONG_THREAD_POSTS] * long_count
    rest = threads - long_count
    remaining = max(rest, posts - sum(sizes))
    mean = remaining / rest if rest else 0
    sizes += [max(1, int(rng.expovariate(1 / mean))) if mean > 1 else 1 for _ in range(rest)]
    total = sum(sizes[long_count:])
    # Scale the short threads so the total is exact.
    scale = remaining / total if total else 1
    sizes[long_count:] = [max(1, round(s * scale)) for s in sizes[long_count:]]
    drift = posts - sum(sizes)
    if drift < 0 and sum(sizes[long_count:]) + drift < rest:
        raise ValueError("too few posts for that many threads")
    index = long_count
    while drift and rest:
        step = 1 if drift > 0 else -1
        if sizes[index] + step >= 1:
            sizes[index] += step
            drift -= step
        index = long_count + (index - long_count + 1) % rest
    return sizes


@dataclass(frozen=True)
class Dataset:
    database_url: str
    session_token: str
    """A logged-in session of the bench member (its cookie value)."""
    thread_ids: list[int]
    """The long threads (first page: 30 posts)."""
    space_slugs: list[str]


def sqlite_path(posts: int) -> Path:
    return DATA_DIR / f"forum-{posts}-v{DATASET_VERSION}.db"


async def _insert(database: Database, table: object, rows: list[dict], batch: int = 5000) -> None:
    async with database.engine.begin() as connection:
        for start in range(0, len(rows), batch):
            await connection.execute(insert(table), rows[start:start + batch])


@dataclass
class _Batch:
    """Threads and their posts, the posts' HTML still being rendered."""

    threads: list[dict]
    posts: list[dict]
    html: Iterator[str]

    @classmethod
    def rendered(cls, threads: list[dict], posts: list[dict], pool: Executor | None) -> _Batch:
        sources = [row["source"] for row in posts]
        html = (pool.map(render_markdown, sources, chunksize=250) if pool is not None
                else map(render_markdown, sources))
        return cls(threads, posts, html)

    async def write(self, database: Database) -> None:
        for row, html in zip(self.posts, self.html, strict=True):
            row["html"] = html
        await _insert(database, Thread.__table__, self.threads)
        await _insert(database, Post.__table__, self.posts)


@contextmanager
def _renderer(posts: int) -> Iterator[Executor | None]:
    """A pool of processes for a large dataset (rendering is most of its time), else None."""
    if posts < POOL_FROM or (os.cpu_count() or 1) < 2:
        yield None
        return
    context = multiprocessing.get_context("spawn")  # this process runs threads (aiosqlite)
    with ProcessPoolExecutor(max_workers=os.cpu_count(), mp_context=context) as pool:
        yield pool


async def _load(database: Database, spaces: int, threads: int, posts: int, seed: int) -> None:
    rng = random.Random(seed)
    async with database.engine.begin() as connection:
        await connection.run_sync(create_all)
    now = utcnow()
    start = now - timedelta(days=730)
    await _insert(database, Space.__table__, [
        {"id": i + 1, "slug": f"espace-{i + 1:02d}", "name": SPACE_NAMES[i % len(SPACE_NAMES)],
         "description": "Un espace pour partager nos vécus, à notre rythme.",
         "visibility": Visibility.PUBLIC, "position": i, "created_at": start}
        for i in range(spaces)
    ])
    await _insert(database, Member.__table__, [
        {"id": i + 1, "pseudonym": f"pair{i + 1:04d}", "pseudonym_key": f"pair{i + 1:04d}",
         "password_hash": "!", "recovery_hash": "!", "created_at": start}
        for i in range(MEMBERS)
    ] + [{"id": MEMBERS + 1, "pseudonym": BENCH_PSEUDONYM, "pseudonym_key": BENCH_PSEUDONYM,
          "password_hash": "!", "recovery_hash": "!", "created_at": start}])
    words = {lang: vocabulary(lang) for lang in ("fr", "en")}
    sizes = thread_sizes(threads, posts, rng)
    span = (now - start).total_seconds()
    thread_rows: list[dict] = []
    post_rows: list[dict] = []
    post_id = 0
    space_activity: dict[int, object] = {}
    space_threads: dict[int, int] = {}
    with _renderer(posts) as pool:
        # A batch is rendered (in the pool) while the next one is written by this process.
        pending: _Batch | None = None
        for index, size in enumerate(sizes):
            thread_id = index + 1
            space_id = index % spaces + 1
            # Long threads are the most recent: they lead the home and space pages.
            begin = start + timedelta(seconds=span * (0.5 + 0.45 * rng.random()))
            times = sorted(begin + timedelta(seconds=rng.random() * (now - begin).total_seconds())
                           for _ in range(size))
            times[0] = begin
            title = ""
            for number, when in enumerate(times, start=1):
                post_id += 1
                lang = language(rng)
                if number == 1:
                    title = thread_title(rng, words[lang])
                post_rows.append({
                    "id": post_id, "thread_id": thread_id, "number": number,
                    "author_id": rng.randint(1, MEMBERS), "source": post_body(rng, words[lang]),
                    "lang": lang, "renderer_version": RENDERER_VERSION,
                    "status": PostStatus.VISIBLE, "created_at": when,
                })
            thread_rows.append({
                "id": thread_id, "space_id": space_id, "author_id": rng.randint(1, MEMBERS),
                "title": title, "created_at": times[0],
                "last_activity_at": times[-1], "post_count": size, "reply_count": size - 1,
            })
            space_threads[space_id] = space_threads.get(space_id, 0) + 1
            last = space_activity.get(space_id)
            space_activity[space_id] = times[-1] if last is None or times[-1] > last else last
            if len(post_rows) >= 50_000:
                if pending is not None:
                    await pending.write(database)
                pending = _Batch.rendered(thread_rows, post_rows, pool)
                thread_rows, post_rows = [], []
        if pending is not None:
            await pending.write(database)
        await _Batch.rendered(thread_rows, post_rows, pool).write(database)
    async with database.engine.begin() as connection:
        for space_id, count in space_threads.items():
            await connection.execute(
                Space.__table__.update().where(Space.__table__.c.id == space_id)
                .values(thread_count=count, last_activity_at=space_activity[space_id])
            )
    if not database.is_sqlite:
        async with database.engine.begin() as connection:
            # The rows were inserted with their ids: the tables' sequences must start after
            # them, or the forum's first new post collides with post 1.
            for table in ("space", "member", "thread", "post"):
                await connection.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT max(id) FROM {table}))"))
            # Fresh tables have no statistics yet: without them PostgreSQL's plan for the
            # index rebuild's batches (posts joined to their threads, in id order) ran past
            # asyncpg's 30 s command timeout.
            await connection.execute(text("ANALYZE"))
    await _reindex(database)


async def _reindex(database: Database) -> None:
    try:
        from forum import search
    except ImportError:
        return
    rebuild = getattr(search, "rebuild_index", None)
    if rebuild is not None:
        async with database.writing() as session:
            await rebuild(session, batch=5000)


async def _session_and_facts(database: Database) -> Dataset:
    """The bench member's session, in the store the servers will read it from: on PostgreSQL,
    Redis when ``FORUM_REDIS_URL`` is set (``forum.sessions.make_store``, as the app does, in
    the namespace of the database's URL, which the servers share); on SQLite the table of the
    file the servers get a copy of (``bench.__main__.server_env`` leaves Redis out there)."""
    redis_url = os.environ.get("FORUM_REDIS_URL", "")
    if redis_url and not database.is_sqlite:
        database.sessions = make_store(redis_url, database.url)
    async with database.writing() as session:
        member = await session.scalar(select(Member).where(Member.pseudonym == BENCH_PSEUDONYM))
        token = await do_start_session(session, member, lifetime=timedelta(days=30))
    async with database.reader() as session:
        thread_ids = list(await session.scalars(
            select(Thread.id).where(Thread.post_count >= 30).order_by(Thread.id).limit(200)))
        slugs = list(await session.scalars(select(Space.slug).order_by(Space.id)))
    return Dataset(database.url, token, thread_ids, slugs)


async def _post_count(database: Database) -> int:
    try:
        async with database.reader() as session:
            return int(await session.scalar(select(func.count()).select_from(Post)) or 0)
    except Exception:  # noqa: BLE001 - no schema yet
        return 0


async def _is_current(database: Database, posts: int) -> bool:
    """Whether the database holds a whole dataset of this size made by this version. On
    PostgreSQL the bench posts into the dataset itself (a SQLite run posts into a copy), so
    the replies of earlier runs are allowed on top of it."""
    try:
        async with database.reader() as session:
            marker = (await session.execute(
                text("SELECT version, posts FROM bench_dataset"))).one_or_none()
    except Exception:  # noqa: BLE001 - no marker: an older generator, or none finished
        return False
    if marker is None or tuple(marker) != (DATASET_VERSION, posts):
        return False
    count = await _post_count(database)
    return count == posts if database.is_sqlite else count >= posts


async def _write_version(database: Database, posts: int) -> None:
    """The marker of a finished dataset, ``bench_dataset``: its generator's version and its
    size (the bench's own table, not a model: on PostgreSQL the models' tables are dropped and
    made again, this one is dropped before a dataset is made)."""
    async with database.engine.begin() as connection:
        await connection.execute(text(
            "CREATE TABLE IF NOT EXISTS bench_dataset "
            "(version INTEGER NOT NULL, posts INTEGER NOT NULL)"))
        await connection.execute(text("DELETE FROM bench_dataset"))
        await connection.execute(
            text("INSERT INTO bench_dataset (version, posts) VALUES (:v, :posts)"),
            {"v": DATASET_VERSION, "posts": posts})


async def prepare(*, posts: int, threads: int, spaces: int, database_url: str | None,
                  seed: int = 7) -> Dataset:
    """The dataset (generated, or reused when already there) and a fresh bench session."""
    if database_url is None:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        path = sqlite_path(posts)
        url = f"sqlite+aiosqlite:///{path}"
        if path.exists() and (not catch_up_schema(path) or not await _is_current_at(url, posts)):
            _remove_sqlite(path)
    else:
        url = database_url
    database = Database(url)
    try:
        if not await _is_current(database, posts):
            began = time.monotonic()
            print(f"Generating {posts:,} posts in {threads:,} threads ({url.split('://')[0]})…",
                  flush=True)
            async with database.engine.begin() as connection:
                await connection.execute(text("DROP TABLE IF EXISTS bench_dataset"))
                if not database.is_sqlite:
                    await connection.run_sync(Base.metadata.drop_all)
            await _load(database, spaces, threads, posts, seed)
            await _write_version(database, posts)
            if database.is_sqlite:
                write_fingerprint(sqlite_path(posts))
            print(f"Dataset ready in {time.monotonic() - began:.0f} s.", flush=True)
        return await _session_and_facts(database)
    finally:
        await database.dispose()


def schema_fingerprint() -> str:
    """The models' schema: a cached dataset made with other models is generated again."""
    from sqlalchemy.dialects import sqlite
    from sqlalchemy.schema import CreateIndex, CreateTable

    tables = sorted(str(CreateTable(t).compile(dialect=sqlite.dialect()))
                    for t in Base.metadata.sorted_tables)
    indexes = sorted(str(CreateIndex(i).compile(dialect=sqlite.dialect()))
                     for t in Base.metadata.sorted_tables for i in t.indexes)
    return hashlib.sha256("\n".join(tables + indexes).encode()).hexdigest()


def write_fingerprint(path: Path) -> None:
    Path(str(path) + ".schema").write_text(schema_fingerprint())


def catch_up_schema(path: Path) -> bool:
    """Bring a cached SQLite dataset to the current models, or say it cannot be (False).

    New tables and indexes are created; new columns are added with their scalar default (others
    helpers' models grow while the dataset stays cached). Anything else means generating it
    again.
    """
    marker = Path(str(path) + ".schema")
    if marker.exists() and marker.read_text() == schema_fingerprint():
        return True
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as connection:
            create_all(connection)
            for table in Base.metadata.sorted_tables:
                present = {row[1] for row in connection.exec_driver_sql(
                    f'PRAGMA table_info("{table.name}")')}
                for column in table.columns:
                    if column.name in present:
                        continue
                    default = getattr(column.default, "arg", None)
                    if callable(default) or (default is None and not column.nullable):
                        return False
                    kind = column.type.compile(dialect=connection.dialect)
                    fill = "" if default is None else f" DEFAULT {_literal(default)}"
                    connection.exec_driver_sql(
                        f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}{fill}')
                for index in table.indexes:
                    index.create(connection, checkfirst=True)
            _fill_vocabulary(connection)
    except Exception:  # noqa: BLE001 - any surprise: generate the dataset again
        return False
    finally:
        engine.dispose()
    write_fingerprint(path)
    return True


def _fill_vocabulary(connection: Any) -> None:
    """A search vocabulary created by catching up starts empty: fill it from FTS5's words."""
    from forum import search

    if connection.exec_driver_sql("SELECT 1 FROM search_term LIMIT 1").first() is None:
        connection.exec_driver_sql(search.VOCABULARY_OF_INDEX)
        connection.exec_driver_sql(
            "INSERT INTO search_term (term) SELECT term FROM temp.search_vocabulary")


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return str(value)
    text_value = str(getattr(value, "value", value)).replace("'", "''")
    return f"'{text_value}'"


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-pagecache", ".schema"):
        Path(str(path) + suffix).unlink(missing_ok=True)


async def _is_current_at(url: str, posts: int) -> bool:
    database = Database(url)
    try:
        return await _is_current(database, posts)
    finally:
        await database.dispose()


if __name__ == "__main__":
    facts = asyncio.run(prepare(posts=2000, threads=200, spaces=5, database_url=None))
    print(facts)
