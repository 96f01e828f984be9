"""Rendered posts reused between readers (forum/web/fragments.py): a member's page is the same
whether its posts came from the cache or not, each reader gets their own CSRF token, and any
change to a post or its author shows at once."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from litestar import Litestar

from forum.config import Settings
from forum.web.fragments import CSRF_MARK, FragmentCache
from tests.browsing import Browser, Page, another_browser


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """What the app itself does for each page: no page cache in front of it."""
    return replace(settings, page_cache_mb=0, member_page_cache_mb=0)

TOKEN = re.compile(r'name="_csrf_token" value="([^"]+)"')
ONCE = re.compile(r'name="idempotency_key" value="[^"]*"')
"""The reply form's one-time key: new on every render."""


def same_page(page: Page) -> str:
    return ONCE.sub("", page.response.text)


def cache_of(app: Litestar) -> FragmentCache:
    return app.template_engine.engine.globals["post_fragments"]


def thread_id_of(page: Page) -> int:
    match = re.search(r"/t/(\d+)", page.response.headers["location"])
    assert match
    return int(match.group(1))


async def a_thread_with_replies(browser: Browser, app: Litestar) -> int:
    """A thread by Hirondelle with replies by two others, read by nobody yet."""
    await browser.signup("Hirondelle")
    thread_id = thread_id_of(await browser.start_thread("anxiete", "Nuits blanches", "Bonjour."))
    async with another_browser(app) as other:
        await other.signup("Torcol")
        await other.reply(thread_id, "Je te lis, ça m'arrive aussi.")
    async with another_browser(app) as other:
        await other.signup("Gobemouche")
        await other.reply(thread_id, "Courage à toi, la nuit finit toujours.")
    return thread_id


async def test_a_page_from_the_cache_is_the_page_rendered_afresh(
    app: Litestar, browser: Browser, demo: None
) -> None:
    thread_id = await a_thread_with_replies(browser, app)
    async with another_browser(app) as reader:
        await reader.signup("Bouvreuil")
        cache = app.template_engine.engine.globals["post_fragments"] = FragmentCache()
        cold = await reader.get(f"/t/{thread_id}")
        assert cache.misses == 3 and cache.hits == 0  # three plain posts for this reader
        warm = await reader.get(f"/t/{thread_id}")
        assert cache.hits == 3
        assert same_page(warm) == same_page(cold)
        # Without any cache at all: the same bytes again.
        app.template_engine.engine.globals["post_fragments"] = FragmentCache(max_bytes=0)
        uncached = await reader.get(f"/t/{thread_id}")
        assert same_page(uncached) == same_page(cold)
        assert CSRF_MARK not in cold.response.text


async def test_each_reader_gets_their_own_token_in_cached_posts(
    app: Litestar, browser: Browser, demo: None
) -> None:
    thread_id = await a_thread_with_replies(browser, app)
    async with another_browser(app) as first, another_browser(app) as second:
        await first.signup("Bouvreuil")
        await second.signup("Sittelle")
        one = await first.get(f"/t/{thread_id}")
        hits = cache_of(app).hits
        two = await second.get(f"/t/{thread_id}")
        assert cache_of(app).hits == hits + 3
        tokens_one = set(TOKEN.findall(one.response.text))
        tokens_two = set(TOKEN.findall(two.response.text))
        assert len(tokens_one) == 1 and len(tokens_two) == 1 and tokens_one != tokens_two
        # The token works: the second reader reacts through a cached post's form.
        post = one.all("article.post")[1]
        post_id = str(post["id"]).removeprefix("post-")
        given = await second.submit(two.form(f"#reactions-{post_id} form"), {"kind": "merci"})
        assert given.status == 303
        after = await second.get(f"/t/{thread_id}")
        pressed = after.all(f"#reactions-{post_id} button[aria-pressed=true]")
        assert [str(b["value"]) for b in pressed] == ["merci"]
        # … and only for them: the first reader's page still shows nothing pressed.
        again = await first.get(f"/t/{thread_id}")
        assert not again.all(f"#reactions-{post_id} button[aria-pressed=true]")


async def test_what_is_personal_is_never_taken_from_the_cache(
    app: Litestar, browser: Browser, demo: None
) -> None:
    """The author's own post (edit links, supports received) and a blocked member's post
    (folded away) are rendered for their reader, even when others' copies are cached."""
    thread_id = await a_thread_with_replies(browser, app)
    async with another_browser(app) as reader:
        await reader.signup("Bouvreuil")
        await reader.get(f"/t/{thread_id}")  # every post now cached as plain
    own = await browser.get(f"/t/{thread_id}")
    opening = own.all("article.post")[0]
    assert opening.select_one(".post__actions a[href$='/edit']") is not None
    assert opening.select_one(".post__flag") is None
    blocked_post = own.all("article.post")[1]
    offer = await browser.get(own.one(f"#{blocked_post['id']} a.post__block-link")["href"])
    assert (await browser.submit(offer.form("form.post__block"))).status == 303
    after = await browser.get(f"/t/{thread_id}")
    assert after.one(f"#{blocked_post['id']} details.post__blocked")


async def test_an_edit_and_a_new_pseudonym_show_at_once(
    app: Litestar, browser: Browser, demo: None
) -> None:
    thread_id = await a_thread_with_replies(browser, app)
    async with another_browser(app) as reader:
        await reader.signup("Bouvreuil")
        before = await reader.get(f"/t/{thread_id}")
        assert "Bonjour." in before.text("#posts")
        opening_id = str(before.all("article.post")[0]["id"]).removeprefix("post-")
        edit = await browser.get(f"/p/{opening_id}/edit")
        edited = await browser.submit(edit.form("main form"), {"body": "Bonsoir à toutes et tous."})
        assert edited.status == 303
        after = await reader.get(f"/t/{thread_id}")
        assert "Bonsoir à toutes et tous." in after.text("#posts")
        assert "Bonjour." not in after.text("#posts")
        assert after.one(f"#post-{opening_id} .post__edited")


def test_the_cache_keeps_to_its_size_dropping_the_least_recently_used() -> None:
    cache = FragmentCache(max_bytes=64 * 1024)
    posts = {n: f"<article id='post-{n}'>{'é' * 200}{n * 7919 % 104729}</article>"
             for n in range(2000)}
    for n, html in posts.items():
        cache.put(str(n).encode(), html)
        assert cache.size <= cache.max_bytes
    assert cache.get(str(1999).encode()) == posts[1999]
    assert cache.get(str(0).encode()) is None
    kept = len(cache)
    assert 100 < kept < 2000
    cache.get(str(2000 - kept).encode())  # the oldest kept entry, now the most recent
    cache.put(b"5000", posts[5])
    assert cache.get(str(2000 - kept).encode()) is not None
    assert cache.get(str(2000 - kept + 1).encode()) is None
