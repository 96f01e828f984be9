"""What hostile posts cost the watched words and Markdown, before and after issue 16.

``python -m bench.hostile`` prints, for posts at the body limit (20,000 characters):

* the shipped watched words as they were (Python's ``re``, patterns of the forum before issue
  16) and as they are (RE2 on folded text, ``moderation.rules.matches``);
* an admin's ``(a+)+$`` on Python's ``re`` (a few dozen characters: it doubles per character)
  and on RE2 (20,000 characters);
* ``render_markdown`` with markdown-it's own inline linkify rule and with the bounded one.

Each figure is the best CPU time (``time.process_time``) of ``REPEATS`` runs, in
milliseconds, so that other processes on a shared machine count as little as possible. Python
``re`` runs that would take more than a few seconds are skipped (shown as "-").
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from moderation import rules, sanitize

BODY_LIMIT = 20_000
REPEATS = 3

OLD_PATTERNS = {
    "phone number": r"(?<![\d+])(?:\+\d{2,3}[\s.-]?|0)[1-9](?:[\s.-]?\d{2}){4}(?!\d)",
    "e-mail address": r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
    "street address": r"\b\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?:rue|avenue|av\.|boulevard|bd|chemin"
                      r"|all[ée]e|impasse|place|route|quai|street|road)\b",
    "medication and quantity": r"\b\d+\s*(?:comprim[ée]s?|cachets?|pilules?|g[ée]lules?"
                               r"|bo[iî]tes?|plaquettes?|mg|milligrammes?|pills?|tablets?)\b",
    "method phrasing": r"\b(?:comment|how\s+to|la\s+meilleure\s+fa[çc]on\s+de)\s+(?:se|me|te"
                       r"|to)\s+(?:pendre|tuer|suicider|kill|hang)\b",
}
"""The shipped watched words until issue 16 (moderation/data/watched_words.json)."""

WATCHED_UNITS = {"word characters": "a", "digits": "1", "accented letters": "é",
                 "digits and spaces": "1 ", "ordinary prose": "Un jour après l'autre. "}
MARKDOWN_UNITS = {"x://": "x://", "://": "://", "http:// + space": "http:// ",
                  "http://w.": "http://w.", "a×15,000 then x://": "",
                  "fuzzy links (a.co )": "a.co ", "[": "[", "![": "![",
                  "ordinary prose with links": "Voir https://example.org/page et www.ex.fr ! "}


def fill(unit: str, size: int = BODY_LIMIT) -> str:
    return (unit * (size // len(unit) + 1))[:size]


def best_ms(function: Callable[[], object], repeats: int = REPEATS) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        function()
        best = min(best, time.process_time() - start)
    return best * 1000


def watched_words() -> list[tuple[str, float, float]]:
    old = [re.compile(p, re.IGNORECASE) for p in OLD_PATTERNS.values()]
    new = list(rules.default_words())
    rows = []
    for name, unit in WATCHED_UNITS.items():
        text = fill(unit)
        before = best_ms(lambda text=text: [p.search(text) for p in old], 1)
        after = best_ms(lambda text=text: rules.matches(text, new))
        rows.append((name, before, after))
    return rows


def nested_quantifier() -> list[tuple[str, float, float | None]]:
    regex = rules.patterns.compiled(r"(a+)+$")
    rows: list[tuple[str, float, float | None]] = []
    for size in (20, 22, 24):
        text = "a" * size + "!"
        rows.append((f"{size} characters", best_ms(lambda t=text: re.search(r"(a+)+$", t), 1),
                     None))
    text = "a" * BODY_LIMIT + "!"
    rows.append((f"{BODY_LIMIT:,} characters", float("nan"),
                 best_ms(lambda: rules.patterns.search(regex, text))))
    return rows


def markdown() -> list[tuple[str, float, float]]:
    from markdown_it.rules_inline.linkify import linkify as upstream

    def with_rule(rule: Callable[..., bool], text: str) -> float:
        for md in (sanitize._MD, sanitize._MD_INLINE):
            md.inline.ruler.at("linkify", rule)
        try:
            return best_ms(lambda: sanitize.render_markdown(text))
        finally:
            for md in (sanitize._MD, sanitize._MD_INLINE):
                md.inline.ruler.at("linkify", sanitize._linkify)

    rows = []
    for name, unit in MARKDOWN_UNITS.items():
        text = fill(unit) if unit else ("a" * 15_000 + fill("x://", 5_000))
        rows.append((name, with_rule(upstream, text), with_rule(sanitize._linkify, text)))
    return rows


def _ms(value: float | None) -> str:
    if value is None or value != value:  # None or NaN: not measured
        return "-"
    if value < 1:
        return f"{value:.2f}"
    return f"{value:,.1f}" if value < 10 else f"{value:,.0f}"


def main() -> None:
    sanitize.render_markdown("warm up")
    print(f"Watched words, {BODY_LIMIT:,}-character post (ms CPU): before (re) | after (RE2)")
    for name, before, after in watched_words():
        print(f"  {name:28} {_ms(before):>8} | {_ms(after):>6}")
    print("Admin pattern (a+)+$ on 'a'×n + '!' (ms CPU): Python re | RE2")
    for name, before, after in nested_quantifier():
        print(f"  {name:28} {_ms(before):>8} | {_ms(after):>6}")
    print(f"render_markdown, {BODY_LIMIT:,} characters (ms CPU): markdown-it's linkify | bounded")
    for name, before, after in markdown():
        print(f"  {name:28} {_ms(before):>8} | {_ms(after):>6}")


if __name__ == "__main__":
    main()
