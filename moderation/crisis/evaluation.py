"""``forum crisis-eval``: the screen's figures on a labelled file, per stage and per locale.

The file follows ``docs/CRISIS_LABELS.md`` (``label about lang kind text``); the old
three-column sets (``label lang text``, sentences) are read too. The default is the frozen test
file, ``moderation/data/crisis_frozen_test.tsv``, which no threshold or pattern is ever tuned on.

"Answered" means the author is shown help: a pause before publishing or a line after it (a
``watch`` mark, seen by moderators only, is not an answer). For each stage (the lexicon alone,
the model alone, both as the forum runs them) and each locale:

* flag recall: crisis sentences answered;
* urgent recall: urgent sentences answered at the urgent level;
* false positives: ordinary sentences answered;
* post recall: crisis posts (3 to 12 sentences) answered;
* pause rate: ordinary posts paused before publishing.

Each figure comes with its 95 % Wilson interval. The targets apply to the combined screen on
the whole file.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from moderation.crisis.corpus import FROZEN_TEST_PATH, Labelled, read_labelled
from moderation.crisis.lexicon import NONE
from moderation.crisis.screen import Screen, Screening, combine

FLAG_RECALL_TARGET = 0.95
URGENT_RECALL_TARGET = 0.90
FALSE_POSITIVE_TARGET = 0.05
POST_RECALL_TARGET = 0.90
PAUSE_RATE_TARGET = 0.03

STAGES = ("lexicon", "model", "combined")


def read_any(path: Path) -> list[Labelled]:
    """A labelled file in the five-column format, or an old three-column sentence set."""
    first = Path(path).read_text(encoding="utf-8").split("\n", 1)[0]
    if first.split("\t") == ["label", "lang", "text"]:
        rows = []
        for line in Path(path).read_text(encoding="utf-8").splitlines()[1:]:
            if line.strip():
                label, lang, text = line.split("\t")
                rows.append(Labelled(label, "-" if label == "none" else "self", lang,
                                     "sentence", text))
        return rows
    return read_labelled(path)


@dataclass(frozen=True)
class Figure:
    """A share with its 95 % Wilson interval."""

    hits: int
    total: int

    @property
    def value(self) -> float:
        return self.hits / self.total if self.total else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        if not self.total:
            return (0.0, 0.0)
        z, n, p = 1.96, self.total, self.value
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return (max(0.0, centre - half), min(1.0, centre + half))

    def __str__(self) -> str:
        if not self.total:
            return "   n/a"
        low, high = self.interval
        return f"{self.value:6.1%} [{low:5.1%}-{high:5.1%}] ({self.hits}/{self.total})"


@dataclass(frozen=True)
class Outcome:
    row: Labelled
    answered: bool
    paused: bool
    urgent: bool


@dataclass
class StageFigures:
    flag_recall: Figure
    urgent_recall: Figure
    false_positives: Figure
    post_recall: Figure
    pause_rate: Figure


@dataclass
class Report:
    """Figures per stage and per locale (``"all"`` for the whole file)."""

    path: Path
    total: int
    figures: dict[str, dict[str, StageFigures]] = field(default_factory=dict)
    misses: list[tuple[Labelled, Screening]] = field(default_factory=list)

    def combined(self) -> StageFigures:
        return self.figures["combined"]["all"]

    @property
    def meets_targets(self) -> bool:
        figures = self.combined()
        return (figures.flag_recall.value >= FLAG_RECALL_TARGET
                and figures.urgent_recall.value >= URGENT_RECALL_TARGET
                and figures.false_positives.value <= FALSE_POSITIVE_TARGET
                and figures.post_recall.value >= POST_RECALL_TARGET
                and figures.pause_rate.value <= PAUSE_RATE_TARGET)


def _figures(outcomes: list[Outcome]) -> StageFigures:
    def share(keep: Callable[[Outcome], bool], hit: Callable[[Outcome], bool]) -> Figure:
        chosen = [o for o in outcomes if keep(o)]
        return Figure(sum(1 for o in chosen if hit(o)), len(chosen))

    sentence = lambda o: o.row.kind == "sentence"  # noqa: E731
    post = lambda o: o.row.kind == "post"  # noqa: E731
    return StageFigures(
        flag_recall=share(lambda o: sentence(o) and o.row.crisis, lambda o: o.answered),
        urgent_recall=share(lambda o: sentence(o) and o.row.label == "urgent",
                            lambda o: o.answered and o.urgent),
        false_positives=share(lambda o: sentence(o) and not o.row.crisis, lambda o: o.answered),
        post_recall=share(lambda o: post(o) and o.row.crisis, lambda o: o.answered),
        pause_rate=share(lambda o: post(o) and not o.row.crisis, lambda o: o.paused),
    )


def _outcome(row: Labelled, screening: Screening) -> Outcome:
    answered = screening.answer in ("pause", "line")
    return Outcome(row, answered, screening.answer == "pause",
                   answered and screening.level == "urgent")


def evaluate(screen: Screen, path: Path | None = None) -> Report:
    """Screen every row of the file (default: the frozen test file) and compute the figures."""
    path = Path(path) if path is not None else FROZEN_TEST_PATH
    rows = read_any(path)
    per_stage: dict[str, list[Outcome]] = {stage: [] for stage in STAGES}
    report = Report(path=path, total=len(rows))
    for row in rows:
        both = screen.assess(row.text, row.lang, explain=False)
        lexicon_only = combine(screen.assess_lexicon(row.text, row.lang), None, None, ())
        model_only = (combine(NONE, both.model, screen.model, both.cues)
                      if screen.model is not None else Screening())
        per_stage["lexicon"].append(_outcome(row, lexicon_only))
        per_stage["model"].append(_outcome(row, model_only))
        per_stage["combined"].append(_outcome(row, both))
        if row.crisis != (both.answer in ("pause", "line")):
            report.misses.append((row, both))
    for stage, outcomes in per_stage.items():
        locales = sorted({o.row.lang for o in outcomes})
        report.figures[stage] = {"all": _figures(outcomes)}
        for locale in locales:
            report.figures[stage][locale] = _figures([o for o in outcomes
                                                      if o.row.lang == locale])
    return report


def format_report(report: Report, *, show_misses: bool = False) -> str:
    lines = [f"crisis screen evaluation: {report.path.name}, {report.total} rows"]
    names = [("flag recall (sentences)", "flag_recall", ">=", FLAG_RECALL_TARGET),
             ("urgent recall (sentences)", "urgent_recall", ">=", URGENT_RECALL_TARGET),
             ("false positives (sentences)", "false_positives", "<=", FALSE_POSITIVE_TARGET),
             ("recall (real-length posts)", "post_recall", ">=", POST_RECALL_TARGET),
             ("pause rate (ordinary posts)", "pause_rate", "<=", PAUSE_RATE_TARGET)]
    for stage in STAGES:
        lines.append(f"\n[{stage}]")
        for locale, figures in report.figures[stage].items():
            lines.append(f"  {locale}:")
            for title, attribute, sign, target in names:
                figure: Figure = getattr(figures, attribute)
                mark = ""
                if stage == "combined" and locale == "all":
                    ok = (figure.value >= target) if sign == ">=" else (figure.value <= target)
                    mark = f"  (target {sign} {target:.0%}) {'ok' if ok else 'FAIL'}"
                lines.append(f"    {title:<28} {figure}{mark}")
    lines.append(f"\ntargets: {'met' if report.meets_targets else 'NOT MET'}")
    if show_misses and report.misses:
        lines.append(f"\nmisclassified ({len(report.misses)}):")
        for row, screening in report.misses:
            lines.append(f"  expected {row.label:<7} got {screening.answer:<5} "
                         f"{screening.level:<7} [{row.lang} {row.kind}] {row.text[:160]!r}")
    return "\n".join(lines)
