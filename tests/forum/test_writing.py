"""Writing through the real forms: start a thread, reply (with and without htmx), edit, delete,
and every kind of bad input: a clear message, the text kept, nothing stored."""

from typing import Any

import pytest
from sqlalchemy import func, select

from forum.db import Database
from forum.gate import Verdict
from forum.models import Post, PostRevision, Thread
from tests.browsing import Browser


async def count(database: Database, model: type) -> int:
    async with database.reader() as session:
        return int(await session.scalar(select(func.count()).select_from(model)))


async def test_member_starts_a_thread_and_lands_on_it(browser: Browser, demo: None) -> None:
    await browser.signup("Glycine")
    result = await browser.start_thread(
        "anxiete", "Mon premier fil", "Bonjour à toutes et à tous, *merci* d'être là."
    )
    assert result.status == 303
    page = await browser.follow(result)
    assert page.one("h1").get_text(strip=True) == "Mon premier fil"
    post = page.one("article.post")
    assert post.select_one(".post__author").get_text(strip=True) == "Glycine"
    assert post.select_one(".post__body em").get_text() == "merci"
    space = await browser.get("/s/anxiete")
    assert space.one(".thread-row__title").get_text(strip=True) == "Mon premier fil"


async def test_reply_without_javascript_redirects_to_the_new_post(
    browser: Browser, database: Database, demo: None
) -> None:
    await browser.signup("Glycine")
    result = await browser.reply(1, "Je me reconnais dans ce que tu écris.")
    assert result.status == 303
    location = result.response.headers["location"]
    assert location.startswith("/t/1?page=1#post-")
    page = await browser.follow(result)
    new_id = location.split("#")[1]
    assert "Je me reconnais" in page.one(f"#{new_id}").get_text()
    assert "3 réponses" in page.text(".thread__meta")


async def test_reply_through_htmx_returns_a_cleared_form_and_the_new_post(
    browser: Browser, demo: None
) -> None:
    await browser.signup("Glycine")
    before = (await browser.get("/t/1")).text("#thread-reply-count")
    result = await browser.reply(1, "Courage, tu n'es pas seul·e.", htmx=True)
    assert result.status == 200
    assert result.response.headers["vary"] == "HX-Request"
    form = result.one("form#reply-form")
    assert form.select_one("textarea[name=body]").get_text() == ""
    oob = result.one("[data-hx-swap-oob^=beforeend]")
    assert oob["data-hx-swap-oob"] == "beforeend:#posts"
    # The header's count follows without a reload ("0 réponses" stayed until one).
    count = result.one("#thread-reply-count[data-hx-swap-oob=true]")
    assert count.get_text() == f"{int(before.split()[0]) + 1} réponses"
    new_post = oob.select_one("article.post")
    assert "Courage" in new_post.get_text()
    trigger = result.response.headers["hx-trigger-after-settle"]
    assert new_post["id"] in trigger
    assert not result.all("html, body")


async def test_htmx_reply_error_keeps_the_text_and_says_why(
    browser: Browser, database: Database, demo: None
) -> None:
    await browser.signup("Glycine")
    before = await count(database, Post)
    too_long = "é" * 20_001
    result = await browser.reply(1, too_long, htmx=True)
    assert result.status == 422
    assert result.one("textarea[name=body]").get_text() == too_long
    assert "trop long" in result.one(".field-error").get_text()
    assert result.one("textarea[name=body]")["aria-invalid"] == "true"
    assert await count(database, Post) == before


@pytest.mark.parametrize("body, message", [
    ("", "Ce champ est vide."),
    ("   \n  ", "Ce champ est vide."),
    ("x" * 20_001, "C'est trop long"),
    ("bonjour\x00toi", "caractères invisibles"),
    ("bip\x07", "caractères invisibles"),
])
async def test_bad_replies_without_javascript_keep_the_text_and_store_nothing(
    browser: Browser, database: Database, demo: None, body: str, message: str
) -> None:
    await browser.signup("Glycine")
    before = await count(database, Post)
    result = await browser.reply(1, body)
    assert result.status == 422
    assert message in result.one(".field-error").get_text()
    assert result.one("#reply-form .form-error")
    if body.strip():
        assert result.one("textarea[name=body]").get_text().strip() == body.strip()
    assert await count(database, Post) == before


@pytest.mark.parametrize("title, message", [
    ("", "Ce champ est vide."),
    ("ab", "au moins 3 caractères"),
    ("t" * 151, "C'est trop long"),
    ("deux\nlignes", "caractères invisibles"),
])
async def test_bad_titles_keep_what_was_typed(
    browser: Browser, database: Database, demo: None, title: str, message: str
) -> None:
    await browser.signup("Glycine")
    before = await count(database, Thread)
    result = await browser.start_thread("anxiete", title, "Le corps du message reste là.")
    assert result.status == 422
    assert message in result.one(".field-error").get_text()
    assert result.one("textarea[name=body]").get_text() == "Le corps du message reste là."
    assert await count(database, Thread) == before


async def test_a_visitor_posting_is_asked_to_log_in_and_gets_the_text_back(
    browser: Browser, database: Database, demo: None
) -> None:
    thread = await browser.get("/t/1")
    assert not thread.all("#reply-form")
    assert thread.one(".notice--invite a[href^='/login']")
    before = await count(database, Post)
    response = await browser.client.post(
        "/t/1/reply", data={"body": "Mon texte de visiteur", "_csrf_token": thread.hx_headers()[
            "x-csrftoken"]},
    )
    assert response.status_code == 401
    page = type(thread)(response)
    assert "Connecte-toi pour continuer" in page.text()
    assert page.one("textarea#typed-body").get_text() == "Mon texte de visiteur"
    assert await count(database, Post) == before


async def test_a_form_posted_without_its_csrf_token_is_refused_and_keeps_the_text(
    browser: Browser, database: Database, demo: None
) -> None:
    await browser.signup("Glycine")
    before = await count(database, Post)
    # From one of the forum's pages (its Origin), a lost token still gives the text back...
    response = await browser.client.post("/t/1/reply", data={"body": "Sans jeton"},
                                         headers={"Origin": "http://testserver.local"})
    assert response.status_code == 403
    assert "Sans jeton" in response.text
    # ... never to another site's form (it would print its words on a page of the forum).
    elsewhere = await browser.client.post("/t/1/reply", data={"body": "Sans jeton"},
                                          headers={"Origin": "https://ailleurs.example"})
    assert elsewhere.status_code == 403
    assert "Sans jeton" not in elsewhere.text
    forged = await browser.client.post(
        "/t/1/reply", data={"body": "Jeton forgé", "_csrf_token": "0" * 128}
    )
    assert forged.status_code == 403
    assert await count(database, Post) == before


async def test_a_double_submit_stores_one_post(
    browser: Browser, database: Database, demo: None
) -> None:
    await browser.signup("Glycine")
    page = await browser.get("/t/1")
    form = page.form("#reply-form")
    before = await count(database, Post)
    first = await browser.submit(form, {"body": "Envoyé deux fois"})
    second = await browser.submit(form, {"body": "Envoyé deux fois"})
    assert first.status == second.status == 303
    assert first.response.headers["location"] == second.response.headers["location"]
    assert await count(database, Post) == before + 1


async def test_a_double_submit_with_htmx_answers_with_the_first_post(
    browser: Browser, database: Database, demo: None
) -> None:
    """The second send finds its key taken: the answer leads to the post the first send
    stored, with nothing counted twice."""
    await browser.signup("Glycine")
    page = await browser.get("/t/1")
    form = page.form("#reply-form")
    first = await browser.submit(form, {"body": "Envoyé deux fois, avec htmx"}, htmx=True)
    assert first.status == 200
    post_id = first.response.headers["hx-trigger-after-settle"].split("post-")[1].split('"')[0]
    async with database.reader() as session:
        counted = await session.scalar(select(Thread.post_count).where(Thread.id == 1))
    second = await browser.submit(form, {"body": "Envoyé deux fois, avec htmx"}, htmx=True)
    assert second.status == 200
    assert second.response.headers["hx-redirect"].endswith(f"#post-{post_id}")
    async with database.reader() as session:
        assert await session.scalar(select(Thread.post_count).where(Thread.id == 1)) == counted
        assert await session.scalar(select(func.count()).select_from(Post).where(
            Post.source == "Envoyé deux fois, avec htmx")) == 1


async def test_a_thread_started_twice_with_one_key_is_one_thread(
    browser: Browser, database: Database, demo: None
) -> None:
    await browser.signup("Glycine")
    page = await browser.get("/s/anxiete/new")
    form = page.form("form.composer")
    values = {"title": "Un fil envoyé deux fois", "body": "Le même formulaire, deux clics."}
    threads = await count(database, Thread)
    first = await browser.submit(form, values)
    second = await browser.submit(form, values)
    assert first.status == second.status == 303
    assert first.response.headers["location"] == second.response.headers["location"]
    assert await count(database, Thread) == threads + 1
    space = await browser.get("/s/anxiete")
    titles = [a.get_text(strip=True) for a in space.all(".thread-row__title")]
    assert titles.count("Un fil envoyé deux fois") == 1


async def _post_both_with_keys(database: Database, text: str) -> tuple[Any, Any]:
    """A reply to thread 1 and a new thread in its space, by the first member, each with a
    fixed idempotency key, in one unit of work."""
    from forum import actions
    from forum.models import Member, Space

    async with database.writing() as db:
        author = await db.scalar(select(Member).order_by(Member.id).limit(1))
        thread = await db.get(Thread, 1)
        space = await db.get(Space, thread.space_id)
        replied = await actions.do_reply(db, thread=thread, author=author, source=text,
                                         verdict=VERDICT, idempotency_key="cle-reponse")
        started = await actions.do_create_thread(
            db, space=space, author=author, title=text, source=text, verdict=VERDICT,
            idempotency_key="cle-fil")
    return replied, started


async def test_an_action_given_a_key_already_stored_writes_and_counts_nothing(
    database: Database, demo: None
) -> None:
    """``do_reply`` and ``do_create_thread`` given a key already stored answer the stored post
    and leave every counter as it was."""
    from forum.models import Space

    first_reply, first_thread = await _post_both_with_keys(database, "Une fois")
    assert first_reply.created and first_thread.created

    async def counters() -> tuple[Any, ...]:
        async with database.reader() as session:
            return (
                (await session.execute(select(Thread.post_count, Thread.reply_count)
                                       .where(Thread.id == 1))).one(),
                (await session.execute(select(Space.thread_count, Space.last_activity_at)
                                       .join(Thread, Thread.space_id == Space.id)
                                       .where(Thread.id == 1))).one(),
                await count(database, Post), await count(database, Thread),
            )

    before = await counters()
    again_reply, again_thread = await _post_both_with_keys(database, "Deux fois")
    assert not again_reply.created and again_reply.post.id == first_reply.post.id
    assert not again_thread.created and again_thread.post.id == first_thread.post.id
    assert await counters() == before


async def test_a_form_sent_again_to_another_thread_leads_to_the_post_it_stored(
    browser: Browser, database: Database, demo: None
) -> None:
    """A replayed form (same key) posted to another thread stores nothing and answers with
    the post the key already made, never a 500."""
    await browser.signup("Glycine")
    values = {**(await browser.get("/t/1")).form("#reply-form").values(),
              "body": "Une réponse envoyée ici, puis ailleurs"}
    first = await browser.client.post("/t/1/reply", data=values, follow_redirects=False)
    assert first.status_code == 303
    posts = await count(database, Post)
    again = await browser.client.post("/t/2/reply", data=values, follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["location"].split("#")[1] == first.headers["location"].split("#")[1]
    assert await count(database, Post) == posts


async def test_a_twin_stored_after_the_key_was_looked_up_leaves_the_thread_usable(
    database: Database, demo: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL's race, played on either database: the twin's post is stored after this
    send looked its key up, so this insert is refused inside its savepoint. The savepoint's
    rollback expired the thread and space its statements changed; the action reads them
    again, so the handler can still build its answer from them (before, a 500)."""
    from forum import actions, queries
    from forum.models import Member

    await _post_both_with_keys(database, "Le jumeau")
    posts = await count(database, Post)
    real = actions.find_post_by_key
    calls = {"n": 0}

    async def missed_once(*args: Any) -> Any:
        calls["n"] += 1
        return None if calls["n"] == 1 else await real(*args)

    monkeypatch.setattr(actions, "find_post_by_key", missed_once)
    async with database.writing() as db:
        author = await db.scalar(select(Member).order_by(Member.id).limit(1))
        thread = await queries.get_thread_or_404(db, author, 1)
        counted = thread.post_count
        posted = await actions.do_reply(db, thread=thread, author=author, source="Le jumeau",
                                        verdict=VERDICT, idempotency_key="cle-reponse")
        assert not posted.created and calls["n"] == 2
        assert thread.post_count == counted and thread.space.slug
    assert await count(database, Post) == posts


async def test_a_body_over_the_size_limit_gets_a_413_page(browser: Browser, demo: None) -> None:
    await browser.signup("Glycine")
    page = await browser.get("/t/1")
    response = await browser.client.post(
        "/t/1/reply", content=b"body=" + b"a" * 400_000,
        headers={"content-type": "application/x-www-form-urlencoded",
                 "x-csrftoken": page.hx_headers()["x-csrftoken"]},
    )
    assert response.status_code == 413
    assert "trop volumineux" in response.text


async def test_author_edits_a_post_and_the_previous_text_is_kept(
    browser: Browser, database: Database, demo: None
) -> None:
    await browser.signup("Glycine")
    posted = await browser.reply(1, "Première version")
    post_id = posted.response.headers["location"].split("post-")[1]
    edit = await browser.get(f"/p/{post_id}/edit")
    assert edit.one("textarea[name=body]").get_text() == "Première version"
    saved = await browser.submit(edit.form("form.composer"), {"body": "Seconde version"})
    assert saved.status == 303
    page = await browser.get(f"/t/1#post-{post_id}")
    post = page.one(f"#post-{post_id}")
    assert "Seconde version" in post.get_text()
    assert post.select_one(".post__edited").get_text(strip=True) == "modifié"
    async with database.reader() as session:
        revisions = list(await session.scalars(
            select(PostRevision.source).where(PostRevision.post_id == int(post_id))))
    assert revisions == ["Première version"]


async def test_only_the_author_may_edit_or_delete(browser: Browser, demo: None) -> None:
    await browser.signup("Glycine")
    posted = await browser.reply(1, "Mon message")
    post_id = posted.response.headers["location"].split("post-")[1]
    await browser.logout()
    await browser.signup("Bleuet")
    thread = await browser.get("/t/1")
    own_links = thread.one(f"#post-{post_id}").select("a[href$='/edit'], a[href$='/delete']")
    assert not own_links
    assert (await browser.get(f"/p/{post_id}/edit")).status == 403
    token = thread.hx_headers()["x-csrftoken"]
    response = await browser.client.post(
        f"/p/{post_id}/delete", data={"_csrf_token": token}, follow_redirects=False)
    assert response.status_code == 403


async def test_author_deletes_a_post_and_the_thread_shows_a_placeholder(
    browser: Browser, database: Database, demo: None
) -> None:
    await browser.signup("Glycine")
    posted = await browser.reply(1, "Un message que je regrette")
    post_id = int(posted.response.headers["location"].split("post-")[1])
    confirm = await browser.get(f"/p/{post_id}/delete")
    deleted = await browser.submit(confirm.form("main form"))
    assert deleted.status == 303
    page = await browser.get("/t/1")
    post = page.one(f"#post-{post_id}")
    assert post.select_one(".post__placeholder").get_text(strip=True) == (
        "Message supprimé par son auteur·e.")
    assert "regrette" not in page.response.text
    assert "2 réponses" in page.text(".thread__meta")
    async with database.reader() as session:
        stored = await session.get(Post, post_id)
        assert stored is not None and stored.source == "" and stored.html == ""


async def test_a_send_whose_twin_was_stored_during_review_gets_the_twins_post(
    database: Database, demo: None
) -> None:
    """Two sends of one form on PostgreSQL run side by side: the first can be stored after the
    second looked its key up, and the gate then refuses the second as the same text twice.
    The second must answer with the first's post, not with that refusal."""
    from forum import actions
    from forum.gate import GateRefusal
    from forum.models import Member, Space
    from forum.web.composer import PostForm, new_idempotency_key
    from forum.web.forms import FormErrors
    from forum.web.writing import review

    form = PostForm(body="Envoyé deux fois en même temps", idempotency_key=new_idempotency_key())
    async with database.writing() as db:
        author = await db.scalar(select(Member).order_by(Member.id).limit(1))
        thread = await db.get(Thread, 1)
        space = await db.get(Space, thread.space_id)
        twin: dict[str, Post] = {}

        class TwinStoredMeanwhile:
            """The gate, while the twin send is stored and becomes visible."""

            autoflag = False

            async def review(self, session: object, body: str, **_: object) -> Verdict:
                posted = await actions.do_reply(
                    db, thread=thread, author=author, source=body, verdict=VERDICT,
                    idempotency_key=form.idempotency_key)
                twin["post"] = posted.post
                raise GateRefusal("Tu viens déjà de publier ce message.")

        errors = FormErrors()
        verdict = await review(db, TwinStoredMeanwhile(), form, author=author, space=space,
                               errors=errors, reading=None)  # type: ignore[arg-type]
    assert not errors
    assert verdict is not None and verdict.html == twin["post"].html


VERDICT = Verdict(html="<p>Envoyé deux fois en même temps</p>", renderer_version=1)
