"""The crisis screen against the stress file: the holdout file's weak spots, written apart.

``moderation/data/crisis_stress.tsv`` (1,176 rows, 2026-12-07) was written by three more
writers who read only docs/CRISIS_LABELS.md, asked for what the holdout file showed the screen
misses: the urgent moment told in everyday words (at a height, a medication taken named by its
brand, a pet given away, a date chosen), English, and ordinary real-length posts close to the
topic, each with hard negatives in the same tone. It is harder than a forum's mix on purpose,
so issue 14's targets are not expected to hold here; it is never trained on and never chooses
a threshold. A head trained on it that day did no better on the holdout file (docs/SAFETY.md),
so it became a measure instead. These tests hold what the committed screen measured on it:
each figure may get better, never worse."""

from __future__ import annotations

import pytest

from moderation.crisis import corpus, load_screen
from moderation.crisis.evaluation import Report, evaluate
from moderation.crisis.model import CrisisModel
from tests.moderation.measured import FIGURES, assert_not_worse


@pytest.fixture(scope="module")
def stress() -> Report:
    return evaluate(load_screen(), corpus.STRESS_PATH)


def test_the_stress_file_holds_both_languages_kinds_and_labels() -> None:
    rows = corpus.read_labelled(corpus.STRESS_PATH)
    assert len(rows) >= 1000
    for lang in ("fr-FR", "en"):
        mine = [row for row in rows if row.lang == lang]
        assert {row.kind for row in mine} == {"sentence", "post"}, lang
        assert {row.label for row in mine} == {"none", "concern", "urgent"}, lang
    assert {row.about for row in rows if row.crisis} == {"self", "other"}


def test_the_head_was_never_trained_on_the_stress_file() -> None:
    trained_on = CrisisModel.shared().info["data_files"]
    assert trained_on and corpus.STRESS_PATH.name not in trained_on
    assert corpus.STRESS_PATH.parent not in (corpus.CORPUS_DIR, corpus.NEAR_MISS_DIR)


MEASURED = {"flag_recall": (355, 418), "urgent_recall": (245, 286),
            "false_positives": (23, 287), "post_recall": (204, 209), "pause_rate": (12, 262)}
"""Both stages on the stress file, the day it was written (2026-12-07; the lexicon alone 73,
51, 8, 72 and 8; the model alone 344, 236, 18, 204 and 5). Urgent recall 240 -> 242 the same
day, when a model at the line saying urgent began to raise a lexicon concern as it raises a
text alone; the lexicon alone 73 -> 77 with the burden, passive-wish, survivor's-grievance and
starving-to-punish entries (decided on the corpus, development and holdout files; this file was
the check: 4 crisis sentences gained, no ordinary one). False positives 24 -> 23 when "free
from / clean of" before a match became a negation, 2026-12-07 (decided on the holdout file);
ordinary posts paused 13 -> 12 with self-harm stopped, the carer's screening question, a
song's artist, wanting to live and the Swiss "adieu" before news (decided on the holdout file,
2026-12-07, third session: one ordinary post, no crisis row changed); flag recall 353 -> 354
and urgent 242 -> 244 the same session, when a reviewer's probes showed the lexicon's context
rules dropping first-person acts (laughter, talk-about-the-topic words, someone named before,
a past told earlier in the sentence, something else "over"), decided on the corpus,
development and holdout files, no ordinary row changed here); 355 and 245 with the entries
for families a helper's probes found both stages missing (medicine names and slang verbs, a
gun at the head, a river, the tracks, the heart to stop), the same session."""


@pytest.mark.parametrize("name", FIGURES)
def test_no_figure_is_worse_than_what_was_measured(stress: Report, name: str) -> None:
    """Recall may rise and interruptions fall, never the other way."""
    assert_not_worse(stress, MEASURED, name)
