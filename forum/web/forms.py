"""Reading and checking form fields. Errors are message ids, translated where shown.

Every check here keeps what the person typed: a handler that finds errors renders the form
again with the values it received.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from litestar import Request

from forum.i18n import N_

# C0 and C1 controls other than tab, line feed and carriage return; plus NUL.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

BIDI_CONTROLS = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
"""The bidi embedding, override and isolate controls, which post bodies lose when they are
rendered (``moderation/sanitize.py``, ``_BIDI_RE``: the same characters, a test checks): they
can reverse how a title reads ("Trojan Source" spoofing) and leak their direction into the
page around the text. The marks U+200E, U+200F and U+061C are kept: they have no scope, and
right-to-left writers need them."""


@dataclass(frozen=True)
class FieldError:
    message: str
    params: dict[str, Any] = field(default_factory=dict)


class FormErrors(dict[str, FieldError]):
    """field name -> error; falsy when the form is fine.

    ``care``: the text was refused (a suspension, the same text twice, a blocked word...) but
    the crisis screen found it worrying: the form shows the region's lines beside the reason,
    so a refusal never leaves someone in distress with nothing but a rule."""

    care: bool = False


async def read_form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The submitted fields as plain strings (the first value of each; missing ones absent)."""
    form = await request.form()
    values: dict[str, str] = {}
    for key in form:
        value = form.get(key)
        if isinstance(value, str):
            values[key] = value
    return values


async def read_choices(request: Request[Any, Any, Any], name: str) -> list[str]:
    """Every value sent for the field ``name`` (a group of checkboxes), as strings."""
    form = await request.form()
    return [value for value in form.getall(name, []) if isinstance(value, str)]


def clean_text(
    raw: str | None, *, min_length: int, max_length: int, multiline: bool,
) -> tuple[str, FieldError | None]:
    """Normalise newlines and surrounding space, remove bidi controls; return (value, error
    or None).

    The value returned is what the person typed (normalised), also when there is an error,
    so the form can show it again.
    """
    value = BIDI_CONTROLS.sub("", (raw or "").replace("\r\n", "\n").replace("\r", "\n"))
    value = value.strip() if not multiline else value.strip("\n ").rstrip()
    value = unicodedata.normalize("NFC", value)
    if _CONTROL.search(value) or (not multiline and "\n" in value):
        return value, FieldError(
            N_("Ce texte contient des caractères invisibles ou de contrôle que le forum ne "
               "peut pas enregistrer. Retire-les (souvent un copier-coller) et réessaie.")
        )
    if not value:
        return value, FieldError(N_("Ce champ est vide."))
    if len(value) < min_length:
        return value, FieldError(
            N_("C'est un peu court : au moins %(min)s caractères."), {"min": min_length}
        )
    if len(value) > max_length:
        return value, FieldError(
            N_("C'est trop long : %(length)s caractères pour %(max)s au plus. "
               "Tu peux partager ton texte en plusieurs messages."),
            {"length": len(value), "max": max_length},
        )
    return value, None


def clean_choice(raw: str | None, choices: tuple[str, ...]) -> str | None:
    return raw if raw in choices else None
