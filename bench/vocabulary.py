"""Search on the forum's own vocabulary, in process (``make bench`` runs it after the pages).

The ten bench searches are chosen words; issue 20 asks for 200 queries drawn from the
vocabulary as people would type them. :func:`queries` draws them, with a fixed seed, from the
same frequency lists the dataset's posts were written with (``bench/words.py``), in four kinds
of fifty:

- ``common``: one word among the 2,000 most frequent (in a large share of the posts);
- ``rare``: one word ranked 20,000 to 200,000 (in a handful of posts, or none);
- ``prefix``: the first 3 to 6 letters of a word ranked 100 to 20,000 (``forum.search`` asks
  the words it starts, at most ``MAX_PREFIX_WORDS``);
- ``phrase``: 3 to 8 words drawn by frequency, as a sentence is.

Each query runs once through ``forum.search.search`` as the search page runs it (a visitor,
the first page, the settings' time budget), on a reader session of the run's database, one
after another. Reported: p50, p95 and the slowest per kind and overall, how many took more
than 250 ms, how each kind was ordered (``bm25``, or title then recency for words too common
to rank within ``RANK_BUDGET``), and how many the budget cut short (newest first, or nothing).
"""

from __future__ import annotations

import asyncio
import math
import random
import statistics
import time
from typing import Any

from bench.words import vocabulary

KINDS = ("common", "rare", "prefix", "phrase")
PER_KIND = 50
SEED = 20
SLOW_MS = 250.0
TARGET_P95_MS = 50.0


def queries(seed: int = SEED) -> list[tuple[str, str]]:
    """``(kind, query)`` pairs, 50 of each kind, French (English for one in ten)."""
    rng = random.Random(seed)
    drawn: list[tuple[str, str]] = []
    for kind in KINDS:
        for _ in range(PER_KIND):
            words = vocabulary("en" if rng.random() < 0.1 else "fr")
            if kind == "common":
                query = rng.choice(words.words[:2_000])
            elif kind == "rare":
                query = rng.choice(words.words[20_000:200_000])
            elif kind == "prefix":
                word = rng.choice([w for w in words.words[100:20_000] if len(w) >= 5])
                query = word[: rng.randint(3, min(6, len(word) - 1))] + "*"
            else:
                query = words.phrase(rng, 3, 8).replace(",", "")
            drawn.append((kind, query))
    return drawn


def _summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"p50_ms": round(statistics.median(ordered), 1),
            "p95_ms": round(ordered[math.ceil(len(ordered) * 0.95) - 1], 1),  # nearest rank
            "max_ms": round(ordered[-1], 1)}


async def _run(database_url: str) -> dict[str, Any]:
    from forum import search
    from forum.config import Settings
    from forum.db import Database

    budget = Settings(env="production", database_url=database_url, secret_key="b" * 48,
                      base_url="http://bench.local").validated().search_budget_ms
    database = Database(database_url)
    by_kind: dict[str, list[float]] = {kind: [] for kind in KINDS}
    orderings: dict[str, dict[str, int]] = {kind: {} for kind in KINDS}
    cut_short = 0
    slowest: tuple[float, str] = (0.0, "")
    try:
        async with database.reader() as session:  # warm: the first statement opens the file
            await search.search(session, None, "bonjour", budget_ms=budget)
        for kind, query in queries():
            async with database.reader() as session:
                started = time.perf_counter()
                results = await search.search(session, None, query, budget_ms=budget)
                elapsed = (time.perf_counter() - started) * 1000
            by_kind[kind].append(elapsed)
            slowest = max(slowest, (elapsed, query))
            orderings[kind][str(results.ordering)] = orderings[kind].get(
                str(results.ordering), 0) + 1
            if results.gave_up or results.ordering == search.Ordering.NEWEST:
                cut_short += 1
    finally:
        await database.dispose()
    every = [t for times in by_kind.values() for t in times]
    return {
        "queries": len(every), "budget_ms": budget, **_summary(every),
        "over_250_ms": sum(t > SLOW_MS for t in every), "cut_short_by_budget": cut_short,
        "slowest_query": slowest[1],
        "kinds": {kind: {**_summary(times), "ordered_by": orderings[kind]}
                  for kind, times in by_kind.items()},
        "target_p95_ms": TARGET_P95_MS, "target_max_ms": SLOW_MS,
    }


def measure(database_url: str) -> dict[str, Any]:
    return asyncio.run(_run(database_url))


def report(result: dict[str, Any]) -> str:
    lines = [f"search on the vocabulary ({result['queries']} queries, in process, budget "
             f"{result['budget_ms']} ms): p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms "
             f"(target {TARGET_P95_MS:.0f}), slowest {result['max_ms']} ms "
             f"({result['slowest_query']!r}); over 250 ms: {result['over_250_ms']}, cut short "
             f"by the budget: {result['cut_short_by_budget']}"]
    for kind, figures in result["kinds"].items():
        lines.append(f"  {kind:<8} p50 {figures['p50_ms']:>7} ms  p95 {figures['p95_ms']:>7} ms"
                     f"  max {figures['max_ms']:>7} ms  ordered by {figures['ordered_by']}")
    return "\n".join(lines)
