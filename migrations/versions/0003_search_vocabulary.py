"""The search vocabulary (``search_term``): the words of the SQLite full-text index, so that a
prefix query is asked as the few words it starts instead of FTS5's prefix walk, whose cost
grows with the forum. Filled from FTS5's own word list; left empty on PostgreSQL (its search
stems words instead of matching prefixes).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 20:45:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'search_term',
        sa.Column('term', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('term', name=op.f('pk_search_term')),
        sqlite_with_rowid=False,
    )
    if op.get_bind().dialect.name == 'sqlite':
        op.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_vocabulary "
                   "USING fts5vocab(main, search_fts, 'row')")
        op.execute("INSERT INTO search_term (term) SELECT term FROM temp.search_vocabulary")
        op.execute("DROP TABLE temp.search_vocabulary")


def downgrade() -> None:
    op.drop_table('search_term')
