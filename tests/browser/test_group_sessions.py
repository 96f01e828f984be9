"""Scheduled group sessions (issue 18) in Chromium, from the scheduling form to the locked
thread: a trained helper schedules a session in the ``anxiete`` space, two members register by
accepting the group's agreement (one of them without JavaScript), the one without JavaScript
finds the reminder in their notifications half an hour before, the session opens its live
thread at the start, the members write there (the one with JavaScript hears the other's reply
through the live stream, the other reloads), and the helper pauses, resumes, removes a message
and ends the session. The space's moderator is the one :mod:`tests.browser.seed` gives it.

Two things a browser cannot do are done in the server's database, through the forum's own
code, the way :mod:`tests.browser.seed` gives the staff their roles: the trained helper badge
(an admin's decision, ``moderation.actions.do_grant_helper_badge``), and the start moved to a
moment just past (the server's clock runs in its own process; its page read opens the session
that is due, ``forum.web.groups._group``).

Each person is in a browser context of their own, in a time zone (Toronto) other than their
region's (France, from ``fr-FR``): the start is written by the server in Paris time and
rewritten by the page's script in the device's. The pages are saved into docs/screenshots/ as
``make screenshots`` names them (``<page>-desktop-light.png``: these contexts are 1280 px wide,
in the light scheme) when ``FORUM_SCREENSHOTS=1`` is set.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, time, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from forum.db import Database, utcnow
from forum.models import GroupSession, GroupSessionStatus, Member
from moderation import actions as moderation_actions
from tests.browser.conftest import _open_page
from tests.browser.flows import reply_with_htmx, sign_up
from tests.browser.moderating import log_in
from tests.browser.screenshots import _shoot
from tests.browser.seed import MODERATED_SLUG, MODERATOR
from tests.browser.test_live_updates import LIVE_WITHIN_MS, NEWS_SAYS, _goto_listening
from tests.browsing import random_pseudonym

pytestmark = pytest.mark.browser

OpenPage = Callable[..., Any]
T = TypeVar("T")

SPACE = MODERATED_SLUG
REGION_ZONE = ZoneInfo("Europe/Paris")  # the region of fr-FR
DEVICE_ZONE = "America/Toronto"  # where the browsers say they are
START = time(20, 30)

TITLE = "Traverser les soirées d'hiver"
THEME = "Ce qui aide quand les journées raccourcissent, et ce qui pèse."
AGREEMENT = ("- On parle en « je », de ce qu'on vit.\n"
             "- On s'écoute sans juger ; chacun·e peut se taire quand il ou elle veut.\n"
             "- Ce qui se dit dans le groupe reste dans le groupe.")
AGREEMENT_LINE = "Ce qui se dit dans le groupe reste dans le groupe."
REPLY_A = "Bonsoir à toutes et tous, je suis contente d'être là ce soir."
REPLY_B = "Bonsoir ! Moi aussi, les soirées sont longues en ce moment."
REMOVAL_REASON = "Message retiré pour garder le groupe centré sur l'accord"

PAUSED_BANNER = "Les échanges sont en pause : la personne qui anime reprendra dans un moment."
PAUSED_NOTICE = ("La session est en pause : tu pourras écrire dès que la personne qui anime "
                 "reprend les échanges.")
INTL_FULL_DATE = """([iso]) => new Intl.DateTimeFormat('fr', {dateStyle: 'full',
    timeStyle: 'short'}).format(new Date(iso))"""


@pytest.fixture
def open_page(chromium: Any, base_url: str) -> Iterator[OpenPage]:
    """The people of the session, each in a browser context of their own, watched like
    ``page``."""
    with ExitStack() as stack:
        def opener(**context_args: Any) -> Any:
            return stack.enter_context(contextmanager(_open_page)(chromium, base_url,
                                                                  **context_args))
        yield opener


@pytest.fixture
def database_url(base_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The SQLite file the live server of this session serves (``tests.browser.live``)."""
    found = sorted({path.resolve() for path in
                    tmp_path_factory.getbasetemp().glob("live*/forum.db")})
    assert len(found) == 1, f"the live server's database is not where it was made: {found}"
    return f"sqlite+aiosqlite:///{found[0]}"


def _in_database(database_url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one write unit of work on the server's database, as the seed does. In a
    thread of its own: sync Playwright keeps an event loop in this one."""
    async def run() -> T:
        database = Database(database_url, pool=False)
        try:
            async with database.writing() as session:
                return await work(session)
        finally:
            await database.dispose()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result(timeout=60)


def _grant_helper_badge(database_url: str, pseudonym: str) -> None:
    async def grant(session: AsyncSession) -> None:
        member = await session.scalar(select(Member).where(Member.pseudonym == pseudonym))
        assert member is not None, pseudonym
        assert await moderation_actions.do_grant_helper_badge(
            session, member, actor=None, reason="browser tests: a trained helper")

    _in_database(database_url, grant)


def _start_soon(database_url: str, group_id: int) -> None:
    """The session starts in ten minutes: the reminder is due, the start not yet."""
    async def move(session: AsyncSession) -> None:
        await session.execute(update(GroupSession).where(GroupSession.id == group_id)
                              .values(starts_at=utcnow() + timedelta(minutes=10)))

    _in_database(database_url, move)


def _start_just_past(database_url: str, group_id: int) -> None:
    """The session starts a minute ago: still scheduled, the server's next read opens it."""
    async def move(session: AsyncSession) -> None:
        group = await session.get(GroupSession, group_id)
        assert group is not None
        assert group.status == GroupSessionStatus.SCHEDULED, group.status
        await session.execute(update(GroupSession).where(GroupSession.id == group_id)
                              .values(starts_at=utcnow() - timedelta(minutes=1)))

    _in_database(database_url, move)


def _shoot_desktop(page: Any, name: str) -> None:
    """Save ``page`` as ``make screenshots`` does, under its name for a 1280 px light page,
    when ``FORUM_SCREENSHOTS=1`` asks for it (a test run leaves the committed images alone)."""
    assert page.viewport_size["width"] == 1280
    assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches") is False
    if os.environ.get("FORUM_SCREENSHOTS") == "1":
        _shoot(page, name, "desktop", "light")


def _register(page: Any, group_id: int) -> None:
    """Accept the group's agreement and register, through the session page's form."""
    page.goto(f"/sessions/{group_id}")
    form = page.locator(f"form[action='/sessions/{group_id}/inscription']")
    form.get_by_label("J'ai lu l'accord du groupe et je l'accepte").check()
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        form.get_by_role("button", name="M'inscrire").click()
    assert sent.value.status == 303
    page.wait_for_url(f"**/sessions/{group_id}#inscription")
    section = page.locator("#inscription")
    assert "Tu es inscrit·e." in section.inner_text()
    assert section.get_by_role("button", name="Me désinscrire").count() == 1
    assert page.locator(f"form[action='/sessions/{group_id}/inscription']").count() == 0


def _reply_without_javascript(page: Any, text: str) -> str:
    """A reply through the plain form (a 303, then the thread page); returns the post's id."""
    page.fill("#reply-body", text)
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.click("#reply-form button[type=submit]")
    assert sent.value.status == 303
    page.wait_for_load_state()
    post_id = page.url.rsplit("#", 1)[1]
    assert post_id.startswith("post-"), page.url
    assert text in page.inner_text(f"#{post_id} .post__body")
    return post_id


def _click_and_land(page: Any, button: Any, path: str) -> None:
    """Submit a plain form by its button; the 303 lands on ``path``."""
    with page.expect_navigation():
        button.click()
    assert urlsplit(page.url).path == path, page.url


def test_a_group_session_is_scheduled_registered_for_held_live_and_closed(
    open_page: OpenPage, database_url: str, chromium: Any, base_url: str,
) -> None:
    helper = open_page(timezone_id=DEVICE_ZONE)
    member_b = open_page(timezone_id=DEVICE_ZONE)  # JavaScript on
    member_a = open_page(timezone_id=DEVICE_ZONE, java_script_enabled=False)
    moderator = open_page(timezone_id=DEVICE_ZONE)

    # -- 1. A trained helper schedules the session through the form --------------------------
    helper_name, _ = sign_up(helper, random_pseudonym("Saule"))
    helper.goto(f"/s/{SPACE}/sessions")
    assert helper.get_by_role("link", name="Programmer une session").count() == 0, \
        "a member without the badge is offered the scheduling form"
    _grant_helper_badge(database_url, helper_name)
    helper.reload()
    with helper.expect_navigation():
        helper.get_by_role("link", name="Programmer une session").click()
    assert urlsplit(helper.url).path == f"/s/{SPACE}/sessions/nouvelle"
    assert helper.input_value("#timezone") == "Europe/Paris", "the region's zone by default"

    day = (datetime.now(REGION_ZONE) + timedelta(days=2)).date()
    starts_at = datetime.combine(day, START, REGION_ZONE).astimezone(UTC)
    on_device = starts_at.astimezone(ZoneInfo(DEVICE_ZONE)).strftime("%H:%M")
    assert on_device != START.strftime("%H:%M")
    helper.fill("#title", TITLE)
    helper.fill("#theme", THEME)
    helper.fill("#day", day.isoformat())
    helper.fill("#start", START.strftime("%H:%M"))
    helper.select_option("#timezone", "Europe/Paris")
    helper.select_option("#minutes", "90")
    helper.fill("#capacity", "6")
    helper.fill("#agreement", AGREEMENT)
    assert helper.locator("input[name=keep_after][value='1']").is_checked(), \
        "messages are kept by default"
    with helper.expect_response(lambda r: r.request.method == "POST") as sent:
        helper.get_by_role("button", name="Programmer la session").click()
    assert sent.value.status == 303
    helper.wait_for_url("**/sessions/*")
    group_id = int(urlsplit(helper.url).path.rsplit("/", 1)[1])

    assert helper.inner_text("h1") == TITLE
    assert helper.inner_text(".group-session__theme") == THEME
    assert AGREEMENT_LINE in helper.inner_text(".group-session__agreement")
    assert f"Animée par {helper_name}" in helper.inner_text(".group-card__meta")
    assert "0 inscrit·es sur 6" in helper.inner_text(".group-card__meta")
    when = helper.locator("header time.local-time")
    assert when.get_attribute("datetime") == starts_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    # Rewritten by the script in the browser's time zone (Toronto), not the region's (Paris).
    shown = when.inner_text()
    assert shown == helper.evaluate(INTL_FULL_DATE, [when.get_attribute("datetime")])
    assert on_device in shown, shown
    assert START.strftime("%H:%M") not in shown, shown
    assert str(day.year) in shown
    assert helper.inner_text("header .local-time__zone") == "à l’heure de ton appareil"
    assert "90 minutes" in helper.inner_text("header .field-hint")
    # The region's crisis lines, whatever happens in the group.
    lines = helper.locator(".space-lines")
    assert "(France)" in lines.inner_text()
    assert lines.locator(".line").count() >= 2
    assert lines.locator("a.line__call[href='tel:3114']").inner_text() == "Appeler le 3114"
    assert lines.locator("a.line__call[href='tel:15']").count() == 1
    assert helper.get_by_role("button", name="Annuler la session").count() == 1
    assert helper.get_by_role("link", name="Rejoindre la session en direct").count() == 0

    # -- 2. Two members register, one of them without JavaScript -----------------------------
    sign_up(member_b, random_pseudonym("Brin"))
    member_b.goto(f"/sessions/{group_id}")
    # The agreement is required: without the tick (the browser's own check lifted) the
    # server refuses and says why.
    member_b.evaluate("document.querySelector('input[name=agree]').removeAttribute('required')")
    with member_b.expect_response(lambda r: r.request.method == "POST") as refused:
        member_b.get_by_role("button", name="M'inscrire").click()
    assert refused.value.status == 422
    member_b.wait_for_selector("#agree-error")
    assert "coche la case" in member_b.inner_text("#agree-error")
    assert member_b.get_attribute("input[name=agree]", "aria-invalid") == "true"
    _register(member_b, group_id)

    sign_up(member_a, random_pseudonym("Lune"))
    assert member_a.evaluate("typeof window.htmx") == "undefined", "JavaScript is not off"
    member_a.goto(f"/sessions/{group_id}")
    # Without a script the start stays as the server wrote it: in the region's time.
    assert START.strftime("%H:%M") in member_a.inner_text("header time.local-time")
    assert member_a.inner_text("header .local-time__zone") == "heure de : France"
    _register(member_a, group_id)
    assert "2 inscrit·es sur 6" in member_a.inner_text(".group-card__meta")

    member_b.goto(f"/s/{SPACE}/sessions")
    card = member_b.locator(".group-card", has_text=TITLE)
    assert card.count() == 1
    assert card.get_by_role("link", name=TITLE).get_attribute("href") == f"/sessions/{group_id}"
    assert "Tu es inscrit·e" in card.inner_text()
    assert "2 inscrit·es sur 6" in card.inner_text()
    assert on_device in card.locator("time.local-time").inner_text()
    _shoot_desktop(member_b, "group-sessions-list")
    member_b.goto(f"/sessions/{group_id}")
    assert member_b.get_by_role("link", name="Rejoindre la session en direct").count() == 0, \
        "the live thread is open before the start"
    _shoot_desktop(member_b, "group-session-page")

    # -- 3. The reminder, then the start: the session page takes each step -------------------
    _start_soon(database_url, group_id)
    member_a.goto(f"/sessions/{group_id}")  # without JavaScript: the page's read reminds
    member_a.goto("/notifications")
    reminder = member_a.locator(f".notification__message[href='/sessions/{group_id}']")
    assert reminder.count() == 1
    assert "commence dans moins de 30 minutes" in reminder.inner_text()
    assert TITLE in reminder.inner_text()
    _start_just_past(database_url, group_id)
    member_b.reload()
    join = member_b.get_by_role("link", name="Rejoindre la session en direct")
    assert join.count() == 1
    assert member_b.locator(".badge--live").inner_text() == "En cours"
    thread_path = str(join.get_attribute("href"))
    assert thread_path.startswith("/t/")
    thread_id = int(thread_path.rsplit("/", 1)[1])

    # Only the participants read it: a visitor of this public space gets nothing.
    visitor = chromium.new_context(base_url=base_url)
    try:
        assert visitor.request.get(thread_path).status == 404
        assert visitor.request.get(f"/s/{SPACE}").ok
        assert thread_path not in visitor.request.get(f"/s/{SPACE}").text()
    finally:
        visitor.close()

    # -- 4. The members write; the stream tells the one with JavaScript -----------------------
    _goto_listening(member_b, thread_path)
    assert member_b.get_attribute("#posts", "data-thread") == str(thread_id)
    member_b.evaluate("window.__marker = 1")
    assert "Session de groupe en direct" in member_b.inner_text(".group-banner")
    assert "3114" in member_b.inner_text(".group-banner")
    assert member_b.locator("#calm-pace").is_checked() is False
    first = member_b.locator("#posts article.post").first
    assert AGREEMENT_LINE in first.inner_text(), "the agreement is the first message"
    assert member_b.locator(".post__facilitate").count() == 0, "no controls for a member"
    assert member_b.locator("#reply-form").count() == 1
    news = member_b.locator("#thread-news")
    assert news.inner_text() == ""

    member_a.goto(thread_path)
    assert member_a.locator(".group-banner").count() == 1
    a_post = _reply_without_javascript(member_a, REPLY_A)

    member_b.wait_for_function(NEWS_SAYS, arg=["1 nouveau message dans ce fil."],
                               timeout=LIVE_WITHIN_MS)
    assert REPLY_A not in member_b.inner_text("#posts"), "the post came before it was asked"
    news.get_by_role("link", name="Les afficher").click()
    member_b.wait_for_function("(id) => document.activeElement && "
                               "document.activeElement.id === id", arg=a_post)
    assert REPLY_A in member_b.inner_text(f"#{a_post} .post__body")
    assert news.inner_text() == "Nouveaux messages ajoutés à la fin du fil."
    assert member_b.evaluate("window.__marker") == 1, "showing the new post reloaded the page"

    b_post = reply_with_htmx(member_b, REPLY_B)
    member_a.wait_for_timeout(1_000)  # what a stream would have needed, had there been one
    assert REPLY_B not in member_a.inner_text("#posts")
    member_a.reload()
    assert REPLY_B in member_a.inner_text(f"#{b_post} .post__body")

    # The space's moderator takes part without registering, with the facilitator's controls.
    log_in(moderator, MODERATOR)
    moderator.goto(thread_path)
    assert urlsplit(moderator.url).path == thread_path
    assert moderator.locator(".group-banner").get_by_role(
        "button", name="Mettre les échanges en pause").count() == 1
    assert moderator.locator(f"#{a_post} details.post__facilitate").count() == 1

    # The facilitator's view of the live thread.
    helper.goto(thread_path)
    banner = helper.locator(".group-banner")
    assert banner.get_by_role("button", name="Clore la session").count() == 1
    assert helper.locator(f"#{a_post} details.post__facilitate").count() == 1
    assert helper.locator(f"#{b_post} details.post__facilitate").count() == 1
    assert helper.locator("#posts article.post").first.locator(".post__facilitate").count() \
        == 0, "the agreement cannot be removed"
    _shoot_desktop(helper, "group-session-live")

    # -- 5. Pause, resume, removal, end -------------------------------------------------------
    _click_and_land(helper, banner.get_by_role("button", name="Mettre les échanges en pause"),
                    thread_path)
    assert PAUSED_BANNER in helper.inner_text(".group-banner")
    assert helper.locator("#reply-form").count() == 1, "the facilitator still writes"
    assert helper.locator(".group-banner").get_by_role(
        "button", name="Reprendre les échanges").count() == 1

    member_b.reload()
    assert PAUSED_BANNER in member_b.inner_text(".group-banner .notice[role=status]")
    assert PAUSED_NOTICE in member_b.inner_text("main")
    assert member_b.locator("#reply-form").count() == 0
    _shoot_desktop(member_b, "group-session-paused")
    member_a.reload()
    assert PAUSED_BANNER in member_a.inner_text(".group-banner")
    assert member_a.locator("#reply-form").count() == 0
    member_b.goto(f"/sessions/{group_id}")
    assert "En pause" in member_b.inner_text(".group-card__meta")

    _click_and_land(helper, helper.locator(".group-banner").get_by_role(
        "button", name="Reprendre les échanges"), thread_path)
    assert PAUSED_BANNER not in helper.inner_text(".group-banner")
    member_a.reload()
    assert PAUSED_BANNER not in member_a.inner_text(".group-banner")
    assert member_a.locator("#reply-form").count() == 1, "the members write again"

    removal = helper.locator(f"#{a_post} details.post__facilitate")
    removal.locator("summary", has_text="Retirer ce message").click()
    removal.get_by_label("Pourquoi (la personne le lira ; facultatif)").fill(REMOVAL_REASON)
    with helper.expect_navigation():
        removal.get_by_role("button", name="Retirer", exact=True).click()
    assert urlsplit(helper.url).path == thread_path
    assert helper.inner_text(f"#{a_post} .post__placeholder") == \
        "Ce message a été retiré par l'équipe de modération."
    member_b.goto(thread_path)
    assert REPLY_A not in member_b.inner_text("#posts")
    assert member_b.locator(f"#{a_post} .post__placeholder").is_visible()
    assert REPLY_B in member_b.inner_text("#posts")
    moderator.goto("/mod/log")
    assert REMOVAL_REASON in moderator.inner_text(".mod-log tbody"), \
        "the facilitator's removal is not in the moderation log"
    member_a.goto("/notifications")
    assert REMOVAL_REASON in member_a.inner_text("main"), "the author is not told why"

    helper.goto(f"/sessions/{group_id}")
    _click_and_land(helper, helper.get_by_role("button", name="Clore la session"),
                    f"/sessions/{group_id}")
    assert "Terminée" in helper.inner_text(".group-card__meta")
    assert helper.get_by_role("button", name="Clore la session").count() == 0
    reread = helper.get_by_role("link", name="Relire la session")
    assert reread.get_attribute("href") == thread_path

    member_b.goto(thread_path)
    assert "Session terminée" in member_b.inner_text(".group-banner")
    assert "Fil fermé" in member_b.inner_text(".thread__meta")
    assert member_b.locator("#reply-form").count() == 0
    assert "Ce fil est fermé : on ne peut plus y répondre." in member_b.inner_text("main")
    assert REPLY_B in member_b.inner_text("#posts"), "the kept session lost its messages"
    assert member_b.locator("#calm-pace").count() == 0
    member_a.goto(thread_path)
    assert member_a.locator("#reply-form").count() == 0
    helper.goto(thread_path)
    assert helper.locator(".group-banner form").count() == 0, "controls on an ended session"
    assert helper.locator(".post__facilitate").count() == 0
