"""Crisis-language screening: a lexicon that decides when to *show resources*, nothing more.

Pure Python, no database, no I/O after the lexicon is loaded. :func:`assess` returns an
:class:`Assessment` whose level is ``"none"``, ``"concern"`` or ``"urgent"``; the web layer uses
it to show a calm interstitial with crisis lines before a post is published, a banner on a
thread, or the help box above search results (issue 4, ``safety.md`` §b.2 and §c.2).

What it is, and what it is not
------------------------------
* **A soft trigger.** A match only shows help. It never blocks, hides or sanctions a post.
  At "urgent" the web layer may raise a *welfare* flag for peer moderators, who decide.
* **Precision is expected to be modest.** Research on keyword detection (O'Dea et al. 2015:
  14 % of tweets matching suicide phrases were "strongly concerning") says a lexicon over-fires
  and still misses coded language. The cost of a false positive here is a kind screen; the cost
  of a miss is a person not shown a number. The rules below therefore lean towards recall, and
  the evaluation set (``data/crisis_eval.tsv``) is the project's own writing, not real posts.
  Measure on consented forum data before trusting any figure (``safety.md`` §c.2).

Levels
------
* ``urgent``: stated intent, a plan, means at hand, a near timeframe, an act under way, or a
  goodbye message ("ce soir je vais en finir", "j'ai pris toutes mes pilules", "adieu à tous,
  merci pour tout", "I'm going to kill myself tonight"). Naming a method in the first person
  ("me tirer une balle", "jump off the bridge") is urgent even when phrased as a wish.
* ``concern``: suicidal ideation or self-harm without a stated plan ("envie de mourir",
  "je voudrais ne plus me réveiller", "je me scarifie encore", "I don't want to be here
  anymore"), including hopelessness phrased as wanting to die and burden thoughts
  ("tout le monde serait mieux sans moi").
* ``none``: everything else, including distress without a wish to die ("j'en peux plus de ce
  boulot", "chu pu capable", "I'm so done with this semester"): those are common venting and
  would drown the signal. "j'en peux plus **de vivre**" is concern.

How a text is assessed
----------------------
1. **Folding.** Case and accents are folded (``é`` -> ``e``, ``œ`` -> ``oe``, full-width and
   other compatibility forms via NFKD); apostrophes, hyphens and underscores become spaces;
   control characters become spaces (line breaks stay line breaks) and invisible format
   characters (zero-width space, soft hyphen, bidi marks) are removed; inclusive-writing
   separators and filler words are dropped, and SMS spellings of everyday words are spelled
   out ("pr" pour, "tjrs" toujours, "jvx" je veux, "2nite" tonight: ``_SMS_WORDS``). A table
   maps every folded character back to the original text, so :class:`Match` spans point into
   the text the member wrote.
2. **Matching.** Entries are general phrase patterns (French from France, Belgium,
   Switzerland and Québec, SMS spellings such as "jpp", "jvais", "jveux", "chui", "g envie",
   and English), never whole test sentences. To stay fast, each entry is only run on a text that
   holds one of its *anchor literals* (words every match must contain, read from the compiled
   pattern: "mourir", "scarifi", "adieu"...), and only within 100 characters of them.
3. **Context rules**, in this order, for each match:

   * *Idiom exclusions*: a match overlapping an exclusion span is dropped ("mort de rire",
     "ce boulot me tue", "je me tue à te le dire", "en finir avec l'alcool", "Suicide Squad",
     "I'd rather die than...", the Swiss "Adieu, moi c'est Léa" greeting). An entry may also
     list its own exclusions, searched in the same sentence.
   * *Requirements*: some entries only count with a cue in the same sentence (``requires``),
     e.g. "je vais sauter" needs a place such as "du pont".
   * *Negation*: a negation cue between the writer's last "je"/"I" and the match, inside the
     same clause, drops it ("je n'ai pas envie de mourir", "I'm not suicidal", "je ne me
     scarifie plus"); "de plus en plus" and "jamais eu autant" are not negations.
   * *An act of the writer's own*: an urgent match with its own first-person subject ("j'ai
     pris toutes mes pilules", "… so I took all my pills") is the writer's whoever is named
     before it (unless someone is reported as saying it); a helpline, a course or the news
     named before it are its setting, not talk about the topic; something else being "over"
     does not cover it (unless the sentence tells a distant past); laughter does not make an
     act already done a joke; a near time in its clause ("ce soir", "tonight") makes it now
     whatever past the sentence told before it. "Je n'arrête pas de…", "pas un jour sans…",
     "never stop…" affirm what follows.
   * *Who is speaking*: the last subject cue before the match ("je", "chu", "I" versus "il",
     "ma sœur", "my friend", "m'a dit que", "told me") decides whether the writer speaks about
     themselves. See the decisions below.
   * *Reporting*: news, statistics, media, prevention work and screening questions ("selon une
     étude", "dans le film", "bénévole en prévention", "my therapist asked if") drop a match:
     in the clause before it when the writer speaks about themselves, anywhere in the sentence
     otherwise. There is no bare "suicide" entry, so "le 3114 est le numéro national de
     prévention du suicide" never matches in the first place.
   * *Past and recovery*: see the decisions below.
   * *Escalation*: a ``concern`` match becomes ``urgent`` with a near time word in the same
     sentence ("ce soir", "cette nuit", "à soir", "demain", "tonight", "tomorrow", weekdays),
     a means in the same sentence ("la corde", "toutes mes pilules", "a gun", "the bridge"), or
     a plan anywhere in the text ("j'ai tout prévu", "ma décision est prise", "I have a plan",
     "I wrote a note"). Passive wishes ("ne plus me réveiller", "mieux sans moi") set
     ``escalate = false``: "je prie pour ne pas me réveiller demain" stays concern. The cue that
     escalated is added to the matches as ``cue.time``, ``cue.means`` or ``cue.plan``.

Documented decisions (the labels of the evaluation set follow them)
--------------------------------------------------------------------
* **Someone else, now** ("mon ami dit qu'il va se tuer ce soir", "my son told me he wants to
  die"): ``concern``, never urgent. Someone may be in danger and the writer deserves the lines
  for helping a loved one, but the writer is not the person at risk.
* **Someone else, in the past** ("mon frère a fait une tentative l'an dernier", "my dad died
  by suicide"): ``none``. Bereavement and family stories are welcome talk, not a crisis.
* **The writer's own past** ("il y a cinq ans j'ai fait une tentative"): ``concern`` by default
  (a past attempt is a risk factor, and a soft prompt costs little), but ``none`` when the text
  also says the writer is better now ("aujourd'hui je vais mieux", "three years clean"):
  recovery stories are protective (the Papageno effect) and should not be met with a crisis
  screen. A past match never escalates to urgent; present-tense ideation in the same text is
  assessed on its own ("je vais mieux mais j'ai encore envie de mourir" is concern).
* **Hyperbole with a method** ("ce cours me donne envie de me tirer une balle"): urgent, by the
  method rule above. Moderators see it and can dismiss it; we prefer that to guessing intent.
* **Locale**: every entry applies to every post (members mix French and English); an entry or
  exclusion may be restricted with ``locales``.

Lexicon file format (the default and admin extension files share it)
---------------------------------------------------------------------
A TOML file (``data/crisis_lexicon.toml``; read it for many examples)::

    format = 1

    [macros]                       # {NAME} in any pattern expands to this text
    ME = '(?:me|m)'

    [cues]                         # lists of patterns, appended to the default lists
    time = ['a la fin du mois']    # negation, first_person, third_person, reported,
                                   # reporting, setting, past, hypothetical, distance,
                                   # recovery, over, joke, retraction, time, means, plan

    [[exclusion]]                  # an idiom: a match overlapping its span is ignored
    id = "fr.idiom.example"
    lang = "fr"
    pattern = 'mourir d impatience'
    across = false                 # optional: true lets it run past the sentence's end

    [[entry]]
    id = "fr.example"              # unique; an extension entry with an existing id replaces it
    level = "concern"              # "concern" or "urgent"
    lang = "fr"                    # informational: "fr", "en" or "any"
    pattern = 'envie de (?:tout )?lacher pour de bon'
    notes = "free text for moderators"          # optional
    person = "any"                 # optional: "self", "other" (capped at concern) or "any"
    tense = "present"              # optional: "past" entries follow the recovery rule;
                                   # "now": never read as past (an attempt to come)
    escalate = true                # optional: false for passive wishes
    requires = "means"             # optional: a cue name that must be present
    exclude = ['pour de bon (?:ce|le) (?:projet|boulot)']  # optional: anywhere in the sentence
    exclude_overlap = ['se tuer a la tache']   # optional: only where it overlaps the match
    locales = ["fr-CA"]            # optional: only for these locales (and for locale=None)
    disabled = false               # optional: true switches off a default entry by id

Patterns are Python regular expressions matched against the **folded** text: lowercase, no
accents, apostrophes/hyphens/underscores turned into spaces, so write ``j en peux plus`` for
"j'en peux plus" (single-quoted TOML strings then never need escaping). A space in a pattern
matches one or more non-word characters and `` ?`` zero or more; inside a look-behind, write
``\\s`` instead of a space (look-behinds need a fixed width). Every pattern is wrapped so that
it only matches whole words. A pattern that carries its own negation ("ne sais plus vivre")
must start at the "ne", otherwise the negation rule drops it. A match is only looked for within
100 characters of one of its anchor words. An exclusion's span should be the idiom itself: the
context that makes it one goes in a look-ahead (``adieu(?: a tous)?(?=[^.]{0,60}a bientot)``),
otherwise every match between the idiom and its context is dropped too ("Adieu à tous, j'ai
tout avalé, à la prochaine"). A file that does not compile raises
:class:`LexiconError` naming the entry.

Known limits
------------
* Coded language with no anchor word is missed ("j'ai rangé mes affaires et écrit des lettres,
  je pars cette nuit"): plan cues only escalate an existing match.
* The evaluation set and the lexicon were written by the same hands, so its figures are
  optimistic: two fresh batches of 30 sentences, written after the lexicon and scored before
  any tuning, reached a flag recall of 0.72-0.75 (no false positive); the gaps they showed were
  then fixed with general patterns. Re-measure on consented forum data.
"""

from __future__ import annotations

import bisect
import functools
import re
import sys
import tomllib
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

Level = Literal["none", "concern", "urgent"]
Person = Literal["self", "other", "any"]

LEVELS: tuple[Level, ...] = ("none", "concern", "urgent")
_RANK: dict[str, int] = {level: rank for rank, level in enumerate(LEVELS)}

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
DEFAULT_LEXICON_PATH = DATA_DIR / "crisis_lexicon.toml"
DEFAULT_EVAL_PATH = DATA_DIR / "crisis_eval.tsv"

FLAG_RECALL_TARGET = 0.95
URGENT_RECALL_TARGET = 0.90
FALSE_POSITIVE_TARGET = 0.05

CUE_NAMES = (
    "negation",
    "first_person",
    "third_person",
    "reported",
    "reporting",
    "setting",
    "past",
    "hypothetical",
    "distance",
    "recovery",
    "over",
    "joke",
    "retraction",
    "time",
    "means",
    "plan",
)
# Where a cue is looked for when it escalates or is required: the sentence or the whole text.
_TEXT_SCOPE_CUES = frozenset({"plan", "recovery"})
_ESCALATORS = ("time", "means", "plan")

# Windows (in folded characters) looked at before a match.
_ANCHOR_REACH = 100  # a match is searched this far around each occurrence of its anchor literal
_CLAUSE_WINDOW = 80
# At most this many raw matches are judged per text (urgent entries first), so that a megabyte
# of repeated crisis phrases costs a fraction of a second, not seconds.
MAX_CANDIDATES = 64
_SENTENCE_WINDOW = 160
_SENTENCE_REACH = 240
"""A sentence is read at most this far on each side of a match (cues, exclusions)."""


class LexiconError(ValueError):
    """The lexicon file is malformed: unknown field value, missing field or bad pattern."""


# ---------------------------------------------------------------------------------------------
# Public result types
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    """One reason for the level: a lexicon entry (or an escalation cue) and where it matched."""

    term: str
    level: Level
    start: int
    end: int
    about: Literal["self", "other"] = "self"


@dataclass(frozen=True)
class Assessment:
    """The level of a text and the matches that explain it (empty when the level is none)."""

    level: Level
    matches: tuple[Match, ...] = ()

    @property
    def at_least_concern(self) -> bool:
        return self.level != "none"

    @property
    def about(self) -> Literal["self", "other"]:
        """"other" when every reason is about someone else at risk (the writer is a helper)."""
        reasons = [m for m in self.matches if not m.term.startswith("cue.")]
        if reasons and all(m.about == "other" for m in reasons):
            return "other"
        return "self"


NONE = Assessment("none")


# ---------------------------------------------------------------------------------------------
# Folding: lowercase, no accents, apostrophes and hyphens as spaces, with an offset map
# ---------------------------------------------------------------------------------------------

_AS_SPACE = frozenset("'’‘`´ʼʹ′＇-‐‑‒–—―−_")
_NEWLINES = frozenset("\n\r\x0b\x0c\x85\u2028\u2029")
_LIGATURES = {
    "œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss", "ø": "o", "Ø": "o",
    "ł": "l", "Ł": "l", "đ": "d", "Đ": "d", "ı": "i",
}  # fmt: skip


def _fold_char(ch: str) -> str:
    """The folded form of one character (zero, one or several characters)."""
    if ch in _AS_SPACE:
        return " "
    if ch in _NEWLINES:
        return "\n"
    if ch in _LIGATURES:
        return _LIGATURES[ch]
    category = unicodedata.category(ch)
    if category == "Cc" or category.startswith("Z"):
        return " "
    if category in ("Cf", "Mn", "Me"):
        return ""
    decomposed = unicodedata.normalize("NFKD", ch.casefold())
    base = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(" " if c in _AS_SPACE else c for c in base)


class _FoldTable(dict[int, str]):
    """A ``str.translate`` table filled on demand; remembers characters that change length."""

    def __init__(self) -> None:
        super().__init__()
        self.irregular: set[str] = set()

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        folded = _fold_char(ch)
        if len(folded) != 1:
            self.irregular.add(ch)
        if len(self) < _FOLD_CACHE_LIMIT:  # bounded: a post may hold any code point
            self[code] = folded
        return folded


_FOLD_CACHE_LIMIT = 20_000
_FOLD_TABLE = _FoldTable()


def fold(text: str) -> str:
    """Fold *text* the way patterns see it (useful to write and test lexicon patterns)."""
    return text.translate(_FOLD_TABLE)


def _fold_with_offsets(text: str) -> tuple[str, list[int] | None]:
    """The folded text and, when lengths differ, the original index of each folded character.

    ``None`` means the mapping is the identity (the common case: ASCII or accented letters).
    Otherwise the list has one entry per folded character plus ``len(text)`` at the end.
    """
    folded = text.translate(_FOLD_TABLE)
    if text.isascii():
        return folded, None
    if len(folded) == len(text) and _FOLD_TABLE.irregular.isdisjoint(text):
        return folded, None
    starts: list[int] = []
    for index, ch in enumerate(text):
        starts.extend([index] * len(_FOLD_TABLE[ord(ch)]))
    starts.append(len(text))
    return folded, starts


# Inclusive writing ("fatigué·e", "épuisé.e", "ami·es", "seul(e)"): the separator is dropped so
# that the word reads as its feminine or plural form ("fatiguee"), which the patterns know.
# Each branch starts with its separator and looks behind it for the letter: the regex engine
# then skips ahead to the separators instead of trying every position (a fifth of the time).
_INCLUSIVE = re.compile(
    r"[\u00b7\u2022\u2027\u2219\u22c5](?<=[a-z].)(?=[a-z])"
    r"|\.(?<=[a-z]\.)(?=(?:e|es|s|x|ne|nes|le|les|te|tes|se|ses|"
    r"rice|rices|euse|euses|trice|trices)(?![\w.]))"
    r"|\((?<=[a-z]\()(?=e?s?\)(?!\w)|e\))"
    r"|\)(?<=[a-z]\(e\))|\)(?<=[a-z]\(es\))"
)
# Words slipped into a phrase that change nothing it says ("je me suis *encore* scarifiée",
# "je vais *peut-être* en finir"): dropped before matching, so that no pattern has to allow
# for them between each of its words. Negations, times and quantities are never fillers.
_FILLERS = re.compile(
    r"(?<!\w)(?:encore|juste|vraiment|vrm|vrmt|peut etre|ptet|ptetre|p etre|franchement|"
    r"carrement|serieusement|sincerement|tellement|limite|genre|grave|"
    r"bon ben|ben|bah|bref|enfin|finalement|meme|quand meme|un peu|un ptit peu|"
    r"really|just|actually|maybe|probably|honestly|literally|seriously|kinda|kind of|"
    r"totally|finally|even|lowkey|ngl|tbh|fr fr)[ ,]+(?=\w)"
)


# SMS and chat spellings of everyday words, read as the words before matching, so that every
# pattern and cue reads them without listing each spelling ("jvx dormir pr tjrs", "adieu tlm",
# "j'ai pa envie": a negation). Spellings whose other readings are rare in a forum's text or
# harmless to the patterns ("rn" a nurse, "pr" public relations); "ts" (tentative de suicide),
# "mm" (millimetres) and "vx" alone (vieux) are left as written, and "pa" after a determiner
# is a dad ("mon pa", "my pa"), not "pas".
_SMS_WORDS = {
    "jveux": "je veux", "jveu": "je veux", "jvx": "je veux", "jvoudrais": "je voudrais",
    "jvai": "je vais",
    "tjrs": "toujours", "tjs": "toujours", "tjr": "toujours", "tjours": "toujours",
    "pr": "pour", "ke": "que", "ki": "qui", "kan": "quand", "qd": "quand", "bcp": "beaucoup",
    "tt": "tout", "ds": "dans", "dsl": "desole", "tlm": "tout le monde",
    "qqn": "quelqu un", "qqun": "quelqu un", "qq1": "quelqu un",
    "ajd": "aujourd hui", "auj": "aujourd hui", "aujd": "aujourd hui", "ojd": "aujourd hui",
    "mtn": "maintenant", "mnt": "maintenant", "mntn": "maintenant",
    "dm1": "demain", "2main": "demain", "ya": "y a",
    "rn": "right now", "tonite": "tonight", "2nite": "tonight", "2night": "tonight",
    "tmrw": "tomorrow", "tmr": "tomorrow", "2moro": "tomorrow", "2morrow": "tomorrow",
    "u": "you",
}
_SMS = re.compile(
    r"(?<!\w)(?:" + "|".join(sorted(map(re.escape, _SMS_WORDS), key=len, reverse=True))
    + r"|(?<=\bje )vx|(?<=\bj )vx|(?<=\bne )vx|(?<=\bje )veu|(?<=\bj )veu|(?<=\bne )veu"
    + r"|(?<!\bmon )(?<!\bton )(?<!\bson )(?<!\ble )(?<!\bla )(?<!\bmy )(?<!\bthe )"
    r"(?<!\bhis )(?<!\bher )(?<!\byour )(?<!\bour )(?<!\ba )(?<=\w )pa(?= \w))(?!\w)"
)
_SMS_AFTER_JE = {"vx": "veux", "veu": "veux", "pa": "pas"}


def _normalize(folded: str, starts: list[int] | None) -> tuple[str, list[int] | None]:
    """Drop inclusive-writing separators and filler words and spell SMS words out, keeping the
    offset map (a spelled-out word points at the spelling the member wrote)."""
    edits = [(*m.span(), "") for m in _INCLUSIVE.finditer(folded)]
    edits += [(*m.span(), "") for m in _FILLERS.finditer(folded)]
    edits += [(*m.span(), _SMS_WORDS.get(m.group()) or _SMS_AFTER_JE[m.group()])
              for m in _SMS.finditer(folded)]
    if not edits:
        return folded, starts
    edits.sort()
    origin = starts if starts is not None else range(len(folded) + 1)
    kept_text: list[str] = []
    kept_starts: list[int] = []
    position = 0
    for start, end, replacement in edits:
        if start < position:  # overlapping spans: keep the first
            if replacement:
                continue  # a word is spelled out whole or not at all
            start = position
        if start >= end:
            continue
        kept_text.append(folded[position:start])
        kept_starts.extend(origin[position:start])
        kept_text.append(replacement)
        kept_starts.extend([origin[start]] * len(replacement))
        position = end
    kept_text.append(folded[position:])
    kept_starts.extend(origin[position:])
    kept_starts.append(origin[len(folded)] if starts is not None else len(folded))
    return "".join(kept_text), kept_starts


def _original_span(starts: list[int] | None, start: int, end: int) -> tuple[int, int]:
    if starts is None:
        return start, end
    original_start = starts[start]
    original_end = starts[end] if end < len(starts) else starts[-1]
    if end > start:
        original_end = max(original_end, starts[end - 1] + 1)
    return original_start, original_end


# ---------------------------------------------------------------------------------------------
# Lexicon: loading, merging and compiling
# ---------------------------------------------------------------------------------------------

_MACRO_REF = re.compile(r"\{([A-Z][A-Z0-9_]*)\}")
_ENTRY_FIELDS = frozenset(
    {"id", "level", "lang", "pattern", "notes", "person", "tense", "escalate", "requires",
     "exclude", "exclude_overlap", "locales", "disabled"}
)  # fmt: skip
_EXCLUSION_FIELDS = frozenset({"id", "lang", "pattern", "notes", "locales", "across"})


@dataclass(frozen=True)
class LexiconEntry:
    """A compiled lexicon entry (see the file format in the module docstring)."""

    id: str
    level: Level
    lang: str
    pattern: str
    regex: re.Pattern[str] = field(repr=False, compare=False)
    person: Person = "any"
    tense: str = "present"
    escalate: bool = True
    requires: tuple[str, ...] | None = None
    excludes: re.Pattern[str] | None = field(default=None, repr=False, compare=False)
    overlap_excludes: re.Pattern[str] | None = field(default=None, repr=False, compare=False)
    locales: tuple[str, ...] = ()
    notes: str = ""


@dataclass(frozen=True)
class LexiconExclusion:
    """A compiled idiom exclusion."""

    id: str
    lang: str
    pattern: str
    regex: re.Pattern[str] = field(repr=False, compare=False)
    locales: tuple[str, ...] = ()
    notes: str = ""
    across: bool = False
    """May run past the end of the match's sentence ("Adieu tout le monde ! Je m'appelle…")."""


_Item = TypeVar("_Item", LexiconEntry, LexiconExclusion)


class Lexicon:
    """A loaded, compiled lexicon. Build it with :func:`load_lexicon`; it is immutable."""

    def __init__(
        self,
        entries: Iterable[LexiconEntry],
        exclusions: Iterable[LexiconExclusion],
        cues: dict[str, re.Pattern[str]],
        sources: Iterable[Path],
    ) -> None:
        self.entries: tuple[LexiconEntry, ...] = tuple(entries)
        self.exclusions: tuple[LexiconExclusion, ...] = tuple(exclusions)
        self.cues = dict(cues)
        self.sources: tuple[Path, ...] = tuple(sources)
        self._literals = {
            item.id: _required_literals(item.regex) for item in (*self.entries, *self.exclusions)
        }
        every = {lit for sets in self._literals.values() for lits in sets or () for lit in lits}
        starts = {lit for lit in every if lit.startswith(_MARK)}
        ends = {lit for lit in every if lit.endswith(_MARK)}
        self._whole_cores = frozenset(lit[1:-1] for lit in starts & ends)
        self._start_cores = tuple(sorted(lit[1:] for lit in starts - ends))
        self._end_cores = tuple(sorted(lit[:-1] for lit in ends - starts))
        self._inner = tuple(sorted(every - starts - ends))
        # A word's starts and ends are looked up by length (a dozen lengths) rather than by
        # trying each of the hundreds of cores on it.
        self._start_set, self._end_set = frozenset(self._start_cores), frozenset(self._end_cores)
        self._start_lengths = sorted({len(core) for core in self._start_cores})
        self._end_lengths = sorted({len(core) for core in self._end_cores})

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        names = ", ".join(path.name for path in self.sources)
        return f"<Lexicon {len(self.entries)} entries, {len(self.exclusions)} exclusions: {names}>"

    def entry(self, entry_id: str) -> LexiconEntry:
        for entry in self.entries:
            if entry.id == entry_id:
                return entry
        raise KeyError(entry_id)

    def present_literals(self, folded: str) -> frozenset[str]:
        """The prefilter literals found in *folded*.

        Literals are word characters, NUL-marked when they must start or end a word: whole-word
        literals are looked up in the set of words; word starts and ends by one ``startswith``
        and ``endswith`` of all of them on each distinct word, then, for a word that has one,
        its own starts and ends of each core length looked up in the cores; and the rest in
        the words joined with NULs.
        """
        words = set(_WORD.findall(folded))
        found = {_MARK + core + _MARK for core in words & self._whole_cores}
        starts, ends = self._start_cores, self._end_cores
        start_set, end_set = self._start_set, self._end_set
        for word in words:
            if word.startswith(starts):
                found.update(_MARK + word[:n] for n in self._start_lengths
                             if word[:n] in start_set)
            if word.endswith(ends):
                found.update(word[-n:] + _MARK for n in self._end_lengths
                             if word[-n:] in end_set)
        if self._inner:
            haystack = _MARK.join(words)
            found.update(lit for lit in self._inner if lit in haystack)
        return frozenset(found)

    def entries_for(self, present: frozenset[str], locale: str | None) -> list[LexiconEntry]:
        """The entries that can match a text holding the *present* literals, for *locale*."""
        return self._filter(self.entries, present, locale)

    def exclusions_for(self, present: frozenset[str], locale: str | None) -> list[LexiconExclusion]:
        """The exclusions that can match a text holding the *present* literals."""
        return self._filter(self.exclusions, present, locale)

    def anchors(self, entry: LexiconEntry, present: frozenset[str]) -> list[str] | None:
        """The present literals of the entry's main set: every match contains one of them."""
        required = self._literals[entry.id]
        if required is None:
            return None
        return sorted({literal.strip(_MARK) for literal in present.intersection(required[0])})

    def _filter(
        self, items: Iterable[_Item], present: frozenset[str], locale: str | None
    ) -> list[_Item]:
        kept = []
        for item in items:
            required = self._literals[item.id]
            if required is not None and any(present.isdisjoint(lits) for lits in required):
                continue
            if _locale_applies(item.locales, locale):
                kept.append(item)
        return kept


def load_lexicon(extra_path: Path | None = None) -> Lexicon:
    """The package lexicon, plus an admin extension file in the same format when given.

    The default lexicon is read and compiled once, then cached; an extension file is read on
    every call (keep the returned object). Raises :class:`LexiconError` on a malformed file.
    """
    if extra_path is None:
        return _default_lexicon()
    return _build_lexicon([DEFAULT_LEXICON_PATH, Path(extra_path)])


@functools.cache
def _default_lexicon() -> Lexicon:
    return _build_lexicon([DEFAULT_LEXICON_PATH])


def _build_lexicon(paths: list[Path]) -> Lexicon:
    macros: dict[str, str] = {}
    cues: dict[str, list[str]] = {name: [] for name in CUE_NAMES}
    entries: dict[str, dict[str, Any]] = {}
    exclusions: list[dict[str, Any]] = []
    for path in paths:
        data = _read_toml(path)
        macros.update(_as_str_dict(data.get("macros", {}), f"{path.name}: [macros]"))
        for name, patterns in _as_cue_lists(data.get("cues", {}), path.name).items():
            cues[name].extend(patterns)
        for raw in _as_tables(data.get("entry", []), f"{path.name}: [[entry]]"):
            entries[_required_str(raw, "id", path.name)] = raw
        exclusions.extend(_as_tables(data.get("exclusion", []), f"{path.name}: [[exclusion]]"))
    expand = functools.partial(_expand_macros, macros=macros)
    return Lexicon(
        entries=[
            _compile_entry(raw, expand) for raw in entries.values() if not raw.get("disabled")
        ],
        exclusions=[_compile_exclusion(raw, expand) for raw in exclusions],
        cues={name: _compile_cue(name, patterns, expand) for name, patterns in cues.items()},
        sources=paths,
    )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as error:
        raise LexiconError(f"cannot read lexicon file {path}: {error}") from error
    except tomllib.TOMLDecodeError as error:
        raise LexiconError(f"{path.name}: not valid TOML: {error}") from error
    if data.get("format", 1) != 1:
        raise LexiconError(f"{path.name}: unsupported format {data.get('format')!r}")
    return data


def _as_str_dict(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise LexiconError(f"{where} must map names to pattern strings")
    return value


def _as_cue_lists(value: Any, where: str) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        raise LexiconError(f"{where}: [cues] must be a table of lists")
    for name, patterns in value.items():
        if name not in CUE_NAMES:
            raise LexiconError(f"{where}: unknown cue list {name!r} (known: {CUE_NAMES})")
        if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            raise LexiconError(f"{where}: cue list {name!r} must be a list of strings")
    return value


def _as_tables(value: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise LexiconError(f"{where} must be an array of tables")
    return value


def _required_str(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise LexiconError(f"{where}: {raw.get('id', '?')}: field {key!r} is required")
    return value


def _expand_macros(pattern: str, macros: dict[str, str]) -> str:
    for _ in range(10):
        expanded = _MACRO_REF.sub(lambda ref: _macro(ref.group(1), macros), pattern)
        if expanded == pattern:
            return expanded
        pattern = expanded
    raise LexiconError(f"macros nest too deeply (a cycle?) in {pattern[:80]!r}")


def _macro(name: str, macros: dict[str, str]) -> str:
    if name not in macros:
        raise LexiconError(f"unknown macro {{{name}}}")
    return macros[name]


def _spaces_to_separators(pattern: str) -> str:
    """A space matches one or more non-word characters; " ?" matches zero or more."""
    out: list[str] = []
    index, in_class = 0, False
    while index < len(pattern):
        ch = pattern[index]
        if ch == "\\":
            out.append(pattern[index : index + 2])
            index += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == " ":
            optional = pattern[index + 1 : index + 2] == "?"
            out.append(r"\W*" if optional else r"\W+")
            index += 2 if optional else 1
            continue
        out.append(ch)
        index += 1
    return "".join(out)


def _compile_words(body: str, where: str) -> re.Pattern[str]:
    try:
        return re.compile(rf"(?<!\w)(?:{_spaces_to_separators(body)})(?!\w)")
    except re.error as error:
        raise LexiconError(f"{where}: bad pattern: {error}") from error


def _compile_entry(raw: dict[str, Any], expand: Any) -> LexiconEntry:
    entry_id = _required_str(raw, "id", "[[entry]]")
    where = f"entry {entry_id}"
    unknown = set(raw) - _ENTRY_FIELDS
    if unknown:
        raise LexiconError(f"{where}: unknown fields {sorted(unknown)}")
    level = raw.get("level")
    if level not in ("concern", "urgent"):
        raise LexiconError(f"{where}: level must be 'concern' or 'urgent', not {level!r}")
    person = raw.get("person", "any")
    if person not in ("self", "other", "any"):
        raise LexiconError(f"{where}: person must be 'self', 'other' or 'any'")
    tense = raw.get("tense", "present")
    if tense not in ("present", "past", "now"):
        raise LexiconError(f"{where}: tense must be 'present', 'past' or 'now'")
    requires = raw.get("requires")
    if isinstance(requires, str):
        requires = (requires,)
    if requires is not None and (
        not isinstance(requires, list | tuple) or not requires
        or any(name not in CUE_NAMES for name in requires)
    ):
        raise LexiconError(f"{where}: requires must name a cue list {CUE_NAMES} (or a list "
                           "of them)")
    pattern = _required_str(raw, "pattern", where)
    excludes = [expand(p) for p in raw.get("exclude", [])]
    overlapping = [expand(p) for p in raw.get("exclude_overlap", [])]
    return LexiconEntry(
        id=entry_id,
        level=level,
        lang=str(raw.get("lang", "any")),
        pattern=pattern,
        regex=_compile_words(expand(pattern), where),
        person=person,
        tense=tense,
        escalate=bool(raw.get("escalate", True)),
        requires=tuple(requires) if requires else None,
        excludes=_compile_words("|".join(excludes), f"{where} (exclude)") if excludes else None,
        overlap_excludes=(_compile_words("|".join(overlapping), f"{where} (exclude_overlap)")
                          if overlapping else None),
        locales=_locales(raw, where),
        notes=str(raw.get("notes", "")),
    )


def _compile_exclusion(raw: dict[str, Any], expand: Any) -> LexiconExclusion:
    exclusion_id = _required_str(raw, "id", "[[exclusion]]")
    where = f"exclusion {exclusion_id}"
    unknown = set(raw) - _EXCLUSION_FIELDS
    if unknown:
        raise LexiconError(f"{where}: unknown fields {sorted(unknown)}")
    pattern = _required_str(raw, "pattern", where)
    return LexiconExclusion(
        id=exclusion_id,
        lang=str(raw.get("lang", "any")),
        pattern=pattern,
        regex=_compile_words(expand(pattern), where),
        locales=_locales(raw, where),
        notes=str(raw.get("notes", "")),
        across=_flag(raw, "across", where),
    )


def _flag(raw: dict[str, Any], name: str, where: str) -> bool:
    value = raw.get(name, False)
    if not isinstance(value, bool):
        raise LexiconError(f"{where}: {name} must be true or false")
    return value


def _compile_cue(name: str, patterns: list[str], expand: Any) -> re.Pattern[str]:
    if not patterns:
        return re.compile("(?!)")
    return _compile_words("|".join(f"(?:{expand(p)})" for p in patterns), f"cue {name}")


def _locales(raw: dict[str, Any], where: str) -> tuple[str, ...]:
    locales = raw.get("locales", [])
    if not isinstance(locales, list) or not all(isinstance(item, str) for item in locales):
        raise LexiconError(f"{where}: locales must be a list of strings")
    return tuple(item.lower() for item in locales)


def _locale_applies(locales: tuple[str, ...], locale: str | None) -> bool:
    if not locales or locale is None:
        return True
    wanted = locale.lower().replace("_", "-")
    return any(wanted == tag or wanted.startswith(tag + "-") for tag in locales)


# Prefilter: literal strings one of which every match of an entry must contain ("mourir",
# "scarifi"...), read from the parsed pattern. A literal that must start (end) a word carries a
# NUL mark before (after) it and is looked up in the text's words joined with NULs, so "end"
# (a whole word in "end it all") does not fire on "prendre". An entry only runs on a text that
# holds one of its literals, near their occurrences, which keeps assess() well under a
# millisecond on ordinary posts. If a pattern is unusual, its entry simply always runs.
_MARK = "\0"
_WORD = re.compile(r"\w+")
_STOPWORDS = frozenset(
    "a ai all and apres au avec be but c ca ce comme d dans de depuis do don du elle en est et "
    "fai fais fait faire g had have he i il in is it j je know l la le les like m ma me mes moi "
    "mon my ne not o of on pas plus pour qu quand que s sa sais se ses she so son sur t the they "
    "this to tous tout toute un une vie was with y you".split()
)


def _required_literals(regex: re.Pattern[str]) -> tuple[frozenset[str], ...] | None:
    """Literal sets; every match contains a literal of *each* set (None: no prefilter)."""
    try:
        from re import _constants, _parser  # private, but stable since Python 3.11

        finder = _LiteralFinder(_constants)
        candidates = finder.candidates(list(_parser.parse(regex.pattern)), False, False)
    except Exception:  # noqa: BLE001 - any surprise only disables the prefilter
        return None
    ranked = sorted(candidates, key=_selectivity, reverse=True)
    strong = [literals for literals in ranked[1:3] if _selectivity(literals)[0]]
    return tuple(ranked[:1] + strong) or None


class _LiteralFinder:
    """Reads required literals out of a parsed pattern (``re._parser`` items)."""

    def __init__(self, constants: Any) -> None:
        self.c = constants
        self.repeats = (constants.MAX_REPEAT, constants.MIN_REPEAT, constants.POSSESSIVE_REPEAT)
        self.word = [(constants.IN, [(constants.CATEGORY, constants.CATEGORY_WORD)])]
        self.non_word = [(constants.IN, [(constants.CATEGORY, constants.CATEGORY_NOT_WORD)])]

    def boundary(self, item: Any) -> bool:
        """A word-edge assertion or a run of non-word characters next to a literal."""
        op, av = item
        if op is self.c.ASSERT_NOT:
            return list(av[1]) == self.word
        return op in self.repeats and av[0] >= 1 and list(av[2]) == self.non_word

    def candidates(self, items: list[Any], left: bool, right: bool) -> list[frozenset[str]]:
        """Literal sets such that every match of the sequence contains a literal of each."""
        found: list[frozenset[str]] = []
        last = len(items) - 1
        for index, (op, av) in enumerate(items):
            at_left = left if index == 0 else self.boundary(items[index - 1])
            if op is self.c.LITERAL:
                if index and items[index - 1][0] is op:
                    continue
                literals = self.leading(items[index:], at_left, right)
            else:
                at_right = right if index == last else self.boundary(items[index + 1])
                literals = self.nested(op, av, at_left, at_right)
            if literals:
                found.append(literals)
        return found

    def required(self, items: list[Any], left: bool, right: bool) -> frozenset[str] | None:
        return max(self.candidates(items, left, right), key=_selectivity, default=None)

    def nested(self, op: Any, av: Any, left: bool, right: bool) -> frozenset[str] | None:
        if op is self.c.SUBPATTERN:
            return self.required(list(av[3]), left, right)
        if op is self.c.BRANCH:
            return self._union(self.required(list(alt), left, right) for alt in av[1])
        if op in self.repeats and av[0] >= 1:
            return self.required(list(av[2]), False, False)
        return None

    def leading(self, items: list[Any], left: bool, right: bool) -> frozenset[str] | None:
        """Literals one of which every match of the sequence starts with (NUL-marked edges)."""
        run: list[str] = []
        last = len(items) - 1
        for index, (op, av) in enumerate(items):
            if op is self.c.LITERAL:
                run.append(chr(av))
                continue
            text = "".join(run)
            if text and not _WORD.fullmatch(text):
                return None
            prefix = (_MARK if left else "") + text
            at_right = right if index == last else self.boundary(items[index + 1])
            tails = None
            if op is self.c.SUBPATTERN:
                tails = self.leading(list(av[3]), False, at_right)
            elif op is self.c.BRANCH:
                tails = self._union(self.leading(list(alt), False, at_right) for alt in av[1])
            if tails is not None:
                return frozenset(prefix + tail for tail in tails)
            if not text:
                return None
            return frozenset({prefix + (_MARK if self.boundary(items[index]) else "")})
        text = "".join(run)
        if not text or not _WORD.fullmatch(text):
            return None
        return frozenset({(_MARK if left else "") + text + (_MARK if right else "")})

    @staticmethod
    def _union(sets: Iterable[frozenset[str] | None]) -> frozenset[str] | None:
        result: set[str] = set()
        for item in sets:
            if not item:
                return None
            result |= item
        return frozenset(result)


def _selectivity(literals: frozenset[str]) -> tuple[bool, int, int]:
    """Higher is better: no common word, then long or word-bounded literals, then few of them."""
    cores = [(lit.strip(_MARK), lit.count(_MARK)) for lit in literals]
    weak = any(core in _STOPWORDS or len(core) + marks < 3 for core, marks in cores)
    return (not weak, min(len(core) + 2 * marks for core, marks in cores), -len(literals))


# ---------------------------------------------------------------------------------------------
# Assessment
# ---------------------------------------------------------------------------------------------

_SENTENCE_BREAK = re.compile(r"[.!?;\n]+")
_NON_WORD = re.compile(r"\W")
_CLAUSE_BREAK = re.compile(
    r"[.!?;\n,:()\"«»“”]+|(?<!\w)(?:mais|et|parce que|car|donc|alors|puis|pis|sinon|cependant"
    r"|pourtant|pourquoi|but|and|because|then|however|although|though|why)(?!\w)"
)


@dataclass
class _Candidate:
    entry: LexiconEntry
    start: int
    end: int


class _Context:
    """The folded text of one assessment, with lazily computed sentence boundaries."""

    def __init__(self, folded: str, lexicon: Lexicon, locale: str | None) -> None:
        self.folded = folded
        self.lexicon = lexicon
        self.locale = locale
        self.present = lexicon.present_literals(folded)
        self._breaks: tuple[list[int], list[int]] | None = None
        self._exclusion_list: list[LexiconExclusion] | None = None
        self._exclusions: dict[tuple[int, int], list[tuple[int, int]]] = {}
        self._text_cues: dict[str, re.Match[str] | None] = {}

    def sentence(self, start: int, end: int) -> tuple[int, int]:
        if self._breaks is None:
            spans = [m.span() for m in _SENTENCE_BREAK.finditer(self.folded)]
            self._breaks = ([s for s, _ in spans], [e for _, e in spans])
        break_starts, break_ends = self._breaks
        index = bisect.bisect_right(break_ends, start)
        sentence_start = break_ends[index - 1] if index else 0
        after = bisect.bisect_left(break_starts, end, lo=index)
        sentence_end = break_starts[after] if after < len(break_starts) else len(self.folded)
        # A "sentence" without punctuation may be a whole post: its cues are looked for near
        # the match only, so that each match costs a bounded time.
        return max(sentence_start, start - _SENTENCE_REACH), min(sentence_end,
                                                                 end + _SENTENCE_REACH)

    def clause_prefix(self, sentence_start: int, start: int) -> str:
        window_start = max(sentence_start, start - _CLAUSE_WINDOW)
        prefix = self.folded[window_start:start]
        last_break = None
        for last_break in _CLAUSE_BREAK.finditer(prefix):  # noqa: B007 - keep the last one
            pass
        return prefix[last_break.end() :] if last_break else prefix

    def sentence_prefix(self, sentence_start: int, start: int) -> str:
        return self.folded[max(sentence_start, start - _SENTENCE_WINDOW) : start]

    def excluded(self, sentence: tuple[int, int], start: int, end: int) -> bool:
        """Whether [start, end) overlaps the span of an idiom exclusion in its sentence."""
        if self._exclusion_list is None:
            self._exclusion_list = self.lexicon.exclusions_for(self.present, self.locale)
        spans = self._exclusions.get(sentence)
        if spans is None:
            beyond = min(len(self.folded), sentence[1] + _SENTENCE_REACH)
            spans = self._exclusions[sentence] = [
                found.span()
                for exclusion in self._exclusion_list
                for found in exclusion.regex.finditer(
                    self.folded, sentence[0], beyond if exclusion.across else sentence[1])
            ]
        return any(s < end and start < e for s, e in spans)

    def cue(self, name: str, sentence: tuple[int, int]) -> re.Match[str] | None:
        regex = self.lexicon.cues[name]
        if name in _TEXT_SCOPE_CUES:
            if name not in self._text_cues:
                self._text_cues[name] = regex.search(self.folded)
            return self._text_cues[name]
        return regex.search(self.folded, *sentence)


def assess(text: str, locale: str | None = None, *, lexicon: Lexicon | None = None) -> Assessment:
    """Screen *text* for crisis language. Pure: no I/O once the lexicon is loaded.

    *locale* (``"fr-CA"``, ``"en"``...) only matters for entries restricted with ``locales``.
    """
    if not text:
        return NONE
    lexicon = _default_lexicon() if lexicon is None else lexicon
    folded, starts = _normalize(*_fold_with_offsets(text))
    context = _Context(folded, lexicon, locale)
    found: list[Match] = []
    for judged, candidate in enumerate(_candidates(context)):
        if judged >= MAX_CANDIDATES:
            break  # a pathological text: urgent entries were judged first
        kept = _judge(candidate, context)
        found.extend(kept)
        if any(m.level == "urgent" and m.about == "self" for m in kept):
            break  # nothing can raise the level further: enough to explain it
    if not found:
        return NONE
    matches = sorted(
        {_to_original(match, starts) for match in found},
        key=lambda m: (m.start, m.end, m.term),
    )
    level = max((m.level for m in matches), key=_RANK.__getitem__)
    return Assessment(level=level, matches=tuple(matches))


def escalation_cues(text: str, *, lexicon: Lexicon | None = None) -> tuple[str, ...]:
    """Which of the time, means and plan cues *text* holds ("ce soir", "la corde", "j'ai tout
    prévu"): they make a learned-stage hit urgent, as they escalate a lexicon match."""
    if not text:
        return ()
    lexicon = _default_lexicon() if lexicon is None else lexicon
    folded, _ = _normalize(*_fold_with_offsets(text))
    return tuple(name for name in _ESCALATORS if lexicon.cues[name].search(folded))


def _candidates(context: _Context) -> Iterator[_Candidate]:
    """Raw matches of the entries that pass the prefilter, searched near their anchor literals."""
    folded, lexicon = context.folded, context.lexicon
    entries = lexicon.entries_for(context.present, context.locale)
    for entry in sorted(entries, key=lambda entry: entry.level != "urgent"):
        seen: set[tuple[int, int]] = set()
        for window in _windows(folded, lexicon.anchors(entry, context.present)):
            for found in entry.regex.finditer(folded, *window):
                if found.span() not in seen:
                    seen.add(found.span())
                    yield _Candidate(entry, found.start(), found.end())


def _windows(folded: str, anchors: Iterable[str] | None) -> list[tuple[int, int]]:
    """Merged windows of ±_ANCHOR_REACH characters around each anchor; the whole text if none.

    A window ends on a non-word character, so the end-of-word check of a pattern stays true.
    """
    if anchors is None:
        return [(0, len(folded))]
    spans = sorted(
        (max(0, at - _ANCHOR_REACH), at + len(anchor) + _ANCHOR_REACH)
        for anchor in anchors
        for at in _occurrences(folded, anchor)
    )
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return [(start, _word_end(folded, end)) for start, end in merged]


def _occurrences(text: str, needle: str) -> Iterator[int]:
    at = text.find(needle)
    while at != -1:
        yield at
        at = text.find(needle, at + 1)


def _word_end(text: str, index: int) -> int:
    if index >= len(text):
        return len(text)
    boundary = _NON_WORD.search(text, index)
    return boundary.start() if boundary else len(text)


def _judge(candidate: _Candidate, context: _Context) -> list[Match]:
    """Apply the context rules to one raw match; return the kept matches (with cues)."""
    entry, start, end = candidate.entry, candidate.start, candidate.end
    sentence = context.sentence(start, end)
    if context.excluded(sentence, start, end):
        return []
    if entry.excludes is not None and entry.excludes.search(context.folded, *sentence):
        return []
    if entry.overlap_excludes is not None and any(
        found.start() < end and start < found.end()
        for found in entry.overlap_excludes.finditer(context.folded, *sentence)
    ):
        return []  # the idiom is these very words; a crisis phrase beside it still counts
    if entry.requires is not None and all(
        context.cue(name, sentence) is None for name in entry.requires
    ):
        return []
    cues = context.lexicon.cues
    clause = context.clause_prefix(sentence[0], start)
    matched = context.folded[start:end]
    # the match's own subject: it carries its "je"/"I", or the clause ends with it ("… so I
    # took all my pills"); such a match has its own verb and speaks for the writer
    carries_subject = cues["first_person"].match(matched) is not None
    own_subject = carries_subject or _SUBJECT_BEFORE.search(clause) is not None
    retracted = context.cue("retraction", sentence) is not None
    laughing = context.cue("joke", sentence) is not None
    if ((retracted or laughing and _DONE.search(matched) is None)
            and context.cue("plan", sentence) is None):
        return []  # hyperbole, marked by laughter (not an act done) or taken back in words
    act = entry.level == "urgent" and own_subject
    distance = context.cue("distance", sentence) is not None
    if (not act or distance) and _over(context.folded, sentence, start, cues):
        return []  # "les idées noires sont parties", "two years self-harm free"
    if _quoted(context.folded, sentence, start, end):
        return []  # someone's words quoted and discussed: « je vais me tuer », c'est son expression
    # a negation before a match with its own subject belongs to another verb ("je n'ose pas
    # dire que je veux mourir")
    if not carries_subject and _negated(clause, cues) and _AFFIRMED.search(clause) is None:
        return []
    if _STOPPED.search(clause) and _RECENT.search(context.folded, *sentence) is None:
        return []  # "j'ai arrêté de me scarifier", "I quit cutting myself" (not "hier")
    person = _speaker(entry, clause, context.sentence_prefix(sentence[0], start), matched, cues,
                      own_subject=own_subject)
    if _reported(person, clause, context.folded[sentence[0] : sentence[1]], cues, act=act):
        return []  # talk about the topic
    # the imperfect of a hypothesis ("si je n'étais plus là") is not a past tense
    told = cues["hypothetical"].sub(" ", f"{clause} {matched}")
    past = entry.tense == "past" or entry.tense != "now" and (
        cues["past"].search(told) is not None
        or distance
    )
    if past and entry.level == "urgent" and entry.tense != "past":
        own_clause = context.folded[start - len(clause) : _clause_end(context.folded, end,
                                                                      sentence[1])]
        if _NEAR_NOW.search(own_clause) and not cues["distance"].search(own_clause):
            past = False  # "… en 2022, mais ce soir je vais me jeter du pont": the act is now
    if past and (person == "other" or context.cue("recovery", sentence) is not None):
        return []  # someone else's story, or the writer's own recovered past
    if person == "other":
        return [Match(entry.id, "concern", start, end, about="other")]
    if past or _DOUBTED.search(clause):
        return [Match(entry.id, "concern", start, end)]
    if entry.level == "urgent" or not entry.escalate:
        return [Match(entry.id, entry.level, start, end)]
    for name in _ESCALATORS:
        cue = context.cue(name, sentence)
        if cue is not None:
            return [
                Match(entry.id, "urgent", start, end),
                Match(f"cue.{name}", "urgent", cue.start(), cue.end()),
            ]
    return [Match(entry.id, "concern", start, end)]


# a first-person subject ending the clause before a match: "… so I", "et j'ai", "pis je"
_SUBJECT_BEFORE = re.compile(
    r"(?<!\w)(?:i|i ve|ive|i d|i ll|i m|im|je|j|jai|j ai|jme|j me|je me|je m|j m)\W*$")
# a time that means now, for an act told after a past in the same sentence (not a weekday)
_NEAR_NOW = re.compile(
    r"(?<!\w)(?:ce soir|cette nuit|a soir|maintenant|tout de suite|la tout de suite|"
    r"tonight|tonite|right now|now)(?!\w)")
# having stopped, said right before what was stopped ("j'ai arrêté de me scarifier", "I quit
# cutting myself"), unless the stopping is recent ("hier", "two days ago")
_STOPPED = re.compile(
    r"(?<!\w)(?:(?<!jamais\s)(?<!pas\s)(?:arrete|arretee|stoppe|stoppee) d(?:e)?|"
    r"(?<!n\Wt\s)(?<!never\s)(?<!not\s)(?:stopped|quit))\W*$")
_RECENT = re.compile(
    r"(?<!\w)(?:hier|avant hier|ce matin|cette semaine|(?:un|deux|trois|quatre|cinq|quelques|\d+) "
    r"jours?|yesterday|last night|this morning|this week|(?:a|one|two|three|four|five|a few|"
    r"couple of|\d+) days?)(?!\w)")
# an act told as done: swallowed, taken, opened, cut, drunk (laughter does not make it a joke)
_DONE = re.compile(
    r"(?<!\w)(?:pris|avale\w*|bu|ouvert\w*|coupe\w*|taillade\w*|scarifie\w*|pendu\w*|"
    r"took|taken|swallowed|downed|drank|slit|overdosed|od d)(?!\w)")
# "je n'arrête pas de…", "pas un jour sans…", "not a day goes by without…": the negation is
# of the stopping, so what follows is affirmed
_AFFIRMED = re.compile(
    r"(?<!\w)(?:(?:n |ne )?(?:arrete|cesse)\w* (?:pas|jamais|plus) (?:de |d )?(?:\w+ )?|"
    r"(?:pas|plus|not|never) (?:un|une|a|one|a single) (?:seul |seule )?"
    r"(?:jour|nuit|soir|matin|heure|moment|day|night|hour|moment)(?: \w+){0,2} (?:sans|without) |"
    r"(?:never|not|don t|dont) stop (?:\w+ )?)\W*$")


def _clause_end(folded: str, end: int, sentence_end: int) -> int:
    """Where the clause holding a match ends: the next clause break, or the sentence's end."""
    found = _CLAUSE_BREAK.search(folded, end, sentence_end)
    return found.start() if found else sentence_end


# "je ne pense pas que…", "I don't think I'm…" right before a match: the writer tells of the
# thought and doubts the act
_DOUBTED = re.compile(
    r"(?<!\w)(?:(?:ne |n )?(?:pense|crois) (?:pas|plus)|(?:don t|dont|do not) (?:think|believe)|"
    r"(?<!no\s)(?<!a\s)doubt)(?: que| qu| that)?(?: i m| im| i ll| ill| i)?\W*$")


_RELAPSE_TURN = re.compile(
    r"(?<!\w)(?:mais|pourtant|sauf que|cependant|but|yet|though|except)(?!\w)")


def _over(folded: str, sentence: tuple[int, int], start: int,
          cues: dict[str, re.Pattern[str]]) -> bool:
    """Whether the sentence says the thing is over ("les idées noires sont parties", "two
    years self-harm free"). An "over" said before the match does not cover a relapse told
    after it, with a turn or a time between them ("90 days clean from self-harm and tonight I
    want to cut again", "… mais ce soir j'ai recommencé")."""
    for found in cues["over"].finditer(folded, *sentence):
        if found.end() > start:
            return True  # said at or after the match: it is about the match
        between = folded[found.end() : start]
        if _RELAPSE_TURN.search(between) is None and cues["time"].search(between) is None:
            return True
    return False


_OPEN_QUOTES = "«“\""
_CLOSE_QUOTES = "»”\""
_QUOTE_TALK = re.compile(
    r"(?<!\w)(?:phrase|expression|formule|facon de parler|mots?|journal|saying|figure of speech|"
    r"words?|quote|chaque fois|a chaque fois|every time|tout le temps|souvent|always)(?!\w)")


_OWN_THOUGHT = re.compile(
    r"(?<!\w)(?:i (?:\w+ )?(?:think|thought|tell myself|told myself|say to myself|hear myself)|"
    r"in my head|my head (?:says|goes)|je me (?:dis|disais|repete|suis dit\w*)|"
    r"(?:je|j) (?:\w+ )?pense|dans ma tete|ma tete (?:me )?dit)(?: \w+){0,3}\W*$")


def _quoted(folded: str, sentence: tuple[int, int], start: int, end: int) -> bool:
    """Whether the match sits inside quotation marks in a sentence that talks about words
    (« je me tire une balle », c'est son expression; my sister says "I'm going to kill
    myself" every time...)."""
    before = folded[sentence[0] : start]
    after = folded[end : sentence[1]]
    opened = max(before.rfind(q) for q in _OPEN_QUOTES)
    if opened < 0 or not any(q in after for q in _CLOSE_QUOTES):
        return False
    if before.count('"') % 2 == 0 and "«" not in before and "“" not in before:
        return False
    if _OWN_THOUGHT.search(before[:opened]) is not None:
        return False  # the writer quotes their own head: "je me dis souvent « je veux mourir »"
    outside = before[:opened] + after
    return _QUOTE_TALK.search(outside) is not None


# "c'est pas un appel à l'aide", "this is not a cry for help": after "c'est"/"this is", a
# negation followed by a determiner and two words or more negates what is named there, not
# the match said after it (words are counted, the phrase is not parsed)
_NEGATED_NOUN = re.compile(
    r"\W+(?:du tout\W+)?(?:un|une|le|la|les|des|a|an|the)"
    r"(?!\W+(?:question|histoire|case|matter|point)\W)(?:\W+\w+){2,}\W*$")
_PRESENTATIVE = re.compile(
    r"(?<!\w)(?:c est|ce n est|ce n etait|cest|it s|its|it is|this is|that s|this isn t|"
    r"it isn t)\W*$")


def _negated(clause: str, cues: dict[str, re.Pattern[str]]) -> bool:
    """A negation cue after the writer's last "je"/"I" in the clause before the match, unless
    it follows "c'est"/"this is" and a determiner and two words stand between it and the match
    ("c'est pas un appel à l'aide envie d'en finir")."""
    speaker_start = -1
    for speaker in cues["first_person"].finditer(clause):
        speaker_start = speaker.start()
    return any(m.start() >= speaker_start
               and not (_PRESENTATIVE.search(clause, 0, m.start())
                        and _NEGATED_NOUN.match(clause, m.end()))
               for m in cues["negation"].finditer(clause))


def _speaker(
    entry: LexiconEntry, clause: str, sentence: str, matched: str,
    cues: dict[str, re.Pattern[str]], *, own_subject: bool = False,
) -> Literal["self", "other", "unknown"]:
    """Who the match is about: the writer, someone else, or unknown (treated as the writer).

    An entry written for someone else ("veut mourir", "is suicidal") is about the writer when
    its match names no one and the writer is the last subject before it ("je pense à mourir",
    "je veut mourir" typed for "veux")."""
    if entry.person == "other":
        if cues["third_person"].search(matched) or cues["reported"].search(matched):
            return "other"
        last_self = last_other = -1
        for found in cues["first_person"].finditer(clause):
            last_self = found.end()
        for name in ("third_person", "reported"):
            for found in cues[name].finditer(clause):
                last_other = max(last_other, found.end())
        return "self" if last_self > last_other else "other"
    if _in_reported_words(sentence, cues):
        return "other"
    if own_subject and cues["reported"].search(sentence) is None:
        return "self"  # "ma mère dort, j'ai pris…" (not "elle m'a dit : « je … »")
    kinds: tuple[tuple[str, str], ...] = (("self", "first_person"), ("other", "reported"))
    regions = (sentence,)
    if entry.person == "any":
        kinds = (*kinds, ("other", "third_person"))
        regions = (clause, sentence)
    for region in regions:
        last: tuple[int, str] | None = None
        for kind, cue_name in kinds:
            for found in cues[cue_name].finditer(region):
                if last is None or found.end() > last[0]:
                    last = (found.end(), kind)
        if last is not None:
            return "self" if last[1] == "self" else "other"
    return "self" if entry.person == "self" else "unknown"


def _in_reported_words(sentence: str, cues: dict[str, re.Pattern[str]]) -> bool:
    """Whether the match sits inside words someone is reported to have said: a quotation or a
    colon still open, right after a reported cue ("my friend texted me "I'm going to…"",
    "he told me: I want to die"). Its "I" is theirs, not the writer's."""
    opening = max(sentence.rfind(q) for q in (*_OPEN_QUOTES.replace('"', ""), ":"))
    if sentence.count('"') % 2 == 1:
        opening = max(opening, sentence.rfind('"'))
    if opening < 0 or any(q in sentence[opening:] for q in _CLOSE_QUOTES.replace('"', "")):
        return False
    said = None
    for said in cues["reported"].finditer(sentence, 0, opening):  # noqa: B007 - keep the last
        pass
    return said is not None and not sentence[said.end() : opening].strip(" ,")


def _reported(person: str, clause: str, sentence: str, cues: dict[str, re.Pattern[str]], *,
              act: bool = False) -> bool:
    """News, statistics, media or prevention talk rather than a personal disclosure. For the
    writer's own act, the `setting` cues (a helpline, a course, the news) are only where it
    happens."""
    region = clause if person == "self" else sentence
    return (cues["reporting"].search(region) is not None
            or not act and cues["setting"].search(region) is not None)


def _to_original(match: Match, starts: list[int] | None) -> Match:
    start, end = _original_span(starts, match.start, match.end)
    return Match(match.term, match.level, start, end, match.about)


# ---------------------------------------------------------------------------------------------
# Evaluation and printing
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvalError:
    """A misclassified row of the evaluation set."""

    expected: Level
    got: Level
    lang: str
    text: str
    terms: tuple[str, ...] = ()


@dataclass(frozen=True)
class EvalReport:
    """Figures on a labelled set (see :func:`evaluate` for the definitions)."""

    total: int
    flag_recall: float
    urgent_recall: float
    false_positive_rate: float
    errors: list[EvalError]
    label_counts: dict[str, int] = field(default_factory=dict)
    lang_counts: dict[str, int] = field(default_factory=dict)
    exact_accuracy: float = 0.0

    @property
    def meets_targets(self) -> bool:
        return (
            self.flag_recall >= FLAG_RECALL_TARGET
            and self.urgent_recall >= URGENT_RECALL_TARGET
            and self.false_positive_rate <= FALSE_POSITIVE_TARGET
        )


def read_eval_set(path: Path | None = None) -> list[tuple[Level, str, str]]:
    """Rows ``(label, lang, text)`` of a TSV file with a ``label<TAB>lang<TAB>text`` header."""
    path = Path(path) if path is not None else DEFAULT_EVAL_PATH
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or lines[0].split("\t") != ["label", "lang", "text"]:
        raise ValueError(f"{path.name}: the first line must be 'label<TAB>lang<TAB>text'")
    rows: list[tuple[Level, str, str]] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 3 or parts[0] not in LEVELS:
            raise ValueError(f"{path.name}:{number}: expected 'label<TAB>lang<TAB>text'")
        rows.append((parts[0], parts[1], parts[2]))  # type: ignore[arg-type]
    return rows


def evaluate(path: Path | None = None, *, lexicon: Lexicon | None = None) -> EvalReport:
    """Assess every row of a labelled set (default: the package set) and compute the figures.

    Flag recall: share of rows labelled concern or urgent that assess at concern or above.
    Urgent recall: share of rows labelled urgent that assess at urgent.
    False-positive rate: share of rows labelled none that assess at concern or above.
    Each row's ``lang`` is passed as the locale.
    """
    lexicon = _default_lexicon() if lexicon is None else lexicon
    rows = read_eval_set(path)
    flagged = urgent_hits = false_positives = exact = 0
    errors: list[EvalError] = []
    for label, lang, text in rows:
        result = assess(text, lang, lexicon=lexicon)
        flagged += label != "none" and result.at_least_concern
        urgent_hits += label == "urgent" and result.level == "urgent"
        false_positives += label == "none" and result.at_least_concern
        exact += label == result.level
        if label != result.level:
            terms = tuple(m.term for m in result.matches)
            errors.append(EvalError(label, result.level, lang, text, terms))
    labels = Counter(label for label, _, _ in rows)
    return EvalReport(
        total=len(rows),
        flag_recall=_ratio(flagged, labels["concern"] + labels["urgent"]),
        urgent_recall=_ratio(urgent_hits, labels["urgent"]),
        false_positive_rate=_ratio(false_positives, labels["none"]),
        errors=errors,
        label_counts={level: labels[level] for level in LEVELS},
        lang_counts=dict(sorted(Counter(lang for _, lang, _ in rows).items())),
        exact_accuracy=_ratio(exact, len(rows)),
    )


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def format_assessment(a: Assessment, text: str | None = None) -> str:
    """Human-readable lines for ``forum crisis-check``; quotes the matched text when given."""
    lines = [f"level: {a.level}"]
    for match in a.matches:
        quoted = f"  {text[match.start : match.end]!r}" if text is not None else ""
        lines.append(f"  - {match.level:<7} {match.term} [{match.start}:{match.end}]{quoted}")
    if not a.matches:
        lines.append("  (no match)")
    return "\n".join(lines)


def format_report(r: EvalReport) -> str:
    """The figures, the targets and the misclassified rows, for ``forum crisis-eval``."""
    labels = ", ".join(f"{name} {count}" for name, count in r.label_counts.items())
    langs = ", ".join(f"{name} {count}" for name, count in r.lang_counts.items())
    lines = [
        f"crisis screening evaluation: {r.total} sentences ({labels}; {langs})",
        _figure("flag recall", r.flag_recall, ">=", FLAG_RECALL_TARGET),
        _figure("urgent recall", r.urgent_recall, ">=", URGENT_RECALL_TARGET),
        _figure("false positives", r.false_positive_rate, "<=", FALSE_POSITIVE_TARGET),
        f"  {'exact level':<16} {r.exact_accuracy:6.1%}",
        f"targets: {'met' if r.meets_targets else 'NOT MET'}",
    ]
    if r.errors:
        lines.append(f"misclassified ({len(r.errors)}):")
        for error in r.errors:
            terms = f"  <- {', '.join(error.terms)}" if error.terms else ""
            lines.append(
                f"  expected {error.expected:<7} got {error.got:<7} [{error.lang}] "
                f"{error.text}{terms}"
            )
    return "\n".join(lines)


def _figure(name: str, value: float, sign: str, target: float) -> str:
    ok = value >= target if sign == ">=" else value <= target
    return f"  {name:<16} {value:6.1%}  (target {sign} {target:.0%}) {'ok' if ok else 'FAIL'}"


def _main(argv: list[str]) -> int:
    """``python -m moderation.crisis check "text"`` or ``python -m moderation.crisis eval``."""
    if len(argv) >= 2 and argv[0] == "check":
        text = " ".join(argv[1:])
        print(format_assessment(assess(text), text))
        return 0
    if argv[:1] == ["eval"]:
        report = evaluate(Path(argv[1]) if len(argv) > 1 else None)
        print(format_report(report))
        return 0 if report.meets_targets else 1
    print('usage: python -m moderation.crisis check "text" | eval [file.tsv]', file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
