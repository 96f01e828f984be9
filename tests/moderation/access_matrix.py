"""A small moderation world for HTTP tests, and the route x role table (access_matrix.csv).

``build_world`` creates, through the real ``do_*`` actions: spaces A (moderated by mod_this,
who also moderates C) and B (moderated by mod_other); an author's thread in A with a reply
flagged by member, a held (pending) reply, a hidden reply that the author appealed; a second
thread in A, locked and pinned; a member who posted in A, suspended in A by mod_second, who
appealed the suspension; and an admin. ``as_role``
logs a test client in as one of them by giving it a real session cookie.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from litestar import Litestar
from litestar.testing import AsyncTestClient

from forum import actions, pseudonyms
from forum.gate import Verdict
from forum.models import Member, Post, PostStatus, Role, Space, Visibility
from forum.web.auth import csrf_cookie_name, session_cookie_name
from moderation import actions as ma
from moderation import queries as mq
from moderation.sanitize import RENDERER_VERSION, render_markdown

MATRIX = Path(__file__).with_name("access_matrix.csv")
ROLES = ("visitor", "member", "author", "mod_other", "mod_this", "admin")


@dataclass
class World:
    members: dict[str, Member] = field(default_factory=dict)
    spaces: dict[str, Space] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    def fill(self, template: str, role: str = "") -> str:
        """Placeholders from the first copy, or from the second for the admin."""
        if role == "admin":
            twins = {k[:-2]: v for k, v in self.ids.items() if k.endswith("_2")}
            return template.format(**{**self.ids, **twins})
        return template.format(**self.ids)


def verdict(text: str, status: PostStatus = PostStatus.VISIBLE) -> Verdict:
    return Verdict(html=render_markdown(text), renderer_version=RENDERER_VERSION, status=status)


async def make_member(session, name: str, *, role: Role = Role.MEMBER) -> Member:  # noqa: ANN001
    member = await actions.do_signup(
        session, pseudonym=name, pseudonym_key=pseudonyms.uniqueness_key(name),
        password_hash="!unusable", recovery_hash="!unusable", locale="fr", region="FR",
    )
    if role != Role.MEMBER:
        await actions.do_set_role(session, member, role)
        member.role = role
    return member


async def make_space(session, slug: str, *, visibility: Visibility = Visibility.PUBLIC,  # noqa: ANN001
                     premoderated: int = 0) -> Space:
    space = Space(slug=slug, name=slug.capitalize(), visibility=visibility,
                  charter="Pas de détails de méthode.\nOn ne juge pas.",
                  premoderated_posts=premoderated)
    session.add(space)
    await session.flush()
    return space


async def reply(session, thread_id: int, author: Member, text: str,  # noqa: ANN001
                status: PostStatus = PostStatus.VISIBLE) -> Post:
    thread = await mq.get_thread(session, thread_id)
    posted = await actions.do_reply(session, thread=thread, author=author, source=text,
                                    verdict=verdict(text, status))
    return posted.post


async def build_world(app: Litestar) -> World:
    """Two copies of the fixtures in space A: the admin acts on the second, everyone else on
    the first, so that one world answers every role of a row."""
    world = World()
    async with app.state.database.writing() as session:
        names = {"member": Role.MEMBER, "author": Role.MEMBER, "mod_other": Role.MEMBER,
                 "mod_this": Role.MEMBER, "admin": Role.ADMIN, "mod_second": Role.MEMBER,
                 "suspended": Role.MEMBER, "author_2": Role.MEMBER, "suspended_2": Role.MEMBER}
        for key, role in names.items():
            world.members[key] = await make_member(session, key.title(), role=role)
        m = world.members
        for slug in ("alpha", "beta", "gamma"):
            world.spaces[slug] = await make_space(session, slug)
        a, b, c = world.spaces["alpha"], world.spaces["beta"], world.spaces["gamma"]
        a.auto_hide_flags = 5
        for space, who in ((a, "mod_this"), (c, "mod_this"), (b, "mod_other"),
                           (a, "mod_second")):
            await ma.do_add_moderator(session, space, m[who], actor=m["admin"], reason="setup")
        world.ids = {"space": a.id, "space_c": c.id, "mod_this": m["mod_this"].id}
        word = await ma.do_add_watched_word(session, actor=m["admin"], pattern="zqxjw",
                                            action="flag", label="setup", message="")
        world.ids["word"] = word.id
        for suffix in ("", "_2"):
            world.ids.update(await _fixtures(session, world, a, suffix))
    return world


async def _fixtures(session, world: World, a: Space, suffix: str) -> dict[str, int]:  # noqa: ANN001
    m = world.members
    author, suspended = m["author" + suffix], m["suspended" + suffix]
    opened = await actions.do_create_thread(
        session, space=a, author=author, title="Un fil pour tester",
        source="Bonjour à toutes et tous.", verdict=verdict("Bonjour à toutes et tous."))
    thread_id = opened.post.thread_id
    flagged = await mq.get_post(session, (await reply(
        session, thread_id, author, "Une réponse qui sera signalée.")).id)
    flag = await ma.do_flag_post(session, flagged, flagger=m["member"], reason="spam", note="")
    pending = await reply(session, thread_id, author, "Un message en attente.",
                          PostStatus.PENDING)
    hidden = await mq.get_post(session, (await reply(
        session, thread_id, author, "Un message qui sera masqué.")).id)
    await ma.do_hide_post(session, hidden, actor=m["mod_second"], reason="Hors sujet")
    action = await mq.action_for_appeal(session, hidden.id)
    appeal = await ma.do_appeal(session, action, member=author,
                                message="Je ne comprends pas pourquoi.")
    hidden2 = await mq.get_post(session, (await reply(
        session, thread_id, author, "Un autre message masqué.")).id)
    await ma.do_hide_post(session, hidden2, actor=m["mod_second"], reason="Hors sujet")
    post2 = await reply(session, thread_id, author, "Une réponse sans signalement.")
    other = await actions.do_create_thread(
        session, space=a, author=m["member"], title="Un fil fermé et épinglé",
        source="Règles du fil.", verdict=verdict("Règles du fil."))
    other_thread = await mq.get_thread(session, other.post.thread_id)
    other_thread.locked = True
    other_thread.pinned = True
    await reply(session, thread_id, suspended, "J'étais là aussi.")
    await ma.do_suspend_member(session, suspended, actor=m["mod_second"],
                               reason="Propos blessants", days=3, space_id=a.id)
    suspension = await mq.latest_restriction(session, suspended.id)
    member_appeal = await ma.do_appeal(session, suspension, member=suspended,
                                       message="Je regrette, je voudrais revenir.")
    ids = {"post": flagged.id, "pending": pending.id, "hidden": hidden.id, "thread": thread_id,
           "thread2": other_thread.id, "flag": flag.id, "appeal": appeal.id,
           "hidden2": hidden2.id, "post2": post2.id, "author": author.id,
           "suspended": suspended.id, "member_appeal": member_appeal.id}
    return {key + suffix: value for key, value in ids.items()}


async def as_role(client: AsyncTestClient, app: Litestar, world: World, role: str) -> None:
    """Give ``client`` a real session for ``role`` (none for visitor) and a CSRF cookie."""
    settings = app.state.settings
    client.cookies.clear()
    if role != "visitor":
        async with app.state.database.writing() as session:
            token = await actions.do_start_session(session, world.members[role],
                                                   lifetime=timedelta(hours=1))
        client.cookies.set(session_cookie_name(settings), token)
    await client.get("/moderation")


def csrf_headers(client: AsyncTestClient, app: Litestar) -> dict[str, str]:
    return {"x-csrftoken": client.cookies.get(csrf_cookie_name(app.state.settings)) or ""}


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    data: dict[str, str]
    outcomes: dict[str, str]


def load_matrix() -> list[Row]:
    rows: list[Row] = []
    with MATRIX.open(newline="", encoding="utf-8") as handle:
        for raw in csv.DictReader(line for line in handle if not line.startswith("#")):
            data = dict(pair.split("=", 1) for pair in raw["data"].split("&") if pair)
            rows.append(Row(raw["method"], raw["path"], data,
                            {role: raw[role] for role in ROLES}))
    return rows


OUTCOME_STATUS = {"LOGIN": {401}, "DENY": {403}, "HIDE": {404}, "ALLOW": {200, 303}}
