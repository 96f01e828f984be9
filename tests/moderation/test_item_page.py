"""The moderator's item page and queue, as a screen reader and a phone meet them (issue 19):
one reason for the decision, given before its buttons; every field and link named apart."""

from __future__ import annotations

from collections import Counter

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.browsing import Browser
from tests.moderation.access_matrix import as_role, build_world


def _accessible_name(tag) -> str:  # noqa: ANN001 - a BeautifulSoup tag
    return " ".join(tag.get_text(" ").split())


async def test_the_item_page_asks_one_reason_then_offers_the_decisions(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    await as_role(client, app, world, "mod_this")
    item = await browser.get(f"/mod/posts/{world.ids['post']}")  # flagged, visible
    decide = item.one("form#decide")
    reasons = decide.select("[name=reason]")
    assert len(reasons) == 1
    default, *buttons = decide.select("button[type=submit]")
    # Enter in the reason field presses the form's first button: it is disabled and hidden.
    assert default.has_attr("disabled") and default.has_attr("hidden")
    assert {b["id"] for b in buttons} >= {"action-hide", "action-remove", "action-dismiss",
                                          "action-lock", "action-pin"}
    # The reason comes before the decisions; every button says where it sends it.
    shown = [tag for tag in decide.find_all(["input", "button"])
             if tag.get("type") != "hidden" and not tag.has_attr("hidden")]
    assert shown[0] is reasons[0]
    assert all(b["formaction"].startswith("/mod/") for b in buttons)
    # No two fields of the page share a label, no two buttons a name.
    labels = Counter(_accessible_name(label) for label in item.all("main label"))
    assert [text for text, n in labels.items() if n > 1] == []
    names = Counter(_accessible_name(b) for b in item.all("main button"))
    assert [text for text, n in names.items() if n > 1] == []


async def test_a_decision_refused_for_want_of_a_reason_keeps_nothing_and_says_where(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    await as_role(client, app, world, "mod_this")
    item = await browser.get(f"/mod/posts/{world.ids['post']}")
    refused = await browser.submit(item.form("#action-hide"), {"reason": ""})
    assert refused.status == 422
    assert refused.one("form#decide [name=reason][aria-invalid=true]")
    again = await browser.get(f"/mod/posts/{world.ids['post']}")
    assert again.one("#item-post .badge").get_text(strip=True) == "Visible"
    hidden = await browser.submit(again.form("#action-hide"), {"reason": "Hors sujet"})
    assert hidden.status == 303


async def test_each_queue_link_names_the_post_it_opens(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    await as_role(client, app, world, "mod_this")
    queue = await browser.get("/mod")
    links = [_accessible_name(a) for a in queue.all("main a.button[href^='/mod/posts/']")]
    assert len(links) >= 2
    assert len(set(links)) == len(links), links
    assert all(name.startswith("Ouvrir le message n° ") for name in links), links
