"""Full-text search: what is indexed, how it is kept in step, and how it is queried.

Only visible posts are searchable, and never a group session's messages (they are for its
participants: ``forum/groups.py``). ``search_document`` (``forum.models.SearchDocument``) holds
one row per visible post: its plain text and, for an opening post, its thread's title. It is a
view of the data that follows declared changes (``forum.changes``): every ``do_*`` of the
forum and of moderation that changes a post (written, edited, deleted, hidden, restored,
removed, approved, erased) or a thread's title records it, and before the unit of work commits
:func:`follow_changes` re-reads each such post and writes or deletes its row, so the index
changes with the post, in the same transaction, or not at all; a moved thread's entries take
its new space the same way. Who may find a post is decided at query time from the thread's
*current* space (a thread moved into a members-only space is no longer found by visitors), the
post's status, the reader's blocks; a snippet is folded
behind the post's content warning, and left out for a theme the reader hides.

- **SQLite**: an FTS5 table ``search_fts`` over ``search_document`` (external content, kept in
  step by triggers), tokenizer ``unicode61 remove_diacritics 2``: case- and accent-insensitive
  ("anxiete" finds "anxiété"), but no stemming; each term of three letters or more is
  matched as a prefix, so "crise" finds "crises", while "chevaux" does not find "cheval"
  (a shorter term, such as "de" or "TS", only matches itself: as a prefix it would expand to
  a large part of the vocabulary). A prefix is asked as the words it starts, read from the
  vocabulary table ``search_term`` (FTS5's own prefix query gathers every match before it
  can stop: its cost grows with the forum). Ranked by ``bm25`` (a
  title counts four times a body) while that stays cheap, see below; snippets by
  ``snippet()``/``highlight()``.
- **PostgreSQL**: a text search configuration ``forum_french`` (``french`` with ``unaccent``
  before the French stemmer), a stored generated ``search_vector`` column (weighted title
  and body, created by DDL: the model does not map it) with a GIN index,
  ``websearch_to_tsquery`` (never a syntax error), ``ts_rank`` and ``ts_headline``.

Both rank the :data:`RANK_WINDOW` most recent matches only: a word found in half of the
forum's posts would otherwise be ranked, one post at a time, across all of them on every
search. A rare word, the kind that finds someone's story, is ranked across all its matches.

On SQLite, ``bm25`` also weighs each word by how many posts in the whole forum hold it, and
FTS5 counts them, on every search, by reading each word's whole list of posts: a cost that
grows with the forum whatever the window. So a search first estimates how many posts hold its
words (:func:`postings_of`: how far back the :data:`PROBE_DEPTH`-th most recent match
of each word lies). Up to :data:`RANK_BUDGET`, the window is ranked by ``bm25``
(``Ordering.RELEVANCE``); above it, by words found in the thread's title, then newest first
(``Ordering.TITLE_THEN_RECENT``), and the page says so: cruder than ``bm25``, but what a
search can afford for words that common on a large forum.

A prefix expands to at most :data:`MAX_EXPANSIONS` words and all of a query's prefixes to
:data:`MAX_QUERY_WORDS` together; a broader one is asked as the whole word it is, and the page
names it (``SearchResults.too_broad``). From the web, a search runs within a time budget
(``forum.search_budget``, ``FORUM_SEARCH_BUDGET_MS``): past it the database stops it, and
:func:`search` answers the newest matches, unranked (``Ordering.NEWEST``), or nothing
(``SearchResults.gave_up``), and the page says which.

Highlights are marked with two private-use characters that indexed text can never contain;
the snippet is HTML-escaped first and only then are the markers turned into ``<mark>``.
"""

from __future__ import annotations

import html
import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from html.parser import HTMLParser
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import (
    DDL,
    Integer,
    Row,
    Select,
    String,
    and_,
    bindparam,
    case,
    column,
    delete,
    event,
    func,
    insert,
    literal_column,
    or_,
    select,
    table,
    text,
    true,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from forum import changes, search_budget
from forum.changes import Changes
from forum.models import (
    Block,
    Member,
    Post,
    PostStatus,
    SearchDocument,
    SearchTerm,
    Space,
    Thread,
)
from forum.queries import READABLE_BY_REACH, reading_reach

log = logging.getLogger("forum.search")

RESULTS_PER_PAGE = 20
MAX_PAGE = 50
"""Deeper pages are not served: refine the query instead (offsets grow costly)."""
RANK_WINDOW = 2000
"""How many of the most recent matching posts are ranked (at least MAX_PAGE pages of them)."""
MIN_PREFIX = 3
"""Shorter terms match whole words only, not as prefixes."""
MAX_EXPANSIONS = 40
"""A prefix shared by more words than this (a very short one) is too broad: it is asked as the
whole word it is, and the page says so. (FTS5's own prefix query would find every word, but
it gathers every match of every one of them first: its cost grows with the forum.)"""
MAX_QUERY_WORDS = 120
"""The words all the prefixes of one query may be asked as, together: twelve prefixes of forty
words each would make one query of 480 words, each a list FTS5 walks. Past this, the
prefixes that start the most words are asked as whole words, and the page says so."""
RANK_BUDGET = 1_000_000
"""How many posts, summed over a query's words, ``bm25`` may count on SQLite (about 25 ms of
reading); a query whose words are held by more is ordered by title, then recency. It was
40,000 until the forum's vocabulary was measured (issue 20, docs/PERFORMANCE.md "Ranking
common words"): with very common words left out of longer queries, ranking them all by
``bm25`` cost no more at p95 on 200,000 and 1,000,000 posts, so only a query of nothing but
very common words, on a large forum, is still ordered by title."""
PROBE_DEPTH = 500
"""How many of a word's most recent matches are read to estimate how common it is."""
COMMON_SHARE = 0.2
COMMON_POSTS = 20_000
"""A word held by more than COMMON_SHARE of the forum's posts, and by more than COMMON_POSTS,
is left out of a query of several words while a rarer one remains (SQLite): it narrows almost
nothing, and FTS5 walks its long list of posts to intersect it with the others (on 1,000,000
posts, a phrase of eight words with "le", "la", "si" took up to 240 ms; `make bench`). The
page names the words left out (``SearchResults.left_out``). PostgreSQL's ``french``
configuration leaves out the most common French words (its stop words) the same way."""
MAX_TERMS = 12
MAX_QUERY_LENGTH = 200

START, END = "\ue000", "\ue001"
"""Highlight markers: private-use characters, stripped from everything indexed."""
_MARKERS = str.maketrans("", "", START + END)

# -- schema that create_all cannot express (replayed by the migration) --------------------------

SQLITE_DDL: list[str] = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5("
    "title, body, content='search_document', content_rowid='post_id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS search_document_ai AFTER INSERT ON search_document BEGIN "
    "INSERT INTO search_fts(rowid, title, body) VALUES (new.post_id, new.title, new.body); "
    "END",
    "CREATE TRIGGER IF NOT EXISTS search_document_ad AFTER DELETE ON search_document BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, title, body) "
    "VALUES ('delete', old.post_id, old.title, old.body); END",
    "CREATE TRIGGER IF NOT EXISTS search_document_au AFTER UPDATE OF title, body "
    "ON search_document BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, title, body) "
    "VALUES ('delete', old.post_id, old.title, old.body); "
    "INSERT INTO search_fts(rowid, title, body) VALUES (new.post_id, new.title, new.body); "
    "END",
]

_PG_DOCUMENT = (
    "(setweight(to_tsvector('forum_french'::regconfig, {t}title), 'A') || "
    "setweight(to_tsvector('forum_french'::regconfig, {t}body), 'B'))"
)

POSTGRES_DDL: list[str] = [
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    "DO $$ BEGIN "
    "IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'forum_french') THEN "
    "CREATE TEXT SEARCH CONFIGURATION forum_french (COPY = pg_catalog.french); "
    "ALTER TEXT SEARCH CONFIGURATION forum_french "
    "ALTER MAPPING FOR hword, hword_part, word WITH unaccent, french_stem; "
    "END IF; END $$",
    # Stored, so that ranking reads the vector instead of parsing and stemming each post again
    # (that cost about 0.1 ms a post: 11 s for a common word over 200,000 posts).
    "ALTER TABLE search_document ADD COLUMN IF NOT EXISTS search_vector tsvector "
    "GENERATED ALWAYS AS (" + _PG_DOCUMENT.format(t="") + ") STORED",
    "CREATE INDEX IF NOT EXISTS ix_search_document_fts ON search_document "
    "USING gin (search_vector)",
]

DDL_STATEMENTS: list[tuple[str, str]] = [
    *(("sqlite", sql) for sql in SQLITE_DDL), *(("postgresql", sql) for sql in POSTGRES_DDL),
]
"""(dialect, sql) pairs run after ``search_document`` is created: the migration replays them."""

SQLITE_DROP = "DROP TABLE IF EXISTS search_fts"
VOCABULARY_OF_INDEX = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_vocabulary "
    "USING fts5vocab(main, search_fts, 'row')"
)
"""FTS5's own list of the words it holds (read whole only to rebuild ``search_term``)."""

for _dialect, _sql in DDL_STATEMENTS:
    event.listen(SearchDocument.__table__, "after_create", DDL(_sql).execute_if(dialect=_dialect))
event.listen(SearchDocument.__table__, "before_drop",
             DDL(SQLITE_DROP).execute_if(dialect="sqlite"))


# -- indexing --------------------------------------------------------------------------------

class _TextExtractor(HTMLParser):
    _BREAKS = frozenset({"p", "br", "li", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5",
                         "h6", "tr", "div"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BREAKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._BREAKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(post_html: str) -> str:
    """The words of a post's sanitised HTML, without markup or highlight markers."""
    extractor = _TextExtractor()
    extractor.feed(post_html)
    extractor.close()
    return clean_indexed(html.unescape("".join(extractor.parts)))


def clean_indexed(value: str) -> str:
    return " ".join(value.translate(_MARKERS).split())


async def reindex_post(session: AsyncSession, post: Post, place: Row[Any], *,
                       new: bool = False) -> None:
    """Bring the post's index entry in step with its current state (call after any change).

    ``place``: its thread's current ``title``, ``space_id``, ``group_session_id`` and
    ``conversation_id``, read with the post (:func:`follow_changes`). A post that is not
    visible (pending, hidden, deleted, removed), or is in a group session or a conversation,
    has no entry and can never be found. On SQLite the vocabulary follows
    (:class:`forum.models.SearchTerm`). ``new``: the unit of work inserted the post, so it has
    no entry yet to read or remove. Never commits.
    """
    sqlite = session.bind.dialect.name == "sqlite"
    before: set[str] = set()
    if sqlite and not new:
        old = (await session.execute(
            select(SearchDocument.title, SearchDocument.body)
            .where(SearchDocument.post_id == post.id)
        )).one_or_none()
        before = index_words(old.title, old.body) if old else set()
    if not new:
        await session.execute(delete(SearchDocument).where(SearchDocument.post_id == post.id))
    after: set[str] = set()
    if (post.status == PostStatus.VISIBLE and place.group_session_id is None
            and place.conversation_id is None):
        title = clean_indexed(place.title) if post.number == 1 else ""
        body = plain_text(post.html)
        await session.execute(
            insert(SearchDocument).values(
                post_id=post.id, thread_id=post.thread_id, space_id=place.space_id,
                title=title, body=body,
            )
        )
        after = index_words(title, body) if sqlite else set()
    if sqlite:
        await _add_words(session, after - before)
        await _forget_unused_words(session, before - after)


async def follow_changes(session: AsyncSession, record: Changes) -> None:
    """The search index follows the unit of work's declared changes (before its commit): each
    changed post is re-read and its entry written or deleted; a thread whose title changed has
    its opening post re-read; a moved thread's entries take the space the thread is in now
    (read from ``thread``, like every view reads current rows)."""
    if record.moved:
        current = (select(Thread.space_id).where(Thread.id == SearchDocument.thread_id)
                   .scalar_subquery())
        await session.execute(update(SearchDocument)
                              .where(SearchDocument.thread_id.in_(sorted(record.moved)))
                              .values(space_id=current))
    post_ids = set(record.posts)
    if record.retitled:
        post_ids |= set(await session.scalars(
            select(Post.id).where(Post.thread_id.in_(record.retitled), Post.number == 1)))
    if not post_ids:
        return
    await session.flush()
    ordered = sorted(post_ids)
    for start in range(0, len(ordered), 500):  # an erased account may have many posts
        chunk = ordered[start : start + 500]
        # Each post with its thread's current place, in one statement for the whole chunk.
        visible = (await session.execute(
            select(Post, Thread.title, Thread.space_id, Thread.group_session_id,
                   Thread.conversation_id)
            .join(Thread, Thread.id == Post.thread_id)
            .where(Post.id.in_(chunk), Post.status == PostStatus.VISIBLE)
            .order_by(Post.id))).all()
        for row in visible:
            await reindex_post(session, row.Post, row, new=row.Post.id in record.created)
        gone = set(chunk) - {row.Post.id for row in visible}
        if gone:  # not visible any more (or no more): out of the index at once
            await remove_documents(session, sorted(gone))


changes.view("search", before_commit=follow_changes)


async def remove_documents(session: AsyncSession, post_ids: Any) -> None:
    """Drop the index entries of ``post_ids`` (a subquery) at once, and with them the words
    no other visible post holds (account erasure)."""
    words: set[str] = set()
    if session.bind.dialect.name == "sqlite":
        for title, body in (await session.execute(
            select(SearchDocument.title, SearchDocument.body)
            .where(SearchDocument.post_id.in_(post_ids))
        )).all():
            words |= index_words(title, body)
    await session.execute(delete(SearchDocument).where(SearchDocument.post_id.in_(post_ids)))
    await _forget_unused_words(session, words)


# -- the vocabulary (SQLite) -------------------------------------------------------------------

_INDEX_WORD = re.compile(r"[^\W_]+")


def fold(value: str) -> str:
    """Lower case without diacritics: what FTS5's ``unicode61 remove_diacritics 2`` stores."""
    decomposed = unicodedata.normalize("NFD", value)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def index_words(*texts: str) -> set[str]:
    """The words FTS5 makes of ``texts`` (the same folding and the same word boundaries)."""
    return set(_INDEX_WORD.findall(fold(" ".join(texts))))


async def _add_words(session: AsyncSession, words: set[str]) -> None:
    if words:
        await session.execute(
            text("INSERT OR IGNORE INTO search_term (term) VALUES (:term)"),
            [{"term": word} for word in sorted(words)],
        )


async def _forget_unused_words(session: AsyncSession, words: set[str]) -> None:
    """Remove the words no visible post holds any more (checked in FTS5 itself)."""
    if not words:
        return
    await session.execute(
        text(
            "DELETE FROM search_term WHERE term = :term AND NOT EXISTS ("
            "SELECT 1 FROM search_fts WHERE search_fts MATCH '\"' || :term || '\"')"
        ),
        [{"term": word} for word in sorted(words)],
    )


async def rebuild_vocabulary(session: AsyncSession) -> int:
    """``search_term`` again from FTS5's own list of words (SQLite); returns how many."""
    if session.bind.dialect.name != "sqlite":
        return 0
    await session.execute(delete(SearchTerm))
    await session.execute(text(VOCABULARY_OF_INDEX))
    await session.execute(text(
        "INSERT INTO search_term (term) SELECT term FROM temp.search_vocabulary"
    ))
    return int(await session.scalar(select(func.count()).select_from(SearchTerm)) or 0)


async def rebuild_index(session: AsyncSession, *, batch: int = 500) -> int:
    """Index every visible post again (after a restore or an import); returns how many."""
    await session.execute(delete(SearchDocument))
    count, last_id = 0, 0
    while True:
        rows = (
            await session.execute(
                select(Post.id, Post.thread_id, Post.number, Post.html, Thread.title,
                       Thread.space_id)
                .join(Thread, Thread.id == Post.thread_id)
                .where(Post.status == PostStatus.VISIBLE, Post.id > last_id,
                       Thread.group_session_id.is_(None), Thread.conversation_id.is_(None))
                .order_by(Post.id).limit(batch)
            )
        ).all()
        if not rows:
            await rebuild_vocabulary(session)
            return count
        await session.execute(insert(SearchDocument), [
            {"post_id": r.id, "thread_id": r.thread_id, "space_id": r.space_id,
             "title": clean_indexed(r.title) if r.number == 1 else "",
             "body": plain_text(r.html)}
            for r in rows
        ])
        count += len(rows)
        last_id = rows[-1].id


# -- querying ----------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")

LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ﬀ": "ff", "ﬁ": "fi",
                           "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"})
"""Ligatures spelled out in a query. Most French keyboards have no "œ": "coeur" must find
"cœur", and "cœur" must find "coeur" (PostgreSQL's ``unaccent`` folds both; FTS5 does not,
so on SQLite a term is asked in both spellings, see :func:`spellings`)."""


def spellings(term: str) -> list[str]:
    """A query term as typed without ligatures, and (when it differs) with "oe" and "ae" as
    the ligatures French writes: what the SQLite index may hold (posts are indexed as
    written, so that snippets show the author's words)."""
    tied = term.replace("oe", "œ").replace("ae", "æ").replace("OE", "Œ").replace("AE", "Æ")
    return [term] if tied == term else [term, tied]


def query_terms(raw: str) -> list[str]:
    """The words of a query: punctuation and FTS syntax are dropped, never interpreted."""
    return _WORD.findall(raw[:MAX_QUERY_LENGTH].translate(LIGATURES))[:MAX_TERMS]


def fts5_query(terms: list[str], expansions: dict[str, list[str]] | None = None) -> str:
    """Each term quoted (no operator can slip through). A term of MIN_PREFIX letters or more
    is a prefix: the words of the vocabulary it starts (``expansions``, OR-ed, which FTS5
    walks newest first and stops early). A term without expansion (a short one, a prefix too
    broad, or no vocabulary read) is asked as the whole word it is: FTS5's own prefix query
    is never used (its cost grows with the forum)."""
    parts = []
    for term in terms:
        words = (expansions or {}).get(term)
        if words is None:
            asked = [f'"{spelling}"' for spelling in spellings(term)]
        else:
            asked = [f'"{word}"' for word in words]
        parts.append(asked[0] if len(asked) == 1 else "(" + " OR ".join(asked) + ")")
    return " AND ".join(parts)


async def expand_prefixes(session: AsyncSession, terms: list[str]) -> dict[str, list[str]]:
    """For each prefix term, the words of ``search_term`` it starts (itself included), unless
    it is too broad: more than MAX_EXPANSIONS words (per spelling), or more than the query's
    MAX_QUERY_WORDS once the narrower prefixes have theirs. A term left out is asked as a
    whole word (:func:`too_broad` names them). One statement, reading at most
    MAX_EXPANSIONS + 1 words per prefix and spelling."""
    prefixes = sorted({term for term in terms if len(term) >= MIN_PREFIX})
    if not prefixes:
        return {}
    asked = [fold(spelling) for term in prefixes for spelling in spellings(term)]
    ranges = [
        select(literal_column(str(n)).label("n"), SearchTerm.term)
        .where(SearchTerm.term >= folded, SearchTerm.term < folded + "\U0010ffff")
        .order_by(SearchTerm.term).limit(MAX_EXPANSIONS + 1).subquery().select()
        for n, folded in enumerate(asked)
    ]
    found: list[list[str]] = [[] for _ in asked]
    for n, word in (await session.execute(union_all(*ranges))).all():
        found[int(n)].append(word)
    expansions = {}
    n = 0
    for term in prefixes:
        words: set[str] = set()
        for _ in spellings(term):
            words |= {asked[n], *found[n]} if len(found[n]) <= MAX_EXPANSIONS else {None}
            n += 1
        if None not in words and len(words) <= 2 * MAX_EXPANSIONS:
            expansions[term] = sorted(words)
    # Narrowest first: a query of many prefixes keeps the precise ones.
    asked_words = 0
    for term in sorted(expansions, key=lambda t: (len(expansions[t]), t)):
        if asked_words + len(expansions[term]) > MAX_QUERY_WORDS:
            del expansions[term]
        else:
            asked_words += len(expansions[term])
    return expansions


def too_broad(terms: list[str], expansions: dict[str, list[str]]) -> tuple[str, ...]:
    """The prefix terms :func:`expand_prefixes` left out: asked as whole words."""
    return tuple(dict.fromkeys(
        term for term in terms if len(term) >= MIN_PREFIX and term not in expansions))


def marked(value: str | None) -> Markup:
    """Escape the text, then (only then) turn the markers into ``<mark>``."""
    escaped = str(escape(value or ""))
    return Markup(  # noqa: S704 - escaped above; only our own markers become tags
        escaped.replace(START, "<mark>").replace(END, "</mark>")
    )


@dataclass(frozen=True)
class SearchHit:
    post_id: int
    post_number: int
    created_at: datetime
    thread_id: int
    thread_title: str
    title: Markup
    """The thread's title, highlighted where the opening post matched."""
    snippet: Markup
    space_slug: str
    space_name: str
    author: str | None
    content_warning: str | None = None
    """The post's content warning: its snippet is folded behind it (or left out for a theme
    the reader hides)."""
    lang: str | None = None
    """The post's language (``Post.lang``), for its snippet's ``lang``, and its title's when
    the post opens the thread; None for posts written before languages were kept."""


class Ordering(StrEnum):
    RELEVANCE = "relevance"
    """``bm25`` on SQLite, ``ts_rank`` on PostgreSQL (a title counts more than a body)."""
    TITLE_THEN_RECENT = "title_then_recent"
    """Words this common: the posts whose thread title holds them, then the newest."""
    NEWEST = "newest"
    """The search ran out of its time budget: the newest matches, not ranked (the cheapest
    answer, read within a budget of its own)."""


@dataclass(frozen=True)
class SearchResults:
    hits: list[SearchHit]
    page: int
    has_next: bool
    ordering: Ordering = Ordering.RELEVANCE
    too_broad: tuple[str, ...] = ()
    """Prefix terms that start too many words: asked as whole words (SQLite)."""
    left_out: tuple[str, ...] = ()
    """Words so common that they were left out of a query of several words (SQLite,
    :data:`COMMON_SHARE`)."""
    gave_up: bool = False
    """Even the newest matches could not be read within the budget: no hits, and the page
    says so calmly (the form keeps the query)."""


def _space_visible(reach: str, in_space: bool):
    """In an open space the reader's reach covers (``forum.queries.reading_reach``); with
    ``in_space``, the one whose id is the parameter ``space_id``."""
    clauses = [Space.archived.is_(False), READABLE_BY_REACH[reach]]
    if in_space:
        clauses.append(Space.id == bindparam("space_id", type_=Integer))
    return and_(*clauses)


def _author_visible():
    """Not written by someone the reader (the parameter ``viewer_id``) blocked."""
    blocked = select(Block.blocked_id).where(
        Block.blocker_id == bindparam("viewer_id", type_=Integer))
    return or_(Post.author_id.is_(None), Post.author_id.not_in(blocked))


def _reader_params(viewer: Member | None, space: Space | None) -> dict[str, Any]:
    """The values of ``viewer_id`` and ``space_id`` the two clauses above ask for."""
    params: dict[str, Any] = {}
    if viewer is not None:
        params["viewer_id"] = viewer.id
    if space is not None:
        params["space_id"] = space.id
    return params


def _columns():
    return (SearchDocument.post_id, Post.number, Post.created_at, Post.content_warning,
            Thread.id.label("thread_id"), Thread.title.label("thread_title"), Space.slug,
            Space.name, Member.pseudonym, Post.lang)


_FTS = table("search_fts", column("rowid"))


def _term_groups(terms: list[str], expansions: dict[str, list[str]]) -> list[str]:
    """The FTS5 query of each term alone (its words OR-ed, or a whole word, or a prefix)."""
    return [fts5_query([term], expansions) for term in terms]


async def postings_of(session: AsyncSession, groups: list[str]
                      ) -> tuple[int, list[int]] | None:
    """The newest indexed post's id (about how many posts the forum holds) and, for each of
    ``groups`` (FTS5 queries), about how many posts hold it. One statement that reads at most
    PROBE_DEPTH entries per group: where the PROBE_DEPTH-th most recent match lies tells how
    dense the word is, and so how many of the forum's posts hold it. ``None`` when it cannot
    tell (a bare prefix query, whose words are too many to probe)."""
    if any("*" in group for group in groups):
        return None
    key = (len(groups), PROBE_DEPTH)
    statement = _PROBES.get(key)
    if statement is None:
        statement = _probe_statement(len(groups))
        if len(groups) <= KEPT_PROBES:
            _PROBES[key] = statement
    params = {f"group_{index}": group for index, group in enumerate(groups)}
    newest, *deepest = (await session.execute(statement, params)).one()
    if newest is None:
        return 0, [0 for _ in groups]
    # Fewer than PROBE_DEPTH matches: the word is rare, its list short.
    return newest, [PROBE_DEPTH if rowid is None else PROBE_DEPTH * newest // (newest - rowid + 1)
                    for rowid in deepest]


_PROBES: dict[tuple[int, int], Select[Any]] = {}
""":func:`postings_of`'s statement for each number of groups up to :data:`KEPT_PROBES` (and
the :data:`PROBE_DEPTH` it was built with), built once (see :data:`_STATEMENTS`)."""
KEPT_PROBES = 16


def _probe_statement(count: int) -> Select[Any]:
    fts = literal_column("search_fts")
    deepest_of = [
        select(_FTS.c.rowid).select_from(_FTS)
        .where(fts.op("MATCH")(bindparam(f"group_{index}", type_=String)))
        .order_by(_FTS.c.rowid.desc()).offset(PROBE_DEPTH - 1).limit(1)
        .correlate(None).scalar_subquery()
        for index in range(count)
    ]
    newest_of = select(func.max(SearchDocument.post_id)).scalar_subquery()
    return select(newest_of, *deepest_of)


def too_common(terms: list[str], newest: int, postings: list[int]) -> tuple[str, ...]:
    """The terms of a query of several words left out as too common (:data:`COMMON_SHARE`,
    :data:`COMMON_POSTS`), when at least one rarer term remains; none otherwise. Each once,
    in lower case, as the page names them (the index folds case)."""
    common = {term.lower() for term, count in zip(terms, postings, strict=True)
              if count > COMMON_POSTS and count > COMMON_SHARE * newest}
    if len(terms) < 2 or not common or common >= {term.lower() for term in terms}:
        return ()
    return tuple(dict.fromkeys(term.lower() for term in terms if term.lower() in common))


@dataclass(frozen=True)
class _Shape:
    """What the SQL of a search's page statement on SQLite depends on. The rest (the FTS5
    query, the reader's id, the space's id, the page) is a parameter of it."""

    ordering: Ordering
    reach: str
    """``forum.queries.reading_reach`` of the reader."""
    member: bool
    """A member's search leaves out the posts of the authors they blocked."""
    in_space: bool
    window: int
    per_page: int
    """:data:`RANK_WINDOW` and :data:`RESULTS_PER_PAGE` when it was built (constants, which
    only a test changes)."""


_STATEMENTS: dict[_Shape, Select[Any]] = {}
"""The page statement of each shape (at most eighteen), built on first use and then reused:
building it and computing its cache key cost about 1.5 ms a search (2026-12-07, issue 20),
a fifth of the worker's own time for a search at 200,000 posts, and as much as the SQL of a
rare word. SQLAlchemy keeps a statement's cache key on the object, so a reused statement
goes straight to its compiled form."""


def _sqlite_statement(terms: list[str], expansions: dict[str, list[str]], ordering: Ordering,
                      viewer: Member | None, space: Space | None, page: int
                      ) -> tuple[Select[Any], dict[str, Any]]:
    """The page's statement and its parameters."""
    shape = _Shape(ordering, reading_reach(viewer), viewer is not None, space is not None,
                   RANK_WINDOW, RESULTS_PER_PAGE)
    statement = _STATEMENTS.get(shape)
    if statement is None:
        statement = _STATEMENTS[shape] = _build_sqlite_statement(shape)
    query = fts5_query(terms, expansions)
    params = {"query": query, "offset": (page - 1) * RESULTS_PER_PAGE,
              **_reader_params(viewer, space)}
    if ordering is Ordering.TITLE_THEN_RECENT:
        params["title_query"] = "{title} : (" + query + ")"
    return statement, params


def _build_sqlite_statement(shape: _Shape) -> Select[Any]:
    fts = literal_column("search_fts")
    matches = fts.op("MATCH")(bindparam("query", type_=String))
    space_visible = _space_visible(shape.reach, shape.in_space)
    # The rowid of the RANK_WINDOW-th most recent match (FTS5 walks its rowids backwards
    # without ranking them); ranking then runs on that window only.
    oldest_ranked = (
        select(_FTS.c.rowid).select_from(_FTS).where(matches)
        .order_by(_FTS.c.rowid.desc()).offset(shape.window - 1).limit(1)
        .correlate(None).scalar_subquery()
    )
    in_window = _FTS.c.rowid >= func.coalesce(oldest_ranked, 0)
    if shape.ordering is Ordering.NEWEST:
        # No window and no ranking: FTS5 walks the matches newest first and stops at the page.
        in_window = true()
        rank = literal_column("0")
    elif shape.ordering is Ordering.RELEVANCE:
        rank = func.bm25(fts, 4.0, 1.0)
    else:
        # The window's posts whose title holds every word (an opening post's title column):
        # FTS5 walks that column filter over the window's rowids only.
        title_hits = (
            select(_FTS.c.rowid).select_from(_FTS)
            .where(fts.op("MATCH")(bindparam("title_query", type_=String)), in_window)
            .correlate(None)
        )
        rank = case((_FTS.c.rowid.in_(title_hits), 0), else_=1)
    # The page's posts first, then their snippets: FTS5 makes a snippet by reading the post
    # and cutting it into words again, which is worth doing for twenty posts, not the window.
    # The index only holds visible posts; reading ``post`` for each post of the window (its
    # rows are large) is left to a member's search, for the authors they blocked. The
    # window's spaces come from the entries themselves (a move updates them, migration
    # 0010), not through ``thread``: one lookup fewer per post of the window. The page's
    # twenty rows are checked again through their thread below.
    ranked_by = rank.label("rank")
    ranked = (
        select(_FTS.c.rowid.label("post_id"), ranked_by)
        .select_from(_FTS)
        .join(SearchDocument, SearchDocument.post_id == _FTS.c.rowid)
        .join(Space, Space.id == SearchDocument.space_id)
        .where(matches, in_window, space_visible)
    )
    if shape.member:
        ranked = ranked.join(Post, Post.id == _FTS.c.rowid).where(_author_visible())
    order = (_FTS.c.rowid.desc(),) if shape.ordering is Ordering.NEWEST else \
        (ranked_by, _FTS.c.rowid.desc())
    ranked = (
        ranked.order_by(*order)
        .limit(shape.per_page + 1).offset(bindparam("offset", type_=Integer))
        .subquery("ranked")
    )
    return (
        select(*_columns(), func.highlight(fts, 0, START, END).label("title_hl"),
               func.snippet(fts, 1, START, END, "…", 24).label("body_hl"))
        .select_from(ranked)
        .join(_FTS, _FTS.c.rowid == ranked.c.post_id)
        .join(SearchDocument, SearchDocument.post_id == ranked.c.post_id)
        .join(Post, Post.id == ranked.c.post_id)
        .join(Thread, Thread.id == SearchDocument.thread_id)
        .join(Space, Space.id == Thread.space_id)
        .outerjoin(Member, Member.id == Post.author_id)
        .where(matches, Post.status == PostStatus.VISIBLE, space_visible)
        .order_by(ranked.c.rank, ranked.c.post_id.desc())
    )


_HEADLINE = (f'StartSel="{START}", StopSel="{END}", MaxWords=30, MinWords=12, '
             'MaxFragments=2, FragmentDelimiter=" … "')
_TITLE_HEADLINE = f'StartSel="{START}", StopSel="{END}", HighlightAll=true'


def _postgres_statement(raw: str, viewer: Member | None, space: Space | None, page: int,
                        ordering: Ordering = Ordering.RELEVANCE
                        ) -> tuple[Select[Any], dict[str, Any]]:
    """The page's statement on PostgreSQL and its parameters (built each time: the SQLite
    shapes' gain was measured there, where the targets are)."""
    config = literal_column("'forum_french'::regconfig")
    tsquery = func.websearch_to_tsquery(config, raw[:MAX_QUERY_LENGTH])
    document = literal_column("search_document.search_vector")
    inner = SearchDocument.__table__.alias("recent")
    oldest_ranked = (
        select(inner.c.post_id)
        .where(literal_column("recent.search_vector").op("@@")(tsquery))
        .order_by(inner.c.post_id.desc()).offset(RANK_WINDOW - 1).limit(1)
        .scalar_subquery()
    )
    visible = [Post.status == PostStatus.VISIBLE,
               _space_visible(reading_reach(viewer), space is not None)]
    if viewer is not None:
        visible.append(_author_visible())
    statement = (
        select(*_columns(),
               func.ts_headline(config, SearchDocument.title, tsquery,
                                _TITLE_HEADLINE).label("title_hl"),
               func.ts_headline(config, SearchDocument.body, tsquery,
                                _HEADLINE).label("body_hl"))
        .select_from(SearchDocument)
        .where(document.op("@@")(tsquery))
        .join(Post, Post.id == SearchDocument.post_id)
        .join(Thread, Thread.id == SearchDocument.thread_id)
        .join(Space, Space.id == Thread.space_id)
        .outerjoin(Member, Member.id == Post.author_id)
        .where(*visible)
        .limit(RESULTS_PER_PAGE + 1).offset((page - 1) * RESULTS_PER_PAGE)
    )
    params = _reader_params(viewer, space)
    if ordering is Ordering.NEWEST:  # no window and no ranking: the newest matches
        return statement.order_by(SearchDocument.post_id.desc()), params
    return (
        statement.where(SearchDocument.post_id >= func.coalesce(oldest_ranked, 0))
        .order_by(func.ts_rank(document, tsquery).desc(), SearchDocument.post_id.desc())
    ), params


async def search(
    session: AsyncSession, viewer: Member | None, raw: str, *, space: Space | None = None,
    page: int = 1, budget_ms: int | None = None,
) -> SearchResults:
    """One page of the posts matching ``raw`` that ``viewer`` may read: one statement (three
    on SQLite: the words the prefixes start, how common they are, then the page).

    With ``budget_ms``, the search's statements run within that time budget
    (``forum.search_budget``). Past it the database stops them and the search does not fail:
    it answers with the newest matches, unranked (``Ordering.NEWEST``), read within half the
    budget again; if even that runs out, with no hits and ``gave_up`` (the page says so). The
    event is logged, without the query."""
    terms = query_terms(raw)
    page = min(max(page, 1), MAX_PAGE)
    if not terms:
        return SearchResults([], page, has_next=False)
    postgres = session.bind.dialect.name == "postgresql"
    started = search_budget.clock()
    expansions: dict[str, list[str]] = {}
    broad: tuple[str, ...] = ()
    left_out: tuple[str, ...] = ()
    ordering = Ordering.RELEVANCE
    try:
        async with search_budget.limited(session, budget_ms):
            if postgres:
                statement, params = _postgres_statement(raw, viewer, space, page)
            else:
                expansions = await expand_prefixes(session, terms)
                broad = too_broad(terms, expansions)
                probed = await postings_of(session, _term_groups(terms, expansions))
                postings = None
                if probed is not None:
                    newest, each = probed
                    left_out = too_common(terms, newest, each)
                    postings = sum(count for term, count in zip(terms, each, strict=True)
                                   if term.lower() not in left_out)
                    terms = [term for term in terms if term.lower() not in left_out]
                    # Named once: a prefix asked whole and then left out was not searched.
                    broad = tuple(term for term in broad if term.lower() not in left_out)
                if postings is None or postings > RANK_BUDGET:
                    ordering = Ordering.TITLE_THEN_RECENT
                statement, params = _sqlite_statement(terms, expansions, ordering, viewer,
                                                      space, page)
            rows = (await session.execute(statement, params)).all()
    except search_budget.OutOfTime:
        stage = ordering
        ordering = Ordering.NEWEST
        # Without its words (the budget ran out reading them), a prefix is asked whole.
        statement, params = (
            _postgres_statement(raw, viewer, space, page, ordering) if postgres else
            _sqlite_statement(terms, expansions, ordering, viewer, space, page))
        try:
            async with search_budget.limited(session, max(1, (budget_ms or 0) // 2)):
                rows = (await session.execute(statement, params)).all()
        except search_budget.OutOfTime:
            rows = None
        log.warning("search over its time budget", extra={"fields": {
            "database": session.bind.dialect.name, "budget_ms": budget_ms,
            "elapsed_ms": round((search_budget.clock() - started) * 1000, 1),
            "ordering": str(stage), "terms": len(terms), "page": page,
            "answered": "nothing" if rows is None else "newest",
        }})
        if rows is None:
            return SearchResults([], page, has_next=False, ordering=ordering,
                                 too_broad=broad, left_out=left_out, gave_up=True)
    hits = [
        SearchHit(
            post_id=r.post_id, post_number=r.number, created_at=r.created_at,
            thread_id=r.thread_id, thread_title=r.thread_title,
            title=marked(r.title_hl) if r.number == 1 and r.title_hl else marked(r.thread_title),
            snippet=marked(r.body_hl), space_slug=r.slug, space_name=r.name,
            author=r.pseudonym, content_warning=r.content_warning, lang=r.lang,
        )
        for r in rows[:RESULTS_PER_PAGE]
    ]
    return SearchResults(hits, page, has_next=len(rows) > RESULTS_PER_PAGE, ordering=ordering,
                         too_broad=broad, left_out=left_out)
