"""axe-core on every page, in the light and the dark theme; small screens and large text.

axe-core 4.14.1 (npm, MPL-2.0) is vendored in ``tests/browser/vendor/`` and injected into the
page by the test only: the forum never serves it. Any WCAG 2.2 A/AA violation (target size
included) of serious or critical impact fails, with the rule, its impact and the elements it
names.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.flows import MEMBERS_ONLY_SLUG, public_thread_url, sign_up
from tests.browser.live import axe_source
from tests.browser.moderating import log_in
from tests.browser.seed import ADMIN

pytestmark = pytest.mark.browser

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING = {"serious", "critical"}
VISITOR_PAGES = [
    "/", "/s/anxiete", f"/s/{MEMBERS_ONLY_SLUG}", "/help", "/help?region=CA-QC", "/signup",
    "/login", "/recover", "/recovery-code", "/charter", "/privacy", "/cette-page-n-existe-pas",
]
AXE_RUN = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags},
                                          resultTypes: ['violations']});
  return result.violations.map(v => ({id: v.id, impact: v.impact,
                                      targets: v.nodes.map(n => n.target.join(' '))}));
}"""


def axe_violations(page: Any) -> list[str]:
    """The blocking violations on the page as it is now, one readable line each."""
    page.add_script_tag(content=axe_source())
    found = page.evaluate(AXE_RUN, WCAG_TAGS)
    return [f"{page.url} {v['id']} ({v['impact']}): {v['targets'][:5]}"
            for v in found if v["impact"] in BLOCKING]


@pytest.fixture(params=["light", "dark"])
def scheme_page(request: pytest.FixtureRequest, axe_page: Any) -> Any:
    axe_page.emulate_media(color_scheme=request.param)
    axe_page.goto("/")
    dark = axe_page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
    assert dark == (request.param == "dark")
    return axe_page


def test_axe_reports_a_planted_defect_so_a_clean_scan_means_something(axe_page: Any) -> None:
    axe_page.goto("/")
    axe_page.evaluate("""() => {
        const img = document.createElement('img');
        img.src = '/static/favicon.svg';
        document.querySelector('main').append(img);
    }""")
    assert any(" image-alt (critical)" in line for line in axe_violations(axe_page))


def test_the_dark_theme_really_changes_the_colours(axe_page: Any) -> None:
    colours = {}
    for scheme in ("light", "dark"):
        axe_page.emulate_media(color_scheme=scheme)
        axe_page.goto("/")
        colours[scheme] = axe_page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert colours["light"] != colours["dark"]


def test_every_visitor_page_passes_axe(scheme_page: Any) -> None:
    page = scheme_page
    problems: list[str] = []
    for url in [*VISITOR_PAGES, public_thread_url(page)]:
        page.goto(url)
        problems += axe_violations(page)
    assert problems == [], "\n".join(problems)


def test_every_member_page_passes_axe(scheme_page: Any) -> None:
    page = scheme_page
    sign_up(page)
    problems = axe_violations(page)  # the recovery code page
    thread_url = public_thread_url(page)
    for url in ["/s/anxiete/new", "/settings", "/sans-reponse", thread_url]:
        page.goto(url)
        problems += axe_violations(page)
    # The reply error, as htmx swaps it into the thread.
    page.evaluate("document.getElementById('reply-body').removeAttribute('required')")
    page.click("#reply-form button[type=submit]")
    page.wait_for_selector("#reply-form .field-error")
    problems += axe_violations(page)
    # What blocking does, as htmx puts it in place of a post's "Bloquer" link, then as a page.
    offer = page.get_attribute("a.post__block-link", "href")
    page.click("a.post__block-link")
    page.wait_for_selector("form.post__block")
    problems += axe_violations(page)
    page.goto(offer)
    problems += axe_violations(page)
    assert problems == [], "\n".join(problems)


def _horizontal_overflow(page: Any) -> int:
    return int(page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    ))


@pytest.mark.parametrize("url", ["/", "/s/anxiete", "/help", "/signup", "/charter"])
def test_pages_fit_320_pixels_without_horizontal_scrolling(page: Any, url: str) -> None:
    page.set_viewport_size({"width": 320, "height": 640})
    page.goto(url)
    assert _horizontal_overflow(page) <= 0


def test_a_thread_and_its_composer_fit_320_pixels(page: Any) -> None:
    sign_up(page)
    page.set_viewport_size({"width": 320, "height": 640})
    page.goto(public_thread_url(page))
    assert _horizontal_overflow(page) <= 0


@pytest.mark.parametrize("url", ["/", "/help", "/signup"])
def test_text_at_200_percent_stays_readable_without_horizontal_scrolling(
    page: Any, url: str,
) -> None:
    page.set_viewport_size({"width": 640, "height": 800})
    page.goto(url)
    page.evaluate("document.documentElement.style.fontSize = '200%'")
    assert _horizontal_overflow(page) <= 0
    # Nothing is cut: no element clips its text away.
    clipped = page.evaluate("""() => [...document.querySelectorAll('main *, header *')]
        .filter(el => !el.closest('.visually-hidden, .skip-link'))
        .filter(el => { const s = getComputedStyle(el);
                        return s.overflow === 'hidden' && el.scrollWidth > el.clientWidth + 1; })
        .map(el => el.className || el.tagName)""")
    assert clipped == []


def test_reduced_motion_turns_transitions_off(page: Any) -> None:
    durations = {}
    for motion in ("no-preference", "reduce"):
        page.emulate_media(reduced_motion=motion)
        page.goto("/")
        durations[motion] = page.evaluate("""() => {
            const el = document.createElement('span');
            el.className = 'htmx-indicator htmx-request';
            document.querySelector('main').append(el);
            return parseFloat(getComputedStyle(el).transitionDuration);
        }""")
    assert durations["no-preference"] >= 0.1
    assert durations["reduce"] < 0.01


def _cut_tables(page: Any) -> list[str]:
    """Tables whose content is wider than what is shown of them."""
    return page.evaluate("""() => [...document.querySelectorAll('main table')]
        .filter(t => t.scrollWidth > t.clientWidth + 1
                     || t.getBoundingClientRect().right > document.documentElement.clientWidth)
        .map(t => t.className)""")


@pytest.mark.parametrize("width", [375, 1280])
def test_staff_pages_and_the_export_fit_without_cutting_a_table(page: Any, width: int) -> None:
    # Issue 19: the log was cut even at 1280 px, three columns out of view at 375 px; the
    # export and the watched words scrolled sideways at 375 px.
    sign_up(page)
    page.set_viewport_size({"width": width, "height": 900})
    problems = []
    page.goto("/me/export")
    problems += [f"/me/export overflows by {_horizontal_overflow(page)}px"] * (
        _horizontal_overflow(page) > 0)
    page.context.clear_cookies()
    log_in(page, ADMIN)
    page.set_viewport_size({"width": width, "height": 900})
    for url in ["/mod/log", "/admin", "/admin/watched-words", "/mod", "/mod/protocol"]:
        page.goto(url)
        if _horizontal_overflow(page) > 0:
            problems.append(f"{url} overflows by {_horizontal_overflow(page)}px")
        problems += [f"{url}: table {name} is cut" for name in _cut_tables(page)]
    page.goto("/mod/log")
    assert page.locator("table.mod-log > caption").count() == 1
    assert page.locator("table.mod-log tbody tr").count() >= 1
    assert problems == [], problems


HEADER_ROWS = """() => {
  const top = sel => { const el = document.querySelector(sel);
                       const r = el.getBoundingClientRect(); return [r.top, r.bottom]; };
  return {brand: top('.brand'), help: top('.help-link'), search: top('.search-link'),
          nav: top('.account-nav > a, .account-nav > form')};
}"""


@pytest.mark.parametrize("member", [False, True])
def test_the_header_is_two_tidy_rows_at_375_pixels(page: Any, member: bool) -> None:
    # Issue 19: the header wrapped into two or three ragged rows at 375 px.
    if member:
        sign_up(page)
    page.set_viewport_size({"width": 375, "height": 812})
    page.goto("/s/anxiete")
    rows = page.evaluate(HEADER_ROWS)
    (brand_top, brand_bottom), (help_top, help_bottom) = rows["brand"], rows["help"]
    assert help_top < brand_bottom and brand_top < help_bottom, rows  # one first row
    first_row_bottom = max(brand_bottom, help_bottom)
    search_top, nav_top = rows["search"][0], rows["nav"][0]
    assert search_top >= first_row_bottom and nav_top >= first_row_bottom, rows
    assert abs(search_top - nav_top) < 12, rows  # the search link beside the account links
    assert _horizontal_overflow(page) <= 0
