"""The moderation log keeps ids, never what a member wrote (issue 15): thread actions named a
thread by its title (``target_pseudonym``), which outlived an erased account and could out
someone; they name it by its number now, and this revision rewrites the rows already written.

The log is append-only: its guard is lifted for this one statement and put back as it was.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 10:45:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

THREAD_KINDS = "9, 10, 11, 12, 13"  # THREAD_LOCKED ... THREAD_MOVED (stored values)
SCRUB = ("UPDATE moderation_action SET target_pseudonym = '#' || target_thread_id "
         f"WHERE kind IN ({THREAD_KINDS}) AND target_thread_id IS NOT NULL")
SCRUB_GONE = ("UPDATE moderation_action SET target_pseudonym = '' "
              f"WHERE kind IN ({THREAD_KINDS}) AND target_thread_id IS NULL")
# Copied, not imported: this revision never changes when the models do.
SQLITE_GUARD = (
    "CREATE TRIGGER moderation_action_no_update BEFORE UPDATE ON moderation_action WHEN OLD.id IS NOT NEW.id OR OLD.kind IS NOT NEW.kind OR OLD.created_at IS NOT NEW.created_at OR OLD.actor_pseudonym IS NOT NEW.actor_pseudonym OR OLD.target_pseudonym IS NOT NEW.target_pseudonym OR OLD.reason IS NOT NEW.reason OR OLD.details IS NOT NEW.details OR (NEW.actor_id IS NOT NULL AND NEW.actor_id IS NOT OLD.actor_id) OR (NEW.space_id IS NOT NULL AND NEW.space_id IS NOT OLD.space_id) OR (NEW.target_post_id IS NOT NULL AND NEW.target_post_id IS NOT OLD.target_post_id) OR (NEW.target_thread_id IS NOT NULL AND NEW.target_thread_id IS NOT OLD.target_thread_id) OR (NEW.target_member_id IS NOT NULL AND NEW.target_member_id IS NOT OLD.target_member_id) BEGIN SELECT RAISE(ABORT, 'moderation_action is append-only'); END"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.execute("DROP TRIGGER IF EXISTS moderation_action_no_update")
        op.execute(SCRUB)
        op.execute(SCRUB_GONE)
        op.execute(SQLITE_GUARD)
    else:
        op.execute("ALTER TABLE moderation_action DISABLE TRIGGER moderation_action_append_only")
        op.execute(SCRUB.replace("'#' || target_thread_id", "'#' || target_thread_id::text"))
        op.execute(SCRUB_GONE)
        op.execute("ALTER TABLE moderation_action ENABLE TRIGGER moderation_action_append_only")


def downgrade() -> None:
    """The titles are not kept anywhere else: nothing to restore."""
