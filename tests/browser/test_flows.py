"""The core flows in Chromium with JavaScript on: reading, signing up, writing through htmx."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.flows import (
    MEMBERS_ONLY_SLUG,
    focused_id,
    public_thread_url,
    reply_with_htmx,
    sign_up,
    start_thread,
)

pytestmark = pytest.mark.browser


def test_a_visitor_reads_home_then_a_space_then_a_thread(page: Any) -> None:
    page.goto("/")
    assert page.locator("h1").first.is_visible()
    page.click(".space-card__name a[href='/s/anxiete']")
    page.wait_for_url("**/s/anxiete")
    assert page.locator("#thread-list .thread-row__title").count() > 0
    title = page.inner_text("#thread-list .thread-row__title >> nth=0")
    page.click("#thread-list .thread-row__title >> nth=0")
    page.wait_for_url("**/t/*")
    assert page.inner_text("h1").strip() == title.strip()
    assert page.locator("#posts article.post").count() >= 1
    assert page.locator(".notice--invite a[href='/signup']").is_visible()


def test_a_visitor_sees_an_invitation_not_the_threads_of_a_members_only_space(page: Any) -> None:
    page.goto(f"/s/{MEMBERS_ONLY_SLUG}")
    assert page.locator(".notice--invite").is_visible()
    assert page.locator(".notice--invite a[href='/signup']").is_visible()
    assert page.locator("#thread-list").count() == 0


def test_sign_up_shows_the_recovery_code_once(page: Any) -> None:
    pseudonym, code = sign_up(page)
    assert len(code) >= 10
    assert page.locator("#recovery-code code").is_visible()
    page.reload()  # a reload shows the same code again, not an error
    assert page.inner_text("#recovery-code code").strip() == code
    page.click("form[action='/recovery-code'] button[type=submit]")
    page.wait_for_url("**/")
    assert page.inner_text(".account-nav__name") == pseudonym


def test_a_member_starts_a_thread(page: Any) -> None:
    sign_up(page)
    start_thread(page, "Une première fois ici", "Bonjour à toutes et tous, je me lance.")
    assert page.inner_text("h1") == "Une première fois ici"
    assert "je me lance" in page.inner_text("#posts .post__body")


def test_a_reply_through_htmx_appears_without_a_page_load_and_takes_focus(page: Any) -> None:
    sign_up(page)
    page.goto(public_thread_url(page))
    posts_before = page.locator("#posts article.post").count()
    replies_before = int(page.inner_text("#thread-reply-count").split()[0])
    page.evaluate("window.__marker = 1")

    new_id = reply_with_htmx(page, "Merci pour ce partage, ça me parle beaucoup.")
    assert page.inner_text("#thread-reply-count").split()[0] == str(replies_before + 1)

    assert page.evaluate("window.__marker") == 1, "the document was replaced by a page load"
    assert page.locator("#posts article.post").count() == posts_before + 1
    new_post = page.locator(f"#{new_id}")
    assert "ça me parle beaucoup" in new_post.inner_text()
    assert page.input_value("#reply-body") == "", "the form was not cleared"


def test_a_member_edits_their_post_and_it_says_modified(page: Any) -> None:
    sign_up(page)
    page.goto(public_thread_url(page))
    post_id = reply_with_htmx(page, "Premier jet de mon message.").removeprefix("post-")

    page.click(f"#post-{post_id} .post__actions a[href='/p/{post_id}/edit']")
    page.wait_for_url(f"**/p/{post_id}/edit")
    page.fill("#body", "Version relue de mon message.")
    page.click("form.composer button[type=submit]")
    page.wait_for_selector(f"#post-{post_id} .post__edited")

    assert "Version relue" in page.inner_text(f"#post-{post_id} .post__body")


def test_a_member_deletes_their_post_and_a_placeholder_stays(page: Any) -> None:
    sign_up(page)
    page.goto(public_thread_url(page))
    post_id = reply_with_htmx(page, "Un message que je vais retirer.").removeprefix("post-")

    page.click(f"#post-{post_id} .post__actions a[href='/p/{post_id}/delete']")
    page.wait_for_url(f"**/p/{post_id}/delete")
    page.click("form[action$='/delete'] button[type=submit]")
    page.wait_for_selector(f"#post-{post_id} .post__placeholder")

    assert page.locator(f"#post-{post_id} .post__body").count() == 0
    assert "retirer" not in page.inner_text(f"#post-{post_id}")


def test_a_reply_too_long_keeps_the_text_and_moves_focus_to_the_field(page: Any) -> None:
    sign_up(page)
    page.goto(public_thread_url(page))
    page.evaluate("window.__marker = 1")
    # An old browser may ignore maxlength: the server is the one that must refuse.
    page.evaluate("document.getElementById('reply-body').removeAttribute('maxlength')")
    text = "Je voulais tout dire d'un coup. " * 700
    page.fill("#reply-body", text)
    posts_before = page.locator("#posts article.post").count()

    page.click("#reply-form button[type=submit]")
    page.wait_for_selector("#reply-form .field-error")

    assert page.evaluate("window.__marker") == 1
    assert focused_id(page) == "reply-body"
    assert page.input_value("#reply-body") == text.rstrip()
    assert page.get_attribute("#reply-body", "aria-invalid") == "true"
    assert page.locator("#posts article.post").count() == posts_before


def test_an_empty_reply_is_refused_with_a_message_and_focus_on_the_field(page: Any) -> None:
    sign_up(page)
    page.goto(public_thread_url(page))
    page.evaluate("document.getElementById('reply-body').removeAttribute('required')")

    page.click("#reply-form button[type=submit]")
    page.wait_for_selector("#reply-form .field-error")

    assert focused_id(page) == "reply-body"
    assert page.locator("#reply-form [role=alert]").is_visible()


def test_the_language_switch_goes_to_english_and_back(page: Any) -> None:
    page.goto("/help")
    french_help = page.inner_text(".help-link")

    page.select_option("#language-select", "en")
    page.click(".language-form button[type=submit]")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert page.url.endswith("/help")
    assert page.inner_text(".help-link") != french_help

    page.select_option("#language-select", "fr")
    page.click(".language-form button[type=submit]")
    page.wait_for_function("() => document.documentElement.lang === 'fr'")
    assert page.inner_text(".help-link") == french_help
