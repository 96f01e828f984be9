"""The composer: what the forms for a new thread, a reply and an edit hold and check.

Kept apart from the handlers so that the thread page (reading) and the write handlers
(writing) share one definition of the reply form.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from forum import content_warnings
from forum.i18n import N_
from forum.models import POST_LANGS, Thread
from forum.web.forms import FieldError, FormErrors, clean_text

TITLE_MIN, TITLE_MAX = 3, 150
BODY_MIN, BODY_MAX = 1, 20_000
_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")

UNKNOWN_LANG = N_("Choisis la langue de ton message dans la liste : Français ou English.")


def new_idempotency_key() -> str:
    return uuid.uuid4().hex


@dataclass
class PostForm:
    """What the composer holds: kept as typed, shown again on error."""

    body: str = ""
    title: str = ""
    content_warning: str = ""
    content_warning_label: str = ""
    lang: str = ""
    """The post's language as chosen ("" when none was sent: the handler decides, and the
    composer preselects the author's interface language)."""
    idempotency_key: str = ""

    def stored_warning(self) -> str | None:
        return content_warnings.stored_value(self.content_warning, self.content_warning_label)


def parse_post_form(values: dict[str, str], *, with_title: bool) -> tuple[PostForm, FormErrors]:
    errors = FormErrors()
    body, body_error = clean_text(
        values.get("body"), min_length=BODY_MIN, max_length=BODY_MAX, multiline=True
    )
    if body_error:
        errors["body"] = body_error
    title = ""
    if with_title:
        title, title_error = clean_text(
            values.get("title"), min_length=TITLE_MIN, max_length=TITLE_MAX, multiline=False
        )
        if title_error:
            errors["title"] = title_error
    choice = values.get("content_warning", "")
    label_text = (values.get("content_warning_label") or "").strip()
    if choice not in (*content_warnings.PRESETS, content_warnings.OTHER, ""):
        choice = ""
    if choice == content_warnings.OTHER:
        _, label_error = clean_text(
            label_text, min_length=2, max_length=content_warnings.FREE_LABEL_MAX, multiline=False
        )
        if label_error:
            errors["content_warning_label"] = label_error
    lang = values.get("lang", "")
    if lang and lang not in POST_LANGS:
        errors["lang"] = FieldError(UNKNOWN_LANG)
        lang = ""
    key = values.get("idempotency_key", "")
    form = PostForm(
        body=body, title=title, content_warning=choice, content_warning_label=label_text,
        lang=lang, idempotency_key=key if _KEY.match(key) else new_idempotency_key(),
    )
    return form, errors


def reply_form_context(thread: Thread, form: PostForm | None = None,
                       errors: FormErrors | None = None) -> dict[str, Any]:
    return {
        "form": form or PostForm(idempotency_key=new_idempotency_key()),
        "errors": errors or FormErrors(),
        "warning_presets": content_warnings.PRESETS,
    }
