"""The moderation pages speak the reader's language, never stored values (issue 19): a post's
status and the crisis screen's level are words of the reader's language."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from forum.models import Member, Post, PostStatus
from tests.browsing import Browser
from tests.moderation.access_matrix import as_role, build_world

RAW = ("visible", "hidden", "removed", "pending", "concern", "urgent")


async def test_a_posts_status_and_screen_level_are_words_in_both_languages(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    post_id = world.ids["post2"]
    async with app.state.database.writing() as session:
        await session.execute(update(Post).where(Post.id == post_id)
                              .values(status=PostStatus.HIDDEN, crisis_level="concern"))
    await as_role(client, app, world, "mod_this")
    expected = {"fr": ("Masqué", "Repéré comme crise : inquiétude"),
                "en": ("Hidden", "Screened as crisis: concern")}
    for language, (status, level) in expected.items():
        async with app.state.database.writing() as session:  # the moderator's own choice
            await session.execute(update(Member).where(Member.id == world.members["mod_this"].id)
                                  .values(locale=language))
        page = await browser.get(f"/mod/posts/{post_id}")
        assert page.status == 200
        badges = [b.get_text(strip=True) for b in page.all(".post__meta .badge")]
        assert status in badges and level in badges, (language, badges)
        if language == "fr":  # the stored values are English words: none may show in French
            assert not any(raw in badge for badge in badges for raw in RAW), badges
