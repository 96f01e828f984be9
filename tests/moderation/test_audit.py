"""The audit log: one row per action in the same transaction, append-only in the database."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError

from forum.models import Post, PostStatus
from moderation import actions as ma
from moderation import audit
from moderation import queries as mq
from moderation.models import ActionKind, ModerationAction
from tests.moderation.access_matrix import as_role, build_world, csrf_headers, load_matrix

ACTION_ROWS = [row for row in load_matrix()
               if row.method == "POST" and row.outcomes["mod_this"] == "ALLOW"
               and row.path.startswith("/mod/")
               and "/claim" not in row.path and "/release" not in row.path
               and "/duty" not in row.path]
LOG_ROWS = {"/mod/appeals/{member_appeal}/grant": 2, "/mod/posts/{hidden}/restore": 2,
            "/mod/members/{suspended}/unban": 2}
"""Granting the appeal of a suspension lifts it through ``do_lift_restriction``: the log keeps
the decision and the lift, each with its reason. Restoring the hidden post answers its
author's appeal (``APPEAL_GRANTED`` too); lifting the suspension closes its pending appeal
without a decision (``APPEAL_CLOSED``)."""


async def _log_count(app: Litestar) -> int:
    async with app.state.database.reader() as session:
        return int(await session.scalar(select(func.count()).select_from(ModerationAction)))


@pytest.mark.parametrize("row", ACTION_ROWS, ids=lambda r: r.path)
async def test_each_moderator_action_writes_its_log_rows(
    app: Litestar, client: AsyncTestClient, row,  # noqa: ANN001
) -> None:
    world = await build_world(app)
    await as_role(client, app, world, "mod_this")
    before = await _log_count(app)
    data = {k: world.fill(v) for k, v in row.data.items()}
    response = await client.post(world.fill(row.path), data=data,
                                 headers=csrf_headers(client, app), follow_redirects=False)
    assert response.status_code == 303
    assert await _log_count(app) == before + LOG_ROWS.get(row.path, 1)


async def test_an_action_that_changes_nothing_writes_no_row(app: Litestar) -> None:
    world = await build_world(app)
    before = await _log_count(app)
    async with app.state.database.writing() as session:
        hidden = await mq.get_post(session, world.ids["hidden"])
        assert await ma.do_hide_post(session, hidden, actor=world.members["mod_this"],
                                     reason="Encore") is False
    assert await _log_count(app) == before


async def test_when_the_log_row_cannot_be_written_the_change_does_not_land(
    app: Litestar, client: AsyncTestClient, monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = await build_world(app)
    await as_role(client, app, world, "mod_this")

    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the log is unavailable")

    monkeypatch.setattr(audit, "record", broken)
    response = await client.post(f"/mod/posts/{world.ids['post']}/hide",
                                 data={"reason": "Hors sujet"},
                                 headers=csrf_headers(client, app), follow_redirects=False)
    assert response.status_code == 500
    async with app.state.database.reader() as session:
        post = await session.get(Post, world.ids["post"])
        assert post.status == PostStatus.VISIBLE


async def test_when_the_change_fails_no_log_row_lands(
    app: Litestar, client: AsyncTestClient, monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = await build_world(app)
    await as_role(client, app, world, "mod_this")
    before = await _log_count(app)

    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the change failed")

    monkeypatch.setattr(ma, "_resolve_flags", broken)
    response = await client.post(f"/mod/posts/{world.ids['post']}/remove",
                                 data={"reason": "Publicité"},
                                 headers=csrf_headers(client, app), follow_redirects=False)
    assert response.status_code == 500
    assert await _log_count(app) == before


async def test_the_database_refuses_to_update_or_delete_log_rows(app: Litestar) -> None:
    await build_world(app)
    for statement in (update(ModerationAction).values(reason="réécrit"),
                      delete(ModerationAction)):
        with pytest.raises(DBAPIError):
            async with app.state.database.writing() as session:
                await session.execute(statement)
    async with app.state.database.reader() as session:
        reasons = set(await session.scalars(select(ModerationAction.reason)))
        assert "réécrit" not in reasons and reasons


async def test_every_kind_has_a_label_in_the_log() -> None:
    assert set(KIND for KIND in ActionKind) == set(audit.KIND_LABELS)
