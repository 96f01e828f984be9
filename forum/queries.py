"""The read side. Controllers never build a query; they call these.

``get_*_or_404`` fetch and check access in one call. Every query eager-loads what the
templates need, and page queries run a constant number of statements whatever the length of a
thread or a space.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from litestar.exceptions import NotFoundException
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from forum.models import (
    Member,
    MemberSession,
    MemberStatus,
    Post,
    Space,
    Thread,
    Visibility,
)
from forum.permissions import Viewer, check_read_space_content

POSTS_PER_PAGE = 30
THREADS_PER_PAGE = 25
RECENT_THREADS = 10


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def get_session_with_member(
    session: AsyncSession, token: str
) -> tuple[MemberSession, Member] | None:
    row = (
        await session.execute(
            select(MemberSession, Member)
            .join(Member, Member.id == MemberSession.member_id)
            .where(MemberSession.token_hash == token_hash(token))
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def find_member_by_key(session: AsyncSession, key: str) -> Member | None:
    return await session.scalar(select(Member).where(Member.pseudonym_key == key))


def _readable_spaces(viewer: Viewer):
    clause = Space.archived.is_(False)
    if viewer is None:
        clause = and_(clause, Space.visibility == Visibility.PUBLIC)
    return clause


async def list_spaces(session: AsyncSession) -> list[Space]:
    """Every open space, members-only ones included (their names are public)."""
    result = await session.scalars(
        select(Space).where(Space.archived.is_(False)).order_by(Space.position, Space.id)
    )
    return list(result)


async def recent_threads(
    session: AsyncSession, viewer: Viewer, limit: int = RECENT_THREADS
) -> list[Thread]:
    result = await session.scalars(
        select(Thread)
        .join(Space, Space.id == Thread.space_id)
        .where(_readable_spaces(viewer))
        .options(joinedload(Thread.space), joinedload(Thread.author))
        .order_by(Thread.last_activity_at.desc(), Thread.id.desc())
        .limit(limit)
    )
    return list(result)


async def get_space_or_404(session: AsyncSession, slug: str) -> Space:
    """A space's page is public (name, description, an invitation to join)."""
    space = await session.scalar(
        select(Space).where(Space.slug == slug, Space.archived.is_(False))
    )
    if space is None:
        raise NotFoundException()
    return space


@dataclass(frozen=True)
class Cursor:
    """A position in a space's thread list: the last thread shown on the previous page."""

    last_activity_at: datetime
    thread_id: int

    def encode(self) -> str:
        return f"{self.last_activity_at.timestamp():.6f}_{self.thread_id}"

    @classmethod
    def decode(cls, raw: str | None) -> Cursor | None:
        if not raw:
            return None
        try:
            stamp, _, ident = raw.partition("_")
            return cls(datetime.fromtimestamp(float(stamp), UTC), int(ident))
        except (ValueError, OverflowError, OSError):
            return None


@dataclass(frozen=True)
class ThreadList:
    pinned: list[Thread]
    threads: list[Thread]
    next_cursor: Cursor | None


async def list_threads(
    session: AsyncSession, viewer: Viewer, space: Space, *, after: Cursor | None = None,
    limit: int = THREADS_PER_PAGE,
) -> ThreadList:
    """Pinned threads first (on the first page), then by latest activity, keyset-paginated."""
    check_read_space_content(viewer, space)
    base = select(Thread).where(Thread.space_id == space.id).options(joinedload(Thread.author))
    pinned: list[Thread] = []
    if after is None:
        pinned = list(
            await session.scalars(
                base.where(Thread.pinned.is_(True))
                .order_by(Thread.last_activity_at.desc(), Thread.id.desc())
            )
        )
    query = base.where(Thread.pinned.is_(False))
    if after is not None:
        query = query.where(
            or_(
                Thread.last_activity_at < after.last_activity_at,
                and_(Thread.last_activity_at == after.last_activity_at,
                     Thread.id < after.thread_id),
            )
        )
    rows = list(
        await session.scalars(
            query.order_by(Thread.last_activity_at.desc(), Thread.id.desc()).limit(limit + 1)
        )
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = Cursor(rows[-1].last_activity_at, rows[-1].id)
    return ThreadList(pinned, rows, next_cursor)


async def get_thread_or_404(session: AsyncSession, viewer: Viewer, thread_id: int) -> Thread:
    thread = await session.scalar(
        select(Thread)
        .where(Thread.id == thread_id)
        .options(joinedload(Thread.space), joinedload(Thread.author))
    )
    if thread is None or thread.space.archived:
        raise NotFoundException()
    check_read_space_content(viewer, thread.space)
    return thread


async def get_thread(session: AsyncSession, thread_id: int) -> Thread | None:
    """A thread by id, without access checks: for seeding and maintenance, not for pages."""
    return await session.get(Thread, thread_id)


def page_count(thread: Thread) -> int:
    return max(1, -(-thread.post_count // POSTS_PER_PAGE))


def page_of(number: int) -> int:
    return (number - 1) // POSTS_PER_PAGE + 1


async def thread_page(session: AsyncSession, thread: Thread, page: int) -> list[Post]:
    """The posts numbered on ``page``: one range query, whatever the thread's length."""
    first = (page - 1) * POSTS_PER_PAGE + 1
    result = await session.scalars(
        select(Post)
        .where(Post.thread_id == thread.id, Post.number.between(first, first + POSTS_PER_PAGE - 1))
        .options(joinedload(Post.author))
        .order_by(Post.number)
    )
    return list(result)


async def get_post_or_404(session: AsyncSession, viewer: Viewer, post_id: int) -> Post:
    post = await session.scalar(
        select(Post)
        .where(Post.id == post_id)
        .options(
            joinedload(Post.thread).joinedload(Thread.space),
            joinedload(Post.thread).joinedload(Thread.author),
            joinedload(Post.author),
        )
    )
    if post is None or post.thread.space.archived:
        raise NotFoundException()
    check_read_space_content(viewer, post.thread.space)
    return post


async def find_post_by_key(session: AsyncSession, author_id: int, key: str) -> Post | None:
    return await session.scalar(
        select(Post)
        .where(Post.author_id == author_id, Post.idempotency_key == key)
        .options(joinedload(Post.author), joinedload(Post.thread))
    )


async def active_member_count(session: AsyncSession) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(Member).where(Member.status == MemberStatus.ACTIVE)
        )
        or 0
    )
