"""One-to-one conversations with a trained peer helper (issue 17).

A member asks to talk on a theme (a space), in a language, with a first message written
through the posting gate (``/conversations/new``). The request waits in the queue of the
helpers whose themes and languages match and who have room (``/helpers``); one accepts, and
the member is told. Then the two of them write in the conversation's thread
(``Thread.conversation_id``): only they read it (``queries.check_thread_access``); no list,
search index, mention or shared cache ever holds it. Every message goes through the gate like
any post, so the crisis screen pauses and alerts the theme's moderators as anywhere else;
moderators see a message only when it is reported, screened or held for review, and then only
it and the few before it (``/mod``).

Either side ends it; the helper may hand it to another helper with room, or call in the
theme's moderators (the member is told: ``moderation.actions.do_call_in_moderators``). A
request nobody takes within ``WAIT_LIMIT`` is closed kindly, with where else to turn. A closed
conversation is deleted ``RETENTION`` after its end (``FORUM_CONVERSATION_RETENTION_DAYS``),
once nothing on it waits for the moderators.

Each step is one conditional UPDATE on the conversation's status, so two helpers accepting at
once, or two processes running the watch, make the step happen once.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from html.parser import HTMLParser
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from forum import changes
from forum.actions import do_follow, do_notify, do_unfollow
from forum.db import Database, commit, utcnow
from forum.groups import waiting_on
from forum.i18n import N_
from forum.models import (
    POST_LANGS,
    Block,
    Conversation,
    ConversationKind,
    ConversationStatus,
    HelperAvailability,
    HelperTheme,
    Member,
    MemberStatus,
    Notification,
    Post,
    PostStatus,
    Space,
    Thread,
)
from forum.watch import Watch

log = logging.getLogger(__name__)

WAIT_LIMIT = timedelta(hours=2)
"""A request nobody took in this time is closed, and the member told where else to turn (by
default: an admin sets ``FORUM_CONVERSATION_WAIT_HOURS``)."""
RETENTION = timedelta(days=365)
"""A closed conversation is deleted this long after its end, by default (an admin sets
``FORUM_CONVERSATION_RETENTION_DAYS``; said on the privacy page)."""
DEFAULT_CAPACITY = 2
MAX_CAPACITY = 5
"""More conversations at once than this is no longer care for the helper either."""
WATCH_INTERVAL = 60.0

NOTICE = "conversation"
ASKED = N_("Une nouvelle demande de conversation attend sur le thème « %(theme)s ».")
ACCEPTED = N_("%(helper)s a accepté ta demande de conversation : tu peux lui écrire.")
NEW_HELPER = N_("%(helper)s prend la suite de ta conversation : tu peux lui écrire.")
HANDED = N_("%(helper)s te confie une conversation sur le thème « %(theme)s ».")
ENDED = N_("La conversation sur le thème « %(theme)s » est terminée. Merci d'avoir été là.")
UNANSWERED = N_("Personne n'a pu prendre ta demande de conversation à temps, et on en est "
                "désolé·es. Tes messages restent lisibles ; les lignes d'écoute répondent tout de "
                "suite, et les espaces du forum sont là aussi.")
TITLE = N_("Conversation")

OPEN_OR_WAITING = (ConversationStatus.WAITING, ConversationStatus.OPEN)
CLOSED = (ConversationStatus.ENDED, ConversationStatus.UNANSWERED, ConversationStatus.DECLINED)


# -- availability -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Availability:
    space_ids: frozenset[int]
    languages: tuple[str, ...]
    capacity: int
    paused: bool


async def availability_of(session: AsyncSession, helper_id: int) -> Availability:
    row = await session.get(HelperAvailability, helper_id)
    space_ids = frozenset(await session.scalars(
        select(HelperTheme.space_id).where(HelperTheme.member_id == helper_id)))
    if row is None:
        return Availability(space_ids, ("fr",), DEFAULT_CAPACITY, paused=False)
    languages = tuple(lang for lang in row.languages.split(",") if lang in POST_LANGS)
    return Availability(space_ids, languages or ("fr",), row.capacity, row.paused)


async def do_set_availability(session: AsyncSession, helper: Member, wanted: Availability
                              ) -> None:
    row = await session.get(HelperAvailability, helper.id)
    if row is None:
        row = HelperAvailability(member_id=helper.id)
        session.add(row)
    row.languages = ",".join(wanted.languages)
    row.capacity = wanted.capacity
    row.paused = wanted.paused
    row.updated_at = utcnow()
    await session.execute(delete(HelperTheme).where(HelperTheme.member_id == helper.id))
    session.add_all(HelperTheme(member_id=helper.id, space_id=space_id)
                    for space_id in sorted(wanted.space_ids))
    await session.flush()
    changes.members(session, helper.id)


async def open_count(session: AsyncSession, helper_id: int) -> int:
    return int(await session.scalar(
        select(func.count()).select_from(Conversation).where(
            Conversation.helper_id == helper_id, Conversation.kind == ConversationKind.HELPER,
            Conversation.status == ConversationStatus.OPEN)) or 0)


async def has_room(session: AsyncSession, helper: Member) -> bool:
    """A trained helper, not paused, holding fewer open conversations than they chose."""
    if not helper.trained_helper or helper.status != MemberStatus.ACTIVE:
        return False
    available = await availability_of(session, helper.id)
    return not available.paused and await open_count(session, helper.id) < available.capacity


# -- asking -----------------------------------------------------------------------------------

async def waiting_request_of(session: AsyncSession, member_id: int) -> Conversation | None:
    """A member asks for one conversation at a time: their request still waiting, if any."""
    return await session.scalar(select(Conversation).where(
        Conversation.member_id == member_id, Conversation.kind == ConversationKind.HELPER,
        Conversation.status == ConversationStatus.WAITING))


async def do_request(session: AsyncSession, *, member: Member, space: Space, lang: str,
                     now: datetime | None = None) -> Conversation | None:
    """The request itself; its thread and first message come from ``actions.do_create_thread``
    (``conversation_id=``), and then ``do_announce`` tells the helpers who could take it.
    None when the member has a request waiting already (sent from another tab meanwhile)."""
    return await _insert(session, Conversation(
        member_id=member.id, space_id=space.id, lang=lang, kind=ConversationKind.HELPER,
        status=ConversationStatus.WAITING, created_at=now or utcnow()))


async def _insert(session: AsyncSession, conversation: Conversation) -> Conversation | None:
    """Add ``conversation`` in a savepoint: None when a unique index refuses it (one waiting
    request per member; each member asks another once)."""
    try:
        async with session.begin_nested():
            session.add(conversation)
            await session.flush()
    except IntegrityError:
        return None
    return conversation


async def matching_helpers(session: AsyncSession, conversation: Conversation) -> list[Member]:
    """The helpers who could take ``conversation`` now: its theme and language, and room."""
    helpers = list(await session.scalars(
        select(Member).join(HelperTheme, HelperTheme.member_id == Member.id)
        .where(HelperTheme.space_id == conversation.space_id, Member.trained_helper.is_(True),
               Member.status == MemberStatus.ACTIVE,
               Member.id != func.coalesce(conversation.member_id, -1),
               _not_blocked(Member.id, conversation.member_id))
        .order_by(Member.id)))
    found = []
    for helper in helpers:
        available = await availability_of(session, helper.id)
        if conversation.lang in available.languages and await has_room(session, helper):
            found.append(helper)
    return found


async def do_announce(session: AsyncSession, conversation: Conversation, theme: str) -> int:
    helpers = await matching_helpers(session, conversation)
    for helper in helpers:
        await do_notify(session, helper.id, kind=NOTICE, message=ASKED,
                        params={"theme": theme, "conversation": conversation.id})
    return len(helpers)


async def find(session: AsyncSession, conversation_id: int) -> Conversation | None:
    """The conversation with its theme (the caller checks who may see it)."""
    return await session.scalar(
        select(Conversation).where(Conversation.id == conversation_id)
        .options(joinedload(Conversation.space)))


async def conversations_of(session: AsyncSession, member_id: int, *, limit: int = 100
                           ) -> list[Conversation]:
    """The conversations ``member_id`` asked for, was asked or helps in, newest first."""
    return list(await session.scalars(
        select(Conversation).where(
            (Conversation.member_id == member_id) | (Conversation.helper_id == member_id))
        .options(joinedload(Conversation.space), joinedload(Conversation.helper),
                 joinedload(Conversation.member))
        .order_by(Conversation.created_at.desc(), Conversation.id.desc()).limit(limit)))


async def held_by(session: AsyncSession, helper_id: int) -> list[Conversation]:
    """The helper conversations ``helper_id`` holds open, oldest accepted first."""
    return list(await session.scalars(
        select(Conversation).where(Conversation.helper_id == helper_id,
                                   Conversation.kind == ConversationKind.HELPER,
                                   Conversation.status == ConversationStatus.OPEN)
        .options(joinedload(Conversation.space), joinedload(Conversation.member))
        .order_by(Conversation.accepted_at)))


async def queue_for(session: AsyncSession, helper: Member) -> list[Conversation]:
    """The waiting requests ``helper`` may take: their themes and languages, oldest first."""
    available = await availability_of(session, helper.id)
    if not available.space_ids:
        return []
    return list(await session.scalars(
        select(Conversation).where(
            Conversation.kind == ConversationKind.HELPER,
            Conversation.status == ConversationStatus.WAITING,
            Conversation.space_id.in_(available.space_ids),
            Conversation.lang.in_(available.languages),
            Conversation.member_id != helper.id,
            Conversation.space_id.in_(select(Space.id).where(Space.archived.is_(False))),
            _not_blocked(helper.id, Conversation.member_id))
        .options(joinedload(Conversation.space))
        .order_by(Conversation.created_at, Conversation.id)))


# -- between members --------------------------------------------------------------------------

NEW_ACCOUNT_DAYS = 7
NEW_ACCOUNT_POSTS = 5
"""An account younger than ``NEW_ACCOUNT_DAYS`` or with fewer than ``NEW_ACCOUNT_POSTS`` visible
posts cannot ask another member, and its links and images there are plain text."""

INVITED = N_("%(name)s aimerait discuter avec toi, à deux, sur le thème « %(theme)s ». Tu "
             "peux lire son message, puis accepter ou refuser : iel ne saura rien d'autre que "
             "ta réponse.")
INVITE_ACCEPTED = N_("%(name)s a accepté ta demande de conversation.")
INVITE_DECLINED = N_("Ta demande de conversation n'a pas été acceptée. Ça arrive, et ce "
                     "n'est pas contre toi ; les espaces du forum et les pair-aidant·es "
                     "restent là.")


async def is_new_account(session: AsyncSession, member: Member, now: datetime | None = None
                         ) -> bool:
    if member.created_at > (now or utcnow()) - timedelta(days=NEW_ACCOUNT_DAYS):
        return True
    visible = await session.scalar(  # in the spaces: a private thread's messages do not count
        select(func.count()).select_from(Post).join(Thread, Thread.id == Post.thread_id).where(
            Post.author_id == member.id, Post.status == PostStatus.VISIBLE,
            Thread.conversation_id.is_(None), Thread.group_session_id.is_(None)))
    return int(visible or 0) < NEW_ACCOUNT_POSTS


async def may_ask(session: AsyncSession, asker: Member, asked: Member | None) -> bool:
    """Whether ``asker`` may ask ``asked`` for a conversation: ``asked`` is an active member
    who accepts requests, neither has blocked the other, and ``asker`` never asked them
    before (once). Whoever is refused hears the same answer, so nothing tells who exists,
    who accepts or who blocked whom."""
    if asked is None or asked.id == asker.id or asked.status != MemberStatus.ACTIVE:
        return False
    if not asked.accepts_conversations:
        return False
    blocked = await session.scalar(select(exists().where(or_(
        and_(Block.blocker_id == asker.id, Block.blocked_id == asked.id),
        and_(Block.blocker_id == asked.id, Block.blocked_id == asker.id)))))
    if blocked:
        return False
    asked_before = await session.scalar(select(exists().where(
        Conversation.kind == ConversationKind.MEMBER, Conversation.member_id == asker.id,
        Conversation.helper_id == asked.id)))
    return not asked_before


async def do_ask_member(session: AsyncSession, *, asker: Member, asked: Member, space: Space,
                        lang: str) -> Conversation | None:
    """The request (its first message comes next, as for a helper's); ``asked`` is told and
    may read that message before answering. None when ``asker`` asked them already (a
    second send at the same moment)."""
    return await _insert(session, Conversation(
        member_id=asker.id, helper_id=asked.id, space_id=space.id, lang=lang,
        kind=ConversationKind.MEMBER, status=ConversationStatus.WAITING, created_at=utcnow()))


async def do_tell_asked(session: AsyncSession, conversation: Conversation, asker: Member,
                        theme: str, thread_id: int) -> None:
    if conversation.helper_id is not None:
        await do_notify(session, conversation.helper_id, kind=NOTICE, message=INVITED,
                        params={"name": asker.pseudonym, "theme": theme,
                                "conversation": conversation.id}, thread_id=thread_id)


async def do_answer(session: AsyncSession, conversation: Conversation, asked: Member, *,
                    accept: bool, now: datetime | None = None) -> bool:
    """The member asked says yes (it opens) or no (it closes; the asker is told gently)."""
    now = now or utcnow()
    values: dict[str, object] = (
        {"status": ConversationStatus.OPEN, "accepted_at": now} if accept
        else {"status": ConversationStatus.DECLINED, "ended_at": now})
    if not await _take(session, conversation, Conversation.kind == ConversationKind.MEMBER,
                       Conversation.status == ConversationStatus.WAITING,
                       Conversation.helper_id == asked.id, **values):
        return False
    thread = await thread_of(session, conversation.id)
    thread_id = thread.id if thread else None
    if thread_id is not None:
        if accept:
            await do_follow(session, asked.id, thread_id)
        else:
            await session.execute(update(Thread).where(Thread.id == thread_id)
                                  .values(locked=True))
        changes.thread(session, thread_id)
    if conversation.member_id is not None:
        await do_notify(session, conversation.member_id, kind=NOTICE,
                        message=INVITE_ACCEPTED if accept else INVITE_DECLINED,
                        params={"name": asked.pseudonym, "conversation": conversation.id},
                        thread_id=thread_id)
    return True


_LINKLESS = frozenset({"a", "img"})


class _Unlinker(HTMLParser):
    """Sanitised HTML again, without its links (their text stays) and images (their
    description stays, in brackets)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []

    def _tag(self, tag: str, attrs: list[tuple[str, str | None]], end: str) -> str:
        shown = "".join(f' {name}="{html.escape(value or "", quote=True)}"'
                        for name, value in attrs)
        return f"<{tag}{shown}{end}>"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            alt = dict(attrs).get("alt") or ""
            self.out.append(html.escape(f"[{alt}]" if alt else "[image]"))
        elif tag not in _LINKLESS:
            self.out.append(self._tag(tag, attrs, ""))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.handle_starttag(tag, attrs)
        elif tag not in _LINKLESS:
            self.out.append(self._tag(tag, attrs, " /"))

    def handle_endtag(self, tag: str) -> None:
        if tag not in _LINKLESS and tag not in _VOID:
            self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        self.out.append(html.escape(data, quote=False))


_VOID = frozenset({"br", "hr", "img", "wbr"})


def without_links(sanitised: str) -> str:
    """``sanitised`` (the gate's output) with links and images made plain text."""
    parser = _Unlinker()
    parser.feed(sanitised)
    parser.close()
    return "".join(parser.out)


async def plain_for_new_account(session: AsyncSession, thread: Thread, author: Member,
                                rendered: str) -> str:
    """In a conversation between members, a new account's links and images are plain text
    (an unknown person's link is a common way in for harm); elsewhere ``rendered`` as it is."""
    conversation = thread.conversation
    if conversation is None or conversation.kind != ConversationKind.MEMBER:
        return rendered
    if not await is_new_account(session, author):
        return rendered
    return without_links(rendered)


# -- the steps --------------------------------------------------------------------------------

async def _take(session: AsyncSession, conversation: Conversation, *expected: object,
                **values: object) -> bool:
    """One conditional UPDATE: the step happens here, or it already happened elsewhere."""
    result = await session.execute(
        update(Conversation).where(Conversation.id == conversation.id, *expected)
        .values(**values))
    if getattr(result, "rowcount", 0) != 1:
        return False
    for name, value in values.items():
        setattr(conversation, name, value)
    return True


async def thread_of(session: AsyncSession, conversation_id: int) -> Thread | None:
    return await session.scalar(select(Thread).where(Thread.conversation_id == conversation_id))


ACCEPTED_NOW, TAKEN, NO_ROOM = "accepted", "taken", "no-room"


async def do_accept(session: AsyncSession, conversation: Conversation, helper: Member, *,
                    now: datetime | None = None) -> str:
    """``helper`` takes a waiting request: ``ACCEPTED_NOW``, ``TAKEN`` (by another helper, or
    closed meanwhile) or ``NO_ROOM`` (paused, or at their chosen number)."""
    await session.execute(  # two accepts by one helper at once: one counts after the other
        select(HelperAvailability.member_id).where(HelperAvailability.member_id == helper.id)
        .with_for_update())
    if not await has_room(session, helper):
        return NO_ROOM
    if not await _take(session, conversation, Conversation.status == ConversationStatus.WAITING,
                       Conversation.kind == ConversationKind.HELPER,
                       status=ConversationStatus.OPEN, helper_id=helper.id,
                       accepted_at=now or utcnow()):
        return TAKEN
    thread = await thread_of(session, conversation.id)
    if thread is not None:
        await do_follow(session, helper.id, thread.id)
        changes.thread(session, thread.id)
    if conversation.member_id is not None:
        await do_notify(session, conversation.member_id, kind=NOTICE, message=ACCEPTED,
                        params={"helper": helper.pseudonym, "conversation": conversation.id},
                        thread_id=thread.id if thread else None)
    return ACCEPTED_NOW


async def do_hand_over(session: AsyncSession, conversation: Conversation, helper: Member,
                       to: Member, theme: str) -> bool:
    """The helper hands an open conversation to another helper with room; both sides told."""
    if to.id in (helper.id, conversation.member_id) or not await has_room(session, to):
        return False
    if not await _take(session, conversation, Conversation.status == ConversationStatus.OPEN,
                       Conversation.kind == ConversationKind.HELPER,
                       Conversation.helper_id == helper.id, helper_id=to.id):
        return False
    thread = await thread_of(session, conversation.id)
    thread_id = thread.id if thread else None
    if thread_id is not None:
        await do_unfollow(session, helper.id, thread_id)
        await do_follow(session, to.id, thread_id)
        changes.thread(session, thread_id)
    changes.members(session, helper.id)  # their copy of the thread is no longer theirs
    await do_notify(session, to.id, kind=NOTICE, message=HANDED,
                    params={"helper": helper.pseudonym, "theme": theme,
                            "conversation": conversation.id}, thread_id=thread_id)
    if conversation.member_id is not None:
        await do_notify(session, conversation.member_id, kind=NOTICE, message=NEW_HELPER,
                        params={"helper": to.pseudonym, "conversation": conversation.id},
                        thread_id=thread_id)
    return True


async def do_end(session: AsyncSession, conversation: Conversation, by: Member | None, *,
                 theme: str, now: datetime | None = None) -> bool:
    """Either side ends it (a waiting request too: the member takes it back). The thread is
    locked; the other side is told."""
    # A helper ends only a conversation still theirs (not one handed over meanwhile).
    still_theirs = ([Conversation.helper_id == by.id] if by is not None
                    and by.id == conversation.helper_id and by.id != conversation.member_id
                    else [])
    if not await _take(session, conversation, Conversation.status.in_(OPEN_OR_WAITING),
                       *still_theirs, status=ConversationStatus.ENDED,
                       ended_at=now or utcnow()):
        return False
    conversation.helper_id = await session.scalar(  # as it is now, to tell the right person
        select(Conversation.helper_id).where(Conversation.id == conversation.id))
    thread_id = await _lock_thread(session, conversation)
    for other in (conversation.member_id, conversation.helper_id):
        if other is not None and (by is None or other != by.id):
            await do_notify(session, other, kind=NOTICE, message=ENDED,
                            params={"theme": theme, "conversation": conversation.id},
                            thread_id=thread_id)
    return True


async def _lock_thread(session: AsyncSession, conversation: Conversation) -> int | None:
    thread = await thread_of(session, conversation.id)
    if thread is None:
        return None
    await session.execute(update(Thread).where(Thread.id == thread.id).values(locked=True))
    changes.thread(session, thread.id)
    return thread.id


async def do_expire(session: AsyncSession, conversation: Conversation, *, now: datetime,
                    wait: timedelta = WAIT_LIMIT) -> bool:
    if not await _take(session, conversation, Conversation.status == ConversationStatus.WAITING,
                       Conversation.kind == ConversationKind.HELPER,
                       Conversation.created_at <= now - wait,
                       status=ConversationStatus.UNANSWERED, ended_at=now):
        return False
    thread_id = await _lock_thread(session, conversation)
    if conversation.member_id is not None:
        await do_notify(session, conversation.member_id, kind=NOTICE, message=UNANSWERED,
                        params={"conversation": conversation.id}, thread_id=thread_id)
    return True


RELEASED = N_("%(helper)s ne peut plus poursuivre votre conversation. Elle n'est pas perdue : "
              "elle attend une autre personne, et tu seras prévenu·e dès qu'elle est reprise.")


async def do_release_all(session: AsyncSession, helper: Member, *,
                         now: datetime | None = None) -> int:
    """A helper's badge is taken back: each conversation they held waits again for another
    helper (the wait starts again), its member told, and the helpers with room told."""
    now = now or utcnow()
    released = 0
    for conversation in list(await session.scalars(
            select(Conversation).where(
                Conversation.helper_id == helper.id,
                Conversation.kind == ConversationKind.HELPER,
                Conversation.status == ConversationStatus.OPEN)
            .options(joinedload(Conversation.space)))):
        if not await _take(session, conversation,
                           Conversation.status == ConversationStatus.OPEN,
                           Conversation.helper_id == helper.id,
                           status=ConversationStatus.WAITING, helper_id=None, accepted_at=None,
                           created_at=now):
            continue
        released += 1
        thread = await thread_of(session, conversation.id)
        if thread is not None:
            await do_unfollow(session, helper.id, thread.id)
            changes.thread(session, thread.id)
        if conversation.member_id is not None:
            await do_notify(session, conversation.member_id, kind=NOTICE, message=RELEASED,
                            params={"helper": helper.pseudonym, "conversation": conversation.id},
                            thread_id=thread.id if thread else None)
        await do_announce(session, conversation, conversation.space.name)
    changes.members(session, helper.id)
    return released


async def do_leave_all(session: AsyncSession, member: Member, *, now: datetime,
                       erase: bool = False) -> None:
    """An account is deleted: every conversation it held ends (``forum.privacy`` blanks or
    anonymises its texts as for posts). With ``erase``, the conversations it asked for go
    whole (the other side's answers were written for it), unless something on one still
    waits for the moderators: then its retention does it later."""
    theirs = or_(Conversation.member_id == member.id, Conversation.helper_id == member.id)
    await session.execute(delete(Notification).where(  # the others' notices name them
        Notification.kind == NOTICE, Notification.member_id != member.id,
        Notification.thread_id.in_(select(Thread.id).join(
            Conversation, Conversation.id == Thread.conversation_id).where(theirs))))
    for conversation in list(await session.scalars(
            select(Conversation).where(theirs).options(joinedload(Conversation.space)))):
        if conversation.status in OPEN_OR_WAITING:
            await do_end(session, conversation, member, theme=conversation.space.name, now=now)
        if erase and conversation.member_id == member.id:
            await erase_if_due(session, conversation, now=now, keep=timedelta(0))


async def do_end_between(session: AsyncSession, blocker: Member, blocked: Member) -> int:
    """A block ends every conversation still open or waiting between the two (the blocked
    side is told only that it ended, as for any end)."""
    ended = 0
    for conversation in list(await session.scalars(
            select(Conversation).where(
                Conversation.status.in_(OPEN_OR_WAITING),
                or_(and_(Conversation.member_id == blocker.id,
                         Conversation.helper_id == blocked.id),
                    and_(Conversation.member_id == blocked.id,
                         Conversation.helper_id == blocker.id)))
            .options(joinedload(Conversation.space)))):
        ended += await do_end_or_decline(session, conversation, blocker)
    return ended


async def do_end_or_decline(session: AsyncSession, conversation: Conversation, by: Member
                            ) -> bool:
    """``by`` closes the conversation: a member asked who has not answered declines it (the
    asker hears "not accepted", whatever the way: the button, ending, or a block); anyone
    else ends it."""
    if (conversation.kind == ConversationKind.MEMBER
            and conversation.status == ConversationStatus.WAITING
            and conversation.helper_id == by.id):
        return await do_answer(session, conversation, by, accept=False)
    return await do_end(session, conversation, by, theme=conversation.space.name)


def _not_blocked(helper_id: Any, member_id: Any) -> Any:
    """Neither has blocked the other: a blocked helper is never offered the member's requests
    (and a helper who blocked a member is not offered theirs)."""
    return ~exists().where(or_(
        and_(Block.blocker_id == helper_id, Block.blocked_id == member_id),
        and_(Block.blocker_id == member_id, Block.blocked_id == helper_id)))


# -- time moves them along ------------------------------------------------------------------

async def erase_if_due(session: AsyncSession, conversation: Conversation, *,
                       now: datetime, keep: timedelta = RETENTION) -> bool:
    """Delete a closed conversation ``keep`` after its end, unless something on it still
    waits for the moderators (then a later look does it)."""
    if conversation.status in OPEN_OR_WAITING or conversation.ended_at is None:
        return False
    if conversation.ended_at > now - keep:
        return False
    thread = await thread_of(session, conversation.id)
    if thread is not None:
        if await session.scalar(select(or_(*waiting_on(thread.id)))):
            return False
        post_ids = list(await session.scalars(select(Post.id).where(Post.thread_id == thread.id)))
        changes.posts(session, [(post_id, thread.id) for post_id in post_ids])
    await session.execute(delete(Conversation).where(Conversation.id == conversation.id))
    return True


async def catch_up_all(session: AsyncSession, *, now: datetime, wait: timedelta = WAIT_LIMIT,
                       keep: timedelta = RETENTION) -> int:
    """Requests waiting too long, and closed conversations past their retention."""
    due = list(await session.scalars(select(Conversation).where(
        (Conversation.status == ConversationStatus.WAITING)
        & (Conversation.kind == ConversationKind.HELPER)
        & (Conversation.created_at <= now - wait)
        | Conversation.status.in_(CLOSED)
        & (Conversation.ended_at <= now - keep))
        .order_by(Conversation.id)))
    for conversation in due:
        try:
            async with session.begin_nested():
                if conversation.status == ConversationStatus.WAITING:
                    await do_expire(session, conversation, now=now, wait=wait)
                else:
                    await erase_if_due(session, conversation, now=now, keep=keep)
        except Exception:
            log.exception("conversation %s: its due step failed; trying again later",
                          conversation.id)
    return len(due)


class ConversationWatch(Watch):
    """Runs ``catch_up_all`` in the background of each app process (``forum/watch.py``)."""

    name = "conversations watch"
    interval = WATCH_INTERVAL

    def __init__(self, database: Database, *, clock: Callable[[], datetime],
                 wait: timedelta = WAIT_LIMIT, keep: timedelta = RETENTION) -> None:
        super().__init__(database, clock=clock)
        self.wait, self.keep = wait, keep

    async def run_once(self) -> int:
        async with self.database.writing() as session:
            looked = await catch_up_all(session, now=self.clock(), wait=self.wait,
                                        keep=self.keep)
            await commit(session)
        return looked
