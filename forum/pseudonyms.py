"""Pseudonym rules: validation, a confusable-proof uniqueness key, and friendly suggestions.

Pipeline (after Unicode TR39 / UTS #39):

* ``normalize``: NFKC, then strip surrounding whitespace. This is the stored, displayed form.
* ``validate``: 3-32 code points of letters (L*), decimal digits (Nd) and ``. _ -``; combining
  marks only after a letter (at most two in a row); no Default_Ignorable code point (invisible,
  format, bidi, variation selector, tag, Hangul filler); a single script plus Common/Inherited
  (Han may go with Hiragana/Katakana, Bopomofo or Hangul); a single decimal-digit system; not
  reserved.
* ``uniqueness_key``: NFKD, drop non-spacing and enclosing marks, map every character to the
  representative of its confusable class, casefold, drop the separators ``. _ -`` (so
  ``Luciole-Test``, ``luciole.test`` and ``Luciole_Test`` are one name, and ``Gardien_`` is
  ``Gardien``); repeated until stable. Confusable classes
  come from Unicode's confusables.txt (as shipped by the ``confusable-homoglyphs`` package)
  closed under case folding, so the key is case-insensitive: ``Modérateur``, ``Moderateur``,
  ``M0derateur``, ``MODERATEUR`` and ``Μoderateur`` (Greek capital mu) share one key.
  Case pairs whose letters look like two different ASCII letters (Greek ``Ν``/``ν``: N/v) are
  not merged, so such pairs differ only by case in the key; ``i`` and ``l`` share a class
  (``I`` looks like ``l``), and so do ``m`` and ``rn``.

Reserved names: a name is refused when its key equals the key of a word in ``RESERVED``; when
one of its ``. _ -`` separated parts (or runs of letters and of digits) is a word of
``RESERVED_PARTS``: care professions and titles (``Psychologue``, ``Dr_Martin``,
``Infirmière``), crisis services and their numbers (``SOS_Amitie``, ``aide_3114``,
``SAMU_15``), so that nobody can pass for a professional or a helpline; when the key of the
whole name or of one of its parts starts with a staff prefix (admin, modo, moderat, equipe,
entrepairs); or when the key contains admin, moderat or entrepairs anywhere (so ``VraiAdmin``
is refused, and so is ``Badminton``). Admins add words with ``FORUM_RESERVED_PSEUDONYMS``
(``reserve``).
"""

from __future__ import annotations

import json
import random
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable
from functools import cache
from importlib import resources

MIN_LENGTH = 3
MAX_LENGTH = 32

# Inputs longer than this are refused before any Unicode processing (cheap guard).
_MAX_RAW_LENGTH = 1024
_MAX_MARKS_PER_LETTER = 2
_SEPARATORS = frozenset("._-")
_RUNS = re.compile(r"[^\W\d_]+|\d+")
_MAX_KEY_ROUNDS = 6

RESERVED: frozenset[str] = frozenset(
    {
        "admin", "administrateur", "administratrice", "administrator",
        "modération", "moderation", "modérateur", "modératrice", "moderator", "modo", "mod",
        "équipe", "equipe", "team", "staff", "support", "officiel", "official",
        "system", "système", "root", "sécurité", "security", "entrepairs",
        "3114", "15", "112", "114", "samu", "urgence", "urgences", "aide", "help",
        "anonyme", "anonymous", "membre-parti", "membre parti·e", "deleted", "suppressed",
        "null", "undefined",
    }
)  # fmt: skip

RESERVED_PARTS: frozenset[str] = frozenset(
    {
        # care professions and titles
        "psychologue", "psychologist", "psychiatre", "psychiatrist", "psy", "psychotherapeute",
        "psychotherapist", "therapeute", "therapist", "docteur", "docteure", "doctor", "dr",
        "doc", "medecin", "physician", "infirmier", "infirmiere", "infirmierpsy", "nurse",
        "ide", "soignant", "soignante", "pharmacien", "pharmacienne", "pharmacist",
        "professeur", "pr", "counselor", "counsellor", "conseiller", "conseillere",
        "addictologue", "pedopsychiatre", "urgentiste", "sage-femme", "assistante-sociale",
        "travailleur-social", "educateur", "educatrice", "pompier", "policier", "police",
        "gendarme", "secours", "ecoutant", "ecoutante", "benevole-officiel",
        # crisis and listening services
        "sos", "samu", "smur", "urgence", "urgences", "3114", "112", "114",
        "115", "119", "143", "144", "147", "106", "107", "108", "116123", "988", "911", "811",
        "1813", "3919", "suicide-ecoute", "sos-amitie", "soshelp", "tele-accueil",
        "teleaccueil", "la-main-tendue", "main-tendue", "filsantejeunes", "fil-sante-jeunes",
        "suicide-action", "croix-rouge", "red-cross", "samaritans", "lifeline", "crisisline",
        "hotline", "helpline", "ligne-ecoute",
    }
)  # fmt: skip
_extra_reserved: set[str] = set()

# Matched at the start of the whole name and of each ". _ -" separated part.
_STAFF_PREFIXES = ("admin", "modo", "moderat", "equipe", "entrepairs")
# Matched anywhere in the name.
_STAFF_INFIXES = ("admin", "moderat", "entrepairs")

# Scripts that may be mixed (ICU "highly restrictive" CJK combinations, without Latin).
_CJK_COMBINATIONS = (
    frozenset({"HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"HAN", "BOPOMOFO"}),
    frozenset({"HAN", "HANGUL"}),
)
_NEUTRAL_SCRIPTS = frozenset({"COMMON", "INHERITED"})

# Default_Ignorable_Code_Point (DerivedCoreProperties.txt): invisible characters, format
# controls, bidi controls, variation selectors, Hangul fillers and tag characters.
_DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
    (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)  # fmt: skip

# Marks left in the key would only hide look-alikes; spacing marks (Mc) stay.
_DROPPED_MARKS = frozenset({"Mn", "Me"})
# Display-only characters that the confusable-homoglyphs data wraps around RTL text.
_DISPLAY_WRAPPERS = str.maketrans("", "", "\u200e\u200f")

_CONFUSABLES_PACKAGE = "confusable_homoglyphs"
_WORDS_FILE = "pseudonym-words.json"


class PseudonymError(ValueError):
    """A refused pseudonym; ``code`` says why (see the module docstring)."""

    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(message or code)
        self.code = code


def normalize(raw: str) -> str:
    """Return the stored and displayed form: NFKC, surrounding whitespace removed."""
    return unicodedata.normalize("NFKC", raw).strip()


def validate(raw: str) -> str:
    """Return the normalized pseudonym, or raise ``PseudonymError``."""
    if len(raw) > _MAX_RAW_LENGTH:
        raise PseudonymError("too_long")
    name = normalize(raw)
    if not name:
        raise PseudonymError("empty")
    if len(name) > MAX_LENGTH:
        raise PseudonymError("too_long")
    _check_characters(name)
    if len(name) < MIN_LENGTH:
        raise PseudonymError("too_short")
    if _is_mixed_script(name):
        raise PseudonymError("mixed_script")
    if is_reserved(name):
        raise PseudonymError("reserved")
    return name


def uniqueness_key(name: str, *, fold_separators: bool = True) -> str:
    """Return the value stored in the UNIQUE column: case- and confusable-insensitive, and
    blind to the separators ``. _ -``. ``fold_separators=False``: the key as it was before
    migration 0005, which a few members still hold (see :func:`legacy_key`)."""
    key = unicodedata.normalize("NFKC", name)
    for _ in range(_MAX_KEY_ROUNDS):
        folded = _key_round(key, fold_separators)
        if folded == key:
            break
        key = folded
    return key


def reserve(words: Iterable[str]) -> None:
    """Reserve more words, as whole names and as parts of names (``FORUM_RESERVED_PSEUDONYMS``,
    read at start-up)."""
    _extra_reserved.update(word.strip() for word in words if word.strip())
    _part_keys.cache_clear()


def is_reserved(name: str) -> bool:
    """Tell whether a (normalized) name is, starts with or contains a reserved word."""
    key = uniqueness_key(name)
    if key in _reserved_keys() or key in _part_keys():
        return True
    parts = [uniqueness_key(part) for part in _name_parts(name)]
    if any(part in _part_keys() for part in parts):
        return True
    prefixes, infixes = _staff_keys()
    if any(part.startswith(prefixes) for part in (key, *parts)):
        return True
    return any(infix in key for infix in infixes)


def _name_parts(name: str) -> list[str]:
    """The ``. _ -`` separated parts of a name, and within each its runs of letters and of
    digits of three characters or more ("aide3114" holds "aide" and "3114"; "15ans" holds no
    run that short numbers could match, so an age is not a helpline)."""
    found: list[str] = []
    for part in _split_separators(name):
        found.append(part)
        runs = _RUNS.findall(part)
        if len(runs) > 1:
            found.extend(run for run in runs if len(run) >= 3)
    return found


def suggest(rng: random.Random | None = None) -> str:
    """Return a friendly French pseudonym such as ``Tilleul_Paisible42``."""
    rng = rng or random.SystemRandom()
    words = _suggestion_words()
    noun = rng.choice(words["nouns"])
    adjective = rng.choice(words["adjectives"])
    return f"{noun}_{adjective}{rng.randint(10, 99)}"


# --- character rules -------------------------------------------------------------------


def _is_default_ignorable(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _DEFAULT_IGNORABLE)


def _check_characters(name: str) -> None:
    """Raise ``invalid_chars`` unless every character is allowed where it stands."""
    marks_in_a_row = 0
    after_letter = False
    has_letter_or_digit = False
    for char in name:
        category = unicodedata.category(char)
        if _is_default_ignorable(char):
            raise PseudonymError("invalid_chars")
        if category.startswith("M"):
            marks_in_a_row += 1
            if not after_letter or marks_in_a_row > _MAX_MARKS_PER_LETTER:
                raise PseudonymError("invalid_chars")
            continue
        marks_in_a_row = 0
        after_letter = category.startswith("L")
        if after_letter or category == "Nd":
            has_letter_or_digit = True
        elif char not in _SEPARATORS:
            raise PseudonymError("invalid_chars")
    if not has_letter_or_digit:
        raise PseudonymError("invalid_chars")


def _is_mixed_script(name: str) -> bool:
    scripts = {_script(char) for char in name} - _NEUTRAL_SCRIPTS
    if len(scripts) > 1 and not any(scripts <= combo for combo in _CJK_COMBINATIONS):
        return True
    return len(_digit_systems(name)) > 1


def _digit_systems(name: str) -> set[int]:
    """Return the zero code point of each decimal-digit system used in ``name``."""
    return {ord(char) - unicodedata.decimal(char) for char in name if char.isdecimal()}


@cache
def _script_table() -> tuple[list[int], list[tuple[int, str]]]:
    data = json.loads(_package_text(_CONFUSABLES_PACKAGE, "categories.json"))
    aliases = data["iso_15924_aliases"]
    ranges = sorted(data["code_points_ranges"])
    starts = [start for start, _end, _alias, _cat in ranges]
    spans = [(end, aliases[alias]) for _start, end, alias, _cat in ranges]
    return starts, spans


def _script(char: str) -> str:
    """Return the Unicode script (Scripts.txt alias) of ``char``, or ``UNKNOWN``."""
    starts, spans = _script_table()
    index = bisect_right(starts, ord(char)) - 1
    if index < 0 or ord(char) > spans[index][0]:
        return "UNKNOWN"
    return spans[index][1]


# --- uniqueness key ----------------------------------------------------------------------


def _key_round(text: str, fold_separators: bool = True) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(c for c in decomposed if unicodedata.category(c) not in _DROPPED_MARKS)
    table = _confusable_table()
    mapped = "".join(table.get(char, char) for char in kept).casefold()
    return _strip_separators(mapped) if fold_separators else mapped


def legacy_key(name: str) -> str | None:
    """The key of ``name`` before separators were folded, when it differs: migration 0005 left
    it to the younger of two accounts whose names differ only by separators (``LucioleTest``
    and ``Luciole-Test``), so that log-in and recovery still find that account by its exact
    name."""
    old = uniqueness_key(name, fold_separators=False)
    return old if old != uniqueness_key(name) else None


@cache
def _confusable_table() -> dict[str, str]:
    """Map each character to the representative of its case-closed confusable class.

    confusables.txt maps every source character to one prototype; the package stores that
    relation in both directions, so the classes are its connected components. Classes are
    then merged along case folding, unless a merge would join two different ASCII letters
    (Greek ``Ν``/``ν`` look like ``N``/``v``): then the case pair stays apart and only the
    confusable relation holds.
    """
    graph = json.loads(_package_text(_CONFUSABLES_PACKAGE, "confusables.json"))
    classes = _UnionFind()
    for source, targets in graph.items():
        for target in targets:
            classes.union(_clean(source), _clean(target["c"]))
    for node in sorted(classes.nodes()):
        folded = node.casefold()
        if len(node) == 1 and folded != node:
            classes.union_if_compatible(node, folded)
    return classes.representatives()


def _clean(text: str) -> str:
    return text.translate(_DISPLAY_WRAPPERS)


def _ascii_signature(members: set[str]) -> set[str]:
    """Return the ASCII letters and digits (or sequences, such as ``rn``) a class stands for."""
    signature = set()
    for member in members:
        letters = "".join(c.lower() for c in member if c.isascii() and c.isalnum())
        if letters and (len(member) > 1 or member.isascii()):
            signature.add(letters)
    return signature


class _UnionFind:
    """Union-find over characters and multi-character prototypes."""

    def __init__(self) -> None:
        self._parent: dict[str, str] = {}
        self._members: dict[str, set[str]] = {}

    def nodes(self) -> list[str]:
        return list(self._parent)

    def find(self, node: str) -> str:
        if node not in self._parent:
            self._parent[node] = node
            self._members[node] = {node}
        root = node
        while self._parent[root] != root:
            root = self._parent[root]
        while self._parent[node] != root:
            self._parent[node], node = root, self._parent[node]
        return root

    def union(self, first: str, second: str) -> None:
        a, b = self.find(first), self.find(second)
        if a == b:
            return
        if len(self._members[a]) < len(self._members[b]):
            a, b = b, a
        self._parent[b] = a
        self._members[a] |= self._members.pop(b)

    def union_if_compatible(self, first: str, second: str) -> None:
        letters_a = _ascii_signature(self._members[self.find(first)])
        letters_b = _ascii_signature(self._members[self.find(second)])
        if letters_a and letters_b and not letters_a & letters_b:
            return
        self.union(first, second)

    def representatives(self) -> dict[str, str]:
        table: dict[str, str] = {}
        for root, members in self._members.items():
            if root != self.find(root):
                continue
            representative = _choose_representative(members)
            for member in members:
                if len(member) == 1 and member != representative:
                    table[member] = representative
        return table


def _choose_representative(members: set[str]) -> str:
    """Prefer a multi-character prototype (``rn`` for ``m``), then an ASCII letter or digit."""
    multi = sorted(m for m in members if len(m) > 1)
    letters = sorted(m for m in members if m.isascii() and m.isalpha() and m.islower())
    digits = sorted(m for m in members if m.isascii() and m.isdigit())
    lowercase = sorted(m for m in members if m.casefold() == m)
    return (multi or letters or digits or lowercase or sorted(members))[0]


# --- reserved words ----------------------------------------------------------------------


def _strip_separators(name: str) -> str:
    return "".join(char for char in name if char not in _SEPARATORS)


def _split_separators(name: str) -> list[str]:
    parts, current = [], []
    for char in name:
        if char in _SEPARATORS:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part for part in parts if part]


@cache
def _reserved_keys() -> frozenset[str]:
    keys = set()
    for word in RESERVED:
        keys.add(uniqueness_key(word))
        keys.add(uniqueness_key("".join(char for char in word if char.isalnum())))
    return frozenset(keys)


@cache
def _part_keys() -> frozenset[str]:
    return frozenset(uniqueness_key(word) for word in RESERVED_PARTS | _extra_reserved)


@cache
def _staff_keys() -> tuple[tuple[str, ...], tuple[str, ...]]:
    prefixes = tuple(uniqueness_key(word) for word in _STAFF_PREFIXES)
    infixes = tuple(uniqueness_key(word) for word in _STAFF_INFIXES)
    return prefixes, infixes


# --- data files --------------------------------------------------------------------------


def _package_text(package: str, filename: str) -> str:
    return (resources.files(package) / filename).read_text(encoding="utf-8")


@cache
def _suggestion_words() -> dict[str, list[str]]:
    data = json.loads(_package_text("forum", f"data/{_WORDS_FILE}"))
    return {"nouns": list(data["nouns"]), "adjectives": list(data["adjectives"])}
