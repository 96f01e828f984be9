"""Pages that write: start a thread, reply, edit and delete one's own post.

Each handler: parse, access (``get_*_or_404`` + ``check_*``), validate (errors keep the text),
one ``do_*`` call, commit, respond (303 or, for htmx, a partial).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from forum import actions, content_warnings, conversations, permissions, queries
from forum.db import commit
from forum.gate import ContentGate, GateRefusal, Reading, Verdict
from forum.models import Member, Post, Space, Thread
from forum.resources import lines_for, region_name
from forum.web.composer import PostForm, new_idempotency_key, parse_post_form, reply_form_context
from forum.web.context import locale_of, region_of, viewer_of
from forum.web.deps import Db, Gate
from forum.web.forms import FieldError, FormErrors, read_form
from forum.web.htmx import VARY, is_htmx, see_other
from forum.web.reading import thread_context


async def read(gate: ContentGate, form: PostForm, request: Request[Any, Any, Any],
               errors: FormErrors) -> Reading | None:
    """The gate's reading of the body (Markdown, sanitising, the crisis screen), in a worker
    thread and before the request's transaction begins, so that no lock is held meanwhile.
    None when the form already has errors, when the sender is not logged in (the access check
    that follows answers them), or when the text cannot be rendered (an error on the body
    field; the text is kept). A suspended member's text is read too: not every route refuses
    them before the gate (an edit), and a text read here is never read in the transaction."""
    viewer = viewer_of(request)
    if errors or viewer is None:
        return None
    try:
        return await gate.read(form.body, locale=viewer.locale)
    except GateRefusal as refusal:
        errors["body"] = FieldError(refusal.message)
        return None


async def review(db: AsyncSession, gate: ContentGate, form: PostForm, *, author: Member,
                 space: Space, errors: FormErrors, reading: Reading | None,
                 editing: Post | None = None, private: bool = False) -> Verdict | None:
    """Ask the gate; a refusal becomes an error on the body field (the text is kept).

    A repeated submit (same idempotency key as a stored post) skips the gate: the action
    returns the stored post, so the same-text rule does not refuse a double click. The key is
    looked up again after a refusal: on PostgreSQL, sends of one form run side by side, and
    the first may commit between this send's lookup and the gate's same-text check."""
    if errors:
        return None
    if editing is None and (stored := await _stored_verdict(db, form, author)):
        return stored
    try:
        return await gate.review(db, form.body, author=author, space=space, editing=editing,
                                 reading=reading, private=private)
    except GateRefusal as refusal:
        if editing is None and (stored := await _stored_verdict(db, form, author)):
            return stored
        errors["body"] = FieldError(refusal.message)
        errors.care = reading is not None and reading.crisis_answer in ("pause", "line")
        return None


async def _stored_verdict(db: AsyncSession, form: PostForm, author: Member) -> Verdict | None:
    """The verdict of the post already stored with this form's idempotency key, if any."""
    if not form.idempotency_key:
        return None
    stored = await queries.find_post_by_key(db, author.id, form.idempotency_key)
    if stored is None:
        return None
    return Verdict(html=stored.html, renderer_version=stored.renderer_version,
                   status=stored.status)


CRISIS_ACK = "crisis_ack"
"""The interstitial's "Publier" button: the author saw the lines and chose to publish."""
CRISIS_EDIT = "crisis_edit"
"""The interstitial's "Modifier" button: back to the composer, the text kept."""


def needs_crisis_pause(verdict: Verdict, values: dict[str, str]) -> bool:
    """The screen is sure enough to pause before publishing, and the author has not yet
    chosen to publish (a less sure answer is a line after publishing, never a pause)."""
    return verdict.crisis_answer == "pause" and values.get(CRISIS_ACK) != "1"


def crisis_pause(request: Request[Any, Any, Any], *, verdict: Verdict, form: PostForm,
                 space: Space, action: str, autoflag: bool,
                 extra: dict[str, str] | None = None) -> Template:
    """The calm interstitial shown before publishing a text that screened at concern or above:
    a few words of care, the region's lines, and three choices (publish, edit, call now). It
    never blocks publishing: "Publier" sends the same form again with ``crisis_ack`` (and
    ``extra``: the fields of that form beyond a post's own)."""
    region = region_of(request)
    lines = lines_for(region, topics=space.topics)
    context = {
        "level": verdict.crisis_level, "about": verdict.crisis_about, "form": form,
        "space": space, "action": action,
        "lines": lines, "primary": lines.primary(), "autoflag": autoflag,
        "region_label": region_name(region, locale_of(request)),
        "extra": extra or {},
    }
    template = "crisis/partial.html" if is_htmx(request) else "crisis/index.html"
    return Template(template_name=template, context=context, headers=VARY)


# -- starting a thread ---------------------------------------------------------------------

def _compose(space: Space, form: PostForm, errors: FormErrors, status: int = 200) -> Template:
    return Template(
        template_name="compose/index.html", status_code=status,
        context={"space": space, "form": form, "errors": errors,
                 "warning_presets": content_warnings.PRESETS},
    )


@get("/s/{slug:str}/new", name="new_thread")
async def new_thread_form(request: Request[Any, Any, Any], db: Db, slug: FromPath[str]) -> Template:
    space = await queries.get_space_or_404(db, slug)
    permissions.check_start_thread(viewer_of(request), space)
    return _compose(space, PostForm(idempotency_key=new_idempotency_key()), FormErrors())


@post("/s/{slug:str}/new", name="create_thread")
async def create_thread(
    request: Request[Any, Any, Any], db: Db, gate: Gate, slug: FromPath[str]
) -> Response[Any]:
    values = await read_form(request)  # first, so that an error page can show the text back
    form, errors = parse_post_form(values, with_title=True)
    editing_again = bool(values.get(CRISIS_EDIT))
    reading = None if editing_again else await read(gate, form, request, errors)
    space = await queries.get_space_or_404(db, slug)
    member = permissions.check_start_thread(viewer_of(request), space)
    if editing_again:
        return _compose(space, form, FormErrors())
    verdict = await review(db, gate, form, author=member, space=space, errors=errors,
                           reading=reading)
    if verdict is None:
        return _compose(space, form, errors, status=422)
    if needs_crisis_pause(verdict, values):
        return crisis_pause(request, verdict=verdict, form=form, space=space,
                            action=f"/s/{space.slug}/new", autoflag=gate.autoflag)
    posted = await actions.do_create_thread(
        db, space=space, author=member, title=form.title, source=form.body, verdict=verdict,
        content_warning=form.stored_warning(), lang=form.lang or locale_of(request),
        idempotency_key=form.idempotency_key,
    )
    if posted.created:
        await gate.published(db, posted.post, author=member, space=space, verdict=verdict)
    await commit(db)
    return see_other(request, f"/t/{posted.post.thread_id}#post-{posted.post.id}")


# -- replying --------------------------------------------------------------------------------

def _current_page(request: Request[Any, Any, Any]) -> int | None:
    """The page the htmx request came from (HX-Current-URL), if it says."""
    url = request.headers.get("hx-current-url", "")
    match = re.search(r"[?&]page=(\d+)", url)
    return int(match.group(1)) if match else None


@post("/t/{thread_id:int}/reply", name="reply")
async def reply(
    request: Request[Any, Any, Any], db: Db, gate: Gate, thread_id: FromPath[int]
) -> Response[Any]:
    values = await read_form(request)  # first, so that an error page can show the text back
    viewer = viewer_of(request)
    form, errors = parse_post_form(values, with_title=False)
    editing_again = bool(values.get(CRISIS_EDIT))
    reading = None if editing_again else await read(gate, form, request, errors)
    thread = await queries.get_thread_or_404(db, viewer, thread_id)
    member = permissions.check_reply(viewer, thread)
    if editing_again:
        return await _reply_form_again(request, db, thread, form, FormErrors(), status=200)
    verdict = await review(db, gate, form, author=member, space=thread.space, errors=errors,
                           reading=reading, private=thread.conversation_id is not None)
    if verdict is None:
        return await _reply_form_again(request, db, thread, form, errors, status=422)
    if needs_crisis_pause(verdict, values):
        return crisis_pause(request, verdict=verdict, form=form, space=thread.space,
                            action=f"/t/{thread.id}/reply", autoflag=gate.autoflag)
    verdict = replace(verdict, html=await conversations.plain_for_new_account(
        db, thread, member, verdict.html))
    was_last_page = queries.page_count(thread)
    try:
        posted = await actions.do_reply(
            db, thread=thread, author=member, source=form.body, verdict=verdict,
            content_warning=form.stored_warning(), lang=form.lang or locale_of(request),
            idempotency_key=form.idempotency_key,
        )
    except LookupError:  # the thread went meanwhile (a group session's, deleted at its end)
        raise NotFoundException() from None
    if posted.created:
        await gate.published(db, posted.post, author=member, space=thread.space,
                             verdict=verdict)
    # Read in the same transaction (after the commit it would be a write transaction of its
    # own on SQLite, for one read).
    reply_count = await db.scalar(select(Thread.reply_count).where(Thread.id == thread.id))
    await commit(db)
    post_page = queries.page_of(posted.post.number)
    url = f"/t/{thread.id}?page={post_page}#post-{posted.post.id}"
    came_from = _current_page(request) or was_last_page
    if is_htmx(request) and posted.created and post_page == came_from:
        return _reply_appended(request, thread, posted.post, reply_count or 0)
    return see_other(request, url)


def _reply_appended(request: Request[Any, Any, Any], thread: Thread, new_post: Any,
                    reply_count: int) -> Template:
    """htmx: a cleared form, the new post appended to the list, focus moved to it, and the
    thread's count of replies as it now is (the header said "0 réponses" until a reload)."""
    set_committed_value(new_post, "author", viewer_of(request))
    trigger = json.dumps({"forum:posted": {"post": f"post-{new_post.id}"}})
    return Template(
        template_name="thread/partial.html",
        context={"thread": thread, "new_post": new_post, "can_reply": True,
                 "reply_count": reply_count,
                 **reply_form_context(thread)},
        headers={**VARY, "HX-Trigger-After-Settle": trigger},
    )


async def _reply_form_again(request: Request[Any, Any, Any], db: Db, thread: Thread,
                            form: PostForm, errors: FormErrors, *, status: int) -> Template:
    """The reply form with what was typed (and why it was not published, if it was not)."""
    context = reply_form_context(thread, form, errors)
    if is_htmx(request):
        return Template(template_name="thread/_reply_form.html", status_code=status,
                        context={"thread": thread, **context}, headers=VARY)
    page = await thread_context(request, db, thread.id, None)
    return Template(template_name="thread/index.html", status_code=status,
                    context={**page, **context})


# -- editing and deleting one's own post --------------------------------------------------------

def _edit_page(post_obj: Any, form: PostForm, errors: FormErrors, status: int = 200) -> Template:
    return Template(
        template_name="edit/index.html", status_code=status,
        context={"post": post_obj, "thread": post_obj.thread, "form": form, "errors": errors,
                 "warning_presets": content_warnings.PRESETS},
    )


@get("/p/{post_id:int}/edit", name="edit_post_form")
async def edit_post_form(request: Request[Any, Any, Any], db: Db,
                         post_id: FromPath[int]) -> Template:
    post_obj = await queries.get_post_or_404(db, viewer_of(request), post_id)
    permissions.check_edit_post(viewer_of(request), post_obj)
    choice, free = content_warnings.form_values(post_obj.content_warning)
    form = PostForm(body=post_obj.source, content_warning=choice, content_warning_label=free,
                    lang=post_obj.lang or "")
    return _edit_page(post_obj, form, FormErrors())


@post("/p/{post_id:int}/edit", name="edit_post")
async def edit_post(request: Request[Any, Any, Any], db: Db, gate: Gate,
                    post_id: FromPath[int]) -> Response[Any]:
    values = await read_form(request)  # first, so that an error page can show the text back
    form, errors = parse_post_form(values, with_title=False)
    editing_again = bool(values.get(CRISIS_EDIT))
    reading = None if editing_again else await read(gate, form, request, errors)
    post_obj = await queries.get_post_or_404(db, viewer_of(request), post_id)
    member = permissions.check_edit_post(viewer_of(request), post_obj)
    space = post_obj.thread.space
    form.lang = form.lang or post_obj.lang or ""  # none sent (or refused): the post's own
    if editing_again:
        return _edit_page(post_obj, form, FormErrors())
    verdict = await review(db, gate, form, author=member, space=space, errors=errors,
                           reading=reading, editing=post_obj,
                           private=post_obj.thread.conversation_id is not None)
    if verdict is None:
        return _edit_page(post_obj, form, errors, status=422)
    if needs_crisis_pause(verdict, values):
        return crisis_pause(request, verdict=verdict, form=form, space=space,
                            action=f"/p/{post_obj.id}/edit", autoflag=gate.autoflag)
    verdict = replace(verdict, html=await conversations.plain_for_new_account(
        db, post_obj.thread, member, verdict.html))
    previous_level, previous_answer = post_obj.crisis_level, post_obj.crisis_answer
    if await actions.do_edit_post(db, post_obj, editor=member, source=form.body,
                                  verdict=verdict, content_warning=form.stored_warning(),
                                  lang=form.lang or None):
        await gate.published(db, post_obj, author=member, space=space, verdict=verdict,
                             previous_level=previous_level, previous_answer=previous_answer)
    await commit(db)
    return see_other(request, f"/p/{post_obj.id}")


@get("/p/{post_id:int}/delete", name="delete_post_form")
async def delete_post_form(request: Request[Any, Any, Any], db: Db,
                           post_id: FromPath[int]) -> Template:
    post_obj = await queries.get_post_or_404(db, viewer_of(request), post_id)
    permissions.check_delete_post(viewer_of(request), post_obj)
    return Template(template_name="delete/index.html",
                    context={"post": post_obj, "thread": post_obj.thread})


@post("/p/{post_id:int}/delete", name="delete_post")
async def delete_post(request: Request[Any, Any, Any], db: Db,
                      post_id: FromPath[int]) -> Response[Any]:
    post_obj = await queries.get_post_or_404(db, viewer_of(request), post_id)
    member = permissions.check_delete_post(viewer_of(request), post_obj)
    await actions.do_delete_own_post(db, post_obj, actor=member)
    await commit(db)
    return see_other(request, f"/p/{post_obj.id}")


ROUTES = [new_thread_form, create_thread, reply, edit_post_form, edit_post, delete_post_form,
          delete_post]
