"""A member's data: consent, the device class of a session, the export, and account deletion.

- Consent: at sign-up a member explicitly agrees to the hosting of health-related content;
  the row keeps the charter version (``CHARTER_VERSION``) and the date.
- Device class: "computer", "phone" or "tablet", derived from the user agent at log-in. The
  user agent itself is never stored or logged.
- Export (``export_member_data``): everything the member provided, as plain data for JSON.
- Deletion (``do_delete_account``), immediate. The member row stays, scrubbed, with status
  DELETED, so that the pseudonym's uniqueness key stays reserved and nobody can take the name
  over. Every other row pointing at the member is treated as its foreign key says
  (``CASCADE``: deleted; ``SET NULL``: unlinked), whichever package defined the table, so the
  audit log keeps its pseudonym snapshots and loses the link. "Erase" also removes the text
  of every post (revisions, flag copies and search index included); threads keep their shape.

Reads here are for the export only; ``do_*`` functions change rows and never commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from forum import changes, conversations, groups
from forum.db import Base, utcnow
from forum.models import (
    Consent,
    GroupSession,
    Member,
    MemberStatus,
    Notification,
    Post,
    PostRevision,
    PostStatus,
    Role,
    Thread,
)
from forum.sessions import store_of

CHARTER_VERSION = "2026-11"
"""The version of the charter and privacy notice a member consents to at sign-up."""
HEALTH_DATA = "health_data"
EXPORT_FORMAT = "entrepairs-export/1"
ERASED_TITLE = "—"
"""The title of a thread whose author erased their posts (the thread keeps its place)."""
SCRUBBED_HASH = "!deleted"
"""Not an argon2 hash: verifying it always fails (against a dummy hash of the same cost)."""

BREAK_DAYS = (1, 3, 7, 30)


def device_class(user_agent: str | None) -> str | None:
    """computer, phone or tablet, from a user agent that is then forgotten."""
    agent = (user_agent or "").lower()
    if not agent:
        return None
    if "ipad" in agent or "tablet" in agent or ("android" in agent and "mobile" not in agent):
        return "tablet"
    if "mobi" in agent or "iphone" in agent or "android" in agent:
        return "phone"
    return "computer"


def on_break(member: Member | None, now: datetime | None = None) -> bool:
    """True while a member has chosen to take a break: no profile, notifications muted."""
    if member is None or member.break_until is None:
        return False
    return member.break_until > (now or utcnow())


async def do_record_consent(
    session: AsyncSession, member: Member, *, kind: str = HEALTH_DATA,
    charter_version: str = CHARTER_VERSION, now: datetime | None = None,
) -> Consent:
    consent = Consent(member_id=member.id, kind=kind, charter_version=charter_version,
                      given_at=now or utcnow())
    session.add(consent)
    await session.flush()
    return consent


# -- export ----------------------------------------------------------------------------------

def _stamp(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _day(value: datetime | None) -> str | None:
    return value.date().isoformat() if value is not None else None


OWN_TABLES: dict[str, tuple[str, str, frozenset[str]]] = {
    "safety_plan": ("safety_plan", "member_id", frozenset()),
    "notification_setting": ("notification_settings", "member_id", frozenset()),
    "warning_preference": ("content_warning_settings", "member_id", frozenset()),
    "follow": ("followed_threads", "member_id", frozenset()),
    "reaction": ("reactions_given", "member_id", frozenset()),
    "block": ("members_blocked", "blocker_id", frozenset()),
    "flag": ("flags_raised", "flagger_id", frozenset({"text_copy", "resolved_by_id",
                                                      "details", "escalated_at"})),
    "appeal": ("appeals", "member_id", frozenset({"decided_by_id"})),
    "group_session_member": ("group_sessions_joined", "member_id", frozenset()),
    "group_session": ("group_sessions_facilitated", "facilitator_id",
                      frozenset({"agreement_html", "renderer_version"})),
    "conversation": ("conversations_asked", "member_id", frozenset({"helper_id"})),
    "helper_availability": ("helper_availability", "member_id", frozenset()),
    "helper_theme": ("helper_themes", "member_id", frozenset()),
}
"""Tables of any part of the forum holding what a member gave or chose: export key, the column
naming the member, and columns that are not theirs (another member's text, who decided)."""


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


async def _own_rows(session: AsyncSession, member: Member) -> dict[str, list[dict[str, Any]]]:
    """The member's rows in the tables of ``OWN_TABLES`` that exist, without the member id."""
    found: dict[str, list[dict[str, Any]]] = {}
    for name, (key, owner, hidden) in OWN_TABLES.items():
        table = _table(name)
        if table is None or owner not in table.c:
            continue
        rows = (await session.execute(select(table).where(table.c[owner] == member.id)))
        found[key] = [
            {column: _plain(value) for column, value in row._mapping.items()
             if column != owner and column not in hidden}
            for row in rows.all()
        ]
    return found


async def export_member_data(session: AsyncSession, member: Member) -> dict[str, Any]:
    """Everything ``member`` provided, as JSON-ready data (a constant number of queries)."""
    posts = list(await session.scalars(
        select(Post).where(Post.author_id == member.id, Post.status != PostStatus.DELETED)
        .options(joinedload(Post.thread)).order_by(Post.created_at, Post.id)
    ))
    revisions: dict[int, list[dict[str, Any]]] = {}
    for revision in await session.scalars(
        select(PostRevision).join(Post, Post.id == PostRevision.post_id)
        .where(Post.author_id == member.id).order_by(PostRevision.created_at, PostRevision.id)
    ):
        revisions.setdefault(revision.post_id, []).append(
            {"replaced_at": _stamp(revision.created_at), "source": revision.source,
             "lang": revision.lang}
        )
    threads = await session.scalars(
        select(Thread).where(Thread.author_id == member.id)
        .options(joinedload(Thread.space)).order_by(Thread.created_at, Thread.id)
    )
    consents = await session.scalars(
        select(Consent).where(Consent.member_id == member.id).order_by(Consent.given_at)
    )
    notices = await session.scalars(
        select(Notification).where(Notification.member_id == member.id)
        .order_by(Notification.created_at, Notification.id)
    )
    sessions = sorted(await store_of(session).of_member(session, member.id),
                      key=lambda s: s.created_at)
    own = await _own_rows(session, member)
    return {
        "format": EXPORT_FORMAT,
        "exported_at": _stamp(utcnow()),
        "member": {
            "pseudonym": member.pseudonym, "joined_at": _stamp(member.created_at),
            "role": str(member.role), "trained_helper": member.trained_helper,
            "locale": member.locale, "region": member.region,
            "break_until": _stamp(member.break_until),
        },
        "consents": [
            {"kind": c.kind, "charter_version": c.charter_version, "given_at": _stamp(c.given_at)}
            for c in consents
        ],
        "threads": [
            {"id": t.id, "title": t.title, "space": t.space.slug, "url": f"/t/{t.id}",
             "created_at": _stamp(t.created_at)}
            for t in threads
        ],
        "posts": [
            {"id": p.id, "url": f"/p/{p.id}", "thread_id": p.thread_id,
             "thread_title": p.thread.title, "number": p.number, "status": str(p.status),
             "created_at": _stamp(p.created_at), "edited_at": _stamp(p.edited_at),
             "content_warning": p.content_warning, "lang": p.lang, "source": p.source,
             "earlier_versions": revisions.get(p.id, [])}
            for p in posts
        ],
        "notices_received": [
            {"kind": n.kind, "message": n.message, "params": n.params,
             "created_at": _stamp(n.created_at), "read_at": _stamp(n.read_at)}
            for n in notices
        ],
        "sessions": [
            {"device": s.device, "started_on": _day(s.created_at),
             "last_seen_on": _day(s.last_seen_at), "ends_on": _day(s.expires_at)}
            for s in sessions
        ],
        **own,
    }


# -- deletion --------------------------------------------------------------------------------

def _table(name: str) -> Table | None:
    """A table another package may define (flags, search): used only if it exists."""
    return Base.metadata.tables.get(name)


async def _erase_texts(session: AsyncSession, member: Member, now: datetime) -> None:
    """Remove the text of every post of ``member``, wherever a copy of it is kept."""
    mine = select(Post.id).where(Post.author_id == member.id).scalar_subquery()
    visible_replies = await session.execute(
        select(Post.thread_id, func.count())
        .where(Post.author_id == member.id, Post.status == PostStatus.VISIBLE, Post.number > 1)
        .group_by(Post.thread_id)
    )
    for thread_id, count in visible_replies.all():
        await session.execute(
            update(Thread).where(Thread.id == thread_id)
            .values(reply_count=Thread.reply_count - count)
        )
    await session.execute(delete(PostRevision).where(PostRevision.post_id.in_(mine)))
    flag = _table("flag")
    if flag is not None:
        await session.execute(
            update(flag).where(flag.c.post_id.in_(mine)).values(text_copy="")
        )
        # The screen's reasons quote the post's sentences: only "automatic" stays.
        await session.execute(update(flag).where(
            flag.c.post_id.in_(mine), flag.c.flagger_id.is_(None)).values(
            details={"automatic": True}))
        await session.execute(update(flag).where(
            flag.c.post_id.in_(mine), flag.c.flagger_id.is_not(None)).values(details={}))
        await session.execute(
            update(flag).where(flag.c.flagger_id == member.id).values(note="")
        )
    appeal = _table("appeal")
    if appeal is not None:  # what they wrote to contest a decision goes with their posts
        await session.execute(
            update(appeal).where(appeal.c.member_id == member.id).values(message="")
        )
    changes.posts(session, (await session.execute(
        select(Post.id, Post.thread_id).where(Post.author_id == member.id))).all())
    await session.execute(
        update(Post).where(Post.author_id == member.id, Post.status != PostStatus.DELETED)
        .values(status=PostStatus.DELETED, source="", html="", content_warning=None,
                lang=None, edited_at=now)
    )
    await session.execute(
        update(Thread).where(Thread.author_id == member.id).values(title=ERASED_TITLE)
    )
    await session.execute(  # their group sessions' texts, as their threads' titles
        update(GroupSession).where(GroupSession.facilitator_id == member.id)
        .values(title=ERASED_TITLE, theme="", agreement="", agreement_html="")
    )


MODERATOR_NOTICES = ("welfare_alert", "second_opinion")
"""Notice kinds of ``moderation.actions`` (``WELFARE_ALERT``, ``SECOND_OPINION_NOTICE``) sent to
moderators about a post: kept when its author leaves (``forum`` never imports ``moderation``;
``tests/moderation/test_welfare_alerts.py`` checks the names)."""


async def _forget_notices_about(session: AsyncSession, member: Member, *,
                                erase_posts: bool) -> None:
    """Other members' notices about the leaver's posts name them; with "erase", notices
    about their threads quote their titles. Those notices go."""
    await session.execute(delete(Notification).where(
        Notification.post_id.in_(select(Post.id).where(Post.author_id == member.id)),
        # A moderator's alert about someone in danger stays: leaving is a common step in a
        # crisis, and these notices never name the author.
        Notification.kind.not_in(MODERATOR_NOTICES),
    ))
    if erase_posts:
        await session.execute(delete(Notification).where(
            Notification.thread_id.in_(select(Thread.id).where(Thread.author_id == member.id))
        ))


async def _unlink_member(session: AsyncSession, member: Member) -> None:
    """Do to every row that points at ``member`` what its foreign key says on delete."""
    member_table = Member.__table__
    for table in reversed(Base.metadata.sorted_tables):
        if table is member_table:
            continue
        for key in table.foreign_keys:
            if key.column.table is not member_table:
                continue
            if key.ondelete == "CASCADE":
                await session.execute(delete(table).where(key.parent == member.id))
            elif key.ondelete == "SET NULL":
                await session.execute(
                    update(table).where(key.parent == member.id).values({key.parent.name: None})
                )


async def do_delete_account(
    session: AsyncSession, member: Member, *, erase_posts: bool, now: datetime | None = None
) -> None:
    """Delete ``member``'s account now: posts anonymised ("Membre parti·e") or erased.

    Sessions, consents, notices and every personal setting go; the row stays, scrubbed, to
    keep the pseudonym reserved.
    """
    now = now or utcnow()
    await store_of(session).end_all(session, member.id)
    await _forget_notices_about(session, member, erase_posts=erase_posts)
    await groups.do_leave_all(session, member, now=now)
    await conversations.do_leave_all(session, member, now=now, erase=erase_posts)
    if erase_posts:
        await _erase_texts(session, member, now)
    await _unlink_member(session, member)
    changes.everyone(session)  # their pseudonym leaves every page that showed it
    await session.execute(
        update(Member).where(Member.id == member.id).values(
            status=MemberStatus.DELETED, pseudonym="", password_hash=SCRUBBED_HASH,
            recovery_hash=SCRUBBED_HASH, role=Role.MEMBER, trained_helper=False, locale=None,
            region=None, break_until=None, deleted_at=now,
        )
    )
    await session.flush()
