"""Support reactions: given by members to others' posts, counts hidden, the author sees who."""

from __future__ import annotations

import re

from litestar import Litestar

from forum import actions
from forum.web.social import REACTIONS
from tests.browsing import Browser, Page, another_browser


def thread_id_of(result: Page) -> int:
    match = re.search(r"/t/(\d+)", result.response.headers["location"])
    assert match
    return int(match.group(1))


def pressed(page: Page, post_id: int) -> set[str]:
    return {str(b["value"]) for b in page.all(f"#reactions-{post_id} button[aria-pressed=true]")}


async def opening_post_id(browser: Browser, thread_id: int) -> int:
    page = await browser.get(f"/t/{thread_id}")
    return int(str(page.all("article.post")[0]["id"]).removeprefix("post-"))


def test_every_reaction_kind_has_a_label() -> None:
    assert tuple(key for key, _ in REACTIONS) == actions.REACTION_KINDS


async def test_a_member_gives_and_takes_back_a_reaction_without_javascript(
    app: Litestar, browser: Browser, demo: None
) -> None:
    await browser.signup("Hirondelle")
    thread_id = thread_id_of(await browser.start_thread("anxiete", "Mon fil", "Bonjour."))
    post_id = await opening_post_id(browser, thread_id)
    async with another_browser(app) as reader:
        await reader.signup("Martinet")
        page = await reader.get(f"/t/{thread_id}")
        buttons = [str(b["value"]) for b in page.all(f"#reactions-{post_id} button")]
        assert buttons == list(actions.REACTION_KINDS)
        given = await reader.submit(page.form(f"#reactions-{post_id} form"), {"kind": "courage"})
        assert given.status == 303
        assert given.response.headers["location"] == f"/p/{post_id}"
        after = await reader.get(f"/t/{thread_id}")
        assert pressed(after, post_id) == {"courage"}
        assert not after.all(f"#reactions-{post_id} .reactions__received")
        taken = await reader.submit(after.form(f"#reactions-{post_id} form"), {"kind": "courage"})
        assert taken.status == 303
        assert pressed(await reader.get(f"/t/{thread_id}"), post_id) == set()


async def test_with_htmx_the_reactions_row_swaps_itself(
    app: Litestar, browser: Browser, demo: None
) -> None:
    await browser.signup("Hirondelle")
    thread_id = thread_id_of(await browser.start_thread("anxiete", "Mon fil", "Bonjour."))
    post_id = await opening_post_id(browser, thread_id)
    async with another_browser(app) as reader:
        await reader.signup("Martinet")
        page = await reader.get(f"/t/{thread_id}")
        form = page.form(f"#reactions-{post_id} form")
        assert form.element["data-hx-target"] == f"#reactions-{post_id}"
        fragment = await reader.submit(form, {"kind": "je-te-lis"}, htmx=True)
        assert fragment.status == 200
        assert fragment.response.headers["vary"] == "HX-Request"
        assert not fragment.all("html, body")
        assert pressed(fragment, post_id) == {"je-te-lis"}
        again = await reader.submit(fragment.form(f"#reactions-{post_id} form"),
                                    {"kind": "merci"}, htmx=True)
        assert pressed(again, post_id) == {"je-te-lis", "merci"}


async def test_the_author_sees_who_reacted_and_other_readers_see_no_count(
    app: Litestar, browser: Browser, demo: None
) -> None:
    await browser.signup("Hirondelle")
    thread_id = thread_id_of(await browser.start_thread("anxiete", "Mon fil", "Bonjour."))
    post_id = await opening_post_id(browser, thread_id)
    for name, kind in (("Martinet", "merci"), ("Rossignol", "merci"), ("Mouette", "courage")):
        async with another_browser(app) as reader:
            await reader.signup(name)
            page = await reader.get(f"/t/{thread_id}")
            await reader.submit(page.form(f"#reactions-{post_id} form"), {"kind": kind})
    mine = await browser.get(f"/t/{thread_id}")
    received = mine.one(f"#reactions-{post_id} .reactions__received")
    assert "3 soutiens reçus" in received.select_one("summary").get_text()
    lines = [" ".join(li.get_text().split()) for li in received.select("li")]
    assert lines == ["Courage Mouette", "Merci Martinet, Rossignol"]
    assert not mine.all(f"#reactions-{post_id} form")  # nobody reacts to their own post
    async with another_browser(app) as reader:
        await reader.signup("Pinson")
        theirs = await reader.get(f"/t/{thread_id}")
        row = theirs.one(f"#reactions-{post_id}")
        assert not re.search(r"\d", row.get_text())
        assert "Martinet" not in row.get_text()
        assert pressed(theirs, post_id) == set()


async def test_visitors_see_no_reactions_and_cannot_give_one(browser: Browser,
                                                             demo: None) -> None:
    page = await browser.get("/t/1")
    assert not page.all(".reactions")
    post_id = int(str(page.all("article.post")[0]["id"]).removeprefix("post-"))
    result = await browser.client.post(f"/p/{post_id}/react", data={
        "kind": "merci", "_csrf_token": page.hx_headers()["x-csrftoken"],
    })
    assert result.status_code == 401


async def test_no_reaction_on_a_deleted_post_and_no_unknown_kind(
    app: Litestar, browser: Browser, demo: None
) -> None:
    await browser.signup("Hirondelle")
    reply = await browser.reply(1, "Un message que je vais retirer.")
    post_id = int(reply.response.headers["location"].rsplit("-", 1)[1])
    async with another_browser(app) as reader:
        await reader.signup("Martinet")
        page = await reader.get("/t/1")
        form = page.form(f"#reactions-{post_id} form")
        unknown = await reader.submit(form, {"kind": "like"})
        assert unknown.status == 400
        delete_page = await browser.get(f"/p/{post_id}/delete")
        assert (await browser.submit(delete_page.form("main form"))).status == 303
        refused = await reader.submit(form, {"kind": "merci"})
        assert refused.status == 403
        assert not (await reader.get("/t/1")).all(f"#reactions-{post_id}")
