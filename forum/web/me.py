"""A member's own account: sessions, password, recovery code, a break, export and deletion.

Every change that matters asks for the current password, checked under the ``reauth-account``
throttle before anything is written (so the SQLite write lock is never held while hashing).
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from forum import actions, privacy, queries
from forum.db import commit
from forum.i18n import N_
from forum.models import Member
from forum.passwords import MAX_LENGTH, generate_recovery_code, normalize_recovery_code
from forum.permissions import check_logged_in
from forum.sessions import token_hash
from forum.throttle import REAUTH_ACCOUNT, Throttled, check_attempt, clock_of, retry_after_header
from forum.web import notifications as web_notifications
from forum.web import shown_code
from forum.web.accounts import _password_error, throttled_error
from forum.web.auth import session_lifetime, set_login_cookies, set_logout_cookies
from forum.web.context import locale_of, session_token_of, viewer_of
from forum.web.deps import AppSettings, Db, PasswordHasher
from forum.web.forms import FieldError, FormErrors, read_form

log = logging.getLogger("forum.me")

WRONG_PASSWORD = N_("Ce n'est pas ton mot de passe actuel. Vérifie les majuscules.")
UNKNOWN_CHOICE = N_("Choisis l'une des possibilités proposées.")
NO_STORE = {"Cache-Control": "no-store"}


def _member(request: Request[Any, Any, Any]) -> Member:
    return check_logged_in(viewer_of(request))


async def _password_ok(request: Request[Any, Any, Any], hasher: PasswordHasher, member: Member,
                       password: str) -> bool:
    """Check the member's current password, counted by the throttle (raises Throttled)."""
    await check_attempt(request, (REAUTH_ACCOUNT, f"member\x00{member.id}"))
    ok = len(password) <= MAX_LENGTH and await hasher.verify(member.password_hash, password)
    if not ok:
        log.info("password check failed")
    return ok


async def _reauthenticate(request: Request[Any, Any, Any], hasher: PasswordHasher,
                          member: Member, password: str, errors: FormErrors
                          ) -> dict[str, str] | None:
    """None when the password is right; else the error is set and the headers to answer."""
    try:
        if await _password_ok(request, hasher, member, password):
            return None
    except Throttled as exc:
        errors["current_password"] = throttled_error(exc)
        return retry_after_header(exc)
    errors["current_password"] = FieldError(WRONG_PASSWORD)
    return {}


def _status(headers: dict[str, str]) -> int:
    return 429 if "Retry-After" in headers else 422


def _page(feature: str, context: dict[str, Any], *, status: int = 200,
          headers: dict[str, str] | None = None) -> Template:
    return Template(template_name=f"me/{feature}/index.html", context=context,
                    status_code=status, headers={**NO_STORE, **(headers or {})})


# -- overview --------------------------------------------------------------------------------

@get("/me", name="me")
async def overview(request: Request[Any, Any, Any], done: FromQuery[str | None] = None
                   ) -> Template:
    member = _member(request)
    return _page("overview", {"done": done, "on_break": privacy.on_break(member),
                              "member": member})


# -- sessions --------------------------------------------------------------------------------

@get("/me/sessions", name="me_sessions")
async def sessions_page(request: Request[Any, Any, Any], db: Db) -> Template:
    member = _member(request)
    sessions = await queries.list_member_sessions(db, member.id)
    current = token_hash(session_token_of(request))
    return _page("sessions", {"sessions": sessions, "current": current})


@post("/me/sessions/end", name="me_end_session")
async def end_session(request: Request[Any, Any, Any], db: Db,
                      settings: AppSettings) -> Response[Any]:
    member = _member(request)
    form = await read_form(request)
    target = form.get("session", "")[:64]
    ended = await actions.do_end_member_session(db, member, target)
    await commit(db)
    if ended and target == token_hash(session_token_of(request)):
        response = Redirect(path="/", status_code=303)
        set_logout_cookies(response, settings)
        return response
    return Redirect(path="/me/sessions", status_code=303)


@post("/me/sessions/end-others", name="me_end_other_sessions")
async def end_other_sessions(request: Request[Any, Any, Any], db: Db) -> Response[Any]:
    member = _member(request)
    await read_form(request)
    await actions.do_end_other_sessions(db, member, session_token_of(request))
    await commit(db)
    return Redirect(path="/me/sessions", status_code=303)


# -- password --------------------------------------------------------------------------------

@get("/me/password", name="me_password_form")
async def password_form(request: Request[Any, Any, Any]) -> Template:
    _member(request)
    return _page("password", {"errors": FormErrors()})


@post("/me/password", name="me_change_password")
async def change_password(request: Request[Any, Any, Any], db: Db, hasher: PasswordHasher,
                          settings: AppSettings) -> Response[Any]:
    member = _member(request)
    form = await read_form(request)
    errors = FormErrors()
    if error := _password_error(form.get("password", ""), form.get("password_confirm"),
                                member.pseudonym):
        errors["password"] = error
    headers = await _reauthenticate(request, hasher, member, form.get("current_password", ""),
                                    errors)
    if errors:
        return _page("password", {"errors": errors}, status=_status(headers or {}),
                     headers=headers)
    password_hash = await hasher.hash(form["password"])
    await actions.do_change_password(db, member, password_hash=password_hash)
    token = await actions.do_start_session(
        db, member, lifetime=session_lifetime(settings),
        device=privacy.device_class(request.headers.get("user-agent")),
    )
    await commit(db)
    response = Redirect(path="/me?done=password", status_code=303)
    # Whether the log-in asked to stay logged in is not known here: the new cookie ends with
    # the browser, the safer of the two on a shared device.
    set_login_cookies(response, settings, token, remember=False)
    return response


# -- recovery code ---------------------------------------------------------------------------

@get("/me/recovery-code", name="me_recovery_code_form")
async def recovery_code_form(request: Request[Any, Any, Any]) -> Template:
    _member(request)
    return _page("recovery_code", {"errors": FormErrors(), "code": None})


@post("/me/recovery-code", name="me_new_recovery_code")
async def new_recovery_code(request: Request[Any, Any, Any], db: Db, hasher: PasswordHasher,
                            settings: AppSettings) -> Response[Any]:
    member = _member(request)
    form = await read_form(request)
    errors = FormErrors()
    headers = await _reauthenticate(request, hasher, member, form.get("current_password", ""),
                                    errors)
    if errors:
        return _page("recovery_code", {"errors": errors, "code": None},
                     status=_status(headers or {}), headers=headers)
    code = generate_recovery_code()
    recovery_hash = await hasher.hash(normalize_recovery_code(code))
    await actions.do_replace_recovery_code(db, member, recovery_hash=recovery_hash)
    await commit(db)
    return shown_code.show_next(request, settings, session_token_of(request), "renewed", code)


# -- a break ---------------------------------------------------------------------------------

@get("/me/break", name="me_break_form")
async def break_form(request: Request[Any, Any, Any]) -> Template:
    member = _member(request)
    return _page("break", {"member": member, "on_break": privacy.on_break(member),
                           "choices": privacy.BREAK_DAYS, "errors": FormErrors()})


@post("/me/break", name="me_take_break")
async def take_break(request: Request[Any, Any, Any], db: Db) -> Response[Any]:
    member = _member(request)
    form = await read_form(request)
    choice = form.get("days", "")
    if choice == "end":
        until = None
    elif choice.isascii() and choice.isdigit() and int(choice) in privacy.BREAK_DAYS:
        until = clock_of(request) + timedelta(days=int(choice))
    else:
        return _page("break", {"member": member, "on_break": privacy.on_break(member),
                               "choices": privacy.BREAK_DAYS,
                               "errors": FormErrors(days=FieldError(UNKNOWN_CHOICE))},
                     status=422)
    await actions.do_set_break(db, member, until)
    await commit(db)
    return Redirect(path="/me/break", status_code=303)


# -- export ----------------------------------------------------------------------------------

@get("/me/export", name="me_export")
async def export_page(request: Request[Any, Any, Any], db: Db) -> Template:
    member = _member(request)
    data = await privacy.export_member_data(db, member)
    locale = locale_of(request)
    notices = [web_notifications.notice_text(locale, n["message"], n["params"])
               for n in data["notices_received"]]
    return _page("export", {"data": data, "notices": notices})


@get("/me/export.json", name="me_export_json")
async def export_json(request: Request[Any, Any, Any], db: Db) -> Response[bytes]:
    member = _member(request)
    data = await privacy.export_member_data(db, member)
    body = json.dumps(data, ensure_ascii=False, indent=2).encode()
    return Response(body, media_type="application/json", headers={
        **NO_STORE, "Content-Disposition": 'attachment; filename="entrepairs-export.json"',
    })


# -- deletion --------------------------------------------------------------------------------

DELETE_CHOICES = ("anonymise", "erase")


@get("/me/delete", name="me_delete_form")
async def delete_form(request: Request[Any, Any, Any]) -> Template:
    _member(request)
    return _page("delete", {"errors": FormErrors(), "values": {}})


@post("/me/delete", name="me_delete")
async def delete_account(request: Request[Any, Any, Any], db: Db, hasher: PasswordHasher,
                         settings: AppSettings) -> Response[Any]:
    member = _member(request)
    form = await read_form(request)
    choice = form.get("posts", "")
    errors = FormErrors()
    if choice not in DELETE_CHOICES:
        errors["posts"] = FieldError(UNKNOWN_CHOICE)
    headers = await _reauthenticate(request, hasher, member, form.get("current_password", ""),
                                    errors)
    if errors:
        return _page("delete", {"errors": errors, "values": {"posts": choice}},
                     status=_status(headers or {}), headers=headers)
    await privacy.do_delete_account(db, member, erase_posts=choice == "erase",
                                    now=clock_of(request))
    await commit(db)
    log.info("account deleted")
    request.scope["user"] = None
    response = _page("deleted", {"erased": choice == "erase"})
    set_logout_cookies(response, settings)
    return response


ROUTES = [
    overview, sessions_page, end_session, end_other_sessions, password_form, change_password,
    recovery_code_form, new_recovery_code, break_form, take_break, export_page, export_json,
    delete_form, delete_account,
]
