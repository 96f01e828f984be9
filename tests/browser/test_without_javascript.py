"""The same core flows with JavaScript disabled: real forms, full page loads, 303 redirects."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.flows import public_thread_url, sign_up, start_thread

pytestmark = pytest.mark.browser


def test_javascript_is_really_off_in_these_pages(nojs_page: Any) -> None:
    nojs_page.goto("/")
    # The page still names its scripts; with JavaScript off none of them may have run.
    assert nojs_page.evaluate("typeof window.htmx") == "undefined"


def test_sign_up_without_javascript_shows_the_recovery_code(nojs_page: Any) -> None:
    _, code = sign_up(nojs_page)
    assert len(code) >= 10


def test_start_a_thread_without_javascript(nojs_page: Any) -> None:
    sign_up(nojs_page)
    thread_id = start_thread(nojs_page, "Sans JavaScript aussi", "Ça marche tout pareil.")
    assert nojs_page.url.split("#")[0].endswith(f"/t/{thread_id}")
    assert nojs_page.inner_text("h1") == "Sans JavaScript aussi"


def test_a_reply_without_javascript_posts_the_page_and_lands_on_the_new_post(
    nojs_page: Any,
) -> None:
    sign_up(nojs_page)
    nojs_page.goto(public_thread_url(nojs_page))
    nojs_page.fill("#reply-body", "Je réponds sans JavaScript.")
    with nojs_page.expect_response(lambda r: r.request.method == "POST") as posted:
        nojs_page.click("#reply-form button[type=submit]")
    assert posted.value.status == 303
    nojs_page.wait_for_load_state()

    fragment = nojs_page.url.rsplit("#", 1)[1]
    assert fragment.startswith("post-")
    assert "sans JavaScript" in nojs_page.inner_text(f"#{fragment} .post__body")


def test_an_error_without_javascript_keeps_the_title_and_the_text(nojs_page: Any) -> None:
    sign_up(nojs_page)
    nojs_page.goto("/s/anxiete/new")
    nojs_page.fill("#title", "Oh")
    nojs_page.fill("#body", "Un texte que je ne veux pas perdre.")
    with nojs_page.expect_response(lambda r: r.request.method == "POST") as posted:
        nojs_page.click("form.composer button[type=submit]")
    assert posted.value.status == 422
    nojs_page.wait_for_load_state()

    assert nojs_page.input_value("#title") == "Oh"
    assert nojs_page.input_value("#body") == "Un texte que je ne veux pas perdre."
    assert nojs_page.get_attribute("#title", "aria-invalid") == "true"
    assert nojs_page.locator("#title-error").is_visible()
    # autofocus puts the caret in the field to fix, even without JavaScript.
    assert nojs_page.evaluate("document.activeElement.id") == "title"


def test_blocking_without_javascript_goes_through_a_page_that_says_what_it_does(
    nojs_page: Any,
) -> None:
    sign_up(nojs_page)
    nojs_page.goto(public_thread_url(nojs_page))
    thread_url = nojs_page.url
    link = nojs_page.locator("#posts a.post__block-link").first
    post_id = link.evaluate("a => a.closest('article.post').id")
    with nojs_page.expect_navigation():
        link.click()
    assert "/block?post=" in nojs_page.url
    assert "Cette personne n’en saura rien" in nojs_page.inner_text("main")
    with nojs_page.expect_navigation():
        nojs_page.click("form.post__block button[type=submit]")
    assert nojs_page.url.split("?")[0].split("#")[0] == thread_url.split("#")[0]
    assert nojs_page.locator(f"#{post_id} details.post__blocked").count() == 1
