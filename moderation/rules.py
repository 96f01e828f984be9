"""The automatic rules the gate applies before a post is stored, per space and per member.

- a suspended or banned member cannot post (they can still read);
- a new member may post only a few times an hour;
- watched words and patterns (shipped defaults in ``data/watched_words.json`` plus the
  ``watched_word`` table): "hold" waits for a moderator, "block" refuses with a message,
  "flag" publishes and raises a flag. They run on RE2, in linear time, on folded text
  (``moderation.patterns``); a stored pattern RE2 refuses is skipped, never fatal;
- the same text twice in a row by the same author is refused (``REFUSE_SAME_TEXT_TWICE``);
- pre-moderation: a member's first posts in a space (``Space.premoderated_posts``) wait for a
  moderator. Moderators, admins and trained peer helpers are trusted.

Rules only read; ``apply_after_publish`` writes in the post's own unit of work.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import anyio.to_thread
from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from forum.db import utcnow
from forum.gate import GateRefusal
from forum.i18n import N_
from forum.models import Member, Post, PostStatus, Role, Space, Thread
from forum.permissions import is_restricted
from moderation import patterns
from moderation.models import Flag, WatchedWord

logger = logging.getLogger(__name__)

DEFAULTS = Path(__file__).with_name("data") / "watched_words.json"
NEW_MEMBER_DAYS = 7
ACTIONS = ("flag", "hold", "block")

RESTRICTED = N_("Ton compte est suspendu pour l'instant : tu peux lire, mais pas écrire. "
                "La raison et la date de fin sont indiquées sous les fils.")
TOO_MANY = N_("Tu as déjà beaucoup écrit cette heure-ci. Comme tu viens d'arriver, le forum "
              "limite le nombre de messages par heure : réessaie un peu plus tard. Ton texte "
              "est conservé ci-dessous.")
BLOCKED = N_("Ce texte contient un mot ou une formule que le forum n'accepte pas. Relis la "
             "charte et reformule, ton texte est conservé.")
HELD_WATCHED = N_("Ton message contient peut-être une information personnelle ou un détail "
                  "sensible (numéro, adresse, quantité) : un·e modérateur·rice le relit avant "
                  "publication, pour te protéger.")
HELD_NEW_MEMBER = N_("Bienvenue ! Dans cet espace, les premiers messages d'un·e nouveau·elle "
                     "membre sont relus par un·e modérateur·rice avant publication.")
HOLD_REASONS = frozenset({HELD_WATCHED, HELD_NEW_MEMBER})
SAME_TEXT = N_("Tu viens déjà de publier exactement ce texte : il est en ligne. Si tu voulais "
               "ajouter quelque chose, modifie-le un peu ou complète ton message précédent.")
REFUSE_SAME_TEXT_TWICE = True
"""Refuse a text identical to the author's previous post (edits are not posts)."""
SAME_TEXT_MIN_LENGTH = 40
"""Shorter texts ("Merci 💛", "Bonjour à toutes et tous.") are naturally repeated: allowed."""


@dataclass(frozen=True)
class Watched:
    pattern: Any
    """The compiled RE2 program (``moderation.patterns.compiled``)."""
    action: str
    label: str
    message: str = ""
    source: str = ""
    """The pattern as written (shown on the admin page)."""


SHIPPED_LABELS = (N_("numéro de téléphone"), N_("adresse e-mail"), N_("adresse postale"),
                  N_("médicament et quantité"), N_("demande de moyen"))
"""The labels of the shipped patterns (``data/watched_words.json``): message ids, shown in the
reader's language on the admin page. Labels the team writes are shown as written."""


@cache
def default_words() -> tuple[Watched, ...]:
    """The shipped patterns; each must compile with RE2 (a test checks), else import fails."""
    raw = json.loads(DEFAULTS.read_text(encoding="utf-8"))
    words = []
    for item in raw:
        compiled = patterns.compiled(item["pattern"])
        if item["label"] not in SHIPPED_LABELS:
            raise ValueError(f"shipped watched word {item['label']!r}: its label is not in "
                             "SHIPPED_LABELS, so it would not be translated")
        if compiled is None:
            raise ValueError(f"shipped watched word {item['label']!r}: "
                             f"{patterns.problem(item['pattern'])}")
        words.append(Watched(compiled, item["action"], item["label"], source=item["pattern"]))
    return tuple(words)


_skipped: set[str] = set()
"""Stored patterns already logged as skipped (each is logged once per process)."""


_WORDS_KEY = "watched_words"
"""Where a session keeps the list it read (``session.info``): a post is reviewed, then checked
for "flag" words once published, in one unit of work, and the table is read once."""


def forget_watched_words(session: AsyncSession) -> None:
    """The table changed in this session: the next review reads it again."""
    session.info.pop(_WORDS_KEY, None)


async def watched_words(session: AsyncSession) -> list[Watched]:
    """The shipped patterns, then the table's; a row RE2 refuses (saved before RE2, or by
    hand) is skipped and shown as broken on the admin page, never fatal to posting. Read once
    per session (:func:`forget_watched_words`)."""
    cached = session.info.get(_WORDS_KEY)
    if cached is not None:
        return list(cached)
    words = list(default_words())
    for row in await session.scalars(select(WatchedWord).order_by(WatchedWord.id)):
        compiled = patterns.compiled(row.pattern)
        if compiled is None:
            if row.pattern not in _skipped:
                _skipped.add(row.pattern)
                logger.warning("watched word %s skipped: RE2 refuses its pattern", row.id)
            continue
        if row.action in ACTIONS:
            words.append(Watched(compiled, row.action, row.label, row.message, row.pattern))
    session.info[_WORDS_KEY] = tuple(words)
    return words


def matches(text: str, words: list[Watched]) -> list[Watched]:
    """The words found in ``text`` (the text is folded once; each search is linear)."""
    folded = patterns.fold(text)
    return [word for word in words if patterns.search(word.pattern, folded)]


OFF_LOOP_CHARS = 4_000
"""Texts at least this long are matched in a worker thread. Below, even the heaviest pattern
the admin form accepts costs a few milliseconds, less than the hop to a thread and back (which
this request may be making while it holds SQLite's write lock)."""


async def matches_off_loop(text: str, words: list[Watched]) -> list[Watched]:
    """:func:`matches`, in a worker thread for long texts: RE2 releases the GIL while it
    searches, so even a heavy admin pattern on a 20,000-character post never stalls the other
    requests of the worker."""
    if len(text) < OFF_LOOP_CHARS:
        return matches(text, words)
    return await anyio.to_thread.run_sync(matches, text, words)


def _trusted(author: Member) -> bool:
    return author.role == Role.ADMIN or author.is_peer_moderator or author.trained_helper


async def _recent_posts(session: AsyncSession, author: Member) -> int:
    since = utcnow() - timedelta(hours=1)
    return int(await session.scalar(
        select(func.count()).select_from(Post)
        .where(Post.author_id == author.id, Post.created_at >= since)) or 0)


async def _posts_in_space(session: AsyncSession, author: Member, space: Space) -> int:
    """The author's published posts in the space: pending, hidden, removed and deleted ones do
    not count, so throwaway messages never buy the way past pre-moderation."""
    return int(await session.scalar(
        select(func.count()).select_from(Post).join(Thread, Thread.id == Post.thread_id)
        .where(Post.author_id == author.id, Thread.space_id == space.id,
               Thread.conversation_id.is_(None), Post.status == PostStatus.VISIBLE)) or 0)


@cache
def _last_post_source() -> Select[tuple[str]]:
    """Built once, with the author as a parameter (``forum.queries._thread_by_id`` says why)."""
    return (select(Post.source)
            .where(Post.author_id == bindparam("author_id"), Post.status != PostStatus.DELETED)
            .order_by(Post.id.desc()).limit(1))


async def _same_as_last_post(session: AsyncSession, author: Member, text: str) -> bool:
    """Whether ``text`` repeats the author's latest post, whatever its status (one query)."""
    last = await session.scalar(_last_post_source(), {"author_id": author.id})
    return last is not None and last.strip() == text.strip()


def _long_enough_to_repeat(text: str) -> bool:
    return len(text.strip()) >= SAME_TEXT_MIN_LENGTH


async def review(session: AsyncSession, text: str, *, author: Member, space: Space,
                 editing: bool = False, private: bool = False
                 ) -> tuple[PostStatus, tuple[str, ...]]:
    """The status the rules give a text about to be posted, and why; raises GateRefusal.
    ``editing``: the text replaces an existing post's (never "the same text twice").
    ``private``: a one-to-one conversation's message: the space's pre-moderation and hourly
    limit for new members are about its public threads (a held message would put a private
    one before its moderators, and keep it from the other person); watched words still hold."""
    if is_restricted(author):
        raise GateRefusal(RESTRICTED)
    trusted = _trusted(author)
    is_new = author.created_at > utcnow() - timedelta(days=NEW_MEMBER_DAYS)
    limit = space.new_member_hourly_limit
    if (not private and not trusted and is_new and limit > 0
            and await _recent_posts(session, author) >= limit):
        raise GateRefusal(TOO_MANY)
    if (REFUSE_SAME_TEXT_TWICE and not editing and _long_enough_to_repeat(text)
            and await _same_as_last_post(session, author, text)):
        raise GateRefusal(SAME_TEXT)
    found = await matches_off_loop(text, await watched_words(session))
    for word in found:
        if word.action == "block":
            raise GateRefusal(word.message or BLOCKED)
    reasons: list[str] = []
    if not trusted and any(word.action == "hold" for word in found):
        reasons.append(HELD_WATCHED)
    if (not private and not trusted and space.premoderated_posts > 0
            and await _posts_in_space(session, author, space) < space.premoderated_posts):
        reasons.append(HELD_NEW_MEMBER)
    return (PostStatus.PENDING if reasons else PostStatus.VISIBLE), tuple(reasons)


async def apply_after_publish(session: AsyncSession, post: Post, reasons: tuple[str, ...]
                              ) -> None:
    """Show the author why a post waits, and raise a flag for "flag" watched words."""
    if post.status == PostStatus.PENDING and reasons:
        post.moderation_reason = reasons[0]
    found = [w for w in await matches_off_loop(post.source, await watched_words(session))
             if w.action == "flag"]
    if found:
        session.add(Flag(post_id=post.id, flagger_id=None, reason="other",
                         note=found[0].label, text_copy=post.source))
    await session.flush()
