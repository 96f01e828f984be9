"""The ``forum`` command: run the server, migrate, seed the demo, create an admin.

With ``forum/app.py``, this is a composition root: it may import ``moderation`` (for the
content gate the demo content goes through, and the crisis tools).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import uvicorn
from litestar.exceptions import NotFoundException

from forum import actions, backup, pseudonyms, queries, server
from forum.config import ConfigError, Settings
from forum.db import Database
from forum.demo import seed_demo
from forum.models import MemberStatus, Role
from forum.passwords import (
    Hasher,
    PasswordPolicyError,
    check_policy,
    generate_recovery_code,
    normalize_recovery_code,
)
from forum.schema import ensure_sqlite_directory, upgrade
from moderation import actions as moderation_actions
from moderation import crisis
from moderation import queries as moderation_queries
from moderation.crisis import corpus, evaluation
from moderation.gate import ModerationGate


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        raise SystemExit(f"forum: {exc}") from exc


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings()
    try:
        settings.require_secret()
    except ConfigError as exc:
        raise SystemExit(f"forum: {exc}") from exc
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    # Workers inherit the raised limit; each keeps its client connections under it, and
    # closes slow or idle ones (forum/server.py, docs/RELIABILITY.md "Slow clients").
    server.raise_open_files_limit()
    print(f"Entrepairs: http://{args.host}:{args.port}  (Ctrl+C to stop)", flush=True)
    uvicorn.run(
        # In a worker of --workers N, the factory first ties the worker to its parent
        # (PR_SET_PDEATHSIG): a kill -9 of the parent leaves no worker holding the port.
        "forum.server:create_worker_app", factory=True, host=args.host, port=args.port,
        workers=args.workers, access_log=False, proxy_headers=False, server_header=False,
        date_header=True, log_level=settings.log_level.lower(), timeout_graceful_shutdown=10,
        http=server.GuardedHttpProtocol, timeout_keep_alive=server.KEEP_ALIVE_SECONDS,
        # Workers import the whole app before answering uvicorn's health check (default 5 s).
        timeout_worker_healthcheck=60,
    )
    return 0


def cmd_db_upgrade(_args: argparse.Namespace) -> int:
    settings = _settings()
    upgrade(settings.database_url)
    print("Database up to date.")
    return 0


async def _seed(settings: Settings) -> int:
    database = Database(settings.database_url, pool=False)
    try:
        async with database.writing() as session:
            return await seed_demo(session, ModerationGate())
    finally:
        await database.dispose()


def cmd_demo(_args: argparse.Namespace) -> int:
    settings = _settings()
    upgrade(settings.database_url)
    created = asyncio.run(_seed(settings))
    print(f"Demo content: {created} space(s) created." if created else
          "Demo content already there: nothing changed.")
    return 0


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        second = getpass.getpass("Password (again): ")
    else:
        lines = sys.stdin.read().splitlines()
        if len(lines) < 2:
            raise SystemExit("forum: give the password twice, one per line, on standard input")
        first, second = lines[0], lines[1]
    if first != second:
        raise SystemExit("forum: the two passwords differ")
    return first


async def _create_admin(settings: Settings, name: str, password: str) -> str:
    database = Database(settings.database_url, pool=False)
    hasher = Hasher()
    code = generate_recovery_code()
    try:
        async with database.writing() as session:
            key = pseudonyms.uniqueness_key(name)
            if await queries.find_member_by_key(session, key):
                raise SystemExit(f"forum: the pseudonym {name!r} (or a look-alike) is taken")
            member = await actions.do_signup(
                session, pseudonym=name, pseudonym_key=key,
                password_hash=await hasher.hash(password),
                recovery_hash=await hasher.hash(normalize_recovery_code(code)),
                locale=None, region=None,
            )
            await actions.do_set_role(session, member, Role.ADMIN)
    finally:
        await database.dispose()
    return code


def cmd_admin_create(args: argparse.Namespace) -> int:
    settings = _settings()
    try:
        # Reserved words keep members from posing as staff; an admin may use one.
        name = pseudonyms.validate(args.pseudonym)
    except pseudonyms.PseudonymError as exc:
        if exc.code != "reserved":
            raise SystemExit(f"forum: invalid pseudonym ({exc.code})") from exc
        name = pseudonyms.normalize(args.pseudonym)
    password = _read_password()
    try:
        check_policy(password, pseudonym=name)
    except PasswordPolicyError as exc:
        raise SystemExit(f"forum: password refused ({exc.code})") from exc
    ensure_sqlite_directory(settings.database_url)
    upgrade(settings.database_url)
    code = asyncio.run(_create_admin(settings, name, password))
    print(f"Admin {name} created. Recovery code (shown once, keep it safe): {code}")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    settings = _settings()
    try:
        result = backup.backup(settings.database_url, args.path)
    except backup.BackupError as exc:
        raise SystemExit(f"forum: backup refused: {exc}") from exc
    print(f"Backup written to {result.path} ({result.tables} tables, {result.size} bytes).")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    settings = _settings()
    try:
        tables = backup.restore(settings.database_url, args.path)
    except backup.BackupError as exc:
        raise SystemExit(f"forum: restore refused: {exc}") from exc
    print(f"Restored {args.path}: {tables} tables.")
    return 0


def _crisis_screen():  # noqa: ANN202 - moderation.crisis.Screen
    settings = _settings()
    extra = Path(settings.crisis_lexicon) if settings.crisis_lexicon else None
    return crisis.load_screen(extra)


def cmd_crisis_check(args: argparse.Namespace) -> int:
    text = " ".join(args.text)
    print(crisis.format_screening(_crisis_screen().assess(text, args.locale), text))
    return 0


def cmd_crisis_eval(args: argparse.Namespace) -> int:
    path = Path(args.path) if args.path else None
    if args.misses and (path is None or path.resolve() == corpus.FROZEN_TEST_PATH.resolve()):
        raise SystemExit("forum: the frozen test file's rows are never listed (nothing may be "
                         "tuned on them); --misses works on other files")
    report = evaluation.evaluate(_crisis_screen(), path)
    print(evaluation.format_report(report, show_misses=args.misses))
    return 0 if report.meets_targets else 1


async def _moderator(settings: Settings, command: str, name: str, slug: str) -> bool:
    """Add or remove a space's moderator (audited like the /admin form); False: no change."""
    database = Database(settings.database_url, pool=False)
    try:
        async with database.writing() as session:
            member = await moderation_queries.find_member(session, name)
            if member is None:
                raise SystemExit(f"forum: no member is called {name!r}")
            space = await queries.get_space_or_404(session, slug)
            do = (moderation_actions.do_add_moderator if command == "add"
                  else moderation_actions.do_remove_moderator)
            return await do(session, space, member, actor=None, reason="forum moderator")
    except NotFoundException as exc:
        raise SystemExit(f"forum: no space has the slug {slug!r}") from exc
    finally:
        await database.dispose()


def cmd_moderator(args: argparse.Namespace) -> int:
    settings = _settings()
    upgrade(settings.database_url)
    changed = asyncio.run(_moderator(settings, args.moderator_command, args.pseudonym,
                                     args.space))
    verb = "is now a moderator of" if args.moderator_command == "add" else "no longer moderates"
    print(f"{args.pseudonym} {verb} {args.space}." if changed else "Nothing to change.")
    return 0


HELPER_REASON = "forum helper"


async def _helper(settings: Settings, command: str, name: str) -> tuple[str, bool]:
    """Grant (``add``) or revoke (``remove``) the trained peer helper badge, audited like the
    /admin/members forms; (the member's pseudonym, whether anything changed)."""
    database = Database(settings.database_url, pool=False)
    try:
        async with database.writing() as session:
            member = await moderation_queries.find_member(session, name)
            if member is None or member.status != MemberStatus.ACTIVE:
                raise SystemExit(f"forum: no member is called {name!r}")
            do = (moderation_actions.do_grant_helper_badge if command == "add"
                  else moderation_actions.do_revoke_helper_badge)
            changed = await do(session, member, actor=None, reason=HELPER_REASON)
            return member.pseudonym, changed
    finally:
        await database.dispose()


def cmd_helper(args: argparse.Namespace) -> int:
    settings = _settings()
    upgrade(settings.database_url)
    name, changed = asyncio.run(_helper(settings, args.helper_command, args.pseudonym))
    if args.helper_command == "add":
        print(f"{name} now has the trained peer helper badge." if changed else
              f"Nothing to change: {name} already has the trained peer helper badge.")
    else:
        print(f"{name} no longer has the trained peer helper badge." if changed else
              f"Nothing to change: {name} does not have the trained peer helper badge.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="forum", description="Entrepairs, the peer-support forum."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="serve the forum")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    run.add_argument("--workers", type=int, default=1)
    run.set_defaults(func=cmd_run)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_upgrade = db_sub.add_parser("upgrade", help="apply the migrations")
    db_upgrade.set_defaults(func=cmd_db_upgrade)

    demo = sub.add_parser("demo", help="create the schema if needed and seed the demo content")
    demo.set_defaults(func=cmd_demo)

    admin = sub.add_parser("admin", help="administrators")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    create = admin_sub.add_parser("create", help="create an administrator account")
    create.add_argument("pseudonym")
    create.set_defaults(func=cmd_admin_create)

    moderator = sub.add_parser("moderator", help="peer moderators of a space")
    moderator_sub = moderator.add_subparsers(dest="moderator_command", required=True)
    for verb in ("add", "remove"):
        command = moderator_sub.add_parser(verb, help=f"{verb} a moderator of a space")
        command.add_argument("pseudonym")
        command.add_argument("space", metavar="SPACE_SLUG")
        command.set_defaults(func=cmd_moderator)

    helper = sub.add_parser("helper", help="the trained peer helper badge")
    helper_sub = helper.add_subparsers(dest="helper_command", required=True)
    for verb, what in (("add", "grant a member the"), ("remove", "revoke a member's")):
        command = helper_sub.add_parser(
            verb, help=f"{what} trained peer helper badge (written to the moderation log)")
        command.add_argument("pseudonym")
        command.set_defaults(func=cmd_helper)

    check = sub.add_parser("crisis-check", help="print the crisis screen's assessment of a text")
    check.add_argument("text", nargs="+")
    check.add_argument("--locale", default=None, help="e.g. fr, fr-CA, en")
    check.set_defaults(func=cmd_crisis_check)

    measure = sub.add_parser(
        "crisis-eval", help="evaluate the crisis screen on a labelled file, the frozen test file "
        "by default (exit 1 below the targets)")
    measure.add_argument("path", nargs="?", help="a TSV file in the format of "
                         "docs/CRISIS_LABELS.md (default: moderation/data/crisis_frozen_test.tsv)")
    measure.add_argument("--misses", action="store_true",
                         help="list the rows the screen gets wrong (not for the frozen file)")
    measure.set_defaults(func=cmd_crisis_eval)

    save = sub.add_parser("backup", help="write a consistent copy of the database to PATH")
    save.add_argument("path", metavar="PATH")
    save.set_defaults(func=cmd_backup)
    load = sub.add_parser("restore", help="restore the backup at PATH into an empty database")
    load.add_argument("path", metavar="PATH")
    load.set_defaults(func=cmd_restore)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
