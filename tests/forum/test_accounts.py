"""Sign up, log in, log out and recover, through the real forms."""

import pytest
from sqlalchemy import select

from forum.db import Database
from forum.models import Member
from forum.passwords import Hasher
from tests.browsing import DEFAULT_PASSWORD, Browser


async def test_signup_page_suggests_a_pseudonym_and_warns_against_reuse(browser: Browser) -> None:
    page = await browser.get("/signup")
    field = page.one("input#pseudonym")
    suggestion = field["placeholder"]
    assert 3 <= len(suggestion) <= 32
    assert "Évite un nom que tu utilises ailleurs" in page.text("#pseudonym-hint")
    names = {tag["name"] for tag in page.form("main form").element.select("[name]")}
    assert "email" not in names and not any("mail" in name for name in names)


async def test_signup_shows_the_recovery_code_once_and_logs_in(
    browser: Browser, database: Database, hasher: Hasher
) -> None:
    code = await browser.signup("Tournesol")
    home = await browser.get("/")
    assert home.one(".account-nav__name").get_text(strip=True) == "Tournesol"
    async with database.reader() as session:
        member = await session.scalar(select(Member).where(Member.pseudonym == "Tournesol"))
    assert member is not None
    assert code not in member.recovery_hash and DEFAULT_PASSWORD not in member.password_hash
    assert member.password_hash.startswith("$argon2id$")


@pytest.mark.parametrize("pseudonym, message", [
    ("ab", "au moins 3 caractères"),
    ("x" * 33, "au plus 32 caractères"),
    ("deux mots", "pas d'espace"),
    ("admin", "réservé"),
    ("Équipe", "réservé"),
    ("3114", "réservé"),
])
async def test_signup_refuses_bad_pseudonyms_and_keeps_them(
    browser: Browser, pseudonym: str, message: str
) -> None:
    page = await browser.get("/signup")
    result = await browser.submit(page.form(), {
        "pseudonym": pseudonym, "password": DEFAULT_PASSWORD, "password_confirm": DEFAULT_PASSWORD,
    })
    assert result.status == 422
    assert message in result.one("#pseudonym-error").get_text()
    assert result.one("input#pseudonym")["value"] == pseudonym
    assert not result.all(".account-nav__name")


@pytest.mark.parametrize("taken_by, attempt", [
    ("Hélène", "Helene"),
    ("Colombe", "C0lombe"),
    ("Ciboulette", "CIBOULETTE"),
])
async def test_look_alike_pseudonyms_collide(
    browser: Browser, client, taken_by: str, attempt: str
) -> None:
    await browser.signup(taken_by)
    await browser.logout()
    page = await browser.get("/signup")
    result = await browser.submit(page.form(), {
        "pseudonym": attempt, "password": DEFAULT_PASSWORD, "password_confirm": DEFAULT_PASSWORD,
    })
    assert result.status == 422
    assert "déjà pris" in result.one("#pseudonym-error").get_text()


@pytest.mark.parametrize("password, confirm, message", [
    ("court", "court", "au moins 10 caractères"),
    ("motdepasse", "motdepasse", "trop courant"),
    ("azertyuiop", "azertyuiop", "trop courant"),
    ("une phrase assez longue", "une autre phrase", "pas identiques"),
])
async def test_signup_refuses_weak_or_mistyped_passwords(
    browser: Browser, password: str, confirm: str, message: str
) -> None:
    page = await browser.get("/signup")
    result = await browser.submit(page.form(), {
        "pseudonym": "Ortie", "password": password, "password_confirm": confirm,
    })
    assert result.status == 422
    assert message in result.one("#password-error").get_text()
    assert result.one("input#pseudonym")["value"] == "Ortie"


async def test_login_with_the_right_password_issues_a_new_session(browser: Browser) -> None:
    await browser.signup("Verveine")
    first_cookie = browser.client.cookies.get("entrepairs")
    await browser.logout()
    assert not browser.client.cookies.get("entrepairs")
    result = await browser.login("Verveine")
    assert result.status == 303
    second_cookie = browser.client.cookies.get("entrepairs")
    assert second_cookie and second_cookie != first_cookie
    home = await browser.get("/")
    assert home.one(".account-nav__name").get_text(strip=True) == "Verveine"


async def test_a_stolen_cookie_is_useless_after_logout(browser: Browser, client) -> None:
    await browser.signup("Verveine")
    old = browser.client.cookies.get("entrepairs")
    await browser.logout()
    browser.client.cookies.set("entrepairs", old)
    home = await browser.get("/")
    assert not home.all(".account-nav__name")


async def test_unknown_pseudonym_and_wrong_password_get_the_same_answer(
    browser: Browser, hasher: Hasher, monkeypatch: pytest.MonkeyPatch
) -> None:
    await browser.signup("Verveine")
    await browser.logout()
    calls: list[str | None] = []
    original = Hasher.verify

    async def counting_verify(self: Hasher, stored: str | None, password: str) -> bool:
        calls.append(stored)
        return await original(self, stored, password)

    monkeypatch.setattr(Hasher, "verify", counting_verify)
    wrong = await browser.login("Verveine", "pas le bon mot de passe")
    unknown = await browser.login("Inconnu", "pas le bon mot de passe")
    assert wrong.status == unknown.status == 422
    assert wrong.text(".form-error") == unknown.text(".form-error")
    assert len(calls) == 2, "both branches verify one hash (a dummy one for the unknown name)"
    assert calls[1] is None


async def test_login_keeps_the_pseudonym_and_goes_back_to_a_local_page_only(
    browser: Browser
) -> None:
    await browser.signup("Verveine")
    await browser.logout()
    page = await browser.get("/login?next=/help")
    result = await browser.submit(page.form(), {"pseudonym": "Verveine",
                                                "password": DEFAULT_PASSWORD})
    assert result.response.headers["location"] == "/help"
    await browser.logout()
    for evil in ("https://evil.test/", "//evil.test", "/\\evil.test", "javascript:alert(1)"):
        page = await browser.get("/login", params={"next": evil})
        result = await browser.submit(page.form(), {"pseudonym": "Verveine",
                                                    "password": DEFAULT_PASSWORD})
        assert result.response.headers["location"] == "/", evil
        await browser.logout()


async def test_recovery_code_resets_the_password_and_issues_a_new_code(
    browser: Browser
) -> None:
    code = await browser.signup("Sauge")
    await browser.logout()
    page = await browser.get("/recover")
    result = await browser.submit(page.form(), {
        "pseudonym": "sauge", "code": code.lower().replace("-", " "),
        "password": "un tout nouveau secret", "password_confirm": "un tout nouveau secret",
    })
    assert result.status == 303
    shown = await browser.follow(result)
    assert "Te revoilà" in shown.text()
    new_code = shown.one("#recovery-code code").get_text(strip=True)
    assert new_code != code
    await browser.logout()
    assert (await browser.login("Sauge", DEFAULT_PASSWORD)).status == 422
    assert (await browser.login("Sauge", "un tout nouveau secret")).status == 303
    await browser.logout()
    page = await browser.get("/recover")
    reused = await browser.submit(page.form(), {
        "pseudonym": "Sauge", "code": code, "password": "encore un autre secret",
        "password_confirm": "encore un autre secret",
    })
    assert reused.status == 422
    assert "ne correspondent pas" in reused.one("#code-error").get_text()


async def test_recovery_answers_the_same_for_unknown_pseudonyms(browser: Browser) -> None:
    code = await browser.signup("Sauge")
    await browser.logout()
    answers = []
    for name in ("Sauge", "PersonneIci"):
        page = await browser.get("/recover")
        result = await browser.submit(page.form(), {
            "pseudonym": name, "code": "AAAA-BBBB-CCCC-DDDD-EEEE", "password": "un secret solide",
            "password_confirm": "un secret solide",
        })
        answers.append((result.status, result.one("#code-error").get_text(strip=True)))
    assert answers[0] == answers[1]
    assert code
