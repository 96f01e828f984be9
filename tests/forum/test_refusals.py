"""A refusal says what happened (issue 19): a visitor on a composer is sent to log in and
brought back; a suspended member is told until when; someone else's post and a locked thread
each say so; "your text is below" only when there is a text. (An archived space is out of
sight: 404.)"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select, update

from forum.db import Database, utcnow
from forum.models import Member, Post, Thread
from tests.browsing import DEFAULT_PASSWORD, Browser


async def test_a_visitor_on_a_composer_logs_in_and_comes_back_to_it(
    browser: Browser, demo: None
) -> None:
    await browser.signup("Retour")
    await browser.logout()
    page = await browser.get("/s/anxiete/new?brouillon=1", follow_redirects=False)
    assert page.status == 303
    location = page.response.headers["location"]
    assert location.startswith("/login?")
    assert parse_qs(urlsplit(location).query)["next"] == ["/s/anxiete/new?brouillon=1"]
    form_page = await browser.get(location)
    logged_in = await browser.submit(form_page.form("form[action='/login']"), {
        "pseudonym": "Retour", "password": DEFAULT_PASSWORD})
    assert logged_in.status == 303
    assert logged_in.response.headers["location"] == "/s/anxiete/new?brouillon=1"
    composer = await browser.get("/s/anxiete/new")
    assert composer.status == 200 and composer.one("form.composer")


async def test_a_suspended_member_is_told_until_when(browser: Browser, database: Database,
                                                     demo: None) -> None:
    await browser.signup("Pause")
    async with database.writing() as session:
        await session.execute(update(Member).where(Member.pseudonym == "Pause")
                              .values(suspended_until=utcnow() + timedelta(days=3)))
    page = await browser.get("/s/anxiete/new")
    assert page.status == 403
    text = page.text()
    assert "Ton compte est suspendu pour l'instant" in text
    assert "jusqu'au" in text and "notifications" in text
    assert "ci-dessous" not in text and "le voici" not in text  # no text was typed
    english = await browser.get("/s/anxiete/new", headers={"Accept-Language": "en"})
    assert "Ton compte" not in english.text()


async def test_a_banned_member_is_told_without_an_end_date(browser: Browser,
                                                          database: Database,
                                                          demo: None) -> None:
    await browser.signup("Ferme")
    async with database.writing() as session:
        await session.execute(update(Member).where(Member.pseudonym == "Ferme")
                              .values(banned=True))
    page = await browser.get("/s/anxiete/new")
    assert page.status == 403
    assert "Ton accès en écriture est fermé" in page.text()
    assert "jusqu'au" not in page.text()


async def test_someone_elses_post_says_so(browser: Browser, database: Database,
                                          demo: None) -> None:
    async with database.reader() as session:
        post_id = await session.scalar(select(Post.id).order_by(Post.id).limit(1))
    await browser.signup("Curieuse")
    page = await browser.get(f"/p/{post_id}/edit")
    assert page.status == 403
    assert "Ce message n'est pas le tien" in page.text()


async def test_a_reply_to_a_locked_thread_says_so_and_keeps_the_text(
    browser: Browser, database: Database, demo: None
) -> None:
    await browser.signup("Verrou")
    form = (await browser.get("/t/1")).form("#reply-form")
    async with database.writing() as session:
        await session.execute(update(Thread).where(Thread.id == 1).values(locked=True))
    page = await browser.submit(form, {"body": "Ce que je voulais dire, quand même."})
    assert page.status == 403
    text = page.text()
    assert "Ce fil est verrouillé" in text and "le voici" in text
    assert "Ce que je voulais dire, quand même." in text


def _session_cookie_header(response) -> str:  # noqa: ANN001
    found = [value for value in response.headers.get_list("set-cookie")
             if value.startswith("entrepairs=")]
    assert len(found) == 1, found
    return found[0].lower()


async def test_unticked_the_session_cookie_ends_with_the_browser(browser: Browser) -> None:
    # Issue 19: "rester connecté·e" at log-in. On a shared device, closing the browser must be
    # enough; the server's own limits still end the session either way.
    await browser.signup("Partage")
    await browser.logout()
    page = await browser.get("/login")
    assert page.one("#remember").get("checked") is None  # unticked by default
    once = await browser.submit(page.form("form[action='/login']"), {
        "pseudonym": "Partage", "password": DEFAULT_PASSWORD})
    assert once.status == 303
    cookie = _session_cookie_header(once.response)
    assert "max-age" not in cookie and "expires" not in cookie
    await browser.logout()
    page = await browser.get("/login")
    kept = await browser.submit(page.form("form[action='/login']"), {
        "pseudonym": "Partage", "password": DEFAULT_PASSWORD, "remember": "yes"})
    cookie = _session_cookie_header(kept.response)
    assert "max-age=2592000" in cookie  # FORUM_SESSION_MAX_DAYS, 30 days
    await browser.logout()
    page = await browser.get("/login")
    failed = await browser.submit(page.form("form[action='/login']"), {
        "pseudonym": "Partage", "password": "pas le bon", "remember": "yes"})
    assert failed.status == 422 and failed.one("#remember").has_attr("checked")
