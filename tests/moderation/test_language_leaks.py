"""Every page, in French and in English, holds no words of the other language, no raw stored
value and no machine timestamp.

The pages are those a visitor, a member, an author, a moderator and an admin open in the
moderation world of :mod:`tests.moderation.access_matrix` (flags, a held post, a hidden post
with its appeal, a suspended member, watched words, notifications of outcomes), each fetched
through HTTP in both languages. What people wrote (post bodies, titles, pseudonyms, reasons:
everything the templates mark ``dir="auto"``, text marked with its own ``lang``, and
quotations) is left out; the rest is the interface's own text.

A leak is found three ways:
- a sentence of the other language's catalogue (a message whose French and English differ,
  cut at its placeholders into fragments of three words or more) appears in the page;
- in French, a stored value (``hidden``, ``pending``, ``concern``, ``computer``…) shows as a word;
- an ISO timestamp (``2026-12-05T13:15``) shows instead of a date in words.
"""

from __future__ import annotations

import re
from functools import cache

import pytest
from babel.messages.pofile import read_po
from bs4 import BeautifulSoup
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from forum.config import ROOT
from forum.models import Member
from moderation import actions as ma
from moderation import queries as mq
from tests.browsing import Browser
from tests.moderation.access_matrix import as_role, build_world

PAGES_BY_ROLE = {
    "visitor": ["/", "/help", "/signup", "/login", "/recover", "/charter", "/privacy",
                "/moderation", "/sans-reponse", "/search?q=message", "/s/alpha",
                "/t/{thread}", "/cette-page-n-existe-pas"],
    "member": ["/", "/notifications", "/notifications/settings", "/settings", "/me",
               "/me/export", "/me/sessions", "/me/password", "/me/break", "/me/delete",
               "/safety-plan", "/s/alpha/new", "/t/{thread}", "/p/{post2}/flag",
               "/search?q=message"],
    "author": ["/t/{thread}", "/notifications", "/p/{hidden2}/appeal", "/p/{post2}/edit",
               "/p/{post2}/delete", "/p/{post2}/revisions", "/me/export"],
    "suspended": ["/t/{thread}", "/s/alpha/new", "/notifications", "/me/appeal"],
    "mod_this": ["/mod", "/mod/log", "/mod/protocol", "/mod/posts/{post}",
                 "/mod/posts/{pending}", "/mod/posts/{hidden}", "/mod/members/{author}",
                 "/mod/members/{suspended}", "/t/{thread}"],
    "admin": ["/admin", "/admin/spaces/{space}", "/admin/watched-words", "/admin/templates",
              "/admin/members", "/admin/members?q=suspended", "/mod", "/mod/log"],
}
RAW_VALUES = re.compile(
    r"\b(hidden|removed|pending|deleted|concern|urgent|none|computer|phone|tablet|"
    r"harassment|other|flag|hold|block|visible|suspended|banned|member|moderator|admin|"
    r"public|members_only|true|false|None|True|False)\b"
)
"""Stored values that must never reach a French page as they are (English words)."""
FRENCH_TOO = {"visible", "public", "admin", "urgent"}
"""Stored values that are also French words: only reported inside a status or a label."""
FRENCH_WORDS = re.compile(
    r"(?<![\w'’-])(le|la|les|des|une|pour|avec|dans|est|pas|tu|ton|ta|tes|du|aux|sur|mais|"
    r"où|qui|que|cette|ces|mon|mes|et|ou|rien|aucun|aucune|message|messages)(?![\w'’-])"
)
"""French words with no English twin of the same spelling ("message" is English too, but not
with its French neighbours): an English page's interface holds none of them."""
ISO_TIMESTAMP = re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2})?\b")
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w*\}")


def _fragments(text: str) -> set[str]:
    """The literal runs of ``text`` between placeholders, of three words or more."""
    return {" ".join(part.split()) for part in PLACEHOLDER.split(text)
            if len(part.split()) >= 3}


@cache
def catalogue_fragments() -> tuple[frozenset[str], frozenset[str]]:
    """(French fragments, English fragments) of every message translated differently."""
    french: set[str] = set()
    english: set[str] = set()
    for path in sorted((ROOT / "locales" / "en" / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as handle:
            catalog = read_po(handle)
        for message in catalog:
            if not message.id or not message.string:
                continue
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            strings = (message.string if isinstance(message.string, tuple)
                       else (message.string,))
            for source, target in zip(ids, strings, strict=False):
                if source != target:
                    french |= _fragments(source)
                    english |= _fragments(target)
    same = french & english
    return frozenset(french - same), frozenset(english - same)


def interface_text(html: str) -> str:
    """The page's visible text without what people wrote, whitespace folded."""
    soup = BeautifulSoup(html, "html.parser")
    for element in soup.select("script, style, template, [dir=auto], body [lang], "
                               "blockquote, .post__body, code, pre, textarea, .language-form"):
        element.decompose()
    main = soup.body or soup
    return " ".join(main.get_text(" ").split())


def leaks(text: str, language: str) -> list[str]:
    french, english = catalogue_fragments()
    foreign = english if language == "fr" else french
    found = sorted(fragment for fragment in foreign if fragment in text)
    # A fragment inside a longer one of the page's own language is that language's text.
    own = french if language == "fr" else english
    found = [f for f in found if not any(f in longer and longer in text for longer in own)]
    found += [f"timestamp {m}" for m in ISO_TIMESTAMP.findall(text)]
    if language == "fr":
        found += [f"raw value {m!r}" for m in RAW_VALUES.findall(text) if m not in FRENCH_TOO]
    else:
        found += [f"French word {m!r} in …{text[max(0, i - 40):i + 40]}…"
                  for m, i in ((w.group(1), w.start()) for w in FRENCH_WORDS.finditer(text))
                  if m not in ("message", "messages")]
    return found


def test_the_detector_finds_each_kind_of_leak() -> None:
    french, english = catalogue_fragments()
    assert len(french) > 500 and len(english) > 500
    assert "rien à retirer" in leaks("Outcome: rien à retirer.", "en")  # seen in a notice
    sample_fr = next(iter(sorted(french, key=len)))
    assert leaks(f"Hello {sample_fr} there", "en")
    sample_en = next(iter(sorted(english, key=len)))
    assert leaks(f"Bonjour {sample_en} là", "fr")
    assert leaks("Statut : pending", "fr") == ["raw value 'pending'"]
    assert leaks("ordinateur : ouverte le 2026-12-05T13:15:00", "fr") == [
        "timestamp 2026-12-05T13:15"]
    assert leaks("suspendu·e jusqu'au 2026-12-08.", "fr") == ["timestamp 2026-12-08"]
    assert leaks("Visible depuis hier", "fr") == []


async def _outcomes(app: Litestar, world) -> None:  # noqa: ANN001
    """Decisions that send notices: a flag (dismissed below) and a suspension until a day."""
    async with app.state.database.writing() as session:
        post = await mq.get_post(session, world.ids["post2"])
        await ma.do_flag_post(session, post, flagger=world.members["member"], reason="spam",
                              note="")
        suspended = await session.get(Member, world.members["suspended"].id)
        admin = await session.get(Member, world.members["admin"].id)
        assert suspended is not None and admin is not None
        suspended.suspended_until = None
        await ma.do_suspend_member(session, suspended, actor=admin, reason="Propos blessants",
                                   days=3)


@pytest.mark.parametrize("language", ["fr", "en"])
async def test_no_page_shows_the_other_language_or_a_raw_value(
    app: Litestar, client: AsyncTestClient, browser: Browser, language: str,
) -> None:
    world = await build_world(app)
    await _outcomes(app, world)
    await as_role(client, app, world, "mod_this")
    item = await browser.get(f"/mod/posts/{world.ids['post2']}")
    await browser.submit(item.form("#action-dismiss"), {"reason": "Rien à signaler"})
    async with app.state.database.writing() as session:
        await session.execute(update(Member).values(locale=language))
    headers = {"accept-language": "en" if language == "en" else "fr"}
    problems: list[str] = []
    fetched = 0
    for role, urls in PAGES_BY_ROLE.items():
        await as_role(client, app, world, role)
        for template in urls:
            url = template.format(**world.ids)
            answer = await client.get(url, headers=headers)
            assert answer.status_code in (200, 403, 404), (role, url, answer.status_code)
            fetched += 1
            page_lang = BeautifulSoup(answer.text, "html.parser").html
            assert page_lang is not None and page_lang.get("lang") == language, (role, url)
            problems += [f"{role} {url}: {leak}"
                         for leak in leaks(interface_text(answer.text), language)]
    assert fetched > 50
    assert problems == [], "\n".join(problems)
