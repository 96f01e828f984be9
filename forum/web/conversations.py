"""One-to-one conversation pages: asking to talk, one's conversations, the helpers' page
(availability and queue), and the steps of a conversation (accept, end, hand over, call the
moderators in). ``forum/conversations.py`` holds the rules; ``docs/CONVERSATIONS.md`` the
how-to.

A conversation's messages are an ordinary thread page (``/t/{id}``) that only its two people
can open; writing there is the thread's reply route, through the posting gate.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import (
    NotFoundException,
    PermissionDeniedException,
    TooManyRequestsException,
)
from litestar.params import FromPath, FromQuery
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from forum import actions, content_warnings, conversations, permissions, queries
from forum.db import commit
from forum.gate import ContentGate, Verdict
from forum.i18n import N_, gettext
from forum.models import (
    POST_LANGS,
    Conversation,
    ConversationKind,
    ConversationStatus,
    Member,
    Space,
    Visibility,
)
from forum.pseudonyms import uniqueness_key
from forum.throttle import QUARTER, Rule, Throttled, Tier, check_attempt
from forum.web.composer import PostForm, new_idempotency_key, parse_post_form
from forum.web.context import locale_of, viewer_of
from forum.web.deps import Db, Gate
from forum.web.forms import FieldError, FormErrors, read_choices, read_form
from forum.web.htmx import see_other
from forum.web.reading import thread_context
from forum.web.writing import CRISIS_EDIT, crisis_pause, needs_crisis_pause, read, review

FIRST_MESSAGE = N_("Bonjour, j'aimerais parler à quelqu'un.")
NO_THEME = N_("Choisis le thème dont tu veux parler.")
NO_LANG = N_("Choisis une langue de la liste.")
NOT_A_HELPER = N_("Cette page est celle des pair-aidant·es formé·es.")
ALREADY_TAKEN = N_("Une autre personne a déjà pris cette demande, ou elle a été retirée.")
NO_ROOM = N_("Tu n'as plus de place pour une nouvelle conversation (ou tu es en pause) : "
             "change tes disponibilités si tu le souhaites.")
NO_HAND_OVER = N_("Cette personne ne peut pas prendre la conversation maintenant : "
                  "choisis quelqu'un d'autre dans la liste.")
NO_THEMES_CHOSEN = N_("Choisis au moins un thème, ou mets-toi en pause.")
ASKS = Rule("ask-conversation", (Tier(6, QUARTER),))
"""Sends of a form asking for a conversation (a helper or a member) in a quarter of an hour:
enough for a few typos, too few to walk through the members or ring the helpers again and
again."""


async def _count_ask(request: Request[Any, Any, Any], member: Member) -> None:
    """Before the request's own transaction: the counters are written apart."""
    try:
        await check_attempt(request, (ASKS, str(member.id)))
    except Throttled as exc:
        raise TooManyRequestsException(headers={"Retry-After": str(exc.retry_after)}) from exc


def _spaces_for(viewer: Member, spaces: list[Space]) -> list[Space]:
    """The themes one may talk about: the spaces ``viewer`` reads, but the helpers' own."""
    return [space for space in spaces if permissions.can_read_space_content(viewer, space)
            and space.visibility != Visibility.HELPERS]


async def _themes(db: AsyncSession, viewer: Member) -> list[Space]:
    return _spaces_for(viewer, await queries.list_spaces(db))


def _asking_page(themes: list[Space], form: PostForm, errors: FormErrors, *, theme: str,
                 waiting: Conversation | None = None, status: int = 200) -> Template:
    return Template(template_name="conversations/new.html", status_code=status, context={
        "themes": themes, "form": form, "errors": errors, "theme": theme,
        "langs": POST_LANGS, "waiting": waiting, "warning_presets": content_warnings.PRESETS})


@get("/conversations", name="conversations")
async def conversation_list(request: Request[Any, Any, Any], db: Db) -> Template:
    member = permissions.check_logged_in(viewer_of(request))
    rows = await conversations.conversations_of(db, member.id)
    return Template(template_name="conversations/list.html",
                    context={"conversations": rows, "member": member})


@get("/conversations/new", name="new_conversation")
async def new_conversation(request: Request[Any, Any, Any], db: Db,
                           theme: FromQuery[str] = "") -> Template:
    member = permissions.check_logged_in(viewer_of(request))
    form = PostForm(body=_(request, FIRST_MESSAGE), lang=locale_of(request),
                    idempotency_key=new_idempotency_key())
    return _asking_page(await _themes(db, member), form, FormErrors(), theme=theme[:80],
                        waiting=await conversations.waiting_request_of(db, member.id))


def _(request: Request[Any, Any, Any], message: str) -> str:
    return gettext(locale_of(request), message)


@post("/conversations/new", name="ask_conversation")
async def ask_conversation(request: Request[Any, Any, Any], db: Db, gate: Gate
                           ) -> Response[Any]:
    values = await read_form(request)  # first, so that an error page shows the text back
    form, errors = parse_post_form(values, with_title=False)
    theme = (values.get("theme") or "")[:80]
    editing_again = bool(values.get(CRISIS_EDIT))
    reading = None if editing_again else await read(gate, form, request, errors)
    member = permissions.check_logged_in(viewer_of(request))
    if permissions.is_restricted(member):
        raise PermissionDeniedException(detail=permissions.REFUSED_RESTRICTED)
    if not editing_again:
        await _count_ask(request, member)
    themes = await _themes(db, member)
    space = next((s for s in themes if s.slug == theme), None)
    if space is None:
        errors["theme"] = FieldError(NO_THEME)
    lang = form.lang or locale_of(request)
    if lang not in POST_LANGS:
        errors["lang"] = FieldError(NO_LANG)
    if editing_again or space is None:
        return _asking_page(themes, form, FormErrors() if editing_again else errors,
                            theme=theme, status=200 if editing_again else 422)
    stored = await queries.find_post_by_key(db, member.id, form.idempotency_key) \
        if form.idempotency_key else None
    if stored is not None:  # the same form sent twice: the conversation it made
        return see_other(request, f"/t/{stored.thread_id}")
    waiting = await conversations.waiting_request_of(db, member.id)
    if waiting is not None:
        return _asking_page(themes, form, errors, theme=theme, waiting=waiting, status=409)
    verdict = await review(db, gate, form, author=member, space=space, errors=errors,
                           reading=reading, private=True)
    if verdict is None:
        return _asking_page(themes, form, errors, theme=theme, status=422)
    if needs_crisis_pause(verdict, values):
        return crisis_pause(request, verdict=verdict, form=form, space=space,
                            action="/conversations/new", autoflag=gate.autoflag,
                            extra={"theme": space.slug})
    conversation = await conversations.do_request(db, member=member, space=space, lang=lang)
    if conversation is None:  # another tab's request got there first
        return _asking_page(themes, form, errors, theme=theme, status=409,
                            waiting=await conversations.waiting_request_of(db, member.id))
    thread_id, created = await _first_message(request, db, gate, conversation, member=member,
                                              space=space, form=form, verdict=verdict,
                                              lang=lang)
    if created:
        await conversations.do_announce(db, conversation, space.name)
    await commit(db)
    return see_other(request, f"/t/{thread_id}")


async def _first_message(request: Request[Any, Any, Any], db: AsyncSession, gate: ContentGate,
                         conversation: Conversation, *, member: Member, space: Space,
                         form: PostForm, verdict: Verdict, lang: str) -> tuple[int, bool]:
    """The conversation's thread with the asker's first message, through the posting gate's
    last step: its id, and whether it was made here. Not made when a twin send of the same
    form won the race: this conversation is dropped, and the id is the twin's thread."""
    posted = await actions.do_create_thread(
        db, space=space, author=member, title=_(request, conversations.TITLE), source=form.body,
        verdict=verdict, content_warning=form.stored_warning(), lang=lang,
        idempotency_key=form.idempotency_key, conversation_id=conversation.id)
    if not posted.created:
        await db.delete(conversation)
        return posted.post.thread_id, False
    await gate.published(db, posted.post, author=member, space=space, verdict=verdict)
    return posted.post.thread_id, True


async def _conversation(db: AsyncSession, member: Member, conversation_id: int
                        ) -> Conversation:
    """The conversation, for one of its two people (404 for everyone else, as for its
    thread); a helper may also see a waiting request they could take."""
    conversation = await conversations.find(db, conversation_id)
    if conversation is None:
        raise NotFoundException()
    if member.id in (conversation.member_id, conversation.helper_id):
        return conversation
    if conversation.status == ConversationStatus.WAITING and member.trained_helper:
        if conversation in await conversations.queue_for(db, member):
            return conversation
    raise NotFoundException()


@get("/conversations/{conversation_id:int}", name="conversation")
async def conversation_page(request: Request[Any, Any, Any], db: Db,
                            conversation_id: FromPath[int], appel: FromQuery[str] = ""
                            ) -> Response[Any]:
    member = permissions.check_logged_in(viewer_of(request))
    if member.trained_helper and not permissions.is_restricted(member):
        # A helper told of a request: to their queue, whether it still waits or was taken.
        found = await db.get(Conversation, conversation_id)
        if found is not None and member.id not in (found.member_id, found.helper_id) \
                and found.kind == ConversationKind.HELPER:
            return see_other(request, "/helpers")
    conversation = await _conversation(db, member, conversation_id)
    thread = await conversations.thread_of(db, conversation.id)
    if thread is None:
        return see_other(request, "/conversations")
    called = "&appel=1" if appel == "1" else ""  # the helper's call was sent: say so there
    return see_other(request, f"/t/{thread.id}?page={queries.page_count(thread)}{called}"
                              "#conversation-banner-heading")


def _helper(request: Request[Any, Any, Any]) -> Member:
    member = permissions.check_logged_in(viewer_of(request))
    if not member.trained_helper or permissions.is_restricted(member):
        raise PermissionDeniedException(detail=NOT_A_HELPER)
    return member


async def _helpers_page(request: Request[Any, Any, Any], db: AsyncSession, helper: Member, *,
                        errors: FormErrors | None = None, wanted: Any = None,
                        status: int = 200) -> Template:
    available = wanted or await conversations.availability_of(db, helper.id)
    held = await conversations.held_by(db, helper.id)
    return Template(template_name="conversations/helpers.html", status_code=status, context={
        "available": available, "themes": await _themes(db, helper),
        "queue": await conversations.queue_for(db, helper), "held": held,
        "langs": POST_LANGS, "errors": errors or FormErrors(),
        "max_capacity": conversations.MAX_CAPACITY})


@get("/helpers", name="helpers")
async def helpers_page(request: Request[Any, Any, Any], db: Db) -> Template:
    return await _helpers_page(request, db, _helper(request))


@post("/helpers/disponibilites", name="helper_availability")
async def helper_availability(request: Request[Any, Any, Any], db: Db) -> Response[Any]:
    values = await read_form(request)
    sent_themes, sent_langs = (await read_choices(request, "themes"),
                               await read_choices(request, "langs"))
    helper = _helper(request)
    themes = {space.slug: space.id for space in await _themes(db, helper)}
    chosen = frozenset(themes[slug] for slug in sent_themes if slug in themes)
    langs = tuple(lang for lang in POST_LANGS if lang in sent_langs)
    raw = str(values.get("capacity", "")).strip()
    capacity = int(raw) if raw.isdigit() else conversations.DEFAULT_CAPACITY
    capacity = max(1, min(conversations.MAX_CAPACITY, capacity))
    paused = values.get("paused") == "1"
    wanted = conversations.Availability(chosen, langs or ("fr",), capacity, paused)
    errors = FormErrors()
    if not langs:
        errors["langs"] = FieldError(NO_LANG)
    if not chosen and not paused:
        errors["themes"] = FieldError(NO_THEMES_CHOSEN)
    if errors:
        return await _helpers_page(request, db, helper, errors=errors, wanted=wanted, status=422)
    await conversations.do_set_availability(db, helper, wanted)
    await commit(db)
    return see_other(request, "/helpers#disponibilites")


@post("/conversations/{conversation_id:int}/accepter", name="accept_conversation")
async def accept_conversation(request: Request[Any, Any, Any], db: Db,
                              conversation_id: FromPath[int]) -> Response[Any]:
    helper = _helper(request)
    conversation = await conversations.find(db, conversation_id)
    if conversation is None or conversation.member_id == helper.id:
        raise NotFoundException()
    if conversation.helper_id == helper.id:  # a second click
        return see_other(request, f"/conversations/{conversation.id}")
    if conversation not in await conversations.queue_for(db, helper):
        return await _helpers_page(request, db, helper, status=409,
                                   errors=FormErrors(queue=FieldError(ALREADY_TAKEN)))
    outcome = await conversations.do_accept(db, conversation, helper)
    if outcome != conversations.ACCEPTED_NOW:
        message = NO_ROOM if outcome == conversations.NO_ROOM else ALREADY_TAKEN
        return await _helpers_page(request, db, helper, status=409,
                                   errors=FormErrors(queue=FieldError(message)))
    await commit(db)
    return see_other(request, f"/conversations/{conversation.id}")


@post("/conversations/{conversation_id:int}/fin", name="end_conversation")
async def end_conversation(request: Request[Any, Any, Any], db: Db,
                           conversation_id: FromPath[int]) -> Response[Any]:
    member = permissions.check_logged_in(viewer_of(request))
    conversation = await _conversation(db, member, conversation_id)
    if member.id not in (conversation.member_id, conversation.helper_id):
        raise NotFoundException()
    await conversations.do_end_or_decline(db, conversation, member)
    await commit(db)
    return see_other(request, f"/conversations/{conversation.id}")


async def held_by(request: Request[Any, Any, Any], db: AsyncSession,
                   conversation_id: int) -> tuple[Member, Conversation]:
    helper = _helper(request)
    conversation = await _conversation(db, helper, conversation_id)
    if (conversation.helper_id != helper.id or conversation.status != ConversationStatus.OPEN
            or conversation.kind != ConversationKind.HELPER):
        raise NotFoundException()
    return helper, conversation


@post("/conversations/{conversation_id:int}/relais", name="hand_over_conversation")
async def hand_over_conversation(request: Request[Any, Any, Any], db: Db,
                                 conversation_id: FromPath[int]) -> Response[Any]:
    values = await read_form(request)
    helper, conversation = await held_by(request, db, conversation_id)
    to_name = (values.get("to") or "").strip()
    others = await conversations.matching_helpers(db, conversation)
    to = next((h for h in others if h.pseudonym == to_name and h.id != helper.id), None)
    if to is None or not await conversations.do_hand_over(
            db, conversation, helper, to, conversation.space.name):
        return await conversation_error(request, db, conversation, "to", NO_HAND_OVER)
    await commit(db)
    return see_other(request, "/helpers")


async def conversation_error(request: Request[Any, Any, Any], db: AsyncSession,
                              conversation: Conversation, field: str, message: str
                              ) -> Response[Any]:
    """The conversation's page again, with why the helper's step was not taken."""
    thread = await conversations.thread_of(db, conversation.id)
    if thread is None:
        raise NotFoundException()
    context = await thread_context(request, db, thread.id, queries.page_count(thread))
    context["conversation_errors"] = FormErrors(**{field: FieldError(message)})
    return Template(template_name="thread/index.html", status_code=422, context=context)


# -- between members ----------------------------------------------------------------------------

NOT_NOW = N_("Cette personne ne reçoit pas de demande de conversation de ta part pour "
             "l'instant. Ce n'est pas forcément contre toi : beaucoup de membres préfèrent "
             "les espaces.")
TOO_NEW = N_("Pour demander une conversation à un·e membre, ton compte doit avoir au moins "
             "7 jours et 5 messages publiés. En attendant, les pair-aidant·es sont là pour ça.")
NO_PSEUDONYM = N_("Écris le pseudonyme de la personne.")


async def _member_asking_page(request: Request[Any, Any, Any], db: AsyncSession, member: Member,
                              form: PostForm, errors: FormErrors, *, theme: str, to: str,
                              status: int = 200) -> Template:
    return Template(template_name="conversations/member.html", status_code=status, context={
        "themes": await _themes(db, member), "form": form, "errors": errors, "theme": theme,
        "to": to, "langs": POST_LANGS, "warning_presets": content_warnings.PRESETS,
        "too_new": await conversations.is_new_account(db, member)})


@get("/conversations/membre", name="ask_member_form")
async def ask_member_form(request: Request[Any, Any, Any], db: Db,
                          avec: FromQuery[str] = "") -> Template:
    member = permissions.check_logged_in(viewer_of(request))
    form = PostForm(lang=locale_of(request), idempotency_key=new_idempotency_key())
    return await _member_asking_page(request, db, member, form, FormErrors(), theme="",
                                     to=avec[:80])


@post("/conversations/membre", name="ask_member")
async def ask_member(request: Request[Any, Any, Any], db: Db, gate: Gate) -> Response[Any]:
    values = await read_form(request)  # first, so that an error page shows the text back
    form, errors = parse_post_form(values, with_title=False)
    theme, to = (values.get("theme") or "")[:80], (values.get("to") or "").strip()[:80]
    editing_again = bool(values.get(CRISIS_EDIT))
    reading = None if editing_again else await read(gate, form, request, errors)
    member = permissions.check_logged_in(viewer_of(request))
    if permissions.is_restricted(member):
        raise PermissionDeniedException(detail=permissions.REFUSED_RESTRICTED)
    page = {"theme": theme, "to": to}
    if editing_again:
        return await _member_asking_page(request, db, member, form, FormErrors(), **page)
    await _count_ask(request, member)
    if await conversations.is_new_account(db, member):
        errors["to"] = FieldError(TOO_NEW)
        return await _member_asking_page(request, db, member, form, errors, status=403, **page)
    stored = await queries.find_post_by_key(db, member.id, form.idempotency_key) \
        if form.idempotency_key else None
    if stored is not None:  # the same form sent twice: the conversation it made
        return see_other(request, f"/t/{stored.thread_id}")
    space = next((s for s in await _themes(db, member) if s.slug == theme), None)
    if space is None:
        errors["theme"] = FieldError(NO_THEME)
    if not to:
        errors["to"] = FieldError(NO_PSEUDONYM)
    if errors:
        return await _member_asking_page(request, db, member, form, errors, status=422, **page)
    asked = await queries.find_member_by_key(db, uniqueness_key(to))
    if not await conversations.may_ask(db, member, asked):
        errors["to"] = FieldError(NOT_NOW)
        return await _member_asking_page(request, db, member, form, errors, status=422, **page)
    if asked is None or space is None:  # refused above already; said again for the types
        raise NotFoundException()
    verdict = await review(db, gate, form, author=member, space=space, errors=errors,
                           reading=reading, private=True)
    if verdict is None:
        return await _member_asking_page(request, db, member, form, errors, status=422, **page)
    if needs_crisis_pause(verdict, values):
        return crisis_pause(request, verdict=verdict, form=form, space=space,
                            action="/conversations/membre", autoflag=gate.autoflag,
                            extra={"theme": space.slug, "to": to})
    lang = form.lang or locale_of(request)
    conversation = await conversations.do_ask_member(db, asker=member, asked=asked,
                                                     space=space, lang=lang)
    if conversation is None:  # asked already, at the same moment
        errors["to"] = FieldError(NOT_NOW)
        return await _member_asking_page(request, db, member, form, errors, status=422, **page)
    thread_id, created = await _first_message(request, db, gate, conversation, member=member,
                                              space=space, form=form, verdict=verdict,
                                              lang=lang)
    if created:
        await conversations.do_tell_asked(db, conversation, member, space.name, thread_id)
    await commit(db)
    return see_other(request, f"/t/{thread_id}")


@post("/conversations/{conversation_id:int}/reponse", name="answer_conversation")
async def answer_conversation(request: Request[Any, Any, Any], db: Db,
                              conversation_id: FromPath[int]) -> Response[Any]:
    values = await read_form(request)
    member = permissions.check_logged_in(viewer_of(request))
    conversation = await _conversation(db, member, conversation_id)
    if conversation.helper_id != member.id or conversation.kind != ConversationKind.MEMBER:
        raise NotFoundException()
    answer = values.get("accept")
    if answer not in ("0", "1"):  # neither button: nothing to do
        return see_other(request, f"/conversations/{conversation.id}")
    await conversations.do_answer(db, conversation, member, accept=answer == "1")
    await commit(db)
    return see_other(request, f"/conversations/{conversation.id}")


@post("/conversations/reglages", name="conversation_settings")
async def conversation_settings(request: Request[Any, Any, Any], db: Db) -> Response[Any]:
    values = await read_form(request)
    member = permissions.check_logged_in(viewer_of(request))
    await actions.do_set_accepts_conversations(db, member, values.get("accepts") == "1")
    await commit(db)
    return see_other(request, "/conversations#reglages")


ROUTES = [conversation_list, new_conversation, ask_conversation, conversation_page, helpers_page,
          helper_availability, accept_conversation, end_conversation, hand_over_conversation,
          ask_member_form, ask_member, answer_conversation, conversation_settings]
