"""Pseudonym uniqueness keys without their separators (issue 15): ``Luciole-Test``,
``luciole.test`` and ``Luciole_Test`` become one name, and ``Gardien_`` is ``Gardien``.

Each existing key is recomputed with ``forum.pseudonyms.uniqueness_key`` (imported: the key is
what the code computes, and the confusable tables come from a package). Where two existing
members would now share a key, the oldest account takes it and the others keep their former
key, so nobody loses their name (log-in and recovery try that key first:
``forum.pseudonyms.legacy_key``); a new sign-up can take none of them. A deleted account's key
(its pseudonym is blanked) loses its separators the same way.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 10:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEPARATORS = str.maketrans("", "", "._-")


def upgrade() -> None:
    from forum.pseudonyms import uniqueness_key

    connection = op.get_bind()
    rows = connection.execute(sa.text(
        "SELECT id, pseudonym, pseudonym_key FROM member ORDER BY id")).all()
    wanted = {member_id: (uniqueness_key(pseudonym) if pseudonym
                          else old_key.translate(SEPARATORS)) or old_key
              for member_id, pseudonym, old_key in rows}
    # A key that does not change stays its member's; the others, oldest account first.
    taken = {old_key for member_id, _, old_key in rows if wanted[member_id] == old_key}
    updates: list[tuple[int, str]] = []
    for member_id, _, old_key in rows:
        new_key = wanted[member_id]
        if new_key == old_key:
            continue
        if new_key in taken:
            taken.add(old_key)  # a look-alike already holds it: this member keeps theirs
            continue
        taken.add(new_key)
        updates.append((member_id, new_key))
    # Two passes through placeholders, so that swapping keys never trips the UNIQUE index.
    for member_id, _ in updates:
        connection.execute(sa.text("UPDATE member SET pseudonym_key = :key WHERE id = :id"),
                           {"key": f"~migrating:{member_id}", "id": member_id})
    for member_id, key in updates:
        connection.execute(sa.text("UPDATE member SET pseudonym_key = :key WHERE id = :id"),
                           {"key": key, "id": member_id})


def downgrade() -> None:
    """Left as it is: the code before 0005 looks members up by keys that keep their
    separators, so after a downgrade a member whose name holds one (``Luciole-Test``) could not
    log in. Restore the backup taken before upgrading instead (docs/RELIABILITY.md)."""
