"""Moderation's read side: the queue, one item, the log, the public counts.

Every query is bounded (queue and log are limited), and eager-loads what templates show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from litestar.exceptions import NotFoundException
from sqlalchemy import Exists, Select, and_, case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, joinedload

from forum.db import utcnow
from forum.models import (
    Member,
    MemberStatus,
    Notification,
    Post,
    PostStatus,
    Role,
    Space,
    SpaceModerator,
    Thread,
)
from forum.permissions import Viewer, is_restricted
from forum.pseudonyms import uniqueness_key
from forum.queries import find_member_by_key
from moderation.models import (
    ActionKind,
    Appeal,
    Claim,
    Flag,
    FlagReason,
    ModerationAction,
    PendingDecision,
    ReplyTemplate,
    SecondOpinion,
    WatchedWord,
)
from moderation.permissions import Moderator, check_moderator

QUEUE_LIMIT = 50
LOG_PAGE = 50
HISTORY_LIMIT = 10


async def moderated_space_ids(session: AsyncSession, member: Member | None) -> frozenset[int]:
    if member is None:
        return frozenset()
    result = await session.scalars(
        select(SpaceModerator.space_id).where(SpaceModerator.member_id == member.id)
    )
    return frozenset(result)


async def get_moderator(session: AsyncSession, viewer: Viewer) -> Moderator:
    """The viewer as a moderator, or 401/403."""
    return check_moderator(viewer, await moderated_space_ids(session, viewer))


def _post_options() -> tuple[object, ...]:
    return (
        joinedload(Post.thread).joinedload(Thread.space),
        joinedload(Post.author),
    )


async def get_post(session: AsyncSession, post_id: int) -> Post | None:
    return await session.scalar(
        select(Post).where(Post.id == post_id).options(*_post_options())
    )


async def get_thread(session: AsyncSession, thread_id: int) -> Thread | None:
    return await session.scalar(
        select(Thread).where(Thread.id == thread_id).options(joinedload(Thread.space))
    )


async def get_member(session: AsyncSession, member_id: int) -> Member | None:
    return await session.get(Member, member_id)


async def get_flag(session: AsyncSession, flag_id: int) -> Flag | None:
    return await session.scalar(
        select(Flag).where(Flag.id == flag_id)
        .options(joinedload(Flag.post).joinedload(Post.thread).joinedload(Thread.space),
                 joinedload(Flag.post).joinedload(Post.author))
    )


async def member_in_scope(session: AsyncSession, mod: Moderator, member: Member) -> bool:
    """Has ``member`` written in a space ``mod`` moderates? (Admins: always.)"""
    if mod.is_admin:
        return True
    if not mod.space_ids:
        return False
    found = await session.scalar(
        select(
            exists().where(
                Post.author_id == member.id, Post.thread_id == Thread.id,
                Thread.space_id.in_(mod.space_ids),
            )
        )
    )
    return bool(found)


async def open_flags(session: AsyncSession, post_id: int) -> list[Flag]:
    result = await session.scalars(
        select(Flag).where(Flag.post_id == post_id, Flag.resolved_at.is_(None))
        .options(joinedload(Flag.flagger)).order_by(Flag.id)
    )
    return list(result)


async def has_open_flag(session: AsyncSession, post_id: int, flagger_id: int,
                        reason: str | None = None) -> bool:
    """Whether ``flagger_id`` has an open flag on the post (``reason``: of that reason)."""
    of_reason = [Flag.reason == reason] if reason is not None else []
    return bool(await session.scalar(select(exists().where(
        Flag.post_id == post_id, Flag.flagger_id == flagger_id, Flag.resolved_at.is_(None),
        *of_reason))))


ESTABLISHED_DAYS = 3
ESTABLISHED_POSTS = 3
"""A flagger counts towards hiding a post automatically only once their account is at least
ESTABLISHED_DAYS old and has ESTABLISHED_POSTS published posts: a handful of accounts made
minutes ago cannot hide someone's cry for help. Their flags still reach moderators."""


async def count_distinct_open_flaggers(session: AsyncSession, post_id: int, *,
                                       established: bool = False, danger: bool = True) -> int:
    """Distinct members with an open flag on the post (``established``: only those whose
    accounts count towards an automatic hide; ``danger=False``: not counting "danger" flags,
    which are worry for the author, not a complaint about the post)."""
    query = (select(func.count(func.distinct(Flag.flagger_id)))
             .where(Flag.post_id == post_id, Flag.resolved_at.is_(None)))
    if not danger:
        query = query.where(Flag.reason != FlagReason.DANGER.value)
    if established:
        published = (select(func.count()).select_from(Post)
                     .where(Post.author_id == Member.id, Post.status == PostStatus.VISIBLE)
                     .correlate(Member).scalar_subquery())
        query = query.join(Member, Member.id == Flag.flagger_id).where(
            Member.created_at <= utcnow() - timedelta(days=ESTABLISHED_DAYS),
            published >= ESTABLISHED_POSTS)
    return int(await session.scalar(query) or 0)


async def recent_welfare_notices(session: AsyncSession, member_id: int, since: datetime) -> int:
    return int(await session.scalar(
        select(func.count()).select_from(Notification)
        .where(Notification.member_id == member_id, Notification.kind == "welfare",
               Notification.created_at >= since)
    ) or 0)


async def recent_danger_flags_by(session: AsyncSession, flagger_id: int, since: datetime) -> int:
    return int(await session.scalar(
        select(func.count()).select_from(Flag)
        .where(Flag.flagger_id == flagger_id, Flag.reason == FlagReason.DANGER.value,
               Flag.created_at >= since)
    ) or 0)


# -- the queue -----------------------------------------------------------------------------

@dataclass
class QueueItem:
    post: Post
    flags: list[Flag] = field(default_factory=list)
    previous: Post | None = None
    earlier: list[Post] = field(default_factory=list)
    """Before ``previous``, oldest first: a conversation's few messages before a reported one."""
    history: list[ModerationAction] = field(default_factory=list)
    claim: Claim | None = None
    appeals: list[Appeal] = field(default_factory=list)
    second_opinions: list[SecondOpinion] = field(default_factory=list)
    pending: PendingDecision | None = None

    @property
    def welfare(self) -> bool:
        return self.post.crisis_level != "none" or self.urgent

    @property
    def urgent(self) -> bool:
        """An open "someone is in danger" flag (a member's, or the screen's at urgent): the
        items the header counts, first in the queue."""
        return any(f.reason == FlagReason.DANGER.value for f in self.flags)

    @property
    def flagger_count(self) -> int:
        """How many members flagged it (the crisis screen is not a person)."""
        return len({f.flagger_id for f in self.flags if not f.automatic})

    @property
    def automatic(self) -> bool:
        """Whether the crisis screen raised one of its flags."""
        return any(f.automatic for f in self.flags)

    @property
    def collapsed(self) -> bool:
        return bool(self.post.content_warning) or self.post.crisis_level != "none"

    def sort_key(self) -> tuple[int, int, datetime]:
        oldest = min([f.created_at for f in self.flags] or [self.post.created_at])
        rank = 0 if self.urgent else 1 if self.welfare else 2
        return (rank, -(self.flagger_count + self.automatic), oldest)


def _in_spaces(query: Select, mod: Moderator) -> Select:
    if mod.is_admin:
        return query
    return query.where(Thread.space_id.in_(mod.space_ids or {-1}))


async def queue(session: AsyncSession, mod: Moderator) -> list[QueueItem]:
    """Open items of the moderator's spaces: posts with open flags, held posts, appeals.
    Urgent items (an open "someone is in danger" flag) first, then the other welfare concerns
    and crisis-screened posts, then distinct flaggers, then age."""
    open_flag = exists().where(Flag.post_id == Post.id, Flag.resolved_at.is_(None))
    open_appeal = exists().where(
        Appeal.action_id == ModerationAction.id, Appeal.decided_at.is_(None),
        ModerationAction.target_post_id == Post.id)
    open_second = exists().where(SecondOpinion.post_id == Post.id,
                                 SecondOpinion.resolved_at.is_(None))
    query = _in_spaces(
        select(Post).join(Thread, Thread.id == Post.thread_id)
        .where(or_(open_flag, Post.status == PostStatus.PENDING, open_appeal, open_second))
        .options(*_post_options())
        # past QUEUE_LIMIT, the urgent items are kept (the header counts them all)
        .order_by(case((open_danger_flag(Post.id), 0), else_=1), Post.id).limit(QUEUE_LIMIT), mod)
    posts = list(await session.scalars(query))
    return order_queue([await _item(session, post, mod) for post in posts])


async def brought_to_moderators(session: AsyncSession, post: Post) -> bool:
    """Whether a conversation's message was put before the moderators: reported (by one of its
    two people, or the crisis screen), or held for review by the gate."""
    if post.status == PostStatus.PENDING:
        return True
    return await session.scalar(select(Flag.id).where(Flag.post_id == post.id).limit(1)) \
        is not None


CONVERSATION_CONTEXT = 3
"""How many messages before a reported one of a conversation a moderator sees."""


async def queue_item(session: AsyncSession, post: Post, mod: Moderator) -> QueueItem:
    return await _item(session, post, mod)


async def _item(session: AsyncSession, post: Post, mod: Moderator) -> QueueItem:
    """One item as ``mod`` may see it: the author's history in the spaces ``mod`` moderates
    only (an admin's: everywhere), as in /mod/log and /mod/members/{id}."""
    previous, earlier = None, []
    if post.number > 1:
        before = list(await session.scalars(
            select(Post).where(Post.thread_id == post.thread_id, Post.number < post.number)
            .options(joinedload(Post.author)).order_by(Post.number.desc())
            .limit(CONVERSATION_CONTEXT if post.thread.conversation_id is not None else 1)))
        previous, earlier = before[0], before[1:][::-1]
    history: list[ModerationAction] = []
    if post.author_id is not None:
        query = select(ModerationAction).where(
            ModerationAction.target_member_id == post.author_id)
        if not mod.is_admin:
            query = query.where(ModerationAction.space_id.in_(mod.space_ids or {-1}))
        history = list(await session.scalars(
            query.order_by(ModerationAction.id.desc()).limit(HISTORY_LIMIT)))
    claim = await session.scalar(
        select(Claim).where(Claim.post_id == post.id).options(joinedload(Claim.member)))
    return QueueItem(post=post, flags=await open_flags(session, post.id), previous=previous,
                     earlier=earlier,
                     history=history, claim=claim, appeals=await pending_appeals(session, post.id),
                     second_opinions=(await open_second_opinions(session, [post.id])).get(
                         post.id, []),
                     pending=await pending_decision(session, post.id))


async def pending_appeals(session: AsyncSession, post_id: int) -> list[Appeal]:
    return list(await session.scalars(
        select(Appeal).join(ModerationAction, ModerationAction.id == Appeal.action_id)
        .where(ModerationAction.target_post_id == post_id, Appeal.decided_at.is_(None))
        .options(joinedload(Appeal.action)).order_by(Appeal.id)))


async def get_appeal(session: AsyncSession, appeal_id: int) -> Appeal | None:
    return await session.scalar(
        select(Appeal).where(Appeal.id == appeal_id).options(joinedload(Appeal.action)))


def order_queue(items: list[QueueItem]) -> list[QueueItem]:
    return sorted(items, key=QueueItem.sort_key)


async def on_duty(session: AsyncSession, mod: Moderator) -> list[SpaceModerator]:
    query = (select(SpaceModerator).where(SpaceModerator.on_duty.is_(True))
             .options(joinedload(SpaceModerator.member), joinedload(SpaceModerator.space))
             .order_by(SpaceModerator.space_id))
    if not mod.is_admin:
        query = query.where(SpaceModerator.space_id.in_(mod.space_ids or {-1}))
    return list(await session.scalars(query))


async def is_on_duty(session: AsyncSession, member: Member) -> bool:
    return bool(await session.scalar(select(exists().where(
        SpaceModerator.member_id == member.id, SpaceModerator.on_duty.is_(True)))))


# -- the log -------------------------------------------------------------------------------

@dataclass(frozen=True)
class LogFilter:
    space_id: int | None = None
    kind: int | None = None
    member: str = ""


async def moderation_log(session: AsyncSession, mod: Moderator,
                         filters: LogFilter) -> list[ModerationAction]:
    query = select(ModerationAction).order_by(ModerationAction.id.desc()).limit(LOG_PAGE)
    if not mod.is_admin:
        query = query.where(ModerationAction.space_id.in_(mod.space_ids or {-1}))
    if filters.space_id is not None:
        query = query.where(ModerationAction.space_id == filters.space_id)
    if filters.kind is not None:
        query = query.where(ModerationAction.kind == filters.kind)
    if filters.member:
        name = filters.member.casefold()
        query = query.where(or_(func.lower(ModerationAction.target_pseudonym) == name,
                                func.lower(ModerationAction.actor_pseudonym) == name))
    return list(await session.scalars(query))


async def spaces_by_id(session: AsyncSession) -> dict[int, Space]:
    return {s.id: s for s in await session.scalars(select(Space).order_by(Space.position))}


PUBLIC_KINDS = (ActionKind.POST_HIDDEN, ActionKind.POST_REMOVED, ActionKind.POST_RESTORED,
                ActionKind.POST_APPROVED, ActionKind.FLAGS_DISMISSED, ActionKind.THREAD_LOCKED,
                ActionKind.MEMBER_WARNED, ActionKind.MEMBER_SUSPENDED, ActionKind.MEMBER_BANNED,
                ActionKind.POST_AUTO_HIDDEN, ActionKind.POST_HELD, ActionKind.APPEAL_GRANTED,
                ActionKind.APPEAL_DENIED)


async def public_counts(session: AsyncSession, months: int = 12
                        ) -> list[tuple[str, int, int | None, int]]:
    """(month "YYYY-MM", kind, space id, count) for the public transparency page; no names."""
    since = utcnow() - timedelta(days=31 * months)
    rows = await session.execute(
        select(ModerationAction.created_at, ModerationAction.kind, ModerationAction.space_id)
        .where(ModerationAction.created_at >= since,
               ModerationAction.kind.in_([int(k) for k in PUBLIC_KINDS]))
    )
    counts: dict[tuple[str, int, int | None], int] = {}
    for created, kind, space_id in rows:
        key = (created.strftime("%Y-%m"), kind, space_id)
        counts[key] = counts.get(key, 0) + 1
    return sorted(((m, k, s, n) for (m, k, s), n in counts.items()),
                  key=lambda r: (r[0], r[2] or 0, r[1]), reverse=True)


async def get_space(session: AsyncSession, space_id: int) -> Space:
    space = await session.get(Space, space_id)
    if space is None:
        raise NotFoundException()
    return space


async def all_spaces(session: AsyncSession) -> list[Space]:
    return list(await session.scalars(select(Space).order_by(Space.position, Space.id)))


async def moderators_by_space(session: AsyncSession) -> dict[int, list[SpaceModerator]]:
    rows = await session.scalars(
        select(SpaceModerator).options(joinedload(SpaceModerator.member))
        .order_by(SpaceModerator.created_at))
    grouped: dict[int, list[SpaceModerator]] = {}
    for row in rows:
        grouped.setdefault(row.space_id, []).append(row)
    return grouped


async def action_for_appeal(session: AsyncSession, post_id: int) -> ModerationAction | None:
    """The latest hide or removal of a post: what its author may appeal."""
    return await session.scalar(
        select(ModerationAction)
        .where(ModerationAction.target_post_id == post_id,
               ModerationAction.kind.in_([int(ActionKind.POST_HIDDEN),
                                          int(ActionKind.POST_REMOVED),
                                          int(ActionKind.POST_AUTO_HIDDEN)]))
        .order_by(ModerationAction.id.desc()).limit(1))


async def appeal_for(session: AsyncSession, action_id: int) -> Appeal | None:
    return await session.scalar(select(Appeal).where(Appeal.action_id == action_id)
                                .options(joinedload(Appeal.action)))


# -- appeals of a suspension or a ban --------------------------------------------------------

RESTRICTION_KINDS = (int(ActionKind.MEMBER_SUSPENDED), int(ActionKind.MEMBER_BANNED))
"""The actions that restrict a member, each of which they may appeal once."""


async def latest_restriction(session: AsyncSession, member_id: int) -> ModerationAction | None:
    """The member's latest suspension or ban in the log (whether or not it still holds)."""
    return await session.scalar(
        select(ModerationAction)
        .where(ModerationAction.target_member_id == member_id,
               ModerationAction.kind.in_(RESTRICTION_KINDS))
        .order_by(ModerationAction.id.desc()).limit(1))


async def restriction_for_appeal(session: AsyncSession, member: Member) -> ModerationAction | None:
    """What a member restricted now may appeal: the suspension or ban that holds them (the
    latest in the log). None when nothing restricts them, or when no decision was logged."""
    if not is_restricted(member):
        return None
    return await latest_restriction(session, member.id)


def _restriction_appeals(mod: Moderator | None) -> Select:
    """Appeals of suspensions and bans, with their action; for ``mod``, only those they may
    see (``moderation.permissions.sees_restriction_appeal``): an admin all of them, a
    moderator those of actions taken in their spaces, and of actions taken forum-wide
    (without a space) against a member who has written in one of their spaces."""
    query = (select(Appeal).join(ModerationAction, ModerationAction.id == Appeal.action_id)
             .where(ModerationAction.kind.in_(RESTRICTION_KINDS),
                    ModerationAction.target_post_id.is_(None))
             .options(joinedload(Appeal.action)))
    if mod is not None and not mod.is_admin:
        spaces = mod.space_ids or {-1}
        wrote_there = exists().where(Post.author_id == ModerationAction.target_member_id,
                                     Post.thread_id == Thread.id, Thread.space_id.in_(spaces))
        query = query.where(or_(ModerationAction.space_id.in_(spaces),
                                and_(ModerationAction.space_id.is_(None), wrote_there)))
    return query


def _in_force() -> Any:
    """The SQL condition "the appealed action still holds its member": they are banned or
    suspended now, and no later suspension or ban replaced it. A suspension that ran out, a
    lifted restriction or a replaced one leaves nothing to decide (``appeal_in_force``)."""
    later = aliased(ModerationAction)
    replaced = exists().where(later.target_member_id == ModerationAction.target_member_id,
                              later.kind.in_(RESTRICTION_KINDS), later.id > ModerationAction.id)
    restricted = exists().where(Member.id == ModerationAction.target_member_id,
                                or_(Member.banned.is_(True), Member.suspended_until > utcnow()))
    return and_(restricted, ~replaced)


async def open_restriction_appeals(session: AsyncSession, mod: Moderator) -> list[Appeal]:
    """Undecided appeals of suspensions and bans that ``mod`` may see, oldest first (the
    queue); not those of an erased account, nor those whose restriction no longer holds (it
    ran out, was lifted or was replaced: nothing is left to decide)."""
    return list(await session.scalars(
        _restriction_appeals(mod).where(Appeal.decided_at.is_(None),
                                        ModerationAction.target_member_id.is_not(None),
                                        _in_force())
        .order_by(Appeal.id).limit(QUEUE_LIMIT)))


async def appeal_in_force(session: AsyncSession, appeal: Appeal, member: Member) -> bool:
    """Whether the action ``appeal`` contests still holds ``member``: only then may it be
    granted or refused (granting lifts that restriction, never another one)."""
    holding = await restriction_for_appeal(session, member)
    return holding is not None and holding.id == appeal.action_id


async def ended_suspension(session: AsyncSession, member: Member
                           ) -> tuple[ModerationAction, Appeal | None] | None:
    """The member's suspension that ran out by itself (a lift clears ``suspended_until``), and
    its appeal if they sent one: what ``/me/appeal`` explains once nothing holds them."""
    if is_restricted(member) or member.suspended_until is None:
        return None
    latest = await latest_restriction(session, member.id)
    if latest is None or latest.kind != int(ActionKind.MEMBER_SUSPENDED):
        return None
    return latest, await appeal_for(session, latest.id)


async def nobody_else_decides(session: AsyncSession, action: ModerationAction) -> bool:
    """A ban taken by the forum's only admin (or whose other admins are all restricted or
    gone): nobody may decide its appeal, since only admins lift a ban and never who took
    it. The member is told so when they appeal, and the admin on the member's page."""
    if action.kind != int(ActionKind.MEMBER_BANNED):
        return False
    others = await session.scalars(
        select(Member).where(Member.role == Role.ADMIN, Member.status == MemberStatus.ACTIVE,
                             Member.id.not_in([i for i in (action.actor_id,
                                                           action.target_member_id)
                                               if i is not None] or [-1])))
    return not any(not is_restricted(admin) for admin in others)


async def member_restriction_appeals(session: AsyncSession, mod: Moderator | None,
                                     member_id: int) -> list[Appeal]:
    """A member's appeals of their suspensions and bans, newest first: those ``mod`` may see
    (None: all of them, for the member's own page)."""
    return list(await session.scalars(
        _restriction_appeals(mod).where(ModerationAction.target_member_id == member_id)
        .order_by(Appeal.id.desc()).limit(HISTORY_LIMIT)))


async def pending_restriction_appeals(session: AsyncSession, member_id: int) -> list[Appeal]:
    """A member's undecided appeals of their suspensions and bans (a later suspension, a ban
    or a lift closes them)."""
    return list(await session.scalars(
        _restriction_appeals(None).where(ModerationAction.target_member_id == member_id,
                                         Appeal.decided_at.is_(None))))


async def appeal_decision(session: AsyncSession, appeal: Appeal) -> ModerationAction | None:
    """The log row that decided a restriction's appeal (its reason is what the member is
    told) or closed it without a decision (``APPEAL_CLOSED``: a later decision replaced or
    lifted the restriction); None while it waits."""
    if appeal.decided_at is None or appeal.action.target_member_id is None:
        return None
    rows = await session.scalars(
        select(ModerationAction)
        .where(ModerationAction.target_member_id == appeal.action.target_member_id,
               ModerationAction.id > appeal.action_id,
               ModerationAction.kind.in_([int(ActionKind.APPEAL_GRANTED),
                                          int(ActionKind.APPEAL_DENIED),
                                          int(ActionKind.APPEAL_CLOSED)]))
        .order_by(ModerationAction.id))
    return next((row for row in rows if (row.details or {}).get("appeal_id") == appeal.id),
                None)


async def find_member(session: AsyncSession, pseudonym: str) -> Member | None:
    """A member by pseudonym, look-alikes included (the forum's uniqueness key)."""
    name = pseudonym.strip()
    if not name:
        return None
    return await find_member_by_key(session, uniqueness_key(name))


MEMBERS_SHOWN = 30
"""At most this many members on /admin/members; the page says how many more match."""


@dataclass(frozen=True)
class MemberSearch:
    members: list[Member]
    more: int
    """How many more match than ``members`` holds."""


async def search_members(session: AsyncSession, text: str, *,
                         limit: int = MEMBERS_SHOWN) -> MemberSearch:
    """Members (not deleted accounts) whose pseudonym holds ``text``, compared as the forum
    compares pseudonyms (case, accents, separators and look-alikes ignored), shortest first so
    the name typed comes first. An empty ``text``: the members who hold a role (admins,
    moderators, trained peer helpers)."""
    where: list[Any] = [Member.status == MemberStatus.ACTIVE]
    if text.strip():
        key = uniqueness_key(text.strip())
        if not key:
            return MemberSearch([], 0)
        where.append(Member.pseudonym_key.contains(key, autoescape=True))
    else:
        where.append(or_(Member.role == Role.ADMIN, Member.is_peer_moderator.is_(True),
                         Member.trained_helper.is_(True)))
    members = list(await session.scalars(
        select(Member).where(*where)
        .order_by(func.length(Member.pseudonym_key), Member.pseudonym_key, Member.id)
        .limit(limit)))
    total = len(members)
    if total == limit:
        total = await session.scalar(select(func.count()).select_from(Member).where(*where)) or 0
    return MemberSearch(members, total - len(members))


async def moderated_spaces(session: AsyncSession, member_ids: list[int]
                           ) -> dict[int, list[Space]]:
    """The spaces each of ``member_ids`` moderates, in the home page's order."""
    if not member_ids:
        return {}
    rows = await session.execute(
        select(SpaceModerator.member_id, Space)
        .join(Space, Space.id == SpaceModerator.space_id)
        .where(SpaceModerator.member_id.in_(member_ids))
        .order_by(Space.position, Space.id))
    found: dict[int, list[Space]] = {}
    for member_id, space in rows.all():
        found.setdefault(member_id, []).append(space)
    return found


async def has_open_screen_flag(session: AsyncSession, post_id: int, reason: str) -> bool:
    """Whether the crisis screen already raised an open flag of this reason on this post."""
    return bool(await session.scalar(select(exists().where(
        Flag.post_id == post_id, Flag.flagger_id.is_(None), Flag.reason == reason,
        Flag.resolved_at.is_(None)))))


async def welfare_recipients(session: AsyncSession, space_id: int,
                             *, everyone: bool = False) -> list[int]:
    """Who is told at once of an urgent post in a space: its moderators on duty, or all its
    moderators when nobody is on duty, and every admin; ``everyone``: all of them (an
    escalation). Suspended or banned members are never among them."""
    now = utcnow()
    able = (Member.status == MemberStatus.ACTIVE, Member.banned.is_(False),
            or_(Member.suspended_until.is_(None), Member.suspended_until <= now))
    # A moderator taking a break is not told (their notices are muted): were the only one on
    # duty on a break, the others would otherwise never hear of the post.
    present = or_(Member.break_until.is_(None), Member.break_until <= now)
    moderators = select(SpaceModerator.member_id).join(
        Member, Member.id == SpaceModerator.member_id).where(
        SpaceModerator.space_id == space_id, *able, present)
    chosen = set(await session.scalars(moderators))
    if not everyone:
        on_duty = set(await session.scalars(moderators.where(SpaceModerator.on_duty.is_(True))))
        chosen = on_duty or chosen
    admins = await session.scalars(select(Member.id).where(Member.role == Role.ADMIN, *able))
    return sorted(chosen | set(admins))


def escalated_already(post_id: Any) -> Any:
    """The post's welfare item was escalated (one of its open danger flags says so): a flag
    added to it later does not make it escalate again."""
    earlier = aliased(Flag)
    return exists().where(
        earlier.post_id == post_id, earlier.reason == FlagReason.DANGER.value,
        earlier.resolved_at.is_(None), earlier.escalated_at.is_not(None))


async def unclaimed_welfare_posts(session: AsyncSession, before: datetime) -> list[Post]:
    """Posts with an open danger flag raised before ``before``, never escalated, that nobody
    has claimed ("Je m'en occupe")."""
    claimed = exists().where(Claim.post_id == Post.id)
    waiting = exists().where(
        Flag.post_id == Post.id, Flag.reason == FlagReason.DANGER.value,
        Flag.resolved_at.is_(None), Flag.escalated_at.is_(None), Flag.created_at <= before)
    return list(await session.scalars(
        select(Post).where(waiting, ~claimed, ~escalated_already(Post.id))
        .options(*_post_options()).order_by(Post.id).limit(QUEUE_LIMIT)))


async def lock_for_welfare(session: AsyncSession, post_id: int) -> None:
    """Take the post's row lock before asking whether it is already a welfare item, so that
    two flags raised at the same moment tell the moderators once (PostgreSQL; SQLite's
    writers already take turns)."""
    await session.execute(select(Post.id).where(Post.id == post_id).with_for_update())


async def open_welfare_count(session: AsyncSession, mod: Moderator) -> int:
    """Open welfare items (posts with an open danger flag) in the moderator's spaces: the
    count beside "Modération" in the header."""
    query = _in_spaces(
        select(func.count(func.distinct(Flag.post_id))).select_from(Flag)
        .join(Post, Post.id == Flag.post_id).join(Thread, Thread.id == Post.thread_id)
        .where(Flag.reason == FlagReason.DANGER.value, Flag.resolved_at.is_(None)), mod)
    return int(await session.scalar(query) or 0)


# -- second opinions and the two-moderator rule (welfare items) -----------------------------

def open_danger_flag(post_id: Any) -> Exists:
    """An open "someone is in danger" flag on the post (a member's, or the crisis screen's at
    urgent): what makes an item urgent and a welfare item, and what the header counts."""
    return exists().where(Flag.post_id == post_id, Flag.reason == FlagReason.DANGER.value,
                          Flag.resolved_at.is_(None))


async def is_welfare_item(session: AsyncSession, post_id: int) -> bool:
    """An open "danger" flag (a member's or the crisis screen's): two people close it."""
    return bool(await session.scalar(select(open_danger_flag(post_id))))


async def pending_decision(session: AsyncSession, post_id: int) -> PendingDecision | None:
    return await session.scalar(
        select(PendingDecision).where(PendingDecision.post_id == post_id)
        .options(joinedload(PendingDecision.member)))


async def open_second_opinions(session: AsyncSession, post_ids: list[int]
                               ) -> dict[int, list[SecondOpinion]]:
    """Open second-opinion requests by post, oldest first (one query for the whole queue)."""
    if not post_ids:
        return {}
    rows = await session.scalars(
        select(SecondOpinion).where(SecondOpinion.post_id.in_(post_ids),
                                    SecondOpinion.resolved_at.is_(None))
        .options(joinedload(SecondOpinion.requested_by)).order_by(SecondOpinion.id))
    grouped: dict[int, list[SecondOpinion]] = {}
    for row in rows:
        grouped.setdefault(row.post_id, []).append(row)
    return grouped


async def second_opinion_recipients(session: AsyncSession, space_id: int,
                                    asker_id: int) -> list[int]:
    """The space's other moderators and every admin, once each, never the asker; a suspended
    or banned one is never among them (they moderate nothing, and the note quotes the post)."""
    able = (Member.status == MemberStatus.ACTIVE, Member.banned.is_(False),
            or_(Member.suspended_until.is_(None), Member.suspended_until <= utcnow()))
    moderators = await session.scalars(
        select(SpaceModerator.member_id).join(Member, Member.id == SpaceModerator.member_id)
        .where(SpaceModerator.space_id == space_id, *able))
    admins = await session.scalars(select(Member.id).where(Member.role == Role.ADMIN, *able))
    return sorted({*moderators, *admins} - {asker_id})


async def reply_template_rows(session: AsyncSession) -> list[ReplyTemplate]:
    """The admins' versions of the reply templates (few rows)."""
    return list(await session.scalars(select(ReplyTemplate).order_by(ReplyTemplate.id)))


async def watched_word_rows(session: AsyncSession) -> list[WatchedWord]:
    return list(await session.scalars(select(WatchedWord).order_by(WatchedWord.id)))


async def header_counts(session: AsyncSession, member: Member) -> dict[str, int]:
    """The header's count of open welfare items, for moderators and admins (no query for
    anyone else): wired into ``forum.web.notifications.UnreadCount`` by the app."""
    if not (member.is_peer_moderator or member.role == Role.ADMIN) or is_restricted(member):
        return {}
    mod = Moderator(member, await moderated_space_ids(session, member))
    return {"welfare_count": await open_welfare_count(session, mod)}

