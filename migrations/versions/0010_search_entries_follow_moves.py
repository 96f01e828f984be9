"""A search entry's space follows its thread's moves.

``search_document.space_id`` was written when a post was indexed and never changed when a
moderator moved the thread (``do_move_thread``), so entries of moved threads kept their old
space. Nothing read that column yet (search checks the space through ``thread``); from this
revision a move updates it (``forum.changes``' ``moved``), and this migration brings the
entries already written in line with their threads.

On SQLite the trigger that mirrors ``search_document`` into the FTS5 table fired on any
update; it now fires only when the title or the body changes, so a move does not rewrite a
thread's entries in the full-text index.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 13:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RESYNC = (
    "UPDATE search_document SET space_id = (SELECT thread.space_id FROM thread"
    " WHERE thread.id = search_document.thread_id)"
    " WHERE space_id <> (SELECT thread.space_id FROM thread"
    " WHERE thread.id = search_document.thread_id)"
)
MIRROR = (
    " ON search_document BEGIN INSERT INTO search_fts(search_fts, rowid, title, body)"
    " VALUES ('delete', old.post_id, old.title, old.body);"
    " INSERT INTO search_fts(rowid, title, body) VALUES (new.post_id, new.title, new.body); END"
)


def _mirror(on: str) -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.execute("DROP TRIGGER IF EXISTS search_document_au")
        op.execute(f"CREATE TRIGGER search_document_au AFTER UPDATE{on}{MIRROR}")


def upgrade() -> None:
    _mirror(" OF title, body")
    op.execute(RESYNC)


def downgrade() -> None:
    _mirror("")  # the entries' spaces stay right: nothing to undo
