"""The crisis pause, content warnings and the quick exit in Chromium, with and without JavaScript.

Each test opens its own thread so that what it checks (the crisis banner, a warned post) cannot
come from another test.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.flows import (
    focused_id,
    public_thread_url,
    reply_with_htmx,
    sign_up,
    start_thread,
)
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


def test_publishing_from_the_pause_appends_the_post_and_the_banner_without_a_reload(
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
    # The banner comes with the post, out of band (it used to need a reload)...
    assert page.locator(".crisis-banner a[href='/help']").count() == 1
    assert page.locator(".crisis-banner a[href='/help']").is_visible()
    # ...and stays, once, on the page as served.
    page.goto(f"/t/{thread_id}")
    assert page.locator(".crisis-banner a[href='/help']").count() == 1
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


def _serve_the_neutral_site(page: Any) -> None:
    """Answer for the neutral site (a local https port nobody serves) from the test, through
    DevTools' Fetch domain rather than ``page.route``: Playwright's routes never see a
    redirected request, and Back after the exit reaches the neutral site through the forum's
    redirect from ``/sortie``."""
    devtools = page.context.new_cdp_session(page)

    def answer(event: dict[str, Any]) -> None:
        found = urlsplit(event["request"]["url"]).path == "/"
        devtools.send("Fetch.fulfillRequest", {
            "requestId": event["requestId"], "responseCode": 200 if found else 404,
            "responseHeaders": [{"name": "Content-Type", "value": "text/html; charset=utf-8"}],
            "body": base64.b64encode(NEUTRAL_PAGE.encode() if found else b"").decode(),
        })

    devtools.on("Fetch.requestPaused", answer)
    devtools.send("Fetch.enable", {"patterns": [{"urlPattern": QUICK_EXIT_URL + "*"}]})


def _watch_the_exit(page: Any) -> list[str]:
    """Serve the neutral site from the test; returns the titles seen when the page went blank."""
    blanked: list[str] = []
    _serve_the_neutral_site(page)
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


# After the exit, static/js/quick-exit.js leaves BACK_PRESSES history entries at /sortie, which
# the forum redirects to the neutral site: Back lands there that many times, and only the next
# press reaches the forum page read before the one left (docs/SAFETY.md, /help).
BACK_PRESSES = 5
NEUTRAL = "neutral site"


def _where_back_lands(page: Any, presses: int) -> list[str]:
    """Press Back ``presses`` times; where each press landed: the neutral site or a forum path.

    Playwright's Back walks the history as ``history.back()`` does: it never skips an entry,
    where Chromium's Back button may (see ``_entries_chromium_s_back_button_skips``)."""
    landed = []
    for _ in range(presses):
        page.go_back()
        landed.append(NEUTRAL if page.url == QUICK_EXIT_URL else urlsplit(page.url).path)
    return landed


def _entries_chromium_s_back_button_skips(page: Any) -> list[str]:
    """Chromium's Back button skips the history entries a page added before anyone clicked or
    typed in it (its "history manipulation intervention"); DevTools is told each time. The
    list fills as Chromium marks entries, from now on."""
    marked: list[str] = []

    def on_issue(event: dict[str, Any]) -> None:
        details = event["issue"]["details"].get("genericIssueDetails", {})
        if details.get("errorType") == "NavigationEntryMarkedSkippable":
            marked.append(str(details))

    devtools = page.context.new_cdp_session(page)
    devtools.on("Audits.issueAdded", on_issue)
    devtools.send("Audits.enable")
    return marked


def _history_titles(page: Any) -> list[str]:
    """The titles of the tab's history entries, as its Back button's list shows them."""
    devtools = page.context.new_cdp_session(page)
    try:
        return [entry["title"] for entry in
                devtools.send("Page.getNavigationHistory")["entries"]]
    finally:
        devtools.detach()


def test_after_the_quick_exit_button_back_lands_on_the_neutral_site_five_times(
    page: Any,
) -> None:
    blanked = _watch_the_exit(page)
    page.goto("/")
    page.goto("/s/anxiete")
    left_title = page.title()
    page.evaluate(WATCH_BLANKING)
    skipped = _entries_chromium_s_back_button_skips(page)

    _left_for_the_neutral_site(page, blanked, lambda: page.click("[data-quick-exit]"))
    assert not [t for t in _history_titles(page) if t == left_title], \
        "the Back button's list still names the page left"

    assert _where_back_lands(page, BACK_PRESSES + 1) == [NEUTRAL] * BACK_PRESSES + ["/"]
    # The click is what Chromium waits for: its Back button skips none of these entries.
    assert skipped == []


def test_shift_three_times_while_typing_leaves_and_back_does_not_show_the_forum(
    page: Any,
) -> None:
    # Issue 19: Shift x3 also leaves from a text field, losing the draft (the composer says so).
    sign_up(page)
    page.goto(public_thread_url(page))
    blanked = _watch_the_exit(page)
    page.evaluate(WATCH_BLANKING)
    skipped = _entries_chromium_s_back_button_skips(page)
    page.click("#reply-body")
    page.keyboard.type("Un brouillon")
    for _ in range(2):
        page.keyboard.press("Shift")
    assert page.input_value("#reply-body") == "Un brouillon", "two presses were enough to leave"

    _left_for_the_neutral_site(page, blanked, lambda: page.keyboard.press("Shift"))

    assert _where_back_lands(page, BACK_PRESSES) == [NEUTRAL] * BACK_PRESSES
    assert skipped == [], "typing is what Chromium waits for"


def test_shift_three_times_on_a_page_only_read_leaves_but_chromium_s_back_button_may_not_wait(
    page: Any,
) -> None:
    # Measured limitation, said on /help: pressing Shift is not an activation for Chromium, so
    # on a page nobody clicked or typed in, the entries the exit adds are marked skippable and
    # the real Back button goes straight to the forum page before (here "/"). Back through
    # history.back(), and other browsers, still land on the neutral site.
    _serve_the_neutral_site(page)  # no page.evaluate: Playwright's counts as an activation
    page.goto("/")
    page.goto("/help")
    skipped = _entries_chromium_s_back_button_skips(page)
    for _ in range(2):
        page.keyboard.press("Shift")
    assert urlsplit(page.url).path == "/help", "two presses were enough to leave"
    with page.expect_navigation(url=QUICK_EXIT_URL):
        page.keyboard.press("Shift")

    page.wait_for_timeout(300)  # DevTools hears of the marks just after the navigation
    assert skipped, "Chromium no longer marks these entries: update /help and docs/SAFETY.md"
    assert _where_back_lands(page, BACK_PRESSES) == [NEUTRAL] * BACK_PRESSES


def test_without_javascript_the_quick_exit_is_a_link_and_back_returns_to_the_page_left(
    nojs_page: Any,
) -> None:
    # Measured limitation, said on /help: a link adds a history entry and nothing can replace
    # the current one without JavaScript, so one Back shows the page left again.
    _serve_the_neutral_site(nojs_page)
    nojs_page.goto("/")
    nojs_page.goto("/s/anxiete")
    with nojs_page.expect_navigation(url=QUICK_EXIT_URL):
        nojs_page.click("[data-quick-exit]")
    assert nojs_page.inner_text("p") == "Beau temps demain."

    assert _where_back_lands(nojs_page, 1) == ["/s/anxiete"]
