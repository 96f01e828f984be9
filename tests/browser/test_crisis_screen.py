"""Issue 14 in Chromium, as a new user and a moderator would meet it: the sentences the issue
saw fail each get help now (a pause, or a line after publishing); an ordinary bad day gets
none; an urgent post reaches the moderator on duty (a notice and the header's count) before
they open /mod; an item nobody claims escalates to the whole team."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.browser.flows import reply_with_htmx, sign_up, start_thread
from tests.browser.moderating import log_in
from tests.browser.seed import MODERATOR

pytestmark = pytest.mark.browser

SEEN_FAILING = [
    "je pense que je vais faire une connerie ce soir, j'ai stocké mes médicaments depuis un mois",
    "hier j'ai pris 30 comprimés de doliprane",
    "Je me suis encore scarifiée hier soir.",
    "L'automutilation c'est le seul truc qui me soulage.",
    "je me demande si ça vaut encore la peine de vivre",
    "J'ai la corde, il ne me manque que le courage.",
    "je vais peut-être en finir ce soir",
    "c fini pr moi ce soir. jai la corde",
    "Je me suis ouvert les veines",
    "fatigué·e d'exister",
    "je vais faire une overdose volontaire",
    "Took everything in my medicine cabinet",
]
BAD_DAY = ("Journée pourrie au boulot, mon chef m'a encore crié dessus devant tout le monde. "
           "Je rentre, je me fais des pâtes et je regarde une série, demain est un autre jour.")
URGENT = "Ce soir je vais en finir, j'ai tout ce qu'il faut à côté de moi."


def help_after_sending(page: Any, text: str) -> str:
    """Send ``text`` as a reply (htmx) and say what help came: "pause", "line" or "none"."""
    page.fill("#reply-body", text)
    page.click("#reply-form button[type=submit]")
    page.wait_for_function(
        "() => document.querySelector('[data-crisis-level]') || "
        "(document.activeElement && /^post-\\d+$/.test(document.activeElement.id))")
    if page.locator("[data-crisis-level]").count():
        return "pause"
    post = page.evaluate("document.activeElement.id")
    return "line" if page.locator(f"#{post} .crisis-line").count() else "none"


def test_each_sentence_seen_failing_now_gets_help(page: Any) -> None:
    sign_up(page)
    thread_id = start_thread(page, "Quelques mots", "Bonjour à toutes et à tous.")
    for text in SEEN_FAILING:
        page.goto(f"/t/{thread_id}")
        assert help_after_sending(page, text) in ("pause", "line"), text


def test_an_ordinary_bad_day_gets_no_help_screen(page: Any) -> None:
    sign_up(page)
    thread_id = start_thread(page, "Ma semaine", "Bonjour, petit point sur ma semaine.")
    page.goto(f"/t/{thread_id}")
    assert help_after_sending(page, BAD_DAY) == "none"
    page.goto(f"/t/{thread_id}")
    assert page.locator(".crisis-banner").count() == 0


def publish_urgent_through_the_pause(page: Any) -> str:
    """A new member's thread, an urgent reply through the pause; returns the post's id."""
    sign_up(page)
    thread_id = start_thread(page, "Plus la force", "Bonjour.")
    page.goto(f"/t/{thread_id}")
    assert help_after_sending(page, URGENT) == "pause"
    page.click("[data-crisis-level] button[name=crisis_ack]")
    page.wait_for_function(
        "() => document.activeElement && /^post-\\d+$/.test(document.activeElement.id)")
    return str(page.evaluate("document.activeElement.id")).removeprefix("post-")


def open_phone(chromium: Any, base_url: str) -> Any:
    """A page in a 375 × 812 viewport, a phone's."""
    return chromium.new_context(base_url=base_url, locale="fr-FR",
                                viewport={"width": 375, "height": 812}).new_page()


def _welfare_count(page: Any) -> int:
    badge = page.locator("#mod-link .badge")
    return int(badge.inner_text()) if badge.count() else 0


def test_an_urgent_post_reaches_the_moderator_on_duty_before_they_open_mod(
    chromium: Any, base_url: str, page: Any,
) -> None:
    log_in(page, MODERATOR)
    page.goto("/mod")
    if page.locator("form[action='/mod/duty'] input[value='1']").count():
        page.click("form[action='/mod/duty'] button[type=submit]")
        page.wait_for_selector("form[action='/mod/duty'] input[value='0']", state="attached")
    page.goto("/")
    before = _welfare_count(page)

    member = chromium.new_context(base_url=base_url, locale="fr-FR").new_page()
    try:
        publish_urgent_through_the_pause(member)
    finally:
        member.context.close()

    page.goto("/")  # not /mod
    assert _welfare_count(page) == before + 1
    assert "message" in page.locator("#mod-link .visually-hidden").inner_text()
    page.goto("/notifications")
    alert = page.locator(".notification--unread a.notification__message",
                         has_text="Message urgent").first
    assert alert.get_attribute("href").startswith("/mod/posts/")
    alert.click()
    page.wait_for_url("**/mod/posts/*")
    assert page.locator(".mod-flag--danger", has_text="Détection automatique").count() == 1
    assert page.locator(".mod-screen ol li").count() == 3


def test_on_a_phone_a_long_pause_opens_at_its_top_with_a_line_to_call_in_sight(
    chromium: Any, base_url: str,
) -> None:
    """A concern pause shows its other lines open and is about two phone screens tall: sent
    through htmx, focusing it centred it, its title and first call buttons scrolled out of
    sight above. It now opens at its top, below the quick-exit bar, the first line in sight."""
    phone = open_phone(chromium, base_url)
    try:
        sign_up(phone)
        thread_id = start_thread(phone, "Ma semaine", "Bonjour.")
        phone.goto(f"/t/{thread_id}")
        assert help_after_sending(phone, "J'ai envie de mourir depuis des semaines.") == "pause"
        pause = phone.locator("[data-crisis-level=concern]")
        phone.wait_for_function("() => document.activeElement"
                                " === document.querySelector('[data-crisis-level]')")
        assert pause.bounding_box()["height"] > 812, "the case that went wrong: a long pause"
        bar = phone.locator(".quick-exit").bounding_box()
        title = phone.locator("#crisis-title").bounding_box()
        assert title["y"] >= bar["y"] + bar["height"], (title, bar)
        call = phone.locator(".crisis-pause__call a[href^='tel:']").first.bounding_box()
        assert call["y"] + call["height"] <= 812, call
    finally:
        phone.context.close()


def test_on_a_phone_the_queue_says_first_that_an_urgent_post_waits_and_leads_to_it(
    chromium: Any, base_url: str, page: Any,
) -> None:
    """On a 375 px screen the queue's items are several screens down (duty, unanswered
    threads): the urgent summary is on the first screen, and its link brings the item into
    view, marked apart from the quieter ones."""
    post_id = publish_urgent_through_the_pause(page)

    phone = open_phone(chromium, base_url)
    try:
        log_in(phone, MODERATOR)
        phone.goto("/mod")
        summary = phone.locator(".mod-urgent-summary a")
        box = summary.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 812, box
        summary.click()
        first_urgent = phone.locator(".mod-item--urgent").first
        phone.wait_for_function(
            "() => { const r = document.querySelector('.mod-item--urgent')"
            ".getBoundingClientRect(); return r.top >= 0 && r.top < innerHeight; }")
        assert first_urgent.locator(".badge--urgent").count() == 1
        assert phone.locator(f"#item-{post_id}.mod-item--urgent").count() == 1
        rule = first_urgent.evaluate("e => getComputedStyle(e).borderLeftWidth")
        assert rule == "4px", "the urgent item is marked apart, not by words alone"
    finally:
        phone.context.close()


def test_an_item_nobody_claims_is_escalated_to_the_whole_team(chromium: Any, base_url: str,
                                                               page: Any) -> None:
    """The live server escalates after one minute (tests/browser/live.py)."""
    post_id = publish_urgent_through_the_pause(page)

    moderator = chromium.new_context(base_url=base_url, locale="fr-FR").new_page()
    try:
        log_in(moderator, MODERATOR)
        deadline = time.monotonic() + 150
        escalated = moderator.locator(
            f".notification a.notification__message[href='/mod/posts/{post_id}']",
            has_text="Personne ne s'est encore occupé")
        while time.monotonic() < deadline:
            moderator.goto("/notifications")
            if escalated.count():
                break
            time.sleep(5)
        assert escalated.count() == 1, "escalated once, within the minute and the watch's look"
        moderator.goto(f"/mod/posts/{post_id}")
        assert moderator.locator(".mod-flag--danger .badge",
                                 has_text="toute l'équipe prévenue").count() == 1
    finally:
        moderator.context.close()


def test_a_new_thread_through_the_pause_keeps_the_lines_in_sight(page: Any) -> None:
    """A first post that pauses: the pause (a full page here, not htmx) takes the focus; once
    published, the page opens on the post, and the calm line with the lines is right under it
    for its author (the thread's banner is above, out of sight)."""
    sign_up(page)
    page.goto("/s/anxiete/new")
    page.fill("#title", "Ce soir")
    page.fill("#body", URGENT)
    page.click("form.composer button[type=submit]")
    page.wait_for_selector("[data-crisis-level]")
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.matches('[data-crisis-level]')")
    page.click("[data-crisis-level] button[name=crisis_ack]")
    page.wait_for_url("**/t/*")
    line = page.locator(".post .crisis-line").first
    line.wait_for()
    assert line.locator("a[href='tel:3114']").count() == 1
    box, viewport = line.bounding_box(), page.viewport_size
    assert box is not None and box["y"] < viewport["height"], "the line is on the first screen"


LONG_DAY = "\n\n".join(
    f"Paragraphe {n} : la journée a été longue, le bus était en retard, j'ai fait les courses, "
    "rangé la cuisine, appelé ma sœur, relu mes notes et regardé la pluie tomber sur la cour."
    for n in range(1, 9))


def test_on_a_phone_a_long_reply_opens_at_its_author_line_and_its_calm_line_in_sight(
    chromium: Any, base_url: str,
) -> None:
    """Once published through htmx, a reply longer than a phone's screen was focused centred:
    its author line sat above the screen or under the quick-exit bar. It now opens at its top;
    when the author's calm line with the lines is under it (published through the pause), that
    line is what the screen shows in full."""
    phone = open_phone(chromium, base_url)
    try:
        sign_up(phone)
        thread_id = start_thread(phone, "Ma semaine", "Bonjour.")
        phone.goto(f"/t/{thread_id}")
        post_id = reply_with_htmx(phone, LONG_DAY)
        assert phone.locator(f"#{post_id}").bounding_box()["height"] > 812
        bar = phone.locator(".quick-exit").bounding_box()
        meta = phone.locator(f"#{post_id} .post__meta").bounding_box()
        assert bar["y"] + bar["height"] <= meta["y"] < 812, (meta, bar)

        phone.goto(f"/t/{thread_id}")
        assert help_after_sending(phone, LONG_DAY + "\n\nEt j'ai envie de mourir.") == "pause"
        phone.click("[data-crisis-level] button[name=crisis_ack]")
        phone.wait_for_function(
            "() => document.activeElement && /^post-\\d+$/.test(document.activeElement.id)")
        post_id = phone.evaluate("document.activeElement.id")
        line = phone.locator(f"#{post_id} .crisis-line").bounding_box()
        assert line["y"] >= bar["y"] + bar["height"] and line["y"] + line["height"] <= 812, line
    finally:
        phone.context.close()
