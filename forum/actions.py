"""The write side: every change a member makes is one ``do_*`` function here.

Each takes the session first, changes rows, and never commits: the request's single unit of
work commits (``forum.db.commit``), so a change lands whole or not at all. Counters are
single atomic ``UPDATE … SET n = n + 1`` statements, never read-modify-write in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, inspect, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from forum import changes, notifications
from forum.db import utcnow
from forum.gate import Verdict
from forum.models import (
    Block,
    Follow,
    Member,
    Notification,
    NotificationSetting,
    Post,
    PostRevision,
    PostStatus,
    Reaction,
    Role,
    SafetyPlan,
    Space,
    Thread,
    WarningPreference,
)
from forum.queries import find_post_by_key
from forum.sessions import store_of, token_hash


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
    session: AsyncSession, member: Member, *, lifetime: timedelta, now: datetime | None = None,
    device: str | None = None,
) -> str:
    """A new session for ``member``; returns the token for the cookie (stored only hashed).

    ``device`` is a class (computer, phone, tablet), never the user agent it came from."""
    return await store_of(session).start(session, member, now=now or utcnow(),
                                         lifetime=lifetime, device=device)


async def do_end_session(session: AsyncSession, token: str) -> None:
    await store_of(session).end(session, token)


async def do_end_all_sessions(session: AsyncSession, member: Member) -> None:
    await store_of(session).end_all(session, member.id)


async def do_touch_session(session: AsyncSession, token: str, now: datetime) -> None:
    await store_of(session).touch(session, token, now)


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
    changes.members(session, member_id)
    return notification


async def do_set_role(session: AsyncSession, member: Member, role: Role) -> None:
    await session.execute(update(Member).where(Member.id == member.id).values(role=role))
    changes.everyone(session)  # a role shows as a badge beside every post of theirs


async def do_set_accepts_conversations(session: AsyncSession, member: Member,
                                       accepts: bool) -> None:
    """Whether other members may ask ``member`` for a conversation (``forum/conversations.py``)."""
    await session.execute(update(Member).where(Member.id == member.id)
                          .values(accepts_conversations=accepts))
    changes.members(session, member.id)


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
        changes.members(session, member.id)


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
    content_warning: str | None, lang: str | None, idempotency_key: str | None, now: datetime,
) -> Post:
    return Post(
        thread_id=thread_id, number=number, author_id=author.id, source=source,
        html=verdict.html, renderer_version=verdict.renderer_version, lang=lang,
        status=verdict.status, crisis_level=verdict.crisis_level,
        crisis_answer=verdict.crisis_answer,
        content_warning=content_warning, idempotency_key=idempotency_key, created_at=now,
    )


@dataclass(frozen=True)
class Posted:
    post: Post
    created: bool
    """False when the idempotency key matched a post already stored: nothing was written."""


async def _already_posted(
    session: AsyncSession, author: Member, idempotency_key: str | None, error: IntegrityError
) -> Posted:
    """A concurrent request with the same key won the race (PostgreSQL: its insert waited on
    ours and hit the unique constraint); answer with its post rather than a 500. The savepoint
    already undid this attempt's counter updates, and expired what its statements had changed
    in the session (the thread, the space): those are read again, so that the caller can still
    use them (its thread's id for the answer's address)."""
    existing = (
        await find_post_by_key(session, author.id, idempotency_key) if idempotency_key else None
    )
    if existing is None:
        raise error
    for instance in list(session.identity_map.values()):
        if inspect(instance).expired_attributes:
            await session.refresh(instance)
    return Posted(existing, created=False)


async def do_create_thread(
    session: AsyncSession, *, space: Space, author: Member, title: str, source: str,
    verdict: Verdict, content_warning: str | None = None, lang: str | None = None,
    idempotency_key: str | None = None, conversation_id: int | None = None,
) -> Posted:
    """Open a thread with its first post; ``lang``: the post's language (``POST_LANGS``).
    ``conversation_id``: the thread is that conversation's (``forum/conversations.py``): not
    counted among the space's threads, nor its activity."""
    if idempotency_key:
        existing = await find_post_by_key(session, author.id, idempotency_key)
        if existing is not None:
            return Posted(existing, created=False)
    now = utcnow()
    try:
        async with session.begin_nested():
            thread = Thread(
                space_id=space.id, author_id=author.id, title=title, created_at=now,
                last_activity_at=now, post_count=1, reply_count=0,
                conversation_id=conversation_id,
            )
            session.add(thread)
            await session.flush()
            post = _new_post(
                thread_id=thread.id, number=1, author=author, source=source, verdict=verdict,
                content_warning=content_warning, lang=lang, idempotency_key=idempotency_key,
                now=now,
            )
            session.add(post)
            if conversation_id is None:
                await session.execute(
                    update(Space)
                    .where(Space.id == space.id)
                    .values(thread_count=Space.thread_count + 1, last_activity_at=now)
                )
            await session.flush()
    except IntegrityError as exc:
        return await _already_posted(session, author, idempotency_key, exc)
    await _after_publishing(session, post, author=author, thread=thread)
    return Posted(post, created=True)


async def do_reply(
    session: AsyncSession, *, thread: Thread, author: Member, source: str, verdict: Verdict,
    content_warning: str | None = None, lang: str | None = None,
    idempotency_key: str | None = None,
) -> Posted:
    """Add a post to ``thread``; ``lang``: its language (``POST_LANGS``)."""
    if idempotency_key:
        existing = await find_post_by_key(session, author.id, idempotency_key)
        if existing is not None:
            return Posted(existing, created=False)
    now = utcnow()
    try:
        async with session.begin_nested():
            number = await _number_next_post(
                session, thread.id, counts_as_reply=verdict.status == PostStatus.VISIBLE,
                now=now,
            )
            post = _new_post(
                thread_id=thread.id, number=number, author=author, source=source,
                verdict=verdict, content_warning=content_warning, lang=lang,
                idempotency_key=idempotency_key, now=now,
            )
            session.add(post)
            if not thread.private:  # a session or a conversation is not the space's activity
                await session.execute(
                    update(Space).where(Space.id == thread.space_id).values(last_activity_at=now)
                )
            await session.flush()
    except IntegrityError as exc:
        return await _already_posted(session, author, idempotency_key, exc)
    await _after_publishing(session, post, author=author, thread=thread)
    return Posted(post, created=True)


async def do_edit_post(
    session: AsyncSession, post: Post, *, editor: Member, source: str, verdict: Verdict,
    content_warning: str | None = None, lang: str | None = None,
) -> bool:
    """Keep the current text as a revision, then store the new one. False if nothing changed.

    ``lang``: the post's language from now on (None keeps it); a new language alone is an
    edit, so that the pages showing the post are drawn again."""
    lang = lang or post.lang
    if (source, content_warning, lang) == (post.source, post.content_warning, post.lang):
        return False
    session.add(
        PostRevision(
            post_id=post.id, editor_id=editor.id, source=post.source, html=post.html,
            renderer_version=post.renderer_version, lang=post.lang,
        )
    )
    previous_source, post.source = post.source, source
    post.html = verdict.html
    post.renderer_version = verdict.renderer_version
    post.crisis_level = verdict.crisis_level
    post.crisis_answer = verdict.crisis_answer
    post.content_warning = content_warning
    post.lang = lang
    post.edited_at = utcnow()
    if post.status == PostStatus.VISIBLE and verdict.status == PostStatus.PENDING:
        post.status = PostStatus.PENDING
        if post.number > 1:
            await _adjust_reply_count(session, post.thread_id, -1)
    await session.flush()
    changes.post(session, post, previous_source=previous_source)
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
    post.lang = None
    post.edited_at = utcnow()
    await session.execute(delete(PostRevision).where(PostRevision.post_id == post.id))
    if was_visible and post.number > 1:
        await _adjust_reply_count(session, post.thread_id, -1)
    await session.flush()
    changes.post(session, post)
    return True


# -- search, notifications, reactions, follows and blocks (issue 7) ---------------------------

REACTION_KINDS: tuple[str, ...] = ("je-te-lis", "courage", "merci", "moi-aussi")


async def _insert_ignoring_duplicates(session: AsyncSession, model: type, **values: object) -> None:
    """INSERT … ON CONFLICT DO NOTHING, on either database."""
    dialect_insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    await session.execute(dialect_insert(model).values(**values).on_conflict_do_nothing())


async def _after_publishing(session: AsyncSession, post: Post, *, author: Member,
                            thread: Thread) -> None:
    """A new post: its author follows the thread; the views follow the declared change (the
    index, the notices of followers and mentioned members, the pages)."""
    if thread.group_session_id is None:  # a live session's messages notify nobody
        await do_follow(session, author.id, thread.id)
    changes.post(session, post, published=post.status == PostStatus.VISIBLE, created=True)


async def do_follow(session: AsyncSession, member_id: int, thread_id: int) -> None:
    await _insert_ignoring_duplicates(session, Follow, member_id=member_id, thread_id=thread_id,
                                      created_at=utcnow())
    changes.members(session, member_id)


async def do_unfollow(session: AsyncSession, member_id: int, thread_id: int) -> None:
    await session.execute(
        delete(Follow).where(Follow.member_id == member_id, Follow.thread_id == thread_id)
    )
    changes.members(session, member_id)


async def do_toggle_reaction(session: AsyncSession, post: Post, *, member: Member,
                             kind: str) -> bool:
    """Give or take back one support reaction; returns True when it is now given."""
    if kind not in REACTION_KINDS:
        raise ValueError(kind)
    changes.members(session, member.id, post.author_id)  # the author sees who reacted
    removed = await session.execute(
        delete(Reaction).where(Reaction.post_id == post.id, Reaction.member_id == member.id,
                               Reaction.kind == kind)
    )
    if removed.rowcount:
        return False
    await _insert_ignoring_duplicates(session, Reaction, post_id=post.id, member_id=member.id,
                                      kind=kind, created_at=utcnow())
    return True


async def do_block(session: AsyncSession, blocker: Member, blocked: Member) -> bool:
    """Block a member (never told to them). False for oneself."""
    if blocker.id == blocked.id:
        return False
    await _insert_ignoring_duplicates(session, Block, blocker_id=blocker.id,
                                      blocked_id=blocked.id, created_at=utcnow())
    changes.members(session, blocker.id)
    return True


async def do_unblock(session: AsyncSession, blocker: Member, blocked_id: int) -> None:
    await session.execute(
        delete(Block).where(Block.blocker_id == blocker.id, Block.blocked_id == blocked_id)
    )
    changes.members(session, blocker.id)


async def do_set_notification_kinds(session: AsyncSession, member: Member,
                                    enabled: dict[str, bool]) -> None:
    """Store the member's choice for each optional kind (moderation and welfare stay on)."""
    for kind, on in enabled.items():
        if kind not in notifications.OPTIONAL_KINDS:
            continue
        await session.execute(
            delete(NotificationSetting).where(NotificationSetting.member_id == member.id,
                                              NotificationSetting.kind == kind)
        )
        session.add(NotificationSetting(member_id=member.id, kind=kind, enabled=on))
    await session.flush()
    changes.members(session, member.id)


async def do_mark_read(session: AsyncSession, member: Member,
                       notification_id: int | None = None) -> int:
    """Mark one notification (or, without an id, all of them) read; returns how many."""
    statement = (
        update(Notification)
        .where(Notification.member_id == member.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    if notification_id is not None:
        statement = statement.where(Notification.id == notification_id)
    result = await session.execute(statement)
    changes.members(session, member.id)
    return int(result.rowcount or 0)


# -- accounts (issue 5): sessions, password, recovery code, break ------------------------------


async def do_end_member_session(session: AsyncSession, member: Member, session_hash: str) -> bool:
    """End one of ``member``'s sessions by its stored hash; False if it was not theirs."""
    return await store_of(session).end_one(session, member.id, session_hash)


async def do_end_other_sessions(session: AsyncSession, member: Member, keep_token: str) -> None:
    """End every session of ``member`` but the one whose cookie is ``keep_token``."""
    await store_of(session).end_all(session, member.id, keep_hash=token_hash(keep_token))


async def do_change_password(session: AsyncSession, member: Member, *, password_hash: str) -> None:
    """A new password: every session of the account ends (the caller starts a fresh one)."""
    await do_update_password(session, member, password_hash=password_hash)
    await do_end_all_sessions(session, member)


async def do_replace_recovery_code(
    session: AsyncSession, member: Member, *, recovery_hash: str
) -> None:
    await session.execute(
        update(Member).where(Member.id == member.id).values(recovery_hash=recovery_hash)
    )


async def do_set_break(session: AsyncSession, member: Member, until: datetime | None) -> None:
    """Take a break until ``until`` (None: come back now)."""
    await session.execute(update(Member).where(Member.id == member.id).values(break_until=until))
    changes.members(session, member.id)


async def do_save_safety_plan(
    session: AsyncSession, member: Member, *, warning_signs: str, what_helps: str, people: str,
    lines: str,
) -> None:
    """Create or replace the member's private safety plan."""
    plan = await session.get(SafetyPlan, member.id)
    if plan is None:
        plan = SafetyPlan(member_id=member.id)
        session.add(plan)
    plan.warning_signs, plan.what_helps, plan.people, plan.lines = (
        warning_signs, what_helps, people, lines)
    plan.updated_at = utcnow()
    await session.flush()


async def do_delete_safety_plan(session: AsyncSession, member: Member) -> None:
    await session.execute(delete(SafetyPlan).where(SafetyPlan.member_id == member.id))


async def do_set_hidden_warnings(
    session: AsyncSession, member: Member, themes: set[str]
) -> None:
    """The content-warning themes the member wants hidden (the others stay collapsed)."""
    await session.execute(
        delete(WarningPreference).where(WarningPreference.member_id == member.id))
    session.add_all(
        WarningPreference(member_id=member.id, theme=theme, mode="hide") for theme in sorted(themes)
    )
    await session.flush()
    changes.members(session, member.id)
