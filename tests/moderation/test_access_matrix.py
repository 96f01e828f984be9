"""Every /mod and /admin route (and flagging, appealing a post or one's own suspension, the
public counts) for visitor, member, author, moderator of another space, moderator of this
space and admin.

The table is ``access_matrix.csv``; a route the app serves without a row fails the
completeness test. A refused request changes nothing (the moderation tables are compared).
"""

from __future__ import annotations

import re

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from forum.models import Member, Notification, Post, SpaceModerator, Thread
from moderation.models import Appeal, Claim, Flag, ModerationAction
from moderation.permissions import MEMBER_ACTIONS, POST_ACTIONS, THREAD_ACTIONS
from tests.moderation.access_matrix import (
    OUTCOME_STATUS,
    ROLES,
    as_role,
    build_world,
    csrf_headers,
    load_matrix,
)

ROWS = load_matrix()
PREFIXES = ("/mod", "/admin", "/moderation")
EXTRA = {"/p/{post_id:int}/flag", "/p/{post_id:int}/appeal", "/me/appeal"}
PATH_ACTIONS = {
    "action": (*POST_ACTIONS, *THREAD_ACTIONS, *MEMBER_ACTIONS, "claim", "release"),
    "decision": ("grant", "deny"),
}


def _served(app: Litestar) -> set[tuple[str, str]]:
    served: set[tuple[str, str]] = set()
    for route in app.routes:
        if not (route.path.startswith(PREFIXES) or route.path in EXTRA):
            continue
        for method in getattr(route, "methods", ()):
            if method in ("GET", "POST"):
                served.add((method, route.path))
    return served


def _pattern(template: str) -> re.Pattern[str]:
    parts = []
    for piece in re.split(r"(\{[^}]+\})", template):
        if piece.startswith("{"):
            name = piece[1:-1].split(":")[0]
            parts.append(f"(?P<{name}>[^/]+)")
        else:
            parts.append(re.escape(piece))
    return re.compile("^" + "".join(parts) + "$")


def _row_paths() -> list[tuple[str, str]]:
    return [(row.method, re.sub(r"\{[a-z_0-9]+\}", "1", row.path)) for row in ROWS]


async def test_every_moderation_route_has_rows_in_the_matrix(app: Litestar) -> None:
    rows = _row_paths()
    for method, template in sorted(_served(app)):
        pattern = _pattern(template)
        matched = [path for m, path in rows if m == method and pattern.match(path)]
        assert matched, f"{method} {template} has no row in access_matrix.csv"
        for name, values in PATH_ACTIONS.items():
            if f"{{{name}:str}}" in template:
                seen = {pattern.match(path).group(name) for path in matched}
                wanted = {v for v in values if _action_applies(template, v)}
                assert wanted <= seen, f"{method} {template}: no row for {wanted - seen}"


def _action_applies(template: str, action: str) -> bool:
    if template.startswith("/mod/posts/"):
        return action in (*POST_ACTIONS, "claim", "release")
    if template.startswith("/mod/threads/"):
        return action in THREAD_ACTIONS
    if template.startswith("/mod/members/"):
        return action in MEMBER_ACTIONS
    return True


async def test_every_matrix_row_names_a_route_the_app_serves(app: Litestar) -> None:
    served = [(m, _pattern(t)) for m, t in _served(app)]
    for method, path in _row_paths():
        assert any(m == method and p.match(path) for m, p in served), f"{method} {path}"


async def _fingerprint(app: Litestar) -> tuple[object, ...]:
    async with app.state.database.reader() as session:
        counts = []
        for model in (ModerationAction, Flag, Appeal, Claim, Notification, SpaceModerator):
            counts.append(await session.scalar(select(func.count()).select_from(model)))
        statuses = tuple(await session.scalars(select(Post.status).order_by(Post.id)))
        threads = tuple((await session.execute(
            select(Thread.locked, Thread.pinned, Thread.space_id).order_by(Thread.id))).all())
        helpers = tuple(await session.scalars(
            select(Member.id).where(Member.trained_helper.is_(True)).order_by(Member.id)))
        return (*counts, statuses, threads, helpers)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r.method} {r.path}")
async def test_route_answers_each_role_as_the_matrix_says(
    app: Litestar, client: AsyncTestClient, row,  # noqa: ANN001
) -> None:
    """Refusals first (each must change nothing), then the roles allowed, in one world."""
    world = await build_world(app)
    order = sorted(ROLES, key=lambda role: row.outcomes[role] == "ALLOW")
    for role in order:
        await as_role(client, app, world, role)
        before = await _fingerprint(app)
        path = world.fill(row.path, role)
        if row.method == "GET":
            response = await client.get(path, follow_redirects=False)
        else:
            data = {k: world.fill(v, role) for k, v in row.data.items()}
            response = await client.post(path, data=data, headers=csrf_headers(client, app),
                                         follow_redirects=False)
        expected = row.outcomes[role]
        if expected == "LOGIN" and row.method == "GET":  # a page: log in, then come back
            assert response.status_code == 303, f"GET {path} as {role}: {response.status_code}"
            assert response.headers["location"].startswith("/login?next=%2F"), path
        else:
            assert response.status_code in OUTCOME_STATUS[expected], (
                f"{row.method} {path} as {role}: {response.status_code}, expected {expected}")
        if expected != "ALLOW":
            assert await _fingerprint(app) == before, f"{row.method} {path} as {role}"
