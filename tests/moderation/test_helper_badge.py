"""The trained peer helper badge from the shell: `forum helper add|remove PSEUDONYM` grants and
revokes it once, says so, refuses an unknown pseudonym, and logs each change."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from litestar import Litestar
from sqlalchemy import select

from forum import cli
from forum.models import Member
from moderation.models import ActionKind, ModerationAction
from tests.conftest import ON_POSTGRES
from tests.forum.test_cli import forum
from tests.moderation.access_matrix import build_world


@pytest.mark.skipif(ON_POSTGRES, reason="the CLI is exercised on SQLite files")
def test_the_shell_grants_and_revokes_the_badge_once_and_says_so(tmp_path: Path) -> None:
    database = tmp_path / "helper.db"
    created = forum("admin", "create", "Camille", database=database,
                    stdin="un mot de passe solide\nun mot de passe solide\n")
    assert created.returncode == 0, created.stderr

    added = forum("helper", "add", "camille", database=database)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "Camille now has the trained peer helper badge."
    again = forum("helper", "add", "Camille", database=database)
    assert again.returncode == 0
    assert again.stdout.strip() == ("Nothing to change: Camille already has the trained peer "
                                    "helper badge.")
    removed = forum("helper", "remove", "Camille", database=database)
    assert removed.stdout.strip() == "Camille no longer has the trained peer helper badge."
    removed_again = forum("helper", "remove", "Camille", database=database)
    assert removed_again.returncode == 0
    assert removed_again.stdout.startswith("Nothing to change: Camille does not have")

    unknown = forum("helper", "add", "Personne", database=database)
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "forum: no member is called 'Personne'"
    assert "Traceback" not in unknown.stderr

    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "select kind, actor_id, actor_pseudonym, target_pseudonym, reason "
            "from moderation_action order by id").fetchall()
        helper = connection.execute(
            "select trained_helper from member where pseudonym = 'Camille'").fetchone()
    assert rows == [(int(ActionKind.HELPER_GRANTED), None, "", "Camille", "forum helper"),
                    (int(ActionKind.HELPER_REVOKED), None, "", "Camille", "forum helper")]
    assert helper == (0,)


async def test_the_shell_changes_what_the_forms_change(app: Litestar) -> None:
    world = await build_world(app)
    settings = app.state.settings
    assert await cli._helper(settings, "add", "member") == ("Member", True)
    assert await cli._helper(settings, "add", "Member") == ("Member", False)
    async with app.state.database.reader() as session:
        assert (await session.get(Member, world.members["member"].id)).trained_helper
        entry = await session.scalar(select(ModerationAction)
                                     .order_by(ModerationAction.id.desc()).limit(1))
    assert (entry.kind, entry.target_member_id) == (ActionKind.HELPER_GRANTED,
                                                    world.members["member"].id)
    with pytest.raises(SystemExit, match="no member is called 'Nobody'"):
        await cli._helper(settings, "remove", "Nobody")
    assert await cli._helper(settings, "remove", "Member") == ("Member", True)
