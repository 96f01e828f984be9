"""Scheduled group sessions (issue 18): ``group_session``, its registrations, and the live
thread's link to its session (``thread.group_session_id``).

On SQLite the new reference makes Alembic copy ``thread`` (a batch: SQLite adds no named
constraint to a table); the table has no trigger a copy would lose. PostgreSQL adds the column
and its constraint in place.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 23:07:32
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import forum.db

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'group_session',
        sa.Column('id', Id, nullable=False),
        sa.Column('space_id', Id, nullable=False),
        sa.Column('facilitator_id', Id, nullable=True),
        sa.Column('title', sa.String(length=150), nullable=False),
        sa.Column('theme', sa.Text(), nullable=False),
        sa.Column('agreement', sa.Text(), nullable=False),
        sa.Column('agreement_html', sa.Text(), nullable=False),
        sa.Column('renderer_version', sa.Integer(), nullable=False),
        sa.Column('starts_at', forum.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('minutes', sa.Integer(), nullable=False),
        sa.Column('capacity', sa.Integer(), nullable=False),
        sa.Column('open_listing', sa.Boolean(), nullable=False),
        sa.Column('keep_after', sa.Boolean(), nullable=False),
        sa.Column('status', sa.Enum('scheduled', 'live', 'ended', 'cancelled',
                                    name='group_session_status', native_enum=False, length=16),
                  nullable=False),
        sa.Column('paused', sa.Boolean(), nullable=False),
        sa.Column('reminded', sa.Boolean(), nullable=False),
        sa.Column('ended_at', forum.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('created_at', forum.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['facilitator_id'], ['member.id'],
                                name=op.f('fk_group_session_facilitator_id_member'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['space_id'], ['space.id'],
                                name=op.f('fk_group_session_space_id_space'), ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_group_session')),
    )
    op.create_index('ix_group_session_due', 'group_session', ['status', 'starts_at'])
    op.create_index('ix_group_session_space_start', 'group_session', ['space_id', 'starts_at'])
    op.create_table(
        'group_session_member',
        sa.Column('group_session_id', Id, nullable=False),
        sa.Column('member_id', Id, nullable=False),
        sa.Column('created_at', forum.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['group_session_id'], ['group_session.id'],
            name=op.f('fk_group_session_member_group_session_id_group_session'),
            ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['member_id'], ['member.id'],
                                name=op.f('fk_group_session_member_member_id_member'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('group_session_id', 'member_id',
                                name=op.f('pk_group_session_member')),
    )
    op.create_index(op.f('ix_group_session_member_member_id'), 'group_session_member',
                    ['member_id'])
    with op.batch_alter_table('thread') as batch_op:
        batch_op.add_column(sa.Column('group_session_id', Id, nullable=True))
        batch_op.create_index(batch_op.f('ix_thread_group_session_id'), ['group_session_id'],
                              unique=True)
        batch_op.create_foreign_key(batch_op.f('fk_thread_group_session_id_group_session'),
                                    'group_session', ['group_session_id'], ['id'],
                                    ondelete='CASCADE')


def downgrade() -> None:
    # Without its column a session's live thread would become an ordinary thread of its
    # space, listed and searchable: refuse while one exists, so nothing private goes public.
    held = op.get_bind().execute(
        sa.text("SELECT count(*) FROM thread WHERE group_session_id IS NOT NULL")).scalar()
    if held:
        raise RuntimeError(
            f"{held} group session thread(s) exist: their messages are for their participants "
            "only, and would become public threads without this migration. Delete those "
            "threads (or the sessions) first.")
    with op.batch_alter_table('thread') as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_thread_group_session_id_group_session'),
                                 type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_thread_group_session_id'))
        batch_op.drop_column('group_session_id')
    op.drop_index(op.f('ix_group_session_member_member_id'), table_name='group_session_member')
    op.drop_table('group_session_member')
    op.drop_index('ix_group_session_space_start', table_name='group_session')
    op.drop_index('ix_group_session_due', table_name='group_session')
    op.drop_table('group_session')
