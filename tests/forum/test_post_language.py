"""Each post says its language (issue 19, WCAG 3.1.2 Language of Parts): the author chooses it
in the composer (their interface language by default), it is stored with the post, marked
``lang`` on its body in every interface and on every copy of the page (visitor page cache,
rendered-post fragments), and follows edits, revisions and the export."""

from __future__ import annotations

import json
import re

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, update

from forum.db import Database
from forum.models import Post, PostRevision
from tests.browsing import Browser, Page

BASE = "http://testserver.local"
ENGLISH = {"Accept-Language": "en"}
FRENCH = {"Accept-Language": "fr"}
IN_ENGLISH = "I have been sleeping badly for weeks and I wanted to talk about it here."
IN_FRENCH = "Je dors mal depuis des semaines, j'avais envie d'en parler ici."


def thread_of(result: Page) -> int:
    assert result.status == 303, result.text()
    return int(re.search(r"/t/(\d+)", result.response.headers["location"]).group(1))


def body_langs(page: Page) -> list[str | None]:
    """The ``lang`` of each post body on the page, in order (None: no attribute)."""
    assert page.status == 200, page.status
    return [body.get("lang") for body in page.all("article.post .post__body")]


async def switch_to(browser: Browser, locale: str) -> None:
    page = await browser.get("/")
    switched = await browser.submit(page.form("form.language-form"),
                                    {"locale": locale, "next": "/"})
    assert switched.status == 303


async def stored_langs(database: Database) -> list[str | None]:
    async with database.reader() as session:
        return list(await session.scalars(select(Post.lang).order_by(Post.id)))


async def latest_post_id(database: Database) -> int:
    async with database.reader() as session:
        return int(await session.scalar(select(func.max(Post.id))))


async def test_an_english_post_by_a_french_member_is_marked_en_in_both_interfaces(
    app: Litestar, browser: Browser, database: Database, demo: None
) -> None:
    await browser.signup("Glycine")
    composer = await browser.get("/s/anxiete/new")
    assert composer.soup.html["lang"] == "fr"
    select_ = composer.one("form.composer select[name=lang]")
    assert composer.one(f"label[for='{select_['id']}']").get_text(strip=True) == (
        "Langue du message")
    assert [o.get("lang") for o in select_.select("option")] == ["fr", "en"]
    assert select_.select_one("option[selected]")["value"] == "fr"  # the interface's

    thread_id = thread_of(await browser.start_thread(
        "anxiete", "Sleeping badly", IN_ENGLISH, lang="en"))
    replied = await browser.reply(thread_id, IN_FRENCH)  # the default: French
    assert replied.status == 303
    assert (await stored_langs(database))[-2:] == ["en", "fr"]

    assert body_langs(await browser.get(f"/t/{thread_id}")) == ["en", "fr"]
    async with AsyncTestClient(app=app, base_url=BASE) as other:
        visitor = Browser(other)
        for headers, page_lang in ((ENGLISH, "en"), (FRENCH, "fr"), (ENGLISH, "en")):
            page = await visitor.get(f"/t/{thread_id}", headers=headers)  # the 3rd: cached
            assert page.soup.html["lang"] == page_lang
            assert body_langs(page) == ["en", "fr"]
        reader = Browser(other)
        await reader.signup("Liseron")
        await switch_to(reader, "en")
        for _ in range(2):  # the second from the rendered-post fragments
            page = await reader.get(f"/t/{thread_id}")
            assert page.soup.html["lang"] == "en"
            assert body_langs(page) == ["en", "fr"]


async def test_the_default_is_the_authors_interface_language_also_when_none_is_sent(
    browser: Browser, database: Database, demo: None
) -> None:
    await browser.signup("Glycine")
    await switch_to(browser, "en")
    composer = await browser.get("/s/anxiete/new")
    assert composer.one("form.composer select[name=lang] option[selected]")["value"] == "en"
    thread_id = thread_of(await browser.start_thread("anxiete", "Sleeping badly", IN_ENGLISH))
    assert (await stored_langs(database))[-1] == "en"

    # An htmx reply from a form without the field (an older page still open): the interface's.
    page = await browser.get(f"/t/{thread_id}")
    form = page.form("#reply-form")
    values = {k: v for k, v in form.values().items() if k != "lang"}
    response = await browser.client.post(
        str(form.element["data-hx-post"]), data={**values, "body": "Thanks for reading."},
        headers={"HX-Request": "true", "HX-Current-URL": str(page.response.url),
                 **page.hx_headers()})
    assert response.status_code == 200, response.text
    assert (await stored_langs(database))[-1] == "en"
    appended = Page(response).one(f"#post-{await latest_post_id(database)} .post__body")
    assert appended["lang"] == "en"


async def test_an_unknown_language_is_refused_with_the_text_kept(
    browser: Browser, database: Database, demo: None
) -> None:
    await browser.signup("Glycine")
    before = await stored_langs(database)
    refused = await browser.start_thread("anxiete", "Mon fil", IN_FRENCH, lang="de")
    assert refused.status == 422
    assert refused.one("#lang-error").get_text(strip=True) == (
        "Choisis la langue de ton message dans la liste : Français ou English.")
    field = refused.one("form.composer select[name=lang]")
    assert field["aria-invalid"] == "true"
    assert "lang-error" in field["aria-describedby"].split()
    assert refused.one("form.composer textarea[name=body]").get_text() == IN_FRENCH
    assert refused.one("form.composer input[name=title]")["value"] == "Mon fil"
    assert await stored_langs(database) == before

    thread_id = thread_of(await browser.start_thread("anxiete", "Mon fil", IN_FRENCH))
    htmx = await browser.reply(thread_id, IN_FRENCH + " Encore.", htmx=True, lang="xx'><b>")
    assert htmx.status == 422
    assert htmx.one("#reply-form textarea[name=body]").get_text() == IN_FRENCH + " Encore."
    assert htmx.one("#lang-error")
    assert "xx'" not in htmx.response.text  # refused, never shown back
    assert len(await stored_langs(database)) == len(before) + 1


async def test_an_edit_changes_the_language_everywhere_the_post_is_shown(
    app: Litestar, browser: Browser, database: Database, demo: None
) -> None:
    await browser.signup("Glycine")
    thread_id = thread_of(await browser.start_thread("anxiete", "Sleeping badly", IN_ENGLISH))
    post_id = await latest_post_id(database)  # written in English, said to be French
    cache = app.app
    async with AsyncTestClient(app=app, base_url=BASE) as other:
        visitor = Browser(other)
        for _ in range(2):
            assert body_langs(await visitor.get(f"/t/{thread_id}")) == ["fr"]
        hits = cache.hits
        assert body_langs(await visitor.get(f"/t/{thread_id}")) == ["fr"]
        assert cache.hits == hits + 1  # the visitor's page is a stored copy

        edit = await browser.get(f"/p/{post_id}/edit")
        assert edit.one("form.composer select[name=lang] option[selected]")["value"] == "fr"
        edited = await browser.submit(edit.form("form.composer"), {"lang": "en"})  # alone
        assert edited.status == 303

        assert body_langs(await visitor.get(f"/t/{thread_id}")) == ["en"]
        assert body_langs(await browser.get(f"/t/{thread_id}")) == ["en"]
    edit = await browser.get(f"/p/{post_id}/edit")
    assert edit.one("form.composer select[name=lang] option[selected]")["value"] == "en"
    kept = await browser.submit(edit.form("form.composer"), {"body": IN_ENGLISH + " Edited."})
    assert kept.status == 303
    assert (await stored_langs(database))[-1] == "en"  # an edit that sends it keeps it

    history = await browser.get(f"/p/{post_id}/revisions")
    assert [b.get("lang") for b in history.all(".revision__body")] == ["fr", "en", "en"]
    async with database.reader() as session:
        revisions = list(await session.scalars(
            select(PostRevision.lang).where(PostRevision.post_id == post_id)
            .order_by(PostRevision.id)))
    assert revisions == ["fr", "en"]

    exported = json.loads((await browser.client.get("/me/export.json")).content)
    [post] = [p for p in exported["posts"] if p["id"] == post_id]
    assert post["lang"] == "en"
    assert [v["lang"] for v in post["earlier_versions"]] == ["fr", "en"]
    page = await browser.get("/me/export")
    assert page.one(".export-post__source")["lang"] == "en"


async def test_a_post_older_than_the_choice_carries_no_lang_and_an_edit_without_it_keeps_it(
    browser: Browser, database: Database, demo: None
) -> None:
    await browser.signup("Glycine")
    thread_id = thread_of(await browser.start_thread("anxiete", "Mon fil", IN_FRENCH))
    post_id = await latest_post_id(database)
    async with database.writing() as session:
        await session.execute(update(Post).where(Post.id == post_id).values(lang=None))
    page = await browser.get(f"/t/{thread_id}")
    assert body_langs(page) == [None]
    assert page.one("article.post .post__body")["dir"] == "auto"

    edit = await browser.get(f"/p/{post_id}/edit")
    form = edit.form("form.composer")
    values = {k: v for k, v in form.values().items() if k != "lang"}
    response = await browser.client.post(form.action, data={**values, "body": IN_FRENCH + "!"},
                                         follow_redirects=False)
    assert response.status_code == 303
    assert (await stored_langs(database))[-1] is None


async def test_the_crisis_pause_keeps_the_chosen_language_both_ways(
    browser: Browser, database: Database, demo: None
) -> None:
    """Publishing from the pause, or going back to the composer from it, keeps the choice."""
    await browser.signup("Glycine")
    text = "Ce soir je vais en finir, j'ai tout ce qu'il faut à côté de moi."
    paused = await browser.reply(1, text, lang="en")
    assert paused.status == 200
    back = await browser.submit(paused.form(".crisis-pause__form"), {"crisis_edit": "1"})
    assert back.one("#reply-form select[name=lang] option[selected]")["value"] == "en"
    paused = await browser.reply(1, text, lang="en")
    published = await browser.submit(paused.form(".crisis-pause__form"), {"crisis_ack": "1"})
    assert published.status == 303
    assert (await stored_langs(database))[-1] == "en"


async def test_search_results_carry_each_posts_language(
    browser: Browser, database: Database, demo: None
) -> None:
    """A snippet is the post's words: it carries the post's ``lang``; the thread's title does
    when the hit is the opening post (whose language the title shares)."""
    await browser.signup("Glycine")
    thread_id = thread_of(await browser.start_thread(
        "anxiete", "Sleeping badly lately", IN_ENGLISH, lang="en"))
    assert (await browser.reply(thread_id, "Je dors mal aussi, la tisane m'aide un peu.")).status \
        == 303
    english = await browser.get("/search?q=weeks")
    hit = english.one(".search-hit")
    assert hit.select_one(".search-hit__snippet")["lang"] == "en"
    assert hit.select_one(".search-hit__title")["lang"] == "en"
    french = await browser.get("/search?q=tisane")
    hit = french.one(".search-hit")
    assert hit.select_one(".search-hit__snippet")["lang"] == "fr"
    assert hit.select_one(".search-hit__title").get("lang") is None  # a reply: title unknown
