"""The forum's content gate: render, sanitise, screen, and decide the status of a post.

This is the only path from what a member typed to stored HTML. It never stores anything
itself; the forum's ``do_*`` actions store the Verdict it returns.

``read`` does the slow part (Markdown, nh3, both stages of the crisis screen) in a worker
thread, before the request's write transaction begins, within ``READ_BUDGET_SECONDS``;
``review`` applies the space's rules (database reads); ``published`` raises moderation's flags
in the transaction of the post.
"""

from __future__ import annotations

import asyncio
import logging
import weakref

import anyio
import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from forum.gate import GateRefusal, Reading, Verdict
from forum.i18n import N_
from forum.models import Member, Post, Space
from moderation import rules
from moderation.actions import do_mark_for_review, do_raise_crisis_flag
from moderation.crisis import Assessment, Screen, Screening, load_screen
from moderation.sanitize import RENDERER_VERSION, SanitizerError, render_markdown

RENDER_FAILED = N_("Ce texte n'a pas pu être mis en forme. Simplifie la mise en forme "
                   "(listes, citations très imbriquées) et réessaie.")

logger = logging.getLogger(__name__)

READ_BUDGET_SECONDS = 10.0
"""The longest a request waits for ``read`` (a thread of the pool, then the work): past it the
request is answered 503 with ``Retry-After`` and the text shown back, like a busy database
(TimeoutError is an outage for ``forum.db.is_unavailable``). Every step is linear (watched
words on RE2, bounded Markdown rules): a 20,000-character hostile text takes a few hundred
milliseconds, so only a machine far past its capacity reaches it. The thread itself cannot be
stopped; it finishes in the background and its result is dropped."""


LEVEL_RANK = {"none": 0, "concern": 1, "urgent": 2}
ANSWER_RANK = {"none": 0, "watch": 1, "line": 2, "pause": 3}


READERS_PER_PROCESS = 1
"""Threads of a process that read posts at once. Markdown and the crisis screen are mostly
pure Python: the GIL lets one thread run at a time anyway, and every further reading thread
only takes the GIL from the event loop more often, which slows every page of that process
while long posts are read (docs/RELIABILITY.md). Posts wait their turn on the event loop."""

_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary())


def _readers() -> anyio.CapacityLimiter:
    """The process's reading limiter (one per event loop: tests run several loops)."""
    loop = asyncio.get_running_loop()
    limiter = _limiters.get(loop)
    if limiter is None:
        limiter = _limiters[loop] = anyio.CapacityLimiter(READERS_PER_PROCESS)
    return limiter


class ModerationGate:
    """Implements ``forum.gate.ContentGate``.

    ``autoflag``: whether a post screened as urgent raises a priority welfare flag
    (FORUM_CRISIS_AUTOFLAG). ``screen``: the crisis screen (the lexicon with an admin's
    extension, and the learned stage); by default the package's.
    """

    def __init__(self, *, autoflag: bool = True, screen: Screen | None = None) -> None:
        self.autoflag = autoflag
        self.screen = screen or load_screen()

    def screen_query(self, text: str, locale: str | None = None) -> Assessment:
        """The lexicon alone, for a search query (a few words; nothing to publish)."""
        return self.screen.assess_lexicon(text, locale)

    def read_now(self, text: str, locale: str | None = None) -> Reading:
        """The CPU part of ``read``, on the calling thread."""
        try:
            html = render_markdown(text)
        except SanitizerError as exc:  # fail closed: nothing unsanitised is ever stored
            raise GateRefusal(RENDER_FAILED) from exc
        screening = self._screen(text, locale)
        return Reading(
            html=html, renderer_version=RENDERER_VERSION, crisis_level=screening.level,
            crisis_answer=screening.answer, crisis_about=screening.about,
            crisis_details=screening.details(text) if screening.answer != "none" else {},
        )

    def _screen(self, text: str, locale: str | None) -> Screening:
        try:
            return self.screen.assess(text, locale)
        except Exception:  # the learned stage failed: the lexicon still answers
            logger.exception("crisis screen: the learned stage failed; lexicon only")
            return Screen(self.screen.lexicon, None).assess(text, locale)

    async def read(self, text: str, *, locale: str | None) -> Reading:
        try:
            with anyio.fail_after(READ_BUDGET_SECONDS):
                return await anyio.to_thread.run_sync(self.read_now, text, locale,
                                                      abandon_on_cancel=True,
                                                      limiter=_readers())
        except TimeoutError:
            logger.warning("content gate: reading a text of %d characters took longer than "
                           "%.0f s; answered 503", len(text), READ_BUDGET_SECONDS)
            raise

    async def review(
        self, session: AsyncSession, text: str, *, author: Member, space: Space,
        editing: Post | None = None, reading: Reading | None = None, private: bool = False,
    ) -> Verdict:
        if reading is None:
            reading = await self.read(text, locale=author.locale)
        status, reasons = await rules.review(session, text, author=author, space=space,
                                             editing=editing is not None, private=private)
        return Verdict(html=reading.html, renderer_version=reading.renderer_version,
                       status=status, crisis_level=reading.crisis_level, reasons=reasons,
                       crisis_answer=reading.crisis_answer, crisis_about=reading.crisis_about,
                       crisis_details=reading.crisis_details)

    async def published(
        self, session: AsyncSession, post: Post, *, author: Member, space: Space,
        verdict: Verdict, previous_level: str | None = None, previous_answer: str = "none",
    ) -> None:
        """Urgent: a welfare flag, the moderators told at once. Any other answer of the
        screen: a quiet mark in the queue. Nothing with ``autoflag`` off. An edit
        (``previous_level``) that leaves the post no more worrying than it was raises nothing
        new: it was handled when published (a typo fixed, a content warning added)."""
        await rules.apply_after_publish(session, post, verdict.reasons)
        if not self.autoflag:  # the instance tells its members the screen alerts nobody
            return
        if previous_level is not None and (
                (LEVEL_RANK[verdict.crisis_level], ANSWER_RANK.get(verdict.crisis_answer, 0))
                <= (LEVEL_RANK.get(previous_level, 0), ANSWER_RANK.get(previous_answer, 0))):
            return
        if verdict.crisis_level == "urgent":
            await do_raise_crisis_flag(session, post, space, verdict.crisis_details)
        elif verdict.crisis_answer != "none":
            await do_mark_for_review(session, post, verdict.crisis_details)
