"""Watched-word patterns: compiled with RE2, a linear-time engine, matched on folded text.

Python's ``re`` backtracks: the shipped e-mail pattern took seconds on 20,000 word
characters, and an admin's ``(a+)+$`` doubles its time with each character. RE2 (the
``google-re2`` binding) never backtracks: a search costs time proportional to the text times,
at worst, the size of the compiled pattern, and the binding releases the GIL while it runs.
This module is the only one that imports ``re2``.

What that means for patterns, and how this module deals with it:

* **Constructs RE2 lacks are refused** with a message that says why: look-around
  (``(?=``, ``(?!``, ``(?<=``, ``(?<!``), backreferences (``\\1``, ``(?P=name)``), atomic
  groups, possessive quantifiers, ``\\Z`` (RE2 spells it ``\\z``), ``(?x)``. ``a{,3}`` means
  "a{0,3}" in Python but the literal text "a{,3}" in RE2: refused too, with the fix.
* **Size is bounded.** RE2 refuses repetitions over 1,000 and programs over its memory
  budget; this module also refuses compiled programs larger than :data:`MAX_PROGRAM_SIZE`
  instructions, which bounds the worst case of one pattern on one post (docs/MODERATION.md
  has the figures: 25–50 ms of CPU on 20,000 characters made for the worst patterns found).
* **Case and accents are ignored.** RE2's ``\\w``, ``\\d``, ``\\s`` and ``\\b`` know only
  ASCII, so ``\\bété\\b`` would never match. Both the pattern's literal characters and the text
  are *folded* first, one code point for one code point (so match positions stay those of the
  original text): a letter or digit whose compatibility decomposition is one ASCII letter or
  digit becomes it (é -> e, Ç -> C, fullwidth ５ -> 5, mathematical 𝐚 -> a, Arabic-Indic ٣ -> 3);
  every other character is kept. Matching is case-insensitive (RE2's Unicode case folding).
  Letters with no ASCII base (œ, æ, ß, non-Latin scripts) are kept and are not "word"
  characters for ``\\w`` and ``\\b``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import re2

from forum.i18n import N_

__all__ = ["ENGINE", "MAX_PROGRAM_SIZE", "Problem", "compiled", "finditer_original", "fold",
           "problem", "search"]

ENGINE = "re2"
"""The engine every watched word runs on (tests assert it)."""

MAX_PROGRAM_SIZE = 1000
"""Largest compiled RE2 program accepted (instructions). Plain word lists of 300 characters
compile to about 300; ``.{0,30}`` repeated three times to about 800."""

_FOLDED_RANGES = ((0x0080, 0x2FFF), (0xFF00, 0xFFEF), (0x1D400, 0x1D7FF))
"""Latin-1 to CJK symbols, fullwidth forms, mathematical alphanumerics: where the characters
with an ASCII letter or digit as base live (one-off table, about 1,700 entries, built once)."""

LOOKAROUND = N_("Ce motif utilise une assertion avant ou arrière ((?=…), (?!…), (?<=…) ou "
                "(?<!…)) : le moteur du forum (RE2) ne les connaît pas, car il vérifie chaque "
                "message en un temps qui reste court quel que soit le texte. Réécris le motif "
                "sans elle : par exemple (?:^|[^0-9]) au lieu de (?<![0-9]).")
BACKREFERENCE = N_("Ce motif utilise une référence arrière (\\1, (?P=nom)) : le moteur du "
                   "forum (RE2) ne les connaît pas, car il vérifie chaque message en un temps "
                   "qui reste court quel que soit le texte. Écris les deux passages en entier.")
EMPTY_LOWER_BOUND = N_("Écris {0,%(max)s} plutôt que {,%(max)s} : le moteur du forum (RE2) lirait "
                       "{,%(max)s} comme du texte.")
TOO_COMPLEX = N_("Ce motif est trop lourd pour être vérifié vite sur chaque message. "
                 "Simplifie-le : moins de répétitions comptées ({…}) ou de classes très "
                 "larges.")
UNSUPPORTED = N_("Le moteur du forum (RE2) n'accepte pas ce motif (détail technique : "
                 "%(error)s). Vérifie les parenthèses, les crochets et les barres obliques "
                 "inverses ; les assertions, les références arrière, \\Z et (?x) ne sont pas "
                 "pris en charge.")

_EMPTY_LOWER_BOUND_RE = re.compile(r"(?<!\\)(?:\\\\)*\{,(\d+)\}")
"""``{,n}`` not preceded by an odd number of backslashes (run on patterns of ≤ 300 chars)."""


@dataclass(frozen=True)
class Problem:
    """Why a pattern is refused: a gettext message id and its parameters."""

    message: str
    params: dict[str, Any]


@cache
def _fold_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for low, high in _FOLDED_RANGES:
        for code in range(low, high + 1):
            char = chr(code)
            digit = unicodedata.decimal(char, None)
            if digit is not None:
                table[code] = str(digit)
                continue
            base = "".join(c for c in unicodedata.normalize("NFKD", char)
                           if not unicodedata.combining(c))
            if len(base) == 1 and base.isascii() and base.isalnum():
                table[code] = base
    return table


def fold(text: str) -> str:
    """``text`` with accents and letter-like variants folded to ASCII, same length."""
    return text if text.isascii() else text.translate(_fold_table())


def _fold_pattern(pattern: str) -> str:
    """Fold a pattern's literal characters. Pattern syntax is ASCII, so only literals (and
    class members) change; an escaped non-ASCII literal (``\\é``) loses its backslash, since
    ``\\e`` would be another escape."""
    if pattern.isascii():
        return pattern
    table = _fold_table()
    out: list[str] = []
    escaped = False
    for char in pattern:
        folded = table.get(ord(char), char)
        if escaped and not char.isascii():
            out[-1] = folded  # replaces the backslash
        else:
            out.append(folded)
        escaped = char == "\\" and not escaped
    return "".join(out)


def _options() -> re2.Options:
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    return options


_OPTIONS = _options()


def _describe(error: re2.error) -> str:
    """RE2's message, without the pattern it sometimes quotes in full."""
    raw = error.args[0] if error.args else ""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    head, _, argument = text.partition(": ")
    return f"{head}: {argument[:30]}{'…' if len(argument) > 30 else ''}" if argument else head


def _problem_of_error(pattern: str, error: re2.error) -> Problem:
    detail = _describe(error)
    if any(op in detail for op in ("(?=", "(?!", "(?<=", "(?<!")):
        return Problem(LOOKAROUND, {})
    if re.search(r"invalid escape sequence: \\[1-9]", detail) or "(?P=" in pattern:
        return Problem(BACKREFERENCE, {})
    if "pattern too large" in detail or "repetition size" in detail:
        return Problem(TOO_COMPLEX, {})
    return Problem(UNSUPPORTED, {"error": detail})


@lru_cache(maxsize=512)
def _compile(pattern: str) -> tuple[Any, Problem | None]:
    """(compiled, None) or (None, problem); failures are cached too, so a broken row costs
    one compile per process."""
    found = _EMPTY_LOWER_BOUND_RE.search(pattern)
    if found:
        return None, Problem(EMPTY_LOWER_BOUND, {"max": found.group(1)})
    try:
        regex = re2.compile(_fold_pattern(pattern), _OPTIONS)
    except re2.error as error:
        return None, _problem_of_error(pattern, error)
    if regex.programsize > MAX_PROGRAM_SIZE:
        return None, Problem(TOO_COMPLEX, {})
    return regex, None


def problem(pattern: str) -> Problem | None:
    """Why ``pattern`` cannot be a watched word, or None when it can."""
    return _compile(pattern)[1]


def compiled(pattern: str) -> Any | None:
    """The RE2 program of ``pattern`` (cached), or None when it is refused."""
    return _compile(pattern)[0]


def search(regex: Any, folded: str) -> bool:
    """Whether ``regex`` (from :func:`compiled`) matches ``folded`` (from :func:`fold`)."""
    return regex.search(folded) is not None


def finditer_original(regex: Any, text: str, limit: int) -> list[str]:
    """Up to ``limit`` non-empty matches of ``regex`` in ``text``, as ``text``'s own
    substrings (folding keeps positions)."""
    found: list[str] = []
    for match in regex.finditer(fold(text)):
        start, end = match.span()
        if end > start:
            found.append(text[start:end])
            if len(found) >= limit:
                break
    return found
