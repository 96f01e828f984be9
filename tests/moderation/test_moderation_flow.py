"""The whole flow through the real forms: a member flags, the space's moderator sees it first
in the queue, hides it with a reason, a visitor no longer sees it, the author sees why and
appeals, another moderator restores it; every step is in /mod/log."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.browsing import Browser, Page
from tests.moderation.access_matrix import as_role, build_world


async def _submit(browser: Browser, page: Page, selector: str, data: dict[str, str], *,
                  htmx: bool = False) -> Page:
    return await browser.submit(page.form(selector), data, htmx=htmx)


async def test_flag_hide_appeal_restore_flow_through_the_forms(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    post_id = world.ids["post2"]

    await as_role(client, app, world, "member")
    thread = await browser.get(f"/t/{world.ids['thread']}")
    assert thread.one(f"#post-{post_id} a[href='/p/{post_id}/flag']")
    dialog = await browser.get(f"/p/{post_id}/flag", headers={"HX-Request": "true"})
    assert dialog.soup.select_one("html") is None, "htmx gets the dialog alone"
    flagged = await browser.submit(
        Page(dialog.response).form("form.flag-form"),
        {"reason": "harassment", "note": "Propos blessants envers une autre personne"},
        htmx=True)
    assert flagged.status == 200
    assert flagged.one("[role=status]")

    await as_role(client, app, world, "mod_this")
    queue = await browser.get("/mod")
    items = queue.all("ol.mod-queue > li")
    assert items, "the queue is not empty"
    first_ids = [li["id"] for li in items]
    assert f"item-{post_id}" in first_ids
    item = await browser.get(f"/mod/posts/{post_id}")
    assert "harassment" in item.one(".mod-flags li")["class"][1]
    hidden = await _submit(browser, item, "#action-hide", {"reason": "Propos blessants"})
    assert hidden.status == 303

    await as_role(client, app, world, "visitor")
    page = await browser.get(f"/t/{world.ids['thread']}")
    assert page.one(f"#post-{post_id} .post__placeholder")
    assert not page.all(f"#post-{post_id} .post__body")

    await as_role(client, app, world, "author")
    page = await browser.get(f"/t/{world.ids['thread']}")
    assert "Propos blessants" in page.text(f"#post-{post_id} .post__status--reason")
    appeal_page = await browser.get(f"/p/{post_id}/appeal")
    sent = await _submit(browser, appeal_page, "main form",
                         {"message": "Je parlais de moi, pas de quelqu'un d'autre."})
    assert sent.status == 303
    assert (await browser.follow(sent)).one("[role=status]")

    await as_role(client, app, world, "mod_this")
    item = await browser.get(f"/mod/posts/{post_id}")
    assert not item.all("form[action$='/grant']"), "who hid it does not decide the appeal"

    await as_role(client, app, world, "admin")
    item = await browser.get(f"/mod/posts/{post_id}")
    restored = await _submit(browser, item, "#action-restore",
                             {"reason": "Relu : le message parlait de son auteur·e"})
    assert restored.status == 303

    await as_role(client, app, world, "visitor")
    page = await browser.get(f"/t/{world.ids['thread']}")
    assert page.one(f"#post-{post_id} .post__body")

    await as_role(client, app, world, "mod_this")
    log = await browser.get("/mod/log")
    cells = log.all("tr.mod-log__entry td:nth-of-type(2)")
    kinds = [cell.get_text(" ", strip=True) for cell in cells]
    assert "Message masqué" in kinds and "Message rétabli" in kinds
    appeal_state = await browser.get(f"/mod/posts/{post_id}")
    assert not appeal_state.all("form[action^='/mod/appeals/']"), "the restore settled it"


async def test_flag_page_works_without_javascript_and_refuses_a_second_open_flag(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    await as_role(client, app, world, "member")
    page = await browser.get(f"/p/{world.ids['post2']}/flag")
    assert page.one("main form.flag-form")
    missing_note = await browser.submit(page.form("main form"), {"reason": "other"})
    assert missing_note.status == 422
    assert missing_note.one("#note-error")
    done = await browser.submit(page.form("main form"), {"reason": "spam"})
    assert done.status == 200 and done.one("[role=status]")
    again = await browser.submit(page.form("main form"), {"reason": "spam"})
    assert again.status == 409
    assert again.one("input[value=spam][checked]")


async def test_author_never_sees_who_flagged(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    await as_role(client, app, world, "author")
    page = await browser.get(f"/t/{world.ids['thread']}")
    assert world.members["member"].pseudonym not in page.text(f"#post-{world.ids['post']}")
    assert (await browser.get("/mod")).status == 403
