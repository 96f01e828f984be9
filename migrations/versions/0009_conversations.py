"""One-to-one conversations (issue 17): ``conversation`` (with a trained peer helper, or
between two members), the helpers' availability and themes, a member's consent to be asked
(``member.accepts_conversations``), and a conversation thread's link to its conversation
(``thread.conversation_id``).

As in 0008, SQLite copies ``thread`` to add the reference (a batch); PostgreSQL adds the
column and its constraint in place.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 02:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import forum.db

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'conversation',
        sa.Column('id', Id, nullable=False),
        sa.Column('member_id', Id, nullable=True),
        sa.Column('helper_id', Id, nullable=True),
        sa.Column('space_id', Id, nullable=False),
        sa.Column('lang', sa.String(length=8), nullable=False),
        sa.Column('kind', sa.Enum('helper', 'member', name='conversation_kind',
                                  native_enum=False, length=16), nullable=False),
        sa.Column('status', sa.Enum('waiting', 'open', 'ended', 'unanswered', 'declined',
                                    name='conversation_status', native_enum=False, length=16),
                  nullable=False),
        sa.Column('created_at', forum.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('accepted_at', forum.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('ended_at', forum.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['member_id'], ['member.id'],
                                name=op.f('fk_conversation_member_id_member'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['helper_id'], ['member.id'],
                                name=op.f('fk_conversation_helper_id_member'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['space_id'], ['space.id'],
                                name=op.f('fk_conversation_space_id_space'), ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_conversation')),
    )
    op.create_index('ix_conversation_status_created', 'conversation', ['status', 'created_at'])
    op.create_index('ix_conversation_one_waiting', 'conversation', ['member_id'], unique=True,
                    sqlite_where=sa.text("status = 'waiting' AND kind = 'helper'"),
                    postgresql_where=sa.text("status = 'waiting' AND kind = 'helper'"))
    op.create_index('ix_conversation_asked_once', 'conversation', ['member_id', 'helper_id'],
                    unique=True, sqlite_where=sa.text("kind = 'member'"),
                    postgresql_where=sa.text("kind = 'member'"))
    op.create_index(op.f('ix_conversation_member_id'), 'conversation', ['member_id'])
    op.create_index(op.f('ix_conversation_helper_id'), 'conversation', ['helper_id'])
    op.create_table(
        'helper_availability',
        sa.Column('member_id', Id, nullable=False),
        sa.Column('languages', sa.String(length=16), nullable=False),
        sa.Column('capacity', sa.Integer(), nullable=False),
        sa.Column('paused', sa.Boolean(), nullable=False),
        sa.Column('updated_at', forum.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['member_id'], ['member.id'],
                                name=op.f('fk_helper_availability_member_id_member'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('member_id', name=op.f('pk_helper_availability')),
    )
    op.create_table(
        'helper_theme',
        sa.Column('member_id', Id, nullable=False),
        sa.Column('space_id', Id, nullable=False),
        sa.ForeignKeyConstraint(['member_id'], ['member.id'],
                                name=op.f('fk_helper_theme_member_id_member'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['space_id'], ['space.id'],
                                name=op.f('fk_helper_theme_space_id_space'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('member_id', 'space_id', name=op.f('pk_helper_theme')),
    )
    op.create_index(op.f('ix_helper_theme_space_id'), 'helper_theme', ['space_id'])
    # A constant default: SQLite adds the column in place, no copy of ``member``.
    op.add_column('member', sa.Column('accepts_conversations', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table('thread') as batch_op:
        batch_op.add_column(sa.Column('conversation_id', Id, nullable=True))
        batch_op.create_index(batch_op.f('ix_thread_conversation_id'), ['conversation_id'],
                              unique=True)
        batch_op.create_foreign_key(batch_op.f('fk_thread_conversation_id_conversation'),
                                    'conversation', ['conversation_id'], ['id'],
                                    ondelete='CASCADE')


def downgrade() -> None:
    # Without its column a conversation's thread would become a public thread of its space:
    # refuse while one exists, so nothing private goes public.
    held = op.get_bind().execute(
        sa.text("SELECT count(*) FROM thread WHERE conversation_id IS NOT NULL")).scalar()
    if held:
        raise RuntimeError(
            f"{held} conversation thread(s) exist: their messages are for two people only, "
            "and would become public threads without this migration. Delete those threads "
            "(or the conversations) first.")
    helpers = op.get_bind().execute(
        sa.text("SELECT count(*) FROM space WHERE visibility = 'helpers'")).scalar()
    if helpers:
        raise RuntimeError(
            f"{helpers} space(s) are for trained helpers only, a visibility the earlier code "
            "does not know. Give them another visibility first (in /admin).")
    with op.batch_alter_table('thread') as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_thread_conversation_id_conversation'),
                                 type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_thread_conversation_id'))
        batch_op.drop_column('conversation_id')
    with op.batch_alter_table('member') as batch_op:
        batch_op.drop_column('accepts_conversations')
    op.drop_index(op.f('ix_helper_theme_space_id'), table_name='helper_theme')
    op.drop_table('helper_theme')
    op.drop_table('helper_availability')
    op.drop_index(op.f('ix_conversation_helper_id'), table_name='conversation')
    op.drop_index(op.f('ix_conversation_member_id'), table_name='conversation')
    op.drop_index('ix_conversation_asked_once', table_name='conversation',
                  sqlite_where=sa.text("kind = 'member'"),
                  postgresql_where=sa.text("kind = 'member'"))
    op.drop_index('ix_conversation_one_waiting', table_name='conversation',
                  sqlite_where=sa.text("status = 'waiting' AND kind = 'helper'"),
                  postgresql_where=sa.text("status = 'waiting' AND kind = 'helper'"))
    op.drop_index('ix_conversation_status_created', table_name='conversation')
    op.drop_table('conversation')
