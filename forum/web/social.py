"""Support reactions, following a thread, blocking a member.

Each is a POST form that works without JavaScript (303 back to where it came from) and, with
htmx, swaps its own small fragment. Blocking is never shown to the member blocked.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import (
    NotFoundException,
    PermissionDeniedException,
    TooManyRequestsException,
    ValidationException,
)
from litestar.params import FromPath
from litestar.response import Template

from forum import actions, conversations, permissions, queries
from forum.db import commit
from forum.i18n import N_
from forum.models import Member, MemberStatus, Post, PostStatus, Thread
from forum.permissions import Viewer
from forum.throttle import QUARTER, Rule, Throttled, Tier, check_attempt
from forum.web.context import viewer_of
from forum.web.deps import Db
from forum.web.forms import read_form
from forum.web.htmx import VARY, is_htmx, see_other

REACTIONS: tuple[tuple[str, str], ...] = (
    ("je-te-lis", N_("Je te lis")),
    ("courage", N_("Courage")),
    ("merci", N_("Merci")),
    ("moi-aussi", N_("Moi aussi")),
)
"""The labels of ``forum.actions.REACTION_KINDS``, in the order shown."""


def can_react(viewer: Viewer, post: Post, thread: Thread | None = None) -> bool:
    """Members react to others' visible posts (never to deleted or removed ones); not to a
    request for a conversation they have not answered (the asker learns only the answer).
    ``thread``: the post's, with its conversation loaded, where the caller has it."""
    return (
        viewer is not None and post.status == PostStatus.VISIBLE
        and post.author_id is not None and viewer.id != post.author_id
        and not (isinstance(thread, Thread) and permissions.awaits_answer(viewer, thread))
    )


def can_block(viewer: Viewer, author: Member | None) -> bool:
    return viewer is not None and author is not None and author.id != viewer.id


# -- reactions ---------------------------------------------------------------------------------

@post("/p/{post_id:int}/react", name="react")
async def react(request: Request[Any, Any, Any], db: Db, post_id: FromPath[int]) -> Response[Any]:
    values = await read_form(request)
    viewer = viewer_of(request)
    post_obj = await queries.get_post_or_404(db, viewer, post_id)
    member = permissions.check_logged_in(viewer)
    if not can_react(member, post_obj, post_obj.thread):
        raise PermissionDeniedException()
    kind = values.get("kind", "")
    if kind not in actions.REACTION_KINDS:
        raise ValidationException()
    await actions.do_toggle_reaction(db, post_obj, member=member, kind=kind)
    await commit(db)
    if is_htmx(request):
        social = await queries.social_for_posts(db, member, [post_obj])
        return Template(template_name="_reactions.html",
                        context={"post": post_obj, "social": social}, headers=VARY)
    return see_other(request, f"/p/{post_obj.id}")


# -- following a thread ------------------------------------------------------------------------

async def _set_following(request: Request[Any, Any, Any], db: Db, thread_id: int,
                         follow: bool) -> Response[Any]:
    viewer = viewer_of(request)
    thread = await queries.get_thread_or_404(db, viewer, thread_id)
    member = permissions.check_logged_in(viewer)
    if follow:
        await actions.do_follow(db, member.id, thread.id)
    else:
        await actions.do_unfollow(db, member.id, thread.id)
    await commit(db)
    if is_htmx(request):
        return Template(template_name="notifications/_follow.html",
                        context={"thread": thread, "following": follow}, headers=VARY)
    return see_other(request, f"/t/{thread.id}")


@post("/t/{thread_id:int}/follow", name="follow_thread")
async def follow(request: Request[Any, Any, Any], db: Db,
                 thread_id: FromPath[int]) -> Response[Any]:
    return await _set_following(request, db, thread_id, True)


@post("/t/{thread_id:int}/unfollow", name="unfollow_thread")
async def unfollow(request: Request[Any, Any, Any], db: Db,
                   thread_id: FromPath[int]) -> Response[Any]:
    return await _set_following(request, db, thread_id, False)


# -- blocking ----------------------------------------------------------------------------------

def _id(text: str) -> int | None:
    """An id typed in a form or an address: ASCII digits only ("²".isdigit() is true), and
    short enough to be one (18 digits)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def _back(values: dict[str, str]) -> str:
    """Back to the post the form was on, else to the list of blocked members."""
    post_id = _id(values.get("post", ""))
    return f"/p/{post_id}" if post_id else "/notifications/settings#blocked"


BLOCKS = Rule("block-member", (Tier(20, QUARTER),))
"""Blocks a member may give in a quarter of an hour: enough for a bad evening, too few to
walk through the members."""


async def _count_block(request: Request[Any, Any, Any], member: Member) -> None:
    try:
        await check_attempt(request, (BLOCKS, str(member.id)))
    except Throttled as exc:
        raise TooManyRequestsException(headers={"Retry-After": str(exc.retry_after)}) from exc


async def _blockable(db: Db, member: Member, ref: str, post_ref: str) -> tuple[Member, Post]:
    """The author of a post the reader can see (``post_ref``), when ``ref`` is their id.
    Anything else (an unknown or deleted member, a post the reader cannot see, someone else's
    id) answers the same 404: the route tells nothing about who exists."""
    post_id = _id(post_ref)
    if post_id is None:
        raise NotFoundException()
    seen = await queries.get_post_or_404(db, member, post_id)
    target = seen.author
    if (target is None or str(target.id) != ref or target.status != MemberStatus.ACTIVE
            or not can_block(member, target) or not permissions.can_see_post_body(member, seen)):
        raise NotFoundException()
    return target, seen


@get("/m/{ref:str}/block", name="block_member_form")
async def block_form(request: Request[Any, Any, Any], db: Db, ref: FromPath[str]) -> Template:
    """What blocking does, said before it is done, with the button (the thread page offers a
    link here, and htmx puts this form in the link's place)."""
    member = permissions.check_logged_in(viewer_of(request))
    target, seen = await _blockable(db, member, ref, request.query_params.get("post", ""))
    already = target.id in await queries.blocked_member_ids(db, member.id)
    name = "notifications/_block.html" if is_htmx(request) else "notifications/block.html"
    return Template(template_name=name, headers=VARY, context={
        "target": target, "post": seen, "thread": seen.thread, "already": already})


@post("/m/{ref:str}/block", name="block_member")
async def block(request: Request[Any, Any, Any], db: Db, ref: FromPath[str]) -> Response[Any]:
    """Block the author of a post the reader can see (the form's ``post``)."""
    values = await read_form(request)
    member = permissions.check_logged_in(viewer_of(request))
    await _count_block(request, member)
    target, _ = await _blockable(db, member, ref, values.get("post", ""))
    await actions.do_block(db, member, target)
    await conversations.do_end_between(db, member, target)  # blocks apply everywhere
    await commit(db)
    return see_other(request, _back(values))


@post("/m/{ref:str}/unblock", name="unblock_member")
async def unblock(request: Request[Any, Any, Any], db: Db, ref: FromPath[str]) -> Response[Any]:
    """Unblock a member one has blocked; any other id answers the same 404."""
    values = await read_form(request)
    member = permissions.check_logged_in(viewer_of(request))
    blocked = _id(ref)
    if blocked is None or blocked not in await queries.blocked_member_ids(db, member.id):
        raise NotFoundException()
    await actions.do_unblock(db, member, blocked)
    await commit(db)
    return see_other(request, _back(values))


ROUTES = [react, follow, unfollow, block_form, block, unblock]
TEMPLATE_GLOBALS: dict[str, Any] = {
    "can_react": can_react, "can_block": can_block, "reaction_kinds": REACTIONS,
}
