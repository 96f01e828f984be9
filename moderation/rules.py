"""The automatic rules the gate applies before a post is stored, per space and per member.

- a suspended or banned member cannot post (they can still read);
- a new member may post only a few times an hour;
- watched words and patterns (shipped defaults in ``data/watched_words.json`` plus the
  ``watched_word`` table): "hold" waits for a moderator, "block" refuses with a message,
  "flag" publishes and raises a flag;
- the same text twice in a row by the same author is refused (``REFUSE_SAME_TEXT_TWICE``);
- pre-moderation: a member's first posts in a space (``Space.premoderated_posts``) wait for a
  moderator. Moderators, admins and trained peer helpers are trusted.

Rules only read; ``apply_after_publish`` writes in the post's own unit of work.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from forum.db import utcnow
from forum.gate import GateRefusal
from forum.i18n import N_
from forum.models import Member, Post, PostStatus, Role, Space, Thread
from forum.permissions import is_restricted
from moderation.models import Flag, WatchedWord

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
    pattern: re.Pattern[str]
    action: str
    label: str
    message: str = ""


@cache
def default_words() -> tuple[Watched, ...]:
    raw = json.loads(DEFAULTS.read_text(encoding="utf-8"))
    return tuple(Watched(re.compile(item["pattern"], re.IGNORECASE), item["action"],
                         item["label"]) for item in raw)


def compile_pattern(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error:
        return None


async def watched_words(session: AsyncSession) -> list[Watched]:
    words = list(default_words())
    for row in await session.scalars(select(WatchedWord).order_by(WatchedWord.id)):
        compiled = compile_pattern(row.pattern)
        if compiled is not None and row.action in ACTIONS:
            words.append(Watched(compiled, row.action, row.label, row.message))
    return words


def matches(text: str, words: list[Watched]) -> list[Watched]:
    return [word for word in words if word.pattern.search(text)]


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
               Post.status == PostStatus.VISIBLE)) or 0)


async def _same_as_last_post(session: AsyncSession, author: Member, text: str) -> bool:
    """Whether ``text`` repeats the author's latest post, whatever its status (one query)."""
    last = await session.scalar(
        select(Post.source).where(Post.author_id == author.id, Post.status != PostStatus.DELETED)
        .order_by(Post.id.desc()).limit(1))
    return last is not None and last.strip() == text.strip()


def _long_enough_to_repeat(text: str) -> bool:
    return len(text.strip()) >= SAME_TEXT_MIN_LENGTH


async def review(session: AsyncSession, text: str, *, author: Member, space: Space,
                 editing: bool = False) -> tuple[PostStatus, tuple[str, ...]]:
    """The status the rules give a text about to be posted, and why; raises GateRefusal.
    ``editing``: the text replaces an existing post's (never "the same text twice")."""
    if is_restricted(author):
        raise GateRefusal(RESTRICTED)
    trusted = _trusted(author)
    is_new = author.created_at > utcnow() - timedelta(days=NEW_MEMBER_DAYS)
    limit = space.new_member_hourly_limit
    if not trusted and is_new and limit > 0 and await _recent_posts(session, author) >= limit:
        raise GateRefusal(TOO_MANY)
    if (REFUSE_SAME_TEXT_TWICE and not editing and _long_enough_to_repeat(text)
            and await _same_as_last_post(session, author, text)):
        raise GateRefusal(SAME_TEXT)
    found = matches(text, await watched_words(session))
    for word in found:
        if word.action == "block":
            raise GateRefusal(word.message or BLOCKED)
    reasons: list[str] = []
    if not trusted and any(word.action == "hold" for word in found):
        reasons.append(HELD_WATCHED)
    if (not trusted and space.premoderated_posts > 0
            and await _posts_in_space(session, author, space) < space.premoderated_posts):
        reasons.append(HELD_NEW_MEMBER)
    return (PostStatus.PENDING if reasons else PostStatus.VISIBLE), tuple(reasons)


async def apply_after_publish(session: AsyncSession, post: Post, reasons: tuple[str, ...]
                              ) -> None:
    """Show the author why a post waits, and raise a flag for "flag" watched words."""
    if post.status == PostStatus.PENDING and reasons:
        post.moderation_reason = reasons[0]
    found = [w for w in matches(post.source, await watched_words(session)) if w.action == "flag"]
    if found:
        session.add(Flag(post_id=post.id, flagger_id=None, reason="other",
                         note=found[0].label, text_copy=post.source))
    await session.flush()
