"""Derived data follows declared changes in every process, not only in the web app's: a
command or a script that imports the actions and nothing of the web layer builds the full
schema and keeps the search index and notifications in step (the views once registered only
as a side effect of importing the web layer, and such a process silently skipped them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from forum.config import ROOT

SCRIPT = r'''
import asyncio, sys
from sqlalchemy import func, select, text

from forum import actions, changes, pseudonyms
from forum.db import Database, commit
from forum.gate import Verdict
from forum.models import Notification, Space, Visibility
from moderation.sanitize import RENDERER_VERSION, render_markdown

def verdict(source):
    return Verdict(html=render_markdown(source), renderer_version=RENDERER_VERSION)

async def member(session, name):
    return await actions.do_signup(
        session, pseudonym=name, pseudonym_key=pseudonyms.uniqueness_key(name),
        password_hash="!", recovery_hash="!", locale="fr", region="FR")

async def main(url):
    loaded = sorted(name for name in sys.modules
                    if name.startswith(("forum.web", "forum.app", "forum.search")))
    assert not loaded, loaded
    database = Database(url, pool=False)
    async with database.writing() as session:
        space = Space(slug="jardin", name="Jardin", visibility=Visibility.PUBLIC, charter="")
        session.add(space)
        await session.flush()
        author, reader = await member(session, "Autrice"), await member(session, "Lecteur")
        opened = await actions.do_create_thread(
            session, space=space, author=author, title="Premier fil",
            source="Les lanternes du soir.", verdict=verdict("Les lanternes du soir."))
        await commit(session)
        await actions.do_edit_post(session, opened.post, editor=author,
                                   source="Les lucioles du soir, @Lecteur.",
                                   verdict=verdict("Les lucioles du soir, @Lecteur."))
        await commit(session)
    async with database.reader() as session:
        found = (await session.execute(text(
            "SELECT count(*) FROM search_fts WHERE search_fts MATCH 'lucioles'"))).scalar()
        gone = (await session.execute(text(
            "SELECT count(*) FROM search_fts WHERE search_fts MATCH 'lanternes'"))).scalar()
        mentioned = await session.scalar(select(func.count()).select_from(Notification))
    await database.dispose()
    print(found, gone, mentioned)

asyncio.run(main(sys.argv[1]))
'''


def test_a_process_without_the_web_layer_keeps_every_view_in_step(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'forum.db'}"
    env = {**os.environ, "FORUM_DATABASE_URL": url, "FORUM_SECRET_KEY": "t" * 48}
    upgraded = subprocess.run([sys.executable, "-m", "forum.cli", "db", "upgrade"], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=300, check=False)
    assert upgraded.returncode == 0, upgraded.stderr[-3000:]
    done = subprocess.run([sys.executable, "-c", SCRIPT, url], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    found, gone, mentioned = (int(n) for n in done.stdout.split()[-3:])
    assert (found, gone) == (1, 0), "the search index did not follow the edit"
    assert mentioned >= 1, "the member mentioned in the edit was not told"


def test_create_all_builds_the_full_text_index_in_any_process(tmp_path: Path) -> None:
    script = ("import asyncio, sys\n"
              "from sqlalchemy import create_engine, inspect\n"
              "from forum.schema import create_all\n"
              "engine = create_engine(sys.argv[1])\n"
              "with engine.begin() as connection:\n"
              "    create_all(connection)\n"
              "print(sorted(inspect(engine).get_table_names()))\n")
    done = subprocess.run([sys.executable, "-c", script, f"sqlite:///{tmp_path / 'f.db'}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "'search_fts'" in done.stdout
