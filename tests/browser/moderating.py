"""Steps of the moderation flows in the browser (sync Playwright): logging the seeded staff in,
flagging a post, hiding it from the moderator's item page."""

from __future__ import annotations

from typing import Any

from tests.browser.flows import PASSWORD


def log_in(page: Any, pseudonym: str) -> None:
    """Log in through the real form (the staff of :mod:`tests.browser.seed`)."""
    page.goto("/login")
    page.fill("#pseudonym", pseudonym)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("form[action='/login'] button[type=submit]")
    page.wait_for_selector(".account-nav__name", timeout=30_000)  # argon2 takes its time


def flag_with_htmx(page: Any, post_id: str, reason: str = "harassment") -> None:
    """Open the flag dialog under a post of the thread shown, pick a reason and send it."""
    page.click(f"#{post_id} .post__flag")
    slot = page.locator(f"#flag-slot-{post_id.removeprefix('post-')}")
    slot.locator(f"input[name=reason][value={reason}]").check()
    slot.locator("button[type=submit]").click()
    slot.locator(".notice[role=status]").wait_for()


def hide_from_item_page(page: Any, post_id: str, reason: str) -> None:
    """On /mod/posts/{id}: give a reason and hide the post; lands back on the item."""
    page.goto(f"/mod/posts/{post_id}")
    page.fill("#reason-decision", reason)
    with page.expect_navigation():
        page.click("#action-hide")
