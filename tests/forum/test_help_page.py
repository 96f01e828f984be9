"""/help: the right lines for the reader's region, without JavaScript, nothing from elsewhere."""

import json
import re

import pytest

from forum.resources import DATA_FILE
from tests.browsing import Browser


def numbers(page) -> list[str]:
    return [a["href"] for a in page.all(".lines a[href^='tel:']")]


@pytest.mark.parametrize("region, first_emergency, first_crisis", [
    ("FR", "tel:15", "tel:3114"),
    ("BE", "tel:112", "tel:080032123"),
    ("CH", "tel:144", "tel:143"),
    ("CA-QC", "tel:911", "tel:18662773553"),
    ("CA", "tel:911", "tel:988"),
])
async def test_help_shows_emergency_numbers_first_then_crisis_lines(
    browser: Browser, region: str, first_emergency: str, first_crisis: str
) -> None:
    page = await browser.get(f"/help?region={region}")
    assert page.status == 200
    groups = page.all(".help__group")
    assert "help__group--emergency" in groups[0]["class"]
    emergency = groups[0].select_one(".lines a[href^='tel:']")["href"]
    crisis = groups[1].select_one(".lines a[href^='tel:']")["href"]
    assert (emergency, crisis) == (first_emergency, first_crisis)
    assert page.one("select#region option[selected]")["value"] == region


async def test_quebec_puts_1_866_appelle_and_its_text_line_before_988(browser: Browser) -> None:
    page = await browser.get("/help?region=CA-QC")
    tel = numbers(page)
    assert tel.index("tel:18662773553") < tel.index("tel:988")
    assert page.all("a[href='sms:535353']")


async def test_region_comes_from_the_browser_language_when_not_chosen(browser: Browser) -> None:
    for header, expected in (("fr-CA,fr;q=0.8", "CA-QC"), ("fr-BE", "BE"), ("fr-CH", "CH"),
                             ("fr", "FR"), ("de-DE", "FR")):
        page = await browser.get("/help", headers={"accept-language": header})
        assert page.one("select#region option[selected]")["value"] == expected, header


async def test_an_unknown_region_falls_back_without_error(browser: Browser) -> None:
    page = await browser.get("/help?region=<script>")
    assert page.status == 200
    assert page.one("select#region option[selected]")["value"] == "FR"


async def test_help_loads_nothing_from_elsewhere_and_needs_no_script(browser: Browser) -> None:
    page = await browser.get("/help")
    for tag, attribute in (("script", "src"), ("link", "href"), ("img", "src")):
        for element in page.all(f"{tag}[{attribute}]"):
            assert element[attribute].startswith("/"), element
    assert page.one("form.region-form")["method"] == "get"


async def test_unverified_lines_are_never_first_and_are_marked(browser: Browser) -> None:
    for region in ("FR", "BE", "CH", "CA-QC", "CA", "INTL"):
        page = await browser.get(f"/help?region={region}")
        firsts = [page.soup.select_one(".help__group--emergency .line"),
                  page.soup.select_one("section[aria-labelledby=crisis-heading] .line")]
        for line in filter(None, firsts):
            assert "line--unverified" not in line.get("class", []), region
        for line in page.all(".line--unverified"):
            assert line.select_one(".line__status")


async def test_every_page_links_to_help_charter_and_privacy_in_the_footer(
    browser: Browser
) -> None:
    page = await browser.get("/")
    footer_links = {a["href"] for a in page.all("footer a")}
    assert {"/help", "/charter", "/privacy"} <= footer_links
    assert "ni un service de soins, ni un service d'urgence" in page.text("footer")


def _french_texts(value: object) -> list[str]:
    """Every French text of the crisis-lines data (the "fr" side of each translated field)."""
    if isinstance(value, dict):
        found = [value["fr"]] if isinstance(value.get("fr"), str) else []
        return found + [t for v in value.values() for t in _french_texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _french_texts(v)]
    return []


def test_the_help_data_says_tu_like_the_rest_of_the_forum() -> None:
    # Issue 19: "Ailleurs / International" said "vous", the rest of the forum "tu".
    texts = _french_texts(json.loads(DATA_FILE.read_text(encoding="utf-8")))
    assert len(texts) > 50
    formal = [t for t in texts if re.search(r"\b(vous|votre|vos)\b|\b\w+ez\b(?= le| la| les| au)",
                                            t, re.IGNORECASE)]
    assert formal == []
