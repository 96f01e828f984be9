"""What the crisis screen costs per post, in process, on one core (``make bench`` runs it).

``REPEATS`` posts of about 200, 2,000 and 20,000 characters are made by joining ordinary
posts of the training corpus (the screen's cost depends on length more than on the words; at
20,000 characters the corpus runs out and its posts come round again; the tokenizer remembers
words, so it cuts most of these from memory, as it does a forum's common words: a post of
words it has never seen costs up to about 1 ms more at 2,000 characters), and each is screened
once as the forum screens them (both stages, the nearest examples found), after one warm-up
call that loads the encoder. Run in a child process with one BLAS thread, so the
figure is one core's. Prints and returns p50 and p95 in milliseconds, the peak RSS of that
process (the encoder and the head loaded, nothing else of the forum), and the budgets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

SIZES = (200, 2_000, 20_000)
BUDGET_MS = {200: 20.0, 2_000: 20.0, 20_000: 100.0}
REPEATS = 200
"""Posts of each length. 40 until 2026-12-07: their p95 was the second slowest of 40, which one
hiccup of a shared machine could decide (the same code's p95 moved by 5 ms between runs)."""


def _texts(size: int, count: int) -> list[str]:
    from moderation.crisis.corpus import read_corpus

    posts = [row.text for row in read_corpus() if row.kind == "post" and not row.crisis]
    texts: list[str] = []
    start = 0
    for _ in range(count):
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < size:
            parts.append(posts[start % len(posts)])
            start += 1
        texts.append(" ".join(parts)[:size])
    return texts


def _measure() -> dict[str, Any]:
    import time

    from moderation.crisis import load_screen

    screen = load_screen()
    screen.assess("Bonjour, je suis nouvelle ici.")  # loads the encoder
    figures: dict[str, Any] = {}
    for size in SIZES:
        timings = []
        for text in _texts(size, REPEATS):
            began = time.perf_counter()
            screen.assess(text)
            timings.append((time.perf_counter() - began) * 1000)
        timings.sort()
        figures[str(size)] = {"p50_ms": round(timings[len(timings) // 2], 2),
                              "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 2),
                              "budget_ms": BUDGET_MS[size]}
    with open("/proc/self/status") as status:
        peak = next(line for line in status if line.startswith("VmHWM"))
    figures["peak_rss_mb"] = round(int(peak.split()[1]) / 1024, 1)
    return figures


def measure() -> dict[str, Any]:
    """The figures, measured in a child process on one BLAS thread."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    completed = subprocess.run(  # noqa: S603 - our own module
        [sys.executable, "-m", "bench.crisis", "--child"], env=env, capture_output=True,
        text=True, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def report(figures: dict[str, Any]) -> str:
    lines = ["crisis screen, per post, one core:"]
    for size in SIZES:
        row = figures[str(size)]
        verdict = "within" if row["p95_ms"] <= row["budget_ms"] else "OVER"
        lines.append(f"  {size:>6,} characters: p50 {row['p50_ms']:.1f} ms, p95 "
                     f"{row['p95_ms']:.1f} ms ({verdict} the {row['budget_ms']:.0f} ms budget)")
    lines.append(f"  peak RSS of the screening process: {figures['peak_rss_mb']} MB")
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        print(json.dumps(_measure()))
    else:
        print(report(measure()))
