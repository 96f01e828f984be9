"""A moderation notice reads wholly in the reader's language, its parameters included."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from moderation import actions as ma
from moderation import queries as mq
from tests.browsing import Browser
from tests.moderation.access_matrix import as_role, build_world


@pytest.mark.parametrize(("language", "expected", "foreign"), [
    ("en", "Outcome: nothing to remove.", "rien à retirer"),
    ("fr", "Issue : rien à retirer.", "nothing to remove"),
])
async def test_a_flaggers_notice_of_the_outcome_is_all_in_their_language(
    app: Litestar, client: AsyncTestClient, browser: Browser, language: str, expected: str,
    foreign: str,
) -> None:
    world = await build_world(app)
    post_id = world.ids["post2"]
    async with app.state.database.writing() as session:
        post = await mq.get_post(session, post_id)
        await ma.do_flag_post(session, post, flagger=world.members["member"], reason="spam",
                              note="")
    await as_role(client, app, world, "mod_this")
    item = await browser.get(f"/mod/posts/{post_id}")
    dismissed = await browser.submit(item.form("#action-dismiss"),
                                     {"reason": "Rien de contraire à la charte"})
    assert dismissed.status == 303

    await as_role(client, app, world, "member")
    page = await browser.get("/notifications")
    chosen = await browser.submit(page.form("form.language-form"), {"locale": language})
    assert chosen.status == 303
    page = await browser.get("/notifications")
    notices = " ".join(page.text(".notification__message").split())
    assert expected in notices
    assert foreign not in notices
