"""What the learned stage reads of a text: its units, and hashed n-grams of each.

A post is read as a whole and as *units*: its sentences (and, for a very long sentence, windows
of words), so that one crisis sentence inside a long ordinary post is scored on its own. Each
unit is described by hashed character n-grams of its folded words (typos, SMS spellings and
missing accents share most of them) and by stemmed word unigrams and bigrams (French and
English Snowball stemmers, PyStemmer). Hashing keeps the vocabulary out of the model files:
an index is ``crc32(feature) mod HASH_SIZE``, the same at training and at inference.

Pure Python and the standard library, plus PyStemmer; no numpy here (the caller builds arrays).
"""

from __future__ import annotations

import functools
import re
import zlib
from array import array
from collections import Counter
from dataclasses import dataclass

import Stemmer

from moderation.crisis.lexicon import fold

HASH_BITS = 18
HASH_SIZE = 1 << HASH_BITS
CHAR_NGRAMS = (2, 3, 4, 5)
MAX_UNIT_WORDS = 40
"""A sentence longer than this is read as overlapping windows of WINDOW_WORDS words."""
WINDOW_WORDS = 30
WINDOW_STEP = 20
MAX_UNIT_CHARS = 600
"""No unit is longer than this (a window of very long "words" is cut)."""

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+|(?<=[.!?…])(?=[A-ZÀ-Ý])")
# Bounded repetitions only: a line of 20,000 "[" must cost a linear time, not a quadratic one.
_MARKDOWN = re.compile(
    r"^\s{0,3}(?:>{1,10}|[-*+]\s|\d{1,9}[.)]\s|#{1,6}\s)|[*_`~]{1,3}"
    r"|!?\[([^\[\]\n]{0,300})\]\([^()\n]{0,600}\)")
_WORD = re.compile(r"\w+")

_STEMMERS = (Stemmer.Stemmer("french"), Stemmer.Stemmer("english"))


@dataclass(frozen=True)
class Unit:
    """A piece of a text that is scored on its own: its text and where it starts and ends."""

    text: str
    start: int
    end: int


def plain(text: str) -> str:
    """The text without Markdown markup (quotes, emphasis, list marks; a link keeps its words)."""
    return "\n".join(_MARKDOWN.sub(lambda m: m.group(1) or " ", line)
                     for line in text.splitlines())


def units(text: str, *, limit: int | None = None) -> list[Unit]:
    """The sentences of *text* (windows of words for very long ones), in order.

    ``limit``: at most this many units (the first ones), so a huge post costs a bounded time.
    """
    found: list[Unit] = []
    position = 0
    for end_match in [*_SENTENCE_END.finditer(text), None]:
        end = end_match.start() if end_match is not None else len(text)
        next_start = end_match.end() if end_match is not None else len(text)
        piece = text[position:end]
        if piece.strip():
            found.extend(_windows(piece, position))
        position = next_start
        if limit is not None and len(found) >= limit:
            return found[:limit]
    return found


def _windows(sentence: str, offset: int) -> list[Unit]:
    words = list(_WORD.finditer(sentence))
    if len(words) <= MAX_UNIT_WORDS and len(sentence) <= MAX_UNIT_CHARS:
        stripped = sentence.strip()
        start = offset + sentence.index(stripped[0]) if stripped else offset
        return [Unit(stripped, start, start + len(stripped))]
    windows = []
    for first in range(0, max(1, len(words) - WINDOW_WORDS + WINDOW_STEP), WINDOW_STEP):
        chosen = words[first : first + WINDOW_WORDS]
        if not chosen:
            break
        start = chosen[0].start()
        end = min(chosen[-1].end(), start + MAX_UNIT_CHARS)  # a "word" of 20,000 letters
        windows.append(Unit(sentence[start:end], offset + start, offset + end))
    return windows


def _hash(feature: str) -> int:
    return zlib.crc32(feature.encode("utf-8")) & (HASH_SIZE - 1)


WORD_CACHE = 16_384
"""Words whose features are kept once computed (most words of a forum are common ones). Kept
as packed 32-bit keys: about 0.7 KB a word with its stems, where tuples of Python ints took
1.5 KB (a full cache of 32,768 words was about 50 MB of a worker's memory; now about 12)."""
PAIR_CACHE = 16_384
"""Pairs of consecutive words (their stems) whose keys are kept once computed."""


def ngram_counts(text: str) -> dict[int, float]:
    """Hashed n-gram counts of one unit: character n-grams inside each padded folded word
    ("c:" prefix), stemmed words and pairs of stemmed words ("w:" and "b:")."""
    return Counter(ngram_keys(text))  # type: ignore[return-value]  # int counts


def ngram_keys(text: str) -> array[int]:
    """The hashed n-grams of one unit, each as often as it occurs (``ngram_counts`` counts
    them): its words' keys in turn, then its pairs'."""
    read = _read(text)
    return read.word_keys + read.pair_keys


def ngram_keys_of_units(texts: list[str]) -> tuple[list[array[int]], array[int]]:
    """Each unit's ``ngram_keys``, and those of the units joined by spaces (the whole text),
    equal to ``ngram_keys(" ".join(texts))`` in the same order, without reading every word a
    second time: the whole's word keys are the units' in turn, and its pairs are the units'
    inner pairs joined by the pairs across each boundary (a space never joins two words)."""
    reads = [_read(text) for text in texts]
    word_keys = array("i")
    pair_keys = array("i")
    previous: tuple[str, ...] = ("<s>",)
    for read in reads:
        word_keys.extend(read.word_keys)
        if not read.first:
            continue  # no word: its only pair is ("<s>", "</s>"), not part of the whole
        pair_keys.extend(_pair_keys(previous, read.first))
        pair_keys.extend(read.pair_keys[len(read.first) : len(read.pair_keys) - len(read.last)])
        previous = read.last
    pair_keys.extend(_pair_keys(previous, ("</s>",)))
    return [read.word_keys + read.pair_keys for read in reads], word_keys + pair_keys


@dataclass(frozen=True)
class _Read:
    """One unit's keys in the order ``ngram_keys`` lists them, with the stems of its first
    and last words (empty when it has no word)."""

    word_keys: array[int]
    pair_keys: array[int]
    first: tuple[str, ...]
    last: tuple[str, ...]


def _read(text: str) -> _Read:
    words = _WORD.findall(fold(text))
    word_keys = array("i")
    for word in words:
        word_keys.extend(_word_keys(word))
    stems = [_stems(word) for word in words]
    pair_keys = array("i")
    previous: tuple[str, ...] = ("<s>",)
    for current in stems:
        pair_keys.extend(_pair_keys(previous, current))
        previous = current
    pair_keys.extend(_pair_keys(previous, ("</s>",)))
    return _Read(word_keys, pair_keys, stems[0] if stems else (), stems[-1] if stems else ())


@functools.lru_cache(maxsize=PAIR_CACHE)
def _pair_keys(left: tuple[str, ...], right: tuple[str, ...]) -> array[int]:
    """The keys of every pair of a stem of one word and a stem of the next, in order."""
    return array("i", [_pair_key(one, other) for one in left for other in right])


def _pair_key(left: str, right: str) -> int:
    return _hash(f"b:{left} {right}")


@functools.lru_cache(maxsize=WORD_CACHE)
def _word_keys(word: str) -> array[int]:
    """The hashed character n-grams and stems of one folded word."""
    padded = f" {word} "
    keys = array("i", [_hash("c:" + padded[index : index + size])
                       for size in CHAR_NGRAMS for index in range(len(padded) - size + 1)])
    keys.extend(_hash("w:" + stem) for stem in _stems(word))
    return keys


@functools.lru_cache(maxsize=WORD_CACHE)
def _stems(word: str) -> tuple[str, ...]:
    french, english = (stemmer.stemWord(word) for stemmer in _STEMMERS)
    return (french,) if french == english else (french, english)


