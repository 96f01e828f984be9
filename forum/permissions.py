"""Who may do what: ``check_*`` raise, ``can_*`` answer for templates. One rule, written once.

A thing a viewer may not know exists raises NotFound (404), exactly as if it did not exist;
a thing they may see but not do raises PermissionDenied (403) or NotAuthorized (401, "log in").
A refusal says why in its ``detail`` (``REFUSED_*``), so the error page can tell the person:
their account is suspended (until when), the thread is locked, the post is someone else's.
"""

from __future__ import annotations

from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException

from forum.db import utcnow
from forum.models import Member, MemberStatus, Post, PostStatus, Role, Space, Thread, Visibility

Viewer = Member | None

REFUSED_RESTRICTED = "restricted"
REFUSED_LOCKED = "locked"
REFUSED_NOT_AUTHOR = "not-author"
REFUSED_PAUSED = "paused"


def is_admin(viewer: Viewer) -> bool:
    return viewer is not None and viewer.role == Role.ADMIN


def can_read_space_content(viewer: Viewer, space: Space) -> bool:
    """Threads of a members-only space are for members, of the helpers' space for trained
    peer helpers and admins; every space's name and description are public."""
    if space.visibility == Visibility.MEMBERS:
        return viewer is not None and viewer.status == MemberStatus.ACTIVE
    if space.visibility == Visibility.HELPERS:
        return reads_helpers_spaces(viewer)
    return True


def reads_helpers_spaces(viewer: Viewer) -> bool:
    return viewer is not None and viewer.status == MemberStatus.ACTIVE and (
        viewer.trained_helper or is_admin(viewer))


def check_read_space_content(viewer: Viewer, space: Space) -> None:
    if not can_read_space_content(viewer, space):
        raise NotFoundException()


def can_see_post_body(viewer: Viewer, post: Post) -> bool:
    """Visible posts to every reader; pending and hidden ones to their author too."""
    if post.status == PostStatus.VISIBLE:
        return True
    if post.status in (PostStatus.PENDING, PostStatus.HIDDEN):
        return viewer is not None and viewer.id == post.author_id
    return False


def check_logged_in(viewer: Viewer) -> Member:
    if viewer is None or viewer.status != MemberStatus.ACTIVE:
        raise NotAuthorizedException()
    return viewer


def is_restricted(viewer: Viewer) -> bool:
    """Banned, or suspended until a time not yet reached: the member reads but cannot post."""
    if viewer is None:
        return False
    if viewer.banned:
        return True
    return viewer.suspended_until is not None and viewer.suspended_until > utcnow()


def can_start_thread(viewer: Viewer, space: Space) -> bool:
    return (
        viewer is not None and not space.archived and can_read_space_content(viewer, space)
        and not is_restricted(viewer)
    )


def check_start_thread(viewer: Viewer, space: Space) -> Member:
    member = check_logged_in(viewer)
    if is_restricted(member):
        raise PermissionDeniedException(detail=REFUSED_RESTRICTED)
    if space.archived:  # out of sight already (404): no more to say
        raise PermissionDeniedException()
    return member


def can_reply(viewer: Viewer, thread: Thread) -> bool:
    return (
        viewer is not None
        and not thread.space.archived
        and (not thread.locked or is_admin(viewer))
        and not is_restricted(viewer)
        and not paused_for(viewer, thread)
        and not awaits_answer(viewer, thread)
    )


def awaits_answer(viewer: Viewer, thread: Thread) -> bool:
    """A member asked for a conversation by another member writes only once they accepted
    (``thread.conversation`` loaded, as ``queries.get_thread_or_404`` does)."""
    conversation = thread.conversation if thread.conversation_id is not None else None
    return (conversation is not None and viewer is not None
            and conversation.kind == "member" and conversation.status == "waiting"
            and conversation.helper_id == viewer.id)


def paused_for(viewer: Viewer, thread: Thread) -> bool:
    """A group session's thread its facilitator paused: only they write until they resume
    (``thread.group_session`` loaded, as ``queries.get_thread_or_404`` does)."""
    if thread.group_session_id is None:
        return False
    group = thread.group_session
    return group is not None and group.paused and (
        viewer is None or viewer.id != group.facilitator_id)


def check_reply(viewer: Viewer, thread: Thread) -> Member:
    member = check_logged_in(viewer)
    if not can_reply(member, thread):
        raise PermissionDeniedException(detail=_why_not_reply(member, thread))
    return member


def _why_not_reply(member: Member, thread: Thread) -> str:
    if is_restricted(member):
        return REFUSED_RESTRICTED
    if paused_for(member, thread) and not thread.locked:
        return REFUSED_PAUSED
    return "" if thread.space.archived else REFUSED_LOCKED


def can_edit_post(viewer: Viewer, post: Post, thread: Thread | None = None) -> bool:
    """Authors edit their own posts, unless the thread is locked. ``thread`` spares a load
    where the page already holds it."""
    thread = thread or post.thread
    return (
        viewer is not None
        and viewer.id == post.author_id
        and post.status in (PostStatus.VISIBLE, PostStatus.PENDING, PostStatus.HIDDEN)
        and not thread.locked
        and not is_session_agreement(post, thread)
        and not paused_for(viewer, thread)
    )


def is_session_agreement(post: Post, thread: Thread) -> bool:
    """A group session's agreement (its live thread's first message) belongs to the session:
    it is changed nowhere but where it was written (``forum/groups.py``)."""
    return thread.group_session_id is not None and post.number == 1


def check_edit_post(viewer: Viewer, post: Post) -> Member:
    member = check_logged_in(viewer)
    if not can_edit_post(member, post):
        raise PermissionDeniedException(detail=_why_not_change(member, post))
    return member


def _why_not_change(member: Member, post: Post) -> str:
    if member.id != post.author_id:
        return REFUSED_NOT_AUTHOR
    if post.thread.locked:
        return REFUSED_LOCKED
    if paused_for(member, post.thread):
        return REFUSED_PAUSED
    return ""  # a removed post or a session's agreement: the generic answer


def can_delete_post(viewer: Viewer, post: Post, thread: Thread | None = None) -> bool:
    return (
        viewer is not None
        and viewer.id == post.author_id
        and post.status in (PostStatus.VISIBLE, PostStatus.PENDING, PostStatus.HIDDEN)
        and not is_session_agreement(post, thread or post.thread)
    )


def check_delete_post(viewer: Viewer, post: Post) -> Member:
    member = check_logged_in(viewer)
    if not can_delete_post(member, post):
        raise PermissionDeniedException(
            detail=REFUSED_NOT_AUTHOR if member.id != post.author_id else "")
    return member


def can_schedule_group(viewer: Viewer, space: Space, *, moderates: bool) -> bool:
    """Trained peer helpers, the space's moderators and admins schedule group sessions."""
    return (
        viewer is not None and viewer.status == MemberStatus.ACTIVE and not space.archived
        and can_read_space_content(viewer, space) and not is_restricted(viewer)
        and (viewer.trained_helper or moderates or is_admin(viewer))
    )


def can_facilitate(viewer: Viewer, facilitator_id: int | None, *, moderates: bool) -> bool:
    """The facilitator of a session, the space's moderators and admins run it (pause, remove
    a message, end, cancel)."""
    return (
        viewer is not None and viewer.status == MemberStatus.ACTIVE and not is_restricted(viewer)
        and (viewer.id == facilitator_id or moderates or is_admin(viewer))
    )
