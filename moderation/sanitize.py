"""Markdown rendering and HTML sanitising for posts: the only module that imports nh3.

Every post goes through :func:`render_markdown` once, when it is written; the result is stored
with :data:`RENDERER_VERSION` and re-rendered from the source when the version changes.

Choices, and why:

* **nh3, not bleach.** bleach was deprecated in 2023 and reached end of life on 2026-06-05
  ("no future releases including for security issues"); its known-unfixed advisory
  GHSA-g75f-g53v-794x (CPU exhaustion in ``linkify(parse_email=True)``) will never be fixed.
  nh3 binds the Rust ammonia sanitiser, which parses with html5ever (the same HTML5 algorithm
  browsers use) and is roughly 40x faster. Nothing else in the project may import nh3 or
  markdown-it-py, so the sanitiser can be swapped behind these functions.
* **Two layers.** markdown-it-py runs CommonMark with raw HTML *off* (``"html": False``), so any
  HTML a member types is rendered as text; then nh3 cleans the generated HTML against a small
  allowlist. The allowlist is frozen by a snapshot test (XSS-12): no svg, math, style, comments,
  raw-text elements, ``id``/``class``/``style``/``hx-*``/``data-*``.
* **URLs.** Only ``http``, ``https`` and ``mailto`` (plus relative URLs, see below). Before the
  scheme is checked, C0/C1 controls, whitespace, format characters (bidi, zero-width...) and
  Default_Ignorable code points are removed; a URL that *contains* any of them is dropped
  outright, and the percent-decoded form is checked too, so ``java\\u200bscript:`` or
  ``javascript%3A`` cannot slip through (bleach GHSA-8rfp-98v4-mmr6). ``data:``, ``javascript:``,
  ``vbscript:``, ``file:``, ``blob:`` and every other scheme are refused everywhere, including
  the ``data:image/*`` that markdown-it allows by default.
* **Relative links are kept** (``/t/42``, ``#post-7``, ``../x``): members link to other threads
  of the forum. They can only lead to pages of this site through a GET, and every state-changing
  route is a POST protected by CSRF. Protocol-relative ``//host`` links are off-site links like
  any ``https:`` link and get the same ``rel``.
* **Links** get ``rel="nofollow noopener noreferrer ugc"``; ``target`` is never kept.
* **Images never load.** ``![alt](url)`` becomes a plain link to the URL (text: the alt text,
  or the URL when the alt text is empty); inside a link it becomes plain text, because nested
  ``<a>`` elements are re-parented by HTML parsers. A reader's browser never contacts another
  site because of a post.
* **Headings** are shifted down by two levels (h1->h3, h2->h4, h3->h5, h4..h6->h6) inside
  markdown-it, so a post never produces h1/h2 and keeps its own hierarchy.
* **Line breaks**: ``breaks`` is on (a single newline is a ``<br>``), as on Discourse; members of a
  peer-support forum write prose, not Markdown.
* **Control characters**: ``\\r\\n`` and ``\\r`` become ``\\n``; NUL, the other C0 controls,
  DEL and C1 controls are removed from the source and from the output (character references such as
  ``&#1;`` decode to controls inside the parser, so the output is cleaned too).
* **Bidi controls**: the embedding, override and isolate controls U+202A-U+202E and
  U+2066-U+2069 are *removed* from text and attributes (they can reverse a file name or a link
  text: "Trojan Source"-style spoofing). The marks U+200E, U+200F and U+061C are kept: they
  have no scope, and right-to-left writers need them. Templates should put ``dir="auto"`` on
  the post container so Arabic or Hebrew paragraphs still display correctly.
* **Fail closed**: any failure (including ``RecursionError``) raises :class:`SanitizerError`;
  callers refuse the post. Sources longer than :data:`MAX_SOURCE_CHARS` are refused before
  parsing (the forum's own body limit, 20,000 characters, is enforced earlier), and inline
  markup uses a lower nesting limit (:data:`INLINE_MAX_NESTING`) than blocks, which bounds the
  worst-case time on runs of ``[``.
* **Linkify is bounded.** markdown-it's inline linkify rule looked for the scheme before each
  ``://`` by searching the whole text pending since the last token: quadratic, about 2 s for
  ``x://`` × 5,000. :func:`_linkify` is that rule with the scheme read backwards from the
  ``://``, at most :data:`LINKIFY_SCHEME_MAX` characters: a longer run of scheme characters
  cannot be a scheme linkify-it knows (http, https, ftp, mailto), so what ordinary posts
  render is unchanged (docs/RELIABILITY.md has the figures for hostile inputs).
* The element that turns htmx off around a post (``data-hx-disable``) is added by the templates.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token

__all__ = [
    "ALLOWED_ATTRIBUTES",
    "ALLOWED_TAGS",
    "LINK_REL",
    "BLOCK_MAX_NESTING",
    "INLINE_MAX_NESTING",
    "MAX_SOURCE_CHARS",
    "RENDERER_VERSION",
    "URL_SCHEMES",
    "SanitizerError",
    "render_markdown",
    "sanitize_html",
]

#: Bump whenever the Markdown options, the allowlist or any rule below changes: stored posts
#: carrying an older version are re-rendered from their source.
RENDERER_VERSION: int = 1

#: Sources longer than this (64 KiB) are refused before parsing (defence in depth; the forum's
#: body limit of 20,000 characters applies first). Pure-Python markdown-it costs up to ~20 us
#: per character on adversarial input, so this also bounds the worst-case rendering time.
MAX_SOURCE_CHARS: int = 65_536

#: markdown-it's nesting limit for blocks (CommonMark preset: 20): block content nested deeper
#: (quotes in quotes, lists in lists) is dropped by markdown-it.
BLOCK_MAX_NESTING: int = 20

#: Nesting limit for inline markup (emphasis in links in strikethrough...): deeper markup stays
#: text. Link-label parsing costs time proportional to this limit for every ``[``, so a lower
#: limit than the block one cuts the worst case on runs of ``[`` and ``![``.
INLINE_MAX_NESTING: int = 6

#: Longest run of scheme characters read back from a ``://`` (linkify-it's longest scheme is
#: "mailto", 6): anything longer is not a scheme it knows, so no link.
LINKIFY_SCHEME_MAX: int = 32

ALLOWED_TAGS: frozenset[str] = frozenset(
    {
        "p", "br", "hr",
        "strong", "em", "del", "s", "code", "pre", "blockquote",
        "ul", "ol", "li",
        "a",
        "h3", "h4", "h5", "h6",
        "table", "thead", "tbody", "tr", "th", "td",
    }
)  # fmt: skip

ALLOWED_ATTRIBUTES: dict[str, frozenset[str]] = {
    "a": frozenset({"href", "title"}),
    "ol": frozenset({"start"}),
}

URL_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto"})

LINK_REL: str = "nofollow noopener noreferrer ugc"

#: Elements removed *with their content* (never renamed or unwrapped): foreign content,
#: raw-text/RCDATA elements and anything that embeds or fetches.
CLEAN_CONTENT_TAGS: frozenset[str] = frozenset(
    {
        "script", "style", "svg", "math", "template", "noscript", "iframe", "object", "embed",
        "applet", "noembed", "noframes", "xmp", "title", "textarea", "select", "frameset",
        "frame", "plaintext", "head",
    }
)  # fmt: skip


class SanitizerError(Exception):
    """Rendering or sanitising failed: the caller must refuse the post (fail closed)."""


# --------------------------------------------------------------------------- characters

# C0 controls except TAB and LF, DEL, C1 controls. CR is normalised to LF before.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BIDI_RE = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
_NEWLINE_RE = re.compile("\r\n?")

# Default_Ignorable_Code_Point ranges not already covered by the Cc/Cf/Z* categories
# (Unicode DerivedCoreProperties.txt).
_DEFAULT_IGNORABLE_RANGES: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
    (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)  # fmt: skip
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_ASCII_WHITESPACE = " \t\n\r\f"


_DEFAULT_IGNORABLE_RE = re.compile(
    "[" + "".join(f"\\U{low:08x}-\\U{high:08x}" for low, high in _DEFAULT_IGNORABLE_RANGES) + "]"
)
_ASCII_INVISIBLE_RE = re.compile(r"[\x00-\x20\x7f]")


def _is_invisible(ch: str) -> bool:
    """True for controls, whitespace, format, unassigned and Default_Ignorable characters."""
    return (
        unicodedata.category(ch) in _INVISIBLE_CATEGORIES
        or _DEFAULT_IGNORABLE_RE.match(ch) is not None
    )


def _has_invisible(value: str) -> bool:
    if value.isascii():  # the common case: markdown-it percent-encodes everything else
        return _ASCII_INVISIBLE_RE.search(value) is not None
    return any(_is_invisible(ch) for ch in value)


def _strip_invisible(value: str) -> str:
    if value.isascii():
        return _ASCII_INVISIBLE_RE.sub("", value)
    return "".join(ch for ch in value if not _is_invisible(ch))


def _disallowed_scheme(value: str) -> bool:
    """True when ``value``, without its invisible characters, starts with a refused scheme."""
    match = _SCHEME_RE.match(_strip_invisible(value))
    return match is not None and match.group(1).lower() not in URL_SCHEMES


def _url_is_allowed(url: str) -> bool:
    """The single URL policy, used by markdown-it (validateLink) and by the nh3 filter.

    Allowed: relative URLs and http/https/mailto. Refused: any other scheme, and any URL
    carrying a control, whitespace, format or Default_Ignorable character (browsers tolerate
    some of these; no legitimate link needs them, and markdown-it percent-encodes them).
    The percent-decoded form must not reveal a refused scheme either.
    """
    trimmed = url.strip(_ASCII_WHITESPACE)
    if _has_invisible(trimmed):
        return False
    return not (_disallowed_scheme(trimmed) or _disallowed_scheme(unquote(trimmed)))


def _clean_text(value: str) -> str:
    """Remove C0/C1 controls (except TAB and LF), bidi embedding/override/isolate controls and
    U+FEFF (a byte-order mark: an HTML parser drops it at the start of a fragment, so keeping
    it elsewhere would make sanitising not idempotent; U+2060 is its modern replacement)."""
    value = _NEWLINE_RE.sub("\n", value).replace("\ufeff", "")
    return _BIDI_RE.sub("", _CONTROL_RE.sub("", value))


_START_RE = re.compile(r"[0-9]{1,9}")


def _attribute_filter(element: str, attribute: str, value: str) -> str | None:
    """nh3 callback: last word on every attribute that survived the allowlist."""
    if attribute not in ALLOWED_ATTRIBUTES.get(element, frozenset()) and not (
        element == "a" and attribute == "rel"
    ):
        return None
    if attribute == "href":
        if not _url_is_allowed(value):
            return None
        return value.strip(_ASCII_WHITESPACE)
    if attribute == "rel" and element == "a":
        return LINK_REL
    if attribute == "start" and element == "ol":
        return value if _START_RE.fullmatch(value.strip()) else None
    if attribute == "title":
        return _clean_text(value)
    return None


_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=set(CLEAN_CONTENT_TAGS),
    # "*": set() replaces ammonia's default generic attributes (lang, title) with none.
    attributes={"*": set(), **{tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()}},
    attribute_filter=_attribute_filter,
    strip_comments=True,
    link_rel=LINK_REL,
    generic_attribute_prefixes=set(),
    url_schemes=set(URL_SCHEMES),
    url_relative="pass_through",
)


_MAX_PASSES = 3
"""nh3 passes before a fragment must be stable. One is enough for almost every input; a link
opened, then a table, then a link again (``<a><table><a>``) comes out of the parser as a link
inside a link, which no HTML parser can read back, so the next pass gives another tree (found
by the fuzz test on 2026-12-07). The second pass is the one that is read back the same."""


def _clean_once(html: str) -> str:
    try:
        cleaned = _CLEANER.clean(_clean_text(html))
    except Exception as exc:  # fail closed, whatever went wrong
        raise SanitizerError("HTML sanitising failed") from exc
    # Character references (``&#1;``, ``&#x202e;``) decode to controls inside the parser; text
    # nodes are the only place they can remain (attributes went through the filter), and the
    # serialiser has escaped ``<`` and ``&`` there, so removing them cannot create markup.
    return _clean_text(cleaned)


def sanitize_html(html: str) -> str:
    """Clean an HTML fragment against the allowlist (the nh3 step alone). Idempotent: cleaned
    again until a pass changes nothing (:data:`_MAX_PASSES`); refused if it never settles."""
    if not isinstance(html, str):
        raise SanitizerError(f"expected str, got {type(html).__name__}")
    cleaned = _clean_once(html)
    for _ in range(_MAX_PASSES - 1):
        again = _clean_once(cleaned)
        if again == cleaned:
            return cleaned
        cleaned = again
    raise SanitizerError("HTML sanitising does not settle")


# --------------------------------------------------------------------------- markdown


def _demote_headings(state: StateCore) -> None:
    """Shift headings down two levels (h1->h3, h2->h4, ..., capped at h6)."""
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close"):
            level = int(token.tag[1:])
            token.tag = f"h{min(level + 2, 6)}"


def _mark_images_in_links(state: StateCore) -> None:
    """Flag images inside a link: they must render as text, since ``<a>`` cannot nest."""
    for block in state.tokens:
        depth = 0
        for token in block.children or ():
            if token.type == "link_open":
                depth += 1
            elif token.type == "link_close":
                depth -= 1
            elif token.type == "image" and depth > 0:
                token.meta["inside_link"] = True


def _render_image(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    """``![alt](url)`` -> ``<a href="url">alt</a>``: never an ``<img>``.

    markdown-it only creates the image token when ``validateLink`` accepted the URL.
    """
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env)
    src = str(token.attrGet("src") or "")
    text = alt if alt.strip() else _MD.normalizeLinkText(src)
    if not src or not _url_is_allowed(src) or token.meta.get("inside_link"):
        return escapeHtml(text)
    title = token.attrGet("title")
    title_attr = f' title="{escapeHtml(str(title))}"' if title else ""
    return f'<a href="{escapeHtml(src)}"{title_attr}>{escapeHtml(text)}</a>'


_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.")


def _scheme_before(pending: str) -> str | None:
    """The scheme that ends ``pending`` (the maximal run of RFC 3986 scheme characters,
    starting with a letter), as markdown-it's ``SCHEME_RE`` finds it; None when there is none
    or the run is longer than :data:`LINKIFY_SCHEME_MAX`. Reads at most that many characters."""
    start = len(pending)
    floor = max(0, start - LINKIFY_SCHEME_MAX - 1)
    while start > floor and pending[start - 1] in _SCHEME_CHARS:
        start -= 1
    if start == len(pending) or len(pending) - start > LINKIFY_SCHEME_MAX:
        return None
    scheme = pending[start:]
    return scheme if scheme[0].isascii() and scheme[0].isalpha() else None


def _linkify(state: StateInline, silent: bool) -> bool:
    """markdown-it-py's inline ``linkify`` rule (rules_inline/linkify.py, 4.x), except that
    the scheme is read by :func:`_scheme_before` instead of a regex over ``state.pending``."""
    if not state.md.options.linkify or state.linkLevel > 0 or not state.md.linkify:
        return False
    pos = state.pos
    if (pos + 3 > state.posMax or state.src[pos] != ":" or state.src[pos + 1] != "/"
            or state.src[pos + 2] != "/"):
        return False
    proto = _scheme_before(state.pending)
    if proto is None:
        return False
    link = state.md.linkify.match_at_start(state.src[pos - len(proto):])
    if not link:
        return False
    url: str = link.url.rstrip("*")  # a trailing '*' belongs to emphasis
    full_url = state.md.normalizeLink(url)
    if not state.md.validateLink(full_url):
        return False
    if not silent:
        state.pending = state.pending[: -len(proto)]
        token = state.push("link_open", "a", 1)
        token.attrs = {"href": full_url}
        token.markup = "linkify"
        token.info = "auto"
        token = state.push("text", "", 0)
        token.content = state.md.normalizeLinkText(url)
        token = state.push("link_close", "a", -1)
        token.markup = "linkify"
        token.info = "auto"
    state.pos += len(url) - len(proto)
    return True


def _build_markdown(max_nesting: int) -> MarkdownIt:
    md = MarkdownIt(
        "commonmark",
        {
            "html": False,
            "linkify": True,
            "breaks": True,
            "typographer": False,
            "maxNesting": max_nesting,
        },
    )
    md.enable(["linkify", "strikethrough", "table"])
    md.disable(["html_block", "html_inline"])  # raw HTML off twice: option and rules
    md.validateLink = _url_is_allowed  # type: ignore[method-assign]
    md.inline.ruler.at("linkify", _linkify)
    md.core.ruler.push("demote_headings", _demote_headings)
    md.core.ruler.push("mark_images_in_links", _mark_images_in_links)
    md.add_render_rule("image", _render_image)
    return md


def _parse_inline(state: StateCore) -> None:
    """markdown-it's core "inline" rule, but with the inline parser's lower nesting limit."""
    for token in state.tokens:
        if token.type == "inline":
            if token.children is None:
                token.children = []
            _MD_INLINE.inline.parse(token.content, _MD_INLINE, state.env, token.children)


_MD_INLINE = _build_markdown(INLINE_MAX_NESTING)
_MD = _build_markdown(BLOCK_MAX_NESTING)
_MD.core.ruler.at("inline", _parse_inline)


def render_markdown(source: str) -> str:
    """Render a post's Markdown source to a safe HTML fragment (the posting pipeline's one call).

    Raises :class:`SanitizerError` on any failure; the caller refuses the post.
    """
    if not isinstance(source, str):
        raise SanitizerError(f"expected str, got {type(source).__name__}")
    if len(source) > MAX_SOURCE_CHARS:
        raise SanitizerError(f"source longer than {MAX_SOURCE_CHARS} characters")
    try:
        html = _MD.render(_clean_text(source))
    except RecursionError as exc:
        raise SanitizerError("Markdown nesting too deep") from exc
    except Exception as exc:  # fail closed, whatever went wrong
        raise SanitizerError("Markdown rendering failed") from exc
    return sanitize_html(html)
