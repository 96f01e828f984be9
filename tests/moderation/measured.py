"""What the committed crisis screen measured on a labelled file, held as floors: each figure may
get better, never worse (the holdout and stress files' tests)."""

from __future__ import annotations

from moderation.crisis.evaluation import Report, format_report

RECALLS = ("flag_recall", "urgent_recall", "post_recall")
INTERRUPTIONS = ("false_positives", "pause_rate")
FIGURES = RECALLS + INTERRUPTIONS


def assert_not_worse(report: Report, measured: dict[str, tuple[int, int]], name: str) -> None:
    """Both stages' *name* on *report* against *measured* (hits, total) for it."""
    hits, total = measured[name]
    value = getattr(report.combined(), name).value
    if name in RECALLS:
        assert value >= hits / total, format_report(report)
    else:
        assert value <= hits / total, format_report(report)
