"""Keyboard only: the skip link first, the help link early, and a reply written and sent."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.flows import focused_id, public_thread_url, sign_up, tab_until

pytestmark = pytest.mark.browser

FOCUSED_CLASS = "document.activeElement.className"


def test_the_first_tab_reaches_the_skip_link_which_moves_to_the_content(page: Any) -> None:
    page.goto("/")
    page.keyboard.press("Tab")
    assert "skip-link" in page.evaluate(FOCUSED_CLASS)
    assert page.locator(".skip-link").is_visible(), "the focused skip link must be seen"

    page.keyboard.press("Enter")
    assert focused_id(page) == "main"


def test_the_help_link_is_among_the_first_three_stops(page: Any) -> None:
    page.goto("/s/anxiete")
    stops = tab_until(page, "el.classList.contains('help-link')", limit=3)
    assert stops <= 3
    assert page.evaluate("document.activeElement.getAttribute('href')") == "/help"


def test_focus_is_visible_on_links_and_buttons(page: Any) -> None:
    page.goto("/")
    tab_until(page, "el.classList.contains('help-link')", limit=3)
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    width = page.evaluate("parseFloat(getComputedStyle(document.activeElement).outlineWidth)")
    assert outline != "none" and width >= 2


def test_a_reply_is_written_and_sent_with_the_keyboard_only(page: Any) -> None:
    sign_up(page)
    page.goto(public_thread_url(page))
    page.evaluate("window.__marker = 1")

    tab_until(page, "el.id === 'reply-body'", limit=200)
    page.keyboard.type("Écrit au clavier, sans souris.")
    tab_until(page, "el.matches('#reply-form button[type=submit]')", limit=10)
    page.keyboard.press("Enter")
    page.wait_for_function("() => /^post-\\d+$/.test(document.activeElement.id)")

    new_id = focused_id(page)
    assert "sans souris" in page.inner_text(f"#{new_id}")
    assert page.evaluate("window.__marker") == 1


def test_the_quick_exit_lives_in_a_landmark_and_writers_are_told_of_shift(page: Any) -> None:
    # Issue 19: the link sat outside every landmark; Shift×3 also leaves from a text field.
    page.goto("/")
    assert page.locator("nav[aria-label] > a[data-quick-exit]").count() == 1
    sign_up(page)
    page.goto("/s/anxiete/new")
    hint = page.locator("#body-hint").inner_text()
    assert "Maj" in hint and "gardé" in hint


def _press_focused(page: Any, selector: str) -> None:
    """Focus ``selector`` and press Enter, as a keyboard user would; wait for the swap."""
    page.focus(selector)
    with page.expect_response(lambda answer: answer.request.method == "POST"):
        page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('alerts').textContent.trim() !== ''")


def test_a_reaction_keeps_the_focus_on_its_button_and_says_what_changed(page: Any) -> None:
    # Issue 19: after a reaction the focus fell to <body> and the live region stayed empty.
    sign_up(page)
    page.goto(public_thread_url(page))
    button = page.locator(".reactions__form button[aria-pressed=false]").first
    holder = button.evaluate("b => b.closest('.reactions').id")
    value = button.get_attribute("value")
    key = f"#{holder} button[value='{value}']"
    label = button.inner_text().strip()
    _press_focused(page, key)
    focused = "document.activeElement.closest('.reactions').id + ' ' + document.activeElement.value"
    assert page.evaluate(focused) == f"{holder} {value}"
    assert page.evaluate("document.activeElement.getAttribute('aria-pressed')") == "true"
    said = page.inner_text("#alerts")
    assert label in said and "envoyé" in said

    # The header's unread count, polled, swaps in meanwhile: the focus and the words stay.
    with page.expect_response(lambda answer: "/notifications/unread" in answer.url):
        page.evaluate("""() => htmx.ajax('GET', '/notifications/unread', {
            source: '#unread-notifications', target: '#unread-notifications',
            swap: 'outerHTML'})""")
    page.wait_for_timeout(300)
    assert page.evaluate(focused) == f"{holder} {value}"
    assert page.inner_text("#alerts") == said

    page.evaluate("document.getElementById('alerts').textContent = ''")
    _press_focused(page, key)
    assert page.evaluate("document.activeElement.getAttribute('aria-pressed')") == "false"
    assert "retiré" in page.inner_text("#alerts")


def test_following_a_thread_keeps_the_focus_and_says_so(page: Any) -> None:
    sign_up(page)
    page.goto(public_thread_url(page))
    _press_focused(page, "#follow-form button")
    assert page.evaluate("document.activeElement.closest('#follow-form') !== null")
    assert "Tu suis ce fil" in page.inner_text("#alerts")
    assert page.inner_text("#follow-form button").strip() == "Ne plus suivre"


def test_blocking_from_a_post_shows_what_it_does_in_place_then_folds_the_post(page: Any) -> None:
    """The thread page holds only a "Bloquer …" link per post; with htmx, the explanation and
    the button take its place and the focus goes to the explanation, so a screen reader says
    what blocking does before the button is reached."""
    sign_up(page)
    page.goto(public_thread_url(page))
    link = page.locator("#posts a.post__block-link").first
    post_id = link.evaluate("a => a.closest('article.post').id")
    pseudonym = link.inner_text().removeprefix("Bloquer ").strip()
    page.evaluate("window.__marker = 1")
    with page.expect_response(lambda answer: "/block?post=" in answer.url):
        page.focus(f"#{post_id} a.post__block-link")
        page.keyboard.press("Enter")
    page.wait_for_selector(f"#{post_id} form.post__block")
    assert page.evaluate("window.__marker") == 1, "the explanation loaded a page"
    assert page.locator(f"#{post_id} a.post__block-link").count() == 0
    page.wait_for_function("() => document.activeElement.matches('.post__block p')")
    said = page.evaluate("document.activeElement.textContent")
    assert "Cette personne n’en saura rien" in said
    assert page.evaluate("document.activeElement.closest('article.post').id") == post_id
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == f"Bloquer {pseudonym}"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    folded = page.locator(f"#{post_id} details.post__blocked")
    assert folded.count() == 1 and folded.get_attribute("open") is None
