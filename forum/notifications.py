"""Who hears of what: replies to followed threads and ``@pseudonym`` mentions.

Called by ``forum.actions`` when a post becomes visible (and by moderation when it approves a
pending post), in the same transaction. A member hears nothing from someone they blocked,
nothing of their own posts, and nothing of a kind they turned off. Moderation and welfare
notices are left by ``forum.actions.do_notify`` and cannot be turned off.

Notices are message ids (French source) with parameters, translated where shown.
"""

from __future__ import annotations

import re

from sqlalchemy import and_, exists, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

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
    Thread,
)
from forum.pseudonyms import uniqueness_key

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


def _wants(kind: str, author_id: int):
    """Member has not blocked the author, nor turned ``kind`` off (correlated on Member.id)."""
    blocked = exists().where(Block.blocker_id == Member.id, Block.blocked_id == author_id)
    muted = exists().where(
        NotificationSetting.member_id == Member.id, NotificationSetting.kind == kind,
        NotificationSetting.enabled.is_(False),
    )
    on_break = Member.break_until.is_not(None) & (Member.break_until > utcnow())  # issue 5
    return and_(~blocked, ~muted, ~on_break, Member.status == MemberStatus.ACTIVE,
                Member.id != author_id)


async def _mentioned(session: AsyncSession, source: str, author_id: int) -> list[int]:
    keys = mentioned_keys(source)
    if not keys:
        return []
    result = await session.scalars(
        select(Member.id).where(Member.pseudonym_key.in_(keys), _wants(MENTION, author_id))
    )
    return list(result)


async def _followers(session: AsyncSession, thread_id: int, author_id: int) -> list[int]:
    result = await session.scalars(
        select(Member.id)
        .join(Follow, and_(Follow.member_id == Member.id, Follow.thread_id == thread_id))
        .where(_wants(REPLY, author_id))
    )
    return list(result)


async def notify_new_post(
    session: AsyncSession, post: Post, *, author: Member, thread: Thread,
    previous_source: str | None = None,
) -> int:
    """Tell followers of a reply and mentioned members of a mention; returns how many.

    With ``previous_source`` (an edit), only names newly mentioned are told, and followers
    are not told again. Nothing happens for a post that is not visible.
    """
    if post.status != PostStatus.VISIBLE:
        return 0
    params = {"author": author.pseudonym, "title": thread.title}
    mentioned = set(await _mentioned(session, post.source, author.id))
    if previous_source is not None:
        mentioned -= set(await _mentioned(session, previous_source, author.id))
        followers: set[int] = set()
    else:
        followers = set(await _followers(session, thread.id, author.id)) if post.number > 1 \
            else set()
    rows = [
        {"member_id": member_id, "kind": MENTION, "message": MENTION_MESSAGE}
        for member_id in sorted(mentioned)
    ] + [
        {"member_id": member_id, "kind": REPLY, "message": REPLY_MESSAGE}
        for member_id in sorted(followers - mentioned)
    ]
    if rows:
        await session.execute(insert(Notification), [
            {**row, "params": params, "thread_id": thread.id, "post_id": post.id}
            for row in rows
        ])
    return len(rows)
