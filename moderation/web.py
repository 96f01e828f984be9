"""Moderation's pages: flagging, the queue, moderator actions, the log, appeals, admin.

Handlers are thin: read the form first (so an error page shows the typed text back), check
access, call one ``do_*``, commit, answer with a redirect (303, or HX-Redirect for htmx) or a
page. ``moderation.permissions`` decides which actions a moderator may take: the same answer
draws the buttons and filters what a POST accepts.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, FromQuery
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from forum import content_warnings, conversations, queries
from forum import queries as forum_queries
from forum.db import commit, utcnow
from forum.gate import Verdict
from forum.i18n import N_
from forum.models import (
    GroupSession,
    GroupSessionStatus,
    Member,
    MemberStatus,
    Post,
    PostStatus,
    Role,
    Space,
)
from forum.permissions import can_facilitate
from forum.web import conversations as web_conversations
from forum.web.context import viewer_of
from forum.web.deps import Db
from forum.web.forms import FieldError, FormErrors, clean_text, read_form
from forum.web.htmx import VARY, is_htmx, see_other
from moderation import actions as ma
from moderation import patterns, replies, rules
from moderation import queries as mq
from moderation.audit import KIND_LABELS
from moderation.models import ActionKind, Appeal, FlagReason, ModerationAction, WatchedWord
from moderation.permissions import (
    MEMBER_ACTIONS,
    POST_ACTIONS,
    THREAD_ACTIONS,
    Moderator,
    check_action,
    check_admin,
    check_member,
    decides_restriction_appeal,
    member_actions,
    post_actions,
    sees_restriction_appeal,
    thread_actions,
)
from moderation.sanitize import RENDERER_VERSION, SanitizerError, render_markdown

Req = Request[Any, Any, Any]

REASON_MIN, REASON_MAX = 3, 500
NOTE_MAX = 1000
MESSAGE_MAX = 5000
SUSPENSION_DAYS = (1, 3, 7, 30)

FLAG_REASONS: dict[str, str] = {
    FlagReason.DANGER.value: N_("Quelqu'un est peut-être en danger"),
    FlagReason.HARASSMENT.value: N_("Harcèlement ou propos blessants"),
    FlagReason.PERSONAL_INFO.value: N_("Informations personnelles (nom, adresse, téléphone…)"),
    FlagReason.DANGEROUS_CONTENT.value: N_("Contenu dangereux (méthodes, doses…)"),
    FlagReason.SPAM.value: N_("Publicité ou spam"),
    FlagReason.MISINFORMATION.value: N_("Fausse information sur la santé"),
    FlagReason.OTHER.value: N_("Autre raison (précise-la)"),
}

FLAG_LABELS: dict[str, str] = {
    **FLAG_REASONS,
    FlagReason.SCREEN.value: N_("À regarder : la détection automatique hésite"),
}
"""What the queue calls each flag reason (the screen's own mark is never a member's choice)."""

NOTE_REQUIRED = N_("Dis-nous en quelques mots ce qui ne va pas : ça aide l'équipe de "
                   "modération à comprendre.")
REASON_CHOICE = N_("Choisis une raison dans la liste.")
ALREADY_FLAGGED = N_("Tu as déjà signalé ce message : l'équipe de modération va le regarder.")
RENDER_FAILED = N_("Ce texte n'a pas pu être mis en forme. Simplifie la mise en forme et "
                   "réessaie.")
NO_SUCH_SPACE = N_("Choisis un espace dans la liste.")
NO_SUCH_MEMBER = N_("Aucun membre ne porte ce pseudonyme.")
SLUG_FORMAT = N_("Des lettres minuscules, des chiffres et des tirets (par exemple "
                 "« anxiete »), 2 à 64 caractères.")
SLUG_TAKEN = N_("Un autre espace utilise déjà cette adresse.")
NUMBER_FORMAT = N_("Un nombre entre 0 et 100.")
APPEAL_DONE = N_("Tu as déjà contesté cette décision : une autre personne de l'équipe va "
                 "la relire.")

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")


def _reason(values: dict[str, str], errors: FormErrors, field: str = "reason") -> str:
    text, error = clean_text(values.get(field), min_length=REASON_MIN, max_length=REASON_MAX,
                             multiline=False)
    if error:
        errors[field] = error
    return text


async def _moderator(request: Req, db: AsyncSession) -> Moderator:
    return await mq.get_moderator(db, viewer_of(request))


# -- flags ---------------------------------------------------------------------------------

async def _flaggable_post(request: Req, db: AsyncSession, post_id: int) -> tuple[Member, Post]:
    viewer = viewer_of(request)
    post_obj = await queries.get_post_or_404(db, viewer, post_id)
    member = check_member(viewer)
    if post_obj.status != PostStatus.VISIBLE or post_obj.author_id == member.id:
        raise PermissionDeniedException()
    return member, post_obj


def _flag_page(request: Req, post_obj: Post, values: dict[str, str], errors: FormErrors,
               status: int = 200, done: bool = False) -> Template:
    name = "flag/partial.html" if is_htmx(request) else "flag/index.html"
    return Template(template_name=name, status_code=status, headers=VARY, context={
        "post": post_obj, "thread": post_obj.thread, "reasons": FLAG_REASONS,
        "values": values, "errors": errors, "done": done,
    })


@get("/p/{post_id:int}/flag", name="flag_form")
async def flag_form(request: Req, db: Db, post_id: FromPath[int]) -> Template:
    _, post_obj = await _flaggable_post(request, db, post_id)
    return _flag_page(request, post_obj, {}, FormErrors())


@post("/p/{post_id:int}/flag", name="flag_post")
async def flag_post(request: Req, db: Db, post_id: FromPath[int]) -> Template:
    values = await read_form(request)
    member, post_obj = await _flaggable_post(request, db, post_id)
    errors = FormErrors()
    reason = values.get("reason", "")
    if reason not in FLAG_REASONS:
        errors["reason"] = FieldError(REASON_CHOICE)
    note = (values.get("note") or "").strip()
    if note or reason == FlagReason.OTHER.value:
        note, error = clean_text(note, min_length=3, max_length=NOTE_MAX, multiline=True)
        if error:
            errors["note"] = FieldError(NOTE_REQUIRED) if not note else error
    if errors:
        return _flag_page(request, post_obj, values, errors, status=422)
    flag = await ma.do_flag_post(db, post_obj, flagger=member, reason=reason, note=note)
    if flag is None:
        errors["reason"] = FieldError(ALREADY_FLAGGED)
        return _flag_page(request, post_obj, values, errors, status=409)
    await commit(db)
    return _flag_page(request, post_obj, {}, FormErrors(), done=True)


# -- the queue and one item ----------------------------------------------------------------

@get("/mod", name="mod_queue")
async def mod_queue(request: Req, db: Db) -> Template:
    mod = await _moderator(request, db)
    items = await mq.queue(db, mod)
    hours = request.app.state.settings.unanswered_hours
    unanswered = await forum_queries.unanswered_threads(
        db, mod.member, older_than=utcnow() - timedelta(hours=hours),
        space_ids=None if mod.is_admin else sorted(mod.space_ids))
    return Template(template_name="mod/queue/index.html", context={
        "mod": mod, "items": items, "unanswered": unanswered,
        "member_appeals": await mq.open_restriction_appeals(db, mod),
        "on_duty": await mq.on_duty(db, mod),
        "me_on_duty": await mq.is_on_duty(db, mod.member),
    })


@get("/mod/welfare-count", name="mod_welfare_count")
async def mod_welfare_count(request: Req, db: Db) -> Response[Any]:
    """The header's "Modération" link with its count (htmx polls it); a page load goes to the
    queue."""
    mod = await _moderator(request, db)
    if not is_htmx(request):
        return see_other(request, "/mod")
    return Template(template_name="mod/_header_link.html",
                    context={"count": await mq.open_welfare_count(db, mod)}, headers=VARY)


async def _mod_post(db: AsyncSession, mod: Moderator, post_id: int) -> Post:
    post_obj = await mq.get_post(db, post_id)
    if post_obj is None or not mod.moderates(post_obj.thread.space_id):
        raise NotFoundException()
    if post_obj.thread.conversation_id is not None and not await mq.brought_to_moderators(
            db, post_obj):
        raise NotFoundException()  # a conversation is its two people's until a report
    return post_obj


async def _item_page(db: AsyncSession, mod: Moderator, post_obj: Post, *,
                     values: dict[str, str] | None = None, errors: FormErrors | None = None,
                     action: str = "", status: int = 200, template: str = "",
                     sent: bool = False) -> Template:
    item = await mq.queue_item(db, post_obj, mod)
    choice, free = content_warnings.form_values(post_obj.content_warning)
    author = post_obj.author
    templates = replies.for_locale(replies.merged(await mq.reply_template_rows(db)),
                                   author.locale if author else None)
    chosen = next((t for t in templates if t.key == template), None)
    message = {"template": chosen.key, "message": replies.fill(chosen, author)} if chosen else {}
    return Template(template_name="mod/item/index.html", status_code=status, context={
        "mod": mod, "item": item, "post": post_obj, "thread": post_obj.thread,
        "space": post_obj.thread.space, "allowed": post_actions(mod, post_obj),
        "thread_allowed": thread_actions(mod, post_obj.thread),
        "values": values or {"body": post_obj.source, "content_warning": choice,
                             "content_warning_label": free, **message},
        "reply_templates": templates, "sent": sent,
        "errors": errors or FormErrors(), "failed_action": action,
        "warning_presets": content_warnings.PRESETS, "kind_labels": KIND_LABELS,
        "spaces": await mq.all_spaces(db),
        "rules": _rules(post_obj.thread.space),
        "revisions": await forum_queries.post_revisions(db, post_obj.id),
        "flagged_texts": {flag.text_copy for flag in item.flags if flag.text_copy},
    })


def _rules(space: Space) -> list[str]:
    return [line.strip() for line in space.charter.splitlines() if line.strip()]


@get("/mod/posts/{post_id:int}", name="mod_item")
async def mod_item(request: Req, db: Db, post_id: FromPath[int],
                   template: FromQuery[str] = "", sent: FromQuery[str] = "") -> Template:
    mod = await _moderator(request, db)
    post_obj = await _mod_post(db, mod, post_id)
    if post_obj.thread.conversation_id is not None and await ma.do_note_conversation_read(
            db, post_obj, reader=mod.member):
        await commit(db)
    return await _item_page(db, mod, post_obj, template=template[:40], sent=sent == "1")


def _edit_verdict(body: str, errors: FormErrors) -> Verdict | None:
    try:
        return Verdict(html=render_markdown(body), renderer_version=RENDERER_VERSION)
    except SanitizerError:
        errors["body"] = FieldError(RENDER_FAILED)
        return None


POST_DO = {
    "approve": ma.do_approve_post, "hide": ma.do_hide_post, "restore": ma.do_restore_post,
    "remove": ma.do_remove_post,
}


@post("/mod/posts/{post_id:int}/{action:str}", name="mod_post_action")
async def mod_post_action(request: Req, db: Db, post_id: FromPath[int],
                          action: FromPath[str]) -> Response[Any]:
    values = await read_form(request)
    mod = await _moderator(request, db)
    post_obj = await _mod_post(db, mod, post_id)
    if action in ("claim", "release"):
        return await _claim(request, db, mod, post_obj, action)
    if action == "second-opinion":
        return await _second_opinion(request, db, mod, post_obj, values)
    if action == "second-opinion-given":
        return await _second_opinion_given(request, db, mod, post_obj, values)
    if action == "message":
        return await _message_author(request, db, mod, post_obj, values)
    if action not in POST_ACTIONS:
        raise NotFoundException()
    check_action(post_actions(mod, post_obj), action, visible=True)
    errors = FormErrors()
    reason = _reason(values, errors)
    if action == "edit":
        return await _edit(request, db, mod, post_obj, values, errors, reason)
    if errors:
        return await _item_page(db, mod, post_obj, errors=errors, action=action, status=422)
    if action in ma.CLOSING_DO:
        await ma.do_close_item(db, post_obj, action, actor=mod.member, reason=reason)
    else:
        await POST_DO[action](db, post_obj, actor=mod.member, reason=reason)
    await commit(db)
    return see_other(request, f"/mod/posts/{post_obj.id}")


async def _edit(request: Req, db: AsyncSession, mod: Moderator, post_obj: Post,
                values: dict[str, str], errors: FormErrors, reason: str) -> Response[Any]:
    body, body_error = clean_text(values.get("body"), min_length=1, max_length=20_000,
                                  multiline=True)
    if body_error:
        errors["body"] = body_error
    choice = values.get("content_warning", "")
    if choice not in (*content_warnings.PRESETS, content_warnings.OTHER, ""):
        choice = ""
    warning = content_warnings.stored_value(choice, values.get("content_warning_label", ""))
    verdict = None if errors else _edit_verdict(body, errors)
    if verdict is None:
        return await _item_page(db, mod, post_obj, values=values, errors=errors,
                                action="edit", status=422)
    await ma.do_moderator_edit_post(db, post_obj, actor=mod.member, reason=reason,
                                    source=body, verdict=verdict, content_warning=warning)
    await commit(db)
    return see_other(request, f"/mod/posts/{post_obj.id}")


def _check_not_author(mod: Moderator, post_obj: Post) -> None:
    if post_obj.author_id == mod.member.id:
        raise PermissionDeniedException()


async def _second_opinion(request: Req, db: AsyncSession, mod: Moderator, post_obj: Post,
                          values: dict[str, str]) -> Response[Any]:
    """"Demander un second avis": the note goes to the space's other moderators and admins."""
    _check_not_author(mod, post_obj)
    errors = FormErrors()
    note, error = clean_text(values.get("note"), min_length=3, max_length=NOTE_MAX,
                             multiline=True)
    if error:
        errors["note"] = error
        return await _item_page(db, mod, post_obj, values=values, errors=errors,
                                action="second-opinion", status=422)
    await ma.do_request_second_opinion(db, post_obj, actor=mod.member, note=note)
    await commit(db)
    return see_other(request, f"/mod/posts/{post_obj.id}")


async def _second_opinion_given(request: Req, db: AsyncSession, mod: Moderator,
                                post_obj: Post, values: dict[str, str]) -> Response[Any]:
    """Answer an open request (not one's own): the answer is the reason, in the log."""
    _check_not_author(mod, post_obj)
    errors = FormErrors()
    reason = _reason(values, errors)
    if errors:
        return await _item_page(db, mod, post_obj, values=values, errors=errors,
                                action="second-opinion-given", status=422)
    if not await ma.do_give_second_opinion(db, post_obj, actor=mod.member, reason=reason):
        raise PermissionDeniedException()
    await commit(db)
    return see_other(request, f"/mod/posts/{post_obj.id}")


async def _message_author(request: Req, db: AsyncSession, mod: Moderator, post_obj: Post,
                          values: dict[str, str]) -> Response[Any]:
    """A private message to the author, signed by the team, often from a reply template."""
    _check_not_author(mod, post_obj)
    if post_obj.author_id is None:
        raise NotFoundException()
    errors = FormErrors()
    text, error = clean_text(values.get("message"), min_length=3, max_length=MESSAGE_MAX,
                             multiline=True)
    if error:
        errors["message"] = error
        return await _item_page(db, mod, post_obj, values=values, errors=errors,
                                action="message", status=422)
    await ma.do_message_author(db, post_obj, actor=mod.member, text=text,
                               template_key=(values.get("template") or "")[:40])
    await commit(db)
    return see_other(request, f"/mod/posts/{post_obj.id}?sent=1")


async def _claim(request: Req, db: AsyncSession, mod: Moderator, post_obj: Post,
                 action: str) -> Response[Any]:
    if action == "claim":
        await ma.do_claim(db, post_obj, actor=mod.member)
    else:
        await ma.do_release_claim(db, post_obj, actor=mod.member)
    await commit(db)
    return see_other(request, f"/mod/posts/{post_obj.id}")


@post("/mod/flags/{flag_id:int}/dismiss", name="mod_dismiss_flags")
async def mod_dismiss_flags(request: Req, db: Db, flag_id: FromPath[int]) -> Response[Any]:
    values = await read_form(request)
    mod = await _moderator(request, db)
    flag = await mq.get_flag(db, flag_id)
    if flag is None or not mod.moderates(flag.post.thread.space_id):
        raise NotFoundException()
    if flag.post.author_id == mod.member.id or flag.resolved_at is not None:
        raise PermissionDeniedException()
    errors = FormErrors()
    reason = _reason(values, errors)
    if errors:
        return await _item_page(db, mod, flag.post, errors=errors, action="dismiss",
                                status=422)
    await ma.do_close_item(db, flag.post, "dismiss", actor=mod.member, reason=reason)
    await commit(db)
    return see_other(request, f"/mod/posts/{flag.post_id}")


# -- threads -------------------------------------------------------------------------------

THREAD_DO = {
    "lock": ma.do_lock_thread, "unlock": ma.do_unlock_thread, "pin": ma.do_pin_thread,
    "unpin": ma.do_unpin_thread,
}


# -- a group session's facilitator (issue 18; ``forum/groups.py``) ----------------------------

@post("/sessions/{group_id:int}/messages/{post_id:int}/retirer", name="group_remove_message")
async def group_remove_message(request: Req, db: Db, group_id: FromPath[int],
                               post_id: FromPath[int]) -> Response[Any]:
    """The facilitator removes a message of their live session: a moderation action like any
    other (in the log, its author told why), open to the space's moderators too."""
    values = await read_form(request)
    member = check_member(viewer_of(request))
    post_obj = await forum_queries.get_post_or_404(db, member, post_id)
    thread = post_obj.thread
    if thread.group_session_id != group_id:
        raise NotFoundException()
    group = await db.get(GroupSession, group_id)
    staff = await forum_queries.space_moderator_ids(db, thread.space_id)
    moderates = member.id in staff
    if (group is None or group.status != GroupSessionStatus.LIVE or thread.locked
            or post_obj.number == 1 or post_obj.author_id == member.id
            or not can_facilitate(member, group.facilitator_id, moderates=moderates)):
        raise PermissionDeniedException()
    author = post_obj.author
    if not (moderates or member.role == Role.ADMIN) and (
            post_obj.author_id in staff or (author is not None and author.role == Role.ADMIN)):
        raise PermissionDeniedException()  # a facilitator does not moderate the moderators
    reason, _ = clean_text(values.get("reason"), min_length=1, max_length=REASON_MAX,
                           multiline=False)
    # Out of the group's sight; its flags (a welfare item, the screen's mark) stay the
    # moderators' to settle, unless a moderator removes it.
    await ma.do_remove_post(db, post_obj, actor=member, reason=reason or ma.SESSION_REMOVAL,
                            settle_flags=moderates or member.role == Role.ADMIN)
    await commit(db)
    page = forum_queries.page_of(post_obj.number)
    return see_other(request, f"/t/{thread.id}?page={page}#post-{post_obj.id}")


@post("/mod/threads/{thread_id:int}/{action:str}", name="mod_thread_action")
async def mod_thread_action(request: Req, db: Db, thread_id: FromPath[int],
                            action: FromPath[str]) -> Response[Any]:
    values = await read_form(request)
    mod = await _moderator(request, db)
    thread = await mq.get_thread(db, thread_id)
    if thread is None or action not in THREAD_ACTIONS:
        raise NotFoundException()
    check_action(thread_actions(mod, thread), action, visible=mod.moderates(thread.space_id))
    errors = FormErrors()
    reason = _reason(values, errors)
    target = None
    if action == "move":
        target = next((s for s in await mq.all_spaces(db)
                       if str(s.id) == values.get("space") and not s.archived), None)
        if target is None or not mod.moderates(target.id):
            errors["space"] = FieldError(NO_SUCH_SPACE)
    if errors:
        return Template(template_name="mod/thread/index.html", status_code=422, context={
            "thread": thread, "errors": errors, "values": values, "action": action,
        })
    if action == "move" and target is not None:
        await ma.do_move_thread(db, thread, actor=mod.member, reason=reason, to=target)
    else:
        await THREAD_DO[action](db, thread, actor=mod.member, reason=reason)
    await commit(db)
    return see_other(request, f"/t/{thread.id}")


# -- members -------------------------------------------------------------------------------

async def _mod_member(db: AsyncSession, mod: Moderator, member_id: int
                      ) -> tuple[Member, frozenset[str]]:
    """The member if ``mod`` may see them (they wrote in one of ``mod``'s spaces, or appealed
    a restriction ``mod`` may decide), and the actions ``mod`` may take on them."""
    member = await mq.get_member(db, member_id)
    if member is None:
        raise NotFoundException()
    in_scope = await mq.member_in_scope(db, mod, member)
    if not in_scope and not await mq.member_restriction_appeals(db, mod, member.id):
        raise NotFoundException()
    return member, member_actions(mod, member, in_scope=in_scope)


def _decides(mod: Moderator, appeal: Appeal, *, in_scope: bool) -> bool:
    """``in_scope``: the appealing member has written in one of ``mod``'s spaces."""
    return decides_restriction_appeal(mod, space_id=appeal.action.space_id,
                                      kind=appeal.action.kind,
                                      actor_id=appeal.action.actor_id,
                                      member_id=appeal.action.target_member_id,
                                      in_scope=in_scope)


async def _member_page(db: AsyncSession, mod: Moderator, member: Member,
                       allowed: frozenset[str], *, values: dict[str, str] | None = None,
                       errors: FormErrors | None = None, status: int = 200) -> Template:
    history = await mq.moderation_log(db, mod, mq.LogFilter(member=member.pseudonym))
    appeals = await mq.member_restriction_appeals(db, mod, member.id)
    in_scope = await mq.member_in_scope(db, mod, member)
    pending = [a for a in appeals if a.decided_at is None]
    in_force = {a.id for a in pending if await mq.appeal_in_force(db, a, member)}
    return Template(template_name="mod/member/index.html", status_code=status, context={
        "member": member, "allowed": allowed, "history": history, "kind_labels": KIND_LABELS,
        "values": values or {}, "errors": errors or FormErrors(), "days": SUSPENSION_DAYS,
        "appeals": appeals, "decisions": {a.id: await mq.appeal_decision(db, a)
                                          for a in appeals if a.decided_at is not None},
        "in_force": in_force,
        "nobody_else": {a.id for a in pending
                        if a.id in in_force and await mq.nobody_else_decides(db, a.action)},
        "decides": lambda appeal: _decides(mod, appeal, in_scope=in_scope), "mod": mod,
    })


@get("/mod/members/{member_id:int}", name="mod_member")
async def mod_member(request: Req, db: Db, member_id: FromPath[int]) -> Template:
    mod = await _moderator(request, db)
    member, allowed = await _mod_member(db, mod, member_id)
    return await _member_page(db, mod, member, allowed)


@post("/mod/members/{member_id:int}/{action:str}", name="mod_member_action")
async def mod_member_action(request: Req, db: Db, member_id: FromPath[int],
                            action: FromPath[str]) -> Response[Any]:
    values = await read_form(request)
    mod = await _moderator(request, db)
    if action not in MEMBER_ACTIONS:
        raise NotFoundException()
    member, allowed = await _mod_member(db, mod, member_id)
    check_action(allowed, action, visible=True)
    errors = FormErrors()
    reason = _reason(values, errors)
    days = int(values["days"]) if values.get("days", "").isdigit() else 0
    if action == "suspend" and days not in SUSPENSION_DAYS:
        errors["days"] = FieldError(REASON_CHOICE)
    if errors:
        return await _member_page(db, mod, member, allowed, values=values, errors=errors,
                                  status=422)
    if action == "warn":
        await ma.do_warn_member(db, member, actor=mod.member, reason=reason)
    elif action == "suspend":
        await ma.do_suspend_member(db, member, actor=mod.member, reason=reason, days=days)
    elif action == "ban":
        await ma.do_ban_member(db, member, actor=mod.member, reason=reason)
    else:
        await ma.do_lift_restriction(db, member, actor=mod.member, reason=reason)
    await commit(db)
    return see_other(request, f"/mod/members/{member.id}")


# -- the log and the public counts ---------------------------------------------------------

def _int_or_none(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() else None


@get("/mod/log", name="mod_log")
async def mod_log(request: Req, db: Db, space: FromQuery[str | None] = None,
                  kind: FromQuery[str | None] = None,
                  member: FromQuery[str | None] = None) -> Template:
    mod = await _moderator(request, db)
    filters = mq.LogFilter(space_id=_int_or_none(space), kind=_int_or_none(kind),
                           member=(member or "").strip()[:32])
    return Template(template_name="mod/log/index.html", context={
        "entries": await mq.moderation_log(db, mod, filters), "filters": filters,
        "kind_labels": KIND_LABELS, "spaces": await mq.spaces_by_id(db), "mod": mod,
    })


@get("/moderation", name="moderation_public")
async def moderation_public(db: Db) -> Template:
    return Template(template_name="mod/public/index.html", context={
        "rows": await mq.public_counts(db), "kind_labels": KIND_LABELS,
        "spaces": await mq.spaces_by_id(db),
    })


# -- appeals -------------------------------------------------------------------------------

async def _appealable(request: Req, db: AsyncSession, post_id: int):  # noqa: ANN202
    viewer = viewer_of(request)
    post_obj = await queries.get_post_or_404(db, viewer, post_id)
    member = check_member(viewer)
    if post_obj.author_id != member.id:
        raise NotFoundException()
    action = await mq.action_for_appeal(db, post_obj.id)
    if action is None or post_obj.status not in (PostStatus.HIDDEN, PostStatus.REMOVED):
        raise NotFoundException()
    return member, post_obj, action


def _appeal_page(post_obj: Post, action: Any, appeal: Any, values: dict[str, str],
                 errors: FormErrors, status: int = 200) -> Template:
    return Template(template_name="mod/appeal/index.html", status_code=status, context={
        "post": post_obj, "thread": post_obj.thread, "action": action, "appeal": appeal,
        "values": values, "errors": errors,
    })


@get("/p/{post_id:int}/appeal", name="appeal_form")
async def appeal_form(request: Req, db: Db, post_id: FromPath[int]) -> Template:
    _, post_obj, action = await _appealable(request, db, post_id)
    appeal = await mq.appeal_for(db, action.id)
    return _appeal_page(post_obj, action, appeal, {}, FormErrors())


@post("/p/{post_id:int}/appeal", name="appeal_post")
async def appeal_post(request: Req, db: Db, post_id: FromPath[int]) -> Response[Any]:
    values = await read_form(request)
    member, post_obj, action = await _appealable(request, db, post_id)
    errors = FormErrors()
    message, error = clean_text(values.get("message"), min_length=3, max_length=NOTE_MAX,
                                multiline=True)
    if error:
        errors["message"] = error
    appeal = None if errors else await ma.do_appeal(db, action, member=member,
                                                    message=message)
    if appeal is None:
        if not errors:
            errors["message"] = FieldError(APPEAL_DONE)
        return _appeal_page(post_obj, action, await mq.appeal_for(db, action.id), values,
                            errors, status=422)
    await commit(db)
    return see_other(request, f"/p/{post_obj.id}/appeal")


@post("/mod/appeals/{appeal_id:int}/{decision:str}", name="mod_appeal_decision")
async def mod_appeal_decision(request: Req, db: Db, appeal_id: FromPath[int],
                              decision: FromPath[str]) -> Response[Any]:
    values = await read_form(request)
    mod = await _moderator(request, db)
    appeal = await mq.get_appeal(db, appeal_id)
    if appeal is None or decision not in ("grant", "deny"):
        raise NotFoundException()
    if appeal.action.kind in mq.RESTRICTION_KINDS:
        return await _decide_restriction_appeal(request, db, mod, appeal, values,
                                                grant=decision == "grant")
    if appeal.action.target_post_id is None:
        raise NotFoundException()
    post_obj = await _mod_post(db, mod, appeal.action.target_post_id)
    if (appeal.action.actor_id == mod.member.id or appeal.decided_at is not None
            or post_obj.author_id == mod.member.id):
        raise PermissionDeniedException()
    errors = FormErrors()
    reason = _reason(values, errors)
    if errors:
        return await _item_page(db, mod, post_obj, errors=errors, action="appeal", status=422)
    await ma.do_decide_appeal(db, appeal, post_obj, actor=mod.member, reason=reason,
                              grant=decision == "grant")
    await commit(db)
    return see_other(request, f"/mod/posts/{post_obj.id}")


async def _decide_restriction_appeal(request: Req, db: AsyncSession, mod: Moderator,
                                     appeal: Appeal, values: dict[str, str], *,
                                     grant: bool) -> Response[Any]:
    """An appeal of a suspension or a ban, decided from the member's page by someone who could
    lift it directly (``moderation.permissions.decides_restriction_appeal``), never by who
    took it nor by the member."""
    action = appeal.action
    member = (await mq.get_member(db, action.target_member_id)
              if action.target_member_id is not None else None)
    if member is None:
        raise NotFoundException()
    in_scope = await mq.member_in_scope(db, mod, member)
    if not sees_restriction_appeal(mod, action.space_id, in_scope=in_scope):
        raise NotFoundException()
    if (appeal.decided_at is not None or not _decides(mod, appeal, in_scope=in_scope)
            or not await mq.appeal_in_force(db, appeal, member)):
        raise PermissionDeniedException()  # decided, not theirs, or nothing left to decide
    errors = FormErrors()
    reason = _reason(values, errors)
    if errors:
        allowed = member_actions(mod, member, in_scope=in_scope)
        return await _member_page(db, mod, member, allowed, values=values, errors=errors,
                                  status=422)
    await ma.do_decide_restriction_appeal(db, appeal, member, actor=mod.member, reason=reason,
                                          grant=grant)
    await commit(db)
    return see_other(request, f"/mod/members/{member.id}#appeal-{appeal.id}")


# -- a member's appeal of their own suspension or ban ----------------------------------------

APPEAL_MAX = NOTE_MAX


def _own_appeal_page(member: Member, action: ModerationAction | None, appeal: Appeal | None,
                     decision: ModerationAction | None, values: dict[str, str],
                     errors: FormErrors, *, status: int = 200, duplicate: bool = False,
                     nobody_else: bool = False,
                     ended: tuple[ModerationAction, Appeal | None] | None = None) -> Template:
    """``action`` None: nothing to appeal (404, said kindly); with ``ended``, a suspension
    that ran out by itself, and its appeal if any, closed without a decision (200)."""
    if action is None:
        status = status if ended is not None else 404
    return Template(template_name="me/appeal/index.html", status_code=status, context={
        "member": member, "action": action, "appeal": appeal, "decision": decision,
        "values": values, "errors": errors, "duplicate": duplicate, "max_length": APPEAL_MAX,
        "nobody_else": nobody_else, "ended": ended,
    })


async def _own_restriction(request: Req, db: AsyncSession
                           ) -> tuple[Member, ModerationAction | None, Appeal | None]:
    member = check_member(viewer_of(request))
    action = await mq.restriction_for_appeal(db, member)
    appeal = await mq.appeal_for(db, action.id) if action is not None else None
    return member, action, appeal


@get("/me/appeal", name="restriction_appeal_form")
async def restriction_appeal_form(request: Req, db: Db) -> Template:
    """A suspended or banned member: why, until when, and once per decision a text for
    another person of the team to read (or, for a ban its only admin took, that nobody else
    can read it for now). Once a suspension has run out: that nothing is left to appeal."""
    member, action, appeal = await _own_restriction(request, db)
    if action is None:
        return _own_appeal_page(member, None, None, None, {}, FormErrors(),
                                ended=await mq.ended_suspension(db, member))
    decision = await mq.appeal_decision(db, appeal) if appeal is not None else None
    return _own_appeal_page(member, action, appeal, decision, {}, FormErrors(),
                            nobody_else=await mq.nobody_else_decides(db, action))


@post("/me/appeal", name="restriction_appeal_post")
async def restriction_appeal_post(request: Req, db: Db) -> Response[Any]:
    values = await read_form(request)
    member, action, appeal = await _own_restriction(request, db)
    if action is None:  # nothing holds them (any more): nothing is sent, the text is kept
        ended = await mq.ended_suspension(db, member)
        return _own_appeal_page(member, None, None, None, values, FormErrors(),
                                status=409 if ended is not None else 404, ended=ended)
    errors = FormErrors()
    message, error = clean_text(values.get("message"), min_length=3, max_length=APPEAL_MAX,
                                multiline=True)
    if error:
        errors["message"] = error
    if appeal is None and not errors:
        appeal = await ma.do_appeal(db, action, member=member, message=message)
        if appeal is not None:
            await commit(db)
            return see_other(request, "/me/appeal")
        appeal = await mq.appeal_for(db, action.id)  # sent from another tab a moment ago
    if appeal is not None:  # once per decision: say when it was sent; keep the new text
        decision = await mq.appeal_decision(db, appeal)
        return _own_appeal_page(member, action, appeal, decision, values, FormErrors(),
                                status=409, duplicate=True,
                                nobody_else=await mq.nobody_else_decides(db, action))
    return _own_appeal_page(member, action, None, None, values, errors, status=422,
                            nobody_else=await mq.nobody_else_decides(db, action))


@post("/mod/duty", name="mod_duty")
async def mod_duty(request: Req, db: Db) -> Response[Any]:
    values = await read_form(request)
    mod = await _moderator(request, db)
    await ma.do_set_on_duty(db, mod.member, values.get("on_duty") == "1")
    await commit(db)
    return see_other(request, "/mod")


# -- admin: spaces and their moderators ----------------------------------------------------

def _space_values(values: dict[str, str], errors: FormErrors) -> dict[str, object]:
    name, error = clean_text(values.get("name"), min_length=2, max_length=80, multiline=False)
    if error:
        errors["name"] = error
    slug = (values.get("slug") or "").strip()
    if not _SLUG.match(slug):
        errors["slug"] = FieldError(SLUG_FORMAT)
    parsed: dict[str, object] = {
        "name": name, "slug": slug,
        "description": (values.get("description") or "").strip()[:2000],
        "charter": (values.get("charter") or "").replace("\r\n", "\n").strip()[:5000],
        "visibility": ma.default_visibility(values.get("visibility") or ""),
        "archived": values.get("archived") == "1",
    }
    for field in ("position", "premoderated_posts", "auto_hide_flags", "new_member_hourly_limit"):
        raw = (values.get(field) or "0").strip()
        if not raw.isdigit() or int(raw) > 100:
            errors[field] = FieldError(NUMBER_FORMAT)
        else:
            parsed[field] = int(raw)
    return parsed


def _admin_page(spaces: list[Space], moderators: dict[int, list[Any]],
                values: dict[str, str], errors: FormErrors, status: int = 200) -> Template:
    return Template(template_name="admin/spaces/index.html", status_code=status, context={
        "spaces": spaces, "moderators": moderators, "values": values, "errors": errors,
    })


@get("/admin", name="admin_spaces")
async def admin_spaces(request: Req, db: Db) -> Template:
    check_admin(viewer_of(request))
    return _admin_page(await mq.all_spaces(db), await mq.moderators_by_space(db),
                       {"premoderated_posts": "0", "auto_hide_flags": "3", "position": "0",
                        "new_member_hourly_limit": "0"},
                       FormErrors())


async def _slug_taken(db: AsyncSession, slug: str, space_id: int | None) -> bool:
    return any(s.slug == slug and s.id != space_id for s in await mq.all_spaces(db))


@post("/admin/spaces", name="admin_create_space")
async def admin_create_space(request: Req, db: Db) -> Response[Any]:
    values = await read_form(request)
    admin = check_admin(viewer_of(request))
    errors = FormErrors()
    parsed = _space_values(values, errors)
    if not errors and await _slug_taken(db, str(parsed["slug"]), None):
        errors["slug"] = FieldError(SLUG_TAKEN)
    if errors:
        return _admin_page(await mq.all_spaces(db), await mq.moderators_by_space(db), values,
                           errors, status=422)
    space = await ma.do_create_space(db, actor=admin, reason="admin", values=parsed)
    await commit(db)
    return see_other(request, f"/admin/spaces/{space.id}")


def _space_page(space: Space, moderators: list[Any], values: dict[str, str],
                errors: FormErrors, status: int = 200) -> Template:
    return Template(template_name="admin/space/index.html", status_code=status, context={
        "space": space, "moderators": moderators, "values": values, "errors": errors,
    })


def _form_of(space: Space) -> dict[str, str]:
    return {"name": space.name, "slug": space.slug, "description": space.description,
            "charter": space.charter, "visibility": space.visibility.value,
            "archived": "1" if space.archived else "", "position": str(space.position),
            "premoderated_posts": str(space.premoderated_posts),
            "auto_hide_flags": str(space.auto_hide_flags),
            "new_member_hourly_limit": str(space.new_member_hourly_limit)}


@get("/admin/spaces/{space_id:int}", name="admin_space")
async def admin_space(request: Req, db: Db, space_id: FromPath[int]) -> Template:
    check_admin(viewer_of(request))
    space = await mq.get_space(db, space_id)
    moderators = (await mq.moderators_by_space(db)).get(space.id, [])
    return _space_page(space, moderators, _form_of(space), FormErrors())


@post("/admin/spaces/{space_id:int}", name="admin_update_space")
async def admin_update_space(request: Req, db: Db, space_id: FromPath[int]) -> Response[Any]:
    values = await read_form(request)
    admin = check_admin(viewer_of(request))
    space = await mq.get_space(db, space_id)
    errors = FormErrors()
    parsed = _space_values(values, errors)
    if not errors and await _slug_taken(db, str(parsed["slug"]), space.id):
        errors["slug"] = FieldError(SLUG_TAKEN)
    if errors:
        moderators = (await mq.moderators_by_space(db)).get(space.id, [])
        return _space_page(space, moderators, values, errors, status=422)
    await ma.do_update_space(db, space, actor=admin, reason="admin", values=parsed)
    await commit(db)
    return see_other(request, f"/admin/spaces/{space.id}")


@post("/admin/spaces/{space_id:int}/moderators", name="admin_add_moderator")
async def admin_add_moderator(request: Req, db: Db, space_id: FromPath[int]) -> Response[Any]:
    values = await read_form(request)
    admin = check_admin(viewer_of(request))
    space = await mq.get_space(db, space_id)
    member = await mq.find_member(db, values.get("pseudonym", ""))
    if member is None:
        moderators = (await mq.moderators_by_space(db)).get(space.id, [])
        errors = FormErrors(pseudonym=FieldError(NO_SUCH_MEMBER))
        return _space_page(space, moderators, {**_form_of(space), **values}, errors,
                           status=422)
    await ma.do_add_moderator(db, space, member, actor=admin, reason="admin")
    await commit(db)
    return see_other(request, f"/admin/spaces/{space.id}")


@post("/admin/spaces/{space_id:int}/moderators/{member_id:int}/remove",
      name="admin_remove_moderator")
async def admin_remove_moderator(request: Req, db: Db, space_id: FromPath[int],
                                 member_id: FromPath[int]) -> Response[Any]:
    admin = check_admin(viewer_of(request))
    space = await mq.get_space(db, space_id)
    member = await mq.get_member(db, member_id)
    if member is None:
        raise NotFoundException()
    await ma.do_remove_moderator(db, space, member, actor=admin, reason="admin")
    await commit(db)
    return see_other(request, f"/admin/spaces/{space.id}")


ROUTES = [
    flag_form, flag_post, mod_queue, mod_welfare_count, mod_item, mod_post_action,
    mod_dismiss_flags,
    mod_thread_action, group_remove_message, mod_member, mod_member_action, mod_log,
    moderation_public,
    appeal_form, appeal_post, mod_appeal_decision, restriction_appeal_form,
    restriction_appeal_post, mod_duty, admin_spaces, admin_create_space,
    admin_space, admin_update_space, admin_add_moderator, admin_remove_moderator,
]
"""Every moderation route, registered by ``forum.app``."""

__all__ = ["ROUTES", "ActionKind"]


@get("/mod/protocol", name="mod_protocol")
async def mod_protocol(request: Req, db: Db) -> Template:
    """The crisis protocol (safety.md §b.4), one click from the queue."""
    await _moderator(request, db)
    return Template(template_name="mod/protocol/index.html", context={})


ROUTES.append(mod_protocol)


# -- admin: watched words (with a preview) and reply templates -----------------------------

WORD_ACTIONS = {"flag": N_("Signaler (publié, un signalement est créé)"),
                "hold": N_("Mettre en attente (relu avant publication)"),
                "block": N_("Refuser (avec le message ci-dessous)")}
PATTERN_REQUIRED = N_("Écris un mot ou un motif (1 à 300 caractères).")
ACTION_CHOICE = N_("Choisis ce que fait le forum quand il trouve ce mot.")
BLOCK_MESSAGE_REQUIRED = N_("Pour un refus, écris le message que verra la personne : il doit "
                            "expliquer sans juger.")
PREVIEW_MAX = 5000
PREVIEW_MATCHES = 50


def _pattern_values(values: dict[str, str], errors: FormErrors) -> dict[str, str]:
    pattern = (values.get("pattern") or "").strip()
    if not 1 <= len(pattern) <= 300:
        errors["pattern"] = FieldError(PATTERN_REQUIRED)
    elif (problem := patterns.problem(pattern)) is not None:
        errors["pattern"] = FieldError(problem.message, problem.params)
    action = values.get("action", "")
    if action not in WORD_ACTIONS:
        errors["action"] = FieldError(ACTION_CHOICE)
    message = (values.get("message") or "").strip()[:1000]
    if action == "block" and len(message) < 3:
        errors["message"] = FieldError(BLOCK_MESSAGE_REQUIRED)
    return {"pattern": pattern, "action": action, "message": message,
            "label": (values.get("label") or "").strip()[:120]}


async def _words_page(db: AsyncSession, values: dict[str, str], errors: FormErrors, *,
                      matches: list[str] | None = None, previewed: bool = False,
                      status: int = 200) -> Template:
    words = await mq.watched_word_rows(db)
    broken = {word.id: found for word in words
              if (found := patterns.problem(word.pattern)) is not None}
    return Template(template_name="admin/watched_words/index.html", status_code=status,
                    context={"words": words, "broken": broken,
                             "defaults": rules.default_words(), "actions": WORD_ACTIONS,
                             "values": values, "errors": errors, "matches": matches or [],
                             "previewed": previewed})


@get("/admin/watched-words", name="admin_watched_words")
async def admin_watched_words(request: Req, db: Db) -> Template:
    check_admin(viewer_of(request))
    return await _words_page(db, {"action": "hold"}, FormErrors())


@post("/admin/watched-words", name="admin_add_watched_word")
async def admin_add_watched_word(request: Req, db: Db) -> Response[Any]:
    values = await read_form(request)
    admin = check_admin(viewer_of(request))
    errors = FormErrors()
    parsed = _pattern_values(values, errors)
    if errors:
        return await _words_page(db, values, errors, status=422)
    await ma.do_add_watched_word(db, actor=admin, **parsed)
    await commit(db)
    return see_other(request, "/admin/watched-words")


@post("/admin/watched-words/preview", name="admin_preview_watched_word")
async def admin_preview_watched_word(request: Req, db: Db) -> Template:
    """Test a pattern against sample text; stores nothing and keeps what was typed."""
    values = await read_form(request)
    check_admin(viewer_of(request))
    errors = FormErrors()
    parsed = _pattern_values(values, errors)
    if "pattern" in errors:
        return await _words_page(db, values, FormErrors(pattern=errors["pattern"]), status=422)
    found = patterns.finditer_original(patterns.compiled(parsed["pattern"]),
                                       (values.get("sample") or "")[:PREVIEW_MAX], PREVIEW_MATCHES)
    return await _words_page(db, values, FormErrors(), matches=found, previewed=True)


@post("/admin/watched-words/{word_id:int}/remove", name="admin_remove_watched_word")
async def admin_remove_watched_word(request: Req, db: Db,
                                    word_id: FromPath[int]) -> Response[Any]:
    admin = check_admin(viewer_of(request))
    word = await db.get(WatchedWord, word_id)
    if word is None:
        raise NotFoundException()
    await ma.do_remove_watched_word(db, word, actor=admin)
    await commit(db)
    return see_other(request, "/admin/watched-words")


TEMPLATE_TITLE = N_("Un titre de 2 à 120 caractères.")
TEMPLATE_BODY = N_("Le modèle doit contenir entre 10 et 5000 caractères.")


async def _templates_page(db: AsyncSession, values: dict[str, str], errors: FormErrors, *,
                          failed: str = "", status: int = 200) -> Template:
    return Template(template_name="admin/templates/index.html", status_code=status, context={
        "templates": replies.merged(await mq.reply_template_rows(db)), "values": values,
        "errors": errors, "failed": failed,
    })


@get("/admin/templates", name="admin_templates")
async def admin_templates(request: Req, db: Db) -> Template:
    check_admin(viewer_of(request))
    return await _templates_page(db, {}, FormErrors())


@post("/admin/templates/{key:str}/{locale:str}", name="admin_save_template")
async def admin_save_template(request: Req, db: Db, key: FromPath[str],
                              locale: FromPath[str]) -> Response[Any]:
    values = await read_form(request)
    admin = check_admin(viewer_of(request))
    if replies.find(list(replies.default_templates()), key, locale) is None:
        raise NotFoundException()
    errors = FormErrors()
    title, error = clean_text(values.get("title"), min_length=2, max_length=120,
                              multiline=False)
    if error:
        errors["title"] = FieldError(TEMPLATE_TITLE)
    body, error = clean_text(values.get("body"), min_length=10, max_length=5000,
                             multiline=True)
    if error:
        errors["body"] = FieldError(TEMPLATE_BODY)
    if errors:
        return await _templates_page(db, values, errors, failed=f"{key}-{locale}", status=422)
    await ma.do_save_reply_template(db, actor=admin, key=key, locale=locale, title=title,
                                    body=body)
    await commit(db)
    return see_other(request, f"/admin/templates#template-{key}-{locale}")


ROUTES.extend([admin_watched_words, admin_add_watched_word, admin_preview_watched_word,
               admin_remove_watched_word, admin_templates, admin_save_template])


# -- admin: members, their roles and restrictions --------------------------------------------

SEARCH_MAX = 32
"""A pseudonym's longest length: a longer search finds nobody."""
SEARCH_TOO_LONG = N_("Un pseudonyme fait au plus %(max)s caractères : raccourcis ta recherche.")
MEMBER_DONE: dict[str, str] = {
    "helper-granted": N_("%(pseudonym)s porte maintenant le badge « Pair-aidant·e formé·e »."),
    "helper-revoked": N_("%(pseudonym)s ne porte plus le badge « Pair-aidant·e formé·e »."),
    "moderator-added": N_("%(pseudonym)s modère maintenant l'espace « %(space)s »."),
    "unchanged": N_("Rien n'a changé : c'était déjà le cas pour %(pseudonym)s."),
}
"""What the members page says after a change, above the member it concerns."""


def _search_text(raw: str, errors: FormErrors) -> str:
    if not raw.strip():
        return ""
    text, error = clean_text(raw, min_length=1, max_length=SEARCH_MAX, multiline=False)
    if error and len(text) > SEARCH_MAX:
        error = FieldError(SEARCH_TOO_LONG, {"max": SEARCH_MAX})
    if error:
        errors["q"] = error
    return text


async def _members_page(db: AsyncSession, raw: str, *, errors: FormErrors | None = None,
                        values: dict[str, str] | None = None, concerned: Member | None = None,
                        done: str = "", space_id: int | None = None,
                        status: int = 200) -> Template:
    """The search ``raw`` and its members. ``concerned``: the member a form (or the change
    just made) was about, shown even when the search no longer finds them; ``errors`` of
    that form, or of the search (``q``)."""
    errors = errors or FormErrors()
    search_errors = FormErrors()
    text = _search_text(raw, search_errors)
    found = (mq.MemberSearch([], 0) if search_errors
             else await mq.search_members(db, text))
    members = list(found.members)
    if concerned is not None and all(m.id != concerned.id for m in members):
        members.insert(0, concerned)
    spaces = await mq.all_spaces(db)
    return Template(template_name="admin/members/index.html",
                    status_code=422 if search_errors else status, context={
        "q": raw[:200], "searched": bool(text) and not search_errors, "members": members,
        "more": found.more, "moderates": await mq.moderated_spaces(db, [m.id for m in members]),
        "spaces": [s for s in spaces if not s.archived],
        "space_names": {s.id: s.name for s in spaces},
        "errors": FormErrors({**search_errors, **errors}), "values": values or {},
        "concerned": concerned.id if concerned is not None else None,
        "done": done if done in MEMBER_DONE else "", "done_messages": MEMBER_DONE,
        "done_space": space_id, "helper_load": await _helper_load(db, members),
    })


async def _helper_load(db: AsyncSession, members: list[Member]
                       ) -> dict[int, tuple[int, conversations.Availability]]:
    """Each trained helper's open conversations and availability, so admins see their load."""
    return {member.id: (await conversations.open_count(db, member.id),
                        await conversations.availability_of(db, member.id))
            for member in members if member.trained_helper}


@get("/admin/members", name="admin_members")
async def admin_members(request: Req, db: Db, q: FromQuery[str] = "",
                        done: FromQuery[str] = "", m: FromQuery[str] = "",
                        s: FromQuery[str] = "") -> Template:
    check_admin(viewer_of(request))
    member_id = _int_or_none(m)
    concerned = await mq.get_member(db, member_id) if member_id and done else None
    if concerned is not None and concerned.status != MemberStatus.ACTIVE:
        concerned = None
    return await _members_page(db, q, concerned=concerned,
                               done=done if concerned is not None else "",
                               space_id=_int_or_none(s))


async def _admin_and_member(request: Req, db: AsyncSession, member_id: int
                            ) -> tuple[Member, Member]:
    admin = check_admin(viewer_of(request))
    member = await mq.get_member(db, member_id)
    if member is None or member.status != MemberStatus.ACTIVE:
        raise NotFoundException()
    return admin, member


def _after_member_change(request: Req, values: dict[str, str], member: Member, done: str,
                         space: Space | None = None) -> Response[Any]:
    """Back to the admin's search (or, from the list of roles, to the member's own), the
    change said above the member."""
    query = {"q": (values.get("q") or "").strip()[:SEARCH_MAX] or member.pseudonym,
             "done": done, "m": str(member.id)}
    if space is not None:
        query["s"] = str(space.id)
    return see_other(request, f"/admin/members?{urlencode(query)}#member-{member.id}")


@post("/admin/members/{member_id:int}/helper", name="admin_grant_helper")
async def admin_grant_helper(request: Req, db: Db, member_id: FromPath[int]) -> Response[Any]:
    values = await read_form(request)
    admin, member = await _admin_and_member(request, db, member_id)
    changed = await ma.do_grant_helper_badge(db, member, actor=admin, reason="admin")
    await commit(db)
    return _after_member_change(request, values, member,
                                "helper-granted" if changed else "unchanged")


@post("/admin/members/{member_id:int}/helper/remove", name="admin_revoke_helper")
async def admin_revoke_helper(request: Req, db: Db, member_id: FromPath[int]) -> Response[Any]:
    values = await read_form(request)
    admin, member = await _admin_and_member(request, db, member_id)
    changed = await ma.do_revoke_helper_badge(db, member, actor=admin, reason="admin")
    await commit(db)
    return _after_member_change(request, values, member,
                                "helper-revoked" if changed else "unchanged")


@post("/admin/members/{member_id:int}/moderators", name="admin_member_add_moderator")
async def admin_member_add_moderator(request: Req, db: Db,
                                     member_id: FromPath[int]) -> Response[Any]:
    """Name the member a peer moderator of a space (the same action as the space's page)."""
    values = await read_form(request)
    admin, member = await _admin_and_member(request, db, member_id)
    space = next((s for s in await mq.all_spaces(db)
                  if str(s.id) == values.get("space") and not s.archived), None)
    if space is None:
        return await _members_page(db, values.get("q", ""), values=values, concerned=member,
                                   errors=FormErrors(space=FieldError(NO_SUCH_SPACE)),
                                   status=422)
    changed = await ma.do_add_moderator(db, space, member, actor=admin, reason="admin")
    await commit(db)
    return _after_member_change(request, values, member,
                                "moderator-added" if changed else "unchanged", space)


ROUTES.extend([admin_members, admin_grant_helper, admin_revoke_helper,
               admin_member_add_moderator])


# -- a helper calls the moderators into a conversation (issue 17) ----------------------------

NO_CALL_REASON = N_("Dis pourquoi tu appelles l'équipe de modération.")
ALREADY_CALLED = N_("Tu as déjà appelé l'équipe pour le dernier message de la personne : elle "
                    "va le voir. Si tu penses maintenant que la personne est en danger, choisis "
                    "« Je pense que la personne est en danger ».")
CALL_NOTE_MAX = 1_000


@post("/conversations/{conversation_id:int}/moderateurs", name="call_moderators")
async def call_moderators(request: Req, db: Db,
                          conversation_id: FromPath[int]) -> Response[Any]:
    values = await read_form(request)
    helper, conversation = await web_conversations.held_by(request, db, conversation_id)
    reason = values.get("reason") or ""
    note, _error = clean_text(values.get("note"), min_length=0, max_length=CALL_NOTE_MAX,
                              multiline=True)
    if reason not in ma.CALL_REASONS:
        return await web_conversations.conversation_error(request, db, conversation, "reason",
                                                          NO_CALL_REASON)
    if await ma.do_call_in_moderators(db, conversation, helper, theme=conversation.space.name,
                                      reason=reason, note=note[:CALL_NOTE_MAX]) is None:
        return await web_conversations.conversation_error(request, db, conversation, "reason",
                                                          ALREADY_CALLED)
    await commit(db)
    return see_other(request, f"/conversations/{conversation.id}?appel=1")


ROUTES.append(call_moderators)
