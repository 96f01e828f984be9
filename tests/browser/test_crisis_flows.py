"""The crisis pause, content warnings and the quick exit in Chromium, with and without JavaScript.

Each test opens its own thread so that what it checks (the crisis banner, a warned post) cannot
come from another test.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.flows import focused_id, reply_with_htmx, sign_up, start_thread
from tests.browser.live import QUICK_EXIT_URL
from tests.browser.test_accessibility import axe_violations

pytestmark = pytest.mark.browser

URGENT_TEXT = "Ce soir je vais en finir, j'ai tout ce qu'il faut à côté de moi."
CONCERN_TEXT = "Je voudrais ne plus me réveiller le matin."
CALM_OPENING = "Bonjour, je partage ici comment se passe ma semaine, rien de grave."


def _own_thread(page: Any, title: str) -> int:
    sign_up(page)
    return start_thread(page, title, CALM_OPENING)


def _ask_to_reply(page: Any, text: str) -> None:
    page.fill("#reply-body", text)
    page.click("#reply-form button[type=submit]")
    page.wait_for_selector("[data-crisis-level]")


# --- The crisis pause ---------------------------------------------------------------------


def test_an_urgent_reply_through_htmx_shows_the_pause_in_place_with_the_emergency_lines_first(
    page: Any,
) -> None:
    _own_thread(page, "Une soirée difficile")
    page.evaluate("window.__marker = 1")

    _ask_to_reply(page, URGENT_TEXT)

    assert page.evaluate("window.__marker") == 1, "the pause came with a page load"
    pause = page.locator("[data-crisis-level]")
    assert pause.get_attribute("data-crisis-level") == "urgent"
    assert pause.get_attribute("id") == "reply-form", "the pause did not replace the reply form"
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.hasAttribute('data-crisis-level')"
    )
    calls = pause.locator(".crisis-pause__call a[href^='tel:']")
    assert [calls.nth(i).get_attribute("href") for i in range(2)] == ["tel:15", "tel:3114"]
    assert page.locator("#posts article.post").count() == 1, "the text was published already"


def test_publishing_from_the_pause_appends_the_post_and_the_thread_then_shows_the_banner(
    page: Any,
) -> None:
    thread_id = _own_thread(page, "Je pose ça là")
    assert page.locator(".crisis-banner").count() == 0
    _ask_to_reply(page, URGENT_TEXT)

    page.click("[data-crisis-level] button[name=crisis_ack]")
    page.wait_for_function(
        "() => document.activeElement && /^post-\\d+$/.test(document.activeElement.id)"
    )

    new_post = page.locator(f"#{focused_id(page)}")
    assert "tout ce qu'il faut" in new_post.inner_text()
    assert page.locator("[data-crisis-level]").count() == 0
    assert page.locator("#reply-form textarea#reply-body").count() == 1
    page.goto(f"/t/{thread_id}")
    assert page.locator(".crisis-banner a[href='/help']").is_visible()


def test_changing_one_s_mind_on_the_pause_gives_the_form_back_with_the_text(page: Any) -> None:
    _own_thread(page, "Pas sûr·e de vouloir poster")
    _ask_to_reply(page, URGENT_TEXT)

    page.click("[data-crisis-level] button[name=crisis_edit]")
    page.wait_for_selector("#reply-form textarea#reply-body")

    assert page.locator("[data-crisis-level]").count() == 0
    assert page.input_value("#reply-body") == URGENT_TEXT
    assert page.locator("#posts article.post").count() == 1, "editing published the text"


def test_a_worrying_but_not_urgent_reply_gets_the_gentler_pause(page: Any) -> None:
    _own_thread(page, "Fatigué·e de tout")
    _ask_to_reply(page, CONCERN_TEXT)
    assert page.get_attribute("[data-crisis-level]", "data-crisis-level") == "concern"
    # The concern pause opens the other lines at once; the urgent one leads with the calls.
    assert page.locator("[data-crisis-level] details.crisis-pause__more[open]").count() == 1


def test_without_javascript_the_pause_is_a_page_and_publishing_lands_on_the_post(
    nojs_page: Any,
) -> None:
    thread_id = _own_thread(nojs_page, "Sans JavaScript, une nuit dure")
    nojs_page.fill("#reply-body", URGENT_TEXT)
    with nojs_page.expect_navigation():
        nojs_page.click("#reply-form button[type=submit]")
    assert nojs_page.get_attribute("[data-crisis-level]", "data-crisis-level") == "urgent"
    assert nojs_page.locator("#posts").count() == 0, "the pause is not a page of its own"

    with nojs_page.expect_response(lambda r: r.request.method == "POST") as posted:
        nojs_page.click("[data-crisis-level] button[name=crisis_ack]")
    assert posted.value.status == 303
    nojs_page.wait_for_url(f"**/t/{thread_id}*")
    fragment = urlsplit(nojs_page.url).fragment
    assert fragment.startswith("post-")
    assert "tout ce qu'il faut" in nojs_page.inner_text(f"#{fragment}")


def test_the_crisis_pause_page_passes_axe(axe_page: Any) -> None:
    sign_up(axe_page)
    start_thread(axe_page, "Pour axe, une pause", CALM_OPENING)
    axe_page.fill("#reply-body", URGENT_TEXT)
    axe_page.click("#reply-form button[type=submit]")
    axe_page.wait_for_selector("[data-crisis-level=urgent]")
    assert axe_violations(axe_page) == []


# --- Content warnings ---------------------------------------------------------------------


def _reply_with_warning(page: Any, text: str, theme: str) -> str:
    page.click("#reply-form details.field--warning summary")
    page.select_option("#reply-body-cw", theme)
    return reply_with_htmx(page, text)


def test_a_warned_post_is_folded_and_opens_with_the_keyboard(page: Any) -> None:
    thread_id = _own_thread(page, "Un an déjà")
    post_id = _reply_with_warning(page, "Mon père est parti il y a un an aujourd'hui.", "deuil")

    page.goto(f"/t/{thread_id}")
    warning = page.locator(f"#{post_id} details.post__warning")
    assert warning.get_attribute("open") is None
    assert not page.locator(f"#{post_id} .post__body").is_visible()
    assert "Deuil" in warning.locator("summary").inner_text()

    warning.locator("summary").focus()
    page.keyboard.press("Enter")

    assert warning.get_attribute("open") is not None
    assert "il y a un an" in page.locator(f"#{post_id} .post__body").inner_text()


def test_a_member_who_hides_a_theme_sees_a_placeholder_instead(chromium: Any, page: Any,
                                                              base_url: str) -> None:
    thread_id = _own_thread(page, "Parler de consommation")
    post_id = _reply_with_warning(page, "J'ai recommencé à boire ce week-end.", "substances")

    reader = chromium.new_context(base_url=base_url, locale="fr-FR")
    try:
        other = reader.new_page()
        sign_up(other)
        other.goto("/settings")
        other.check("#hide_substances")
        other.click("form[action='/settings'] button[type=submit]")
        other.wait_for_url("**/settings?saved=1")
        other.goto(f"/t/{thread_id}")
        hidden = other.locator(f"#{post_id} details.post__warning--hidden")
        assert hidden.get_attribute("open") is None
        assert "Message masqué selon tes réglages" in hidden.locator("summary").inner_text()
        assert not other.locator(f"#{post_id} .post__body").is_visible()
    finally:
        reader.close()


# --- The quick exit -----------------------------------------------------------------------


NEUTRAL_PAGE = "<!doctype html><title>Météo</title><p>Beau temps demain.</p>"
WATCH_BLANKING = """() => new MutationObserver(() => {
    if (!document.body.textContent.trim()) { window.__reportBlank(document.title); }
}).observe(document.body, {childList: true})"""


def _watch_the_exit(page: Any) -> list[str]:
    """Serve the neutral site from the test; returns the titles seen when the page went blank."""
    blanked: list[str] = []
    page.route(QUICK_EXIT_URL, lambda route: route.fulfill(
        status=200, content_type="text/html; charset=utf-8", body=NEUTRAL_PAGE))
    page.expose_function("__reportBlank", lambda title: blanked.append(title))
    return blanked


def _left_for_the_neutral_site(page: Any, blanked: list[str], leave: Any) -> None:
    with page.expect_navigation(url=QUICK_EXIT_URL):
        leave()
    assert page.url == QUICK_EXIT_URL
    # The page reports its blanking through a binding: that message can reach Python just
    # after the navigation event does, so give it a moment to arrive (it is sent before).
    for _ in range(20):
        if blanked:
            break
        page.wait_for_timeout(100)
    assert blanked == [""], "the page was not blanked (and its title cleared) before leaving"


def test_the_quick_exit_is_the_second_thing_the_keyboard_reaches(page: Any) -> None:
    page.goto("/s/anxiete")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.classList.contains('skip-link')")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.hasAttribute('data-quick-exit')")
    assert page.get_attribute("[data-quick-exit]", "href") == QUICK_EXIT_URL


def test_the_quick_exit_button_blanks_the_page_and_back_does_not_return_to_it(
    page: Any,
) -> None:
    blanked = _watch_the_exit(page)
    page.goto("/")
    page.goto("/s/anxiete")
    page.evaluate(WATCH_BLANKING)

    _left_for_the_neutral_site(page, blanked, lambda: page.click("[data-quick-exit]"))

    page.go_back()
    assert urlsplit(page.url).path != "/s/anxiete", "Back returned to the page the person left"


def test_pressing_shift_three_times_leaves_too(page: Any) -> None:
    blanked = _watch_the_exit(page)
    page.goto("/")
    page.goto("/help")
    page.evaluate(WATCH_BLANKING)
    for _ in range(2):
        page.keyboard.press("Shift")
    assert urlsplit(page.url).path == "/help", "two presses were enough to leave"

    _left_for_the_neutral_site(page, blanked, lambda: page.keyboard.press("Shift"))

    page.go_back()
    assert urlsplit(page.url).path != "/help", "Back returned to the page the person left"
