"""A new recovery code survives a reload: shown after a redirect, sealed to the session in a
short-lived cookie, until the member says they noted it (issue 19)."""

from __future__ import annotations

from litestar import Litestar
from sqlalchemy import text

from forum.db import Database
from forum.web import shown_code
from tests.browsing import DEFAULT_PASSWORD, Browser, another_browser

SECRET = "s" * 48


def cookie_of(browser: Browser) -> str:
    return browser.client.cookies.get("entrepairs-code", "")


def put_cookie(browser: Browser, value: str) -> None:
    """Replace the code cookie (the jar would otherwise send both, the old one first)."""
    jar = browser.client.cookies
    for cookie in [c for c in jar.jar if c.name == "entrepairs-code"]:
        jar.jar.clear(cookie.domain, cookie.path, cookie.name)
    jar.set("entrepairs-code", value)


async def test_the_code_after_sign_up_is_shown_again_on_reload_until_noted(
    browser: Browser, database: Database
) -> None:
    page = await browser.get("/signup")
    made = await browser.submit(page.form(), {
        "pseudonym": "Carnet", "password": DEFAULT_PASSWORD,
        "password_confirm": DEFAULT_PASSWORD, "consent": "yes"})
    assert made.status == 303 and made.response.headers["location"] == "/recovery-code"
    assert made.response.headers["cache-control"] == "no-store"
    first = await browser.get("/recovery-code")
    code = first.one("#recovery-code code").get_text(strip=True)
    assert "Bienvenue, Carnet" in first.text()
    assert first.response.headers["cache-control"] == "no-store"
    assert code.replace("-", "") not in cookie_of(browser).replace("-", "")
    reloaded = await browser.get("/recovery-code")  # what a reload does now: a GET
    assert reloaded.one("#recovery-code code").get_text(strip=True) == code
    noted = await browser.submit(reloaded.form("form[action='/recovery-code']"))
    assert noted.status == 303 and noted.response.headers["location"] == "/"
    assert not cookie_of(browser)
    after = await browser.get("/recovery-code")
    assert after.status == 200 and not after.all("#recovery-code")
    assert after.one("a[href='/me/recovery-code']")
    # The code works, and the database never held it in clear.
    async with database.reader() as session:
        dump = " ".join(str(row) for row in (await session.execute(
            text("SELECT * FROM member"))).all())
    assert code not in dump and code.replace("-", "") not in dump
    await browser.logout()
    recover = await browser.get("/recover")
    back = await browser.submit(recover.form(), {
        "pseudonym": "Carnet", "code": code, "password": "un tout nouveau secret",
        "password_confirm": "un tout nouveau secret"})
    assert back.status == 303
    shown = await browser.follow(back)
    assert "Te revoilà" in shown.text() and shown.one("#recovery-code code")


async def test_logging_out_forgets_a_code_not_yet_noted(browser: Browser) -> None:
    await browser.signup("Oubli")
    assert cookie_of(browser)
    await browser.logout()
    assert not cookie_of(browser)
    page = await browser.get("/recovery-code")
    assert not page.all("#recovery-code") and page.one("a[href='/login']")


async def test_the_cookie_shows_nothing_to_another_session(app: Litestar,
                                                          browser: Browser) -> None:
    await browser.signup("Serrure")
    stolen = cookie_of(browser)
    async with another_browser(app) as other:
        await other.signup("Curieux")
        put_cookie(other, stolen)
        page = await other.get("/recovery-code")
        assert page.status == 200 and not page.all("#recovery-code")
    async with another_browser(app) as visitor:
        put_cookie(visitor, stolen)
        page = await visitor.get("/recovery-code")
        assert page.status == 200 and not page.all("#recovery-code")


async def test_a_tampered_or_garbage_cookie_is_ignored(browser: Browser) -> None:
    await browser.signup("Bricole")
    good = cookie_of(browser)
    put_cookie(browser, good)
    assert (await browser.get("/recovery-code")).all("#recovery-code")  # the helper works
    for value in (good[:-2] + ("AA" if not good.endswith("AA") else "BB"), good[:10],
                  "%%%", "~!*()" * 8, "A" * 300, ""):
        put_cookie(browser, value)
        page = await browser.get("/recovery-code")
        assert page.status == 200 and not page.all("#recovery-code"), value


def test_seal_and_unseal() -> None:
    sealed = shown_code.seal(SECRET, "token-a", "signup", "ABCD-EFGH-JKLM-NPQR-STUV")
    assert shown_code.unseal(SECRET, "token-a", sealed) == ("signup",
                                                            "ABCD-EFGH-JKLM-NPQR-STUV")
    assert shown_code.unseal(SECRET, "token-b", sealed) is None
    assert shown_code.unseal("t" * 48, "token-a", sealed) is None
    assert shown_code.unseal(SECRET, "", sealed) is None
    # A fresh nonce each time: the same code sealed twice never gives the same cookie.
    assert sealed != shown_code.seal(SECRET, "token-a", "signup", "ABCD-EFGH-JKLM-NPQR-STUV")
