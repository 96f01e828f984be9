"""Derived data follows declared changes (issue 15): a stateful property test.

Hypothesis drives random sequences of what members and moderators do, through the real
``do_*`` actions, each in its own unit of work committed by ``forum.db.commit``: posting,
starting threads, editing, deleting, hiding, restoring, removing, approving, moderators'
edits, moving threads between public and members-only spaces, appeals, and erasing accounts.
After every step it checks the views against the data:

- the search index holds exactly the visible posts, each with its current text, thread and
  space (a moved thread's entries follow it);
- a visitor's search finds a post by a word of its own only when it is visible in a public
  space, a member's when it is visible;
- the thread pages served by the page cache equal fresh renders by the app itself.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from litestar.testing import TestClient
from sqlalchemy import select

from forum import actions, search
from forum.app import create_app
from forum.cache import with_page_cache
from forum.config import Settings
from forum.db import Database
from forum.models import Member, Post, PostStatus, SearchDocument, Space, Thread, Visibility
from forum.passwords import Hasher
from forum.privacy import do_delete_account
from forum.schema import create_all
from moderation import actions as ma
from moderation import queries as mq
from tests.conftest import ON_POSTGRES
from tests.moderation.access_matrix import make_member, make_space, verdict

pytestmark = pytest.mark.skipif(
    ON_POSTGRES, reason="runs on its own SQLite files; the same actions run on PostgreSQL in "
                        "the rest of the suite")

WORDS = ["jardin", "sommeil", "courage", "vélo", "marée", "lanterne", "chemin", "tisane"]


class DerivedData(RuleBasedStateMachine):
    """One small forum per run: two public spaces and one for members, four members."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.tmp = Path(self._tmp_dir())
        self.url = f"sqlite+aiosqlite:///{self.tmp / 'forum.db'}"
        self.settings = Settings(env="test", database_url=self.url, secret_key="t" * 48,
                                 base_url="http://testserver.local").validated()
        self.database = Database(self.url, pool=False)
        self.token = 0

    @staticmethod
    def _tmp_dir() -> str:
        import tempfile

        return tempfile.mkdtemp(prefix="entrepairs-property-")

    def run(self, coroutine):  # noqa: ANN001, ANN201
        return self.loop.run_until_complete(coroutine)

    def word(self) -> str:
        self.token += 1
        return f"motunique{self.token}x"

    @initialize()
    def setup(self) -> None:
        async def build() -> None:
            async with self.database.engine.begin() as connection:
                await connection.run_sync(create_all)
            async with self.database.writing() as session:
                self.spaces = [await make_space(session, "ouvert"),
                               await make_space(session, "aussi"),
                               await make_space(session, "entre-nous",
                                                visibility=Visibility.MEMBERS)]
                self.space_ids = [space.id for space in self.spaces]
                members = [await make_member(session, f"Pair{i}") for i in range(3)]
                moderator = await make_member(session, "Veilleur")
                for space in self.spaces:
                    await ma.do_add_moderator(session, space, moderator, actor=None,
                                              reason="setup")
                self.member_ids = [m.id for m in members]
                self.moderator_id = moderator.id
                opened = await actions.do_create_thread(
                    session, space=self.spaces[0], author=members[0], title="Premier fil",
                    source="Bonjour motdepart.", verdict=verdict("Bonjour motdepart."))
                self.thread_ids = [opened.post.thread_id]
        self.run(build())
        app = create_app(self.settings, hasher=Hasher(cheap=True),
                         database=Database(self.url, pool=False))
        self.cached = TestClient(app=with_page_cache(app, self.settings),
                                 base_url="http://testserver.local")
        self.fresh = TestClient(app=create_app(self.settings, hasher=Hasher(cheap=True),
                                               database=Database(self.url, pool=False)),
                                base_url="http://testserver.local")
        self.cached.__enter__()
        self.fresh.__enter__()

    def teardown(self) -> None:
        for client in ("cached", "fresh"):
            if hasattr(self, client):
                getattr(self, client).__exit__(None, None, None)
        self.run(self.database.dispose())
        self.loop.close()

    # -- helpers ---------------------------------------------------------------------------

    async def _posts(self, session) -> list[Post]:  # noqa: ANN001
        return list(await session.scalars(select(Post).order_by(Post.id)))

    def pick_post(self, index: int) -> int | None:
        async def choose() -> int | None:
            async with self.database.reader() as session:
                posts = [p.id for p in await self._posts(session)]
            return posts[index % len(posts)] if posts else None
        return self.run(choose())

    # -- rules -----------------------------------------------------------------------------

    @rule(who=st.integers(0, 2), thread=st.integers(0, 50), word=st.sampled_from(WORDS),
          held=st.booleans())
    def reply(self, who: int, thread: int, word: str, held: bool) -> None:
        text = f"Un message sur le {word}, {self.word()}."

        async def go() -> None:
            async with self.database.writing() as session:
                author = await session.get(Member, self.member_ids[who])
                if author.status != "active":
                    return
                found = await mq.get_thread(session, self.thread_ids[thread % len(self.thread_ids)])
                status = PostStatus.PENDING if held else PostStatus.VISIBLE
                await actions.do_reply(session, thread=found, author=author, source=text,
                                       verdict=verdict(text, status))
        self.run(go())

    @rule(who=st.integers(0, 2), space=st.integers(0, 2))
    def start_thread(self, who: int, space: int) -> None:
        text = f"Un nouveau fil, {self.word()}."

        async def go() -> None:
            async with self.database.writing() as session:
                author = await session.get(Member, self.member_ids[who])
                if author.status != "active":
                    return
                where = await session.get(Space, self.space_ids[space])
                opened = await actions.do_create_thread(
                    session, space=where, author=author, title=f"Fil {self.token}",
                    source=text, verdict=verdict(text))
                self.thread_ids.append(opened.post.thread_id)
        self.run(go())

    @rule(index=st.integers(0, 200), word=st.sampled_from(WORDS))
    def author_edits(self, index: int, word: str) -> None:
        post_id = self.pick_post(index)
        text = f"Texte revu : {word}, {self.word()}."

        async def go() -> None:
            async with self.database.writing() as session:
                post = await mq.get_post(session, post_id)
                if post is None or post.author is None or post.status == PostStatus.DELETED:
                    return
                await actions.do_edit_post(session, post, editor=post.author, source=text,
                                           verdict=verdict(text))
        if post_id is not None:
            self.run(go())

    @rule(index=st.integers(0, 200))
    def author_deletes(self, index: int) -> None:
        post_id = self.pick_post(index)

        async def go() -> None:
            async with self.database.writing() as session:
                post = await mq.get_post(session, post_id)
                if post is not None and post.author is not None:
                    await actions.do_delete_own_post(session, post, actor=post.author)
        if post_id is not None:
            self.run(go())

    @rule(index=st.integers(0, 200),
          decision=st.sampled_from(["hide", "restore", "remove", "approve", "edit"]))
    def moderator_acts(self, index: int, decision: str) -> None:
        post_id = self.pick_post(index)

        async def go() -> None:
            async with self.database.writing() as session:
                post = await mq.get_post(session, post_id)
                actor = await session.get(Member, self.moderator_id)
                if post is None or post.status == PostStatus.DELETED:
                    return
                if decision == "edit":
                    text = f"Texte adouci par l'équipe, {self.word()}."
                    await ma.do_moderator_edit_post(session, post, actor=actor, reason="r",
                                                    source=text, verdict=verdict(text),
                                                    content_warning=post.content_warning)
                    return
                run = {"hide": ma.do_hide_post, "restore": ma.do_restore_post,
                       "remove": ma.do_remove_post, "approve": ma.do_approve_post}[decision]
                await run(session, post, actor=actor, reason="Relu")
        if post_id is not None:
            self.run(go())

    @rule(thread=st.integers(0, 50), space=st.integers(0, 2))
    def move_thread(self, thread: int, space: int) -> None:
        async def go() -> None:
            async with self.database.writing() as session:
                found = await mq.get_thread(session, self.thread_ids[thread % len(self.thread_ids)])
                actor = await session.get(Member, self.moderator_id)
                await ma.do_move_thread(session, found, actor=actor, reason="rangement",
                                        to=await session.get(Space, self.space_ids[space]))
        self.run(go())

    @rule(index=st.integers(0, 200))
    def appeal_granted(self, index: int) -> None:
        post_id = self.pick_post(index)

        async def go() -> None:
            async with self.database.writing() as session:
                post = await mq.get_post(session, post_id)
                if post is None or post.author is None or post.status not in (
                        PostStatus.HIDDEN, PostStatus.REMOVED):
                    return
                action = await mq.action_for_appeal(session, post.id)
                if action is None:
                    return
                appeal = await ma.do_appeal(session, action, member=post.author,
                                            message="Je conteste.")
                if appeal is None:
                    return
                admin_like = await session.get(Member, self.member_ids[2])  # not the actor
                await session.refresh(appeal, ["action"])
                await ma.do_decide_appeal(session, appeal, post, actor=admin_like,
                                          reason="Accordé", grant=True)
        if post_id is not None:
            self.run(go())

    @rule(who=st.integers(0, 2), erase=st.booleans())
    def erase_account(self, who: int, erase: bool) -> None:
        async def go() -> None:
            async with self.database.writing() as session:
                member = await session.get(Member, self.member_ids[who])
                if member.status == "active":
                    await do_delete_account(session, member, erase_posts=erase)
        self.run(go())

    # -- the invariants --------------------------------------------------------------------

    @invariant()
    def the_index_holds_exactly_the_visible_posts_with_their_text(self) -> None:
        if not hasattr(self, "cached"):
            return

        async def read() -> tuple[dict[int, tuple], dict[int, tuple]]:
            async with self.database.reader() as session:
                posts = (await session.execute(
                    select(Post, Thread.space_id).join(Thread, Thread.id == Post.thread_id)
                    .order_by(Post.id))).all()
                documents = {d.post_id: (d.thread_id, d.space_id, d.body)
                             for d in await session.scalars(select(SearchDocument))}
            expected = {p.id: (p.thread_id, space_id, search.plain_text(p.html))
                        for p, space_id in posts if p.status == PostStatus.VISIBLE}
            return expected, documents
        expected, documents = self.run(read())
        assert documents == expected

    @invariant()
    def searches_find_a_post_only_where_its_reader_may_read_it(self) -> None:
        if not hasattr(self, "cached"):
            return

        async def check() -> None:
            async with self.database.reader() as session:
                rows = (await session.execute(
                    select(Post, Space.visibility).join(Thread, Thread.id == Post.thread_id)
                    .join(Space, Space.id == Thread.space_id).order_by(Post.id.desc())
                    .limit(4))).all()
                reader = await session.get(Member, self.moderator_id)
                for post, visibility in rows:
                    words = re.findall(r"motunique\d+x", post.source)
                    if not words:
                        continue
                    visible = post.status == PostStatus.VISIBLE
                    as_visitor = await search.search(session, None, words[0])
                    as_member = await search.search(session, reader, words[0])
                    assert (post.id in {h.post_id for h in as_visitor.hits}) == (
                        visible and visibility == Visibility.PUBLIC)
                    assert (post.id in {h.post_id for h in as_member.hits}) == visible
        self.run(check())

    @invariant()
    def cached_thread_pages_equal_fresh_renders(self) -> None:
        if not hasattr(self, "cached"):
            return
        for thread_id in self.thread_ids[-3:]:
            served = self.cached.get(f"/t/{thread_id}")
            fresh = self.fresh.get(f"/t/{thread_id}")
            assert served.status_code == fresh.status_code
            if fresh.status_code == 200:
                assert _content(served.text) == _content(fresh.text)


def _content(html: str) -> str:
    """What a thread page says, without what differs per response (tokens, request ids)."""
    main = html.split('<main id="main"', 1)[-1].split("</main>", 1)[0]
    main = re.sub(r'name="_csrf_token" value="[^"]*"', "", main)
    main = re.sub(r'name="idempotency_key" value="[^"]*"', "", main)
    return main


DerivedData.TestCase.settings = settings(
    max_examples=12, stateful_step_count=10, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_derived_data_follows_every_change = DerivedData.TestCase
