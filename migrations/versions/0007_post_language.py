"""Each post's language (issue 19, WCAG 3.1.2 Language of Parts): the author's choice, marked
``lang`` on the post's body, so that a French post is read with French rules in the English
interface. Revisions keep the language their text was written in.

Posts already written keep NULL: no mark, they read in the page's language (no guess is made;
a wrong ``lang`` is worse than none).

Both columns are plain additions and removals (``ALTER TABLE … ADD/DROP COLUMN``, which SQLite
has done natively since 3.35): no table is rebuilt.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('post', sa.Column('lang', sa.String(length=8), nullable=True))
    op.add_column('post_revision', sa.Column('lang', sa.String(length=8), nullable=True))


def downgrade() -> None:
    op.drop_column('post_revision', 'lang')
    op.drop_column('post', 'lang')
