"""English is complete: every UI string has a translation that keeps its placeholders, no stale
catalogue entry hides one, and pages, the language switch and dates follow the reader's choice.

Messages are extracted the way ``make messages`` does, from ``babel.cfg`` itself, so the test
and the translators' template can never disagree about what needs translating.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from datetime import datetime
from functools import cache
from pathlib import Path

import pytest
from babel.dates import get_month_names
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from litestar import Litestar
from litestar.testing import AsyncTestClient

from forum.config import ROOT
from forum.i18n import LANG_COOKIE, catalog_files, load_catalog, timezone_for
from tests.browsing import Browser, Page

MsgId = str | tuple[str, ...]
PLACEHOLDER = re.compile(r"%\(([^)]*)\)")
FORMAT_SPEC = re.compile(r"%%|%\([^)]*\)[#0 +-]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")
ENGLISH = {"Accept-Language": "en"}


@cache
def extracted_messages() -> dict[MsgId, list[str]]:
    """Every message in the code and templates, with the files it comes from."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config, filename="babel.cfg")
    found: dict[MsgId, list[str]] = defaultdict(list)
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map
    ):
        found[message].append(f"{filename}:{lineno}")
    return dict(found)


def msgid_key(msgid: MsgId) -> str:
    return msgid[0] if isinstance(msgid, tuple) else msgid


def forms(value: MsgId) -> tuple[str, ...]:
    return value if isinstance(value, tuple) else (value,)


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text.replace("%%", "")))


def read_catalog(path: Path) -> Catalog:
    with path.open("rb") as po:
        return read_po(po, locale="en", ignore_obsolete=False)


def describe(msgid: MsgId, where: list[str]) -> str:
    return f"  {msgid!r}  ({', '.join(sorted(where)[:3])})"


def missing_translations(catalog: Catalog, messages: dict[MsgId, list[str]]) -> list[str]:
    problems = []
    for msgid, where in messages.items():
        entry = catalog.get(msgid_key(msgid))
        wanted = len(forms(msgid))
        if entry is None or len([s for s in forms(entry.string) if s]) < wanted:
            problems.append(describe(msgid, where))
        elif isinstance(msgid, tuple) and not entry.pluralizable:
            problems.append(describe(msgid, where) + " needs msgid_plural and msgstr[0]/[1]")
    return sorted(problems)


def placeholder_problems(path: Path) -> list[str]:
    """Translations whose %(name)s set differs from their msgid's, or that %-format badly."""
    problems = []
    for message in read_catalog(path):
        if not message.id or not message.string:
            continue
        sources = forms(message.id)
        for index, translation in enumerate(forms(message.string)):
            source = sources[min(index, len(sources) - 1)]
            expected = placeholders(source)
            if placeholders(translation) != expected:
                problems.append(f"  {path.name}: {source!r} -> {translation!r}")
                continue
            if "%" in FORMAT_SPEC.sub("", translation):
                problems.append(f"  {path.name}: {translation!r} has a lone % (write %%)")
    return problems


def shadowing_entries(paths: list[Path], live: set[str]) -> list[str]:
    """Fuzzy or obsolete entries for a message still in use: they hide or drop its English."""
    problems = []
    for path in paths:
        catalog = read_catalog(path)
        for message in catalog:
            if message.id and message.fuzzy and msgid_key(message.id) in live:
                problems.append(f"  {path.name}: fuzzy {message.id!r}")
        for message in catalog.obsolete.values():
            if msgid_key(message.id) in live:
                problems.append(f"  {path.name}: obsolete #~ {message.id!r}")
    return problems


def live_ids() -> set[str]:
    return {msgid_key(msgid) for msgid in extracted_messages()}


# -- The catalogue -----------------------------------------------------------------------------


def test_extraction_finds_python_and_template_strings_of_every_kind() -> None:
    messages = extracted_messages()
    origins = {location.split(":")[0] for where in messages.values() for location in where}
    assert any(name.startswith("forum/") and name.endswith(".py") for name in origins)
    assert any(name.startswith("templates/") for name in origins)
    assert "moderation/gate.py" in origins
    assert "Choisis un pseudonyme." in messages  # N_() in forum/web/accounts.py
    assert "Besoin d'aide maintenant ?" in messages  # _() in base.html
    assert ("%(num)s réponse", "%(num)s réponses") in messages  # ngettext() in templates


def literals_hidden_from_extraction(source: str, filename: str) -> list[str]:
    """``i18n.gettext(locale, "…")`` calls: Babel reads the locale as the msgid and skips them."""
    hidden = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = getattr(node.func, "attr", getattr(node.func, "id", None))
        first, rest = node.args[0], node.args[1:]
        if name in ("gettext", "ngettext") and not isinstance(first, ast.Constant) and any(
            isinstance(arg, ast.Constant) and isinstance(arg.value, str) for arg in rest
        ):
            hidden.append(f"  {filename}:{node.lineno}")
    return hidden


def test_no_literal_is_passed_where_extraction_cannot_see_it() -> None:
    hidden = [
        problem
        for package in ("forum", "moderation")
        for path in sorted((ROOT / package).rglob("*.py"))
        for problem in literals_hidden_from_extraction(
            path.read_text(encoding="utf-8"), str(path.relative_to(ROOT))
        )
    ]
    assert not hidden, (
        "Define these strings with N_() and pass the name, so that extraction finds them:\n"
        + "\n".join(hidden)
    )


def test_hidden_literal_check_catches_a_locale_first_call() -> None:
    source = (
        'i18n.gettext(locale, "Caché")\n'
        'i18n.ngettext(locale, "%(num)s fil", "%(num)s fils", n)\n'
        'translations(locale).gettext("Visible")\n'
        "i18n.gettext(locale, MESSAGE)\n"
    )
    assert literals_hidden_from_extraction(source, "x.py") == ["  x.py:1", "  x.py:2"]


def test_every_string_of_the_code_and_templates_has_an_english_translation() -> None:
    missing = missing_translations(load_catalog("en"), extracted_messages())
    if missing:
        pytest.fail(
            f"{len(missing)} message(s) have no English translation; add them to the .po file "
            "of their area in locales/en/LC_MESSAGES/:\n" + "\n".join(missing), pytrace=False
        )


def test_every_english_translation_keeps_the_placeholders_of_its_msgid() -> None:
    problems = [problem for path in catalog_files("en") for problem in placeholder_problems(path)]
    if problems:
        pytest.fail("Placeholders differ from the French msgid:\n" + "\n".join(problems),
                    pytrace=False)


def test_placeholder_check_catches_a_renamed_placeholder_and_a_lone_percent(
    tmp_path: Path,
) -> None:
    po = tmp_path / "broken.po"
    po.write_text(
        'msgid "Bienvenue, %(pseudonym)s"\nmsgstr "Welcome, %(name)s"\n\n'
        'msgid "Prêt à 100 %%"\nmsgstr "100% ready"\n\n'
        'msgid "%(num)s fil"\nmsgid_plural "%(num)s fils"\n'
        'msgstr[0] "one thread"\nmsgstr[1] "%(num)s threads"\n',
        encoding="utf-8",
    )
    assert len(placeholder_problems(po)) == 3


def test_no_english_catalogue_has_a_fuzzy_or_obsolete_entry_for_a_live_message() -> None:
    problems = shadowing_entries(catalog_files("en"), live_ids())
    if problems:
        pytest.fail(
            "These entries hide or drop a live translation (a fuzzy entry is not compiled, and "
            "the merged catalogue keeps the last file's entry):\n" + "\n".join(problems),
            pytrace=False,
        )


def test_shadowing_check_catches_fuzzy_and_obsolete_entries(tmp_path: Path) -> None:
    po = tmp_path / "stale.po"
    po.write_text(
        '#, fuzzy\nmsgid "Accueil"\nmsgstr "Home"\n\n'
        '#~ msgid "Annuler"\n#~ msgstr "Cancel"\n\n'
        '#, fuzzy\nmsgid "Un message disparu"\nmsgstr "A message gone"\n',
        encoding="utf-8",
    )
    assert len(shadowing_entries([po], {"Accueil", "Annuler"})) == 2


def test_a_message_translated_in_two_catalogues_has_the_same_english_in_both() -> None:
    seen: dict[str, dict[str, MsgId]] = defaultdict(dict)
    for path in catalog_files("en"):
        for message in read_catalog(path):
            if message.id and message.string and not message.fuzzy:
                seen[msgid_key(message.id)][path.name] = message.string
    conflicts = [
        f"  {msgid!r}: {by_file}" for msgid, by_file in seen.items()
        if len(set(by_file.values())) > 1
    ]
    if conflicts:
        pytest.fail("Translated differently in two files:\n" + "\n".join(conflicts),
                    pytrace=False)


def test_the_merged_catalogue_is_english_with_two_plural_forms() -> None:
    catalog = load_catalog("en")
    assert catalog.num_plurals == 2
    assert catalog.get("Besoin d'aide maintenant ?").string == "Need help now?"
    assert catalog.get("Membre parti·e").string == "Former member"


# -- Pages in the reader's language ------------------------------------------------------------


def assert_english(page: Page) -> None:
    assert page.status == 200
    assert page.soup.html["lang"] == "en"
    assert page.one("a.help-link").get_text(strip=True) == "Need help now?"
    assert page.one(".language-form button").get_text(strip=True) == "Change"


def assert_french(page: Page) -> None:
    assert page.status == 200
    assert page.soup.html["lang"] == "fr"
    assert page.one("a.help-link").get_text(strip=True) == "Besoin d'aide maintenant ?"


async def test_home_help_and_signup_are_english_for_an_english_browser(
    browser: Browser, demo: None
) -> None:
    home = await browser.get("/", headers=ENGLISH)
    assert_english(home)
    assert home.one("main h1").get_text(strip=True) == "Entrepairs, peers supporting each other"
    help_page = await browser.get("/help", headers=ENGLISH)
    assert_english(help_page)
    assert help_page.one("main h1").get_text(strip=True) == "Need help now?"
    signup = await browser.get("/signup", headers=ENGLISH)
    assert_english(signup)
    labels = [label.get_text(strip=True) for label in signup.all("main form label")]
    assert labels[:2] == ["Pseudonym", "Password"]
    assert signup.one("main form button[type=submit]").get_text(strip=True) == "Create my account"


async def test_pages_are_french_without_a_language_header(browser: Browser, demo: None) -> None:
    for url in ("/", "/help", "/signup"):
        assert_french(await browser.get(url))
    signup = await browser.get("/signup")
    assert signup.one("main form button[type=submit]").get_text(strip=True) == "Créer mon compte"


async def test_an_english_reader_sees_counts_and_times_in_english(
    browser: Browser, demo: None
) -> None:
    home = await browser.get("/", headers=ENGLISH)
    metas = [meta.get_text(" ", strip=True) for meta in home.all(".space-card__meta")]
    assert metas and all(re.match(r"\d+ threads?\b", meta) for meta in metas), metas
    assert any(re.search(r"last active .* ago$", meta) for meta in metas), metas
    french = await browser.get("/")
    metas = [meta.get_text(" ", strip=True) for meta in french.all(".space-card__meta")]
    assert any(re.search(r"dernière activité il y a ", meta) for meta in metas), metas


async def switch_language(browser: Browser, locale: str, next_url: str) -> Page:
    page = await browser.get(next_url)
    return await browser.submit(
        page.form("form.language-form"), {"locale": locale, "next": next_url}
    )


async def test_a_visitor_who_switches_to_english_keeps_it_through_the_cookie(
    browser: Browser, demo: None
) -> None:
    switched = await switch_language(browser, "en", "/help")
    assert switched.status == 303
    assert switched.response.headers["location"] == "/help"
    assert browser.client.cookies.get(LANG_COOKIE) == "en"
    assert_english(await browser.follow(switched))
    assert_english(await browser.get("/"))
    back = await switch_language(browser, "fr", "/")
    assert_french(await browser.follow(back))


async def test_an_unknown_language_changes_nothing(browser: Browser, demo: None) -> None:
    switched = await switch_language(browser, "xx", "/help")
    assert switched.status == 303
    assert browser.client.cookies.get(LANG_COOKIE) is None
    assert_french(await browser.get("/help"))


async def test_a_member_who_switches_to_english_finds_it_again_on_a_new_device(
    app: Litestar, browser: Browser, demo: None
) -> None:
    await browser.signup("Libellule_en")
    assert_french(await browser.get("/"))
    switched = await switch_language(browser, "en", "/help")
    assert switched.status == 303
    assert_english(await browser.follow(switched))
    await browser.logout()
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as fresh_client:
        fresh = Browser(fresh_client)
        assert_french(await fresh.get("/"))
        logged_in = await fresh.login("Libellule_en")
        assert logged_in.status == 303, logged_in.text()
        fresh_client.cookies.delete(LANG_COOKIE)  # only the member's setting is left
        assert_english(await fresh.get("/", headers={"Accept-Language": "fr"}))


async def test_post_dates_are_written_in_the_reader_s_language(
    browser: Browser, demo: None
) -> None:
    french = await browser.get("/t/1?region=FR")
    english = await browser.get("/t/1?region=FR", headers=ENGLISH)
    fr_time = french.one("article.post time")
    en_time = english.one("article.post time")
    assert fr_time["datetime"] == en_time["datetime"]
    local = datetime.fromisoformat(str(fr_time["datetime"])).astimezone(timezone_for("FR"))
    fr_text, en_text = fr_time.get_text(strip=True), en_time.get_text(strip=True)
    assert fr_text != en_text
    assert get_month_names("abbreviated", locale="fr")[local.month] in fr_text
    assert get_month_names("abbreviated", locale="en")[local.month] in en_text
    assert re.search(r"\b(AM|PM)\b", en_text) and not re.search(r"\b(AM|PM)\b", fr_text)


async def test_every_time_element_holds_a_datetime_html_accepts(browser: Browser,
                                                                  demo: None) -> None:
    # Issue 19: `isoformat()` gave microseconds and "+00:00", which the Nu HTML Checker refuses
    # in `<time datetime>`; and the sessions page showed the raw ISO day as its text.
    await browser.signup("Horaire")
    await browser.reply(1, "Un message pour avoir une heure à montrer.")
    for path in ("/t/1", "/me/sessions", "/search?q=message"):
        page = await browser.get(path)
        times = page.all("time[datetime]")
        assert times, path
        for element in times:
            value = str(element["datetime"])
            assert re.fullmatch(r"\d{4}-\d\d-\d\d(T\d\d:\d\d:\d\dZ)?", value), (path, value)
            assert not re.fullmatch(r"\d{4}-\d\d-\d\d", element.get_text(strip=True)), path


def _instants() -> list[datetime]:
    """Thousands of instants: random ones over forty years, every quarter hour within three
    hours of each clock change of the regions' zones from 2020 to 2034, midnight and noon of
    every month, and naive ones."""
    import random
    from datetime import UTC, timedelta

    from forum.i18n import REGION_TIMEZONES

    draw = random.Random(20261207)
    start = datetime(1995, 1, 1, tzinfo=UTC)
    moments = [start + timedelta(seconds=draw.randrange(40 * 365 * 86400)) for _ in range(1500)]
    hour = timedelta(hours=1)
    for zone in {timezone_for(region) for region in REGION_TIMEZONES}:
        moment = datetime(2020, 1, 1, tzinfo=UTC)
        while moment.year < 2035:
            if (moment + hour).astimezone(zone).utcoffset() != moment.astimezone(zone).utcoffset():
                moments += [moment + timedelta(minutes=15 * step) for step in range(-12, 13)]
            moment += hour
    moments += [datetime(2026, month, 1, hour, 0, tzinfo=UTC)
                for month in range(1, 13) for hour in (0, 11, 12, 23)]
    moments += [moment.replace(tzinfo=None) for moment in moments[:200]]
    return moments


@pytest.mark.parametrize("locale", ["fr", "en", "de"])
def test_dates_are_written_exactly_as_babel_writes_them(locale: str) -> None:
    """``forum.i18n.format_date`` writes French and English dates itself (Babel's own call was
    a tenth of a search's time): the same text as Babel's for every region, on instants
    around every clock change, at midnight and noon, naive or not; any other locale is
    Babel's."""
    from babel.dates import format_datetime

    from forum.i18n import DATE_PATTERNS, REGION_TIMEZONES, format_date

    pattern = DATE_PATTERNS.get(locale, DATE_PATTERNS["en"])
    moments = _instants() if locale in DATE_PATTERNS else _instants()[:300]
    for region in REGION_TIMEZONES:
        zone = timezone_for(region)
        for moment in moments:
            assert format_date(moment, locale, region) == format_datetime(
                moment, pattern, tzinfo=zone, locale=locale), (moment, locale, region)
