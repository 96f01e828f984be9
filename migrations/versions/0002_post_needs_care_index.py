"""A partial index on the posts that put the help banner on their thread (forum.models.NEEDS_CARE):
asking whether a thread needs care becomes one index probe instead of a scan of its posts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 18:45:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Copied, not imported: this revision never changes when the models do.
NEEDS_CARE = "status = 'visible' AND crisis_level IN ('concern', 'urgent')"


def upgrade() -> None:
    op.create_index('ix_post_needs_care', 'post', ['thread_id'], unique=False,
                    sqlite_where=sa.text(NEEDS_CARE), postgresql_where=sa.text(NEEDS_CARE))


def downgrade() -> None:
    op.drop_index('ix_post_needs_care', table_name='post')
