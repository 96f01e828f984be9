"""The forum's tables: columns, relationships and docstrings; no behaviour.

Relationships are ``lazy="raise"``: queries eager-load what pages need, so an N+1 fails in
tests instead of slowing production. No table holds an e-mail address, a real name, an IP
address or a user agent.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.db import Base, UTCDateTime, utcnow

Id = BigInteger().with_variant(Integer(), "sqlite")
"""Primary keys: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite."""

ID_MAX = 2**63 - 1
"""The largest id either database holds: a number from a request past it is no id at all
(SQLite and asyncpg raise on integers past 64 bits instead of finding nothing)."""


class Role(enum.StrEnum):
    MEMBER = "member"
    ADMIN = "admin"


class MemberStatus(enum.StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


class Visibility(enum.StrEnum):
    PUBLIC = "public"
    MEMBERS = "members"
    HELPERS = "helpers"
    """The trained peer helpers' own space (debriefing): its threads for them and the admins."""


class PostStatus(enum.StrEnum):
    VISIBLE = "visible"
    PENDING = "pending"
    HIDDEN = "hidden"
    DELETED = "deleted"
    """Deleted by its author: the thread shows a placeholder."""
    REMOVED = "removed"


def _enum(cls: type[enum.StrEnum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=16,
                values_callable=lambda e: [m.value for m in e], validate_strings=True)


class Member(Base):
    """Someone with an account. Known only by a pseudonym."""

    __tablename__ = "member"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(32))
    """As chosen, NFKC-normalised; what others see."""
    pseudonym_key: Mapped[str] = mapped_column(String(128), unique=True)
    """Case-folded confusable skeleton without diacritics: two look-alike names collide here."""
    password_hash: Mapped[str] = mapped_column(String(256))
    recovery_hash: Mapped[str] = mapped_column(String(256))
    """Hash of the one recovery code; the code itself is shown once and never stored."""
    role: Mapped[Role] = mapped_column(_enum(Role, "member_role"), default=Role.MEMBER)
    status: Mapped[MemberStatus] = mapped_column(
        _enum(MemberStatus, "member_status"), default=MemberStatus.ACTIVE
    )
    trained_helper: Mapped[bool] = mapped_column(Boolean, default=False)
    """Granted by admins to members trained as peer helpers ("Pair-aidant·e formé·e")."""
    accepts_conversations: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false())
    """The member lets other members ask them for a conversation (off unless they say so)."""
    is_peer_moderator: Mapped[bool] = mapped_column(Boolean, default=False)
    """True while the member moderates at least one space (kept by moderation's actions)."""
    suspended_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """A suspension's end: until then the member reads but cannot post."""
    banned: Mapped[bool] = mapped_column(Boolean, default=False)
    restriction_reason: Mapped[str | None] = mapped_column(Text)
    """Why the member is suspended or banned, shown to them where the composer would be."""
    locale: Mapped[str | None] = mapped_column(String(8))
    region: Mapped[str | None] = mapped_column(String(8))
    break_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """"Take a break": until then no profile is shown and notifications are muted."""
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """When the member deleted their account (the row stays to keep the pseudonym reserved)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MemberSession(Base):
    """A logged-in browser. The cookie carries a random token; only its SHA-256 is stored."""

    __tablename__ = "member_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """The absolute end of the session, whatever its activity."""
    device: Mapped[str | None] = mapped_column(String(16))
    """computer, phone or tablet: derived from the user agent at log-in, which is not kept."""

    member: Mapped[Member] = relationship(lazy="raise")


class Space(Base):
    """A thematic space ("groupe de parole thématique")."""

    __tablename__ = "space"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text, default="")
    charter: Mapped[str] = mapped_column(Text, default="")
    """The space's own rules, in plain text, shown with the forum's charter."""
    visibility: Mapped[Visibility] = mapped_column(
        _enum(Visibility, "space_visibility"), default=Visibility.PUBLIC
    )
    indexable: Mapped[bool] = mapped_column(Boolean, default=False)
    """Admins may let search engines index a public space; off by default."""
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Resource topics (e.g. "addiction") whose lines the space shows."""
    position: Mapped[int] = mapped_column(Integer, default=0)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    premoderated_posts: Mapped[int] = mapped_column(Integer, default=0)
    """A new member's first N posts here wait for a moderator (0: off)."""
    new_member_hourly_limit: Mapped[int] = mapped_column(Integer, default=0)
    """Posts an hour allowed to members of less than a week (0: no limit)."""
    auto_hide_flags: Mapped[int] = mapped_column(Integer, default=3)
    """Distinct flaggers that hide a post pending review (0: never)."""
    thread_count: Mapped[int] = mapped_column(Integer, default=0)
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class GroupSessionStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"
    CANCELLED = "cancelled"


class GroupSession(Base):
    """A scheduled online "groupe de parole" in a space, held by a facilitator (a trained peer
    helper or one of the space's moderators): at its start a live thread opens to its
    registered members (``forum/groups.py``)."""

    __tablename__ = "group_session"
    __table_args__ = (Index("ix_group_session_space_start", "space_id", "starts_at"),
                      Index("ix_group_session_due", "status", "starts_at"))

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    space_id: Mapped[int] = mapped_column(ForeignKey("space.id", ondelete="RESTRICT"))
    facilitator_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(150))
    theme: Mapped[str] = mapped_column(Text, default="")
    """What the group will talk about, in a few lines (plain text)."""
    agreement: Mapped[str] = mapped_column(Text)
    """The group's agreement (Markdown), accepted on registering and pinned in the session."""
    agreement_html: Mapped[str] = mapped_column(Text)
    """The agreement rendered and sanitised by the posting gate when it was written."""
    renderer_version: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    minutes: Mapped[int] = mapped_column(Integer)
    capacity: Mapped[int] = mapped_column(Integer)
    open_listing: Mapped[bool] = mapped_column(Boolean, default=False)
    """Open: visitors see the session's page (not its messages). Members-only otherwise."""
    keep_after: Mapped[bool] = mapped_column(Boolean, default=True)
    """After the end, the messages are kept (locked, for the participants) or deleted."""
    status: Mapped[GroupSessionStatus] = mapped_column(
        _enum(GroupSessionStatus, "group_session_status"), default=GroupSessionStatus.SCHEDULED)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    """Paused by the facilitator: only they may write until they resume."""
    reminded: Mapped[bool] = mapped_column(Boolean, default=False)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    space: Mapped[Space] = relationship(lazy="raise")
    facilitator: Mapped[Member | None] = relationship(lazy="raise")


class GroupSessionMember(Base):
    """A member registered for a group session (having accepted its agreement)."""

    __tablename__ = "group_session_member"

    group_session_id: Mapped[int] = mapped_column(
        ForeignKey("group_session.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ConversationStatus(enum.StrEnum):
    WAITING = "waiting"
    """Asked for; no helper has taken it yet (``/helpers``)."""
    OPEN = "open"
    ENDED = "ended"
    UNANSWERED = "unanswered"
    """Nobody took it in time; the member was told kindly where else to turn."""
    DECLINED = "declined"
    """A member asked another member, who said no."""


class ConversationKind(enum.StrEnum):
    HELPER = "helper"
    """Asked of the trained peer helpers of a theme; one of them accepts."""
    MEMBER = "member"
    """Asked of one member who accepts requests; it opens only if they accept."""


class Conversation(Base):
    """A member's private conversation with a trained peer helper on a theme (a space), from
    the request to its end (``forum/conversations.py``). Its messages are the posts of its
    thread (``Thread.conversation_id``): only its two people read them."""

    __tablename__ = "conversation"
    __table_args__ = (
        Index("ix_conversation_status_created", "status", "created_at"),
        # One request to the helpers waiting per member, and each member asks another once:
        # two tabs sending at the same moment make one row, not two.
        Index("ix_conversation_one_waiting", "member_id", unique=True,
              sqlite_where=text("status = 'waiting' AND kind = 'helper'"),
              postgresql_where=text("status = 'waiting' AND kind = 'helper'")),
        Index("ix_conversation_asked_once", "member_id", "helper_id", unique=True,
              sqlite_where=text("kind = 'member'"), postgresql_where=text("kind = 'member'")),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL"), index=True)
    helper_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL"), index=True)
    """The helper who accepted; in a conversation between members, the member asked."""
    space_id: Mapped[int] = mapped_column(ForeignKey("space.id", ondelete="RESTRICT"))
    """The theme the member chose; its moderators are the ones alerted or called in."""
    lang: Mapped[str] = mapped_column(String(8), default="fr")
    kind: Mapped[ConversationKind] = mapped_column(
        _enum(ConversationKind, "conversation_kind"), default=ConversationKind.HELPER)
    status: Mapped[ConversationStatus] = mapped_column(
        _enum(ConversationStatus, "conversation_status"), default=ConversationStatus.WAITING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    member: Mapped[Member | None] = relationship(lazy="raise", foreign_keys=[member_id])
    helper: Mapped[Member | None] = relationship(lazy="raise", foreign_keys=[helper_id])
    space: Mapped[Space] = relationship(lazy="raise")


class HelperAvailability(Base):
    """What a trained peer helper takes on: themes (``HelperTheme``), languages, how many
    conversations at once, and a pause (``/helpers``)."""

    __tablename__ = "helper_availability"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), primary_key=True)
    languages: Mapped[str] = mapped_column(String(16), default="fr")
    """Comma-separated, from ``POST_LANGS``."""
    capacity: Mapped[int] = mapped_column(Integer, default=2)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class HelperTheme(Base):
    __tablename__ = "helper_theme"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), primary_key=True)
    space_id: Mapped[int] = mapped_column(
        ForeignKey("space.id", ondelete="CASCADE"), primary_key=True, index=True)


class Thread(Base):
    __tablename__ = "thread"
    __table_args__ = (
        Index("ix_thread_space_listing", "space_id", "pinned", "last_activity_at", "id"),
        Index("ix_thread_recent", "last_activity_at", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    space_id: Mapped[int] = mapped_column(ForeignKey("space.id", ondelete="RESTRICT"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(150))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    post_count: Mapped[int] = mapped_column(Integer, default=0)
    """How many posts were ever numbered in the thread (the last post's number)."""
    reply_count: Mapped[int] = mapped_column(Integer, default=0)
    """Visible replies (posts after the first), as readers count them."""
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    group_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("group_session.id", ondelete="CASCADE"), unique=True, index=True)
    """Set on a group session's live thread: read and written by its registered members, its
    facilitator and the space's moderators only; never listed, searched or cached for others."""

    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversation.id", ondelete="CASCADE"), unique=True, index=True)
    """Set on a one-to-one conversation's thread: read and written by its two people only
    (``queries.check_thread_access``); never listed, searched or cached for others."""

    space: Mapped[Space] = relationship(lazy="raise")
    author: Mapped[Member | None] = relationship(lazy="raise")
    group_session: Mapped[GroupSession | None] = relationship(lazy="raise")
    conversation: Mapped[Conversation | None] = relationship(lazy="raise")

    @property
    def private(self) -> bool:
        """A group session's or a conversation's thread: for its participants only."""
        return self.group_session_id is not None or self.conversation_id is not None


POST_LANGS: tuple[str, ...] = ("fr", "en")
"""The languages an author may say a post is written in: the interface's own (``LOCALES``),
the ones its readers, moderators and crisis screen read."""


NEEDS_CARE = "status = 'visible' AND crisis_level IN ('concern', 'urgent')"
"""The posts that put the gentle help banner on their thread; a partial index holds only them,
so asking whether a thread has one is a single index probe, however long the thread. Queries
must spell this clause the same way (literals, not parameters) for SQLite to use the index.
``Post.needs_care`` is the same rule for a post in hand (the htmx answer to a reply)."""


class Post(Base):
    """One message. Its HTML is rendered and sanitised once, when written."""

    __tablename__ = "post"
    __table_args__ = (
        UniqueConstraint("thread_id", "number"),
        UniqueConstraint("author_id", "idempotency_key"),
        CheckConstraint("number >= 1", name="number_positive"),
        Index("ix_post_needs_care", "thread_id", sqlite_where=text(NEEDS_CARE),
              postgresql_where=text(NEEDS_CARE)),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("thread.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    """1 for the opening post, then 2, 3…; pages are ranges of numbers."""
    author_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(Text)
    """The Markdown as written."""
    html: Mapped[str] = mapped_column(Text)
    """The sanitised HTML: the only HTML ever marked safe in a template."""
    renderer_version: Mapped[int] = mapped_column(Integer)
    content_warning: Mapped[str | None] = mapped_column(String(64))
    lang: Mapped[str | None] = mapped_column(String(8))
    """The language the post is written in, as its author chose it ("fr", "en"; see
    ``POST_LANGS``), marked ``lang`` on its body. None for posts older than the choice: they
    carry no mark and read in the page's language."""
    status: Mapped[PostStatus] = mapped_column(
        _enum(PostStatus, "post_status"), default=PostStatus.VISIBLE
    )
    crisis_level: Mapped[str] = mapped_column(String(8), default="none")
    """The help the crisis screen asked for: "none", "concern" or "urgent"."""
    crisis_answer: Mapped[str] = mapped_column(String(8), default="none", server_default="none")
    """How the screen answered the author: "pause" (before publishing), "line" (a calm line
    under their own post, after publishing), "watch" (nothing shown; a mark for moderators)
    or "none"."""
    moderation_reason: Mapped[str | None] = mapped_column(Text)
    """Why the post is pending, hidden or removed, shown to its author."""
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    """A key from the form, so a double submit stores one post."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    thread: Mapped[Thread] = relationship(lazy="raise")
    author: Mapped[Member | None] = relationship(lazy="raise")

    @property
    def needs_care(self) -> bool:
        """Whether this post puts the help banner on its thread, and the calm line under it for
        its author (:data:`NEEDS_CARE`, in Python)."""
        return self.status == "visible" and self.crisis_level in ("concern", "urgent")


class PostRevision(Base):
    """A post's text before an edit; every revision is kept."""

    __tablename__ = "post_revision"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("post.id", ondelete="CASCADE"), index=True)
    editor_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    renderer_version: Mapped[int] = mapped_column(Integer)
    lang: Mapped[str | None] = mapped_column(String(8))
    """The post's language while this text was current (an edit may change it)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Notification(Base):
    """Something a member should know: a reply, a mention, a moderation or welfare notice.

    In-app only (never e-mail). ``message`` is a message id (French source text) translated
    when shown, with ``params``; a moderation notice is signed by "L'équipe de modération",
    never by a person.
    """

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_inbox", "member_id", "read_at", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    """reply, mention, moderation, welfare, flag_outcome, appeal_outcome…"""
    message: Mapped[str] = mapped_column(Text)
    params: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    thread_id: Mapped[int | None] = mapped_column(ForeignKey("thread.id", ondelete="CASCADE"))
    post_id: Mapped[int | None] = mapped_column(ForeignKey("post.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SpaceModerator(Base):
    """A member trusted with a space ("Modérateur·rice pair")."""

    __tablename__ = "space_moderator"

    space_id: Mapped[int] = mapped_column(
        ForeignKey("space.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    on_duty: Mapped[bool] = mapped_column(Boolean, default=False)
    """The moderator says they are present now (the space page tells members)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    member: Mapped[Member] = relationship(lazy="raise")
    space: Mapped[Space] = relationship(lazy="raise")


# -- search, reactions, follows, blocks, notification settings (issue 7) ---------------------


class SearchDocument(Base):
    """The searchable text of one visible post (its thread's title on the opening post).

    Only visible posts have a row: ``forum.search.reindex_post`` writes or deletes it in the
    same transaction as the change. SQLite mirrors it into the FTS5 table ``search_fts``
    (triggers); PostgreSQL indexes it with a GIN expression index (``forum.search.DDL``).
    """

    __tablename__ = "search_document"
    __table_args__ = (Index("ix_search_document_space", "space_id"),)

    post_id: Mapped[int] = mapped_column(
        ForeignKey("post.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    thread_id: Mapped[int] = mapped_column(ForeignKey("thread.id", ondelete="CASCADE"))
    space_id: Mapped[int] = mapped_column(ForeignKey("space.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    """Plain text drawn from the post's sanitised HTML (no markup)."""


class SearchTerm(Base):
    """One word of the search index's vocabulary (SQLite only; empty on PostgreSQL).

    FTS5 answers a prefix query (``"sommeil"*``) by gathering every matching post before
    it can stop, so its cost grows with the forum. ``forum.search`` instead looks up the
    words that start with the prefix here (an index range) and asks FTS5 for those words,
    which it walks newest first and stops early. ``forum.search.reindex_post`` keeps it in
    step: a post's new words are added, and a word is removed with the last visible post
    that held it (no word outlives the posts it came from).
    """

    __tablename__ = "search_term"
    __table_args__ = {"sqlite_with_rowid": False}

    term: Mapped[str] = mapped_column(Text, primary_key=True)


class Reaction(Base):
    """A support reaction ("Je te lis", "Courage", "Merci", "Moi aussi"): one per kind."""

    __tablename__ = "reaction"

    post_id: Mapped[int] = mapped_column(
        ForeignKey("post.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    member: Mapped[Member] = relationship(lazy="raise")


class Follow(Base):
    """A member follows a thread: they hear of its replies. Starting or replying follows."""

    __tablename__ = "follow"
    __table_args__ = (Index("ix_follow_thread", "thread_id"),)

    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), primary_key=True
    )
    thread_id: Mapped[int] = mapped_column(
        ForeignKey("thread.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Block(Base):
    """``blocker`` no longer sees ``blocked``'s posts open, nor hears of their mentions.

    Never shown to the blocked member.
    """

    __tablename__ = "block"

    blocker_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), primary_key=True
    )
    blocked_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    blocked: Mapped[Member] = relationship(foreign_keys=[blocked_id], lazy="raise")


class NotificationSetting(Base):
    """A member's choice for one kind of notification (no row: on)."""

    __tablename__ = "notification_setting"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


# -- accounts and privacy (issue 5) ----------------------------------------------------------


class ThrottleCounter(Base):
    """One rate-limit counter: attempts under ``key`` until ``expires_at`` (a fixed window).

    Keys are keyed hashes (``forum.throttle``): never a pseudonym or an address in clear.
    Rows are deleted once expired; with ``FORUM_REDIS_URL`` the counters live in Redis instead.
    """

    __tablename__ = "throttle_counter"

    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class Consent(Base):
    """A member's explicit consent, with the charter version they agreed to and when."""

    __tablename__ = "consent"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"),
                                           index=True)
    kind: Mapped[str] = mapped_column(String(32))
    """"health_data": hosting what one writes about one's health."""
    charter_version: Mapped[str] = mapped_column(String(16))
    given_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# -- crisis safety (issue 4) -----------------------------------------------------------------


class SafetyPlan(Base):
    """A member's private safety plan: only they ever see it; exported and deleted with them."""

    __tablename__ = "safety_plan"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), primary_key=True
    )
    warning_signs: Mapped[str] = mapped_column(Text, default="")
    """What tells me a crisis is coming."""
    what_helps: Mapped[str] = mapped_column(Text, default="")
    """What I can do on my own that helps."""
    people: Mapped[str] = mapped_column(Text, default="")
    """People and places I can reach."""
    lines: Mapped[str] = mapped_column(Text, default="")
    """Lines and professionals I can call."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WarningPreference(Base):
    """How a member wants posts carrying one content-warning theme: collapsed or hidden."""

    __tablename__ = "warning_preference"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), primary_key=True
    )
    theme: Mapped[str] = mapped_column(String(32), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))
    """"hide" (the default, "collapse", is not stored)."""
