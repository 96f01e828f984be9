"""A member's own account: consent at sign-up, change of password, a new recovery code,
taking a break, and a privacy page that follows the actual settings."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from forum.app import create_app
from forum.config import Settings
from forum.db import Database, utcnow
from forum.models import Consent, Member, MemberSession, Notification
from forum.passwords import Hasher
from forum.privacy import CHARTER_VERSION
from tests.browsing import DEFAULT_PASSWORD, Browser
from tests.conftest import reset_schema

NEW_PASSWORD = "un tout autre mot de passe"


async def member_named(database: Database, pseudonym: str) -> Member:
    async with database.reader() as session:
        return await session.scalar(select(Member).where(Member.pseudonym == pseudonym))


async def test_signup_without_consent_creates_nothing_and_keeps_what_was_typed(
    browser: Browser, database: Database
) -> None:
    page = await browser.get("/signup")
    assert not page.one("input#consent").has_attr("checked")
    result = await browser.submit(page.form(), {
        "pseudonym": "Hesitante", "password": DEFAULT_PASSWORD,
        "password_confirm": DEFAULT_PASSWORD,
    })
    assert result.status == 422
    assert "coche la case" in result.text("#consent-error")
    assert result.one("input#pseudonym")["value"] == "Hesitante"
    assert await member_named(database, "Hesitante") is None


async def test_signup_records_the_consent_with_the_charter_version_and_date(
    browser: Browser, database: Database
) -> None:
    before = utcnow()
    await browser.signup("Consentante")
    member = await member_named(database, "Consentante")
    async with database.reader() as session:
        consents = list(await session.scalars(
            select(Consent).where(Consent.member_id == member.id)
        ))
    assert [(c.kind, c.charter_version) for c in consents] == [("health_data", CHARTER_VERSION)]
    assert before - timedelta(seconds=1) <= consents[0].given_at <= utcnow()


async def test_change_password_needs_the_current_one(browser: Browser) -> None:
    await browser.signup("Prudence")
    page = await browser.get("/me/password")
    result = await browser.submit(page.form(), {
        "current_password": "pas le bon", "password": NEW_PASSWORD,
        "password_confirm": NEW_PASSWORD,
    })
    assert result.status == 422
    assert "mot de passe actuel" in result.text("#current_password-error")
    await browser.logout()
    assert (await browser.login("Prudence", NEW_PASSWORD)).status == 422
    assert (await browser.login("Prudence")).status == 303


async def test_change_password_ends_other_sessions_and_rotates_this_one(
    app: Litestar, browser: Browser, database: Database
) -> None:
    await browser.signup("Renouveau")
    old_cookie = browser.client.cookies.get("entrepairs")
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as other:
        elsewhere = Browser(other)
        await elsewhere.login("Renouveau")
        page = await browser.get("/me/password")
        result = await browser.submit(page.form(), {
            "current_password": DEFAULT_PASSWORD, "password": NEW_PASSWORD,
            "password_confirm": NEW_PASSWORD,
        })
        assert result.status == 303
        assert (await elsewhere.get("/me", follow_redirects=False)).status == 303
    new_cookie = result.response.cookies.get("entrepairs")
    assert new_cookie and new_cookie != old_cookie
    done = await browser.follow(result)
    assert done.status == 200 and done.one("p.notice[role=status]")
    async with database.reader() as session:
        assert len(list(await session.scalars(select(MemberSession)))) == 1
    await browser.logout()
    assert (await browser.login("Renouveau", DEFAULT_PASSWORD)).status == 422
    assert (await browser.login("Renouveau", NEW_PASSWORD)).status == 303


async def test_a_weak_new_password_is_refused_and_nothing_changes(
    browser: Browser, database: Database
) -> None:
    await browser.signup("Solide")
    before = (await member_named(database, "Solide")).password_hash
    page = await browser.get("/me/password")
    result = await browser.submit(page.form(), {
        "current_password": DEFAULT_PASSWORD, "password": "court", "password_confirm": "court",
    })
    assert result.status == 422
    assert "au moins 10" in result.text("#password-error")
    assert (await member_named(database, "Solide")).password_hash == before


async def test_a_new_recovery_code_needs_the_password_and_replaces_the_old_one(
    browser: Browser,
) -> None:
    old_code = await browser.signup("Clef")
    page = await browser.get("/me/recovery-code")
    refused = await browser.submit(page.form(), {"current_password": "pas le bon"})
    assert refused.status == 422 and not refused.all("#recovery-code")
    made = await browser.submit(page.form(), {"current_password": DEFAULT_PASSWORD})
    assert made.status == 303
    shown = await browser.follow(made)
    assert shown.response.headers["cache-control"] == "no-store"
    new_code = shown.one("#recovery-code code").get_text(strip=True)
    noted = await browser.submit(shown.form("form[action='/recovery-code']"))
    assert noted.response.headers["location"] == "/me"
    assert new_code and new_code != old_code
    again = await browser.get("/me/recovery-code")
    assert new_code not in again.response.text
    await browser.logout()
    for code, expected in ((old_code, 422), (new_code, 303)):
        page = await browser.get("/recover")
        result = await browser.submit(page.form(), {
            "pseudonym": "Clef", "code": code, "password": NEW_PASSWORD,
            "password_confirm": NEW_PASSWORD,
        })
        assert result.status == expected


async def test_taking_a_break_stores_its_end_and_can_be_ended(
    browser: Browser, database: Database
) -> None:
    await browser.signup("Respire")
    page = await browser.get("/me/break")
    result = await browser.submit(page.form(), {"days": "7"})
    assert result.status == 303
    member = await member_named(database, "Respire")
    assert timedelta(days=6, hours=23) < member.break_until - utcnow() <= timedelta(days=7)
    page = await browser.get("/me/break")
    assert page.one("p.notice[role=status]")
    result = await browser.submit(page.form())
    assert result.status == 303
    assert (await member_named(database, "Respire")).break_until is None


async def test_a_break_mutes_reply_notifications_until_it_ends(
    app: Litestar, browser: Browser, database: Database, demo: None
) -> None:
    await browser.signup("Vacanciere")
    started = await browser.start_thread("anxiete", "Mon fil", "Bonjour à vous.")
    thread_id = int(started.response.headers["location"].split("/t/")[1].split("?")[0]
                    .split("#")[0])
    page = await browser.get("/me/break")
    await browser.submit(page.form(), {"days": "1"})
    member = await member_named(database, "Vacanciere")

    async def notices() -> int:
        async with database.reader() as session:
            return len(list(await session.scalars(
                select(Notification.id).where(Notification.member_id == member.id))))

    async with AsyncTestClient(app=app, base_url="http://testserver.local") as other:
        peer = Browser(other)
        await peer.signup("Bavarde")
        assert (await peer.reply(thread_id, "Bonjour, bienvenue !")).status == 303
        assert await notices() == 0
        page = await browser.get("/me/break")
        await browser.submit(page.form())
        assert (await peer.reply(thread_id, "Tu es revenue ?")).status == 303
        assert await notices() == 1


async def test_an_unknown_break_length_is_refused(browser: Browser, database: Database) -> None:
    await browser.signup("Indecise")
    page = await browser.get("/me/break")
    result = await browser.submit(page.form(), {"days": "365"})
    assert result.status == 422 and result.one("#days-error")
    assert (await member_named(database, "Indecise")).break_until is None


async def test_account_pages_are_for_members_only(browser: Browser) -> None:
    for path in ("/me", "/me/sessions", "/me/password", "/me/recovery-code", "/me/break",
                 "/me/export", "/me/export.json", "/me/delete"):
        page = await browser.get(path, follow_redirects=False)
        assert page.status == 303, path
        assert page.response.headers["location"].startswith("/login?next="), path


async def test_the_privacy_page_follows_the_settings(settings: Settings) -> None:
    texts = {}
    for name, overrides in {
        "default": {},
        "changed": {"rate_limits": "off", "crisis_autoflag": "off", "session_max_days": 9},
        # Nothing listens there: the page is read without a session, so Redis is never asked.
        "redis": {"redis_url": "redis://127.0.0.1:9/0"},
    }.items():
        await reset_schema(settings.database_url)
        app = create_app(replace(settings, **overrides), hasher=Hasher(cheap=True))
        async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
            page = await Browser(client).get("/privacy")
            texts[name] = {key: page.text(f"#privacy-{key}")
                           for key in ("sessions", "consent", "throttle", "crisis")}
    assert "30 jours" in texts["default"]["sessions"]
    assert "9 jours" in texts["changed"]["sessions"]
    assert "jusqu'à 20 sessions ouvertes" in texts["default"]["sessions"]
    assert CHARTER_VERSION in texts["default"]["consent"]
    assert "base de données" in texts["default"]["throttle"]
    assert "désactivé" in texts["changed"]["throttle"]
    # Searches: in the server's memory without Redis; in Redis with it, never in the database.
    assert "recherches" in texts["default"]["throttle"]
    assert "mémoire du serveur" in texts["default"]["throttle"]
    assert "mémoire du serveur" not in texts["redis"]["throttle"]
    assert "jamais dans la base de données" in texts["redis"]["throttle"]
    assert "Redis" in texts["redis"]["throttle"]
    assert "prévient aussi l'équipe" in texts["default"]["crisis"]
    assert "ne prévient pas" in texts["changed"]["crisis"]


async def test_the_privacy_page_reads_in_english_too(browser: Browser) -> None:
    page = await browser.get("/privacy", headers={"Accept-Language": "en"})
    assert "15 minutes" in page.text("#privacy-throttle")
    assert "database" in page.text("#privacy-throttle")
    assert "up to 20 open sessions" in page.text("#privacy-sessions")


async def test_the_account_page_leads_to_every_personal_page(browser: Browser) -> None:
    await browser.signup("Boussole")
    page = await browser.get("/me")
    links = {str(a["href"]) for a in page.all(".account-links a")}
    assert {"/settings", "/notifications/settings", "/safety-plan", "/me/sessions",
            "/me/password", "/me/recovery-code", "/me/break", "/me/export",
            "/me/delete"} <= links
    for href in links:
        assert (await browser.get(href)).status == 200, href
    english = await browser.get("/me", headers={"Accept-Language": "en"})
    assert "seen by you alone" in english.text(".account-links")
