"""The safety net around crisis moments: quick exit, content warnings and reader preferences,
the private safety plan, threads nobody answered, per-space lines (issue 4)."""

import os
import subprocess
import sys
from datetime import timedelta

from litestar import Litestar
from sqlalchemy import select, update

from forum import changes
from forum.config import ROOT
from forum.db import Database, utcnow
from forum.models import Member, Space, Thread
from moderation.actions import do_add_moderator
from tests.browsing import Browser, another_browser


async def test_quick_exit_comes_right_after_the_skip_link_and_works_without_javascript(
    browser: Browser
) -> None:
    page = await browser.get("/")
    focusable = page.all("a[href], button, input:not([type=hidden]), select, textarea")
    assert focusable[0]["class"] == ["skip-link"]
    assert "quick-exit" in focusable[1]["class"]
    assert focusable[1]["href"] == "https://meteofrance.com/"
    assert "noreferrer" in focusable[1]["rel"]
    assert focusable[1].has_attr("data-quick-exit")
    scripts = [s["src"] for s in page.all("script[src]")]
    assert any(src.startswith("/static/js/quick-exit.") and src.endswith(".js")
               for src in scripts), scripts


async def test_help_explains_private_browsing_and_clearing_history(browser: Browser) -> None:
    page = await browser.get("/help")
    text = page.text("#privacy-heading + p") + page.text("section[aria-labelledby=privacy-heading]")
    assert "Navigation privée" in text and "Effacer l'historique" in text


async def test_a_post_with_a_content_warning_is_collapsed_behind_its_label(
    browser: Browser, demo: None
) -> None:
    await browser.signup("Lavande")
    result = await browser.reply(1, "Je parle de mon deuil ici.", content_warning="deuil")
    page = await browser.follow(result)
    post_id = result.response.headers["location"].split("#")[1]
    warning = page.one(f"#{post_id} details.post__warning")
    assert not warning.has_attr("open")
    assert warning.select_one("summary").get_text(" ", strip=True).startswith(
        "Avertissement : Deuil")
    assert "mon deuil" in warning.select_one(".post__body").get_text()


async def test_a_free_content_warning_label_is_kept_and_escaped(
    browser: Browser, demo: None
) -> None:
    await browser.signup("Lavande")
    result = await browser.reply(1, "Texte.", content_warning="autre",
                                 content_warning_label="<b>hôpital</b>")
    page = await browser.follow(result)
    post_id = result.response.headers["location"].split("#")[1]
    label = page.one(f"#{post_id} .post__warning-label")
    assert label.get_text() == "Avertissement : <b>hôpital</b>"
    assert not label.find("b")


async def test_members_can_hide_a_theme_everywhere(browser: Browser, demo: None) -> None:
    await browser.signup("Lavande")
    result = await browser.reply(1, "Un message sur les substances.", content_warning="substances")
    post_id = result.response.headers["location"].split("#")[1]
    settings = await browser.get("/settings")
    saved = await browser.submit(settings.form("main form"), {"hide_substances": "1"})
    assert saved.status == 303
    again = await browser.get("/settings")
    assert again.one("input#hide_substances").has_attr("checked")
    page = await browser.get("/t/1")
    hidden = page.one(f"#{post_id} details.post__warning--hidden")
    assert "Message masqué selon tes réglages" in hidden.get_text()


async def test_the_safety_plan_is_private_and_one_click_from_help(
    browser: Browser, demo: None
) -> None:
    await browser.signup("Romarin")
    help_page = await browser.get("/help")
    assert help_page.one("a[href='/safety-plan']")
    plan = await browser.get("/safety-plan")
    saved = await browser.submit(plan.form("main form"), {
        "warning_signs": "Je ne dors plus", "what_helps": "Marcher au bord de l'eau",
        "people": "Ma sœur", "lines": "3114",
    })
    assert saved.status == 303
    again = await browser.get("/safety-plan")
    assert again.one("textarea#what_helps").get_text() == "Marcher au bord de l'eau"
    assert again.response.headers["cache-control"] == "no-store"
    await browser.logout()
    assert (await browser.get("/safety-plan", follow_redirects=False)).status == 303
    await browser.signup("Curieux")
    other = await browser.get("/safety-plan")
    assert other.one("textarea#what_helps").get_text() == ""


async def test_an_empty_safety_plan_is_refused_with_a_message(browser: Browser) -> None:
    await browser.signup("Romarin")
    plan = await browser.get("/safety-plan")
    result = await browser.submit(plan.form("main form"), {})
    assert result.status == 422
    assert result.one(".field-error")


async def test_threads_without_a_reply_are_listed_for_members(
    browser: Browser, database: Database, demo: None
) -> None:
    await browser.signup("Menthe")
    result = await browser.start_thread("anxiete", "Personne ne m'a répondu", "Bonjour ?")
    thread_id = int(result.response.headers["location"].split("/t/")[1].split("#")[0])
    fresh = await browser.get("/s/anxiete?sans-reponse")
    assert "Personne ne m'a répondu" not in fresh.text()
    async with database.writing() as session:
        await session.execute(update(Thread).where(Thread.id == thread_id)
                              .values(created_at=utcnow() - timedelta(hours=13)))
        changes.thread(session, thread_id)  # thirteen hours pass: what the pages show changes
    page = await browser.get("/s/anxiete?sans-reponse")
    titles = [a.get_text(strip=True) for a in page.all(".thread-row__title")]
    assert titles == ["Personne ne m'a répondu"]
    await browser.reply(thread_id, "Je suis là, je t'ai lu.")
    answered = await browser.get("/s/anxiete?sans-reponse")
    assert not answered.all(".thread-row__title")


async def test_the_addictions_space_shows_its_own_lines(browser: Browser, demo: None) -> None:
    page = await browser.get("/s/addictions")
    names = [p.get_text(strip=True) for p in page.all(".space-lines .line__name")]
    assert "Drogues Info Service" in names
    assert "Joueurs Info Service" in names
    plain = await browser.get("/s/anxiete")
    assert not plain.all(".space-lines")


def test_crisis_check_works_from_a_fresh_shell() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "forum.cli", "crisis-check", "jpp ce soir jvais en finir"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("level: urgent")


async def test_a_search_that_sounds_like_a_crisis_shows_the_help_box_first(
    browser: Browser, demo: None
) -> None:
    page = await browser.get("/search", params={"q": "envie de mourir"})
    box = page.one(".search-help")
    assert [a["href"] for a in box.select("a[href^='tel:']")] == ["tel:15", "tel:3114"]
    ordinary = await browser.get("/search", params={"q": "crise d'angoisse métro"})
    assert not ordinary.all(".search-help")


async def test_moderators_see_unanswered_threads_on_their_dashboard(
    app, browser: Browser, database: Database, demo: None
) -> None:
    await browser.signup("Menthe")
    result = await browser.start_thread("anxiete", "Seul·e ce soir", "Quelqu'un ?")
    thread_id = int(result.response.headers["location"].split("/t/")[1].split("#")[0])
    async with database.writing() as session:
        await session.execute(update(Thread).where(Thread.id == thread_id)
                              .values(created_at=utcnow() - timedelta(hours=20)))
    async with another_browser(app) as moderator:
        await moderator.signup("Gardienne")
        async with database.writing() as session:
            member = await session.scalar(select(Member).where(Member.pseudonym == "Gardienne"))
            space = await session.scalar(select(Space).where(Space.slug == "anxiete"))
            await do_add_moderator(session, space, member, actor=None, reason="test")
        queue = await moderator.get("/mod")
        titles = [a.get_text(strip=True) for a in queue.all(".mod-unanswered .thread-row__title")]
        assert "Seul·e ce soir" in titles


async def test_threads_without_a_reply_are_listed_forum_wide_for_members(
    app: Litestar, browser: Browser, database: Database, demo: None
) -> None:
    # Issue 19: one list across the spaces the member may read, linked from the home page.
    await browser.signup("Verveine")
    titles = {"anxiete": "Personne encore ici", "idees-suicidaires": "Un fil entre membres"}
    ids = []
    for slug, title in titles.items():
        result = await browser.start_thread(slug, title, "Bonjour ?")
        ids.append(int(result.response.headers["location"].split("/t/")[1].split("#")[0]))
    async with database.writing() as session:
        await session.execute(update(Thread).where(Thread.id.in_(ids))
                              .values(created_at=utcnow() - timedelta(hours=13)))
        for thread_id in ids:
            changes.thread(session, thread_id)
    home = await browser.get("/")
    assert home.one("a[href='/sans-reponse']")
    page = await browser.get("/sans-reponse")
    rows = {a.get_text(strip=True): a.find_parent("li").get_text(" ", strip=True)
            for a in page.all("#unanswered-list .thread-row__title")}
    assert set(titles.values()) <= set(rows)
    assert "Idées suicidaires" in rows["Un fil entre membres"]  # says where it is
    await browser.reply(ids[0], "Je suis là.")
    page = await browser.get("/sans-reponse")
    assert "Personne encore ici" not in page.text()
    english = await browser.get("/sans-reponse", headers={"Accept-Language": "en"})
    assert english.one("h1").get_text(strip=True) == "Unanswered threads"
    async with another_browser(app) as visitor:
        refused = await visitor.get("/sans-reponse", follow_redirects=False)
        assert refused.status == 303
        assert refused.response.headers["location"] == "/login?next=%2Fsans-reponse"
        assert not (await visitor.get("/")).all("a[href='/sans-reponse']")
