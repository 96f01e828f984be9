"""The visitor page cache (forum/cache.py) through real HTTP requests: what it serves, to
whom, with which headers, and how every committed write makes it forget."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from forum import changes
from forum.cache import GenerationFile, PageCache, with_page_cache
from forum.config import Settings
from forum.db import Database
from forum.head import AnswerHead
from forum.models import Post, Thread
from tests.browsing import Browser, Page

BASE = "http://testserver.local"
TOKEN = re.compile(r"[0-9a-f]{128}")


@pytest.fixture
def cached(app: Litestar) -> PageCache:
    # tests/conftest.py serves the app as in production: HEAD answered, behind the caches
    assert isinstance(app, AnswerHead) and isinstance(app.app, PageCache)
    return app.app


async def new_client(cached: PageCache) -> AsyncTestClient:
    return AsyncTestClient(app=cached, base_url=BASE)


@pytest.fixture
async def visitor(cached: PageCache) -> AsyncIterator[Browser]:
    async with AsyncTestClient(app=cached, base_url=BASE) as client:
        yield Browser(client)


@pytest.fixture
async def member(cached: PageCache) -> AsyncIterator[Browser]:
    async with AsyncTestClient(app=cached, base_url=BASE) as client:
        browser = Browser(client)
        await browser.signup("Glycine")
        yield browser


def stored_bodies(cached: PageCache) -> list[bytes]:
    return [entry.body for entry in cached.backend.pages.values()]


def post_texts(page: Page) -> list[str]:
    return [" ".join(p.get_text(" ").split()) for p in page.all("article.post .post__body")]


async def test_the_second_visitor_request_for_a_thread_is_served_from_the_cache(
    cached: PageCache, visitor: Browser, demo: None
) -> None:
    first = await visitor.get("/t/1")
    second = await visitor.get("/t/1")
    assert first.status == second.status == 200
    assert (cached.misses, cached.hits) == (1, 1)
    assert post_texts(second) == post_texts(first)
    assert second.one("h1").get_text() == first.one("h1").get_text()


async def test_stored_pages_hold_no_csrf_token_and_each_visitor_gets_their_own(
    cached: PageCache, demo: None
) -> None:
    tokens = []
    for _ in range(2):
        async with await new_client(cached) as client:
            browser = Browser(client)
            await browser.get("/t/1")
            page = await browser.get("/t/1")
            token = page.hx_headers()["x-csrftoken"]
            assert token == client.cookies["csrftoken"]
            assert page.one(".language-form input[name=_csrf_token]")["value"] == token
            tokens.append(token)
    assert cached.hits == 3
    assert tokens[0] != tokens[1]
    for body in stored_bodies(cached):
        assert not any(token.encode() in body for token in tokens)
        assert cached.placeholder.encode() in body


async def test_a_reply_invalidates_the_thread_space_and_home_pages_the_next_visitor_sees(
    cached: PageCache, visitor: Browser, member: Browser, demo: None
) -> None:
    for url in ("/t/1", "/s/anxiete", "/"):
        await visitor.get(url)
    started = await member.start_thread("anxiete", "Un fil tout neuf", "Bonjour à vous.")
    assert started.status == 303
    replied = await member.reply(1, "Une réponse toute fraîche, merci à vous.")
    assert replied.status == 303
    thread = await visitor.get("/t/1")
    assert "Une réponse toute fraîche, merci à vous." in post_texts(thread)
    space = await visitor.get("/s/anxiete")
    assert "Un fil tout neuf" in space.text()
    home = await visitor.get("/")
    assert "Un fil tout neuf" in home.text()


async def test_an_edit_made_through_the_form_reaches_the_next_visitor(
    cached: PageCache, visitor: Browser, member: Browser, database: Database, demo: None
) -> None:
    replied = await member.reply(1, "Premier jet de mon message.")
    assert replied.status == 303
    async with database.reader() as session:
        post_id = await session.scalar(select(Post.id).order_by(Post.id.desc()).limit(1))
    assert "Premier jet de mon message." in post_texts(await visitor.get("/t/1"))
    form_page = await member.get(f"/p/{post_id}/edit")
    edited = await member.submit(form_page.form("main form"), {"body": "Version relue."})
    assert edited.status == 303
    texts = post_texts(await visitor.get("/t/1"))
    assert "Version relue." in texts
    assert "Premier jet de mon message." not in texts


async def test_a_rolled_back_write_invalidates_nothing(
    cached: PageCache, visitor: Browser, database: Database, demo: None
) -> None:
    await visitor.get("/t/1")
    async with database.writer() as session:
        thread = await session.get(Thread, 1)
        thread.title = "Titre jamais enregistré"
        await session.flush()
        await session.rollback()
    page = await visitor.get("/t/1")
    assert cached.hits == 1
    assert page.one("h1").get_text(strip=True) != "Titre jamais enregistré"


async def test_a_committed_write_outside_a_request_invalidates_the_page(
    cached: PageCache, visitor: Browser, database: Database, demo: None
) -> None:
    await visitor.get("/t/1")
    async with database.writing() as session:
        thread = await session.get(Thread, 1)
        thread.title = "Un titre corrigé"
        changes.thread(session, 1, retitled=True)  # what a do_* declares
    page = await visitor.get("/t/1")
    assert cached.hits == 0
    assert page.one("h1").get_text(strip=True) == "Un titre corrigé"


async def test_a_member_never_gets_a_visitors_cached_page(
    cached: PageCache, visitor: Browser, member: Browser, demo: None
) -> None:
    await visitor.get("/t/1")
    hits = cached.hits
    for _ in range(2):
        page = await member.get("/t/1")
        assert page.status == 200
        assert page.one(".account-nav__name").get_text(strip=True) == "Glycine"
        assert page.response.headers["cache-control"] == "no-store"
        assert page.one("#reply-form")
    assert cached.hits == hits


async def test_cached_responses_carry_the_security_headers_and_vary(
    cached: PageCache, visitor: Browser, demo: None
) -> None:
    for url in ("/t/1", "/s/anxiete", "/"):
        miss = (await visitor.get(url)).response
        hit = (await visitor.get(url)).response
        for name in ("content-security-policy", "x-frame-options", "referrer-policy",
                     "x-content-type-options", "permissions-policy", "content-type", "vary"):
            assert hit.headers.get(name) == miss.headers.get(name), (url, name)
        assert "frame-ancestors 'none'" in hit.headers["content-security-policy"]
        assert int(hit.headers["content-length"]) == len(hit.content)
    assert cached.hits == 3
    space = (await visitor.get("/s/anxiete")).response
    assert "HX-Request" in space.headers["vary"]


async def test_a_visitor_served_from_the_cache_can_switch_language_and_sign_up(
    cached: PageCache, visitor: Browser, demo: None
) -> None:
    await visitor.get("/t/1")
    page = await visitor.get("/t/1")
    assert cached.hits == 1
    switched = await visitor.submit(page.form(".language-form"), {"locale": "en"})
    assert switched.status == 303
    english = await visitor.get(switched.response.headers["location"])
    assert english.soup.html["lang"] == "en"
    code = await visitor.signup("Nouvelle_Venue")
    assert code
    home = await visitor.get("/")
    assert home.one(".account-nav__name").get_text(strip=True) == "Nouvelle_Venue"


async def test_language_is_part_of_the_key(cached: PageCache, demo: None) -> None:
    async with await new_client(cached) as client:
        english = Page(await client.get("/t/1", headers={"accept-language": "en"}))
        french = Page(await client.get("/t/1", headers={"accept-language": "fr"}))
    assert english.soup.html["lang"] == "en"
    assert french.soup.html["lang"] == "fr"
    assert cached.hits == 0


async def test_htmx_requests_and_forged_csrf_cookies_are_not_trusted(
    cached: PageCache, demo: None
) -> None:
    async with await new_client(cached) as client:
        await client.get("/s/anxiete")
        await client.get("/s/anxiete", headers={"HX-Request": "true"})
        assert cached.hits == 0
        client.cookies.clear()
        client.cookies.set("csrftoken", '"><script>alert(1)</script>')
        page = await client.get("/s/anxiete")
    assert cached.hits == 1
    assert "<script>alert" not in page.text
    assert TOKEN.fullmatch(Page(page).hx_headers()["x-csrftoken"])
    assert "csrftoken=" in page.headers["set-cookie"]


async def test_a_well_formed_csrf_cookie_signed_by_another_secret_is_replaced_on_a_hit(
    cached: PageCache, demo: None
) -> None:
    stale = "0" * 64 + "1" * 64
    async with await new_client(cached) as client:
        await client.get("/s/anxiete")
        client.cookies.clear()
        client.cookies.set("csrftoken", stale)
        page = await client.get("/s/anxiete")
    assert cached.hits == 1
    token = Page(page).hx_headers()["x-csrftoken"]
    assert TOKEN.fullmatch(token) and token != stale
    assert f"csrftoken={token}" in page.headers["set-cookie"]


async def test_unknown_pages_and_errors_are_never_stored(
    cached: PageCache, visitor: Browser, demo: None
) -> None:
    assert (await visitor.get("/t/999999")).status == 404
    assert (await visitor.get("/t/999999")).status == 404
    assert cached.hits == 0
    assert stored_bodies(cached) == []


def test_generation_counters_are_shared_through_the_file(tmp_path: Path) -> None:
    """Two workers of one machine map the same file: a bump in one is seen by the other."""
    one = GenerationFile(tmp_path / "gen")
    other = GenerationFile(tmp_path / "gen")
    before = other.read(("all", "thread:7"))
    one.bump(["thread:7"])
    after = other.read(("all", "thread:7"))
    assert after[0] == before[0]
    assert after[1] != before[1]
    assert other.read(("all", "thread:8")) == one.read(("all", "thread:8"))


def test_the_counter_file_is_allocated_for_real_never_sparse(tmp_path: Path) -> None:
    """A sparse file's pages have no block behind them: touching one on a full disk kills
    the process with SIGBUS. Every byte of the file has its block once it is opened, also
    for a sparse file left by an older version."""
    size = GenerationFile.SLOTS * 8
    fresh = tmp_path / "fresh"
    GenerationFile(fresh)
    assert fresh.stat().st_size == size
    assert fresh.stat().st_blocks * 512 >= size

    old = tmp_path / "old"
    with old.open("wb") as handle:
        handle.truncate(size)  # what the previous version left: all holes
    assert old.stat().st_blocks * 512 < size
    GenerationFile(old).bump(["thread:7"])
    assert old.stat().st_blocks * 512 >= size


ALLOCATION_REFUSED = """
import resource, sys
from forum.cache import GenerationFile, with_page_cache
from forum.config import Settings
resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))  # as a full disk would refuse
try:
    GenerationFile(__import__("pathlib").Path(sys.argv[1]) / "gen")
except OSError as exc:
    print("refused", exc.errno)
settings = Settings(env="test", database_url=f"sqlite+aiosqlite:///{sys.argv[1]}/forum.db",
                    secret_key="t" * 48).validated()
app = object()
print("bare app" if with_page_cache(app, settings) is app else "cached")
"""


def test_when_the_counter_file_cannot_be_allocated_the_app_serves_without_the_cache(
    tmp_path: Path,
) -> None:
    import errno
    import subprocess
    import sys

    from forum.config import ROOT

    done = subprocess.run([sys.executable, "-c", ALLOCATION_REFUSED, str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == [f"refused {errno.EFBIG}", "bare app"]
    assert "page cache off in this process" in done.stderr


def test_the_caches_are_off_when_their_sizes_are_zero(app: PageCache,
                                                     settings: Settings) -> None:
    from dataclasses import replace

    bare = app.app
    off = replace(settings, page_cache_mb=0, member_page_cache_mb=0)
    assert with_page_cache(bare, off) is bare
    members_only = with_page_cache(bare, replace(settings, page_cache_mb=0))
    assert isinstance(members_only, PageCache)
    assert members_only.member_pages is not None
    assert members_only._request_facts({"path": "/t/1", "headers": []}) is None
    visitors_only = with_page_cache(bare, replace(settings, member_page_cache_mb=0))
    assert visitors_only.member_pages is None
    assert visitors_only._request_facts(
        {"path": "/t/1", "headers": [(b"cookie", b"entrepairs=x")]}) is None


async def test_a_post_hidden_by_a_bulk_update_disappears_from_the_cached_page(
    cached: PageCache, visitor: Browser, database: Database, demo: None
) -> None:
    from sqlalchemy import update

    from forum.models import PostStatus

    before = post_texts(await visitor.get("/t/1"))
    async with database.writing() as session:
        last = await session.scalar(
            select(Post.id).where(Post.thread_id == 1).order_by(Post.number.desc()).limit(1))
        await session.execute(update(Post).where(Post.id == last)
                              .values(status=PostStatus.HIDDEN))
        changes.post(session, await session.get(Post, last))  # what a do_* declares
    after = post_texts(await visitor.get("/t/1"))
    assert cached.hits == 0
    assert after != before


async def test_visitors_asking_at_once_for_a_page_being_rendered_share_one_render(
    cached: PageCache, demo: None
) -> None:
    """Single flight: ten visitors arriving together on a cold page cost one render; each
    still gets their own CSRF token."""
    import asyncio

    import httpx

    # Litestar's test client sends one request at a time: httpx's ASGI transport runs the
    # ten on this event loop at once, as uvicorn would (one client each: no shared cookies).
    clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=cached), base_url=BASE)
               for _ in range(10)]
    async with AsyncTestClient(app=cached, base_url=BASE):  # the app's lifespan
        responses = await asyncio.gather(*(client.get("/t/1") for client in clients))
    for client in clients:
        await client.aclose()
    assert [r.status_code for r in responses] == [200] * 10
    assert cached.misses == 1
    assert cached.shared + cached.hits == 9 and cached.shared >= 1
    tokens = {TOKEN.search(r.text).group(0) for r in responses}
    assert len(tokens) == 10
    assert len({TOKEN.sub("", r.text) for r in responses}) == 1
