"""Accounts: sign up, log in, log out, recover with the recovery code, preferences.

Log-in and recovery answer the same way, in the same time, whether the pseudonym exists or
not: an unknown pseudonym is checked against a dummy hash of the same cost.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.params import FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from forum import actions, content_warnings, privacy, pseudonyms, queries
from forum.config import LOCALES, REGIONS
from forum.db import commit
from forum.i18n import LANG_COOKIE, N_
from forum.models import Member
from forum.passwords import (
    PasswordPolicyError,
    check_policy,
    generate_recovery_code,
    normalize_recovery_code,
)
from forum.permissions import check_logged_in
from forum.throttle import (
    LOGIN_ACCOUNT,
    LOGIN_CLIENT,
    LOGIN_DEVICE,
    RECOVER_ACCOUNT,
    RECOVER_CLIENT,
    SIGNUP_CLIENT,
    Throttle,
    Throttled,
    check_attempt,
    client_of,
    clock_of,
    forget_attempts,
    record_attempt,
    retry_after_header,
)
from forum.web import shown_code
from forum.web.auth import (
    device_cookie,
    device_cookie_name,
    session_lifetime,
    set_login_cookies,
    set_logout_cookies,
)
from forum.web.context import session_token_of, viewer_of
from forum.web.deps import AppSettings, Db, PasswordHasher, Reader
from forum.web.forms import FieldError, FormErrors, read_form

PSEUDONYM_ERRORS = {
    "empty": N_("Choisis un pseudonyme."),
    "too_short": N_("Un pseudonyme fait au moins 3 caractères."),
    "too_long": N_("Un pseudonyme fait au plus 32 caractères."),
    "invalid_chars": N_("Un pseudonyme peut contenir des lettres, des chiffres, et les signes "
                        ". _ - ; pas d'espace ni de caractère invisible."),
    "mixed_script": N_("Un pseudonyme s'écrit dans un seul alphabet (pas de mélange, par "
                       "exemple, de lettres latines et cyrilliques)."),
    "reserved": N_("Ce pseudonyme est réservé, pour que personne ne puisse se faire passer "
                   "pour l'équipe. Choisis-en un autre."),
}
PSEUDONYM_TAKEN = N_("Ce pseudonyme (ou un autre qui lui ressemble beaucoup) est déjà pris. "
                     "Choisis-en un autre.")
PASSWORD_ERRORS = {
    "empty": N_("Choisis un mot de passe."),
    "too_short": N_("Un mot de passe fait au moins 10 caractères. Une phrase courte que tu "
                    "retiens facilement fait un très bon mot de passe."),
    "too_long": N_("Un mot de passe fait au plus 1 024 caractères."),
    "common": N_("Ce mot de passe est trop courant : il serait vite deviné. Choisis-en un "
                 "autre, par exemple une petite phrase."),
    "invalid_chars": N_("Ce mot de passe contient un caractère que le forum ne peut pas "
                        "enregistrer."),
}
PASSWORDS_DIFFER = N_("Les deux mots de passe ne sont pas identiques.")
LOGIN_FAILED = N_("Ce pseudonyme et ce mot de passe ne correspondent pas. Vérifie les "
                  "majuscules, ou utilise ton code de récupération.")
RECOVERY_FAILED = N_("Ce pseudonyme et ce code de récupération ne correspondent pas.")
CONSENT_REQUIRED = N_("Pour créer ton compte, coche la case : le forum a besoin de ton accord "
                      "pour garder ce que tu écriras sur ta santé.")
TOO_MANY_ATTEMPTS = N_("Il y a eu beaucoup d'essais en peu de temps. Pour protéger les comptes, "
                       "attends %(minutes)s min avant de réessayer. Rien n'est bloqué pour de "
                       "bon.")

log = logging.getLogger("forum.accounts")


def account_subject(raw_name: str) -> str:
    """What per-account throttling counts: the uniqueness key (or the folded text typed)."""
    key = _key_or_none(raw_name) if len(raw_name) <= 256 else None
    return "account\x00" + (key or raw_name[:256].casefold())


def known_device(request: Request[Any, Any, Any], subject: str) -> str | None:
    """This browser's ``LOGIN_DEVICE`` subject for the account ``subject``, when a log-in to
    that account succeeded here before (its known-device cookie); None otherwise."""
    throttle: Throttle = request.app.state.throttle
    cookie = request.cookies.get(device_cookie_name(request.app.state.settings))
    return throttle.known_device(cookie, subject, now=clock_of(request))


def remember_device(request: Request[Any, Any, Any], response: Response[Any],
                    subject: str) -> None:
    """After a successful log-in, sign-up or recovery: this browser is a known device for the
    account (``forum/throttle.py``; nothing is stored on the server)."""
    throttle: Throttle = request.app.state.throttle
    settings = request.app.state.settings
    value = throttle.remember_device(request.cookies.get(device_cookie_name(settings)),
                                     subject, now=clock_of(request))
    response.set_cookie(device_cookie(settings, value))


def throttled_error(exc: Throttled) -> FieldError:
    return FieldError(TOO_MANY_ATTEMPTS, {"minutes": exc.minutes})


def safe_next(raw: str | None) -> str:
    """A local path to go back to after logging in; anything else sends home."""
    if not raw or not raw.startswith("/") or raw.startswith(("//", "/\\")):
        return "/"
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in raw):
        return "/"
    return raw


def _key_or_none(raw: str) -> str | None:
    try:
        return pseudonyms.uniqueness_key(pseudonyms.normalize(raw))
    except ValueError:
        return None


async def _member_named(reader: AsyncSession, raw: str) -> Member | None:
    """The account a log-in or a recovery names: by its key, unless a member still holds the
    name's key from before migration 0005 (separators kept), which is then the one typed."""
    if len(raw) > 256:
        return None
    try:
        name = pseudonyms.normalize(raw)
    except ValueError:
        return None
    legacy = pseudonyms.legacy_key(name)
    if legacy is not None:
        member = await queries.find_member_by_key(reader, legacy)
        if member is not None:
            return member
    return await queries.find_member_by_key(reader, pseudonyms.uniqueness_key(name))


def _password_error(password: str, confirm: str | None, pseudonym: str) -> FieldError | None:
    try:
        check_policy(password, pseudonym=pseudonym)
    except PasswordPolicyError as exc:
        return FieldError(PASSWORD_ERRORS.get(exc.code, PASSWORD_ERRORS["common"]))
    if confirm is not None and confirm != password:
        return FieldError(PASSWORDS_DIFFER)
    return None


async def _start_session(db: Db, settings: AppSettings, member: Member, device: str | None
                         ) -> str:
    token = await actions.do_start_session(db, member, lifetime=session_lifetime(settings),
                                           device=device)
    await commit(db)
    return token


def _code_page(request: Request[Any, Any, Any], code: str, member: Member,
               settings: AppSettings, token: str, *, recovered: bool) -> Response[Any]:
    """Logged in from this answer on; the new code is shown on the page it redirects to
    (``forum/web/shown_code.py``), so that a reload does not lose it."""
    response = shown_code.show_next(request, settings, token,
                                    "recovered" if recovered else "signup", code)
    set_login_cookies(response, settings, token)
    remember_device(request, response, account_subject(member.pseudonym))
    return response


# -- sign up ---------------------------------------------------------------------------------

def _signup_page(values: dict[str, str], errors: FormErrors, status: int = 200,
                 headers: dict[str, str] | None = None) -> Template:
    return Template(
        template_name="accounts/signup/index.html", status_code=status, headers=headers,
        context={"values": values, "errors": errors, "suggestion": pseudonyms.suggest()},
    )


@get("/signup", name="signup_form")
async def signup_form() -> Template:
    return _signup_page({}, FormErrors())


@post("/signup", name="signup")
async def signup(request: Request[Any, Any, Any], db: Db, hasher: PasswordHasher,
                 settings: AppSettings) -> Response[Any]:
    form = await read_form(request)
    raw_name = form.get("pseudonym", "")
    password = form.get("password", "")
    errors = FormErrors()
    name = ""
    try:
        name = pseudonyms.validate(raw_name)
    except pseudonyms.PseudonymError as exc:
        errors["pseudonym"] = FieldError(PSEUDONYM_ERRORS.get(exc.code, PSEUDONYM_ERRORS["empty"]))
    if error := _password_error(password, form.get("password_confirm"), name or raw_name):
        errors["password"] = error
    kept = {"pseudonym": raw_name, "consent": form.get("consent", "")}
    if not errors:
        try:
            await check_attempt(request, (SIGNUP_CLIENT, client_of(request)))
        except Throttled as exc:
            errors["pseudonym"] = throttled_error(exc)
            return _signup_page(kept, errors, status=429, headers=retry_after_header(exc))
    if not errors and await queries.find_member_by_key(db, pseudonyms.uniqueness_key(name)):
        errors["pseudonym"] = FieldError(PSEUDONYM_TAKEN)
    if form.get("consent") != "yes":
        errors["consent"] = FieldError(CONSENT_REQUIRED)
    if errors:
        return _signup_page(kept, errors, status=422)
    code = generate_recovery_code()
    password_hash = await hasher.hash(password)
    recovery_hash = await hasher.hash(normalize_recovery_code(code))
    try:
        member = await actions.do_signup(
            db, pseudonym=name, pseudonym_key=pseudonyms.uniqueness_key(name),
            password_hash=password_hash, recovery_hash=recovery_hash,
            locale=request.cookies.get(LANG_COOKIE) if request.cookies.get(LANG_COOKIE)
            in LOCALES else None, region=None,
        )
    except actions.PseudonymTaken:
        await db.rollback()
        return _signup_page(kept, FormErrors(pseudonym=FieldError(PSEUDONYM_TAKEN)), status=422)
    await privacy.do_record_consent(db, member)
    token = await _start_session(db, settings, member,
                                 privacy.device_class(request.headers.get("user-agent")))
    return _code_page(request, code, member, settings, token, recovered=False)


# -- log in / log out ------------------------------------------------------------------------

def _login_page(values: dict[str, str], error: str | None, status: int = 200,
                error_params: dict[str, Any] | None = None,
                headers: dict[str, str] | None = None) -> Template:
    return Template(
        template_name="accounts/login/index.html", status_code=status, headers=headers,
        context={"values": values, "error": error, "error_params": error_params or {}},
    )


@get("/login", name="login_form")
async def login_form(next: FromQuery[str | None] = None) -> Template:  # noqa: A002 - the query name
    return _login_page({"next": safe_next(next)}, None)


@post("/login", name="login")
async def login(request: Request[Any, Any, Any], db: Db, reader: Reader,
                hasher: PasswordHasher, settings: AppSettings) -> Response[Any]:
    form = await read_form(request)
    raw_name = form.get("pseudonym", "")
    password = form.get("password", "")
    next_url = safe_next(form.get("next"))
    remember = form.get("remember") == "yes"
    subject = account_subject(raw_name)
    # From a device where this account logged in before, only that device's own limit
    # applies: failures elsewhere (an attacker's) never refuse the member here.
    device = known_device(request, subject)
    shared = ((LOGIN_CLIENT, client_of(request)), (LOGIN_ACCOUNT, subject))
    try:
        await check_attempt(request, *([(LOGIN_DEVICE, device)] if device else shared))
    except Throttled as exc:
        return _login_page({"pseudonym": raw_name, "next": next_url,
                            "remember": "yes" if remember else ""}, TOO_MANY_ATTEMPTS,
                           status=429, error_params={"minutes": exc.minutes},
                           headers=retry_after_header(exc))
    member = await _member_named(reader, raw_name)
    stored = member.password_hash if member is not None and member.status == "active" else None
    password_ok = len(password) <= 1024 and await hasher.verify(stored, password[:1024])
    if member is None or not password_ok:
        log.info("login failed")
        if device:  # a wrong password still counts against the account, from anywhere
            await record_attempt(request, *shared)
        return _login_page({"pseudonym": raw_name, "next": next_url,
                            "remember": "yes" if remember else ""}, LOGIN_FAILED, status=422)
    if device:  # the account's count is others' business: a known device leaves it be
        await forget_attempts(request, LOGIN_DEVICE, device)
    else:
        await forget_attempts(request, LOGIN_ACCOUNT, subject)
    log.info("login succeeded")
    if hasher.needs_rehash(member.password_hash):
        await actions.do_update_password(db, member, password_hash=await hasher.hash(password))
    token = await actions.do_start_session(
        db, member, lifetime=session_lifetime(settings),
        device=privacy.device_class(request.headers.get("user-agent")),
    )
    old_token = session_token_of(request)
    if old_token:
        await actions.do_end_session(db, old_token)
    await commit(db)
    response = Redirect(path=next_url, status_code=303)
    set_login_cookies(response, settings, token, remember=remember)
    remember_device(request, response, subject)
    return response


@post("/logout", name="logout")
async def logout(request: Request[Any, Any, Any], db: Db,
                 settings: AppSettings) -> Response[Any]:
    token = session_token_of(request)
    if token:
        await actions.do_end_session(db, token)
        await commit(db)
    response = Redirect(path="/", status_code=303)
    set_logout_cookies(response, settings)
    return response


# -- recovery --------------------------------------------------------------------------------

def _recover_page(values: dict[str, str], errors: FormErrors, status: int = 200) -> Template:
    return Template(
        template_name="accounts/recover/index.html", status_code=status,
        context={"values": values, "errors": errors},
    )


@get("/recover", name="recover_form")
async def recover_form() -> Template:
    return _recover_page({}, FormErrors())


@post("/recover", name="recover")
async def recover(request: Request[Any, Any, Any], db: Db, reader: Reader,
                  hasher: PasswordHasher, settings: AppSettings) -> Response[Any]:
    form = await read_form(request)
    raw_name = form.get("pseudonym", "")
    code = normalize_recovery_code(form.get("code", ""))[:64]
    password = form.get("password", "")
    kept = {"pseudonym": raw_name}
    errors = FormErrors()
    if error := _password_error(password, form.get("password_confirm"), raw_name):
        errors["password"] = error
        return _recover_page(kept, errors, status=422)
    try:
        await check_attempt(request, (RECOVER_CLIENT, client_of(request)),
                            (RECOVER_ACCOUNT, account_subject(raw_name)))
    except Throttled as exc:
        errors["code"] = throttled_error(exc)
        return Template(template_name="accounts/recover/index.html", status_code=429,
                        headers=retry_after_header(exc),
                        context={"values": kept, "errors": errors})
    member = await _member_named(reader, raw_name)
    stored = member.recovery_hash if member is not None and member.status == "active" else None
    code_ok = await hasher.verify(stored, code)  # always one verification: same time
    if member is None or not code_ok:
        log.info("recovery failed")
        errors["code"] = FieldError(RECOVERY_FAILED)
        return _recover_page(kept, errors, status=422)
    new_code = generate_recovery_code()
    await actions.do_recover_account(
        db, member, password_hash=await hasher.hash(password),
        recovery_hash=await hasher.hash(normalize_recovery_code(new_code)),
    )
    token = await actions.do_start_session(
        db, member, lifetime=session_lifetime(settings),
        device=privacy.device_class(request.headers.get("user-agent")),
    )
    await commit(db)
    return _code_page(request, new_code, member, settings, token, recovered=True)


# -- preferences -----------------------------------------------------------------------------

@post("/language", name="set_language")
async def set_language(request: Request[Any, Any, Any], db: Db) -> Response[Any]:
    form = await read_form(request)
    locale = form.get("locale")
    response = Redirect(path=safe_next(form.get("next")), status_code=303)
    if locale not in LOCALES:
        return response
    member = viewer_of(request)
    if member is not None:
        await actions.do_set_preferences(db, member, locale=locale)
        await commit(db)
    response.set_cookie(Cookie(key=LANG_COOKIE, value=locale, path="/", max_age=365 * 86400,
                               samesite="lax", httponly=True,
                               secure=request.app.state.settings.https))
    return response


@get("/settings", name="settings_form")
async def settings_form(request: Request[Any, Any, Any], db: Db,
                        saved: FromQuery[int] = 0) -> Template:
    member = check_logged_in(viewer_of(request))
    return Template(template_name="accounts/settings/index.html",
                    context={"regions": REGIONS, "locales": LOCALES, "saved": bool(saved),
                             "warning_presets": content_warnings.PRESETS,
                             "hidden_themes": await queries.hidden_warning_themes(db, member)})


@post("/settings", name="save_settings")
async def save_settings(request: Request[Any, Any, Any], db: Db) -> Response[Any]:
    member = check_logged_in(viewer_of(request))
    form = await read_form(request)
    locale = form.get("locale") if form.get("locale") in LOCALES else None
    region = form.get("region") if form.get("region") in REGIONS else None
    await actions.do_set_preferences(db, member, locale=locale, region=region)
    hidden = {theme for theme in content_warnings.PRESETS if form.get(f"hide_{theme}") == "1"}
    await actions.do_set_hidden_warnings(db, member, hidden)
    await commit(db)
    return Redirect(path="/settings?saved=1", status_code=303)


ROUTES = [signup_form, signup, login_form, login, logout, recover_form, recover, set_language,
          settings_form, save_settings]
