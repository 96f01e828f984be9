"""What posting asks of moderation, as a protocol: the forum never imports moderation.

The app wires an implementation in (``moderation.gate.ModerationGate``). It turns the
author's Markdown into sanitised HTML, screens it for crisis language and decides the post's
status, in one call, before anything is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncSession

from forum.models import Member, Post, PostStatus, Space


@dataclass(frozen=True)
class Reading:
    """What the gate makes of a text before any database work: its sanitised HTML and the
    crisis screen's answer. Computed off the event loop and outside any transaction."""

    html: str
    renderer_version: int
    crisis_level: str = "none"
    """"none", "concern" or "urgent": the help the text asks for."""
    crisis_answer: str = "none"
    """"pause" (before publishing), "line" (after, under the author's post), "watch" (a mark
    for moderators only) or "none"."""
    crisis_about: str = "self"
    """"other" when the text is about someone else at risk now (the writer is a helper)."""
    crisis_details: dict[str, Any] = field(default_factory=dict, compare=False)
    """Why the screen answered (stage, lexicon matches, model scores, nearest examples), for
    the moderators' flag; never shown to the author."""


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
    crisis_answer: str = "none"
    crisis_about: str = "self"
    crisis_details: dict[str, Any] = field(default_factory=dict, compare=False)


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

    async def read(self, text: str, *, locale: str | None) -> Reading:
        """Render, sanitise and screen ``text``, in a worker thread: call it before the
        request's transaction begins. Raise GateRefusal when it cannot be rendered."""
        ...

    async def review(
        self, session: AsyncSession, text: str, *, author: Member, space: Space,
        editing: Post | None = None, reading: Reading | None = None, private: bool = False,
    ) -> Verdict:
        """Decide the status of ``text`` (its ``reading``, made by ``read`` when not given);
        raise GateRefusal to refuse it. Reads only: nothing is stored before the author's post
        is. ``editing``: the post whose new text this is (an edit is not a new post).
        ``private``: a one-to-one conversation's message (``space`` is its theme): the space's
        own limits on new members' public posts do not apply."""
        ...

    async def published(
        self, session: AsyncSession, post: Post, *, author: Member, space: Space,
        verdict: Verdict, previous_level: str | None = None, previous_answer: str = "none",
    ) -> None:
        """Called after a post is stored (new thread, reply or edit), in the same unit of work:
        moderation raises its flags here, so they land with the post or not at all. On an
        edit, ``previous_level`` and ``previous_answer`` are the screen's before it."""
        ...
