"""The checks C1–C6 of security.md §8, against the database and the ledger, and the figures."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import case, func, select
from sqlalchemy.engine import make_url

from forum.db import Database
from forum.models import Post, PostStatus, Space, Thread
from reliability.driver import Attempt, Ledger


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Stored:
    keys: dict[str, list[int]] = field(default_factory=dict)
    """idempotency key -> ids of the posts that carry it."""
    counters: list[str] = field(default_factory=list)
    """one line per counter that does not match the posts."""
    posts: int = 0


async def read_stored(url: str) -> Stored:
    database = Database(url, pool=False)
    stored = Stored()
    try:
        async with database.reader() as session:
            rows = await session.execute(
                select(Post.idempotency_key, Post.id).where(Post.idempotency_key.is_not(None))
            )
            for key, post_id in rows:
                stored.keys.setdefault(key, []).append(post_id)
            stored.posts = int(await session.scalar(select(func.count()).select_from(Post)))
            visible_replies = func.sum(
                case(((Post.number > 1) & (Post.status == PostStatus.VISIBLE), 1), else_=0)
            )
            per_thread = await session.execute(
                select(Thread.id, Thread.post_count, Thread.reply_count,
                       func.count(Post.id), func.max(Post.number),
                       func.coalesce(visible_replies, 0))
                .outerjoin(Post, Post.thread_id == Thread.id).group_by(Thread.id)
            )
            for tid, post_count, reply_count, count, top, replies in per_thread:
                if not post_count == count == (top or 0) or reply_count != replies:
                    stored.counters.append(
                        f"thread {tid}: post_count={post_count} posts={count} max={top} "
                        f"reply_count={reply_count} visible replies={replies}")
            per_space = await session.execute(
                select(Space.id, Space.thread_count, func.count(Thread.id))
                .outerjoin(Thread, Thread.space_id == Space.id).group_by(Space.id)
            )
            for sid, thread_count, count in per_space:
                if thread_count != count:
                    stored.counters.append(f"space {sid}: thread_count={thread_count} "
                                           f"threads={count}")
    finally:
        await database.dispose()
    return stored


def ledger_checks(ledger: Ledger, stored: Stored) -> list[Check]:
    """C1 nothing acknowledged lost, C2 nothing twice, C3 stored − acked ⊆ unknown, C4."""
    ours = {k: ids for k, ids in stored.keys.items() if k in ledger.sent}
    lost = [k for k in ledger.acked if k not in ours]
    wrong = [k for k, ids in ledger.acked.items() if k in ours and not ids <= set(ours[k])]
    twice = [k for k, ids in ours.items() if len(ids) > 1]
    phantom = [k for k in ours if k not in ledger.acked and k not in ledger.unknown]
    return [
        Check("C1 nothing acknowledged lost", not lost and not wrong,
              f"{len(ledger.acked)} acknowledged, {len(lost)} missing, "
              f"{len(wrong)} acknowledged with another post's id"),
        Check("C2 nothing stored twice", not twice, f"{len(twice)} keys stored more than once"),
        Check("C3 stored − acknowledged ⊆ unknown", not phantom,
              f"{len(ours) - len(set(ours) & ledger.acked_keys)} stored unacknowledged "
              f"({len(ledger.unknown)} unknown), {len(phantom)} phantom"),
        Check("C4 counters match the posts", not stored.counters,
              "; ".join(stored.counters[:3]) or "post_count, reply_count, thread_count right"),
    ]


def sqlite_integrity(url: str) -> Check:
    """C5 on SQLite: integrity_check = ok and foreign_key_check empty."""
    path = Path(make_url(url).database or "")
    connection = sqlite3.connect(path, timeout=30)
    try:
        integrity = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        orphans = connection.execute("PRAGMA foreign_key_check").fetchall()
    finally:
        connection.close()
    return Check("C5 storage intact", integrity == ["ok"] and not orphans,
                 f"integrity_check={integrity[:2]}, foreign_key_check={len(orphans)} rows")


def error_budget(attempts: Iterable[Attempt], *, allow_503: bool = True) -> Check:
    """C6: no 5xx but 503; every 503 with Retry-After; no traceback in any answer."""
    attempts = list(attempts)
    other = [a for a in attempts if a.status is not None and a.status >= 500 and a.status != 503]
    unavailable = [a for a in attempts if a.status == 503]
    no_retry = [a for a in unavailable if not a.retry_after]
    traced = [a for a in attempts if a.traceback]
    ok = not other and not no_retry and not traced and (allow_503 or not unavailable)
    return Check("C6 error budget", ok,
                 f"{len(other)} 5xx other than 503, {len(unavailable)} 503 "
                 f"({len(no_retry)} without Retry-After), {len(traced)} with a traceback")


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]
