"""Moderation's tables: flags, the audit log, claims, appeals and watched words.

The audit log (``moderation_action``) is append-only: database triggers refuse UPDATE and
DELETE on it (SQLite and PostgreSQL), except the ``SET NULL`` its foreign keys perform when a
member, post, thread or space is purged. The DDL is attached to the table with SQLAlchemy
events (so ``create_all`` installs it) and listed in ``AUDIT_LOG_DDL`` for the migration.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    DDL,
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.db import Base, UTCDateTime, utcnow
from forum.models import Id, Member, Post


class FlagReason(enum.StrEnum):
    DANGER = "danger"
    SCREEN = "screen"
    """The crisis screen's model alone found the post worrying (a quiet line, or nothing shown
    to the author): a low-priority mark so moderators can judge it, never raised by a member."""
    HARASSMENT = "harassment"
    PERSONAL_INFO = "personal_info"
    DANGEROUS_CONTENT = "dangerous_content"
    SPAM = "spam"
    MISINFORMATION = "misinformation"
    OTHER = "other"


class ActionKind(enum.IntEnum):
    """Every kind of moderation event. Values are stored: never renumber, only append."""

    POST_APPROVED = 1
    POST_HIDDEN = 2
    POST_RESTORED = 3
    POST_REMOVED = 4
    POST_EDITED = 5
    WARNING_ADDED = 6
    WARNING_REMOVED = 7
    FLAGS_DISMISSED = 8
    THREAD_LOCKED = 9
    THREAD_UNLOCKED = 10
    THREAD_PINNED = 11
    THREAD_UNPINNED = 12
    THREAD_MOVED = 13
    MEMBER_WARNED = 14
    MEMBER_SUSPENDED = 15
    MEMBER_BANNED = 16
    MEMBER_RESTRICTION_LIFTED = 17
    MODERATOR_ADDED = 18
    MODERATOR_REMOVED = 19
    SPACE_CREATED = 20
    SPACE_UPDATED = 21
    POST_AUTO_HIDDEN = 22
    POST_HELD = 23
    APPEAL_GRANTED = 24
    APPEAL_DENIED = 25
    WATCHED_WORD_ADDED = 26
    WATCHED_WORD_REMOVED = 27
    SECOND_OPINION_REQUESTED = 28
    DECISION_PROPOSED = 29
    MEMBER_MESSAGED = 30
    REPLY_TEMPLATE_UPDATED = 31
    SECOND_OPINION_GIVEN = 32
    WELFARE_ESCALATED = 33
    HELPER_GRANTED = 34
    HELPER_REVOKED = 35
    APPEAL_CLOSED = 36
    """An appeal of a suspension or ban closed without a decision: a later decision (a ban,
    a new suspension, a lift) replaced or ended the restriction it contested."""
    CONVERSATION_READ = 37
    """A moderator opened a message of a private conversation put before them (reported,
    screened or held): who read which private message is on record, once per moderator."""


class Flag(Base):
    """A member's report about a post. Keeps a copy of the text it flagged."""

    __tablename__ = "flag"
    __table_args__ = (
        Index("ix_flag_one_open", "post_id", "flagger_id", unique=True,
              sqlite_where=text("resolved_at IS NULL"),
              postgresql_where=text("resolved_at IS NULL")),
        Index("ix_flag_open", "resolved_at", "post_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("post.id", ondelete="CASCADE"))
    flagger_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(24))
    note: Mapped[str] = mapped_column(Text, default="")
    text_copy: Mapped[str] = mapped_column(Text)
    """The post's Markdown when flagged: what the flagger saw, even if it is edited later."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL")
    )
    outcome: Mapped[str | None] = mapped_column(String(24))
    """What settled it: "hidden", "removed", "approved", "dismissed", "edited"…"""
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """For a flag the crisis screen raised: why (the stage, what the lexicon matched, the
    model's scores, the nearest labelled examples), shown on the moderator's item page."""
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """When an unclaimed welfare item was escalated to every moderator and admin (once)."""

    post: Mapped[Post] = relationship(lazy="raise")
    flagger: Mapped[Member | None] = relationship(lazy="raise", foreign_keys=[flagger_id])

    @property
    def automatic(self) -> bool:
        """Raised by the crisis screen, not by a member (whose flag keeps no flagger once
        their account is deleted)."""
        return bool((self.details or {}).get("automatic"))


class Claim(Base):
    """A moderator says "je m'en occupe" about a post under review."""

    __tablename__ = "mod_claim"

    post_id: Mapped[int] = mapped_column(ForeignKey("post.id", ondelete="CASCADE"),
                                         primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    member: Mapped[Member] = relationship(lazy="raise")


class ModerationAction(Base):
    """The audit log: one row per moderation event. Append-only (see the module docstring).

    Only ``moderation.audit`` creates rows. Pseudonyms are snapshots, so history survives an
    account's deletion; every foreign key is ``SET NULL``.
    """

    __tablename__ = "moderation_action"
    __table_args__ = (
        Index("ix_moderation_action_space", "space_id", "id"),
        Index("ix_moderation_action_target_member", "target_member_id", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[int] = mapped_column(Integer)
    """An ``ActionKind`` value."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    actor_pseudonym: Mapped[str] = mapped_column(String(32))
    """"" for the automatic rules."""
    space_id: Mapped[int | None] = mapped_column(ForeignKey("space.id", ondelete="SET NULL"))
    target_post_id: Mapped[int | None] = mapped_column(
        ForeignKey("post.id", ondelete="SET NULL"))
    target_thread_id: Mapped[int | None] = mapped_column(
        ForeignKey("thread.id", ondelete="SET NULL"))
    target_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL"))
    target_pseudonym: Mapped[str] = mapped_column(String(32), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


_IMMUTABLE = ("id", "kind", "created_at", "actor_pseudonym", "target_pseudonym", "reason",
              "details")
_NULLABLE_FKS = ("actor_id", "space_id", "target_post_id", "target_thread_id",
                 "target_member_id")


def _changed(dialect: str) -> str:
    """The SQL condition "this UPDATE does more than a foreign key's SET NULL"."""
    differs = "IS NOT" if dialect == "sqlite" else "IS DISTINCT FROM"
    cast = "" if dialect == "sqlite" else "::text"
    parts = [f"OLD.{c}{cast} {differs} NEW.{c}{cast}" for c in _IMMUTABLE]
    parts += [f"(NEW.{c} IS NOT NULL AND NEW.{c} {differs} OLD.{c})" for c in _NULLABLE_FKS]
    return " OR ".join(parts)


SQLITE_AUDIT_DDL = (
    "CREATE TRIGGER moderation_action_no_update BEFORE UPDATE ON moderation_action "
    f"WHEN {_changed('sqlite')} "
    "BEGIN SELECT RAISE(ABORT, 'moderation_action is append-only'); END",
    "CREATE TRIGGER moderation_action_no_delete BEFORE DELETE ON moderation_action "
    "BEGIN SELECT RAISE(ABORT, 'moderation_action is append-only'); END",
)
POSTGRESQL_AUDIT_DDL = (
    "CREATE OR REPLACE FUNCTION moderation_action_append_only() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN "
    f"IF TG_OP = 'DELETE' OR ({_changed('postgresql')}) THEN "
    "RAISE EXCEPTION 'moderation_action is append-only'; END IF; "
    "RETURN NEW; END $$",
    "CREATE TRIGGER moderation_action_append_only BEFORE UPDATE OR DELETE ON "
    "moderation_action FOR EACH ROW EXECUTE FUNCTION moderation_action_append_only()",
)

AUDIT_LOG_DDL: list[tuple[str, str]] = [
    *(("sqlite", sql) for sql in SQLITE_AUDIT_DDL),
    *(("postgresql", sql) for sql in POSTGRESQL_AUDIT_DDL),
]
"""(dialect, sql) to replay in the Alembic migration that creates ``moderation_action``."""

for _dialect, _sql in AUDIT_LOG_DDL:
    event.listen(ModerationAction.__table__, "after_create",
                 DDL(_sql).execute_if(dialect=_dialect))


class Appeal(Base):
    """A member asks for a second look at an action about them; once per action."""

    __tablename__ = "appeal"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    action_id: Mapped[int] = mapped_column(
        ForeignKey("moderation_action.id", ondelete="CASCADE"), unique=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL"))
    granted: Mapped[bool | None] = mapped_column(Boolean)

    action: Mapped[ModerationAction] = relationship(lazy="raise")


class WatchedWord(Base):
    """A word or pattern the gate watches for, and what it does: flag, hold or block."""

    __tablename__ = "watched_word"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    pattern: Mapped[str] = mapped_column(String(300))
    """An RE2 pattern (``moderation/patterns.py``), matched without case or accents."""
    action: Mapped[str] = mapped_column(String(8))
    """"flag", "hold" or "block"."""
    label: Mapped[str] = mapped_column(String(120), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    """For "block": what the author is told."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SecondOpinion(Base):
    """A moderator asks the space's other moderators and the admins to look at an item."""

    __tablename__ = "mod_second_opinion"
    __table_args__ = (Index("ix_mod_second_opinion_open", "post_id", "resolved_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("post.id", ondelete="CASCADE"))
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    requested_by: Mapped[Member | None] = relationship(lazy="raise")


class PendingDecision(Base):
    """A first moderator's closing decision on a welfare item, waiting for a second one."""

    __tablename__ = "mod_pending_decision"

    post_id: Mapped[int] = mapped_column(ForeignKey("post.id", ondelete="CASCADE"),
                                         primary_key=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    decision: Mapped[str] = mapped_column(String(16))
    """"dismiss", "approve", "hide" or "remove"."""
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    member: Mapped[Member | None] = relationship(lazy="raise")


class ReplyTemplate(Base):
    """An admin's version of a shipped reply template (``data/reply_templates.json``)."""

    __tablename__ = "mod_reply_template"
    __table_args__ = (Index("ix_mod_reply_template_key", "key", "locale", unique=True),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(40))
    locale: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
