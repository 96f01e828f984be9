"""The crisis screen: the lexicon first, the learned stage after it, an answer in proportion.

``Screen.assess(text, locale)`` returns a :class:`Screening`:

* ``level``: the help the text asks for, ``none``, ``concern`` or ``urgent``;
* ``answer``: how the forum answers its author, in proportion to how sure the screen is:

  - ``pause``: a lexicon match, or a model score at or above the ``pause`` threshold: the calm
    pause before publishing, with the region's lines (as before this stage existed);
  - ``line``: a model-only score at or above ``line``: no pause; after publishing, a calm line
    with the lines under the author's own post (only they see it) and the thread's help
    banner; the post is marked for moderators;
  - ``watch``: a model-only score at or above ``watch``: nothing shown to the author; the post
    is marked for moderators;
  - ``none``.

  None of them ever blocks publishing.
* ``stage``: which stage raised it (``lexicon``, ``model``, or ``both`` when the model would
  have answered on its own too), and the reasons: the lexicon's matches, the model's scores,
  the worrying sentence and the nearest labelled examples (``details()``, kept on the
  moderators' flag).

**The model can only raise the lexicon's level, never lower it.** A lexicon ``concern`` becomes
``urgent`` when the model answers (line or pause) and says the worrying sentence is urgent, as
it would be on the model's word alone (a lexicon match is more evidence, never less; until
2026-12-07 only a pause raised it); a model-only hit is ``urgent`` when the model says so, or
when the lexicon's time, means or plan cues are in the text ("ce soir", "la corde", "j'ai tout
prévu").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

from moderation.crisis.lexicon import Assessment, Level, Lexicon, Match, assess, escalation_cues
from moderation.crisis.model import CrisisModel, ModelScore

Answer = Literal["none", "watch", "line", "pause"]
Stage = Literal["lexicon", "model", "both"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Screening:
    """What the screen says of one text (see the module docstring)."""

    level: Level = "none"
    answer: Answer = "none"
    about: Literal["self", "other"] = "self"
    stage: Stage | None = None
    matches: tuple[Match, ...] = ()
    model: ModelScore | None = None
    model_level: Level = "none"
    cues: tuple[str, ...] = field(default=())

    @property
    def at_least_concern(self) -> bool:
        return self.level != "none"

    def details(self, text: str | None = None) -> dict[str, Any]:
        """JSON-ready reasons for moderators (quotes from *text* when given)."""
        out: dict[str, Any] = {"stage": self.stage, "answer": self.answer, "level": self.level,
                               "about": self.about}
        if self.matches:
            out["lexicon"] = [
                {"term": m.term, "level": m.level,
                 **({"quote": text[m.start : m.end]} if text is not None else {})}
                for m in self.matches
            ]
        if self.model is not None:
            out["model"] = {
                "crisis": self.model.crisis, "urgent": self.model.urgent,
                "level": self.model_level, "unit": self.model.unit,
                "neighbours": [{"text": n.text, "label": n.label, "similarity": n.similarity}
                               for n in self.model.neighbours],
            }
        if self.cues:
            out["cues"] = list(self.cues)
        return out


NOTHING = Screening()


class Screen:
    """The two stages together. ``model=None`` runs the lexicon alone (as before issue 14)."""

    def __init__(self, lexicon: Lexicon, model: CrisisModel | None) -> None:
        self.lexicon = lexicon
        self.model = model

    def assess_lexicon(self, text: str, locale: str | None = None) -> Assessment:
        return assess(text, locale, lexicon=self.lexicon)

    def assess(self, text: str, locale: str | None = None, *,
               explain: bool = True) -> Screening:
        """Both stages on *text*. ``explain``: also find the nearest labelled examples."""
        lexical = self.assess_lexicon(text, locale)
        score = self.model.score(text, explain=explain) if self.model is not None else None
        cues = escalation_cues(score.unit, lexicon=self.lexicon) if score is not None else ()
        return combine(lexical, score, self.model, cues)

    def warm(self) -> None:
        """Load the sentence encoder now (about a second), so that the first post a worker
        screens does not wait for it: run in a thread when the app starts."""
        if self.model is not None:
            self.model.score("Bonjour.")


def combine(lexical: Assessment, score: ModelScore | None, model: CrisisModel | None,
            cues: tuple[str, ...]) -> Screening:
    """The answer of the two stages (pure; see the module docstring)."""
    model_answer: Answer = "none"
    model_level: Level = "none"
    if score is not None and model is not None:
        thresholds = model.thresholds
        if score.crisis >= thresholds.pause:
            model_answer = "pause"
        elif score.crisis >= thresholds.line:
            model_answer = "line"
        elif score.crisis >= thresholds.watch:
            model_answer = "watch"
        if model_answer != "none":
            model_level = "urgent" if score.urgent >= thresholds.urgent else "concern"
    if lexical.level != "none":
        level: Level = lexical.level
        if level == "concern" and model_level == "urgent" and model_answer in ("pause", "line"):
            level = "urgent"
        stage: Stage = "both" if model_answer in ("pause", "line") else "lexicon"
        return Screening(level=level, answer="pause", about=lexical.about, stage=stage,
                         matches=lexical.matches, model=score, model_level=model_level,
                         cues=cues)
    if model_answer == "none":
        return Screening(model=score, cues=cues)
    if model_answer == "watch":
        return Screening(level="none", answer="watch", stage="model", model=score,
                         model_level=model_level, cues=cues)
    level = "urgent" if model_level == "urgent" or cues else "concern"
    return Screening(level=level, answer=model_answer, stage="model", model=score,
                     model_level=model_level, cues=cues)
