"""Who hears of what: replies to followed threads and ``@pseudonym`` mentions.

A view of the data that follows declared changes (``forum.changes``): before a unit of work
commits, posts that became visible (written, approved, restored) and edited posts are read
again and their notices inserted in the same transaction. A member hears nothing from someone
they blocked, nothing of their own posts, and nothing of a kind they turned off. Moderation and
welfare notices are left by ``forum.actions.do_notify`` and cannot be turned off.

Notices are message ids (French source) with parameters, translated where shown.
"""

from __future__ import annotations

import re
from functools import cache

from sqlalchemy import Select, and_, bindparam, exists, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from forum import changes
from forum.changes import Changes
from forum.db import utcnow
from forum.i18n import N_
from forum.models import (
    Block,
    Follow,
    Member,
    MemberStatus,
    Notification,
    NotificationSetting,
    Post,
    PostStatus,
    Role,
    Thread,
    Visibility,
)
from forum.pseudonyms import uniqueness_key
from forum.queries import group_session_participant

REPLY = "reply"
MENTION = "mention"
MODERATION = "moderation"
WELFARE = "welfare"
OPTIONAL_KINDS: tuple[str, ...] = (REPLY, MENTION)
"""The kinds a member may turn off; every other kind always reaches them."""

REPLY_MESSAGE = N_("%(author)s a répondu dans « %(title)s »")
MENTION_MESSAGE = N_("%(author)s t'a mentionné·e dans « %(title)s »")

MAX_MENTIONS = 10
_MENTION = re.compile(r"(?<![\w@])@([\w.\-]{3,40})")


def mentioned_keys(source: str) -> set[str]:
    """Uniqueness keys of the ``@names`` in a text (trailing punctuation tolerated)."""
    keys: set[str] = set()
    for name in _MENTION.findall(source)[:MAX_MENTIONS]:
        keys.add(uniqueness_key(name))
        trimmed = name.rstrip(".-_")
        if trimmed != name and len(trimmed) >= 3:
            keys.add(uniqueness_key(trimmed))
    return keys


def _wants(kind: str):
    """Member has not blocked the author, nor turned ``kind`` off, nor is on a break
    (correlated on Member.id; parameters ``wants_author`` and ``wants_now``, named so that no
    other clause's parameter merges with them; see :func:`_wanting`)."""
    author_id = bindparam("wants_author")
    blocked = exists().where(Block.blocker_id == Member.id, Block.blocked_id == author_id)
    muted = exists().where(
        NotificationSetting.member_id == Member.id, NotificationSetting.kind == kind,
        NotificationSetting.enabled.is_(False),
    )
    on_break = (Member.break_until.is_not(None)  # issue 5
                & (Member.break_until > bindparam("wants_now")))
    return and_(~blocked, ~muted, ~on_break, Member.status == MemberStatus.ACTIVE,
                Member.id != author_id)


def _wanting(author_id: int) -> dict[str, object]:
    """The parameters of :func:`_wants`."""
    return {"wants_author": author_id, "wants_now": utcnow()}


@cache
def _mentioned_statement() -> Select[tuple[int]]:
    """Built once, as :func:`_followers_statement` (the names are an expanding parameter)."""
    return select(Member.id).where(Member.pseudonym_key.in_(bindparam("keys", expanding=True)),
                                   _wants(MENTION))


async def _mentioned(session: AsyncSession, source: str, author_id: int) -> list[int]:
    keys = mentioned_keys(source)
    if not keys:
        return []
    result = await session.scalars(_mentioned_statement(),
                                   {"keys": sorted(keys), **_wanting(author_id)})
    return list(result)


async def _taking_part(session: AsyncSession, member_ids: set[int], thread: Thread) -> set[int]:
    """Of ``member_ids``, those who may read a group session's live thread: a mention tells
    nobody else of it (``queries.group_session_participant``)."""
    members = await session.scalars(select(Member).where(Member.id.in_(member_ids)))
    return {member.id for member in members
            if await group_session_participant(session, member, int(thread.group_session_id or 0),
                                               thread.space_id)}


async def _who_may_read(session: AsyncSession, thread: Thread, *groups: set[int]
                        ) -> tuple[set[int], ...]:
    """In the helpers' space, only its readers hear of a post (a member who lost the badge
    may still follow a thread there); elsewhere everyone told may read it already."""
    if thread.space.visibility != Visibility.HELPERS:  # loaded with the post (follow_changes)
        return groups
    readers = set(await session.scalars(select(Member.id).where(
        Member.id.in_(set().union(*groups)), Member.status == MemberStatus.ACTIVE,
        or_(Member.trained_helper.is_(True), Member.role == Role.ADMIN))))
    return tuple(group & readers for group in groups)


@cache
def _followers_statement() -> Select[tuple[int]]:
    """Built once, with the thread, the author and the time as parameters, like
    ``forum.queries._thread_by_id``: every reply asks it, and building it (two correlated
    ``EXISTS`` and eleven comparisons) took about 0.2 ms."""
    return (
        select(Member.id)
        .join(Follow, and_(Follow.member_id == Member.id,
                           Follow.thread_id == bindparam("thread_id")))
        .where(_wants(REPLY))
    )


async def _followers(session: AsyncSession, thread_id: int, author_id: int) -> list[int]:
    result = await session.scalars(_followers_statement(),
                                   {"thread_id": thread_id, **_wanting(author_id)})
    return list(result)


async def follow_changes(session: AsyncSession, record: Changes) -> None:
    """Notifications follow the unit of work's declared changes (before its commit): a post
    that became visible tells its thread's followers (a reply) and the members it mentions; an
    edit tells the members it newly mentions. Nobody hears twice of one post: a member who
    already has a reply or mention notice for it gets no other (so toggling a mention by
    editing tells once)."""
    post_ids = record.published | {i for i in record.edited if i not in record.published}
    if not post_ids:
        return
    posts = list(await session.scalars(
        select(Post).where(Post.id.in_(post_ids), Post.status == PostStatus.VISIBLE,
                           Post.author_id.is_not(None))
        .options(joinedload(Post.author), joinedload(Post.thread).joinedload(Thread.space))
        .order_by(Post.id)))
    for post in posts:
        told = await notify_about_post(session, post, published=post.id in record.published,
                                       previous_source=record.edited.get(post.id),
                                       new=post.id in record.created)
        changes.members(session, *told)


async def notify_about_post(session: AsyncSession, post: Post, *, published: bool,
                            previous_source: str | None, new: bool = False) -> list[int]:
    """Insert the notices about one visible post; returns who was told. ``new``: the unit of
    work inserted it, so nobody has a notice of it yet."""
    author, thread = post.author, post.thread
    mentioned = set(await _mentioned(session, post.source, author.id))
    if thread.group_session_id is not None and mentioned:
        mentioned = await _taking_part(session, mentioned, thread)
    if thread.conversation_id is not None:
        mentioned = set()  # a conversation's other person hears of it as its follower
    followers: set[int] = set()
    if published:
        if post.number > 1 and thread.group_session_id is None:  # a live session: nobody
            followers = set(await _followers(session, thread.id, author.id))
    elif previous_source is not None:
        mentioned -= set(await _mentioned(session, previous_source, author.id))
    already: set[int] = set()
    if not new:
        already = set(await session.scalars(
            select(Notification.member_id).where(Notification.post_id == post.id,
                                                 Notification.kind.in_((REPLY, MENTION)))))
    mentioned -= already
    followers -= already | mentioned
    if mentioned or followers:
        mentioned, followers = await _who_may_read(session, thread, mentioned, followers)
    rows = [{"member_id": m, "kind": MENTION, "message": MENTION_MESSAGE}
            for m in sorted(mentioned)]
    rows += [{"member_id": m, "kind": REPLY, "message": REPLY_MESSAGE} for m in sorted(followers)]
    if rows:
        params = {"author": author.pseudonym, "title": thread.title}
        await session.execute(insert(Notification), [
            {**row, "params": params, "thread_id": thread.id, "post_id": post.id}
            for row in rows
        ])
    return [row["member_id"] for row in rows]


changes.view("notifications", before_commit=follow_changes)
