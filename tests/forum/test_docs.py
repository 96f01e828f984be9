"""The README documents every setting and every forum command (datasette's rule)."""

from forum.cli import build_parser
from forum.config import ROOT, documented_settings

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented_in_the_readme() -> None:
    missing = [env for env, _help, _default in documented_settings() if f"`{env}`" not in README]
    assert not missing, f"settings missing from README.md: {missing}"


def test_every_forum_command_is_documented_in_the_readme() -> None:
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # noqa: SLF001
    missing = [name for name in commands if f"`forum {name}" not in README]
    assert not missing, f"commands missing from README.md: {missing}"


def test_readme_starts_with_what_entrepairs_is_and_the_two_commands() -> None:
    head = README[:2500]
    assert "peer support" in head and "not a care service" in head
    assert "make run" in head and "make test" in head
