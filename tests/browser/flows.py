"""What a person does in the browser, step by step through the real forms (sync Playwright)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from tests.browsing import random_pseudonym

PASSWORD = "une phrase assez longue pour ce test"
MEMBERS_ONLY_SLUG = "idees-suicidaires"


def new_pseudonym() -> str:
    return random_pseudonym("Colibri")


def sign_up(page: Any, pseudonym: str | None = None) -> tuple[str, str]:
    """Fill the real sign-up form; returns the pseudonym and the recovery code shown."""
    pseudonym = pseudonym or new_pseudonym()
    page.goto("/signup")
    page.fill("#pseudonym", pseudonym)
    page.fill("#password", PASSWORD)
    page.fill("#password_confirm", PASSWORD)
    # Whatever the form asks to accept (the consent to keep what one writes), a person ticks.
    for box in page.locator("form[action='/signup'] input[type=checkbox][required]").all():
        box.check()
    page.click("form[action='/signup'] button[type=submit]")
    # argon2 takes its time; a refusal is said at once, and the test says which.
    page.wait_for_selector("#recovery-code code, .form-error", timeout=30_000)
    refused = page.locator(".form-error, .field-error")
    assert not refused.count(), f"sign-up of {pseudonym!r} refused: {refused.all_inner_texts()}"
    return pseudonym, page.inner_text("#recovery-code code").strip()


def public_thread_url(page: Any, space_slug: str = "anxiete") -> str:
    """The first thread listed in a public demo space."""
    page.goto(f"/s/{space_slug}")
    return str(page.get_attribute("#thread-list .thread-row__title", "href"))


def start_thread(page: Any, title: str, body: str, space_slug: str = "anxiete") -> int:
    """Open a thread through the real form; returns its id (from the URL it lands on)."""
    page.goto(f"/s/{space_slug}/new")
    page.fill("#title", title)
    page.fill("#body", body)
    page.click("form.composer button[type=submit]")
    page.wait_for_url("**/t/*")
    return int(urlsplit(page.url).path.rsplit("/", 1)[1])


def reply_with_htmx(page: Any, text: str) -> str:
    """Write a reply in the thread open in ``page``; returns the id of the focused new post."""
    page.fill("#reply-body", text)
    page.click("#reply-form button[type=submit]")
    page.wait_for_function(
        "() => document.activeElement && /^post-\\d+$/.test(document.activeElement.id)"
    )
    return str(page.evaluate("document.activeElement.id"))


# Note: wait_for_function must be given a function ("() => …"): a bare expression is run
# through eval() in the page, which the forum's CSP (rightly) refuses.


def focused_id(page: Any) -> str:
    return str(page.evaluate("document.activeElement ? document.activeElement.id : ''"))


def tab_until(page: Any, script: str, limit: int = 80) -> int:
    """Press Tab until ``script`` (evaluated on document.activeElement as ``el``) is true."""
    for count in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate(f"(() => {{ const el = document.activeElement; return {script}; }})()"):
            return count
    raise AssertionError(f"Tab never reached an element where {script}")
