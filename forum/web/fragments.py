"""Rendered posts, kept per worker: most posts on a member's thread page look the same to
every member, so their HTML is rendered once and reused.

A thread page is thirty posts, each a few included templates (meta and badges, reactions, flag
and block links): rendering them is most of a member page's time. For one reader, a post is
*plain* when nothing on it is theirs: a visible post by someone else, whom they have not
blocked, to which they gave no reaction, whose content warning they do not hide, on a page
they do not moderate. A plain post renders the same for every member (and another same for
every visitor), apart from the CSRF token in its forms, which is rendered as a placeholder and
replaced by the reader's own token on the way out.

The key is everything a plain post's HTML is made of (the post's id, status, edit time, body,
language, content warning and number; its author's pseudonym and badges; the reader's language
and region), so an entry never needs invalidating: a change makes a new key, and the old entry
ages out of the LRU. Posts that are not plain are rendered as before, each time.

Nothing personal is stored: a plain post carries no trace of its reader. The cache lives in the
worker's memory only (never in Redis), bounded by ``MAX_BYTES``. Entries are kept compressed
(``forum.packing``): a post's HTML is held in about half its size (as with zlib before),
which costs a few µs to unpack.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from forum.models import Post, PostStatus
from forum.packing import pack, unpack

MAX_BYTES = 8 * 1024 * 1024
"""Per worker, compressed."""

CSRF_MARK = "\x00csrf\x00"
"""Stands for the reader's CSRF token in stored HTML (a NUL never survives the sanitiser)."""

TEMPLATE = "_post.html"


class FragmentCache:
    """A byte-bounded LRU of rendered plain posts (kept compressed), safe to share between
    threads."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[bytes, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: bytes) -> str | None:
        with self._lock:
            packed = self._entries.get(key)
            if packed is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
        return unpack(packed).decode()

    def put(self, key: bytes, text: str) -> None:
        packed = pack(text.encode())
        if len(packed) > self.max_bytes // 16:
            return
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self.size -= len(previous)
            self._entries[key] = packed
            self.size += len(packed)
            while self.size > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self.size -= len(evicted)

    def __len__(self) -> int:
        return len(self._entries)


def plain_key(ctx: Context, post: Post) -> bytes | None:
    """The cache key of ``post`` for this page's reader, or None when it is not plain: a
    128-bit digest of everything its HTML is made of (a tuple of them weighs 400 bytes)."""
    viewer = ctx.call(ctx["viewer"])
    author = post.author
    if post.status != PostStatus.VISIBLE or author is None:
        return None
    moderator_ids = ctx.get("moderator_ids") or frozenset()
    thread = ctx.get("thread")
    if thread is not None and thread.private:
        return None  # a session's or conversation's messages stay out of every shared cache
    if viewer is not None:
        if viewer.id == post.author_id or viewer.role == "admin" or viewer.id in moderator_ids:
            return None
        social = ctx.get("social")
        if social and (post.author_id in social.blocked_ids or post.id in social.given):
            return None
    hidden_themes = ctx.get("hidden_themes") or ()
    if post.content_warning and post.content_warning in hidden_themes:
        return None
    facts = (
        "member" if viewer is not None else "visitor",
        post.id, post.number, post.created_at.isoformat(),
        post.edited_at.isoformat() if post.edited_at else None, post.content_warning,
        post.lang, hashlib.blake2b(post.html.encode(), digest_size=16).hexdigest(),
        author.pseudonym, author.trained_helper, str(author.role), post.author_id in moderator_ids,
        ctx.call(ctx["locale"]), ctx.call(ctx["region"]),
    )
    return hashlib.blake2b(repr(facts).encode(), digest_size=16).digest()


@pass_context
def post_card(ctx: Context, post: Post) -> Markup:
    """One post of a list, from the cache when it is plain for this reader.

    Either way the HTML is the output of ``_post.html`` (autoescaped; the post body is the
    sanitiser's), and only the reader's CSRF token (hex) is put into it: marking it safe is
    what ``{% include %}`` would do (bandit's B704, accepted in ``.ci/bandit-baseline.json``)."""
    template = ctx.environment.get_template(TEMPLATE)
    variables = {**ctx.get_all(), "post": post}
    key = plain_key(ctx, post)
    if key is None:
        html = template.render(variables)
    else:
        cache: FragmentCache = ctx.environment.globals["post_fragments"]
        stored = cache.get(key)
        if stored is None:
            stored = template.render({**variables, "csrf_token": lambda: CSRF_MARK})
            cache.put(key, stored)
        html = stored.replace(CSRF_MARK, ctx.call(ctx["csrf_token"]))
    return Markup(html)  # noqa: S704 - see the docstring


def install(env: Any, max_bytes: int = MAX_BYTES) -> None:
    """Give a Jinja environment its own cache and the ``post_card`` helper."""
    env.globals["post_fragments"] = FragmentCache(max_bytes)
    env.globals["post_card"] = post_card
