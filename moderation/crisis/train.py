"""Train the crisis screen's head from the committed corpus: ``make crisis-model``.

Needs the ``train`` extra (scikit-learn); the forum itself never imports this module.

The head learns from two sets of files: the corpus (``crisis_corpus/``, a forum's mix of
crisis and ordinary text) and the near-miss slices (``crisis_extra/``, written to the screen's
weak spot: concern worded without any word of death or harm, with as many ordinary sentences
in the same tone). Both are trained on; only the corpus's mix sets the thresholds (step 3).

1. Every training row is cut into units the way the screen cuts a post. A sentence row is one
   unit with its label; in a crisis post, the units inside the ``[[ ]]`` marks carry the post's
   label and the others are ordinary (``none``), so the head learns what an ordinary sentence
   of a dark post looks like.
2. Three parts are fitted on the units: a multinomial logistic regression over the hashed
   n-grams, ``NETWORKS`` one-hidden-layer networks over the sentence vectors (differing only
   by their seed; their probabilities are averaged, which steadies the head from one training
   to the next), and a 128-dimension
   projection of the vectors for the neighbours' vote (every crisis unit and
   ``ORDINARY_EXAMPLES`` ordinary ones are kept as examples).
3. Thresholds are chosen on development scores that no head has seen: the training rows are
   cut into ``FOLDS`` parts by a hash of each text; each part is scored, through the real
   inference path (``CrisisModel.score``, with its encoder budget) and beside the lexicon, by a
   head fitted on the other parts; the separate development file (``crisis_dev_external.tsv``,
   written by another hand) is scored by the final head, fitted on every training row. The
   thresholds are chosen on the corpus's out-of-fold scores and the development file's, not
   the near-miss slices' (made of near misses on purpose, they would set the thresholds for a
   forum where every ordinary sentence is one; their figures are reported). On those scores:

   * ``pause``: the lowest score at which lexicon-or-model pauses at most ``PAUSE_RATE`` of
     the ordinary real-length posts;
   * ``line``: the lowest at which lexicon-or-model answers at most ``SENTENCE_FP`` of the
     ordinary sentences (a line counts as an answer);
   * ``watch``: at most ``WATCH_RATE`` of ordinary sentences are marked for moderators;
   * ``urgent``: the share of "urgent" in the worrying unit above which a model hit is urgent,
     the lowest that keeps at most ``URGENT_SPILL`` of the concern rows urgent.

4. The arrays go to ``moderation/data/crisis_head.npz``; thresholds, the corpus hash and the
   development figures to ``crisis_head.json``. Same corpus, same code: same head (fixed seeds;
   BLAS may change the last digits of a weight).

The frozen test file is never read here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moderation.crisis import corpus, features
from moderation.crisis.encoder import SentenceEncoder
from moderation.crisis.lexicon import assess
from moderation.crisis.model import HEAD_ARRAYS, HEAD_FORMAT, HEAD_META, CrisisModel, ngram_vector

LABELS = ["none", "concern", "urgent"]
PAUSE_RATE = 0.025
SENTENCE_FP = 0.04
WATCH_RATE = 0.15
URGENT_SPILL = 0.25
ORDINARY_EXAMPLES = 4000
PROJECTED = 128
NGRAM_C = 30.0
"""Inverse regularisation of the n-gram regression (10 until 2026-12-06: 30 ranked one fold,
the development file and the near-miss slices a point or two better; docs/SAFETY.md)."""
NETWORKS = 3
SEED = 20261205
FOLDS = 5


@dataclass(frozen=True)
class TrainingUnit:
    text: str
    label: int
    row: int
    whole: bool = False
    """A whole post: read by the n-gram head only, as the screen reads a post as a whole."""


def training_units(rows: list[corpus.Labelled]) -> list[TrainingUnit]:
    found: list[TrainingUnit] = []
    for index, row in enumerate(rows):
        if row.kind == "sentence":
            found.append(TrainingUnit(row.text, LABELS.index(row.label), index))
            continue
        pieces = features.units(row.text)
        for unit in pieces:
            inside = any(start < unit.end and unit.start < end for start, end in row.marked)
            label = row.label if row.crisis and inside else "none"
            found.append(TrainingUnit(unit.text, LABELS.index(label), index))
        if len(pieces) > 1:
            found.append(TrainingUnit(" ".join(unit.text for unit in pieces),
                                      LABELS.index(row.label), index, whole=True))
    return found


def ngram_matrix(texts: list[str]):  # noqa: ANN201 - scipy.sparse.csr_matrix
    from scipy import sparse

    indices: list[np.ndarray] = []
    values: list[np.ndarray] = []
    pointers = [0]
    for text in texts:
        keys, vals = ngram_vector(features.ngram_counts(text))
        indices.append(keys)
        values.append(vals)
        pointers.append(pointers[-1] + len(keys))
    return sparse.csr_matrix(
        (np.concatenate(values) if values else np.zeros(0, np.float32),
         np.concatenate(indices) if indices else np.zeros(0, np.int64), np.asarray(pointers)),
        shape=(len(texts), features.HASH_SIZE), dtype=np.float32)


def fit_heads(units: list[TrainingUnit], vectors: np.ndarray) -> dict[str, np.ndarray]:
    """``vectors``: one row per unit that is not a whole post, in order."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    ngrams = LogisticRegression(C=NGRAM_C, max_iter=4000, random_state=SEED)
    ngrams.fit(ngram_matrix([unit.text for unit in units]),
               np.asarray([unit.label for unit in units]))
    labels = np.asarray([unit.label for unit in units if not unit.whole])
    networks = []
    for offset in range(NETWORKS):
        network = MLPClassifier(hidden_layer_sizes=(256,), alpha=1e-3, max_iter=400,
                                early_stopping=True, random_state=SEED + offset)
        networks.append(network.fit(vectors, labels))
    if any(list(part.classes_) != [0, 1, 2] for part in (ngrams, *networks)):
        raise SystemExit("the corpus must hold all three labels")

    def stacked(parts: list[np.ndarray]) -> np.ndarray:
        return np.stack(parts).astype(np.float32)

    return {
        "ngram_weights": ngrams.coef_.T.astype(np.float32),
        "ngram_bias": ngrams.intercept_.astype(np.float32),
        "hidden_weights": stacked([network.coefs_[0] for network in networks]),
        "hidden_bias": stacked([network.intercepts_[0] for network in networks]),
        "out_weights": stacked([network.coefs_[1] for network in networks]),
        "out_bias": stacked([network.intercepts_[1] for network in networks]),
    }


def pick_examples(units: list[TrainingUnit]) -> list[int]:
    """Every crisis unit, and ORDINARY_EXAMPLES ordinary ones spread evenly over the corpus
    (the neighbours' votes; fewer rows keep a worker's memory and a vote's cost down).
    Indices into the units that are not whole posts."""
    units = [unit for unit in units if not unit.whole]
    crisis = [i for i, unit in enumerate(units) if unit.label]
    ordinary = [i for i, unit in enumerate(units) if not unit.label]
    step = max(1, len(ordinary) // ORDINARY_EXAMPLES)
    return sorted(crisis + ordinary[::step][:ORDINARY_EXAMPLES])


def fit_projection(vectors: np.ndarray) -> dict[str, np.ndarray]:
    """A principal-component projection of the sentence vectors to PROJECTED dimensions."""
    from sklearn.decomposition import PCA

    pca = PCA(PROJECTED, random_state=SEED).fit(vectors)
    return {"projection": pca.components_.T.astype(np.float32),
            "projection_mean": pca.mean_.astype(np.float32)}


@dataclass(frozen=True)
class Scored:
    row: corpus.Labelled
    lexicon: str
    crisis: float
    urgent: float


def score_rows(model: CrisisModel, rows: list[corpus.Labelled]) -> list[Scored]:
    scored = []
    for row in rows:
        result = model.score(row.text)
        scored.append(Scored(row, assess(row.text, row.lang).level, result.crisis,
                             result.urgent))
    return scored


def lowest_threshold(candidates: list[Scored], rate: float) -> float:
    """The lowest model score at which lexicon-or-model answers at most ``rate`` of them."""
    if not candidates:
        return 1.0
    for threshold in np.round(np.arange(0.05, 1.0001, 0.01), 2):
        answered = sum(s.lexicon != "none" or s.crisis >= threshold for s in candidates)
        if answered / len(candidates) <= rate:
            return float(threshold)
    return 1.01  # the lexicon alone is above the rate: the model never answers on its own


def choose_thresholds(dev: list[Scored]) -> dict[str, float]:
    ordinary_posts = [s for s in dev if s.row.kind == "post" and not s.row.crisis]
    ordinary_sentences = [s for s in dev if s.row.kind == "sentence" and not s.row.crisis]
    pause = lowest_threshold(ordinary_posts, PAUSE_RATE)
    line = min(pause, lowest_threshold(ordinary_sentences, SENTENCE_FP))
    watch = min(line, lowest_threshold(ordinary_sentences, WATCH_RATE))
    concern_hits = [s for s in dev if s.row.label == "concern" and s.crisis >= line]
    urgent = 0.5
    for threshold in np.round(np.arange(0.3, 0.951, 0.01), 2):
        spill = sum(s.urgent >= threshold for s in concern_hits)
        if not concern_hits or spill / len(concern_hits) <= URGENT_SPILL:
            urgent = float(threshold)
            break
    return {"pause": pause, "line": line, "watch": watch, "urgent": urgent}


def dev_figures(dev: list[Scored], thresholds: dict[str, float]) -> dict[str, float]:
    def answered(s: Scored) -> bool:
        return s.lexicon != "none" or s.crisis >= thresholds["line"]

    def rate(items: list[Scored], test) -> float:  # noqa: ANN001
        return round(sum(map(test, items)) / len(items), 4) if items else 0.0

    def urgent(s: Scored) -> bool:
        model_urgent = s.crisis >= thresholds["line"] and s.urgent >= thresholds["urgent"]
        return s.lexicon == "urgent" or (answered(s) and model_urgent)

    sentences = [s for s in dev if s.row.kind == "sentence"]
    posts = [s for s in dev if s.row.kind == "post"]
    return {
        "sentence_flag_recall": rate([s for s in sentences if s.row.crisis], answered),
        "sentence_urgent_recall": rate([s for s in sentences if s.row.label == "urgent"],
                                       urgent),
        "sentence_false_positives": rate([s for s in sentences if not s.row.crisis], answered),
        "post_recall": rate([s for s in posts if s.row.crisis], answered),
        "post_pause_rate": rate(
            [s for s in posts if not s.row.crisis],
            lambda s: s.lexicon != "none" or s.crisis >= thresholds["pause"]),
        "dev_rows": len(dev),
    }


def fold_of(row: corpus.Labelled) -> int:
    digest = hashlib.sha256(row.text.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % FOLDS


def fit(rows: list[corpus.Labelled], encoder: SentenceEncoder,
        cache: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], list[TrainingUnit]]:
    """The head's arrays fitted on *rows* (sentence vectors cached by text across folds)."""
    units = training_units(rows)
    sentences = [unit for unit in units if not unit.whole]
    missing = list({unit.text: None for unit in sentences if unit.text not in cache})
    for text, vector in zip(missing, encoder.encode(missing), strict=True):
        cache[text] = vector
    vectors = np.stack([cache[unit.text] for unit in sentences])
    arrays = {**fit_heads(units, vectors), **fit_projection(vectors)}
    examples = pick_examples(units)
    projected = (vectors[examples] - arrays["projection_mean"]) @ arrays["projection"]
    projected /= np.linalg.norm(projected, axis=1, keepdims=True)
    arrays["examples"] = projected.astype(np.float16)
    arrays["example_labels"] = np.asarray([sentences[i].label for i in examples], dtype=np.int8)
    return arrays, units


def meta_for(units: list[TrainingUnit], files: list[Path]) -> dict[str, object]:
    examples = pick_examples(units)
    sentences = [unit for unit in units if not unit.whole]
    return {
        "format": HEAD_FORMAT,
        "labels": LABELS,
        "data_hash": corpus.data_hash(files),
        "data_files": [path.name for path in files],
        "hash_bits": features.HASH_BITS,
        "example_texts": [sentences[i].text for i in examples],
        "thresholds": {"pause": 1.01, "line": 1.01, "watch": 1.01, "urgent": 0.5},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m moderation.crisis.train",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=corpus.CORPUS_DIR)
    parser.add_argument("--near-misses", type=Path, default=corpus.NEAR_MISS_DIR)
    parser.add_argument("--development", type=Path, default=corpus.DEV_EXTERNAL_PATH)
    parser.add_argument("--arrays", type=Path, default=HEAD_ARRAYS)
    parser.add_argument("--meta", type=Path, default=HEAD_META)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    mix_files = corpus.corpus_files(args.corpus)
    mix = [row for path in mix_files for row in corpus.read_labelled(path)]
    near_files = corpus.corpus_files(args.near_misses)
    near = [row for path in near_files for row in corpus.read_labelled(path)]
    files, rows = mix_files + near_files, mix + near
    external = corpus.read_labelled(args.development) if args.development.exists() else []
    print(f"corpus: {len(mix)} rows in {len(mix_files)} files; near-miss slices: {len(near)} "
          f"rows in {len(near_files)} files; development file: {len(external)} rows",
          flush=True)
    encoder = SentenceEncoder.shared()
    cache: dict[str, np.ndarray] = {}
    out_of_fold: list[Scored] = []
    for fold in range(FOLDS):
        held_out = [row for row in rows if fold_of(row) == fold]
        arrays, units = fit([row for row in rows if fold_of(row) != fold], encoder, cache)
        model = CrisisModel(arrays, meta_for(units, files), encoder=encoder)
        out_of_fold += score_rows(model, held_out)
        print(f"  fold {fold + 1}/{FOLDS}: {len(held_out)} rows scored "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
    arrays, units = fit(rows, encoder, cache)
    meta = meta_for(units, files)
    print(f"final head: {len(units)} units {dict(Counter(LABELS[u.label] for u in units))}")
    from_mix = {id(row) for row in mix}
    mix_scores = [s for s in out_of_fold if id(s.row) in from_mix]
    near_scores = [s for s in out_of_fold if id(s.row) not in from_mix]
    external_scores = score_rows(CrisisModel(arrays, meta, encoder=encoder), external)
    pool = mix_scores + external_scores  # the thresholds' pool: never the near-miss slices
    meta["thresholds"] = choose_thresholds(pool)
    meta["development"] = {
        "corpus (out of fold)": dev_figures(mix_scores, meta["thresholds"]),
        "external file": dev_figures(external_scores, meta["thresholds"]),
        "both": dev_figures(pool, meta["thresholds"]),
        "near-miss slices (out of fold, not used for thresholds)": dev_figures(
            near_scores, meta["thresholds"]),
    }
    args.arrays.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.arrays, **arrays)
    args.meta.write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n",
                         encoding="utf-8")
    print(f"thresholds: {meta['thresholds']}")
    for name, figures in meta["development"].items():
        print(f"development, {name}: {figures}")
    print(f"written {args.arrays} and {args.meta} in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
