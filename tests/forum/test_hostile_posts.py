"""Hostile inputs through the full path: form -> stored -> thread page. Nothing script-capable
or third-party-loading survives into the page that readers get (security.md §5, XSS-02)."""

import asyncio
import threading
import time
from collections import defaultdict
from uuid import uuid4

from sqlalchemy import select

import moderation.gate
from forum.db import Database
from forum.models import Post
from tests.browsing import Browser
from tests.moderation.hostile_corpus import CORPUS
from tests.moderation.invariants import check_invariants

PER_CATEGORY = 10


def sample() -> list[tuple[str, str, str]]:
    by_category: dict[str, list] = defaultdict(list)
    for vector in CORPUS:
        by_category[vector[0]].append(vector)
    chosen = []
    for vectors in by_category.values():
        step = max(1, len(vectors) // PER_CATEGORY)
        chosen.extend(vectors[::step][:PER_CATEGORY])
    return chosen


async def test_hostile_posts_are_harmless_on_the_page(
    browser: Browser, database: Database, demo: None
) -> None:
    await browser.signup("Vigilance")
    vectors = [v for v in sample() if "\x00" not in v[2] and len(v[2]) <= 20_000]
    assert len(vectors) >= 100
    result = await browser.start_thread("bien-etre", "Corpus hostile", "Début du corpus.")
    assert result.status == 303
    thread_id = int(result.response.headers["location"].split("/t/")[1].split("#")[0])
    form = (await browser.get(f"/t/{thread_id}")).form("#reply-form")
    accepted = 0
    for category, rationale, payload in vectors:
        reply = await browser.submit(form, {"body": payload, "idempotency_key": uuid4().hex})
        assert reply.status in (303, 422), (category, rationale, reply.status)
        accepted += reply.status == 303
    assert accepted >= len(vectors) // 2
    async with database.reader() as session:
        stored = list(await session.scalars(select(Post.html).where(Post.thread_id == thread_id)))
    for html in stored:
        assert check_invariants(html) == [], html
    page_number = 1
    while True:
        page = await browser.get(f"/t/{thread_id}?page={page_number}")
        if page.status == 404:
            break
        for body in page.all(".post__body"):
            assert body.has_attr("data-hx-disable")
            assert check_invariants(body.decode_contents()) == []
        scripts = [s.get("src") for s in page.all("script")]
        assert all(src and src.startswith("/static/") for src in scripts), scripts
        for tag, attribute in (("img", "src"), ("iframe", "src"), ("link", "href"),
                               ("form", "action")):
            for element in page.all(f"{tag}[{attribute}]"):
                value = element[attribute]
                assert value.startswith("/") and not value.startswith("//"), (tag, value)
        page_number += 1
    assert page_number > 2


async def test_titles_and_pseudonyms_are_escaped(browser: Browser, demo: None) -> None:
    await browser.signup("Prudence")
    result = await browser.start_thread(
        "bien-etre", '<script>window.__x=1</script> "titre" & <b>gras</b>', "Corps simple")
    page = await browser.follow(result)
    title = page.one("h1")
    assert title.get_text() == '<script>window.__x=1</script> "titre" & <b>gras</b>'
    assert not title.find_all(["script", "b"])
    assert "<script>window.__x" not in page.response.text


async def test_a_text_whose_reading_outlasts_the_budget_is_answered_503_and_kept(
    app, browser: Browser, database: Database, demo: None, monkeypatch, caplog
) -> None:
    # Stands for a text (or a machine) so slow that the gate's worker thread is still busy
    # when the budget ends: the request stops waiting for it.
    await browser.signup("Sablier")
    started = await browser.start_thread("bien-etre", "Un fil", "Bonjour.")
    thread_id = int(started.response.headers["location"].split("/t/")[1].split("#")[0])
    gate = app.state.gate
    read_now = gate.read_now

    def slow_read(text: str, locale: str | None = None):  # noqa: ANN202
        time.sleep(3.0)
        return read_now(text, locale)

    monkeypatch.setattr(moderation.gate, "READ_BUDGET_SECONDS", 0.2)
    monkeypatch.setattr(gate, "read_now", slow_read)
    body = "Je voulais vous raconter ma semaine, elle a été longue."
    started_at = time.monotonic()
    page = await browser.reply(thread_id, body)
    assert time.monotonic() - started_at < 2.5  # the answer did not wait for the thread
    assert page.status == 503
    assert page.response.headers["retry-after"].isdigit()
    assert body in page.text()
    assert "took longer than" in caplog.text and body not in caplog.text
    async with database.reader() as session:
        assert await session.scalar(select(Post.id).where(Post.source == body)) is None


async def test_a_process_reads_one_post_at_a_time_and_every_post_gets_read(app) -> None:
    # More reading threads would only take the GIL from the event loop more often.
    gate = app.state.gate
    read_now = gate.read_now
    running, most = 0, 0
    lock = threading.Lock()

    def counted(text: str, locale: str | None = None):  # noqa: ANN202
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            time.sleep(0.02)
            return read_now(text, locale)
        finally:
            with lock:
                running -= 1

    gate.read_now = counted
    try:
        readings = await asyncio.gather(*(gate.read(f"Message numéro {n}.", locale="fr")
                                          for n in range(6)))
    finally:
        gate.read_now = read_now
    assert most == moderation.gate.READERS_PER_PROCESS == 1
    assert [r.html for r in readings] == [f"<p>Message numéro {n}.</p>\n" for n in range(6)]
