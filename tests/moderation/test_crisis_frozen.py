"""The crisis screen against its frozen test file, and ``forum crisis-eval``.

``moderation/data/crisis_frozen_test.tsv`` was written apart from the screen (docs/SAFETY.md):
no pattern, threshold or training row was ever chosen by looking at it. These tests run the
screen as the forum runs it (lexicon, then the learned stage) over every row and hold the
targets of issue 14. A failure here is a real measurement, not a test to adjust."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from forum.config import ROOT
from moderation.crisis import load_screen
from moderation.crisis.corpus import FROZEN_TEST_PATH, read_labelled
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


@pytest.fixture(scope="module")
def frozen() -> Report:
    return evaluate(load_screen(), FROZEN_TEST_PATH)


def test_the_frozen_file_has_sentences_and_real_length_posts_in_every_locale() -> None:
    rows = read_labelled(FROZEN_TEST_PATH)
    assert len(rows) >= 1000
    for lang in ("fr-FR", "fr-BE", "fr-CH", "fr-CA", "en"):
        mine = [row for row in rows if row.lang == lang]
        assert {row.kind for row in mine} == {"sentence", "post"}, lang
        assert {row.label for row in mine} == {"none", "concern", "urgent"}, lang
    assert not any(row.marked for row in rows), "no training marks in the frozen file"


MEASURED_FLAG_RECALL = 290 / 308
"""What the committed screen reaches on the frozen file (290 of 308 crisis sentences, 95 %
interval 91.0-96.3 %): below issue 14's 95 % by three sentences, see docs/SAFETY.md. It was 291,
then 288 once the head was trained again without the five rows it shared with the evaluation
files, then 290 with thresholds chosen again for the mended lexicon (2026-12-06, evening): a
floor that follows each honest measurement, never a target."""


@pytest.mark.xfail(strict=True, reason=(
    "issue 14 not met: flag recall on the frozen file's sentences is 94.2 % (290/308) against "
    "95 %; strict, so the day it passes this mark must go"))
def test_flag_recall_on_sentences(frozen: Report) -> None:
    assert frozen.combined().flag_recall.value >= FLAG_RECALL_TARGET, format_report(frozen)


def test_flag_recall_never_falls_below_what_was_measured(frozen: Report) -> None:
    """Until the target is met, the screen may not lose what it catches today."""
    assert frozen.combined().flag_recall.value >= MEASURED_FLAG_RECALL, format_report(frozen)


def test_urgent_recall_on_sentences(frozen: Report) -> None:
    assert frozen.combined().urgent_recall.value >= URGENT_RECALL_TARGET, format_report(frozen)


def test_false_positives_on_sentences(frozen: Report) -> None:
    assert frozen.combined().false_positives.value <= FALSE_POSITIVE_TARGET, format_report(frozen)


def test_recall_on_real_length_posts(frozen: Report) -> None:
    assert frozen.combined().post_recall.value >= POST_RECALL_TARGET, format_report(frozen)


def test_pause_rate_on_ordinary_posts(frozen: Report) -> None:
    assert frozen.combined().pause_rate.value <= PAUSE_RATE_TARGET, format_report(frozen)


def test_the_learned_stage_only_ever_adds_to_the_lexicon(frozen: Report) -> None:
    for locale, combined in frozen.figures["combined"].items():
        lexicon = frozen.figures["lexicon"][locale]
        assert combined.flag_recall.hits >= lexicon.flag_recall.hits, locale
        assert combined.post_recall.hits >= lexicon.post_recall.hits, locale


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "forum.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, check=False, timeout=600)


def test_crisis_eval_prints_every_stage_and_locale_with_intervals(tmp_path: Path) -> None:
    labelled = tmp_path / "mine.tsv"
    labelled.write_text(
        "label\tabout\tlang\tkind\ttext\n"
        "urgent\tself\tfr-FR\tsentence\tCe soir je vais en finir, j'ai tout préparé.\n"
        "concern\tself\ten\tsentence\tI keep wishing I could just stop existing.\n"
        "none\t-\tfr-FR\tsentence\tJe suis morte de rire devant ce film.\n"
        "none\t-\tfr-CA\tpost\tAllô la gang. J'ai eu une grosse semaine. Merci d'être là.\n",
        encoding="utf-8")
    result = cli("crisis-eval", str(labelled), "--misses")
    for needle in ("[lexicon]", "[model]", "[combined]", "fr-FR:", "en:", "fr-CA:",
                   "flag recall (sentences)", "pause rate (ordinary posts)", "%-"):
        assert needle in result.stdout, needle
    assert result.returncode in (0, 1)


def test_crisis_eval_never_lists_the_frozen_files_rows() -> None:
    result = cli("crisis-eval", "--misses")
    assert result.returncode != 0 and "never listed" in result.stderr


def test_crisis_check_explains_both_stages() -> None:
    result = cli("crisis-check", "J'ai la corde, il ne me manque que le courage.")
    assert result.returncode == 0
    for needle in ("level: urgent", "answer: pause", "lexicon", "model   crisis", "near"):
        assert needle in result.stdout, needle
