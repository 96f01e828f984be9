"""Who may moderate what. ``available_actions(mod, item)`` is the one rule: it decides the
buttons a moderator sees and the actions a POST accepts.

A moderator acts in the spaces they moderate; an admin everywhere. Nobody moderates their own
posts or themselves. A thing outside the viewer's spaces is answered 404 (they may not know
it is under review), a thing inside but not allowed 403.
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException

from forum.models import Member, MemberStatus, Post, PostStatus, Role, Thread
from forum.permissions import Viewer, is_restricted
from moderation.models import ActionKind

POST_ACTIONS = ("approve", "hide", "restore", "remove", "edit")
THREAD_ACTIONS = ("lock", "unlock", "pin", "unpin", "move")
MEMBER_ACTIONS = ("warn", "suspend", "ban", "unban")


@dataclass(frozen=True)
class Moderator:
    """A logged-in member with the spaces they moderate (every space for an admin)."""

    member: Member
    space_ids: frozenset[int]

    @property
    def is_admin(self) -> bool:
        return self.member.role == Role.ADMIN

    def moderates(self, space_id: int) -> bool:
        return self.is_admin or space_id in self.space_ids

    @property
    def is_moderator(self) -> bool:
        return self.is_admin or bool(self.space_ids)


def check_member(viewer: Viewer) -> Member:
    if viewer is None or viewer.status != MemberStatus.ACTIVE:
        raise NotAuthorizedException()
    return viewer


def check_moderator(viewer: Viewer, space_ids: frozenset[int]) -> Moderator:
    """The queue and the log: for moderators and admins; members get 403, visitors 401. A
    suspended or banned member moderates nothing while the restriction lasts (403)."""
    mod = Moderator(check_member(viewer), space_ids)
    if not mod.is_moderator or is_restricted(mod.member):
        raise PermissionDeniedException()
    return mod


def check_admin(viewer: Viewer) -> Member:
    member = check_member(viewer)
    if member.role != Role.ADMIN or is_restricted(member):
        raise PermissionDeniedException()
    return member


def post_actions(mod: Moderator, post: Post) -> frozenset[str]:
    if not mod.moderates(post.thread.space_id) or post.author_id == mod.member.id:
        return frozenset()
    by_status = {
        PostStatus.PENDING: {"approve", "remove", "edit"},
        PostStatus.VISIBLE: {"hide", "remove", "edit"},
        PostStatus.HIDDEN: {"restore", "remove", "edit"},
        PostStatus.REMOVED: {"restore"},
    }
    return frozenset(by_status.get(post.status, set()))


def thread_actions(mod: Moderator, thread: Thread) -> frozenset[str]:
    if not mod.moderates(thread.space_id):
        return frozenset()
    if thread.conversation_id is not None:
        return frozenset()  # a conversation is its two people's: ``forum/conversations.py``
    if thread.group_session_id is not None:
        # A group session's thread belongs to its session (``forum/groups.py``): it stays in
        # its space, unpinned, and is opened and closed by the session's steps only.
        return frozenset() if thread.locked else frozenset({"lock"})
    return frozenset({
        "unlock" if thread.locked else "lock",
        "unpin" if thread.pinned else "pin",
        "move",
    })


def member_actions(mod: Moderator, member: Member, *, in_scope: bool) -> frozenset[str]:
    """``in_scope``: the member has written in a space ``mod`` moderates (always for admins)."""
    if member.id == mod.member.id or member.role == Role.ADMIN:
        return frozenset()
    if not (mod.is_admin or in_scope):
        return frozenset()
    allowed = {"warn"}
    if is_restricted(member):
        if mod.is_admin or not member.banned:
            allowed.add("unban")
    else:
        allowed.add("suspend")
    if mod.is_admin and not member.banned:
        allowed.add("ban")
    return frozenset(allowed)


def sees_restriction_appeal(mod: Moderator, space_id: int | None, *, in_scope: bool) -> bool:
    """Whether ``mod`` sees the appeal of a suspension or ban: an admin; a moderator of the
    space where it was taken; for one taken forum-wide (from a member's page, no space), a
    moderator who could lift it there, i.e. of a space the member has written in
    (``in_scope``, as in ``member_actions``)."""
    if mod.is_admin:
        return True
    return in_scope if space_id is None else mod.moderates(space_id)


def decides_restriction_appeal(mod: Moderator, *, space_id: int | None, kind: int,
                               actor_id: int | None, member_id: int | None,
                               in_scope: bool) -> bool:
    """Who may grant or refuse it: someone who sees it and could lift it directly (a ban:
    admins only, as in ``member_actions``), other than who took the action and other than
    the member it restricts."""
    if int(kind) == int(ActionKind.MEMBER_BANNED) and not mod.is_admin:
        return False
    return (sees_restriction_appeal(mod, space_id, in_scope=in_scope)
            and mod.member.id not in (actor_id, member_id))


def available_actions(mod: Moderator, item: Post | Thread) -> frozenset[str]:
    """The actions ``mod`` may take on a post or a thread, as the names in the routes."""
    if isinstance(item, Post):
        return post_actions(mod, item)
    return thread_actions(mod, item)


def check_action(allowed: frozenset[str], action: str, *, visible: bool) -> None:
    """404 when the target is outside the moderator's spaces, 403 when the action is not
    (or no longer) available to them."""
    if not visible:
        raise NotFoundException()
    if action not in allowed:
        raise PermissionDeniedException()
