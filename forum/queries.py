"""The read side. Controllers never build a query; they call these.

``get_*_or_404`` fetch and check access in one call. Every query eager-loads what the
templates need, and page queries run a constant number of statements whatever the length of a
thread or a space.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

from litestar.exceptions import NotFoundException
from sqlalchemy import Select, and_, bindparam, func, or_, select, text, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from forum.models import (
    ID_MAX,
    NEEDS_CARE,
    Block,
    Conversation,
    ConversationKind,
    Follow,
    GroupSession,
    GroupSessionMember,
    GroupSessionStatus,
    Member,
    MemberStatus,
    Notification,
    NotificationSetting,
    Post,
    PostRevision,
    Reaction,
    SafetyPlan,
    Space,
    Thread,
    Visibility,
    WarningPreference,
)
from forum.permissions import Viewer, check_read_space_content, is_admin, reads_helpers_spaces
from forum.pseudonyms import uniqueness_key
from forum.sessions import store_of

POSTS_PER_PAGE = 30
THREADS_PER_PAGE = 25
RECENT_THREADS = 10


async def get_session_with_member(session: AsyncSession, token: str) -> tuple[Any, Member] | None:
    """The session whose cookie is ``token`` (a row or a ``SessionInfo``) and its member."""
    return await store_of(session).find(session, token)


async def find_member_by_key(session: AsyncSession, key: str) -> Member | None:
    return await session.scalar(select(Member).where(Member.pseudonym_key == key))


def _readable_spaces(viewer: Viewer):
    return and_(Space.archived.is_(False), readable_visibility(viewer))


READABLE_BY_REACH = {
    "public": Space.visibility == Visibility.PUBLIC,
    "all": true(),
    "not helpers": Space.visibility != Visibility.HELPERS,
}


def reading_reach(viewer: Viewer) -> str:
    """Which spaces' threads ``viewer`` reads, by visibility, as a key of ``READABLE_BY_REACH``:
    a visitor the public ones, a trained helper or an admin all, any other member all but the
    helpers' (as ``permissions.can_read_space_content``). A statement built once per reach
    may be reused for every viewer of that reach (``forum.search``)."""
    if viewer is None:
        return "public"
    if reads_helpers_spaces(viewer):
        return "all"
    return "not helpers"


def readable_visibility(viewer: Viewer):  # noqa: ANN201 - a SQL clause
    """The spaces whose threads ``viewer`` reads, by visibility (:func:`reading_reach`), for
    lists and search."""
    return READABLE_BY_REACH[reading_reach(viewer)]


LISTED_THREADS = and_(Thread.group_session_id.is_(None), Thread.conversation_id.is_(None))
"""The threads lists show: a group session's live thread and a conversation's are for their
participants only (``check_thread_access``), so no list, feed or count of a space holds them."""


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
        .where(_readable_spaces(viewer), LISTED_THREADS)
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
            cursor = cls(datetime.fromtimestamp(float(stamp), UTC), int(ident))
        except (ValueError, OverflowError, OSError):
            return None
        return cursor if 0 < cursor.thread_id <= ID_MAX else None


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
    base = (select(Thread).where(Thread.space_id == space.id, LISTED_THREADS)
            .options(joinedload(Thread.author)))
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


@cache
def _thread_by_id() -> Select[tuple[Thread]]:
    """Built once, with the id as a parameter: building it (the where clause and five loader
    options) took about 0.1 ms of every reply and thread page rendered (docs/PERFORMANCE.md,
    "Statements built once, for replies too"). What SQLAlchemy keeps on a statement (its cache
    key, compile options) depends on no session or dialect, so one serves every session."""
    return (
        select(Thread)
        .where(Thread.id == bindparam("thread_id"))
        .options(joinedload(Thread.space), joinedload(Thread.author),
                 joinedload(Thread.group_session),
                 joinedload(Thread.conversation).joinedload(Conversation.member),
                 joinedload(Thread.conversation).joinedload(Conversation.helper))
    )


async def get_thread_or_404(session: AsyncSession, viewer: Viewer, thread_id: int) -> Thread:
    thread = await session.scalar(_thread_by_id(), {"thread_id": thread_id})
    if thread is None or (thread.space.archived and thread.conversation_id is None):
        raise NotFoundException()
    await check_thread_access(session, viewer, thread)
    return thread


async def check_thread_access(session: AsyncSession, viewer: Viewer, thread: Thread) -> None:
    """404 unless ``viewer`` may read ``thread``: its space's content and, for a group
    session's live thread, being one of its participants (``group_session_participant``); for
    a conversation's, being one of its two people (nobody else: not a moderator, not an
    admin; a reported message reaches moderators through ``/mod`` alone)."""
    if thread.conversation_id is not None:  # its theme archived or closed since: still theirs
        if not await conversation_participant(session, viewer, thread.conversation_id):
            raise NotFoundException()
        return
    check_read_space_content(viewer, thread.space)
    if thread.group_session_id is not None and not await group_session_participant(
            session, viewer, thread.group_session_id, thread.space_id):
        raise NotFoundException()


async def conversation_participant(session: AsyncSession, viewer: Viewer,
                                   conversation_id: int) -> bool:
    """The member who asked and the helper who accepted (while they hold the badge), or the
    member asked: the only readers of a conversation."""
    if viewer is None:
        return False
    helping = Conversation.helper_id == viewer.id
    if not viewer.trained_helper:  # a badge taken back: no more of the helper conversations
        helping = and_(helping, Conversation.kind == ConversationKind.MEMBER)
    found = await session.scalar(select(Conversation.id).where(
        Conversation.id == conversation_id, or_(Conversation.member_id == viewer.id, helping)))
    return found is not None


async def group_session_participant(session: AsyncSession, viewer: Viewer,
                                    group_session_id: int, space_id: int) -> bool:
    """Who takes part in a group session: its registered members, its facilitator, the
    space's moderators and the admins (one query at most)."""
    if viewer is None:
        return False
    if is_admin(viewer):
        return True
    from forum.models import SpaceModerator

    registered = select(GroupSessionMember.member_id).where(
        GroupSessionMember.group_session_id == group_session_id,
        GroupSessionMember.member_id == viewer.id)
    facilitating = select(GroupSession.id).where(
        GroupSession.id == group_session_id, GroupSession.facilitator_id == viewer.id)
    moderating = select(SpaceModerator.member_id).where(
        SpaceModerator.space_id == space_id, SpaceModerator.member_id == viewer.id)
    found = await session.scalar(select(
        registered.exists() | facilitating.exists() | moderating.exists()))
    return bool(found)


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
            joinedload(Post.thread).joinedload(Thread.group_session),
            joinedload(Post.thread).joinedload(Thread.conversation),
            joinedload(Post.author),
        )
    )
    if post is None or (post.thread.space.archived and post.thread.conversation_id is None):
        raise NotFoundException()
    await check_thread_access(session, viewer, post.thread)
    return post


async def post_revisions(session: AsyncSession, post_id: int) -> list[PostRevision]:
    """A post's earlier texts, oldest first (each kept when an edit replaced it)."""
    return list(await session.scalars(
        select(PostRevision).where(PostRevision.post_id == post_id)
        .order_by(PostRevision.created_at, PostRevision.id)))


@cache
def _post_by_key() -> Select[tuple[Post]]:
    """Built once (see :func:`_thread_by_id`): every reply and new thread looks its key up."""
    return (
        select(Post)
        .where(Post.author_id == bindparam("author_id"),
               Post.idempotency_key == bindparam("key"))
        .options(joinedload(Post.author), joinedload(Post.thread))
    )


async def find_post_by_key(session: AsyncSession, author_id: int, key: str) -> Post | None:
    return await session.scalar(_post_by_key(), {"author_id": author_id, "key": key})


async def active_member_count(session: AsyncSession) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(Member).where(Member.status == MemberStatus.ACTIVE)
        )
        or 0
    )


async def space_moderator_ids(session: AsyncSession, space_id: int) -> frozenset[int]:
    """The members who moderate a space (for the "Modérateur·rice pair" badge): one query."""
    from forum.models import SpaceModerator  # appended model; local import keeps the head stable

    result = await session.scalars(
        select(SpaceModerator.member_id).where(SpaceModerator.space_id == space_id)
    )
    return frozenset(result)


async def moderated_space_ids(session: AsyncSession, member_id: int) -> frozenset[int]:
    """The spaces a member moderates (their live stream hears those queues): one query."""
    from forum.models import SpaceModerator  # appended model; local import keeps the head stable

    result = await session.scalars(
        select(SpaceModerator.space_id).where(SpaceModerator.member_id == member_id)
    )
    return frozenset(result)


async def space_on_duty_count(session: AsyncSession, space_id: int) -> int:
    """How many of a space's moderators say they are present now."""
    from forum.models import SpaceModerator

    return int(
        await session.scalar(
            select(func.count()).select_from(SpaceModerator)
            .where(SpaceModerator.space_id == space_id, SpaceModerator.on_duty.is_(True))
        )
        or 0
    )



# -- notifications, reactions, follows and blocks (issue 7) -------------------------------------

NOTIFICATIONS_PER_PAGE = 30


@dataclass
class Social:
    """What a member's page needs about reactions, follows and blocks: three queries."""

    following: bool = False
    blocked_ids: frozenset[int] = frozenset()
    given: dict[int, set[str]] = field(default_factory=dict)
    """post id -> the reaction kinds the viewer gave."""
    received: dict[int, dict[str, list[str]]] = field(default_factory=dict)
    """post id (the viewer's own posts) -> kind -> pseudonyms of who reacted."""


async def social_for_posts(
    session: AsyncSession, viewer: Viewer, posts: list[Post], *, thread: Thread | None = None
) -> Social:
    """Reactions given and received on ``posts``, blocks and (with ``thread``) the follow.

    Nothing is read for a visitor; a member costs three statements whatever the page size.
    """
    if viewer is None:
        return Social()
    social = Social()
    if thread is not None:
        social.following = bool(await session.scalar(
            select(func.count()).select_from(Follow)
            .where(Follow.member_id == viewer.id, Follow.thread_id == thread.id)
        ))
    social.blocked_ids = frozenset(await session.scalars(
        select(Block.blocked_id).where(Block.blocker_id == viewer.id)
    ))
    ids = [post.id for post in posts]
    own = [post.id for post in posts if post.author_id == viewer.id]
    if ids:
        rows = await session.execute(
            select(Reaction.post_id, Reaction.kind, Reaction.member_id, Member.pseudonym)
            .join(Member, Member.id == Reaction.member_id)
            .where(or_(and_(Reaction.post_id.in_(ids), Reaction.member_id == viewer.id),
                       Reaction.post_id.in_(own or [-1])))
            .order_by(Reaction.created_at, Member.id)
        )
        for post_id, kind, member_id, pseudonym in rows:
            if member_id == viewer.id:
                social.given.setdefault(post_id, set()).add(kind)
            if post_id in own:
                social.received.setdefault(post_id, {}).setdefault(kind, []).append(pseudonym)
    return social


async def unread_notification_count(session: AsyncSession, member_id: int) -> int:
    return int(await session.scalar(
        select(func.count()).select_from(Notification)
        .where(Notification.member_id == member_id, Notification.read_at.is_(None))
    ) or 0)


async def list_notifications(
    session: AsyncSession, member: Member, page: int = 1
) -> tuple[list[Notification], bool]:
    """A page of the member's notifications, newest first; and whether there is a next."""
    rows = list(await session.scalars(
        select(Notification).where(Notification.member_id == member.id)
        .order_by(Notification.id.desc())
        .limit(NOTIFICATIONS_PER_PAGE + 1).offset((page - 1) * NOTIFICATIONS_PER_PAGE)
    ))
    return rows[:NOTIFICATIONS_PER_PAGE], len(rows) > NOTIFICATIONS_PER_PAGE


async def disabled_notification_kinds(session: AsyncSession, member: Member) -> set[str]:
    return set(await session.scalars(
        select(NotificationSetting.kind).where(
            NotificationSetting.member_id == member.id, NotificationSetting.enabled.is_(False)
        )
    ))


async def blocked_member_ids(session: AsyncSession, member_id: int) -> frozenset[int]:
    return frozenset(await session.scalars(
        select(Block.blocked_id).where(Block.blocker_id == member_id)))


async def blocked_members(session: AsyncSession, member: Member) -> list[Member]:
    return list(await session.scalars(
        select(Member).join(Block, Block.blocked_id == Member.id)
        .where(Block.blocker_id == member.id).order_by(Member.pseudonym)
    ))


async def get_member_or_404(session: AsyncSession, ref: str) -> Member:
    """A member by id or by pseudonym (look-alikes resolve through the uniqueness key)."""
    if ref.isascii() and ref.isdigit():  # str.isdigit() is also true of "²"
        number = int(ref)
        member = await session.get(Member, number) if number <= ID_MAX else None
    else:
        member = await find_member_by_key(session, uniqueness_key(ref))
    if member is None or member.status != MemberStatus.ACTIVE:
        raise NotFoundException()
    return member


# -- accounts (issue 5) ------------------------------------------------------------------------


async def list_member_sessions(session: AsyncSession, member_id: int) -> list[Any]:
    """A member's open sessions, most recently used first."""
    return await store_of(session).of_member(session, member_id)


async def thread_needs_care(session: AsyncSession, thread_id: int) -> bool:
    """Whether a visible post of the thread screened at concern or above (one probe of a
    partial index): the thread page then shows one gentle banner with the help link."""
    found = await session.scalar(
        select(Post.id).where(Post.thread_id == thread_id, text(NEEDS_CARE)).limit(1)
    )
    return found is not None


async def unanswered_threads(
    session: AsyncSession, viewer: Viewer, *, older_than: datetime,
    space: Space | None = None, space_ids: list[int] | None = None,
    limit: int = THREADS_PER_PAGE,
) -> list[Thread]:
    """Threads nobody has answered since ``older_than``, oldest first, so peers can answer.

    For a space page (``space``) or the moderators' dashboard (``space_ids``; None = all)."""
    query = (
        select(Thread)
        .join(Space, Space.id == Thread.space_id)
        .where(Thread.reply_count == 0, Thread.locked.is_(False), LISTED_THREADS,
               Thread.created_at <= older_than, _readable_spaces(viewer))
        .options(joinedload(Thread.author), joinedload(Thread.space))
        .order_by(Thread.created_at, Thread.id)
        .limit(limit)
    )
    if space is not None:
        check_read_space_content(viewer, space)
        query = query.where(Thread.space_id == space.id)
    elif space_ids is not None:
        query = query.where(Thread.space_id.in_(space_ids))
    return list(await session.scalars(query))


async def get_safety_plan(session: AsyncSession, member_id: int) -> SafetyPlan | None:
    return await session.get(SafetyPlan, member_id)


async def hidden_warning_themes(session: AsyncSession, viewer: Viewer) -> frozenset[str]:
    """The content-warning themes this reader chose to hide (none for visitors)."""
    if viewer is None:
        return frozenset()
    rows = await session.scalars(
        select(WarningPreference.theme).where(WarningPreference.member_id == viewer.id,
                                              WarningPreference.mode == "hide"))
    return frozenset(rows)


# -- group sessions (issue 18; ``forum/groups.py``) --------------------------------------------

PAST_SESSIONS = 10


def _group_listing(viewer: Viewer):  # noqa: ANN202 - a SQL clause
    """Visitors see the sessions whose facilitator opened their page to them."""
    return GroupSession.open_listing.is_(True) if viewer is None else true()


async def space_group_sessions(session: AsyncSession, viewer: Viewer, space: Space
                               ) -> tuple[list[GroupSession], list[GroupSession]]:
    """A space's sessions to come (and live), soonest first, and its last ended ones."""
    base = (select(GroupSession).where(GroupSession.space_id == space.id,
                                       _group_listing(viewer))
            .options(joinedload(GroupSession.facilitator)))
    coming = list(await session.scalars(
        base.where(GroupSession.status.in_((GroupSessionStatus.SCHEDULED,
                                            GroupSessionStatus.LIVE)))
        .order_by(GroupSession.starts_at, GroupSession.id)))
    past = list(await session.scalars(
        base.where(GroupSession.status == GroupSessionStatus.ENDED)
        .order_by(GroupSession.starts_at.desc(), GroupSession.id.desc())
        .limit(PAST_SESSIONS)))
    return coming, past


async def get_group_session_or_404(session: AsyncSession, viewer: Viewer,
                                   group_id: int) -> GroupSession:
    """A session's page: for whoever may read its space (members-only sessions for members)."""
    group = await session.scalar(
        select(GroupSession).where(GroupSession.id == group_id)
        .options(joinedload(GroupSession.space), joinedload(GroupSession.facilitator)))
    if group is None or group.space.archived or (viewer is None and not group.open_listing):
        raise NotFoundException()
    check_read_space_content(viewer, group.space)
    return group


async def registered_group_ids(session: AsyncSession, member_id: int,
                               group_ids: list[int]) -> frozenset[int]:
    if not group_ids:
        return frozenset()
    return frozenset(await session.scalars(
        select(GroupSessionMember.group_session_id).where(
            GroupSessionMember.member_id == member_id,
            GroupSessionMember.group_session_id.in_(group_ids))))


async def registration_counts(session: AsyncSession, group_ids: list[int]) -> dict[int, int]:
    if not group_ids:
        return {}
    rows = await session.execute(
        select(GroupSessionMember.group_session_id, func.count())
        .where(GroupSessionMember.group_session_id.in_(group_ids))
        .group_by(GroupSessionMember.group_session_id))
    return {group_id: int(count) for group_id, count in rows.all()}
