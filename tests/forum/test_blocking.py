"""Blocking a member: their posts fold away for you, their mentions stay silent, they never know."""

from __future__ import annotations

import re

from litestar import Litestar

from tests.browsing import Browser, Page, another_browser


def post_id_of(result: Page) -> int:
    match = re.search(r"#post-(\d+)", result.response.headers["location"])
    assert match
    return int(match.group(1))


async def block_offer(browser: Browser, page: Page, post_id: int) -> Page:
    """Follow a post's "Bloquer" link to what blocking does, and check it is said there."""
    link = page.one(f"#post-{post_id} a.post__block-link")
    assert link.get_text().startswith("Bloquer ")
    assert not page.all(f"#post-{post_id} form.post__block"), "only the link is in the page"
    offer = await browser.get(str(link["href"]))
    assert offer.status == 200
    # Issue 19: what blocking does is said in the page, not only in a tooltip, before it is done.
    text = offer.text(f"#block-{post_id}")
    assert "Cette personne n’en saura rien" in text
    assert "débloquer dans tes réglages" in text
    assert not offer.one(f"#block-{post_id}").select("[title]")
    return offer


async def block_from_post(browser: Browser, thread_id: int, post_id: int) -> Page:
    page = await browser.get(f"/t/{thread_id}")
    offer = await block_offer(browser, page, post_id)
    return await browser.submit(offer.form(f"#block-{post_id} form.post__block"))


async def test_blocking_from_a_post_folds_that_members_posts_away(
    app: Litestar, browser: Browser, demo: None
) -> None:
    await browser.signup("Hirondelle")
    async with another_browser(app) as other:
        await other.signup("Corbeau")
        post_id = post_id_of(await other.reply(1, "Un message que tu préfères ne pas lire."))
        result = await block_from_post(browser, 1, post_id)
        assert result.status == 303
        assert result.response.headers["location"] == f"/p/{post_id}"
        page = await browser.get("/t/1")
        folded = page.one(f"#post-{post_id} details.post__blocked")
        assert not folded.has_attr("open")
        assert folded.select_one("summary").get_text() == "Message d'un membre que tu as bloqué"
        assert "préfères ne pas lire" in folded.get_text()
        assert not page.all(f"#post-{post_id} a.post__block-link")
        others_posts = [p for p in page.all("article.post") if p["id"] != f"post-{post_id}"]
        assert not any(p.select("details.post__blocked") for p in others_posts)
        # Corbeau sees nothing of it, anywhere.
        theirs = await other.get("/t/1")
        assert not theirs.all("details.post__blocked")
        assert "que tu as bloqué" not in theirs.text()
        assert not (await other.get("/notifications")).all(".notification")


async def test_the_block_list_is_in_the_settings_and_unblocking_unfolds(
    app: Litestar, browser: Browser, demo: None
) -> None:
    await browser.signup("Hirondelle")
    async with another_browser(app) as other:
        await other.signup("Corbeau")
        post_id = post_id_of(await other.reply(1, "Bonjour."))
    await block_from_post(browser, 1, post_id)
    settings = await browser.get("/notifications/settings")
    assert "Corbeau" in settings.text("#blocked")
    result = await browser.submit(settings.form("#blocked form"))
    assert result.status == 303
    assert "Corbeau" not in (await browser.get("/notifications/settings")).text("#blocked")
    assert not (await browser.get("/t/1")).all("details.post__blocked")


async def test_a_blocked_member_cannot_mention_you_nor_reach_you_by_replies(
    app: Litestar, browser: Browser, demo: None
) -> None:
    await browser.signup("Hirondelle")
    started = await browser.start_thread("anxiete", "Mon fil", "Bonjour.")
    thread_id = int(re.search(r"/t/(\d+)", started.response.headers["location"]).group(1))
    async with another_browser(app) as other:
        await other.signup("Corbeau")
        first = post_id_of(await other.reply(thread_id, "Premier message."))
        await block_from_post(browser, thread_id, first)
        await other.reply(thread_id, "Hé @Hirondelle, tu me lis ?")
        await other.reply(1, "Et ici aussi, @Hirondelle.")
    listing = await browser.get("/notifications")
    assert [n.get_text(" ", strip=True) for n in listing.all(".notification__message")] == [
        "Corbeau a répondu dans « Mon fil »"  # the reply from before the block
    ]


async def test_blocking_from_a_post_hides_their_posts_from_your_search(
    app: Litestar, browser: Browser, demo: None
) -> None:
    await browser.signup("Hirondelle")
    async with another_browser(app) as other:
        await other.signup("Corbeau")
        posted = await other.reply(1, "Le mot grabouillon est de moi.")
        post_id = posted.response.headers["location"].rsplit("#post-", 1)[1]
    assert (await browser.get("/search?q=grabouillon")).all(".search-hit")
    thread = await browser.get(f"/p/{post_id}")
    thread = await browser.follow(thread) if thread.status in (302, 303) else thread
    offer = await block_offer(browser, thread, int(post_id))
    result = await browser.submit(offer.form(f"#block-{post_id} form.post__block"))
    assert result.status == 303
    assert result.response.headers["location"] == f"/p/{post_id}"
    assert not (await browser.get("/search?q=grabouillon")).all(".search-hit")


async def test_each_reader_of_one_search_gets_their_own_blocks(
    app: Litestar, browser: Browser, demo: None
) -> None:
    """A search's statement is built once and reused for every reader with their own
    parameters (``forum.search._STATEMENTS``): one member's block never hides a post from
    another member, nor from a visitor, searched in turn with the same words."""
    await browser.signup("Hirondelle")
    async with another_browser(app) as author, another_browser(app) as third, \
            another_browser(app) as visitor:
        await author.signup("Corbeau")
        await third.signup("Loriot")
        posted = await author.reply(1, "Le mot farfadoux est de moi.")
        post_id = posted.response.headers["location"].rsplit("#post-", 1)[1]
        thread = await browser.get("/t/1")
        offer = await block_offer(browser, thread, int(post_id))
        blocked = await browser.submit(offer.form(f"#block-{post_id} form.post__block"))
        assert blocked.status == 303
        for _ in range(2):  # in turn, twice: the second round reuses every statement
            assert not (await browser.get("/search?q=farfadoux")).all(".search-hit")
            assert (await third.get("/search?q=farfadoux")).all(".search-hit")
            assert (await visitor.get("/search?q=farfadoux")).all(".search-hit")
            assert (await author.get("/search?q=farfadoux")).all(".search-hit")
            assert not (await browser.get("/search?q=farfadoux+mot")).all(".search-hit")
            assert (await third.get("/search?q=farfadoux+mot")).all(".search-hit")


async def test_nobody_can_block_themselves_or_a_member_who_does_not_exist(
    browser: Browser, demo: None
) -> None:
    """Without a post the reader can see, by them, every block answers the same 404: a
    pseudonym, oneself, someone who does not exist."""
    await browser.signup("Hirondelle")
    started = await browser.start_thread("anxiete", "Mon fil", "Bonjour.")
    page = await browser.get(started.response.headers["location"])
    assert not page.all("a.post__block-link")
    token = page.hx_headers()["x-csrftoken"]
    for ref in ("Hirondelle", "Personne-Inconnue", "corbeau", "1"):
        answer = await browser.client.post(f"/m/{ref}/block", data={"_csrf_token": token})
        assert answer.status_code == 404, ref


async def test_visitors_see_no_block_button(browser: Browser, demo: None) -> None:
    assert not (await browser.get("/t/1")).all("a.post__block-link")


async def test_the_offer_to_block_is_a_fragment_for_htmx_and_changes_nothing(
    app: Litestar, browser: Browser, demo: None
) -> None:
    """What blocking does is shown in place (htmx) or as a page, and showing it blocks no one
    and counts no block; once blocked, it says so instead of offering the button again."""
    await browser.signup("Hirondelle")
    async with another_browser(app) as other:
        await other.signup("Corbeau")
        post_id = post_id_of(await other.reply(1, "Bonjour."))
    page = await browser.get("/t/1")
    href = page.one(f"#post-{post_id} a.post__block-link")["href"]
    assert page.one(f"#post-{post_id} a.post__block-link")["data-hx-get"] == href
    for _ in range(25):  # more than the blocks a member may give in a quarter of an hour
        fragment = await browser.get(href, headers={"HX-Request": "true"})
        assert fragment.status == 200
    assert "<html" not in fragment.response.text
    assert fragment.one("form.post__block")["action"].endswith("/block")
    assert fragment.one("p[data-focus-key]")["data-focus-key"] == f"block-{post_id}"
    assert not (await browser.get("/t/1")).all(f"#post-{post_id} details.post__blocked")
    assert (await block_from_post(browser, 1, post_id)).status == 303
    again = await browser.get(href)
    assert again.status == 200
    assert "Tu as déjà bloqué Corbeau." in again.text("main")
    assert not again.all("form.post__block")


async def test_visitors_are_asked_to_log_in_to_see_the_offer_to_block(
    browser: Browser, demo: None
) -> None:
    answer = await browser.get("/m/1/block?post=1", follow_redirects=False)
    assert answer.status == 303
    assert answer.response.headers["location"].startswith("/login")
