"""The same text posted twice in a row by the same author is refused with a clear message
(the text kept); a double submit of one form still lands on the stored post; an edit that
keeps the text is not "posting twice"."""

from __future__ import annotations

from sqlalchemy import func, select

from forum.db import Database
from forum.models import Post
from tests.browsing import Browser

TEXT = "Merci à vous, ça me fait du bien de vous lire ce soir."


async def _posts(database: Database) -> int:
    async with database.reader() as session:
        return int(await session.scalar(select(func.count()).select_from(Post)))


async def test_the_same_text_twice_in_a_row_is_refused_and_kept(
    browser: Browser, database: Database, demo: None,
) -> None:
    await browser.signup("Glycine")
    assert (await browser.reply(1, TEXT)).status == 303
    before = await _posts(database)
    again = await browser.reply(2, TEXT)
    assert again.status == 422
    assert "exactement ce texte" in again.text("#body-error")
    assert again.one("#reply-form textarea[name=body]").get_text() == TEXT
    assert await _posts(database) == before


async def test_a_different_text_in_between_allows_it_again(
    browser: Browser, demo: None,
) -> None:
    await browser.signup("Glycine")
    assert (await browser.reply(1, TEXT)).status == 303
    assert (await browser.reply(1, "Et bonne nuit à toutes et tous.")).status == 303
    assert (await browser.reply(1, TEXT)).status == 303


async def test_a_double_submit_still_returns_the_stored_post(
    browser: Browser, database: Database, demo: None,
) -> None:
    await browser.signup("Glycine")
    form = (await browser.get("/t/1")).form("#reply-form")
    first = await browser.submit(form, {"body": TEXT})
    second = await browser.submit(form, {"body": TEXT})
    assert first.status == second.status == 303
    assert first.response.headers["location"] == second.response.headers["location"]


async def test_an_edit_keeping_the_same_text_is_not_posting_twice(
    browser: Browser, demo: None,
) -> None:
    await browser.signup("Glycine")
    posted = await browser.reply(1, TEXT)
    post_id = posted.response.headers["location"].rsplit("#post-", 1)[1]
    edit = await browser.get(f"/p/{post_id}/edit")
    saved = await browser.submit(edit.form("main form"), {"body": TEXT + " "})
    assert saved.status == 303


async def test_a_short_courtesy_text_may_be_repeated(browser: Browser, demo: None) -> None:
    await browser.signup("Glycine")
    assert (await browser.reply(1, "Merci, ça m'aide.")).status == 303
    assert (await browser.reply(2, "Merci, ça m'aide.")).status == 303


CRISIS_TEXT = "Je n'en peux plus, ce soir j'ai décidé d'en finir, j'ai tout préparé."


async def test_a_worrying_text_refused_as_a_repeat_still_shows_the_lines(
    browser: Browser, database: Database, demo: None,
) -> None:
    """Someone in distress may post the same words in a second space to be read: the repeat is
    refused as any other, but the refusal shows the region's lines beside the reason (it used to
    show a red rule and nothing else). An ordinary repeat shows no lines."""
    await browser.signup("Glycine")
    pause = await browser.reply(1, CRISIS_TEXT)
    assert pause.status == 200 and pause.one(".crisis-pause")
    assert (await browser.reply(1, CRISIS_TEXT, crisis_ack="1")).status == 303
    before = await _posts(database)
    again = await browser.reply(2, CRISIS_TEXT)
    assert again.status == 422
    assert "exactement ce texte" in again.text("#body-error")
    care = again.one("#reply-form .crisis-line--refused")
    assert "tel:3114" in [a["href"] for a in care.select("a[href^='tel:']")]
    assert again.one("#reply-form textarea[name=body]").get_text() == CRISIS_TEXT
    assert await _posts(database) == before
    swapped = await browser.reply(2, CRISIS_TEXT, htmx=True)  # the form htmx swaps in
    assert swapped.status == 422 and swapped.one("#reply-form .crisis-line--refused")
    assert (await browser.reply(1, TEXT)).status == 303
    ordinary = await browser.reply(2, TEXT)
    assert ordinary.status == 422 and not ordinary.all(".crisis-line--refused")
