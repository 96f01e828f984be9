"""The crisis screen's answer on each post (pause, line, watch), and on flags the screen's
reasons and when an unclaimed welfare item was escalated.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import forum.db

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('post') as batch:
        batch.add_column(sa.Column('crisis_answer', sa.String(length=8), nullable=False,
                                   server_default='none'))
    with op.batch_alter_table('flag') as batch:
        batch.add_column(sa.Column('details', sa.JSON(), nullable=False,
                                   server_default=sa.text("'{}'")))
        batch.add_column(sa.Column('escalated_at', forum.db.UTCDateTime(timezone=True),
                                   nullable=True))
    op.execute("UPDATE post SET crisis_answer = 'pause' "
               "WHERE crisis_level IN ('concern', 'urgent')")


def downgrade() -> None:
    with op.batch_alter_table('flag') as batch:
        batch.drop_column('escalated_at')
        batch.drop_column('details')
    with op.batch_alter_table('post') as batch:
        batch.drop_column('crisis_answer')
