"""The crisis screen against the holdout file, written apart and never trained on.

``moderation/data/crisis_holdout.tsv`` (2,300 rows by four writers who read only
docs/CRISIS_LABELS.md, 2026-12-06) is neither trained on nor used to choose a threshold. Its
rows may be read, unlike the frozen file's, so it can show where the screen fails; a change
kept because of what it shows makes it development data (docs/SAFETY.md says how it was
used). These tests hold what the committed screen measured on it: each figure may get better,
never worse. Where issue 14's target is not met here, the test says so."""

from __future__ import annotations

import pytest

from moderation.crisis import corpus, load_screen
from moderation.crisis.evaluation import (
    FALSE_POSITIVE_TARGET,
    FLAG_RECALL_TARGET,
    PAUSE_RATE_TARGET,
    POST_RECALL_TARGET,
    URGENT_RECALL_TARGET,
    Report,
    evaluate,
    format_report,
)
from moderation.crisis.model import CrisisModel
from tests.moderation.measured import FIGURES, assert_not_worse


@pytest.fixture(scope="module")
def holdout() -> Report:
    return evaluate(load_screen(), corpus.HOLDOUT_PATH)


def test_the_holdout_file_covers_every_locale_kind_and_label() -> None:
    rows = corpus.read_labelled(corpus.HOLDOUT_PATH)
    assert len(rows) >= 2000
    for lang in corpus.LANGS:
        mine = [row for row in rows if row.lang == lang]
        assert {row.kind for row in mine} == {"sentence", "post"}, lang
        assert {row.label for row in mine} == {"none", "concern", "urgent"}, lang


def test_the_head_was_never_trained_on_the_holdout_file() -> None:
    """The head records the files it was trained on (their hash is checked against the
    committed files in test_crisis_screen.py); the holdout file is not one of them."""
    trained_on = CrisisModel.shared().info["data_files"]
    assert trained_on and corpus.HOLDOUT_PATH.name not in trained_on
    assert corpus.HOLDOUT_PATH.parent not in (corpus.CORPUS_DIR, corpus.NEAR_MISS_DIR)


MEASURED = {"flag_recall": (708, 739), "urgent_recall": (315, 329),
            "false_positives": (21, 761), "post_recall": (381, 386), "pause_rate": (9, 414)}
"""What the committed screen measured on the holdout file (2026-12-06, night: 677 and 300
before the lexicon's entries for a person at a height, a poison swallowed, a second attempt,
English stockpiling and dose research, inclusive and "farewell" goodbyes, written after
reading this file's misses, so it is no longer a clean measure of those shapes; with the
thresholds chosen before the evening's lexicon mends it was 671, 296, 21, 380 and 15; false
positives 24 until the short-break and last-post exclusions of 2026-12-07; flag recall 686
and urgent 307 until that day's entries for a burden, a passive wish, a survivor's grievance
and starving as a punishment, and a model at the line raising a lexicon concern to urgent:
all written after reading this file's misses; urgent 311 until an attempt to come that names
the last one, "cette fois… comme en 2022", stopped being read as past, 2026-12-07; flag
recall 697 until SMS spellings were spelled out before matching, "jvx… pr tjrs", 698 and
urgent 312 until a last word for one's family and "ce message sera mon dernier" became
goodbyes, 700 until a passive wish ("j'attends la mort", "je prie pour que Dieu me rappelle",
"l'idée de mourir me traverse"), "why bother living", attempts counted and burns with "ma
clope", all after reading this file's misses, 2026-12-07; 705 and 380 posts until a match
carrying its own "je" stopped reading another verb's negation, the same day; false positives
22 and ordinary posts paused 17 until self-harm stopped ("j'ai arrêté de me scarifier"), the
screening question asked by a carer, a song's artist, a recovery told as wanting to live and
the Swiss "adieu" before a little news, 2026-12-07, third session, after reading this file's
misses: 14 of the 17 were the lexicon's; flag recall 706 and urgent 314 until a medicine
taken by its container, "the whole blister pack of", and "why keep going" were read, the
same session, after reading this file's misses)."""


@pytest.mark.parametrize("name", FIGURES)
def test_no_figure_is_worse_than_what_was_measured(holdout: Report, name: str) -> None:
    """Recall may rise and interruptions fall, never the other way."""
    assert_not_worse(holdout, MEASURED, name)


def test_urgent_recall_false_positives_and_post_recall_meet_issue_14s_targets_here_too(
        holdout: Report) -> None:
    combined = holdout.combined()
    assert combined.urgent_recall.value >= URGENT_RECALL_TARGET, format_report(holdout)
    assert combined.false_positives.value <= FALSE_POSITIVE_TARGET, format_report(holdout)
    assert combined.post_recall.value >= POST_RECALL_TARGET, format_report(holdout)


def test_flag_recall_meets_issue_14s_target_here_too(holdout: Report) -> None:
    """Met since 2026-12-07 (705/739), with lexicon entries written after reading this file's
    misses: for those shapes it is no longer a measure; the stress and frozen files are."""
    assert holdout.combined().flag_recall.value >= FLAG_RECALL_TARGET, format_report(holdout)


def test_the_pause_rate_meets_issue_14s_target_here_too(holdout: Report) -> None:
    """Met since 2026-12-07 (9/414, 2.2 %; 17 before), with lexicon rules written after
    reading this file's misses: the stress and frozen files are the measure for those shapes."""
    assert holdout.combined().pause_rate.value <= PAUSE_RATE_TARGET, format_report(holdout)
