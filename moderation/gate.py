"""The forum's content gate: render, sanitise, screen, and decide the status of a post.

This is the only path from what a member typed to stored HTML. It never stores anything
itself; the forum's ``do_*`` actions store the Verdict it returns.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from forum.gate import GateRefusal, Verdict
from forum.i18n import N_
from forum.models import Member, Post, Space
from moderation import rules
from moderation.actions import do_raise_crisis_flag
from moderation.crisis import Assessment, Lexicon, assess, load_lexicon
from moderation.sanitize import RENDERER_VERSION, SanitizerError, render_markdown

RENDER_FAILED = N_("Ce texte n'a pas pu être mis en forme. Simplifie la mise en forme "
                   "(listes, citations très imbriquées) et réessaie.")


class ModerationGate:
    """Implements ``forum.gate.ContentGate``.

    ``autoflag``: whether a post screened as urgent raises a priority welfare flag
    (FORUM_CRISIS_AUTOFLAG). ``lexicon``: the crisis lexicon, with an admin's extension.
    """

    def __init__(self, *, autoflag: bool = True, lexicon: Lexicon | None = None) -> None:
        self.autoflag = autoflag
        self.lexicon = lexicon or load_lexicon()

    def screen(self, text: str, locale: str | None = None) -> Assessment:
        """The crisis screen alone (also used for search queries)."""
        return assess(text, locale, lexicon=self.lexicon)

    async def review(
        self, session: AsyncSession, text: str, *, author: Member, space: Space,
        editing: Post | None = None,
    ) -> Verdict:
        try:
            html = render_markdown(text)
        except SanitizerError as exc:  # fail closed: nothing unsanitised is ever stored
            raise GateRefusal(RENDER_FAILED) from exc
        crisis = self.screen(text, author.locale)
        status, reasons = await rules.review(session, text, author=author, space=space,
                                             editing=editing is not None)
        return Verdict(html=html, renderer_version=RENDERER_VERSION, status=status,
                       crisis_level=crisis.level, reasons=reasons)

    async def published(
        self, session: AsyncSession, post: Post, *, author: Member, space: Space,
        verdict: Verdict,
    ) -> None:
        await rules.apply_after_publish(session, post, verdict.reasons)
        if self.autoflag and verdict.crisis_level == "urgent":
            await do_raise_crisis_flag(session, post)
