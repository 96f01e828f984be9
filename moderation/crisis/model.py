"""The learned stage of the crisis screen: a small head over n-grams and sentence vectors.

Inference is numpy only. The head is trained by ``moderation/crisis/train.py`` (``make
crisis-model``) from the committed corpus and stored as plain arrays and JSON (no pickle):
``moderation/data/crisis_head.npz`` and ``crisis_head.json``, the latter with the SHA-256 of the
corpus it was trained on and the thresholds chosen on the corpus's development split.

How a text is scored
--------------------
1. It is cut into units (sentences, or windows of a very long sentence; ``features.units``).
2. Every unit gets the **n-gram head**'s probabilities (none, concern, urgent): a multinomial
   logistic regression over hashed character and stemmed-word n-grams. It is cheap (about
   0.1 ms a sentence), so it reads every unit.
3. The units the n-gram head finds most worrying, up to a budget of encoder pieces
   (``TOKEN_BUDGET``), are encoded by the sentence encoder (``encoder.py``) and read twice:
   by the **vector head** (networks of one hidden layer, averaged), and by **neighbours**:
   the labels of the ``NEAREST`` most similar labelled units of the training files (cosine in
   a 128-dimension projection of the vectors, weighted by similarity). A unit's
   probabilities are the mean of the three; a unit left out by the budget keeps the n-gram
   head's alone. Every unit of an ordinary post fits the budget; only very long posts are read
   this way, so the cost stays bounded.
4. A text of several units is also read **as a whole** by the n-gram head (trained on whole
   posts too): what no single sentence says can show in the post. The text's crisis score is
   the highest of its units' and the whole's (one crisis sentence in a long ordinary post is
   found), its urgent score that one's share of "urgent".
5. The three labelled examples nearest to that unit (cosine of sentence vectors) are returned,
   so a moderator can see what the model compared the text with.
"""

from __future__ import annotations

import json
import math
import threading
from array import array
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from moderation.crisis import features
from moderation.crisis.encoder import SentenceEncoder

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
HEAD_ARRAYS = DATA_DIR / "crisis_head.npz"
HEAD_META = DATA_DIR / "crisis_head.json"
HEAD_FORMAT = 2
"""1: one network over the sentence vectors; 2 (2026-12-06): several, stacked and averaged."""

TOKEN_BUDGET = 128
"""Encoder pieces read per text at most (about 6–8 ms on one core: the largest part of a
2,000-character post's 20 ms budget). 160 until 2026-12-07: 128 changes no answer on the
development file and no figure on the holdout and stress files; docs/SAFETY.md."""
MAX_UNITS = 400
"""Units read per text at most: 20,000 characters are about 250 sentences."""
NEIGHBOURS = 3
"""Labelled examples shown to moderators."""
NEAREST = 20
"""Labelled examples whose labels vote for a unit."""
SHARPNESS = 20.0
"""How fast a neighbour's vote falls with its distance: weight = exp(SHARPNESS × (cos − 1))."""


class HeadUnavailable(RuntimeError):
    """The head files are missing or do not match this code."""


@dataclass(frozen=True)
class Thresholds:
    """Chosen on the development split (``train.py``); see docs/SAFETY.md."""

    pause: float
    line: float
    watch: float
    urgent: float


@dataclass(frozen=True)
class Neighbour:
    """A labelled example close to the text, shown to moderators."""

    text: str
    label: str
    similarity: float


@dataclass(frozen=True)
class ModelScore:
    """What the learned stage says of a text."""

    crisis: float
    """Probability that the most worrying unit is a crisis (concern or urgent)."""
    urgent: float
    """That unit's probability of being urgent."""
    unit: str = ""
    """The most worrying unit, as written ("" when it is the text as a whole)."""
    neighbours: tuple[Neighbour, ...] = field(default=())
    encoded_units: int = 0
    units: int = 0


NO_SCORE = ModelScore(0.0, 0.0)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def ngram_vector(counts: dict[int, float]) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of a unit's n-gram features: log counts, L2-normalised."""
    if not counts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    indices = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
    values = np.log1p(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))
    norm = math.sqrt(float(np.dot(values, values)))
    return indices, values / norm if norm else values


class CrisisModel:
    """The loaded head. ``score(text)`` is thread-safe (it only reads the arrays)."""

    _shared: CrisisModel | None = None
    _lock = threading.Lock()

    def __init__(self, arrays: dict[str, np.ndarray], info: dict[str, object],
                 encoder: SentenceEncoder | None = None) -> None:
        """A head from its arrays and metadata (``CrisisModel.load()`` reads them from files)."""
        try:
            self.ngram_weights = arrays["ngram_weights"].astype(np.float32)
            self.ngram_bias = arrays["ngram_bias"].astype(np.float32)
            self.hidden_weights = arrays["hidden_weights"].astype(np.float32)
            self.hidden_bias = arrays["hidden_bias"].astype(np.float32)
            self.out_weights = arrays["out_weights"].astype(np.float32)
            self.out_bias = arrays["out_bias"].astype(np.float32)
            self.projection = arrays["projection"].astype(np.float32)
            self.projection_mean = arrays["projection_mean"].astype(np.float32)
            self.examples = arrays["examples"].astype(np.float32)
            self.example_labels = arrays["example_labels"].astype(np.int64)
            if (info.get("format") != HEAD_FORMAT
                    or self.ngram_weights.shape[0] != features.HASH_SIZE
                    or self.hidden_weights.ndim != 3):
                raise ValueError("written for another version of the code")
            self.thresholds = Thresholds(**info["thresholds"])  # type: ignore[arg-type]
            self.labels: list[str] = list(info["labels"])  # type: ignore[call-overload]
            self.example_texts: list[str] = list(info["example_texts"])  # type: ignore[call-overload]
            self.data_hash = str(info["data_hash"])
        except (KeyError, TypeError, ValueError) as error:
            raise HeadUnavailable(f"the crisis head is not usable: {error}") from error
        self.info = info
        self._encoder = encoder

    @classmethod
    def load(cls, arrays: Path = HEAD_ARRAYS, meta: Path = HEAD_META,
             encoder: SentenceEncoder | None = None) -> CrisisModel:
        try:
            info = json.loads(meta.read_text(encoding="utf-8"))
            with np.load(arrays, allow_pickle=False) as packed:
                loaded = {name: packed[name] for name in packed.files}
        except (OSError, ValueError) as error:
            raise HeadUnavailable(f"cannot read the crisis head: {error}") from error
        return cls(loaded, info, encoder)

    @classmethod
    def shared(cls) -> CrisisModel:
        """The process's head, loaded on first use."""
        with cls._lock:
            if cls._shared is None:
                cls._shared = cls.load()
            return cls._shared

    @property
    def encoder(self) -> SentenceEncoder:
        if self._encoder is None:
            self._encoder = SentenceEncoder.shared()
        return self._encoder

    # -- heads -------------------------------------------------------------------------------

    def ngram_probabilities(self, keys: list[array[int]]) -> np.ndarray:
        """All units at once, from their ``features.ngram_keys``: each unit's distinct keys and
        counts (one sort of every key), its ``ngram_vector`` values, and the weight rows they
        select summed per unit (one gather, one sum per label)."""
        count = len(keys)
        sizes = np.fromiter(map(len, keys), dtype=np.int64, count=count)
        logits = np.tile(self.ngram_bias.astype(np.float64), (count, 1))
        if not sizes.sum():
            return _softmax(logits)
        flat = np.concatenate([np.frombuffer(unit, dtype=np.int32) for unit in keys if unit])
        owned = np.repeat(np.arange(count, dtype=np.int64), sizes) << features.HASH_BITS
        distinct, counts = np.unique(owned | flat, return_counts=True)
        owners = distinct >> features.HASH_BITS
        values = np.log1p(counts.astype(np.float64))
        values /= np.sqrt(np.bincount(owners, weights=values * values, minlength=count))[owners]
        rows = self.ngram_weights[distinct & (features.HASH_SIZE - 1)]
        for label in range(logits.shape[1]):
            logits[:, label] += np.bincount(owners, weights=rows[:, label] * values,
                                            minlength=count)
        return _softmax(logits)

    def vector_probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """The vector head's probabilities: the mean of its networks' (one hidden layer each,
        their weights stacked on the first axis)."""
        hidden = np.maximum(vectors @ self.hidden_weights + self.hidden_bias[:, None, :], 0)
        return _softmax(hidden @ self.out_weights + self.out_bias[:, None, :]).mean(axis=0)

    def project(self, vectors: np.ndarray) -> np.ndarray:
        """Sentence vectors in the examples' space: centred, projected, unit length."""
        projected = (vectors - self.projection_mean) @ self.projection
        norms = np.sqrt(np.einsum("ij,ij->i", projected, projected))
        return projected / np.maximum(norms, 1e-9)[:, None]

    def similarities(self, projected: np.ndarray) -> np.ndarray:
        """Cosine of each projected vector with every labelled example (one row per vector);
        computed once per text, for the vote and for the examples shown to moderators.

        Multiplied as examples × vectors, then transposed: for a few vectors against
        thousands of examples, BLAS then reads the examples as they lie instead of first
        copying all of them into its own layout (for nine sentences, about a third of the
        time)."""
        return (self.examples @ projected.T).T

    def neighbour_probabilities(self, similarities: np.ndarray) -> np.ndarray:
        """Each row's label shares among its NEAREST examples, weighted by similarity."""
        nearest = highest(similarities, min(NEAREST, similarities.shape[1]))
        weights = np.exp(SHARPNESS * (np.take_along_axis(similarities, nearest, axis=1) - 1))
        labels = self.example_labels[nearest]
        votes = np.stack([(weights * (labels == c)).sum(axis=1)
                          for c in range(len(self.labels))], axis=1)
        return votes / np.maximum(votes.sum(axis=1, keepdims=True), 1e-12)

    def neighbours(self, similarities: np.ndarray) -> tuple[Neighbour, ...]:
        """The NEIGHBOURS labelled examples nearest to one vector, from its row of
        ``similarities``."""
        nearest = highest(similarities[None, :], min(NEIGHBOURS, len(similarities)))[0]
        nearest = nearest[np.argsort(-similarities[nearest])]
        return tuple(
            Neighbour(self.example_texts[i], self.labels[int(self.example_labels[i])],
                      round(float(similarities[i]), 3))
            for i in nearest
        )

    # -- scoring -----------------------------------------------------------------------------

    def score(self, text: str, *, explain: bool = False) -> ModelScore:
        """The crisis and urgent scores of *text*; with ``explain``, the nearest examples."""
        pieces = features.units(features.plain(text), limit=MAX_UNITS)
        if not pieces:
            return NO_SCORE
        unit_texts = [piece.text for piece in pieces]
        unit_keys, whole_keys = features.ngram_keys_of_units(unit_texts)
        several = len(unit_texts) > 1
        # The text as a whole is read with its units, as one more row (last): its keys are
        # theirs, so the weight rows are read from memory once.
        probabilities = self.ngram_probabilities(
            [*unit_keys, whole_keys] if several else unit_keys)
        whole = probabilities[-1:] if several else None
        probabilities = probabilities[:-1] if several else probabilities
        order = np.argsort(-(1.0 - probabilities[:, 0]), kind="stable")
        chosen: list[int] = []
        spent = 0
        for index in order:
            cost = _estimated_pieces(unit_texts[int(index)])
            if chosen and spent + cost > TOKEN_BUDGET:
                continue
            chosen.append(int(index))
            spent += cost
        vectors = self.encoder.encode([unit_texts[i] for i in chosen])
        similarities = self.similarities(self.project(vectors))
        probabilities[chosen] = (probabilities[chosen] + self.vector_probabilities(vectors)
                                 + self.neighbour_probabilities(similarities)) / 3
        if whole is not None:  # the text as a whole, last
            probabilities = np.concatenate([probabilities, whole])
        crisis = 1.0 - probabilities[:, 0]
        top = int(np.argmax(crisis))
        urgent_index = self.labels.index("urgent")
        neighbours: tuple[Neighbour, ...] = ()
        if explain and top in chosen:
            neighbours = self.neighbours(similarities[chosen.index(top)])
        return ModelScore(
            crisis=round(float(crisis[top]), 4),
            urgent=round(float(probabilities[top, urgent_index] / max(crisis[top], 1e-9)), 4),
            unit=unit_texts[top] if top < len(unit_texts) else "", neighbours=neighbours,
            encoded_units=len(chosen), units=len(unit_texts),
        )


def highest(scores: np.ndarray, count: int, block: int = 32) -> np.ndarray:
    """The columns of each row's ``count`` highest scores (floats), in no order (among equal
    scores, any): the same as ``np.argpartition(scores, width - count, axis=1)[:, -count:]``,
    in a third of its time on rows of thousands of similarities.

    Each row is read in blocks of ``block`` columns: every score among the row's ``count``
    highest lies in one of the ``count`` blocks whose maxima are highest (a block outside them
    has ``count`` blocks above it, each holding a score at least as high as its best one), or
    in the columns after the last whole block, so only those are searched."""
    rows, width = scores.shape
    if width <= 4 * count * block:
        return np.argpartition(scores, width - count, axis=1)[:, width - count:]
    whole = width // block * block
    maxima = np.maximum.reduceat(scores[:, :whole], np.arange(0, whole, block), axis=1)
    blocks = np.argpartition(maxima, maxima.shape[1] - count, axis=1)[:, maxima.shape[1] - count:]
    columns = (blocks[:, :, None] * block + np.arange(block)).reshape(rows, count * block)
    if whole < width:  # the columns after the last whole block are always searched
        rest = np.broadcast_to(np.arange(whole, width), (rows, width - whole))
        columns = np.concatenate([columns, rest], axis=1)
    values = np.take_along_axis(scores, columns, axis=1)
    kept = columns.shape[1]
    best = np.argpartition(values, kept - count, axis=1)[:, kept - count:]
    return np.take_along_axis(columns, best, axis=1)


def _estimated_pieces(text: str) -> int:
    """About how many encoder pieces a text makes (French and English: ~3.5 characters)."""
    return 2 + math.ceil(len(text) / 3.5)
