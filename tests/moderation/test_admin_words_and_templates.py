"""Reply templates (a moderator writes privately to an author from a prefilled template;
admins rewrite templates) and the watched-words admin page with its preview box."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from forum.models import Member, Notification
from moderation.models import ActionKind, ModerationAction, WatchedWord
from tests.browsing import Browser
from tests.moderation.access_matrix import as_role, build_world


async def _kinds(app: Litestar) -> list[int]:
    async with app.state.database.reader() as session:
        return list(await session.scalars(
            select(ModerationAction.kind).order_by(ModerationAction.id)))


async def test_a_moderator_sends_the_author_a_prefilled_template_as_a_team_notice(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    post_id = world.ids["post2"]
    await as_role(client, app, world, "mod_this")
    item = await browser.get(f"/mod/posts/{post_id}?template=checkin")
    body = item.one("#message-body").get_text()
    assert body.startswith("Bonjour Author,")
    assert "3114" in body, "the author's region's crisis line is filled in"
    assert item.one(".mod-nav a[href='/mod/protocol']")

    empty = await browser.submit(item.form("form#action-message"), {"message": ""})
    assert empty.status == 422
    assert empty.one("#message-error")

    sent = await browser.submit(item.form("form#action-message"))
    assert sent.status == 303
    async with app.state.database.reader() as session:
        notice = await session.scalar(
            select(Notification).where(Notification.member_id == world.members["author"].id,
                                       Notification.kind == "moderation")
            .order_by(Notification.id.desc()))
    assert "Je voulais prendre de tes nouvelles" in notice.params["text"]
    assert (await _kinds(app))[-1] == ActionKind.MEMBER_MESSAGED

    await as_role(client, app, world, "author")
    notices = await browser.get("/notifications")
    assert "L'équipe de modération" in notices.text()
    assert "mod_this" not in notices.text().casefold()


async def test_an_admin_rewrites_a_template_and_a_bad_one_keeps_what_was_typed(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    await as_role(client, app, world, "admin")
    page = await browser.get("/admin/templates")
    form = page.form("form#form-checkin-fr")
    refused = await browser.submit(form, {"title": "Nouvelles", "body": "Trop court"[:5]})
    assert refused.status == 422
    assert refused.one("#form-checkin-fr #body-error")
    assert refused.one("#title-checkin-fr")["value"] == "Nouvelles"

    saved = await browser.submit(form, {"title": "Des nouvelles",
                                        "body": "Salut {pseudonym}, comment vas-tu ? {lines}"})
    assert saved.status == 303
    assert (await _kinds(app))[-1] == ActionKind.REPLY_TEMPLATE_UPDATED

    await as_role(client, app, world, "mod_this")
    item = await browser.get(f"/mod/posts/{world.ids['post2']}?template=checkin")
    assert item.one("#message-body").get_text().startswith("Salut Author, comment vas-tu ?")


async def test_the_preview_shows_matches_and_refuses_an_invalid_pattern_keeping_the_text(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    await as_role(client, app, world, "admin")
    page = await browser.get("/admin/watched-words")
    form = page.form("form#add-word")
    form.element["action"] = "/admin/watched-words/preview"
    shown = await browser.submit(form, {"pattern": r"casino\w*",
                                        "sample": "Gagne au casino ! Les casinos en ligne."})
    assert shown.status == 200
    assert [m.get_text() for m in shown.all("#preview-result mark")] == ["casino", "casinos"]

    bad = await browser.submit(form, {"pattern": "casino(", "sample": "un texte d'essai"})
    assert bad.status == 422
    assert bad.one("#pattern-error")
    assert bad.one("#word-pattern")["value"] == "casino("
    assert bad.one("#word-sample").get_text() == "un texte d'essai"
    async with app.state.database.reader() as session:
        patterns = list(await session.scalars(select(WatchedWord.pattern)))
    assert "casino(" not in patterns


async def test_an_admin_adds_then_removes_a_watched_word_and_both_are_logged(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    await as_role(client, app, world, "admin")
    page = await browser.get("/admin/watched-words")
    missing = await browser.submit(page.form("form#add-word"),
                                   {"pattern": "casino", "action": "block", "message": ""})
    assert missing.status == 422
    assert missing.one("#message-error")

    added = await browser.submit(page.form("form#add-word"), {
        "pattern": "casino", "action": "block", "label": "pub",
        "message": "Pas de publicité ici, merci."})
    assert added.status == 303
    page = await browser.get("/admin/watched-words")
    rows = [row for row in page.all("table.admin-words tbody tr")
            if row.select_one("code").get_text() == "casino"]
    assert len(rows) == 1
    removed = await browser.submit(page.form(f"#{rows[0]['id']} form"))
    assert removed.status == 303
    page = await browser.get("/admin/watched-words")
    assert "casino" not in [c.get_text() for c in page.all("table.admin-words code")]
    assert (await _kinds(app))[-2:] == [ActionKind.WATCHED_WORD_ADDED,
                                        ActionKind.WATCHED_WORD_REMOVED]


@pytest.mark.parametrize(("pattern", "french", "english"), [
    (r"(casino)\1", "référence arrière", "backreference"),
    (r"(?<!pas de )casino", "assertion avant ou arrière", "lookahead or lookbehind"),
    (r"casino{,3}", "Écris {0,3} plutôt que {,3}", "Write {0,3} rather than {,3}"),
    (r"(?:.{0,100}a){3}z", "trop lourd", "too heavy"),
])
async def test_a_pattern_re2_cannot_run_is_refused_in_french_and_english_keeping_the_text(
    app: Litestar, client: AsyncTestClient, browser: Browser,
    pattern: str, french: str, english: str,
) -> None:
    world = await build_world(app)
    await as_role(client, app, world, "admin")
    page = await browser.get("/admin/watched-words")
    for action in ("/admin/watched-words", "/admin/watched-words/preview"):
        form = page.form("form#add-word")
        form.element["action"] = action
        refused = await browser.submit(form, {"pattern": pattern, "action": "hold",
                                              "label": "essai", "sample": "un casino"})
        assert refused.status == 422
        assert french in refused.text("#pattern-error")
        assert refused.one("#word-pattern")["value"] == pattern
        assert refused.one("#word-label")["value"] == "essai"
        assert refused.one("#word-sample").get_text() == "un casino"
    async with app.state.database.writing() as session:  # an admin who reads English
        (await session.get(Member, world.members["admin"].id)).locale = "en"
    english_page = await browser.get("/admin/watched-words")
    refused = await browser.submit(english_page.form("form#add-word"),
                                   {"pattern": pattern, "action": "hold"})
    assert english in refused.text("#pattern-error")
    async with app.state.database.reader() as session:
        assert pattern not in list(await session.scalars(select(WatchedWord.pattern)))


async def test_a_stored_pattern_re2_refuses_is_shown_as_broken_with_its_reason(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    async with app.state.database.writing() as session:
        session.add(WatchedWord(pattern=r"(?<!pas de )casino", action="block", label="pub",
                                message="Pas de publicité."))
        session.add(WatchedWord(pattern="casino", action="hold", label="ok"))
    await as_role(client, app, world, "admin")
    page = await browser.get("/admin/watched-words")
    rows = {row.select_one("code").get_text(): row
            for row in page.all("table.admin-words tbody tr")}
    broken = rows[r"(?<!pas de )casino"]
    assert "admin-words__broken" in broken["class"]
    assert "Ne fonctionne pas, ignoré" in broken.get_text()
    assert "assertion avant ou arrière" in broken.get_text()
    assert broken.select_one("form")  # it can be removed from here
    assert "Ne fonctionne pas" not in rows["casino"].get_text()


async def test_the_preview_ignores_accents_and_runs_an_admin_pattern_re2_keeps_linear(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    await as_role(client, app, world, "admin")
    page = await browser.get("/admin/watched-words")
    form = page.form("form#add-word")
    form.element["action"] = "/admin/watched-words/preview"
    shown = await browser.submit(form, {"pattern": r"\bete\b",
                                        "sample": "En ÉTÉ, un été (ete) ; étéx"})
    assert [m.get_text() for m in shown.all("#preview-result mark")] == ["ÉTÉ", "été", "ete"]
    page = await browser.get("/admin/watched-words")
    added = await browser.submit(page.form("form#add-word"),
                                 {"pattern": r"(a+)+$", "action": "flag", "label": "cri"})
    assert added.status == 303
    page = await browser.get("/admin/watched-words")
    assert r"(a+)+$" in [c.get_text() for c in page.all("table.admin-words code")]
