"""Export: the member's own data as a JSON file and as a readable page; nobody else's."""

from __future__ import annotations

import json
import re

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from forum.actions import do_notify
from forum.db import Database
from forum.models import Member
from tests.browsing import Browser


async def start_thread(browser: Browser, title: str, body: str) -> int:
    result = await browser.start_thread("anxiete", title, body)
    assert result.status == 303, result.text()
    return int(re.search(r"/t/(\d+)", result.response.headers["location"]).group(1))


async def edit_post(browser: Browser, post_id: int, body: str) -> None:
    page = await browser.get(f"/p/{post_id}/edit")
    result = await browser.submit(page.form("form.composer"), {"body": body})
    assert result.status == 303, result.text()


async def first_post_id(browser: Browser, thread_id: int) -> int:
    page = await browser.get(f"/t/{thread_id}")
    return int(page.one("article.post")["id"].removeprefix("post-"))


async def test_export_json_holds_everything_the_member_provided(
    app: Litestar, browser: Browser, database: Database, demo: None
) -> None:
    await browser.signup("Archiviste")
    thread_id = await start_thread(browser, "Mon fil à moi", "Premier jet du message.")
    post_id = await first_post_id(browser, thread_id)
    await edit_post(browser, post_id, "Version corrigée du message.")
    async with database.writing() as session:
        member = await session.scalar(select(Member).where(Member.pseudonym == "Archiviste"))
        await do_notify(session, member.id, kind="moderation",
                        message="Ton message a été relu.", thread_id=thread_id)
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as other:
        stranger = Browser(other)
        await stranger.signup("Voisine")
        await stranger.reply(thread_id, "Réponse de quelqu'un d'autre.")

    plan = await browser.get("/safety-plan")
    saved = await browser.submit(plan.form("form[action='/safety-plan']"),
                                 {"warning_signs": "Je ne dors plus, je m'isole."})
    assert saved.status in (200, 303), saved.status
    response = await browser.client.get("/me/export.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert "attachment" in response.headers["content-disposition"]
    assert response.headers["cache-control"] == "no-store"
    data = json.loads(response.content)
    assert data["member"]["pseudonym"] == "Archiviste"
    assert [c["charter_version"] for c in data["consents"]] == ["2026-11"]
    assert [t["title"] for t in data["threads"]] == ["Mon fil à moi"]
    [post] = data["posts"]
    assert post["source"] == "Version corrigée du message."
    assert [r["source"] for r in post["earlier_versions"]] == ["Premier jet du message."]
    assert "Ton message a été relu." in [n["message"] for n in data["notices_received"]]
    assert data["sessions"] and all(
        re.fullmatch(r"\d{4}-\d{2}-\d{2}", s["last_seen_on"]) for s in data["sessions"]
    )
    assert [p["warning_signs"] for p in data["safety_plan"]] == ["Je ne dors plus, je m'isole."]
    assert {"format", "member", "consents", "threads", "posts", "notices_received", "sessions",
            "safety_plan", "notification_settings", "followed_threads"} <= data.keys()
    assert "Réponse de quelqu'un d'autre" not in response.text
    assert "token" not in response.text


async def test_export_page_is_readable_html_with_a_link_to_the_file(
    browser: Browser, demo: None
) -> None:
    await browser.signup("Lectrice")
    await start_thread(browser, "Un titre <b>à échapper</b>", "Un message **en gras**.")
    page = await browser.get("/me/export")
    assert page.status == 200
    assert page.one("a[href='/me/export.json']")
    assert "Un message **en gras**." in page.text("#export-posts")
    assert "Un titre <b>à échapper</b>" in page.text("#export-threads")
    assert not page.all("#export-threads b")
    assert "2026-11" in page.text("#export-consents")
    plan = await browser.get("/safety-plan")
    await browser.submit(plan.form("form[action='/safety-plan']"), {"what_helps": "Marcher."})
    assert "Marcher." in (await browser.get("/me/export")).text("#export-safety-plan")


async def test_export_page_shows_notices_as_sentences(
    app: Litestar, browser: Browser, demo: None
) -> None:
    await browser.signup("Attentive")
    thread_id = await start_thread(browser, "Un fil suivi", "Bonjour à toutes et tous.")
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as other:
        await Browser(other).signup("Repondante")
        await Browser(other).reply(thread_id, "Bienvenue !")
    page = await browser.get("/me/export")
    notices = page.text("#export-notices")
    assert "%(" not in notices


ISO_MOMENT = re.compile(r"\b20\d\d-\d\d-\d\d(T|\b)")


async def test_export_page_says_moments_and_devices_in_the_readers_language(
    browser: Browser, demo: None
) -> None:
    # Issue 19: the page said "computer : ouverte le 2026-12-05" and raw ISO timestamps.
    await browser.signup("Horlogere")
    await start_thread(browser, "Un fil daté", "Un message.")
    plan = await browser.get("/safety-plan")
    await browser.submit(plan.form("form[action='/safety-plan']"), {"what_helps": "Marcher."})
    for language, device, plan_label in (
        ("fr", "Ordinateur", "Ce que je peux faire seul·e pour aller un peu mieux"),
        ("en", "Computer", None),
    ):
        page = await browser.get("/me/export", headers={"Accept-Language": language})
        body = page.text()
        without_version = body.replace(page.text("#export-consents"), "")
        assert not ISO_MOMENT.search(without_version), ISO_MOMENT.search(without_version)
        for raw in ("computer", "phone", "tablet", "what_helps", "updated_at"):
            assert raw not in body, (language, raw)
        assert f"{device}{' :' if language == 'fr' else ':'} " in page.text("#export-sessions")
        if plan_label:
            assert plan_label in page.text("#export-safety-plan")
