"""One-to-one conversations with a trained peer helper (issue 17) in Chromium, through the real
pages only: the seeded admin gives a member the trained helper badge from ``/admin/members``;
the helper says on ``/helpers`` which theme they take; a member follows the header's
"Conversations" link to "Parler à un·e pair-aidant·e", chooses the theme and sends; the helper
accepts from the queue of ``/helpers``; they write to each other, and each page hears the
other's message through its live stream, without a reload. The helper then calls the space's
moderators in, and the moderator (the one :mod:`tests.browser.seed` gives the ``anxiete``
space) sees the reported message and the few before it, not the first one; the member ends the
conversation. A second test does the member's side with JavaScript disabled: asking, then
reading the helper's answer after a reload. A third is a conversation between two members: one
accepts requests on ``/conversations``, the other (made old enough, with enough posts, in the
server's database the way :mod:`tests.browser.test_group_sessions` does what a browser cannot)
asks from ``/conversations/membre``; the member asked is told, reads the request, accepts and
answers, and the asker's open page hears it.

Each person is in a browser context of their own. With ``FORUM_SCREENSHOTS=1`` the pages are
saved into docs/screenshots/ as ``make screenshots`` names them, at 1280 px and 375 px in the
light scheme: ``conversation-<page>-desktop-light.png`` and ``…-mobile-light.png``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from forum import actions, conversations
from forum.db import utcnow
from forum.gate import Verdict
from forum.models import Member, Space, Thread
from moderation.sanitize import RENDERER_VERSION, render_markdown
from tests.browser.conftest import _open_page
from tests.browser.flows import reply_with_htmx, sign_up
from tests.browser.moderating import log_in
from tests.browser.screenshots import WIDTHS, _shoot
from tests.browser.seed import ADMIN, MODERATED_SLUG, MODERATOR
from tests.browser.test_group_sessions import _in_database
from tests.browser.test_live_updates import (
    BADGE_ABOVE,
    LIVE_WITHIN_MS,
    NEWS_SAYS,
    _badge,
    _goto_listening,
)
from tests.browsing import random_pseudonym

pytestmark = pytest.mark.browser

OpenPage = Callable[..., Any]

THEME = MODERATED_SLUG  # the space whose moderator the seed made
THEME_NAME = "Anxiété"
ASKING = "Bonjour, depuis quelques semaines les soirées sont dures et je n'ose pas en parler."
HELPER_1 = "Bonsoir, je suis là. Qu'est-ce qui rend les soirées si dures, en ce moment ?"
MEMBER_2 = "Le silence, surtout. Je tourne en rond dans ma tête jusqu'à minuit."
HELPER_2 = "Je connais ça. Est-ce qu'il y a un moment de la soirée où ça va un peu mieux ?"
MEMBER_3 = "Quand j'appelle ma sœur, mais elle travaille tard cette semaine."
CALL_NOTE = "J'aimerais un deuxième regard sur la suite à proposer."
NOJS_ASKING = "Bonjour, j'écris sans JavaScript : est-ce que quelqu'un peut m'écouter ?"
NOJS_HELPER = "Oui, je suis là et je te lis. Prends ton temps pour écrire."
NOJS_REPLY = "Merci. Je reviens demain soir, si tu es là."

INVITE = "Salut, j'ai lu ton message sur les soirées : ça te dirait d'en parler à deux ?"
INVITE_REPLY = "Oui, avec plaisir. Les soirées sont aussi ce qui me pèse le plus."

ABOUT = "Ce n'est pas un soin, ni un service d'urgence."
WAITING = "Ta demande attend une personne"
OPEN = "Conversation en cours"
ENDED = "Conversation terminée"
CALLED = "a demandé l'aide des modérateur·rices de l'espace"


@pytest.fixture
def open_page(chromium: Any, base_url: str) -> Iterator[OpenPage]:
    """The people of a conversation, each in a browser context of their own, watched like
    ``page``."""
    with ExitStack() as stack:
        def opener(**context_args: Any) -> Any:
            return stack.enter_context(contextmanager(_open_page)(chromium, base_url,
                                                                  **context_args))
        yield opener


def _shoot_both(page: Any, name: str) -> None:
    """Save ``page`` at 1280 px and at 375 px (light), as ``make screenshots`` names them,
    when ``FORUM_SCREENSHOTS=1`` asks for it; the page is left at its width."""
    if os.environ.get("FORUM_SCREENSHOTS") != "1":
        return
    assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches") is False
    size = dict(page.viewport_size)
    page.evaluate("document.activeElement && document.activeElement.blur()")
    try:
        for width, (pixels, height) in WIDTHS.items():
            page.set_viewport_size({"width": pixels, "height": height})
            _shoot(page, f"conversation-{name}", width, "light")
            assert page.evaluate("document.documentElement.scrollWidth") <= pixels, \
                f"{name} scrolls sideways at {pixels} px"
    finally:
        page.set_viewport_size(size)


@pytest.fixture
def database_url(base_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The SQLite file the live server of this session serves (``tests.browser.live``)."""
    found = sorted({path.resolve() for path in
                    tmp_path_factory.getbasetemp().glob("live*/forum.db")})
    assert len(found) == 1, f"the live server's database is not where it was made: {found}"
    return f"sqlite+aiosqlite:///{found[0]}"


def _season(database_url: str, pseudonym: str) -> None:
    """The member's account is a month old and has its visible posts in a public thread of
    the theme: old enough to ask another member (``forum.conversations.is_new_account``)."""
    async def season(session: AsyncSession) -> None:
        member = await session.scalar(select(Member).where(Member.pseudonym == pseudonym))
        assert member is not None, pseudonym
        await session.execute(update(Member).where(Member.id == member.id)
                              .values(created_at=utcnow() - timedelta(days=30)))
        thread = await session.scalar(
            select(Thread).join(Space, Thread.space_id == Space.id)
            .where(Space.slug == THEME, Thread.conversation_id.is_(None),
                   Thread.group_session_id.is_(None)).limit(1))
        assert thread is not None
        for n in range(conversations.NEW_ACCOUNT_POSTS):
            text = f"Merci pour ce fil, il m'aide ({n + 1})."
            await actions.do_reply(session, thread=thread, author=member, source=text,
                                   verdict=Verdict(html=render_markdown(text),
                                                   renderer_version=RENDERER_VERSION))

    _in_database(database_url, season)


def _path(page: Any) -> str:
    return urlsplit(page.url).path


def _trained_helper(helper: Any, admin: Any) -> str:
    """A member signs up; the admin gives them the badge from /admin/members; the helper takes
    the theme on /helpers, reached from their conversations page. Returns the pseudonym."""
    name, _ = sign_up(helper, random_pseudonym("Tilleul"))
    helper.goto("/conversations")
    assert helper.get_by_role("link", name="Ma page de pair-aidant·e").count() == 0
    assert helper.goto("/helpers").status == 403, "the helpers' page before the badge"

    if admin.locator(".account-nav__name").count() == 0:
        log_in(admin, ADMIN)
    admin.goto("/admin/members")
    admin.fill("#member-q", name)
    with admin.expect_navigation():
        admin.get_by_role("button", name="Chercher").click()
    grant = admin.get_by_role("button", name=f"Donner le badge pair-aidant·e formé·e à {name}")
    with admin.expect_navigation():
        grant.click()
    card = admin.locator(".admin-member", has=admin.locator("h3", has_text=name))
    assert f"{name} porte maintenant le badge « Pair-aidant·e formé·e »." in card.inner_text()
    assert "Pair-aidant·e formé·e · conversations en cours : 0 sur 2" in card.inner_text()
    assert card.get_by_role("button", name=f"Retirer le badge pair-aidant·e formé·e de {name}"
                            ).count() == 1

    helper.goto("/conversations")
    with helper.expect_navigation():
        helper.get_by_role("link", name="Ma page de pair-aidant·e").click()
    assert _path(helper) == "/helpers"
    assert "Aucune demande n'attend sur tes thèmes." in helper.inner_text("main")
    form = helper.locator("form[action='/helpers/disponibilites']")
    form.locator(f"input[name=themes][value={THEME}]").check()
    assert form.locator("input[name=langs][value=fr]").is_checked(), "French by default"
    with helper.expect_response(lambda r: r.request.method == "POST") as sent:
        form.get_by_role("button", name="Enregistrer").click()
    assert sent.value.status == 303
    helper.wait_for_url("**/helpers#disponibilites")
    assert helper.locator(f"input[name=themes][value={THEME}]").is_checked()
    return name


def _ask(member: Any, text: str) -> int:
    """From the header's "Conversations", "Parler à un·e pair-aidant·e": the theme, a first
    message, sent. Returns the conversation's thread id (the page it lands on)."""
    with member.expect_navigation():
        member.locator(".account-nav").get_by_role("link", name="Conversations").click()
    assert _path(member) == "/conversations"
    with member.expect_navigation():
        member.get_by_role("link", name="Parler à un·e pair-aidant·e").click()
    assert _path(member) == "/conversations/new"
    about = member.inner_text(".conversation-about")
    assert ABOUT in about
    assert "Qui lit : toi et le ou la pair-aidant·e" in about
    assert member.locator(".conversation-about .crisis-line a[href^='tel:']").count() >= 1
    member.select_option("#theme", THEME)
    assert member.locator("#theme option:checked").inner_text() == THEME_NAME
    member.fill("#body", text)
    with member.expect_response(lambda r: r.request.method == "POST") as sent:
        member.get_by_role("button", name="Envoyer ma demande").click()
    assert sent.value.status == 303
    member.wait_for_url("**/t/*")
    thread_id = int(_path(member).rsplit("/", 1)[1])
    banner = member.inner_text(".conversation-banner")
    assert WAITING in banner and f"Sur le thème « {THEME_NAME} »" in banner
    assert text in member.inner_text("#posts")
    return thread_id


def _accept(helper: Any, thread_id: int, text: str) -> int:
    """The request waits on /helpers, its text unread; the helper accepts and lands on the
    conversation. Returns the conversation's id."""
    helper.goto("/helpers")
    queue = helper.locator("section[aria-labelledby=queue-heading] .conversation-card")
    assert queue.count() == 1, queue.all_inner_texts()
    assert f"Sur le thème « {THEME_NAME} »" in queue.inner_text()
    assert text not in helper.inner_text("main"), "the queue shows the member's words"
    action = str(queue.locator("form").get_attribute("action"))
    conversation_id = int(action.split("/")[2])
    _shoot_both(helper, "helpers")
    with helper.expect_navigation(url=f"**/t/{thread_id}**"):
        queue.get_by_role("button", name="Accepter").click()
    assert OPEN in helper.inner_text(".conversation-banner")
    assert text in helper.inner_text("#posts")
    return conversation_id


def test_a_member_asks_a_helper_accepts_and_each_hears_the_other_live(
    open_page: OpenPage,
) -> None:
    admin, helper, member, moderator = open_page(), open_page(), open_page(), open_page()
    helper_name = _trained_helper(helper, admin)

    member_name, _ = sign_up(member, random_pseudonym("Ecureuil"))
    member.goto("/conversations/new")
    member.select_option("#theme", THEME)
    member.fill("#body", ASKING)
    _shoot_both(member, "new")
    member.goto("/")
    thread_id = _ask(member, ASKING)

    # Waiting on its page, the member hears the acceptance through the header's count.
    _goto_listening(member, f"/t/{thread_id}")
    member.evaluate("window.__marker = 1")
    unread = _badge(member, "unread-notifications")
    conversation_id = _accept(helper, thread_id, ASKING)
    member.wait_for_function(BADGE_ABOVE, arg=["unread-notifications", unread],
                             timeout=LIVE_WITHIN_MS)

    # The helper writes; the member's open page shows it without a reload.
    reply_with_htmx(helper, HELPER_1)
    member.wait_for_function(NEWS_SAYS, arg=["1 nouveau message dans ce fil."],
                             timeout=LIVE_WITHIN_MS)
    member.locator("#thread-news").get_by_role("link", name="Les afficher").click()
    member.wait_for_function("(text) => document.getElementById('posts').innerText"
                             ".includes(text)", arg=HELPER_1, timeout=LIVE_WITHIN_MS)
    assert member.evaluate("window.__marker") == 1, "the helper's message came with a reload"
    assert helper_name in member.inner_text("#posts")

    # The member answers; the helper's open page hears it too.
    _goto_listening(helper, f"/t/{thread_id}")
    helper.evaluate("window.__marker = 1")
    reply_with_htmx(member, MEMBER_2)
    helper.wait_for_function(NEWS_SAYS, arg=["1 nouveau message dans ce fil."],
                             timeout=LIVE_WITHIN_MS)
    helper.locator("#thread-news").get_by_role("link", name="Les afficher").click()
    helper.wait_for_function("(text) => document.getElementById('posts').innerText"
                             ".includes(text)", arg=MEMBER_2, timeout=LIVE_WITHIN_MS)
    assert helper.evaluate("window.__marker") == 1

    reply_with_htmx(helper, HELPER_2)
    reported = reply_with_htmx(member, MEMBER_3)
    member.reload()
    # The page is the two people's: no follow button, no public space in the breadcrumbs.
    assert member.locator(".breadcrumbs").get_by_role("link", name="Mes conversations").count()
    assert member.locator(f".breadcrumbs a[href='/s/{THEME}']").count() == 0
    assert OPEN in member.inner_text(".conversation-banner")
    assert member.locator(".conversation-helper").count() == 0, "the helper's panel shown"
    _shoot_both(member, "thread-member")

    member.goto("/conversations")
    card = member.locator(".conversation-card", has_text=THEME_NAME)
    assert card.count() == 1
    assert "En cours" in card.inner_text() and f"avec {helper_name}" in card.inner_text()
    assert card.get_by_role("link").get_attribute("href") == f"/conversations/{conversation_id}"
    _shoot_both(member, "list")

    # The helper opens their panel and calls the space's moderators in.
    helper.goto(f"/conversations/{conversation_id}")
    assert _path(helper) == f"/t/{thread_id}"
    assert MEMBER_3 in helper.inner_text("#posts")
    panel = helper.locator("details.conversation-helper")
    panel.locator("summary").click()
    assert panel.get_attribute("open") is not None
    _shoot_both(helper, "thread-helper")
    panel.get_by_label("J'ai besoin d'un avis ou d'un relais").check()
    panel.get_by_label("Quelques mots pour l'équipe (facultatif)").fill(CALL_NOTE)
    with helper.expect_response(lambda r: r.request.method == "POST") as sent:
        panel.get_by_role("button", name="Appeler l'équipe").click()
    assert sent.value.status == 303
    helper.wait_for_url(f"**/t/{thread_id}**")
    assert "l'équipe de modération de l'espace a été appelée" in helper.inner_text(
        ".conversation-banner"), "the helper is told the call went"

    member.goto("/notifications")
    assert f"{helper_name} {CALLED}" in member.inner_text("main"), "the member is not told"

    log_in(moderator, MODERATOR)
    post_number = reported.removeprefix("post-")
    moderator.goto("/mod")
    assert moderator.locator(f"#item-{post_number}").count() == 1, "the call is not in /mod"
    moderator.goto(f"/mod/posts/{post_number}")
    seen = moderator.inner_text("main")
    assert "Ce message vient d'une conversation à deux." in seen
    assert MEMBER_3 in moderator.inner_text("#item-post")
    for before in (HELPER_1, MEMBER_2, HELPER_2):
        assert before in seen, before
    assert ASKING not in seen, "the moderator reads more than the few messages before"
    assert CALL_NOTE in seen
    assert moderator.locator(f"a[href^='/t/{thread_id}'], a[href='/p/{post_number}']"
                             ).count() == 0
    _shoot_both(moderator, "mod-item")
    assert moderator.goto(f"/t/{thread_id}").status == 404, "the moderator opens the thread"

    # The member ends it: nobody writes any more.
    member.goto(f"/t/{thread_id}")
    member.locator(".conversation-end > summary").click()  # asked once more, then done
    with member.expect_navigation(url=f"**/t/{thread_id}**"):
        member.get_by_role("button", name="Oui, terminer").click()
    assert ENDED in member.inner_text(".conversation-banner")
    assert member.locator("#reply-form").count() == 0
    helper.goto("/helpers")
    assert "Aucune pour l'instant." in helper.inner_text("section[aria-labelledby=held-heading]")
    assert member_name not in helper.inner_text("main")


def test_without_javascript_a_member_asks_and_reads_the_answer_after_a_reload(
    open_page: OpenPage,
) -> None:
    admin, helper = open_page(), open_page()
    member = open_page(java_script_enabled=False)
    requested: list[str] = []
    member.on("request", lambda request: requested.append(urlsplit(request.url).path))
    _trained_helper(helper, admin)

    sign_up(member, random_pseudonym("Mesange"))
    assert member.evaluate("typeof window.htmx") == "undefined", "JavaScript is not off"
    thread_id = _ask(member, NOJS_ASKING)
    _accept(helper, thread_id, NOJS_ASKING)
    member.reload()
    assert OPEN in member.inner_text(".conversation-banner")

    reply_with_htmx(helper, NOJS_HELPER)
    member.wait_for_timeout(500)  # what a stream would have needed, had there been one
    assert NOJS_HELPER not in member.inner_text("#posts")
    assert member.inner_text("#thread-news") == ""
    member.reload()
    assert NOJS_HELPER in member.inner_text("#posts")

    member.fill("#reply-body", NOJS_REPLY)
    with member.expect_response(lambda r: r.request.method == "POST") as sent:
        member.click("#reply-form button[type=submit]")
    assert sent.value.status == 303
    member.wait_for_load_state()
    post_id = member.url.rsplit("#", 1)[1]
    assert NOJS_REPLY in member.inner_text(f"#{post_id} .post__body")
    assert "/live" not in requested, "a page without JavaScript opened a stream"

    helper.reload()
    assert NOJS_REPLY in helper.inner_text("#posts")


def test_between_members_one_accepts_requests_the_other_asks_and_they_talk(
    open_page: OpenPage, database_url: str,
) -> None:
    asker, asked = open_page(), open_page()
    asked_name, _ = sign_up(asked, random_pseudonym("Bouleau"))
    asked.goto("/conversations")
    settings = asked.locator("form[action='/conversations/reglages']")
    box = settings.get_by_label("Accepter les demandes de conversation")
    assert not box.is_checked(), "off by default"
    box.check()
    with asked.expect_navigation(url="**/conversations#reglages"):
        settings.get_by_role("button", name="Enregistrer").click()
    assert settings.get_by_label("Accepter les demandes de conversation").is_checked()

    asker_name, _ = sign_up(asker, random_pseudonym("Saule"))
    _season(database_url, asker_name)
    asker.goto("/conversations")
    with asker.expect_navigation():
        asker.get_by_role("link", name="Proposer une conversation à un·e membre").click()
    assert _path(asker) == "/conversations/membre"
    asker.fill("#to", asked_name)
    asker.select_option("#theme", THEME)
    asker.fill("#body", INVITE)
    _shoot_both(asker, "member-ask")

    _goto_listening(asked, "/conversations")  # the member asked hears the request come
    unread = _badge(asked, "unread-notifications")
    with asker.expect_navigation(url="**/t/*"):
        asker.get_by_role("button", name="Envoyer ma demande").click()
    thread_id = int(_path(asker).rsplit("/", 1)[1])
    assert asker.inner_text("h1") == f"Conversation avec {asked_name}"
    assert "Ta demande attend sa réponse" in asker.inner_text(".conversation-banner")
    asked.wait_for_function(BADGE_ABOVE, arg=["unread-notifications", unread],
                            timeout=LIVE_WITHIN_MS)

    asked.goto("/notifications")
    told = asked.locator(".notification", has_text=f"{asker_name} aimerait discuter avec toi")
    with asked.expect_navigation(url=f"**/t/{thread_id}**"):
        told.get_by_role("link").click()
    assert asked.inner_text("h1") == f"Conversation avec {asker_name}"
    banner = asked.locator(".conversation-banner")
    assert "Une demande de conversation pour toi" in banner.inner_text()
    assert INVITE in asked.inner_text("#posts")
    assert asked.locator("#reply-form").count() == 0, "the member asked writes before accepting"
    _shoot_both(asked, "member-invite")
    with asked.expect_navigation(url=f"**/t/{thread_id}**"):
        banner.get_by_role("button", name="Accepter la conversation").click()
    assert OPEN in asked.inner_text(".conversation-banner")

    _goto_listening(asker, f"/t/{thread_id}")
    asker.evaluate("window.__marker = 1")
    reply_with_htmx(asked, INVITE_REPLY)
    asker.wait_for_function(NEWS_SAYS, arg=["1 nouveau message dans ce fil."],
                            timeout=LIVE_WITHIN_MS)
    asker.locator("#thread-news").get_by_role("link", name="Les afficher").click()
    asker.wait_for_function("(text) => document.getElementById('posts').innerText"
                            ".includes(text)", arg=INVITE_REPLY, timeout=LIVE_WITHIN_MS)
    assert asker.evaluate("window.__marker") == 1, "the reply came with a reload"
