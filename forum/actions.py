"""The write side: every change a member makes is one ``do_*`` function here.

Each takes the session first, changes rows, and never commits: the request's single unit of
work commits (``forum.db.commit``), so a change lands whole or not at all. Counters are
single atomic ``UPDATE … SET n = n + 1`` statements, never read-modify-write in Python.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from forum.db import utcnow
from forum.gate import Verdict
from forum.models import (
    Member,
    MemberSession,
    Notification,
    Post,
    PostRevision,
    PostStatus,
    Role,
    Space,
    Thread,
)
from forum.queries import find_post_by_key, token_hash


class PseudonymTaken(Exception):
    """Someone already has this pseudonym, or one that looks the same."""


async def do_signup(
    session: AsyncSession, *, pseudonym: str, pseudonym_key: str, password_hash: str,
    recovery_hash: str, locale: str | None, region: str | None,
) -> Member:
    member = Member(
        pseudonym=pseudonym, pseudonym_key=pseudonym_key, password_hash=password_hash,
        recovery_hash=recovery_hash, locale=locale, region=region,
    )
    session.add(member)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise PseudonymTaken(pseudonym) from exc
    return member


async def do_start_session(
    session: AsyncSession, member: Member, *, lifetime: timedelta, now: datetime | None = None
) -> str:
    """A new session for ``member``; returns the token for the cookie (stored only hashed)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(
        MemberSession(
            token_hash=token_hash(token), member_id=member.id, created_at=now,
            last_seen_at=now, expires_at=now + lifetime,
        )
    )
    await session.flush()
    return token


async def do_end_session(session: AsyncSession, token: str) -> None:
    await session.execute(
        delete(MemberSession).where(MemberSession.token_hash == token_hash(token))
    )


async def do_end_all_sessions(session: AsyncSession, member: Member) -> None:
    await session.execute(delete(MemberSession).where(MemberSession.member_id == member.id))


async def do_touch_session(session: AsyncSession, token: str, now: datetime) -> None:
    await session.execute(
        update(MemberSession)
        .where(MemberSession.token_hash == token_hash(token))
        .values(last_seen_at=now)
    )


async def do_update_password(
    session: AsyncSession, member: Member, *, password_hash: str
) -> None:
    await session.execute(
        update(Member).where(Member.id == member.id).values(password_hash=password_hash)
    )


async def do_recover_account(
    session: AsyncSession, member: Member, *, password_hash: str, recovery_hash: str
) -> None:
    """A new password and a new recovery code; every open session of the account ends."""
    await session.execute(
        update(Member)
        .where(Member.id == member.id)
        .values(password_hash=password_hash, recovery_hash=recovery_hash)
    )
    await do_end_all_sessions(session, member)


async def do_notify(
    session: AsyncSession, member_id: int, *, kind: str, message: str,
    params: dict[str, object] | None = None, thread_id: int | None = None,
    post_id: int | None = None,
) -> Notification:
    """Leave an in-app notice for a member (the only way the forum tells anyone anything)."""
    notification = Notification(
        member_id=member_id, kind=kind, message=message, params=params or {},
        thread_id=thread_id, post_id=post_id,
    )
    session.add(notification)
    await session.flush()
    return notification


async def do_set_role(session: AsyncSession, member: Member, role: Role) -> None:
    await session.execute(update(Member).where(Member.id == member.id).values(role=role))


async def do_set_preferences(
    session: AsyncSession, member: Member, *, locale: str | None = None, region: str | None = None
) -> None:
    values: dict[str, str] = {}
    if locale is not None:
        values["locale"] = locale
    if region is not None:
        values["region"] = region
    if values:
        await session.execute(update(Member).where(Member.id == member.id).values(**values))


async def _number_next_post(
    session: AsyncSession, thread_id: int, *, counts_as_reply: bool, now: datetime
) -> int:
    values = {"post_count": Thread.post_count + 1, "last_activity_at": now}
    if counts_as_reply:
        values["reply_count"] = Thread.reply_count + 1
    number = await session.scalar(
        update(Thread).where(Thread.id == thread_id).values(**values).returning(Thread.post_count)
    )
    if number is None:
        raise LookupError(f"thread {thread_id} vanished")
    return int(number)


def _new_post(
    *, thread_id: int, number: int, author: Member, source: str, verdict: Verdict,
    content_warning: str | None, idempotency_key: str | None, now: datetime,
) -> Post:
    return Post(
        thread_id=thread_id, number=number, author_id=author.id, source=source,
        html=verdict.html, renderer_version=verdict.renderer_version,
        status=verdict.status, crisis_level=verdict.crisis_level,
        content_warning=content_warning, idempotency_key=idempotency_key, created_at=now,
    )


@dataclass(frozen=True)
class Posted:
    post: Post
    created: bool
    """False when the idempotency key matched a post already stored: nothing was written."""


async def do_create_thread(
    session: AsyncSession, *, space: Space, author: Member, title: str, source: str,
    verdict: Verdict, content_warning: str | None = None, idempotency_key: str | None = None,
) -> Posted:
    if idempotency_key:
        existing = await find_post_by_key(session, author.id, idempotency_key)
        if existing is not None:
            return Posted(existing, created=False)
    now = utcnow()
    thread = Thread(
        space_id=space.id, author_id=author.id, title=title, created_at=now,
        last_activity_at=now, post_count=1, reply_count=0,
    )
    session.add(thread)
    await session.flush()
    post = _new_post(
        thread_id=thread.id, number=1, author=author, source=source, verdict=verdict,
        content_warning=content_warning, idempotency_key=idempotency_key, now=now,
    )
    session.add(post)
    await session.execute(
        update(Space)
        .where(Space.id == space.id)
        .values(thread_count=Space.thread_count + 1, last_activity_at=now)
    )
    await session.flush()
    return Posted(post, created=True)


async def do_reply(
    session: AsyncSession, *, thread: Thread, author: Member, source: str, verdict: Verdict,
    content_warning: str | None = None, idempotency_key: str | None = None,
) -> Posted:
    if idempotency_key:
        existing = await find_post_by_key(session, author.id, idempotency_key)
        if existing is not None:
            return Posted(existing, created=False)
    now = utcnow()
    number = await _number_next_post(
        session, thread.id, counts_as_reply=verdict.status == PostStatus.VISIBLE, now=now
    )
    post = _new_post(
        thread_id=thread.id, number=number, author=author, source=source, verdict=verdict,
        content_warning=content_warning, idempotency_key=idempotency_key, now=now,
    )
    session.add(post)
    await session.execute(
        update(Space).where(Space.id == thread.space_id).values(last_activity_at=now)
    )
    await session.flush()
    return Posted(post, created=True)


async def do_edit_post(
    session: AsyncSession, post: Post, *, editor: Member, source: str, verdict: Verdict,
    content_warning: str | None = None,
) -> bool:
    """Keep the current text as a revision, then store the new one. False if nothing changed."""
    if source == post.source and content_warning == post.content_warning:
        return False
    session.add(
        PostRevision(
            post_id=post.id, editor_id=editor.id, source=post.source, html=post.html,
            renderer_version=post.renderer_version,
        )
    )
    post.source = source
    post.html = verdict.html
    post.renderer_version = verdict.renderer_version
    post.crisis_level = verdict.crisis_level
    post.content_warning = content_warning
    post.edited_at = utcnow()
    if post.status == PostStatus.VISIBLE and verdict.status == PostStatus.PENDING:
        post.status = PostStatus.PENDING
        if post.number > 1:
            await _adjust_reply_count(session, post.thread_id, -1)
    await session.flush()
    return True


async def _adjust_reply_count(session: AsyncSession, thread_id: int, delta: int) -> None:
    await session.execute(
        update(Thread).where(Thread.id == thread_id).values(reply_count=Thread.reply_count + delta)
    )


async def do_delete_own_post(session: AsyncSession, post: Post, *, actor: Member) -> bool:
    """The author deletes their post: its text and revisions are erased, and the thread keeps
    a placeholder in its place so that the replies around it still make sense."""
    if post.status == PostStatus.DELETED or post.author_id != actor.id:
        return False
    was_visible = post.status == PostStatus.VISIBLE
    post.status = PostStatus.DELETED
    post.source = ""
    post.html = ""
    post.content_warning = None
    post.edited_at = utcnow()
    await session.execute(delete(PostRevision).where(PostRevision.post_id == post.id))
    if was_visible and post.number > 1:
        await _adjust_reply_count(session, post.thread_id, -1)
    await session.flush()
    return True
