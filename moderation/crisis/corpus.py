"""Labelled texts: the training corpus and the frozen test file (``docs/CRISIS_LABELS.md``).

Both are tab-separated files with the header ``label about lang kind text``. In the training
corpus a crisis post marks the sentence(s) that carry the crisis with ``[[`` and ``]]``; the
marks are removed from the text and kept as character spans.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
CORPUS_DIR = DATA_DIR / "crisis_corpus"
NEAR_MISS_DIR = DATA_DIR / "crisis_extra"
"""Slices written to the screen's weak spot (concern worded without death or harm, and as many
near-miss ordinary sentences): trained on, but never used to choose thresholds (their mix is
not a forum's); see their README."""
FROZEN_TEST_PATH = DATA_DIR / "crisis_frozen_test.tsv"
DEV_EXTERNAL_PATH = DATA_DIR / "crisis_dev_external.tsv"
"""Written apart from the corpus, like the frozen file; the thresholds are chosen on it."""
HOLDOUT_PATH = DATA_DIR / "crisis_holdout.tsv"
"""Written apart by four more writers (2026-12-06): never trained on, never used to choose a
threshold; unlike the frozen file its rows may be read (see docs/SAFETY.md)."""
STRESS_PATH = DATA_DIR / "crisis_stress.tsv"
"""Written apart by three more writers (2026-12-07) to the weak spots the holdout file showed
(the urgent moment in everyday words, English, ordinary posts close to the topic): never
trained on, never used to choose a threshold; a harder measure than a forum's mix."""

HEADER = ["label", "about", "lang", "kind", "text"]
LABELS = ("none", "concern", "urgent")
ABOUTS = ("self", "other", "-")
LANGS = ("fr-FR", "fr-BE", "fr-CH", "fr-CA", "en")
KINDS = ("sentence", "post")

_MARK = re.compile(r"\[\[(.+?)\]\]", re.DOTALL)


class CorpusError(ValueError):
    """A labelled file does not follow docs/CRISIS_LABELS.md (the message names the line)."""


@dataclass(frozen=True)
class Labelled:
    """One labelled text. ``marked``: spans of the crisis sentence(s) in a training post."""

    label: str
    about: str
    lang: str
    kind: str
    text: str
    marked: tuple[tuple[int, int], ...] = ()
    source: str = ""

    @property
    def crisis(self) -> bool:
        return self.label != "none"


def read_labelled(path: Path) -> list[Labelled]:
    """Rows of one labelled file; raises :class:`CorpusError` on any malformed line."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    if not lines or lines[0].split("\t") != HEADER:
        raise CorpusError(f"{Path(path).name}: the first line must be {' '.join(HEADER)!r} "
                          "(tab-separated)")
    rows: list[Labelled] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = line.split("\t")
        where = f"{Path(path).name}:{number}"
        if len(parts) != len(HEADER):
            raise CorpusError(f"{where}: expected {len(HEADER)} tab-separated fields")
        label, about, lang, kind, raw = parts
        if label not in LABELS or about not in ABOUTS or lang not in LANGS or kind not in KINDS:
            raise CorpusError(f"{where}: unknown label, about, lang or kind")
        if (about == "-") != (label == "none"):
            raise CorpusError(f"{where}: 'about' is '-' exactly when the label is none")
        text, marked = _unmark(raw.replace("\\n", "\n"))
        rows.append(Labelled(label, about, lang, kind, text, marked, source=Path(path).name))
    return rows


def _unmark(raw: str) -> tuple[str, tuple[tuple[int, int], ...]]:
    spans: list[tuple[int, int]] = []
    out: list[str] = []
    position = length = 0
    for found in _MARK.finditer(raw):
        out.append(raw[position : found.start()])
        length += found.start() - position
        inner = found.group(1)
        spans.append((length, length + len(inner)))
        out.append(inner)
        length += len(inner)
        position = found.end()
    out.append(raw[position:])
    return "".join(out), tuple(spans)


def corpus_files(directory: Path = CORPUS_DIR) -> list[Path]:
    return sorted(directory.glob("*.tsv"))


def training_files() -> list[Path]:
    """Every file the head is trained on: the corpus, then the near-miss slices."""
    return corpus_files(CORPUS_DIR) + corpus_files(NEAR_MISS_DIR)


def read_corpus(directory: Path = CORPUS_DIR) -> list[Labelled]:
    return [row for path in corpus_files(directory) for row in read_labelled(path)]


def data_hash(paths: Iterable[Path]) -> str:
    """SHA-256 of the files' names and bytes, in name order: what a head was trained on."""
    digest = hashlib.sha256()
    for path in sorted(paths, key=lambda p: p.name):
        digest.update(path.name.encode("utf-8") + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def split_of(row: Labelled, dev_share: float = 0.2) -> str:
    """"train" or "dev", decided by a hash of the text (stable across runs and file orders)."""
    value = int.from_bytes(hashlib.sha256(row.text.encode("utf-8")).digest()[:4], "big")
    return "dev" if value / 2**32 < dev_share else "train"
