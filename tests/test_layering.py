"""Dependencies point one way: moderation -> forum. Only forum/app.py and forum/cli.py, the
composition roots, import moderation."""

import ast

from forum.config import ROOT

COMPOSITION_ROOTS = {"forum/app.py", "forum/cli.py"}


def imported_modules(path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_forum_does_not_import_moderation_outside_the_composition_roots() -> None:
    offenders = []
    for path in sorted((ROOT / "forum").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative in COMPOSITION_ROOTS:
            continue
        if any(name == "moderation" or name.startswith("moderation.")
               for name in imported_modules(path)):
            offenders.append(relative)
    assert offenders == []


def test_only_the_sanitiser_imports_nh3_only_passwords_argon2_only_patterns_re2() -> None:
    for package in ("forum", "moderation"):
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            modules = imported_modules(path)
            if any(m == "nh3" or m.startswith("nh3.") for m in modules):
                assert relative == "moderation/sanitize.py", relative
            if any(m == "argon2" or m.startswith("argon2.") for m in modules):
                assert relative == "forum/passwords.py", relative
            if any(m == "re2" or m.startswith("re2.") for m in modules):
                assert relative == "moderation/patterns.py", relative
            assert "bleach" not in modules, relative
