"""Every conversation and helper route (and a conversation's thread and messages) for visitor,
member, author, moderator of another space, moderator of this space and admin: the access
matrix of issue 17. In this world "member" asked for a conversation in space A and "author",
a trained helper taking A, accepted it; the admin acts on a twin conversation held by
"author_2". A refused request changes nothing (conversations, availability, posts, flags and
notices are compared); a route the app serves under /conversations or /helpers without a row
fails the completeness test."""

from __future__ import annotations

import re

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, update

from forum import actions, conversations
from forum.models import Conversation, HelperAvailability, HelperTheme, Member, Notification, Post
from moderation.models import Flag
from tests.moderation.access_matrix import (
    OUTCOME_STATUS,
    ROLES,
    World,
    as_role,
    build_world,
    csrf_headers,
    verdict,
)

# method, path, data, then visitor, member, author, mod_other, mod_this, admin
MATRIX = """
GET  /conversations                            -                                    LOGIN ALLOW ALLOW ALLOW ALLOW ALLOW
GET  /conversations/new                        -                                    LOGIN ALLOW ALLOW ALLOW ALLOW ALLOW
POST /conversations/new                        theme=alpha&body=Bonjour             LOGIN ALLOW ALLOW ALLOW ALLOW ALLOW
GET  /conversations/{conversation}             -                                    LOGIN ALLOW ALLOW HIDE  HIDE  HIDE
POST /conversations/{conversation}/fin         -                                    LOGIN ALLOW ALLOW HIDE  HIDE  HIDE
POST /conversations/{waiting}/accepter         -                                    LOGIN DENY  ALLOW DENY  DENY  DENY
POST /conversations/{conversation}/relais      to=Author_3                          LOGIN DENY  ALLOW DENY  DENY  DENY
POST /conversations/{conversation}/moderateurs reason=other                         LOGIN DENY  ALLOW DENY  DENY  DENY
GET  /helpers                                  -                                    LOGIN DENY  ALLOW DENY  DENY  DENY
POST /helpers/disponibilites                   themes=alpha&langs=fr                LOGIN DENY  ALLOW DENY  DENY  DENY
GET  /t/{conversation_thread}                  -                                    HIDE  ALLOW ALLOW HIDE  HIDE  HIDE
POST /t/{conversation_thread}/reply            body=Bonsoir                         HIDE  ALLOW ALLOW HIDE  HIDE  HIDE
GET  /p/{conversation_post}/flag               -                                    HIDE  DENY  ALLOW HIDE  HIDE  HIDE
POST /p/{conversation_post}/flag               reason=harassment                    HIDE  DENY  ALLOW HIDE  HIDE  HIDE
GET  /mod/posts/{conversation_post}            -                                    LOGIN DENY  DENY  HIDE  HIDE  HIDE
GET  /conversations/membre                     -                                    LOGIN ALLOW ALLOW ALLOW ALLOW ALLOW
POST /conversations/membre                     to=Author_3&theme=alpha&body=Bonjour LOGIN DENY  DENY  DENY  DENY  DENY
POST /conversations/{invite}/reponse           accept=1                             LOGIN HIDE  ALLOW HIDE  HIDE  HIDE
POST /conversations/reglages                   accepts=1                            LOGIN ALLOW ALLOW ALLOW ALLOW ALLOW
"""  # noqa: E501
ROWS = [line.split(None, 3) for line in MATRIX.strip().splitlines()]
PREFIXES = ("/conversations", "/helpers")


def _row(parts: list[str]) -> tuple[str, str, dict[str, str], dict[str, str]]:
    method, path, data, rest = parts
    outcomes = dict(zip(ROLES, rest.split(), strict=True))
    fields = {} if data == "-" else dict(pair.split("=", 1) for pair in data.split("&"))
    return method, path, fields, outcomes


async def _world(app: Litestar) -> World:
    world = await build_world(app)
    async with app.state.database.writing() as session:
        m = world.members
        alpha = world.spaces["alpha"]
        m["author_3"] = third = await _helper(session, "Author_3")
        await conversations.do_set_availability(session, third, conversations.Availability(
            frozenset({alpha.id}), ("fr",), 3, paused=False))
        for suffix in ("", "_2"):
            helper = m["author" + suffix]
            await session.execute(update(Member).where(Member.id == helper.id)
                                  .values(trained_helper=True))
            helper.trained_helper = True
            await conversations.do_set_availability(session, helper, conversations.Availability(
                frozenset({alpha.id}), ("fr",), 3, paused=False))
            asked = await _ask(session, m["member"], alpha, "Bonjour, je voudrais parler.")
            accepted = await conversations.do_accept(session, asked[0], helper)
            assert accepted == conversations.ACCEPTED_NOW
            waiting = await _ask(session, m["suspended" + suffix], alpha, "Quelqu'un ce soir ?")
            invite = await conversations.do_ask_member(session, asker=m["mod_second"],
                                                       asked=helper, space=alpha, lang="fr")
            assert invite is not None
            world.ids.update({"conversation" + suffix: asked[0].id,
                              "conversation_thread" + suffix: asked[1].thread_id,
                              "conversation_post" + suffix: asked[1].id,
                              "waiting" + suffix: waiting[0].id,
                              "invite" + suffix: invite.id})
        await session.commit()
    return world


async def _helper(session, name: str) -> Member:  # noqa: ANN001
    from tests.moderation.access_matrix import make_member

    helper = await make_member(session, name)
    helper.trained_helper = True
    await session.flush()
    return helper


async def _ask(session, member: Member, space, text: str) -> tuple[Conversation, Post]:  # noqa: ANN001
    conversation = await conversations.do_request(session, member=member, space=space, lang="fr")
    assert conversation is not None
    posted = await actions.do_create_thread(
        session, space=space, author=member, title="Conversation", source=text,
        verdict=verdict(text), conversation_id=conversation.id)
    return conversation, posted.post


async def _fingerprint(app: Litestar) -> tuple[object, ...]:
    async with app.state.database.reader() as session:
        rows = tuple((await session.execute(
            select(Conversation.id, Conversation.status, Conversation.helper_id)
            .order_by(Conversation.id))).all())
        available = tuple((await session.execute(
            select(HelperAvailability.member_id, HelperAvailability.capacity,
                   HelperAvailability.paused).order_by(HelperAvailability.member_id))).all())
        themes = tuple((await session.execute(
            select(HelperTheme.member_id, HelperTheme.space_id)
            .order_by(HelperTheme.member_id, HelperTheme.space_id))).all())
        accepting = tuple(await session.scalars(
            select(Member.id).where(Member.accepts_conversations.is_(True)).order_by(Member.id)))
        counts = [await session.scalar(select(func.count()).select_from(model))
                  for model in (Post, Flag, Notification)]
        return (rows, available, themes, accepting, *counts)


def test_every_conversation_route_has_a_row(app: Litestar) -> None:
    served = {(method, route.path) for route in app.routes
              if route.path.startswith(PREFIXES)
              for method in getattr(route, "methods", ()) if method in ("GET", "POST")}
    rows = {(method, re.sub(r"\{[a-z_0-9]+\}", "1", path)) for method, path, *_ in ROWS}
    for method, template in sorted(served):
        pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
        assert any(m == method and pattern.match(path) for m, path in rows), \
            f"{method} {template} has no row"


@pytest.mark.parametrize("parts", ROWS, ids=lambda p: f"{p[0]} {p[1]}")
async def test_conversation_route_answers_each_role_as_the_matrix_says(
    app: Litestar, client: AsyncTestClient, parts: list[str],
) -> None:
    """Refusals first (each must change nothing), then the roles allowed, in one world."""
    method, template, data, outcomes = _row(parts)
    world = await _world(app)
    for role in sorted(ROLES, key=lambda role: outcomes[role] == "ALLOW"):
        await as_role(client, app, world, role)
        before = await _fingerprint(app)
        path = world.fill(template, role)
        if method == "GET":
            response = await client.get(path, follow_redirects=False)
        else:
            response = await client.post(path, data={k: world.fill(v, role)
                                                     for k, v in data.items()},
                                         headers=csrf_headers(client, app),
                                         follow_redirects=False)
        expected = outcomes[role]
        if expected == "LOGIN" and method == "GET":
            assert response.status_code == 303, f"GET {path} as {role}: {response.status_code}"
            assert response.headers["location"].startswith("/login?next=%2F"), path
        else:
            assert response.status_code in OUTCOME_STATUS[expected], (
                f"{method} {path} as {role}: {response.status_code}, expected {expected}")
        if expected != "ALLOW":
            assert await _fingerprint(app) == before, f"{method} {path} as {role}"
