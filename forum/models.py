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
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.db import Base, UTCDateTime, utcnow

Id = BigInteger().with_variant(Integer(), "sqlite")
"""Primary keys: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite."""


class Role(enum.StrEnum):
    MEMBER = "member"
    ADMIN = "admin"


class MemberStatus(enum.StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


class Visibility(enum.StrEnum):
    PUBLIC = "public"
    MEMBERS = "members"


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
    locale: Mapped[str | None] = mapped_column(String(8))
    region: Mapped[str | None] = mapped_column(String(8))
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
    thread_count: Mapped[int] = mapped_column(Integer, default=0)
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


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

    space: Mapped[Space] = relationship(lazy="raise")
    author: Mapped[Member | None] = relationship(lazy="raise")


class Post(Base):
    """One message. Its HTML is rendered and sanitised once, when written."""

    __tablename__ = "post"
    __table_args__ = (
        UniqueConstraint("thread_id", "number"),
        UniqueConstraint("author_id", "idempotency_key"),
        CheckConstraint("number >= 1", name="number_positive"),
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
    status: Mapped[PostStatus] = mapped_column(
        _enum(PostStatus, "post_status"), default=PostStatus.VISIBLE
    )
    crisis_level: Mapped[str] = mapped_column(String(8), default="none")
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    """A key from the form, so a double submit stores one post."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    thread: Mapped[Thread] = relationship(lazy="raise")
    author: Mapped[Member | None] = relationship(lazy="raise")


class PostRevision(Base):
    """A post's text before an edit; every revision is kept."""

    __tablename__ = "post_revision"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("post.id", ondelete="CASCADE"), index=True)
    editor_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    renderer_version: Mapped[int] = mapped_column(Integer)
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
