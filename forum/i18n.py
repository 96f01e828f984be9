"""Languages: French is the source language of every UI string; English is a complete catalogue.

Strings are written in French in the code and templates (``_("…")``), because French is the
default and most readers read it; the ``.po`` files in ``locales/en/LC_MESSAGES/`` (one per
area) translate each of them, and a test fails when one is missing. Catalogues are compiled
in memory at start-up, so there is no build step and no ``.mo`` file to forget.

The locale of a request: the member's setting, then the ``lang`` cookie a visitor chose, then
Accept-Language, then ``FORUM_DEFAULT_LOCALE``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, negotiate_locale
from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime, format_timedelta
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

from forum.config import LOCALES, ROOT
from forum.db import utcnow

LOCALE_DIR = ROOT / "locales"
SOURCE_LOCALE = "fr"
LANG_COOKIE = "lang"

REGION_TIMEZONES = {
    "FR": "Europe/Paris", "BE": "Europe/Brussels", "CH": "Europe/Zurich",
    "CA-QC": "America/Toronto", "CA": "America/Toronto", "INTL": "UTC",
}


def N_(message: str) -> str:
    """Mark a string for translation where it is defined; it is translated where shown."""
    return message


def catalog_files(locale: str) -> list[Path]:
    """Every ``.po`` file of a locale: one per area of the code (core, moderation, …)."""
    return sorted((LOCALE_DIR / locale / "LC_MESSAGES").glob("*.po"))


def load_catalog(locale: str) -> Catalog:
    """The merged catalogue of a locale (a message defined twice: the last file wins)."""
    merged = Catalog(locale=locale, domain="messages")
    for path in catalog_files(locale):
        with path.open("rb") as po:
            for message in read_po(po, locale=locale):
                if message.id and message.string:
                    merged[message.id] = message
    return merged


@cache
def translations(locale: str) -> NullTranslations:
    if locale == SOURCE_LOCALE or locale not in LOCALES:
        return NullTranslations()
    buffer = io.BytesIO()
    write_mo(buffer, load_catalog(locale))
    buffer.seek(0)
    return Translations(buffer)


def gettext(locale: str, message: str, **params: Any) -> str:
    text = translations(locale).gettext(message)
    return text % params if params else text


def ngettext(locale: str, singular: str, plural: str, n: int, **params: Any) -> str:
    text = translations(locale).ngettext(singular, plural, n)
    params.setdefault("num", n)
    return text % params


def negotiate(accept_language: str | None) -> str | None:
    if not accept_language:
        return None
    preferences: list[tuple[float, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            preferences.append((-quality + position * 1e-6, tag.replace("-", "_")))
    ordered = [tag for _, tag in sorted(preferences)]
    return negotiate_locale(ordered, list(LOCALES), sep="_") or negotiate_locale(
        [tag.split("_")[0] for tag in ordered], list(LOCALES)
    )


def pick_locale(
    *, member_locale: str | None, cookie: str | None, accept_language: str | None, default: str
) -> str:
    for candidate in (member_locale, cookie):
        if candidate in LOCALES:
            return candidate
    return negotiate(accept_language) or default


def timezone_for(region: str) -> ZoneInfo:
    return ZoneInfo(REGION_TIMEZONES.get(region, "UTC"))


def format_date(value: datetime, locale: str, region: str) -> str:
    """A localised date and time in the reader's region, e.g. "23 nov. 2026, 08:14" or
    "Nov 23, 2026, 8:14 AM": Babel's ``format_datetime`` with the patterns of
    :data:`DATE_PATTERNS`, written out from the locale's month and period names. A page shows
    tens of dates (a search's twenty hits, a thread's thirty posts) and Babel reads its pattern
    and the locale's data again for each: about 19 µs a date, against 4–5 µs written out
    (issue 20). ``tests/forum/test_translations.py`` compares the two on thousands of
    instants."""
    if locale not in DATE_PATTERNS:
        return format_datetime(value, DATE_PATTERNS["en"], tzinfo=timezone_for(region),
                               locale=locale)
    names = _date_names(locale)
    if value.tzinfo is None:  # as Babel reads a naive datetime
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(timezone_for(region))
    month = names.months[local.month]
    if locale == "fr":
        return f"{local.day} {month} {local.year}, {local.hour:02d}:{local.minute:02d}"
    period = names.periods["pm" if local.hour >= 12 else "am"]
    return f"{month} {local.day}, {local.year}, {local.hour % 12 or 12}:{local.minute:02d} {period}"


DATE_PATTERNS = {"fr": "d MMM y, HH:mm", "en": "MMM d, y, h:mm a"}
"""The CLDR patterns :func:`format_date` writes (another locale would get Babel's English one)."""


@dataclass(frozen=True)
class _DateNames:
    months: dict[int, str]
    periods: dict[str, str]


@cache
def _date_names(locale: str) -> _DateNames:
    """The locale's abbreviated month names and its am/pm marks, as Babel's ``MMM`` and ``a``
    write them."""
    parsed = Locale.parse(locale)
    return _DateNames(dict(parsed.months["format"]["abbreviated"]),
                      dict(parsed.day_periods["format"]["abbreviated"]))


def format_day(value: date, locale: str) -> str:
    """A localised day, e.g. "5 déc. 2026" or "Dec 5, 2026"."""
    return babel_format_date(value, "d MMM y" if locale == "fr" else "MMM d, y", locale=locale)


def format_ago(value: datetime, locale: str) -> str:
    """"il y a 3 heures" / "3 hours ago"."""
    return format_timedelta(value - utcnow(), add_direction=True, threshold=1.1, locale=locale)


def format_number(value: int, locale: str) -> str:
    return format_decimal(value, locale=locale)


def language_name(locale: str) -> str:
    return Locale.parse(locale).get_display_name(locale).capitalize()
