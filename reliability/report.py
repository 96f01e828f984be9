"""The table of figures printed after a run (C7: latency percentiles per scenario)."""

from __future__ import annotations

from reliability.checks import percentile
from reliability.scenarios import Outcome

COLUMNS = ("scenario", "requests", "writes", "acked", "503", "5xx", "no answer",
           "p50 ms", "p90 ms", "p99 ms", "max ms", "seconds", "result")


def figures(outcome: Outcome) -> tuple[str, ...]:
    attempts = outcome.ledger.attempts
    writes = outcome.ledger.writes()
    latencies = [a.latency * 1000 for a in writes if a.status is not None]
    return (
        outcome.name, str(len(attempts)), str(len(writes)), str(len(outcome.ledger.acked)),
        str(sum(a.status == 503 for a in attempts)),
        str(sum(a.status is not None and a.status >= 500 and a.status != 503
                for a in attempts)),
        str(sum(a.status is None for a in attempts)),
        *(f"{percentile(latencies, f):.0f}" for f in (0.50, 0.90, 0.99)),
        f"{max(latencies, default=0):.0f}", f"{outcome.elapsed:.1f}",
        "PASS" if outcome.ok else "FAIL",
    )


def table(outcomes: list[Outcome]) -> str:
    rows = [COLUMNS, *(figures(o) for o in outcomes)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = []
    for n, row in enumerate(rows):
        lines.append(" | ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                                for i, (cell, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            lines.append("-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def details(outcome: Outcome) -> str:
    lines = [f"{outcome.name}:"]
    for check in outcome.checks:
        lines.append(f"  [{'ok' if check.ok else 'FAIL'}] {check.name}: {check.detail}")
    lines += [f"  note: {note}" for note in outcome.notes]
    return "\n".join(lines)
