"""Words for the bench's posts, drawn by their real frequency in French and English.

The frequencies are wordfreq's "large" lists (``wordfreq.get_frequency_dict``), which ship
inside its wheel: nothing is fetched at run time, and the pinned version (``requirements.lock``)
fixes the lists. Each list keeps its most frequent words written in Latin letters (with an
inner apostrophe or hyphen: "aujourd'hui", "peut-être"); numbers, emoji and other scripts are
left out. Words are drawn independently, each with its frequency as weight, so the text follows
the language's Zipf curve: a few words are in nearly every post, most are rare, and the
vocabulary of the forum keeps growing with its size (a word of frequency 1e-7 is seen about
once in 10 million words: 200,000 posts hold about 28 million).

Every draw comes from the caller's ``random.Random``: the same seed gives the same text.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import cache
from itertools import accumulate

LIST_SIZES = {"fr": 200_000, "en": 100_000}
"""How many of each language's most frequent words are drawn from (the French list, after
filtering, holds about 290,000; English posts are a tenth of the forum)."""

_LATIN_WORD = re.compile(r"[a-zà-öø-ÿœæ]+(?:['-][a-zà-öø-ÿœæ]+)*")

ELIDED = frozenset({"c", "d", "j", "l", "m", "n", "qu", "s", "t", "jusqu", "lorsqu", "puisqu"})
"""French words wordfreq counts without their apostrophe ("l'", "qu'"): written glued to the
next word, as French does."""


@dataclass(frozen=True)
class Vocabulary:
    lang: str
    words: list[str]
    """Most frequent first."""
    cum_weights: list[float]

    def draw(self, rng: random.Random, count: int) -> list[str]:
        return rng.choices(self.words, cum_weights=self.cum_weights, k=count)

    def phrase(self, rng: random.Random, low: int, high: int) -> str:
        """``low`` to ``high`` words (fewer when an elided one has to go), sometimes a comma."""
        drawn = self.draw(rng, rng.randint(low, high))
        if self.lang == "fr":
            drawn = _elide(drawn)
        parts: list[str] = []
        for index, word in enumerate(drawn):
            if parts and parts[-1].endswith("'"):
                parts[-1] += word
            else:
                parts.append(word)
            if word in ELIDED and self.lang == "fr":
                parts[-1] += "'"
            elif 2 < index < len(drawn) - 2 and rng.random() < 0.06:
                parts[-1] += ","
        return " ".join(parts)

    def sentence(self, rng: random.Random, low: int = 5, high: int = 22) -> str:
        """A phrase with a capital first letter and a full stop, sometimes a question
        (French puts a space before "?")."""
        text = self.phrase(rng, low, high)
        end = "?" if rng.random() < 0.1 else "."
        if end == "?" and self.lang == "fr":
            end = " ?"
        return text[:1].upper() + text[1:] + end


def _elide(drawn: list[str]) -> list[str]:
    """An elided word ("l", "qu") is written before the next word, never before another
    elided one nor at the end: those are left out."""
    kept = [word for word, following in zip(drawn, drawn[1:] + [""], strict=True)
            if word not in ELIDED or (following and following not in ELIDED)]
    return kept or drawn[:1]


def _words(lang: str, size: int) -> list[tuple[str, float]]:
    from wordfreq import get_frequency_dict

    frequencies = get_frequency_dict(lang, wordlist="large")
    kept = sorted(((word, freq) for word, freq in frequencies.items()
                   if _LATIN_WORD.fullmatch(word)), key=lambda item: (-item[1], item[0]))
    if lang == "en":  # wordfreq folds case: "i", "i'm"
        kept = [("I" + word[1:] if word == "i" or word.startswith("i'") else word, freq)
                for word, freq in kept]
    return kept[:size]


@cache
def vocabulary(lang: str) -> Vocabulary:
    """The drawing list of ``lang`` ("fr" or "en"), built once per process."""
    pairs = _words(lang, LIST_SIZES[lang])
    return Vocabulary(lang, [word for word, _ in pairs],
                      list(accumulate(freq for _, freq in pairs)))
