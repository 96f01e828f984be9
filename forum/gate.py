"""What posting asks of moderation, as a protocol: the forum never imports moderation.

The app wires an implementation in (``moderation.gate.ModerationGate``). It turns the
author's Markdown into sanitised HTML, screens it for crisis language and decides the post's
status, in one call, before anything is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncSession

from forum.models import Member, Post, PostStatus, Space


@dataclass(frozen=True)
class Verdict:
    html: str
    """Sanitised HTML, safe to store and to mark safe in templates."""
    renderer_version: int
    status: PostStatus = PostStatus.VISIBLE
    crisis_level: str = "none"
    """"none", "concern" or "urgent": what the crisis screen found in the text."""
    reasons: tuple[str, ...] = field(default_factory=tuple)
    """Why the status is not VISIBLE (shown to the author), as message ids."""


class GateRefusal(Exception):
    """The text cannot be published at all; ``message`` says why, for the author."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@runtime_checkable
class ContentGate(Protocol):
    autoflag: bool
    """Whether publishing an urgent post raises a priority welfare flag for the moderators
    (FORUM_CRISIS_AUTOFLAG); the crisis interstitial says so."""

    async def review(
        self, session: AsyncSession, text: str, *, author: Member, space: Space,
        editing: Post | None = None,
    ) -> Verdict:
        """Render, sanitise and screen ``text`` and decide its status; raise GateRefusal to
        refuse it. Reads only: nothing is stored before the author's post is. ``editing``: the
        post whose new text this is (an edit is not a new post)."""
        ...

    async def published(
        self, session: AsyncSession, post: Post, *, author: Member, space: Space,
        verdict: Verdict,
    ) -> None:
        """Called after a post is stored (new thread, reply or edit), in the same unit of work:
        moderation raises its flags here, so they land with the post or not at all."""
        ...
