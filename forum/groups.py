"""Scheduled group sessions: online "groupes de parole" held at a set time (issue 18).

A trained peer helper or one of a space's moderators schedules a session in the space: title,
theme, start and length, capacity, who may see it (members only, or visitors too), the group's
agreement, and whether its messages are kept afterwards. Members register by accepting the
agreement. Then time moves it along, whether or not anyone is looking (``GroupWatch``, and
``catch_up`` on each page of a session):

- ``REMINDER_BEFORE`` the start, every registered member gets an in-app reminder, once;
- at the start a live thread opens (``Thread.group_session_id``), its first message the
  agreement: only the participants read and write it (``queries.check_thread_access``); no list,
  search index, count or shared cache ever holds it; replies there notify nobody by default;
- the facilitator may pause it (only they write meanwhile), remove a message (a moderation
  action, in the log) and end it; ``CLOSE_AFTER`` the planned end it ends by itself;
- once ended the thread is locked, and deleted when the session was not to be kept (as soon as
  no flag on it waits for the moderators, so a welfare item never loses its post).

Every message goes through the posting gate like any post: the crisis screen, its pause, and
the moderators' alert. Each step is one conditional UPDATE on the session's status, so several
processes may run the watch at once and a step happens once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from forum import changes
from forum.actions import do_notify
from forum.db import Base, commit, utcnow
from forum.i18n import N_
from forum.models import (
    GroupSession,
    GroupSessionMember,
    GroupSessionStatus,
    Member,
    Post,
    PostStatus,
    Space,
    Thread,
)
from forum.watch import Watch

log = logging.getLogger(__name__)

REMINDER_BEFORE = timedelta(minutes=30)
CLOSE_AFTER = timedelta(minutes=30)
"""A session left open by its facilitator ends this long after its planned end."""
MINUTES_CHOICES = (30, 45, 60, 75, 90, 120)
MAX_CAPACITY = 30
"""A group larger than this is no longer a "groupe de parole" (and is hard to facilitate)."""
MAX_AHEAD = timedelta(days=180)
WATCH_INTERVAL = 30.0

GROUP_NOTICE = "group"
REMINDER = N_("Rappel : la session « %(title)s » commence dans moins de 30 minutes.")
OPENED = N_("La session « %(title)s » a commencé : tu peux la rejoindre.")
CANCELLED = N_("La session « %(title)s » est annulée. Tu n'as rien à faire ; d'autres "
               "sessions sont proposées dans l'espace.")

LIVE_OR_SCHEDULED = (GroupSessionStatus.SCHEDULED, GroupSessionStatus.LIVE)


def ends_at(group: GroupSession) -> datetime:
    return group.starts_at + timedelta(minutes=group.minutes)


@dataclass(frozen=True)
class Plan:
    """What the scheduling form asks for, already checked (``forum/web/groups.py``)."""

    title: str
    theme: str
    agreement: str
    agreement_html: str
    renderer_version: int
    starts_at: datetime
    minutes: int
    capacity: int
    open_listing: bool
    keep_after: bool


async def do_schedule(session: AsyncSession, *, space: Space, facilitator: Member,
                      plan: Plan) -> GroupSession:
    group = GroupSession(
        space_id=space.id, facilitator_id=facilitator.id, title=plan.title, theme=plan.theme,
        agreement=plan.agreement, agreement_html=plan.agreement_html,
        renderer_version=plan.renderer_version, starts_at=plan.starts_at,
        minutes=plan.minutes, capacity=plan.capacity, open_listing=plan.open_listing,
        keep_after=plan.keep_after, status=GroupSessionStatus.SCHEDULED,
    )
    session.add(group)
    await session.flush()
    return group


async def registered_count(session: AsyncSession, group_id: int) -> int:
    return int(await session.scalar(
        select(func.count()).select_from(GroupSessionMember)
        .where(GroupSessionMember.group_session_id == group_id)) or 0)


REGISTERED, FULL, CLOSED = "registered", "full", "closed"


async def do_register(session: AsyncSession, group: GroupSession, member: Member) -> str:
    """Register ``member`` (who accepted the agreement): ``REGISTERED`` (again, for a second
    submit, which changes nothing), ``FULL``, or ``CLOSED`` (ended or cancelled meanwhile).
    The session's row is locked first (PostgreSQL; SQLite writes one at a time), and its
    status read under the lock, so two last places are never both taken and nobody joins a
    session cancelled a moment before."""
    status = await session.scalar(select(GroupSession.status).where(GroupSession.id == group.id)
                                  .with_for_update())
    if status not in LIVE_OR_SCHEDULED:
        return CLOSED
    already = await session.scalar(select(exists().where(
        GroupSessionMember.group_session_id == group.id,
        GroupSessionMember.member_id == member.id)))
    if already:
        return REGISTERED
    if await registered_count(session, group.id) >= group.capacity:
        return FULL
    await session.execute(insert(GroupSessionMember).values(
        group_session_id=group.id, member_id=member.id, created_at=utcnow()))
    changes.members(session, member.id)
    return REGISTERED


async def do_unregister(session: AsyncSession, group: GroupSession, member: Member) -> None:
    await session.execute(delete(GroupSessionMember).where(
        GroupSessionMember.group_session_id == group.id,
        GroupSessionMember.member_id == member.id))
    changes.members(session, member.id)  # their own copy of the live thread is no longer theirs


async def _tell_registered(session: AsyncSession, group: GroupSession, message: str,
                           thread_id: int | None = None) -> None:
    for member_id in await session.scalars(
            select(GroupSessionMember.member_id)
            .where(GroupSessionMember.group_session_id == group.id)):
        await do_notify(session, member_id, kind=GROUP_NOTICE, message=message,
                        params={"title": group.title, "group": group.id}, thread_id=thread_id)


async def _take(session: AsyncSession, group: GroupSession, expected: GroupSessionStatus,
                *also: Any, **values: object) -> bool:
    """One conditional UPDATE from status ``expected`` (and ``also``): the step happens here,
    or another process did it already."""
    result = await session.execute(
        update(GroupSession)
        .where(GroupSession.id == group.id, GroupSession.status == expected, *also)
        .values(**values))
    if getattr(result, "rowcount", 0) != 1:
        return False
    for name, value in values.items():
        setattr(group, name, value)
    return True


async def do_remind(session: AsyncSession, group: GroupSession) -> bool:
    if not await _take(session, group, GroupSessionStatus.SCHEDULED,
                       GroupSession.reminded.is_(False), reminded=True):
        return False
    await _tell_registered(session, group, REMINDER)
    return True


async def do_open(session: AsyncSession, group: GroupSession, *, now: datetime) -> Thread | None:
    """The start: the live thread opens with the agreement as its first message."""
    if not await _take(session, group, GroupSessionStatus.SCHEDULED,
                       status=GroupSessionStatus.LIVE):
        return None
    thread = Thread(space_id=group.space_id, author_id=group.facilitator_id, title=group.title,
                    created_at=now, last_activity_at=now, post_count=1, reply_count=0,
                    group_session_id=group.id)
    session.add(thread)
    await session.flush()
    post = Post(thread_id=thread.id, number=1, author_id=group.facilitator_id,
                source=group.agreement, html=group.agreement_html,
                renderer_version=group.renderer_version, status=PostStatus.VISIBLE,
                created_at=now)
    session.add(post)
    await session.flush()
    changes.post(session, post, published=True, created=True)
    if now < ends_at(group):  # a session the watch missed entirely opens only to end
        await _tell_registered(session, group, OPENED, thread_id=thread.id)
    return thread


async def thread_of(session: AsyncSession, group_id: int) -> Thread | None:
    return await session.scalar(select(Thread).where(Thread.group_session_id == group_id))


async def do_set_paused(session: AsyncSession, group: GroupSession, paused: bool) -> bool:
    if not await _take(session, group, GroupSessionStatus.LIVE, paused=paused):
        return False
    thread = await thread_of(session, group.id)
    if thread is not None:
        changes.thread(session, thread.id)
    return True


async def do_end(session: AsyncSession, group: GroupSession, *, now: datetime) -> bool:
    """The end: the thread is locked (and deleted when it was not to be kept, as soon as
    nothing on it waits for the moderators: ``erase_if_due``)."""
    if not await _take(session, group, GroupSessionStatus.LIVE,
                       status=GroupSessionStatus.ENDED, paused=False, ended_at=now):
        return False
    thread = await thread_of(session, group.id)
    if thread is not None:
        await session.execute(update(Thread).where(Thread.id == thread.id).values(locked=True))
        changes.thread(session, thread.id)
    await erase_if_due(session, group)
    return True


async def do_cancel(session: AsyncSession, group: GroupSession) -> bool:
    """A session that has not started is called off; its registered members are told."""
    if not await _take(session, group, GroupSessionStatus.SCHEDULED,
                       status=GroupSessionStatus.CANCELLED):
        return False
    await _tell_registered(session, group, CANCELLED)
    return True


async def do_leave_all(session: AsyncSession, member: Member, *, now: datetime) -> None:
    """A facilitator's account is deleted: their sessions to come are cancelled (their members
    told) and a live one ends (``forum.privacy`` blanks their texts when asked to erase)."""
    for group in list(await session.scalars(select(GroupSession).where(
            GroupSession.facilitator_id == member.id))):
        if group.status == GroupSessionStatus.SCHEDULED:
            await do_cancel(session, group)
        elif group.status == GroupSessionStatus.LIVE:
            await do_end(session, group, now=now)


def waiting_on(thread_id: int) -> list[Any]:
    """What still waits for the moderators in the thread: a post held for review, an open flag
    (a welfare item among them), an undecided appeal of an action on one of its posts. The
    flags, actions and appeals are moderation's tables, used when they are there."""
    in_thread = Post.thread_id == thread_id
    waiting: list[Any] = [exists().where(in_thread, Post.status == PostStatus.PENDING)]
    tables = Base.metadata.tables
    flag = tables.get("flag")
    if flag is not None:
        waiting.append(exists().where(flag.c.post_id == Post.id, in_thread,
                                      flag.c.resolved_at.is_(None)))
    action, appeal = tables.get("moderation_action"), tables.get("appeal")
    if action is not None and appeal is not None:
        waiting.append(exists().where(appeal.c.action_id == action.c.id,
                                      action.c.target_post_id == Post.id, in_thread,
                                      appeal.c.decided_at.is_(None)))
    return waiting


async def erase_if_due(session: AsyncSession, group: GroupSession) -> bool:
    """Delete the messages of an ended session that was not to be kept, unless something on
    them still waits for the moderators (``waiting_on``; then a later look does it)."""
    if group.keep_after or group.status != GroupSessionStatus.ENDED:
        return False
    thread = await thread_of(session, group.id)
    if thread is None:
        return False
    if await session.scalar(select(or_(*waiting_on(thread.id)))):
        return False
    post_ids = list(await session.scalars(select(Post.id).where(Post.thread_id == thread.id)))
    changes.posts(session, [(post_id, thread.id) for post_id in post_ids])
    await session.execute(delete(Thread).where(Thread.id == thread.id))
    return True


async def is_due(session: AsyncSession, group: GroupSession, now: datetime) -> bool:
    """Whether ``catch_up`` has a step to take for ``group`` at ``now`` (reads only: a page
    then takes the step in a write of its own)."""
    if group.status == GroupSessionStatus.SCHEDULED:
        return now >= group.starts_at or (
            not group.reminded and now >= group.starts_at - REMINDER_BEFORE)
    if group.status == GroupSessionStatus.LIVE:
        return now >= ends_at(group) + CLOSE_AFTER
    if group.status == GroupSessionStatus.ENDED and not group.keep_after:
        return await thread_of(session, group.id) is not None
    return False


async def catch_up(session: AsyncSession, group: GroupSession, *, now: datetime) -> None:
    """Bring one session to where its clock says it is (a page shows it as it is now, even
    between two looks of the watch)."""
    if group.status == GroupSessionStatus.SCHEDULED:
        if now >= group.starts_at - REMINDER_BEFORE and now < group.starts_at:
            await do_remind(session, group)
        if now >= group.starts_at:
            await do_open(session, group, now=now)
    if group.status == GroupSessionStatus.LIVE and now >= ends_at(group) + CLOSE_AFTER:
        await do_end(session, group, now=now)
    elif group.status == GroupSessionStatus.ENDED and not group.keep_after:
        await erase_if_due(session, group)


async def catch_up_all(session: AsyncSession, *, now: datetime) -> int:
    """Every session with a step due: reminders, starts, overdue ends, deletions."""
    due = list(await session.scalars(select(GroupSession).where(
        (GroupSession.status == GroupSessionStatus.SCHEDULED)
        & (GroupSession.starts_at <= now + REMINDER_BEFORE)
        | (GroupSession.status == GroupSessionStatus.LIVE)
        & (GroupSession.starts_at <= now - CLOSE_AFTER)  # a lower bound; catch_up decides
        | (GroupSession.status == GroupSessionStatus.ENDED)
        & GroupSession.keep_after.is_(False)
        & exists().where(Thread.group_session_id == GroupSession.id))
        .order_by(GroupSession.starts_at, GroupSession.id)))
    for group in due:
        try:
            async with session.begin_nested():  # one session's failure leaves the others be
                await catch_up(session, group, now=now)
        except Exception:
            log.exception("group session %s: its due step failed; trying again later",
                          group.id)
    return len(due)


class GroupWatch(Watch):
    """Runs ``catch_up_all`` every ``WATCH_INTERVAL`` seconds in the background of each app
    process (``forum/watch.py``)."""

    name = "group sessions watch"
    interval = WATCH_INTERVAL

    async def run_once(self) -> int:
        async with self.database.writing() as session:
            looked = await catch_up_all(session, now=self.clock())
            await commit(session)
        return looked
