"""Live updates in Chromium (issue 18): each page JavaScript runs on holds one event stream,
``/live`` (``?thread=ID`` on a thread page), and what it hears shows without a reload: a
thread's new posts in its polite live region, the header's counts. Without JavaScript the
pages are as before: no stream, and a reload shows what is new.

Each person is in a browser context of their own, writing through the real forms; the
moderator is the one :mod:`tests.browser.seed` gives the ``anxiete`` space.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import _open_page
from tests.browser.flows import focused_id, reply_with_htmx, sign_up, start_thread
from tests.browser.moderating import log_in
from tests.browser.seed import MODERATOR

pytestmark = pytest.mark.browser

OPENING = "Je lance ce fil pour parler de nos semaines, tranquillement."
FIRST_REPLY = "Ma semaine a été longue, mais j'ai revu une amie mercredi."
SECOND_REPLY = "Et toi, comment s'est passé ton rendez-vous de jeudi ?"
URGENT_TEXT = "J'ai tout préparé, ce soir je vais en finir, je ne veux plus être là demain."

LIVE_WITHIN_MS = 3_000
"""How soon an event shows: far below the header's polls (every 30 s and 60 s)."""

NEWS_SAYS = """([text]) => {
    const news = document.getElementById('thread-news');
    return news !== null && news.textContent.startsWith(text);
}"""
BADGE_ABOVE = """([id, count]) => {
    const badge = document.querySelector('#' + id + ' .badge');
    return badge !== null && Number(badge.textContent) > count;
}"""


@pytest.fixture
def other_page(chromium: Any, base_url: str) -> Iterator[Any]:
    """A second person, in a browser context of their own, watched like ``page``."""
    yield from _open_page(chromium, base_url)


def _streams(page: Any) -> list[str]:
    """The ``/live`` requests ``page`` makes from now on (their query strings)."""
    opened: list[str] = []
    page.on("request", lambda request: opened.append(urlsplit(request.url).query)
            if urlsplit(request.url).path == "/live" else None)
    return opened


def _goto_listening(page: Any, url: str) -> None:
    """Open ``url`` and wait until its page's stream has answered (it then listens). A
    request, not a response, is awaited first: the page left may still be hearing the answer
    to its own stream."""
    with page.expect_request(lambda r: urlsplit(r.url).path == "/live") as opened:
        page.goto(url)
    answered = opened.value.response()
    assert answered is not None
    assert answered.status == 200
    assert answered.headers["content-type"].startswith("text/event-stream")


def _badge(page: Any, id_: str) -> int:
    badge = page.locator(f"#{id_} .badge")
    return int(badge.inner_text()) if badge.count() else 0


def _wait_for_badge_above(page: Any, id_: str, count: int) -> None:
    """Wait, no longer than a live event takes, until the header's ``#id_`` shows more than
    ``count``."""
    page.wait_for_function(BADGE_ABOVE, arg=[id_, count], timeout=LIVE_WITHIN_MS)


def test_a_reply_shows_as_news_on_an_open_thread_page_and_appends_without_a_reload(
    page: Any, other_page: Any,
) -> None:
    reader, writer = page, other_page
    sign_up(reader)
    thread_id = start_thread(reader, "Nos semaines, en direct", OPENING)
    sign_up(writer)
    writer.goto(f"/t/{thread_id}")

    streams = _streams(reader)
    _goto_listening(reader, f"/t/{thread_id}")
    assert streams == [f"thread={thread_id}"], "a thread page opens exactly one stream"
    reader.evaluate("window.__marker = 1")
    news = reader.locator("#thread-news")
    assert news.get_attribute("role") == "status"
    assert news.get_attribute("aria-live") == "polite"
    assert news.inner_text() == ""
    unread = _badge(reader, "unread-notifications")

    first_post = reply_with_htmx(writer, FIRST_REPLY)
    reader.wait_for_function(NEWS_SAYS, arg=["1 nouveau message dans ce fil."],
                             timeout=LIVE_WITHIN_MS)
    assert news.locator("a").inner_text() == "Les afficher"
    assert FIRST_REPLY not in reader.inner_text("#posts"), "the post came before it was asked"

    reply_with_htmx(writer, SECOND_REPLY)
    reader.wait_for_function(NEWS_SAYS, arg=["2 nouveaux messages dans ce fil."],
                             timeout=LIVE_WITHIN_MS)
    # The thread's author follows it: the notices' count rose too, from the same stream.
    _wait_for_badge_above(reader, "unread-notifications", unread)

    news.get_by_role("link", name="Les afficher").click()
    reader.wait_for_function("(id) => document.activeElement && document.activeElement.id === id",
                             arg=first_post)

    posts = reader.inner_text("#posts")
    assert FIRST_REPLY in posts
    assert SECOND_REPLY in posts
    assert reader.locator("#posts article.post").count() == 3
    assert focused_id(reader) == first_post, "the first new post does not have the focus"
    assert news.inner_text() == "Nouveaux messages ajoutés à la fin du fil."
    assert reader.inner_text("#thread-reply-count") == "2 réponses", "the header's count"
    assert reader.evaluate("window.__marker") == 1, "showing the new posts reloaded the page"
    assert streams == [f"thread={thread_id}"], "the stream was opened again"


def test_an_urgent_post_raises_the_moderator_s_counts_without_a_reload(
    page: Any, other_page: Any,
) -> None:
    member, moderator = page, other_page
    sign_up(member)
    start_thread(member, "Une soirée qui pèse", OPENING)
    log_in(moderator, MODERATOR)
    streams = _streams(moderator)
    _goto_listening(moderator, "/")
    assert streams == [""], "a page without a thread opens one stream, for the member"
    moderator.evaluate("window.__marker = 1")
    queue, unread = _badge(moderator, "mod-link"), _badge(moderator, "unread-notifications")

    # The crisis pause first; the member publishes anyway.
    member.fill("#reply-body", URGENT_TEXT)
    member.click("#reply-form button[type=submit]")
    member.wait_for_selector("[data-crisis-level=urgent]")
    member.click("[data-crisis-level] button[name=crisis_ack]")
    member.wait_for_function(
        "() => document.activeElement && /^post-\\d+$/.test(document.activeElement.id)"
    )

    _wait_for_badge_above(moderator, "mod-link", queue)
    _wait_for_badge_above(moderator, "unread-notifications", unread)
    assert moderator.evaluate("window.__marker") == 1, "the counts came with a page load"
    assert _badge(moderator, "mod-link") == queue + 1
    assert "urgent" in moderator.inner_text("#mod-link .visually-hidden")


def test_without_javascript_no_stream_opens_and_a_reload_shows_the_reply(
    nojs_page: Any, page: Any,
) -> None:
    reader, writer = nojs_page, page
    sign_up(writer)
    thread_id = start_thread(writer, "Sans JavaScript, un fil calme", OPENING)
    requested: list[str] = []
    reader.on("request", lambda request: requested.append(urlsplit(request.url).path))
    sign_up(reader)
    reader.goto(f"/t/{thread_id}")
    assert reader.inner_text("#thread-news") == ""

    reply_with_htmx(writer, FIRST_REPLY)
    reader.wait_for_timeout(1_000)  # what a stream would have needed, had there been one
    assert reader.inner_text("#thread-news") == "", "the news region is filled without a script"
    assert FIRST_REPLY not in reader.inner_text("#posts")

    reader.reload()
    assert FIRST_REPLY in reader.inner_text("#posts")
    assert "/live" not in requested, "a page without JavaScript opened a stream"
    assert f"/t/{thread_id}" in requested
