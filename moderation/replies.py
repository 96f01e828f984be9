"""Reply templates for moderators' private messages: shipped defaults
(``data/reply_templates.json``, French and English) that admins may rewrite at
``/admin/templates`` (rows of ``mod_reply_template`` override a default with the same key and
locale). ``{pseudonym}`` and ``{lines}`` (the author's region's crisis lines) are filled in
when a template prefills the form; the moderator can still edit every word.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from forum.models import Member
from forum.resources import lines_for, normalize_region
from moderation.models import ReplyTemplate

DEFAULTS = Path(__file__).with_name("data") / "reply_templates.json"
LOCALES = ("fr", "en")


@dataclass(frozen=True)
class Template:
    key: str
    locale: str
    title: str
    body: str
    edited: bool = False


@cache
def default_templates() -> tuple[Template, ...]:
    raw = json.loads(DEFAULTS.read_text(encoding="utf-8"))
    return tuple(Template(item["key"], item["locale"], item["title"], item["body"])
                 for item in raw)


def merged(rows: list[ReplyTemplate]) -> list[Template]:
    """The shipped templates, each replaced by an admin's version when there is one."""
    edited = {(row.key, row.locale): row for row in rows}
    result = []
    for default in default_templates():
        row = edited.get((default.key, default.locale))
        result.append(default if row is None else
                      Template(row.key, row.locale, row.title, row.body, edited=True))
    return result


def find(templates: list[Template], key: str, locale: str) -> Template | None:
    return next((t for t in templates if t.key == key and t.locale == locale), None)


def for_locale(templates: list[Template], locale: str | None) -> list[Template]:
    wanted = locale if locale in LOCALES else "fr"
    return [t for t in templates if t.locale == wanted]


def fill(template: Template, author: Member | None) -> str:
    """The body with the author's pseudonym and their region's primary crisis lines."""
    locale = (author.locale if author else None) or "fr"
    region = normalize_region(author.region if author else None) or "FR"
    lines = ", ".join(f"{line.label(locale)} ({line.number_display})"
                      for line in lines_for(region).primary())
    pseudonym = author.pseudonym if author else ""
    return template.body.replace("{pseudonym}", pseudonym).replace("{lines}", lines)
