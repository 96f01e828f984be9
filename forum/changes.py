"""Derived data follows declared changes (DESIGN.md, "Derived data follows declared changes").

Every ``do_*`` of ``forum/`` and ``moderation/`` that changes what a page, the search index or
someone's notices show says so here, in one record carried by the unit of work
(``session.info``): which posts, threads, spaces and members' own views changed. Nothing
guesses changes from SQL statements, and no action has to remember each view: when the unit
of work commits (``forum.db.commit``, the only way anything commits), each registered view
brings itself in step from the record, and only from it:

- before the commit, in the same transaction: notifications (``forum.notifications``: who
  hears of a post that became visible, or is newly mentioned in an edit, once per member and
  post), then the search index (``forum.search``: each changed post's entry re-read from the
  post as it now is, a moved thread's entries given the space it is in now);
- after the commit: the page caches (``forum.cache``: the counters of the pages that show what
  changed), then the live events (``forum.live``: hints to the pages open on what changed).
  A rolled-back unit of work changes nothing anywhere.

A view reads the current rows by id, so recording the same thing twice, or a post whose insert
was undone by a savepoint, is harmless.
"""

from __future__ import annotations

import importlib
import weakref
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

KEY = "declared_changes"


@dataclass
class Changes:
    """What one unit of work changed, as its actions declared it."""

    posts: dict[int, int] = field(default_factory=dict)
    """Posts whose text, status, warning or place changed (or that are new): id -> thread id."""
    published: set[int] = field(default_factory=set)
    """Posts that became visible (new, approved, restored): their readers may be told."""
    created: set[int] = field(default_factory=set)
    """Posts this unit of work inserted: no view holds anything of them yet (no index entry,
    no notice), so the views need not look for what they held before."""
    newest: dict[int, int] = field(default_factory=dict)
    """Threads where posts became visible: thread id -> the highest number among them (the
    pages open on the thread are told how far it now goes, ``forum.live``)."""
    edited: dict[int, str] = field(default_factory=dict)
    """Posts whose text an edit changed: id -> the text before the first edit of this unit."""
    threads: set[int] = field(default_factory=set)
    """Threads whose title, state (locked, pinned), space or counters changed."""
    retitled: set[int] = field(default_factory=set)
    """Threads whose title changed (the search index holds it with the opening post)."""
    moved: set[int] = field(default_factory=set)
    """Threads moved to another space (the search index keeps each entry's space)."""
    members: set[int] = field(default_factory=set)
    """Members whose own pages show something new (their notices, reactions, follows, blocks,
    choices, restrictions): only their own copies of pages are forgotten."""
    everyone: bool = False
    """Something every page can show changed (a space, a pseudonym, a badge)."""
    queues: set[int] = field(default_factory=set)
    """Spaces whose moderation queue changed (a flag raised, claimed or settled): their
    moderators' welfare count may have changed (``forum.live``)."""

    def __bool__(self) -> bool:
        return bool(self.posts or self.threads or self.members or self.everyone
                    or self.queues)


def of(session: AsyncSession | Any) -> Changes:
    """The record of ``session``'s unit of work (created on first use)."""
    found = session.info.get(KEY)
    if found is None:
        found = session.info[KEY] = Changes()
    return found


def post(session: AsyncSession, changed: Any, *, published: bool = False,
         previous_source: str | None = None, created: bool = False) -> None:
    """``changed`` (a Post) changed: its text, status, warning or place; ``published`` when it
    became visible; ``previous_source`` when an edit changed its text; ``created`` when this
    unit of work inserted it."""
    record = of(session)
    record.posts[changed.id] = changed.thread_id
    if created:
        record.created.add(changed.id)
    record.threads.add(changed.thread_id)
    if published:
        record.published.add(changed.id)
        number = int(changed.number or 0)
        record.newest[changed.thread_id] = max(number, record.newest.get(changed.thread_id, 0))
    if previous_source is not None:
        record.edited.setdefault(changed.id, previous_source)


def posts(session: AsyncSession, rows: Iterable[tuple[int, int]]) -> None:
    """Many posts changed at once (``(post id, thread id)`` pairs): an account's erasure."""
    record = of(session)
    for post_id, thread_id in rows:
        record.posts[post_id] = thread_id
        record.threads.add(thread_id)


def thread(session: AsyncSession, thread_id: int, *, retitled: bool = False,
           moved: bool = False) -> None:
    """A thread's state, place or counters changed (``retitled``: its title; ``moved``: its
    space)."""
    record = of(session)
    record.threads.add(thread_id)
    if retitled:
        record.retitled.add(thread_id)
    if moved:
        record.moved.add(thread_id)


def members(session: AsyncSession, *member_ids: int | None) -> None:
    of(session).members.update(m for m in member_ids if m is not None)


def everyone(session: AsyncSession) -> None:
    of(session).everyone = True


def queue(session: AsyncSession, *space_ids: int | None) -> None:
    """The moderation queue of these spaces changed (flags raised, claimed or settled)."""
    of(session).queues.update(s for s in space_ids if s is not None)


# -- the views --------------------------------------------------------------------------------

BeforeCommit = Callable[[AsyncSession, Changes], Awaitable[None]]
AfterCommit = Callable[[AsyncSession, Changes], Awaitable[None]]

_before: list[tuple[str, BeforeCommit]] = []
_after: list[tuple[str, AfterCommit]] = []

VIEW_MODULES = ("forum.notifications", "forum.search", "forum.cache", "forum.live")
"""The modules that register the views, in the order their hooks run (notifications before
the search index). Imported before the first commit of every process, whatever it imported
itself: a command or a script that never imports the web layer still keeps every view in step
(a view registered by an import side effect alone was silently missing from such processes)."""

_loaded = False


def _load_views() -> None:
    global _loaded  # noqa: PLW0603 - once per process
    if not _loaded:
        for module in VIEW_MODULES:
            importlib.import_module(module)
        _loaded = True


def view(name: str, *, before_commit: BeforeCommit | None = None,
         after_commit: AfterCommit | None = None) -> None:
    """Register a view (once per name; a module imported twice registers once)."""
    for hooks, hook in ((_before, before_commit), (_after, after_commit)):
        if hook is not None and all(existing != name for existing, _ in hooks):
            hooks.append((name, hook))


class Followers:
    """The objects of this process that follow the commits on each database (page cache
    backends, live buses), held weakly: a view's after-commit hook hands the record to those
    of the session's database, so two forums in one process (tests) never cross."""

    def __init__(self) -> None:
        self._by_url: dict[str, weakref.WeakSet[Any]] = {}

    def add(self, database_url: str, follower: Any) -> None:
        key = make_url(database_url).render_as_string(hide_password=False)
        self._by_url.setdefault(key, weakref.WeakSet()).add(follower)

    def of(self, session: AsyncSession) -> list[Any]:
        url = getattr(session.bind, "url", None)
        if url is None:
            return []
        return list(self._by_url.get(url.render_as_string(hide_password=False), ()))


async def before_commit(session: AsyncSession) -> None:
    """Bring the in-transaction views in step (``forum.db.commit`` calls it)."""
    record = session.info.get(KEY)
    if not record:
        return
    _load_views()
    for _, hook in _before:
        await hook(session, record)


async def after_commit(session: AsyncSession) -> None:
    """The unit of work committed: the other views follow, and the record is done."""
    record = session.info.pop(KEY, None)
    if not record:
        return
    _load_views()
    for _, hook in _after:
        await hook(session, record)


def discard(session: AsyncSession) -> None:
    """The unit of work rolled back: nothing it declared happened."""
    session.info.pop(KEY, None)
