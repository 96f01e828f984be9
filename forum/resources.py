"""Crisis and support lines: loading the data file and choosing what to show for a region.

Pure module: no database, no web framework. The data lives in ``forum/data/crisis_lines.json``,
built from ``shared/reference/safety.md`` §a. Used by ``/help``, the crisis interstitial and
the space pages (per-space lines through ``topics``).

How verification is represented (honestly)
------------------------------------------
Nothing in the data file has been checked against the live official sites or by calling the
lines. Each record therefore carries:

- ``status``: the research's verdict, copied from safety.md (``verified`` | ``partial`` |
  ``unverified``). Where the research is mixed ("✅ number and hours / ⚠️ cost"), the status
  is ``verified`` for the number, the doubt is written in ``notes`` and the cost is worded
  cautiously.
- ``checked_against`` (the research copy and its month, ``research_month``) and ``sources``
  (the ``[S..]`` tags of safety.md; ``C`` means uncitable code lists).
- ``last_verified`` and ``verified_by``: ``null`` until a human checks the entry against the
  official site, and ``needs_live_check: true`` until then. Templates should show the status
  and, when ``last_verified`` is null, say that the entry comes from research dated
  ``research_month`` and has not yet been checked live.

URLs marked "❌ URL not confirmed" in the research are ``null``; chat URLs are set only where
the research confirms the service (suicide.ca). ``tel`` and ``sms`` are URIs without spaces.

Display rules: within each group, verified entries come first, then by ``order`` (so an entry
that is not verified is never the first line of a list), and ``RegionLines.primary()`` returns
only verified entries.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

REGIONS: tuple[str, ...] = ("FR", "BE", "CH", "CA-QC", "CA", "INTL")
KINDS: tuple[str, ...] = (
    "emergency",
    "suicide",
    "listening",
    "youth",
    "addiction",
    "eating_disorder",
    "deaf_emergency",
    "violence",
    "child_protection",
    "psychosocial",
    "directory",
)
STATUSES: tuple[str, ...] = ("verified", "partial", "unverified")
TOPICS: tuple[str, ...] = (
    "addiction",
    "alcohol",
    "drugs",
    "gambling",
    "eating_disorder",
    "violence",
)
LOCALES: tuple[str, ...] = ("fr", "en")

DATA_FILE = Path(__file__).resolve().parent / "data" / "crisis_lines.json"

EMERGENCY_KINDS = frozenset({"emergency", "deaf_emergency"})
CRISIS_KINDS = frozenset({"suicide", "psychosocial"})
LISTENING_KINDS = frozenset({"listening", "youth", "violence", "child_protection", "directory"})
# Lines of these kinds are shown only through topics (space pages, or include_topic_lines).
TOPIC_KINDS = frozenset({"addiction", "eating_disorder"})

_TEL_RE = re.compile(r"^tel:\+?[0-9]+$")
_SMS_RE = re.compile(r"^sms:\+?[0-9]+$")
_URL_RE = re.compile(r"^https?://[^\s/$.?#][^\s]*$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TAG_RE = re.compile(r"[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*")

_REGION_NAMES: dict[str, dict[str, str]] = {
    "FR": {"fr": "France", "en": "France"},
    "BE": {"fr": "Belgique", "en": "Belgium"},
    "CH": {"fr": "Suisse", "en": "Switzerland"},
    "CA-QC": {"fr": "Québec", "en": "Quebec"},
    "CA": {"fr": "Canada", "en": "Canada"},
    "INTL": {"fr": "Ailleurs / International", "en": "Elsewhere / International"},
}
_REGION_ALIASES = {"QC": "CA-QC", "CAQC": "CA-QC", "QUEBEC": "CA-QC", "QUÉBEC": "CA-QC"}


def _lang(locale: str | None) -> str:
    """``"en-CA"``, ``"en_GB"``, ``"EN"`` -> ``"en"``; anything else -> ``"fr"``."""
    if not locale:
        return "fr"
    lang = locale.replace("_", "-").split("-", 1)[0].strip().lower()
    return lang if lang in LOCALES else "fr"


def _pick(texts: Mapping[str, str] | None, locale: str | None) -> str:
    if not texts:
        return ""
    return texts.get(_lang(locale)) or texts.get("fr") or ""


@dataclass(frozen=True)
class Line:
    """One crisis or support line (or a piece of guidance, such as "call your local number")."""

    id: str
    kind: str
    regions: tuple[str, ...]
    name: Mapping[str, str]
    number_display: str
    tel: str | None
    sms: str | None
    text_display: Mapping[str, str] | None
    chat_url: str | None
    url: str | None
    hours: Mapping[str, str]
    cost: Mapping[str, str]
    audience: Mapping[str, str]
    status: str
    notes: str | None
    topics: tuple[str, ...]
    order: int
    crisis: bool
    sources: tuple[str, ...]
    checked_against: str
    research_month: str | None
    last_verified: str | None
    verified_by: str | None
    needs_live_check: bool

    def __hash__(self) -> int:
        return hash(self.id)

    @property
    def verified(self) -> bool:
        """True when the research marks the line verified (see the module docstring)."""
        return self.status == "verified"

    def label(self, locale: str) -> str:
        """The line's name in ``locale``, falling back to French."""
        return _pick(self.name, locale)

    def hours_text(self, locale: str) -> str:
        return _pick(self.hours, locale)

    def cost_text(self, locale: str) -> str:
        return _pick(self.cost, locale)

    def audience_text(self, locale: str) -> str:
        return _pick(self.audience, locale)

    def sms_text(self, locale: str) -> str:
        """How to text the line ("Texto : 535353"), or an empty string."""
        return _pick(self.text_display, locale)


def _sort_key(line: Line) -> tuple[int, int, str]:
    return (0 if line.verified else 1, line.order, line.id)


@dataclass(frozen=True)
class RegionLines:
    """The lines of one region, grouped in the order a page shows them."""

    region: str
    emergency: list[Line]
    crisis: list[Line]
    listening: list[Line]
    topical: list[Line]

    def primary(self) -> list[Line]:
        """The main emergency number, then the main suicide line; verified entries only.

        For the header and for the interstitial at "urgent". The main crisis line is the first
        verified suicide line, else the first verified line of the crisis group (Québec's 811,
        Switzerland's 143). INTL gives only the emergency guidance.
        """
        chosen: list[Line] = []
        emergency = [line for line in self.emergency if line.verified]
        main = next((x for x in emergency if x.kind == "emergency"), None)
        if main is None and emergency:
            main = emergency[0]
        if main is not None:
            chosen.append(main)
        crisis = [line for line in self.crisis if line.verified]
        suicide = next((x for x in crisis if x.kind == "suicide"), None)
        if suicide is None and crisis:
            suicide = crisis[0]
        if suicide is not None:
            chosen.append(suicide)
        return chosen

    def all(self) -> list[Line]:
        """Every line, in display order: emergency, crisis, listening, topical."""
        return [*self.emergency, *self.crisis, *self.listening, *self.topical]


# ---------------------------------------------------------------------------- loading


def _text(raw: Mapping[str, Any], key: str, where: str, *, optional: bool = False) -> Any:
    value = raw.get(key)
    if value is None:
        if optional:
            return None
        raise ValueError(f"{where}: {key} is required")
    if not isinstance(value, dict) or not isinstance(value.get("fr"), str) or not value["fr"]:
        raise ValueError(f"{where}: {key} must be an object with at least a 'fr' text")
    for lang, text in value.items():
        if lang not in LOCALES or not isinstance(text, str):
            raise ValueError(f"{where}: {key} has an unknown locale or a non-text value")
    return MappingProxyType(dict(value))


def _opt_str(raw: Mapping[str, Any], key: str, where: str, pattern: re.Pattern[str]) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not pattern.match(value):
        raise ValueError(f"{where}: invalid {key} {value!r}")
    return value


def _parse_line(raw: Any, index: int) -> Line:
    if not isinstance(raw, dict):
        raise ValueError(f"line {index}: must be an object")
    line_id = raw.get("id")
    if not isinstance(line_id, str) or not line_id:
        raise ValueError(f"line {index}: id is required")
    where = f"line {line_id!r}"

    kind = raw.get("kind")
    if kind not in KINDS:
        raise ValueError(f"{where}: unknown kind {kind!r}")
    regions = raw.get("regions")
    if not isinstance(regions, list) or not regions:
        raise ValueError(f"{where}: regions must be a non-empty list")
    for region in regions:
        if region not in REGIONS:
            raise ValueError(f"{where}: unknown region {region!r}")
    status = raw.get("status")
    if status not in STATUSES:
        raise ValueError(f"{where}: unknown status {status!r}")
    topics = raw.get("topics", [])
    if not isinstance(topics, list) or any(t not in TOPICS for t in topics):
        raise ValueError(f"{where}: unknown topic in {topics!r}")
    if kind in TOPIC_KINDS and not topics:
        raise ValueError(f"{where}: a {kind} line needs topics, or it is never shown")
    number_display = raw.get("number_display")
    if not isinstance(number_display, str) or not number_display:
        raise ValueError(f"{where}: number_display is required")
    order = raw.get("order")
    if not isinstance(order, int) or isinstance(order, bool):
        raise ValueError(f"{where}: order must be an integer")
    crisis = raw.get("crisis", kind in CRISIS_KINDS)
    if not isinstance(crisis, bool):
        raise ValueError(f"{where}: crisis must be true or false")
    if crisis and kind in EMERGENCY_KINDS | TOPIC_KINDS:
        raise ValueError(f"{where}: an {kind} line cannot be a crisis line")
    sources = raw.get("sources")
    if not isinstance(sources, list) or not sources or not all(isinstance(s, str) for s in sources):
        raise ValueError(f"{where}: sources must list the research's source tags")
    last_verified = raw.get("last_verified")
    if last_verified is not None and (
        not isinstance(last_verified, str) or not _DATE_RE.match(last_verified)
    ):
        raise ValueError(f"{where}: last_verified must be YYYY-MM-DD or null")
    needs_live_check = raw.get("needs_live_check", last_verified is None)
    if not isinstance(needs_live_check, bool):
        raise ValueError(f"{where}: needs_live_check must be true or false")
    notes = raw.get("notes")
    if notes is not None and not isinstance(notes, str):
        raise ValueError(f"{where}: notes must be text or null")

    tel = _opt_str(raw, "tel", where, _TEL_RE)
    sms = _opt_str(raw, "sms", where, _SMS_RE)
    return Line(
        id=line_id,
        kind=kind,
        regions=tuple(regions),
        name=_text(raw, "name", where),
        number_display=number_display,
        tel=tel,
        sms=sms,
        text_display=_text(raw, "text_display", where, optional=True),
        chat_url=_opt_str(raw, "chat_url", where, _URL_RE),
        url=_opt_str(raw, "url", where, _URL_RE),
        hours=_text(raw, "hours", where),
        cost=_text(raw, "cost", where),
        audience=_text(raw, "audience", where),
        status=status,
        notes=notes,
        topics=tuple(topics),
        order=order,
        crisis=crisis,
        sources=tuple(sources),
        checked_against=str(raw.get("checked_against") or ""),
        research_month=raw.get("research_month"),
        last_verified=last_verified,
        verified_by=raw.get("verified_by"),
        needs_live_check=needs_live_check,
    )


@lru_cache(maxsize=8)
def _load(path: Path) -> dict[str, tuple[Line, ...]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    raw_lines = data.get("lines") if isinstance(data, dict) else data
    if not isinstance(raw_lines, list):
        raise ValueError(f"{path}: expected a list of lines")
    lines = [_parse_line(raw, i) for i, raw in enumerate(raw_lines)]
    seen: set[str] = set()
    for line in lines:
        if line.id in seen:
            raise ValueError(f"duplicate line id {line.id!r}")
        seen.add(line.id)
    by_region: dict[str, tuple[Line, ...]] = {}
    for region in REGIONS:
        in_region = sorted((x for x in lines if region in x.regions), key=_sort_key)
        if not any(x.verified and x.kind in EMERGENCY_KINDS for x in in_region):
            raise ValueError(f"region {region} has no verified emergency line")
        by_region[region] = tuple(in_region)
    return by_region


def load_lines(path: Path | None = None) -> dict[str, list[Line]]:
    """Every region's lines (verified first, then by ``order``), read once and validated.

    Raises ValueError when the file names an unknown kind, region, status or topic, has a
    malformed ``tel:``/``sms:`` URI or URL, or leaves a region without a verified emergency line.
    """
    loaded = _load(Path(path).resolve() if path is not None else DATA_FILE)
    return {region: list(lines) for region, lines in loaded.items()}


def lines_for(
    region: str,
    *,
    topics: Iterable[str] = (),
    include_topic_lines: bool = False,
    path: Path | None = None,
) -> RegionLines:
    """The lines to show for ``region``, grouped.

    ``topics`` (a space's themes, such as ``["addiction"]``) selects the lines whose topics
    intersect it into ``topical``; ``include_topic_lines=True`` (for ``/help``) adds every
    addiction or eating-disorder line of the region too. A line is shown in one group only:
    a listening line matched by a topic moves to ``topical``; emergency and crisis lines stay.
    """
    code = normalize_region(region)
    if code is None:
        raise ValueError(f"unknown region {region!r}")
    wanted = set(topics)
    emergency: list[Line] = []
    crisis: list[Line] = []
    listening: list[Line] = []
    topical: list[Line] = []
    for line in load_lines(path)[code]:
        matched = bool(wanted.intersection(line.topics))
        if line.kind in EMERGENCY_KINDS:
            emergency.append(line)
        elif line.crisis:
            crisis.append(line)
        elif line.kind in TOPIC_KINDS:
            if matched or include_topic_lines:
                topical.append(line)
        elif matched:
            topical.append(line)
        else:
            listening.append(line)
    # load_lines already sorts; sorting each group again keeps the rule local and explicit.
    return RegionLines(
        region=code,
        emergency=sorted(emergency, key=_sort_key),
        crisis=sorted(crisis, key=_sort_key),
        listening=sorted(listening, key=_sort_key),
        topical=sorted(topical, key=_sort_key),
    )


# ---------------------------------------------------------------------------- regions


def normalize_region(value: str | None) -> str | None:
    """A region code from user input (``"ca-qc"``, ``"qc"``, ``" be "``), or None if unknown."""
    if not value or not isinstance(value, str):
        return None
    code = value.strip().upper().replace("_", "-")
    code = _REGION_ALIASES.get(code, code)
    return code if code in REGIONS else None


def _region_from_tag(tag: str) -> str | None:
    """The region a language tag names (``fr-CA`` -> ``CA-QC``); None for ``fr`` or ``en-US``."""
    parts = tag.replace("_", "-").split("-")
    if len(parts) < 2:
        return None
    lang = parts[0].lower()
    rest = parts[1:]
    if len(rest[0]) == 4 and rest[0].isalpha():  # a script subtag, as in zh-Hant-TW
        rest = rest[1:]
    if not rest or len(rest[0]) != 2 or not rest[0].isalpha():
        return None
    country = rest[0].upper()
    if country == "CA":
        return "CA-QC" if lang == "fr" else "CA"
    return country if country in ("FR", "BE", "CH") else None


def parse_accept_language(header: str | None) -> list[str]:
    """The header's language tags, best first (by q-value, then position); q=0 and junk dropped."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for position, item in enumerate(header[:1024].split(",")[:32]):
        pieces = [p.strip() for p in item.split(";")]
        tag = pieces[0]
        if not tag or not _TAG_RE.fullmatch(tag):
            continue
        quality = 1.0
        valid = True
        for param in pieces[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    valid = False
                if not 0.0 <= quality <= 1.0:
                    valid = False
        if valid and quality > 0:
            weighted.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(weighted)]


def resolve_region(
    *,
    query: str | None,
    member_region: str | None,
    accept_language: str | None,
    default: str,
) -> str:
    """The region: ``?region=``, then the member's setting, then Accept-Language, then default.

    Invalid or unknown values at any step are ignored and the next step decides. From
    Accept-Language, only tags that name a supported country decide, in q-value order:
    fr-CA -> CA-QC, other -CA -> CA, -BE -> BE, -CH -> CH, -FR -> FR. A bare ``fr`` or ``en``
    says nothing about where the reader lives (French is spoken in all our regions), and
    ``en-US`` names an unsupported country: both are skipped, so the default decides rather
    than a guess. Raises ValueError if ``default`` itself is not a region (a configuration error).
    """
    for candidate in (query, member_region):
        code = normalize_region(candidate)
        if code is not None:
            return code
    for tag in parse_accept_language(accept_language):
        code = _region_from_tag(tag)
        if code is not None:
            return code
    code = normalize_region(default)
    if code is None:
        raise ValueError(f"default region {default!r} is not one of {', '.join(REGIONS)}")
    return code


def region_name(region: str, locale: str) -> str:
    """The region's name for people: "France", "Québec", "Ailleurs / International"..."""
    code = normalize_region(region)
    if code is None:
        raise ValueError(f"unknown region {region!r}")
    return _pick(_REGION_NAMES[code], locale)
