"""Pages that read: home, a space, a thread, a post's permalink."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from forum import conversations, permissions, queries
from forum.db import utcnow
from forum.models import Thread
from forum.permissions import Viewer
from forum.resources import lines_for
from forum.web.composer import reply_form_context
from forum.web.context import region_of, settings_of, viewer_of
from forum.web.deps import Db
from forum.web.htmx import VARY, is_htmx, page_or_partial
from forum.web.htmx import page as render_page


@get("/", name="home")
async def home(request: Request[Any, Any, Any], db: Db) -> Template:
    viewer = viewer_of(request)
    return render_page("home", {
        "spaces": await queries.list_spaces(db),
        "recent": await queries.recent_threads(db, viewer),
    })


@get("/s/{slug:str}", name="space")
async def space_page(
    request: Request[Any, Any, Any], db: Db, slug: FromPath[str],
    apres: FromQuery[str | None] = None,
) -> Template:
    viewer = viewer_of(request)
    space = await queries.get_space_or_404(db, slug)
    listing = None
    unanswered = None
    if permissions.can_read_space_content(viewer, space):
        if viewer is not None and "sans-reponse" in request.query_params:
            hours = settings_of(request).unanswered_hours
            unanswered = await queries.unanswered_threads(
                db, viewer, space=space, older_than=utcnow() - timedelta(hours=hours))
        else:
            listing = await queries.list_threads(
                db, viewer, space, after=queries.Cursor.decode(apres)
            )
    return page_or_partial(request, "space", {
        "space": space, "listing": listing, "unanswered": unanswered,
        "is_continuation": bool(apres),
        "can_start_thread": permissions.can_start_thread(viewer, space),
        "moderators_on_duty": await queries.space_on_duty_count(db, space.id),
        "space_lines": lines_for(region_of(request), topics=space.topics).topical
        if space.topics else [],
    })


@get("/sans-reponse", name="unanswered")
async def unanswered_page(request: Request[Any, Any, Any], db: Db) -> Template:
    """Across every space the member may read, the threads still waiting for a first answer
    (the space page's "Sans réponse", forum-wide). For members: visitors cannot answer."""
    viewer = permissions.check_logged_in(viewer_of(request))
    hours = settings_of(request).unanswered_hours
    unanswered = await queries.unanswered_threads(
        db, viewer, older_than=utcnow() - timedelta(hours=hours))
    return Template(template_name="unanswered/index.html", context={"unanswered": unanswered})


async def thread_context(
    request: Request[Any, Any, Any], db: Db, thread_id: FromPath[int], page_number: int | None,
) -> dict[str, Any]:
    viewer = viewer_of(request)
    thread = await queries.get_thread_or_404(db, viewer, thread_id)
    pages = queries.page_count(thread)
    current = pages if page_number is None else page_number
    if current < 1 or current > pages:
        raise NotFoundException()
    posts = await queries.thread_page(db, thread, current)
    moderator_ids = await queries.space_moderator_ids(db, thread.space_id)
    return {
        "thread": thread, "space": thread.space, "posts": posts, "page": current,
        "pages": pages, "can_reply": permissions.can_reply(viewer, thread),
        "indexable": thread.space.indexable,
        "needs_care": await queries.thread_needs_care(db, thread.id),
        "hidden_themes": await queries.hidden_warning_themes(db, viewer),
        "moderator_ids": moderator_ids,
        "social": await queries.social_for_posts(db, viewer, posts, thread=thread),
        "posts_per_page": queries.POSTS_PER_PAGE,
        "session_facilitating": _facilitating(viewer, thread, moderator_ids),
        "conversation_helpers": await _hand_over_to(db, viewer, thread),
        "conversation_errors": None,
        "moderators_called": request.query_params.get("appel") == "1",
        **reply_form_context(thread),
    }


async def _hand_over_to(db: Db, viewer: Viewer, thread: Thread) -> list[Any]:
    """The helpers the conversation's helper may hand it to (none for anyone else)."""
    conversation = thread.conversation
    if conversation is None or viewer is None or viewer.id != conversation.helper_id:
        return []
    return [helper for helper in await conversations.matching_helpers(db, conversation)
            if helper.id != viewer.id]


def _facilitating(viewer: Viewer, thread: Thread, moderator_ids: frozenset[int]) -> bool:
    """Whether the reader runs this group session's live thread (its controls show)."""
    group = thread.group_session
    return group is not None and permissions.can_facilitate(
        viewer, group.facilitator_id, moderates=viewer is not None and viewer.id in moderator_ids)


@get("/t/{thread_id:int}", name="thread")
async def thread_page(
    request: Request[Any, Any, Any], db: Db, thread_id: FromPath[int], page: FromQuery[int] = 1
) -> Template:
    context = await thread_context(request, db, thread_id, page)
    return Template(template_name="thread/index.html", context=context)


@get("/t/{thread_id:int}/nouveaux", name="thread_news")
async def thread_news(
    request: Request[Any, Any, Any], db: Db, thread_id: FromPath[int], apres: FromQuery[int] = 0
) -> Response[Any]:
    """The posts after number ``apres`` on its page, for a reader whose page was told by its
    live stream that the thread grew (``forum/web/live.py``); opened without htmx, the
    thread's page where they are."""
    thread = await queries.get_thread_or_404(db, viewer_of(request), thread_id)
    after = max(0, min(apres, thread.post_count))
    current = min(queries.page_of(after + 1), queries.page_count(thread))
    if not is_htmx(request):
        return Redirect(path=f"/t/{thread_id}?page={current}", status_code=303, headers=VARY)
    context = await thread_context(request, db, thread_id, current)
    context["posts"] = [post for post in context["posts"] if post.number > after]
    return Template(template_name="thread/_new_posts.html", context=context, headers=VARY)


@get("/p/{post_id:int}", name="permalink")
async def permalink(request: Request[Any, Any, Any], db: Db, post_id: FromPath[int]) -> Redirect:
    post = await queries.get_post_or_404(db, viewer_of(request), post_id)
    return Redirect(
        path=f"/t/{post.thread_id}?page={queries.page_of(post.number)}#post-{post.id}",
        status_code=302,
    )


@get("/p/{post_id:int}/revisions", name="post_revisions")
async def post_revisions(request: Request[Any, Any, Any], db: Db,
                         post_id: FromPath[int]) -> Template:
    """A post's edit history. Every reader of the post sees that and when it changed; its
    author, the space's moderators and the admins see each earlier text too (so nobody can
    post abuse and edit it away unseen)."""
    viewer = viewer_of(request)
    post = await queries.get_post_or_404(db, viewer, post_id)
    moderators = await queries.space_moderator_ids(db, post.thread.space_id)
    staff = viewer is not None and not permissions.is_restricted(viewer) and (
        viewer.id in moderators or viewer.role == "admin")
    may_read_texts = viewer is not None and (viewer.id == post.author_id or staff)
    if not (permissions.can_see_post_body(viewer, post) or may_read_texts):
        raise NotFoundException()
    revisions = await queries.post_revisions(db, post.id)
    return render_page("revisions", {
        "post": post, "thread": post.thread, "revisions": revisions,
        "show_texts": may_read_texts,
    })


ROUTES = [home, space_page, unanswered_page, thread_page, thread_news, permalink, post_revisions]
