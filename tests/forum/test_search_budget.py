"""A search's time budget and the cap on prefixes: a search that runs out of time still
answers (the newest matches, or a calm message), the limit never outlives the search on its
pooled connection, and no query multiplies into a huge one."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from litestar import Litestar
from sqlalchemy import func, insert, select, text

from forum import search, search_budget
from forum.config import Settings
from forum.db import Database
from forum.models import Post, PostStatus
from tests.browsing import Browser
from tests.conftest import ON_POSTGRES

BUDGET_MS = 200
sqlite_only = pytest.mark.skipif(ON_POSTGRES, reason="PostgreSQL stems words; no prefix terms")

# A statement that runs for many seconds unless the database stops it: SQLite counts to 10^9
# in its virtual machine (the progress handler sees it), PostgreSQL sleeps.
SLOW_SQLITE = ("(WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n "
               "WHERE x < 1000000000) SELECT count(*) FROM n) > 0")
SLOW_POSTGRES = "(SELECT pg_sleep(30)::text) IS NOT NULL"
COUNT_TO_200_000 = ("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n "
                    "WHERE x < 200000) SELECT count(*) FROM n")
"""Many virtual machine instructions on SQLite: a progress handler left behind would stop it."""


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        env="test", database_url=database_url, secret_key="t" * 48,
        base_url="http://testserver.local", search_budget_ms=BUDGET_MS,
    ).validated()


def slowed(monkeypatch: pytest.MonkeyPatch, *orderings: search.Ordering) -> None:
    """The page statement of ``orderings`` becomes one that takes many seconds."""
    builders: dict[str, Callable[..., Any]] = {
        "_sqlite_statement": search._sqlite_statement,
        "_postgres_statement": search._postgres_statement,
    }

    def wrap(name: str) -> Callable[..., Any]:
        def build(*args: Any) -> Any:
            statement, params = builders[name](*args)
            ordering = next((a for a in args if isinstance(a, search.Ordering)),
                            search.Ordering.RELEVANCE)
            if ordering in orderings:
                statement = statement.where(text(SLOW_POSTGRES if ON_POSTGRES else SLOW_SQLITE))
            return statement, params
        return build

    for name in builders:
        monkeypatch.setattr(search, name, wrap(name))


def budget_lines(log_lines: Any) -> list[dict[str, Any]]:
    entries = [json.loads(line) for line in log_lines.getvalue().splitlines() if line]
    return [e for e in entries if e.get("event") == "search over its time budget"]


@pytest.fixture
def far_future(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], None]]:
    """Call it to move the budget's clock an hour ahead: any progress handler still installed
    would then stop the next statement at once."""
    real = search_budget.clock

    def jump() -> None:
        monkeypatch.setattr(search_budget, "clock", lambda: real() + 3600)

    yield jump


async def test_a_search_out_of_time_shows_the_newest_matches_and_says_so(
    browser: Browser, demo: None, monkeypatch: pytest.MonkeyPatch, log_lines: Any
) -> None:
    """The ranked statement is stopped at the budget; the page answers 200 with the newest
    matches and a sentence saying so, in French and in English, and the event is logged
    without the query."""
    normal = await browser.get("/search?q=angoisse")
    expected = len(normal.all(".search-hit"))
    assert expected and not normal.all(".search-out-of-time")

    slowed(monkeypatch, search.Ordering.RELEVANCE, search.Ordering.TITLE_THEN_RECENT)
    started = time.monotonic()
    page = await browser.get("/search?q=angoisse")
    elapsed = time.monotonic() - started
    assert page.status == 200
    assert elapsed < 5, elapsed  # the slow statement alone takes far longer
    assert len(page.all(".search-hit")) == expected
    assert "trop de temps" in page.text(".search-out-of-time")
    assert page.one("form[role=search] input[name=q]")["value"] == "angoisse"
    english = await browser.get("/search?q=angoisse", headers={"Accept-Language": "en"})
    assert "took too long" in english.text(".search-out-of-time")

    [line, *_] = budget_lines(log_lines)
    assert line["answered"] == "newest" and line["budget_ms"] == BUDGET_MS
    assert line["level"] == "warning"
    assert "angoisse" not in log_lines.getvalue()


async def test_when_even_the_newest_matches_run_out_of_time_the_page_stays_calm(
    browser: Browser, demo: None, monkeypatch: pytest.MonkeyPatch, log_lines: Any
) -> None:
    slowed(monkeypatch, *search.Ordering)
    page = await browser.get("/search?q=angoisse+crises")
    assert page.status == 200
    assert not page.all(".search-hit")
    assert "n'a rien pu te montrer" in page.text(".search-out-of-time")
    assert "Aucun message ne correspond" not in page.text("#search-results")
    assert page.one("form[role=search] input[name=q]")["value"] == "angoisse crises"
    assert [line["answered"] for line in budget_lines(log_lines)] == ["nothing"]
    # The forum goes on as usual on the same pooled connections.
    monkeypatch.undo()
    assert (await browser.get("/")).status == 200
    assert (await browser.get("/search?q=angoisse")).all(".search-hit")


async def test_a_budget_of_one_millisecond_never_errors(
    app: Litestar, browser: Browser, demo: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FORUM_SEARCH_BUDGET_MS=1 on a machine where every look at the clock finds the budget
    spent: the ranked search is interrupted, and the page is the notice with results or the
    calm message, never an error."""
    monkeypatch.setattr(app.state, "settings",
                        replace(app.state.settings, search_budget_ms=1))
    monkeypatch.setattr(search_budget, "PROGRESS_OPCODES", 1)
    real = search_budget.clock
    ticks = iter(range(10**9))
    monkeypatch.setattr(search_budget, "clock", lambda: real() + next(ticks))  # 1 s a look
    for query in ("angoisse", "anx", "de la", "courage sommeil transports"):
        page = await browser.get(f"/search?q={query}")
        assert page.status == 200, query
        assert page.all(".search-out-of-time") or ON_POSTGRES, query
        assert page.one("form[role=search] input[name=q]")["value"] == query
    monkeypatch.undo()  # the same pooled connections, used as usual
    assert (await browser.get("/search?q=angoisse")).all(".search-hit")


async def test_the_limit_never_outlives_the_search_on_its_connection(
    database: Database, demo: None, monkeypatch: pytest.MonkeyPatch,
    far_future: Callable[[], None],
) -> None:
    """After a search stopped by its budget, and after one that finished in time, the next
    statement on the same connection runs with no limit: SQLite's progress handler is gone,
    PostgreSQL's statement_timeout is back to what it was."""
    slowed(monkeypatch, search.Ordering.RELEVANCE, search.Ordering.TITLE_THEN_RECENT)
    async with database.reader() as session:
        before = (await session.scalar(text("SHOW statement_timeout"))) if ON_POSTGRES else None
        stopped = await search.search(session, None, "angoisse", budget_ms=BUDGET_MS)
        assert stopped.ordering is search.Ordering.NEWEST and stopped.hits
        monkeypatch.undo()
        in_time = await search.search(session, None, "angoisse", budget_ms=BUDGET_MS)
        assert in_time.ordering is not search.Ordering.NEWEST and in_time.hits
        far_future()
        if ON_POSTGRES:
            assert await session.scalar(text("SHOW statement_timeout")) == before
            await session.execute(text("SELECT pg_sleep(0.5)"))  # longer than the budget
        else:
            assert await session.scalar(text(COUNT_TO_200_000)) == 200_000
        assert await session.scalar(select(func.count()).select_from(Post))


async def test_the_budget_stops_a_statement_and_leaves_the_transaction_usable(
    database: Database, far_future: Callable[[], None]
) -> None:
    slow = text("SELECT pg_sleep(30)" if ON_POSTGRES else
                "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n "
                "WHERE x < 1000000000) SELECT count(*) FROM n")
    async with database.reader() as session:
        started = time.monotonic()
        with pytest.raises(search_budget.OutOfTime):
            async with search_budget.limited(session, 50):
                await session.execute(slow)
        assert time.monotonic() - started < 5
        far_future()
        assert await session.scalar(text(COUNT_TO_200_000)) == 200_000
        if ON_POSTGRES:
            assert await session.scalar(text("SHOW statement_timeout")) == "0"


async def _many_posts(database: Database, bodies: list[str]) -> None:
    """Replies in the demo's first thread, written straight to the tables, then indexed."""
    async with database.writing() as session:
        last = await session.scalar(select(func.max(Post.number)).where(Post.thread_id == 1))
        await session.execute(insert(Post), [
            {"thread_id": 1, "number": last + n + 1, "author_id": None, "source": body,
             "html": f"<p>{body}</p>", "renderer_version": 1, "status": PostStatus.VISIBLE}
            for n, body in enumerate(bodies)
        ])
        await search.rebuild_index(session)


@sqlite_only
async def test_a_query_of_many_prefixes_is_capped(
    browser: Browser, database: Database, demo: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each prefix expands to at most MAX_EXPANSIONS words and the whole query to at most
    MAX_QUERY_WORDS: past it the broadest prefixes are asked as whole words (never as FTS5's
    own prefix walk), and the page names them."""
    stems = ["bala", "cora", "dune", "fjor", "gris", "hulo"]
    await _many_posts(database, [f"{stem}{suffix} et encore" for stem in stems
                                 for suffix in ("", *(f"x{n:02d}" for n in range(30)))])
    async with database.reader() as session:
        expansions = await search.expand_prefixes(session, stems)
    assert sum(len(words) for words in expansions.values()) <= search.MAX_QUERY_WORDS
    assert len(expansions) == search.MAX_QUERY_WORDS // 31  # 31 words each: the cap holds
    query = search.fts5_query(stems, expansions)
    assert "*" not in query
    assert query.count('"') // 2 <= search.MAX_QUERY_WORDS + len(stems)
    left_out = search.too_broad(stems, expansions)
    assert set(left_out) == set(stems) - set(expansions) and left_out

    monkeypatch.setattr(search, "MAX_QUERY_WORDS", 40)
    async with database.reader() as session:
        narrow = await search.expand_prefixes(session, ["bal", "balax0"])
    assert set(narrow) == {"balax0"}  # the narrower prefix keeps its words
    page = await browser.get("/search?q=bal+balax0")
    assert page.status == 200
    assert "« bal » est le début de trop de mots" in page.text(".search-broad")
    english = await browser.get("/search?q=bal+balax0", headers={"Accept-Language": "en"})
    assert "“bal” begins too many words" in english.text(".search-broad")


async def test_a_hostile_query_answers_within_the_budget(
    browser: Browser, database: Database, demo: None
) -> None:
    """Twelve prefixes, every common word, the longest query allowed: each answers 200 in
    about the budget (a generous margin: the machine may be busy), never an error."""
    common = "le la les de des et un une je tu il elle on ne pas que qui est".split()
    await _many_posts(database, [
        " ".join(common) + f" balise{n} corail{n} dunette{n} angoisse{n % 7}"
        for n in range(400)
    ])
    hostile = [
        " ".join(["bal", "cor", "dun", "ang", "tra", "con", "dép", "pré", "sou", "res", "com",
                  "par"]),
        " ".join(common),
        ("angoisse " * 40)[: search.MAX_QUERY_LENGTH],
        "a" * search.MAX_QUERY_LENGTH,
        " ".join(f"{w}*" for w in ["bal", "cor", "dun", "ang"]) + ' "le la" OR NOT NEAR(',
    ]
    for query in hostile:
        started = time.monotonic()
        page = await browser.get("/search", params={"q": query})
        elapsed = time.monotonic() - started
        assert page.status == 200, query
        assert elapsed < 1.5 * BUDGET_MS / 1000 + 2.0, (query, elapsed)


@pytest.mark.skipif(not ON_POSTGRES, reason="asyncpg's protocol error exists on PostgreSQL only")
async def test_a_driver_that_lost_track_of_its_connection_spends_the_budget(
    database: Database,
) -> None:
    """MagicStack/asyncpg#1069: a timeout landing while asyncpg prepares a statement can leave
    the driver out of step with the server (``InternalClientError``). That happens only under
    load, so the error is raised here by hand, as SQLAlchemy hands it over (asyncpg's error as
    the adapted error's cause): the search counts as out of time, the connection it held is
    thrown away rather than pooled, and the same session goes on with a fresh one."""
    from asyncpg.exceptions import InternalClientError
    from sqlalchemy.exc import DBAPIError

    async def backend(session: Any) -> int:
        return int(await session.scalar(text("SELECT pg_backend_pid()")))

    async with database.reader() as session:
        lost = await backend(session)
        with pytest.raises(search_budget.OutOfTime):
            async with search_budget.limited(session, BUDGET_MS):
                adapted = RuntimeError("cannot switch to state 12; another operation is running")
                adapted.__cause__ = InternalClientError("cannot switch to state 12")
                raise DBAPIError("SELECT …", None, adapted)
        assert await backend(session) != lost
        assert await session.scalar(text("SHOW statement_timeout")) == "0"
    async with database.reader() as session:  # the pool never hands the lost one out again
        for _ in range(3):
            assert await backend(session) != lost
            await session.rollback()


async def test_any_other_database_error_inside_the_budget_is_not_hidden(
    database: Database,
) -> None:
    """Only the budget's own interruption (and the driver's lost track, above) becomes
    ``OutOfTime``: a real fault in a search statement still surfaces."""
    from sqlalchemy.exc import DBAPIError

    async with database.reader() as session:
        with pytest.raises(DBAPIError):
            async with search_budget.limited(session, BUDGET_MS):
                await session.execute(text("SELECT * FROM no_such_table_here"))
