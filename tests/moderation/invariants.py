"""Independent checks on rendered post HTML (security.md §2.4, invariants I1-I8, plus I9).

The HTML is parsed with html5lib, a parser independent of the sanitiser's (html5ever, inside
nh3), so a disagreement between the two shows up here. Nothing is imported from the
sanitiser: the allowlist below is the reviewed policy, and ``test_sanitize`` asserts that the
sanitiser's own constants equal it (the XSS-12 snapshot).

- I1: only allowlisted elements (comments and foreign elements are violations too).
- I2: only allowlisted attributes (``rel`` on ``<a>`` is added by the sanitiser).
- I3: every URL-bearing attribute, after entity decoding and after removing C0 controls,
  whitespace and Default_Ignorable code points, is relative or http/https/mailto.
- I4: no attribute whose name starts with ``on``.
- I5: no ``hx-*`` or ``data-*`` attribute.
- I6: no ``style`` attribute and no ``<style>`` element.
- I7: no ``id`` or ``name`` attribute unless its value starts with ``uc-``.
- I8: none of the dangerous elements listed in :data:`I8_ELEMENTS`.
- I9: nothing that makes the browser contact another site: no fetching element or attribute;
  only ``<a href>`` may point off-site.
- XSS-07: every ``<a>`` carries ``rel="nofollow noopener noreferrer ugc"`` and no ``target``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from xml.etree import ElementTree

import html5lib

HTML_NS = "http://www.w3.org/1999/xhtml"

ALLOWED_TAGS: frozenset[str] = frozenset(
    {
        "p", "br", "hr", "strong", "em", "del", "s", "code", "pre", "blockquote",
        "ul", "ol", "li", "a", "h3", "h4", "h5", "h6",
        "table", "thead", "tbody", "tr", "th", "td",
    }
)  # fmt: skip

#: Attributes users may influence, per element.
ALLOWED_ATTRIBUTES: dict[str, frozenset[str]] = {
    "a": frozenset({"href", "title"}),
    "ol": frozenset({"start"}),
}
#: What the sanitiser adds on top (never from users).
ADDED_ATTRIBUTES: dict[str, frozenset[str]] = {"a": frozenset({"rel"})}

ALLOWED_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto"})
REQUIRED_REL: frozenset[str] = frozenset({"nofollow", "noopener", "noreferrer", "ugc"})

I8_ELEMENTS: frozenset[str] = frozenset(
    {
        "svg", "math", "template", "noscript", "script", "iframe", "object", "embed", "form",
        "input", "button", "base", "meta", "link", "textarea", "select", "xmp", "noembed",
        "noframes", "title",
    }
)  # fmt: skip

URL_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "href", "src", "action", "formaction", "poster", "cite", "background", "srcset",
        "imagesrcset", "xlink:href", "data", "codebase", "longdesc", "lowsrc", "dynsrc",
        "usemap", "manifest", "ping", "profile", "icon", "archive", "classid", "itemtype",
        "attributionsrc",
    }
)  # fmt: skip

#: Elements whose presence can make the browser fetch something by itself.
FETCHING_ELEMENTS: frozenset[str] = frozenset(
    {
        "img", "image", "picture", "source", "video", "audio", "track", "iframe", "frame",
        "frameset", "object", "embed", "applet", "link", "script", "style", "svg", "math",
        "use", "feimage", "input", "body", "meta", "base", "portal", "fencedframe", "bgsound",
        "param", "area", "map",
    }
)  # fmt: skip

#: Attributes that fetch (or navigate/post by themselves) on any element; ``<a href>`` is the
#: one URL allowed to point off-site.
FETCHING_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "src", "srcset", "imagesrcset", "data", "poster", "background", "lowsrc", "dynsrc",
        "ping", "action", "formaction", "manifest", "codebase", "archive", "longdesc",
        "usemap", "xlink:href", "href", "attributionsrc", "classid", "profile", "icon",
    }
)  # fmt: skip

# Default_Ignorable_Code_Point, from Unicode DerivedCoreProperties.txt (kept independent of the
# sanitiser's own table on purpose).
_DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
    (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)  # fmt: skip
# Unicode White_Space (PropList.txt).
_WHITE_SPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+\-.]*):")
_NAMESPACE_PREFIX = {
    "http://www.w3.org/1999/xlink": "xlink",
    "http://www.w3.org/XML/1998/namespace": "xml",
    "http://www.w3.org/2000/xmlns/": "xmlns",
}


def _removed_before_scheme_check(ch: str) -> bool:
    code = ord(ch)
    if code < 0x20 or code == 0x7F or ch in _WHITE_SPACE:
        return True
    if unicodedata.category(ch) == "Cf":
        return True
    return any(low <= code <= high for low, high in _DEFAULT_IGNORABLE)


def url_scheme(value: str) -> str | None:
    """The scheme a URL would have once invisible characters are gone; None when relative."""
    stripped = "".join(ch for ch in value if not _removed_before_scheme_check(ch))
    match = _SCHEME.match(stripped)
    return match.group(1).lower() if match else None


def _split(qualified: str) -> tuple[str | None, str]:
    if qualified.startswith("{"):
        namespace, _, local = qualified[1:].partition("}")
        return namespace, local
    return None, qualified


def _attribute_name(qualified: str) -> str:
    namespace, local = _split(qualified)
    if namespace in _NAMESPACE_PREFIX:
        return f"{_NAMESPACE_PREFIX[namespace]}:{local.lower()}"
    return local.lower()


def _parse(html: str) -> Any:
    return html5lib.parseFragment(html, treebuilder="etree", namespaceHTMLElements=False)


def check_invariants(html: str) -> list[str]:
    """Every violation of I1-I9 (and XSS-07) in ``html``; an empty list means it is safe."""
    violations: list[str] = []
    fragment = _parse(html)
    for element in fragment.iter():
        if element is fragment:
            continue
        if element.tag is ElementTree.Comment:
            violations.append(f"I1: comment node {element.text!r}")
            continue
        if not isinstance(element.tag, str):
            violations.append(f"I1: unexpected node {element.tag!r}")
            continue
        namespace, name = _split(element.tag)
        name = name.lower()
        if namespace not in (None, HTML_NS):
            violations.append(f"I1: foreign element <{name}> in {namespace}")
        elif name not in ALLOWED_TAGS:
            violations.append(f"I1: element <{name}> not allowlisted")
        if name in I8_ELEMENTS:
            violations.append(f"I8: forbidden element <{name}>")
        if name == "style":
            violations.append("I6: <style> element")
        if name in FETCHING_ELEMENTS:
            violations.append(f"I9: fetching element <{name}>")

        allowed = ALLOWED_ATTRIBUTES.get(name, frozenset()) | ADDED_ATTRIBUTES.get(
            name, frozenset()
        )
        attributes = {_attribute_name(key): value for key, value in element.attrib.items()}
        for attribute, value in attributes.items():
            if attribute not in allowed:
                violations.append(f"I2: attribute {attribute!r} on <{name}>")
            if attribute.startswith("on"):
                violations.append(f"I4: event handler {attribute!r} on <{name}>")
            if attribute.startswith(("hx-", "data-")):
                violations.append(f"I5: {attribute!r} on <{name}>")
            if attribute == "style":
                violations.append(f"I6: style attribute on <{name}>")
            if attribute in ("id", "name") and not value.startswith("uc-"):
                violations.append(f"I7: {attribute}={value!r} on <{name}>")
            if attribute in URL_ATTRIBUTES:
                for candidate in _url_candidates(attribute, value):
                    scheme = url_scheme(candidate)
                    if scheme is not None and scheme not in ALLOWED_SCHEMES:
                        violations.append(
                            f"I3: {attribute}={value!r} on <{name}> has scheme {scheme!r}"
                        )
            if attribute in FETCHING_ATTRIBUTES and not (name == "a" and attribute == "href"):
                violations.append(f"I9: {attribute}={value!r} on <{name}> can fetch")
            if attribute == "style" and "url(" in value.lower().replace(" ", ""):
                violations.append(f"I9: style url() on <{name}>")

        if name == "a" and namespace in (None, HTML_NS):
            rel = set(attributes.get("rel", "").lower().split())
            if not REQUIRED_REL <= rel:
                violations.append(f"XSS-07: <a> rel={attributes.get('rel')!r}")
            if "target" in attributes:
                violations.append("XSS-07: <a> has a target attribute")
    return violations


def _url_candidates(attribute: str, value: str) -> list[str]:
    if attribute in ("srcset", "imagesrcset"):
        return [part.strip().split(" ")[0] for part in value.split(",") if part.strip()]
    if attribute in ("ping", "archive"):
        return value.split()
    return [value]


def _signature(node: Any) -> tuple[Any, ...]:
    children = tuple(_signature(child) for child in node)
    return (str(node.tag), tuple(sorted(node.attrib.items())), node.text or "", node.tail or "",
            children)  # fmt: skip


def is_reparse_stable(html: str) -> bool:
    """XSS-03: parse -> serialise -> parse gives the same tree (a mutation-XSS tripwire)."""
    first = _parse(html)
    serialised = html5lib.serialize(
        first, tree="etree", omit_optional_tags=False, quote_attr_values="always"
    )
    return _signature(first) == _signature(_parse(serialised))
