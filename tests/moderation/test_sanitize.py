"""Tests for moderation.sanitize: the Markdown -> safe HTML pipeline of every post.

Checks from security.md §2.4: XSS-02 (corpus), XSS-03 (idempotence, stable reparse), XSS-04
(property fuzzing), XSS-05 (bounded cost), XSS-06 (one test per known advisory family), XSS-07
(link attributes), XSS-12 (frozen allowlist), XSS-13 (fail closed).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from importlib.metadata import version

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moderation import sanitize
from moderation.sanitize import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    RENDERER_VERSION,
    URL_SCHEMES,
    SanitizerError,
    render_markdown,
    sanitize_html,
)
from tests.moderation import invariants
from tests.moderation.hostile_corpus import CORPUS, COUNTS
from tests.moderation.invariants import check_invariants, is_reparse_stable

REL = 'rel="nofollow noopener noreferrer ugc"'
CANARY = "window.__x=1"
# Controls that must never reach the output, and the bidi embedding/override/isolate controls.
FORBIDDEN_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def assert_safe(html: str) -> None:
    """Everything a post's HTML must satisfy, whatever produced it."""
    assert check_invariants(html) == []
    assert sanitize_html(html) == html, "sanitising is not idempotent"
    assert is_reparse_stable(html), "parse -> serialise -> parse changes the tree"
    assert not FORBIDDEN_CHARACTERS.search(html), "control or bidi character in the output"


# --------------------------------------------------------------------------- the corpus (XSS-02)


def test_the_corpus_has_at_least_300_vectors_covering_every_category() -> None:
    assert len(CORPUS) >= 300
    assert set(COUNTS) == {f"P-{n:02d}" for n in range(1, 15)}
    assert all(COUNTS[category] >= 10 for category in COUNTS)


CORPUS_IDS = [f"{category}-{index:03d}" for index, (category, _, _) in enumerate(CORPUS)]


@pytest.mark.parametrize(("category", "rationale", "payload"), CORPUS, ids=CORPUS_IDS)
def test_every_hostile_vector_rendered_as_markdown_is_safe(
    category: str, rationale: str, payload: str
) -> None:
    assert_safe(render_markdown(payload))


@pytest.mark.parametrize(("category", "rationale", "payload"), CORPUS, ids=CORPUS_IDS)
def test_every_hostile_vector_sanitised_as_html_is_safe(
    category: str, rationale: str, payload: str
) -> None:
    assert_safe(sanitize_html(payload))


def test_the_invariant_checker_catches_what_it_is_meant_to_catch() -> None:
    hostile = (
        '<a href="java\u200bscript:x" target=_blank>a</a><img src=https://x.test/p.png>'
        "<p style=a id=b data-x=1 hx-get=/x onclick=1 name=n>c</p><svg></svg><!-- c -->"
    )
    found = {violation.split(":")[0] for violation in check_invariants(hostile)}
    assert found == {"I1", "I2", "I3", "I4", "I5", "I6", "I7", "I8", "I9", "XSS-07"}
    assert check_invariants('<p id="uc-ok">x</p>') == ["I2: attribute 'id' on <p>"]


# --------------------------------------------------------------------------- allowlist (XSS-12)


def test_the_allowlist_is_exactly_the_reviewed_snapshot() -> None:
    assert frozenset(ALLOWED_TAGS) == invariants.ALLOWED_TAGS == {
        "p", "br", "hr", "strong", "em", "del", "s", "code", "pre", "blockquote", "ul", "ol",
        "li", "a", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td",
    }  # fmt: skip
    assert (
        ALLOWED_ATTRIBUTES
        == invariants.ALLOWED_ATTRIBUTES
        == {
            "a": {"href", "title"},
            "ol": {"start"},
        }
    )
    assert frozenset(URL_SCHEMES) == invariants.ALLOWED_SCHEMES == {"http", "https", "mailto"}
    assert sanitize.LINK_REL == "nofollow noopener noreferrer ugc"
    assert isinstance(RENDERER_VERSION, int) and RENDERER_VERSION >= 1


def test_no_dangerous_element_or_attribute_is_ever_allowlisted() -> None:
    assert not ALLOWED_TAGS & invariants.I8_ELEMENTS
    assert not ALLOWED_TAGS & invariants.FETCHING_ELEMENTS
    assert not ALLOWED_TAGS & {"style", "img", "h1", "h2", "div", "span", "details"}
    every_attribute = set().union(*ALLOWED_ATTRIBUTES.values())
    assert not {a for a in every_attribute if a.startswith(("on", "hx-", "data-"))}
    assert not every_attribute & {"style", "id", "name", "class", "target", "src", "srcset"}


def test_elements_removed_with_their_content_are_never_allowlisted() -> None:
    assert not sanitize.CLEAN_CONTENT_TAGS & ALLOWED_TAGS
    assert {"script", "style", "svg", "math", "template", "noscript"} <= sanitize.CLEAN_CONTENT_TAGS


def test_nh3_is_at_least_0_3_7() -> None:
    installed = tuple(int(part) for part in re.findall(r"\d+", version("nh3"))[:3])
    assert installed >= (0, 3, 7)


# --------------------------------------------------------------------------- links (XSS-07)


def test_links_get_the_rel_value_and_lose_target() -> None:
    html = sanitize_html('<a href="https://x.test/" target="_blank" rel="opener">x</a>')
    assert html == f'<a href="https://x.test/" {REL}>x</a>'
    html = render_markdown("[x](https://x.test/)")
    assert html == f'<p><a href="https://x.test/" {REL}>x</a></p>\n'


def test_mailto_links_are_kept() -> None:
    assert f'<a href="mailto:a@x.test" {REL}>' in render_markdown("[écrire](mailto:a@x.test)")


def test_relative_links_are_kept_because_they_only_reach_this_forum() -> None:
    html = render_markdown("[fil](/t/42) [message](#post-7) [plus haut](../s/anxiete)")
    assert f'<a href="/t/42" {REL}>fil</a>' in html
    assert f'<a href="#post-7" {REL}>message</a>' in html
    assert f'<a href="../s/anxiete" {REL}>plus haut</a>' in html


def test_bare_urls_www_and_emails_become_links() -> None:
    html = render_markdown("voir https://x.test/a, www.example.com et a@example.com")
    assert f'<a href="https://x.test/a" {REL}>https://x.test/a</a>' in html
    assert f'<a href="http://www.example.com" {REL}>www.example.com</a>' in html
    assert f'<a href="mailto:a@example.com" {REL}>a@example.com</a>' in html


@pytest.mark.parametrize(
    "source",
    [
        f"[x](javascript:{CANARY})",
        f"[x](JaVaScRiPt:{CANARY})",
        f"[x](java\u200bscript:{CANARY})",
        f"[x](javascript%3A{CANARY})",
        "[x](data:text/html,x)",
        "[x](vbscript:x)",
        "[x](file:///etc/passwd)",
        "[x](blob:https://x.test/1)",
        f"<javascript:{CANARY}>",
    ],
)
def test_links_with_refused_schemes_stay_plain_text(source: str) -> None:
    html = render_markdown(source)
    assert "[x](" in html or "&lt;javascript:" in html  # the markdown stays visible as text
    assert not re.search(r'href="(?!https?://)', html)  # linkify may still find a URL inside
    assert_safe(html)


def test_title_attributes_are_escaped_and_kept_on_links_only() -> None:
    html = render_markdown(f'[x](https://x.test "t\\" onmouseover=\\"{CANARY}")')
    assert 'title="t&quot; onmouseover=&quot;window.__x=1"' in html
    html = sanitize_html('<p title="t">x</p><a title="u">y</a>')
    assert html == f'<p>x</p><a title="u" {REL}>y</a>'


# --------------------------------------------------------------------------- images


def test_images_become_plain_links_to_their_url() -> None:
    html = render_markdown("![une photo](https://x.test/p.png)")
    assert html == f'<p><a href="https://x.test/p.png" {REL}>une photo</a></p>\n'


def test_images_without_alt_text_show_their_url() -> None:
    html = render_markdown("![](https://x.test/p.png)")
    assert f'<a href="https://x.test/p.png" {REL}>https://x.test/p.png</a>' in html


def test_images_inside_a_link_become_plain_text_not_nested_links() -> None:
    html = render_markdown("[![logo](https://x.test/i.png)](https://ok.test/)")
    assert html == f'<p><a href="https://ok.test/" {REL}>logo</a></p>\n'


@pytest.mark.parametrize(
    "source",
    [
        "![pic](data:image/png;base64,iVBORw0KGgo=)",
        "![pic](data:image/svg+xml,%3Csvg%3E)",
        f"![pic](javascript:{CANARY})",
    ],
)
def test_data_and_script_images_are_dropped(source: str) -> None:
    html = render_markdown(source)
    assert "<a" not in html and "<img" not in html
    assert_safe(html)


def test_an_img_tag_in_a_post_is_shown_as_text() -> None:
    html = render_markdown('<img src="https://x.test/p.png">')
    assert "<img" not in html and html.startswith("<p>&lt;img src=")
    assert_safe(html)


def test_sanitising_html_never_keeps_an_image() -> None:
    assert sanitize_html('<p>a<img src="https://x.test/p.png" alt="b">c</p>') == "<p>ac</p>"


# --------------------------------------------------------------------------- markdown shape


def test_headings_are_demoted_so_a_post_never_produces_h1_or_h2() -> None:
    source = "# un\n## deux\n### trois\n#### quatre\n##### cinq\n###### six\n\nSetext\n===\n"
    html = render_markdown(source)
    assert "<h1" not in html and "<h2" not in html
    assert re.findall(r"<(h\d)>", html) == ["h3", "h4", "h5", "h6", "h6", "h6", "h3"]


def test_raw_html_is_rendered_as_text() -> None:
    assert render_markdown("<b>gras</b>") == "<p>&lt;b&gt;gras&lt;/b&gt;</p>\n"


def test_single_newlines_become_line_breaks() -> None:
    assert render_markdown("ligne un\nligne deux") == "<p>ligne un<br>\nligne deux</p>\n"


def test_common_markdown_survives() -> None:
    source = (
        "**gras** *italique* ~~barré~~ `code`\n\n> citation\n\n- a\n- b\n\n3. trois\n4. quatre"
        "\n\n```python\nprint('x')\n```\n\n---\n\n| a | b |\n|:--|--:|\n| 1 | 2 |\n"
    )
    html = render_markdown(source)
    for fragment in ["<strong>gras</strong>", "<em>italique</em>", "<s>barré</s>",
                     "<code>code</code>", "<blockquote>", "<ul>", '<ol start="3">',
                     "<pre><code>print('x')\n</code></pre>", "<hr>", "<table>", "<th>a</th>",
                     "<td>2</td>"]:  # fmt: skip
        assert fragment in html
    assert "class=" not in html and "style=" not in html
    assert_safe(html)


def test_a_list_start_must_be_a_number() -> None:
    assert sanitize_html('<ol start="3"><li>x</li></ol>') == '<ol start="3"><li>x</li></ol>'
    assert sanitize_html('<ol start="x"><li>x</li></ol>') == "<ol><li>x</li></ol>"


def test_deep_list_nesting_keeps_its_content() -> None:
    source = "".join("  " * depth + f"- niveau{depth}\n" for depth in range(8))
    assert "niveau7" in render_markdown(source)


# --------------------------------------------------------------------------- characters


def test_control_characters_never_reach_the_output() -> None:
    for render in (render_markdown, sanitize_html):
        html = render("a\x00b\x01c\x1bd\x7fe\x85f&#1;g&#x1b;h")
        assert not FORBIDDEN_CHARACTERS.search(html)
        assert "\x00" not in html


def test_carriage_returns_are_normalised() -> None:
    assert render_markdown("a\r\nb\rc") == render_markdown("a\nb\nc")


def test_bidi_controls_are_removed_but_direction_marks_kept() -> None:
    html = render_markdown("facture\u202efdp.exe \u2067x\u2069 \u200fy \u200ez")
    assert html == "<p>facturefdp.exe x \u200fy \u200ez</p>\n"
    assert sanitize_html("<p>a&#x202e;b&#8294;c</p>") == "<p>abc</p>"
    assert "\u202e" not in render_markdown('[x](https://x.test "\u202eeltit")')


def test_fullwidth_brackets_are_not_normalised_into_markup() -> None:
    html = render_markdown("\uff1cscript\uff1ewindow.__x=1")
    assert html == "<p>\uff1cscript\uff1ewindow.__x=1</p>\n"


# --------------------------------------------------------------------------- advisories (XSS-06)

X = f"<img src=x onerror={CANARY}>"
ADVISORIES = {
    "CVE-2018-7753 entity-encoded scheme": f'<a href="&#106;avascript&#58;{CANARY}">x</a>',
    "CVE-2018-7753 entity-encoded control": f'<a href="&#14;javascript:{CANARY}">x</a>',
    "GHSA-q65m noscript with raw text": f"<noscript><style></noscript>{X}",
    "GHSA-m6xf svg with rcdata": f"<svg><title>{X}</title></svg>",
    "GHSA-vv2x comment end-tag quirk": f"<math></p><style><!--</style>{X}",
    "GHSA-gj48 formaction": f'<button formaction="javascript:{CANARY}">x</button>',
    "GHSA-8rfp zero-width in scheme": f'<a href="java\u200bscript:{CANARY}">x</a>',
    "GHSA-8rfp no-break space in scheme": f'<a href="\u00a0javascript:{CANARY}">x</a>',
    "RUSTSEC-2021-0074 svg mxss": f"<svg><style>{X}</style></svg>",
    "RUSTSEC-2026-0193 annotation-xml": f'<math><annotation-xml encoding="text/html"><style>{X}',
    "RUSTSEC-2026-0213 svg animate": (
        f'<svg><a><animate attributeName=href values="javascript:{CANARY}"/>t</a></svg>'
    ),
    "DOMPurify clobbering": '<form id="reply-form"><input name="attributes"></form>',
}


@pytest.mark.parametrize("payload", ADVISORIES.values(), ids=ADVISORIES.keys())
def test_each_known_sanitiser_advisory_family_stays_fixed(payload: str) -> None:
    assert_safe(sanitize_html(payload))
    assert_safe(render_markdown(payload))


# --------------------------------------------------------------------------- fail closed (XSS-13)


@pytest.mark.parametrize("function", [render_markdown, sanitize_html])
def test_non_text_input_raises_sanitizer_error(function: Callable[[str], str]) -> None:
    with pytest.raises(SanitizerError):
        function(b"<p>x</p>")  # type: ignore[arg-type]


def test_sources_over_the_hard_limit_are_refused_before_parsing() -> None:
    render_markdown("a" * sanitize.MAX_SOURCE_CHARS)
    with pytest.raises(SanitizerError):
        render_markdown("a" * (sanitize.MAX_SOURCE_CHARS + 1))


def test_a_recursion_error_while_rendering_becomes_a_sanitizer_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def explode(*args: object, **kwargs: object) -> str:
        raise RecursionError("too deep")

    monkeypatch.setattr(sanitize._MD, "render", explode)
    with pytest.raises(SanitizerError):
        render_markdown("x")


def test_a_sanitiser_failure_becomes_a_sanitizer_error(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        def clean(self, html: str) -> str:
            raise ValueError("boom")

    monkeypatch.setattr(sanitize, "_CLEANER", Broken())
    with pytest.raises(SanitizerError):
        sanitize_html("<p>x</p>")
    with pytest.raises(SanitizerError):
        render_markdown("x")


@pytest.mark.parametrize("payload", [
    "<a><table><a>",
    '<a href="https://e.org">un<table><a href="https://f.org">deux</a></table></a>',
    "<p><a>x<table><tr><td><a>y</a></td></tr></table></a></p>",
])
def test_a_link_reopened_after_a_table_settles_in_one_call(payload: str) -> None:
    """Found by the fuzz test below (seed 272): one nh3 pass left a link inside a link, which
    the next pass (or a browser) reads as another tree, so sanitising was not idempotent."""
    assert_safe(sanitize_html(payload))
    assert_safe(render_markdown(payload))


def test_a_fragment_that_never_settles_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    class Flipping:
        def __init__(self) -> None:
            self.calls = 0

        def clean(self, html: str) -> str:
            self.calls += 1
            return f"<p>{self.calls}</p>"

    monkeypatch.setattr(sanitize, "_CLEANER", Flipping())
    with pytest.raises(SanitizerError):
        sanitize_html("<p>x</p>")


# --------------------------------------------------------------------------- fuzzing (XSS-04)

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

TAG_NAMES = ["a", "img", "svg", "math", "script", "style", "p", "b", "iframe", "noscript",
             "template", "textarea", "title", "xmp", "form", "input", "mglyph", "mtext",
             "annotation-xml", "foreignObject", "details", "table", "td", "li", "h1", "ol",
             "object", "base", "meta", "link", "select", "plaintext"]  # fmt: skip
ATTRIBUTE_NAMES = ["href", "src", "onerror", "onclick", "ONLOAD", "hx-get", "hx-on:click",
                   "data-hx-post", "style", "id", "name", "xlink:href", "formaction", "srcset",
                   "target", "rel", "title", "start", "class", "action", "poster", "lang",
                   "hx-trigger", "data-x"]  # fmt: skip
URL_PREFIXES = ["javascript:", "JaVaScRiPt:", "java\tscript:", "java&#x0A;script:",
                "&#106;avascript:", "&#x6a;avascript&colon;", "data:text/html,",
                "data:image/png;base64,", "vbscript:", "file:", "blob:", "https://x.test/",
                "http://x.test/", "mailto:a@x.test", "//x.test/", "/t/1", "#post-1", "",
                "java\u200bscript:", "\u00a0javascript:", "\u2028javascript:",
                "javascript%3A", " \x01javascript:"]  # fmt: skip
ODD_CHARACTERS = ["\u200b", "\u200d", "\u2060", "\ufeff", "\u202e", "\u2066", "\u2069",
                  "\u00ad", "\x00", "\x01", "\x0b", "\x0c", "\x7f", "\x85", "\r", "\u2028",
                  "\u00a0", "\ud7ff", "\U0001f600", "\ufffd"]  # fmt: skip
ENTITIES = ["&lt;", "&gt;", "&amp;", "&quot;", "&#x3c;", "&#60", "&Tab;", "&NewLine;",
            "&colon;", "&#x202e;", "&#0;", "&#1;", "&#x80;", "&"]  # fmt: skip
MARKDOWN_BITS = ["[", "]", "(", ")", "![", "<", ">", "*", "_", "`", "```", "\n", "\n\n", "# ",
                 "> ", "- ", "1. ", "|", "---", "~~", "[r]: ", "\\", '"', "'", "=", "/",
                 "www.", "@", "|---|\n"]  # fmt: skip

words = st.text(alphabet=st.characters(codec="utf-8"), max_size=8)
url = st.tuples(st.sampled_from(URL_PREFIXES), st.sampled_from(["window.__x=1", "a", ""]),
                words).map("".join)  # fmt: skip
attribute = st.tuples(
    st.sampled_from(ATTRIBUTE_NAMES),
    st.sampled_from(["=", " = ", "\x0c=", "/="]),
    st.sampled_from(['"', "'", "`", ""]),
    st.one_of(url, words),
).map(lambda t: f" {t[0]}{t[1]}{t[2]}{t[3]}{t[2]}")
open_tag = st.tuples(
    st.sampled_from(TAG_NAMES), st.lists(attribute, max_size=3), st.sampled_from([">", "/>", ""])
).map(lambda t: f"<{t[0]}{''.join(t[1])}{t[2]}")
close_tag = st.sampled_from(TAG_NAMES).map(lambda name: f"</{name}>")
markdown_link = st.tuples(st.sampled_from(["[", "!["]), words, url, st.sampled_from(["", ' "t"']))
markdown_link = markdown_link.map(lambda t: f"{t[0]}{t[1]}]({t[2]}{t[3]})")
autolink = url.map(lambda u: f"<{u}>")
reference = st.tuples(words, url).map(lambda t: f"[{t[0]}][r]\n\n[r]: {t[1]}\n")
piece = st.one_of(
    open_tag, close_tag, markdown_link, autolink, reference, words,
    st.sampled_from(ODD_CHARACTERS), st.sampled_from(ENTITIES), st.sampled_from(MARKDOWN_BITS),
    st.sampled_from(["<!--", "-->", "<![CDATA[", "]]>", "<?", "</", "<style>", "</p>"]),
    st.sampled_from([payload for _, _, payload in CORPUS if len(payload) < 400]),
)  # fmt: skip
hostile_documents = st.lists(piece, max_size=16).map("".join)


@FUZZ
@given(st.text(max_size=500))
def test_any_text_renders_to_safe_idempotent_html(source: str) -> None:
    assert_safe(render_markdown(source))


@FUZZ
@given(hostile_documents)
def test_hostile_looking_markdown_renders_to_safe_idempotent_html(source: str) -> None:
    assert_safe(render_markdown(source))


@FUZZ
@given(hostile_documents)
def test_hostile_looking_html_is_sanitised_to_safe_idempotent_html(source: str) -> None:
    assert_safe(sanitize_html(source))


# --------------------------------------------------------------------------- cost (XSS-05)

BODY_LIMIT = 20_000  # the forum's body limit, enforced by the web layer before rendering
PATHOLOGICAL_UNITS = {
    "nested <b> (raw html, so text)": "<b>",
    "quote markers": ">",
    "nested quotes": "> ",
    "open brackets": "[",
    "image brackets": "![",
    "emphasis soup": "*a_",
    "underscore brackets": "_[",
    "bracket stars": "[*",
    "unclosed link destinations": "[x](",
    "email-like fragments": "a@b.co ",
    "fuzzy links": "x.co ",
    "bare urls": "http://",
    "entity starts": "&#",
    "backslashes": "\\",
    "backtick spaces": "` ",
    "table": "|a|b|\n|-|-|\n",
    "setext headings": "a\n=\n",
    "reference definitions": "[a]: b\n",
    "nested list markers": "- ",
    "many images": "![a](/b)",
    "images in links": "[![](/b)](/c)",
}


def _fill(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


def _best_time(function: Callable[[str], str], argument: str, bound: float) -> float:
    """Best of up to three runs, stopping once under ``bound``: the machine may be busy, and
    the bound is about the algorithm."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        function(argument)
        best = min(best, time.perf_counter() - start)
        if best < bound:
            break
    return best


@pytest.mark.parametrize("unit", PATHOLOGICAL_UNITS.values(), ids=PATHOLOGICAL_UNITS.keys())
def test_pathological_posts_at_the_body_limit_render_in_bounded_time(unit: str) -> None:
    source = _fill(unit, BODY_LIMIT)
    # A safety bound (no RecursionError, no runaway), not a performance claim: about 0.4 s on
    # an idle 2-core machine, so 2 s leaves room for a loaded CI runner.
    assert _best_time(render_markdown, source, bound=2.0) < 2.0


WORST_UNITS = ["<b>", "> ", "[", "![", "_[", "a@b.co ", "x.co ", "|a|b|\n|-|-|\n"]


@pytest.mark.parametrize("unit", WORST_UNITS)
def test_pathological_64_kib_inputs_render_without_blowing_up(unit: str) -> None:
    # A safety bound, not a performance claim: linear pure-Python parsing of 64 KiB takes
    # up to ~1.5 s on a busy 2-core VM; quadratic behaviour would take far longer.
    source = _fill(unit, 65_536)
    assert _best_time(render_markdown, source, bound=4.0) < 4.0


def test_60000_nested_bold_tags_are_sanitised_quickly() -> None:
    html = "<b>" * 60_000 + "x"
    assert _best_time(sanitize_html, html, bound=0.5) < 0.5
    assert sanitize_html(html) == "x"


def test_60000_nested_bold_tags_as_a_post_are_refused_not_crashed() -> None:
    with pytest.raises(SanitizerError):
        render_markdown("<b>" * 60_000)


def test_a_one_megabyte_single_line_is_refused_quickly() -> None:
    start = time.perf_counter()
    with pytest.raises(SanitizerError):
        render_markdown("a" * 1_000_000)
    assert time.perf_counter() - start < 0.1


def test_a_typical_2_kb_post_renders_in_a_few_milliseconds() -> None:
    paragraph = (
        "Bonjour à toutes et à tous, je voulais partager **mon expérience** avec l'anxiété. "
        "Depuis quelques mois, je vois une psychologue (voir https://example.org/aide) et "
        "ça m'aide *beaucoup*.\n\n"
    )
    source = (paragraph * 12)[:2048]
    render_markdown(source)  # warm up
    timings = []
    for _ in range(20):
        start = time.perf_counter()
        render_markdown(source)
        timings.append(time.perf_counter() - start)
    assert sorted(timings)[len(timings) // 2] < 0.025


# --------------------------------------------------------------------------- linkify (issue 16)

@pytest.mark.parametrize(("pending", "scheme"), [
    ("voir http", "http"), ("https", "https"), ("(ftp", "ftp"), ("*HTTP", "HTTP"),
    ("a1http", "a1http"), ("x.y+z-http", "x.y+z-http"),  # a run, as markdown-it reads it
    ("1http", None), (".http", None), ("", None), ("voir ", None), ("é", None),
    ("a" * sanitize.LINKIFY_SCHEME_MAX, "a" * sanitize.LINKIFY_SCHEME_MAX),
    (" " + "a" * (sanitize.LINKIFY_SCHEME_MAX + 1), None),
    ("x://" * 5_000 + "x", "x"),
])
def test_linkify_reads_the_scheme_back_from_the_colon_and_no_further_than_the_bound(
    pending: str, scheme: str | None,
) -> None:
    assert sanitize._scheme_before(pending) == scheme


def test_a_scheme_run_longer_than_the_bound_is_not_read_to_its_start() -> None:
    class Counting(str):
        reads = 0

        def __getitem__(self, index):  # noqa: ANN001, ANN204
            Counting.reads += 1
            return str.__getitem__(self, index)

    assert sanitize._scheme_before(Counting("a" * 100_000 + "http")) is None
    assert Counting.reads <= sanitize.LINKIFY_SCHEME_MAX + 3


def test_markdown_runs_the_bounded_linkify_rule() -> None:
    for md in (sanitize._MD, sanitize._MD_INLINE):
        rules = [rule.fn for rule in md.inline.ruler.__rules__ if rule.name == "linkify"]
        assert rules == [sanitize._linkify]


linkify_document = st.lists(st.sampled_from([
    "http", "https", "ftp", "mailto", "x", "://", ":", "/", "//", "www.", "example.org", ".",
    "*", "_", " ", "\n", "a", "B", "1", "+", "-", "é", "[", "](", ")", "`", "<", ">", "@",
    "HTTP", "~~", "**", "?", "=", "&", "ex.com", "localhost", "a" * 40,
]), max_size=30).map("".join)


@FUZZ
@given(linkify_document)
def test_the_bounded_linkify_renders_exactly_what_markdown_its_own_rule_renders(
    source: str,
) -> None:
    from markdown_it.rules_inline.linkify import linkify as upstream

    ours = render_markdown(source)
    try:
        for md in (sanitize._MD, sanitize._MD_INLINE):
            md.inline.ruler.at("linkify", upstream)
        theirs = render_markdown(source)
    finally:
        for md in (sanitize._MD, sanitize._MD_INLINE):
            md.inline.ruler.at("linkify", sanitize._linkify)
    assert ours == theirs
