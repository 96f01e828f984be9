"""Flagging and the moderator's queue in Chromium: a member flags, a moderator hides, a visitor
no longer sees the post. The moderator and the admin are seeded (:mod:`tests.browser.seed`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest

from tests.browser.conftest import _open_page
from tests.browser.flows import public_thread_url, reply_with_htmx, sign_up, start_thread
from tests.browser.moderating import flag_with_htmx, hide_from_item_page, log_in
from tests.browser.seed import ADMIN, MODERATOR
from tests.browser.test_accessibility import axe_violations

pytestmark = pytest.mark.browser

OpenPage = Callable[..., Any]


@pytest.fixture
def open_page(chromium: Any, base_url: str) -> Iterator[OpenPage]:
    """More people in their own browser contexts, each watched like ``page``."""
    with ExitStack() as stack:
        def opener(**context_args: Any) -> Any:
            return stack.enter_context(contextmanager(_open_page)(chromium, base_url,
                                                                  **context_args))
        yield opener


def _warned_reply_in_a_new_thread(page: Any, title: str, text: str) -> tuple[int, str]:
    """A member opens a thread in the moderated space and replies with a content warning."""
    sign_up(page)
    thread_id = start_thread(page, title, "Je lance ce fil pour parler de nos semaines.")
    page.click("#reply-form details.field--warning summary")
    page.select_option("#reply-body-cw", "violences")
    return thread_id, reply_with_htmx(page, text)


def test_a_flag_through_the_htmx_dialog_reaches_the_moderator_who_hides_the_post(
    page: Any, open_page: OpenPage,
) -> None:
    text = "Franchement tu es nul, personne ne veut de toi ici."
    thread_id, post_id = _warned_reply_in_a_new_thread(page, "Ma semaine au travail", text)
    number = post_id.removeprefix("post-")

    flagger = open_page()
    sign_up(flagger)
    flagger.goto(f"/t/{thread_id}")
    flagger.evaluate("window.__marker = 1")
    flag_with_htmx(flagger, post_id)
    assert flagger.evaluate("window.__marker") == 1, "flagging loaded a page"

    moderator = open_page()
    log_in(moderator, MODERATOR)
    moderator.goto("/mod")
    item = moderator.locator(f"#item-{number}")
    assert item.count() == 1, "the flagged post is not in the queue"
    folded = item.locator("details.post__warning")
    assert folded.get_attribute("open") is None, "a warned post is not folded in the queue"
    assert not item.locator(".post__body").is_visible()
    folded.locator("summary").click()
    assert "personne ne veut de toi" in item.locator(".post__body").inner_text()

    hide_from_item_page(moderator, number, "Propos blessants envers un·e membre")
    assert moderator.url.endswith(f"/mod/posts/{number}")
    assert moderator.inner_text("#item-post .badge") == "Masqué"  # a word, not "hidden"
    moderator.goto("/mod/log")
    assert "Propos blessants envers un·e membre" in moderator.inner_text(".mod-log tbody")

    visitor = open_page()
    visitor.goto(f"/t/{thread_id}")
    assert "personne ne veut de toi" not in visitor.inner_text("#posts")
    assert visitor.locator(f"#{post_id} .post__placeholder").is_visible()


def test_flagging_works_as_a_plain_page_without_javascript(
    nojs_page: Any, open_page: OpenPage,
) -> None:
    sign_up(nojs_page)
    nojs_page.goto(public_thread_url(nojs_page))
    first_flag = nojs_page.locator("#posts .post__flag").first
    post_id = str(first_flag.get_attribute("href")).split("/")[2]
    with nojs_page.expect_navigation():
        first_flag.click()
    assert nojs_page.url.endswith(f"/p/{post_id}/flag")
    nojs_page.check("input[name=reason][value=spam]")
    with nojs_page.expect_navigation():
        nojs_page.click("form.flag-form button[type=submit]")
    assert nojs_page.locator(".flag-dialog .notice[role=status]").is_visible()

    moderator = open_page()
    log_in(moderator, MODERATOR)
    moderator.goto("/mod")
    assert moderator.locator(f"#item-{post_id}").count() == 1


def _moderator_on_the_item(open_page: OpenPage, post_id: str) -> Any:
    """The seeded moderator, logged in on their own page, on the item page of ``post_id``."""
    moderator = open_page()
    log_in(moderator, MODERATOR)
    moderator.goto(f"/mod/posts/{post_id.removeprefix('post-')}")
    return moderator


def test_a_hidden_reason_is_required_and_nothing_is_hidden_without_it(
    page: Any, open_page: OpenPage,
) -> None:
    thread_id, post_id = _warned_reply_in_a_new_thread(
        page, "Un fil de plus", "Un message que personne ne devrait masquer sans raison.")
    moderator = _moderator_on_the_item(open_page, post_id)
    moderator.evaluate("document.getElementById('reason-decision').removeAttribute('required');"
                       "document.getElementById('reason-decision').removeAttribute('minlength')")
    moderator.click("#action-hide")
    moderator.wait_for_selector("#decide .field-error")
    assert moderator.inner_text("#item-post .badge") == "Visible"
    page.goto(f"/t/{thread_id}")
    assert page.locator(f"#{post_id} .post__placeholder").count() == 0


def test_enter_in_the_reason_field_takes_no_decision(page: Any, open_page: OpenPage) -> None:
    # One reason field sits before several decision buttons: Enter in it would have sent the
    # first one (to publish, hide or restore). The form's default button is disabled.
    _, post_id = _warned_reply_in_a_new_thread(
        page, "Un fil pour la touche Entrée", "Un message qu'on ne masque pas par mégarde.")
    moderator = _moderator_on_the_item(open_page, post_id)
    number = post_id.removeprefix("post-")
    requests: list[str] = []
    moderator.on("request", lambda r: requests.append(r.method))
    moderator.fill("#reason-decision", "Hors sujet")
    moderator.press("#reason-decision", "Enter")
    moderator.wait_for_timeout(500)
    assert "POST" not in requests
    assert moderator.url.endswith(f"/mod/posts/{number}")
    assert moderator.inner_text("#item-post .badge") == "Visible"
    assert moderator.input_value("#reason-decision") == "Hors sujet"
    with moderator.expect_navigation():
        moderator.click("#action-hide")
    assert "Masqué" in moderator.inner_text("#item-post .badge")


def test_the_moderation_and_admin_pages_pass_axe(axe_page: Any) -> None:
    log_in(axe_page, ADMIN)
    axe_page.goto(public_thread_url(axe_page))
    post_id = str(axe_page.get_attribute("#posts article.post", "id")).removeprefix("post-")
    found: list[str] = []
    for url in ("/mod", f"/mod/posts/{post_id}", "/mod/log", "/admin"):
        axe_page.goto(url)
        assert axe_page.locator("h1").count() == 1, f"{url} did not render"
        found += axe_violations(axe_page)
    assert found == []
