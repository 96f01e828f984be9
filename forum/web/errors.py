"""Error pages: every error a person can meet is a calm page in their language, never a trace.

For htmx requests the same message comes back as a small fragment swapped into the page's
alert region (``#alerts``), so the form and what was typed in it stay where they are. For a
plain form post, the page shows back the text that was typed, so nothing is lost.
"""

from __future__ import annotations

import errno
import logging
import secrets
import traceback
from typing import Any
from urllib.parse import urlencode, urlsplit

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
)
from litestar.middleware.csrf import CSRF_SECRET_LENGTH
from litestar.response import Redirect, Template
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_401_UNAUTHORIZED,
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_405_METHOD_NOT_ALLOWED,
    HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    HTTP_429_TOO_MANY_REQUESTS,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from litestar.types import Empty
from litestar.utils.scope.state import ScopeState
from sqlalchemy.exc import DBAPIError

from forum import permissions
from forum.db import is_unavailable
from forum.i18n import N_, format_date
from forum.web.auth import csrf_token_signed
from forum.web.context import locale_of, region_of, viewer_of
from forum.web.htmx import is_htmx

log = logging.getLogger("forum.errors")

RETRY_AFTER_SECONDS = 5
TYPED_FIELDS = ("title", "body", "note")

MESSAGES: dict[int, tuple[str, str]] = {
    HTTP_400_BAD_REQUEST: (
        N_("Cette demande n'a pas pu être lue"),
        N_("Quelque chose dans ce qui a été envoyé n'est pas au bon format. "
           "Reviens en arrière et réessaie."),
    ),
    HTTP_401_UNAUTHORIZED: (
        N_("Connecte-toi pour continuer"),
        N_("Pour écrire sur Entrepairs, il faut un compte : un pseudonyme et un mot de passe "
           "suffisent. Ton texte n'a pas été publié, tu le retrouves ci-dessous."),
    ),
    HTTP_403_FORBIDDEN: (
        N_("Ce n'est pas possible ici"),
        N_("Tu n'as pas la possibilité de faire cela ici, ou la page était ouverte depuis "
           "longtemps. Recharge la page et réessaie."),
    ),
    HTTP_404_NOT_FOUND: (
        N_("Cette page n'existe pas"),
        N_("Le lien est peut-être incomplet, ou la page a été retirée."),
    ),
    HTTP_405_METHOD_NOT_ALLOWED: (
        N_("Cette action n'est pas possible ici"),
        N_("Cette adresse ne sert pas à cela. Reviens à la page précédente."),
    ),
    HTTP_413_REQUEST_ENTITY_TOO_LARGE: (
        N_("C'est trop volumineux"),
        N_("Ce qui a été envoyé dépasse la taille qu'accepte le forum. "
           "Un message peut faire jusqu'à 20 000 caractères."),
    ),
    HTTP_429_TOO_MANY_REQUESTS: (
        N_("Un petit moment, s'il te plaît"),
        N_("Il y a eu beaucoup d'essais en peu de temps. Réessaie dans quelques minutes."),
    ),
    HTTP_503_SERVICE_UNAVAILABLE: (
        N_("Le forum est très occupé"),
        N_("Ton action n'a pas pu être enregistrée tout de suite. Réessaie dans quelques "
           "secondes ; ton texte est ci-dessous."),
    ),
    500: (
        N_("Quelque chose s'est mal passé de notre côté"),
        N_("Ce n'est pas de ta faute. Réessaie dans un moment ; si cela continue, "
           "signale-le à l'équipe avec le code ci-dessous."),
    ),
}


REFUSALS: dict[str, tuple[str, str]] = {
    permissions.REFUSED_RESTRICTED: (
        N_("Ton compte est suspendu pour l'instant"),
        N_("L'équipe de modération a suspendu ton compte jusqu'au %(until)s : d'ici là, tu "
           "peux lire le forum, mais pas y écrire. La raison t'a été envoyée dans tes "
           "notifications."),
    ),
    permissions.REFUSED_LOCKED: (
        N_("Ce fil est verrouillé"),
        N_("L'équipe de modération l'a fermé aux nouveaux messages et aux modifications. Tu "
           "peux toujours le lire."),
    ),
    permissions.REFUSED_PAUSED: (
        N_("La session est en pause"),
        N_("La personne qui anime le groupe a mis les échanges en pause un moment. Ton "
           "message n'est pas perdu : reviens en arrière pour le retrouver, et envoie-le dès "
           "que la session reprend."),
    ),
    permissions.REFUSED_NOT_AUTHOR: (
        N_("Ce message n'est pas le tien"),
        N_("Seule la personne qui l'a écrit peut le modifier ou le supprimer. S'il te pose "
           "problème, tu peux le signaler à l'équipe de modération."),
    ),
}
"""Why a 403 was answered (``forum.permissions.REFUSED_*``), told to the person."""

BANNED = (
    N_("Ton accès en écriture est fermé"),
    N_("L'équipe de modération a fermé ton accès en écriture : tu peux lire le forum, mais pas "
       "y écrire. La raison t'a été envoyée dans tes notifications."),
)


def _refusal(request: Request[Any, Any, Any], reason: str) -> tuple[str, str, dict[str, Any]]:
    """Title, explanation and its parameters for a refusal with a known reason."""
    title, explanation = REFUSALS[reason]
    if reason != permissions.REFUSED_RESTRICTED:
        return title, explanation, {}
    viewer = viewer_of(request)
    until = viewer.suspended_until if viewer is not None and not viewer.banned else None
    if until is None:
        return (*BANNED, {})
    return title, explanation, {"until": format_date(until, locale_of(request),
                                                     region_of(request))}


def _restriction(request: Request[Any, Any, Any]) -> dict[str, Any] | None:
    """For a suspended or banned member's refusal: the reason they were given, and a link to
    ask for another look (``/me/appeal``, served by moderation) in the template."""
    viewer = viewer_of(request)
    if viewer is None:
        return None
    return {"reason": viewer.restriction_reason or ""}


def _from_this_site(request: Request[Any, Any, Any], form: dict[str, Any]) -> bool:
    """Whether the form was sent from one of the forum's own pages: its ``Origin`` is the
    forum's (browsers send it with every form post; a page that lost its token, after a long
    night, still gets its text back), or it carries the reader's own CSRF token."""
    settings = getattr(request.app.state, "settings", None)
    origin = request.headers.get("origin")
    if origin and settings is not None and origin.rstrip("/") == _origin(settings.base_url):
        return True
    return _csrf_passed(request, form)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _csrf_passed(request: Request[Any, Any, Any], form: dict[str, Any]) -> bool:
    """Whether the request carries the reader's own CSRF token (as Litestar checks it: the
    form's or header's token and the cookie's, both signed with the app's secret, the same)."""
    config = request.app.csrf_config
    if config is None:
        return False
    sent = request.headers.get(config.header_name) or form.get("_csrf_token")
    if isinstance(sent, list):
        sent = sent[0] if sent else None
    cookie = request.cookies.get(config.cookie_name)
    if not isinstance(sent, str) or not cookie:
        return False
    return (csrf_token_signed(cookie, config.secret) and csrf_token_signed(sent, config.secret)
            and secrets.compare_digest(cookie[:CSRF_SECRET_LENGTH], sent[:CSRF_SECRET_LENGTH]))


def _typed_text(request: Request[Any, Any, Any]) -> dict[str, str]:
    """What the person typed, when the form was already read (by the handler, which reads it
    before any check, or by the CSRF middleware). Exception handlers are synchronous, so this
    reads Litestar's per-request cache of the parsed form rather than the body.

    Only for a form sent from the forum's own pages (:func:`_from_this_site`): another site
    can make a browser post any title or body, and the error page would print it on a real
    page of the forum ("la ligne 3114 ne répond plus, appelle le 06 …")."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return {}
    form = ScopeState.from_scope(request.scope).form
    if form is Empty or not isinstance(form, dict) or not _from_this_site(request, form):
        return {}
    typed: dict[str, str] = {}
    for name in TYPED_FIELDS:
        value = form.get(name)
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, str) and value.strip():
            typed[name] = value
    return typed


def render_error(request: Request[Any, Any, Any], status_code: int, *,
                       incident: str | None = None, headers: dict[str, str] | None = None,
                       reason: str = "") -> Response[Any]:
    title, explanation = MESSAGES.get(status_code, MESSAGES[500])
    params: dict[str, Any] = {}
    if reason in REFUSALS:
        title, explanation, params = _refusal(request, reason)
    context = {
        "status_code": status_code, "title": title, "explanation": explanation,
        "params": params, "typed": _typed_text(request), "incident": incident,
        "restricted": _restriction(request) if reason == permissions.REFUSED_RESTRICTED
        else None,
    }
    template = "errors/partial.html" if is_htmx(request) else "errors/index.html"
    headers = dict(headers or {})
    if is_htmx(request):
        headers.update({"HX-Retarget": "#alerts", "HX-Reswap": "innerHTML"})
    return Template(template_name=template, context=context, status_code=status_code,
                    headers=headers)


NO_SUCH_FILE_ERRNOS = frozenset({errno.ENAMETOOLONG, errno.ENOTDIR})
"""What the file system answers for a static path no file can have (a name past 255 bytes,
a file name used as a folder). Litestar's static files turn every OSError but "not found"
into a 500; these are a person's typing, so they are "no such page"."""


def no_such_file(exc: HTTPException) -> bool:
    cause = exc.__cause__
    return (exc.status_code == 500 and isinstance(cause, OSError)
            and cause.errno in NO_SUCH_FILE_ERRNOS)


def http_exception_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Any:
    if no_such_file(exc):
        return render_error(request, HTTP_404_NOT_FOUND)
    status = exc.status_code if exc.status_code in MESSAGES else HTTP_400_BAD_REQUEST
    if exc.status_code >= 500:
        status = exc.status_code if exc.status_code in MESSAGES else 500
    headers = dict(exc.headers or {})
    if status == HTTP_401_UNAUTHORIZED:
        headers.pop("WWW-Authenticate", None)
        if request.method == "GET" and not is_htmx(request):
            # A visitor who opened a composer: log in (or sign up), then come back to it.
            return Redirect(path=f"/login?{urlencode({'next': _here(request)})}",
                            status_code=303)
    reason = exc.detail if status == HTTP_403_FORBIDDEN and isinstance(exc.detail, str) else ""
    return render_error(request, status, headers=headers, reason=reason)


def _here(request: Request[Any, Any, Any]) -> str:
    query = request.scope.get("query_string", b"").decode("latin-1")
    return request.url.path + (f"?{query}" if query else "")


REFUSED_TEXT_SQLSTATES = ("22021", "22P05")
"""PostgreSQL's "invalid byte sequence" and "untranslatable character": text with a NUL byte
(which no PostgreSQL text can hold) in a field that no check read first. What a person sent,
so a 400; the transaction is not committed, so nothing is half-stored."""


def refused_text(exc: BaseException) -> bool:
    if not isinstance(exc, DBAPIError):
        return False
    return any(getattr(error, "sqlstate", None) in REFUSED_TEXT_SQLSTATES
               for error in (exc.orig, getattr(exc.orig, "__cause__", None)))


def unexpected_exception_handler(request: Request[Any, Any, Any], exc: Exception) -> Any:
    if refused_text(exc):
        log.warning("text refused by the database on %s %s", request.method,
                    request.scope.get("path_template") or "?")
        return render_error(request, HTTP_400_BAD_REQUEST)
    if is_unavailable(exc):
        log.warning("database unavailable: %s", type(exc).__name__)
        return render_error(
            request, HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    incident = secrets.token_hex(4)
    # The exception's message can quote SQL parameters, i.e. what someone wrote: log where
    # it happened, never its text.
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    where = " < ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}" for f in reversed(frames))
    log.error("unexpected error %s on %s %s: %s at %s", incident, request.method,
              request.scope.get("path_template") or "?", type(exc).__name__, where)
    return render_error(request, 500, incident=incident)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    HTTPException: http_exception_handler,
    NotFoundException: http_exception_handler,
    NotAuthorizedException: http_exception_handler,
    PermissionDeniedException: http_exception_handler,
    Exception: unexpected_exception_handler,
}
