"""Template globals moderation offers the forum's templates (registered by ``forum.app``)."""

from __future__ import annotations

from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context

from forum import i18n
from forum.i18n import N_
from forum.models import Member, Role
from forum.permissions import is_restricted
from forum.web.context import locale_of
from moderation import actions as ma
from moderation import rules
from moderation.audit import KIND_LABELS
from moderation.models import ActionKind
from moderation.web import FLAG_LABELS


def kind_label(kind: int) -> str:
    """The message id naming a log kind (translated by the template)."""
    try:
        return KIND_LABELS[ActionKind(kind)]
    except ValueError:
        return str(kind)


def is_moderator(member: Member | None) -> bool:
    """Whether to show the "/mod" link: moderators of a space and admins, while no suspension
    or ban holds them."""
    return (member is not None and (member.is_peer_moderator or member.role == Role.ADMIN)
            and not is_restricted(member))


AUTOMATIC_REASONS = frozenset({ma.AUTO_HIDE_REASON, ma.ESCALATION_REASON, ma.CRISIS_SCREEN_NOTE,
                               ma.CRISIS_MODEL_NOTE, ma.CRISIS_WATCH_NOTE,
                               *ma.CRISIS_MARK_NOTES.values(), ma.SESSION_REMOVAL,
                               *rules.HOLD_REASONS})
"""Reasons the automatic rules write: message ids, translated when shown. A moderator's own
words are shown as written (never passed through gettext, which would mark them safe)."""


def _in_readers_language(ctx: Context, message: str) -> str:
    request = ctx.get("request")
    locale = locale_of(request) if request is not None else i18n.SOURCE_LOCALE
    return i18n.translations(locale).gettext(message)


@pass_context
def reason_text(ctx: Context, reason: str | None) -> str:
    if not reason:
        return ""
    if reason in AUTOMATIC_REASONS:
        return _in_readers_language(ctx, reason)
    return reason


STATUS_LABELS = {"visible": N_("Visible"), "pending": N_("En attente de relecture"),
                 "hidden": N_("Masqué"), "removed": N_("Retiré"),
                 "deleted": N_("Supprimé par son auteur·e")}


@pass_context
def status_label(ctx: Context, status: str) -> str:
    """A post's status, in the reader's language (never the stored value)."""
    return _in_readers_language(ctx, STATUS_LABELS.get(str(status), str(status)))


SCREEN_LABELS = {"none": N_("rien d'inquiétant"), "concern": N_("inquiétude"),
                 "urgent": N_("urgent")}


@pass_context
def screen_label(ctx: Context, label: str) -> str:
    """A labelled example's label, in the reader's language."""
    return _in_readers_language(ctx, SCREEN_LABELS.get(label, label))


@pass_context
def welfare_count(ctx: Context) -> int | None:
    """Open welfare items of the reader's spaces, read by the header middleware (None where
    it did not run, or for a member who moderates nothing)."""
    request = ctx.get("request")
    if request is None:
        return None
    return request.scope.get("state", {}).get("welfare_count")


def auto_hidden(post: Any) -> bool:
    """Hidden by the flags' threshold, not by a person: pages say so."""
    return post.status == "hidden" and post.moderation_reason == ma.AUTO_HIDE_REASON


def template_globals() -> dict[str, Any]:
    return {
        "mod_kind_label": kind_label, "mod_flag_reasons": FLAG_LABELS,
        "mod_is_moderator": is_moderator, "mod_reason": reason_text,
        "screen_label": screen_label, "mod_welfare_count": welfare_count,
        "mod_auto_hidden": auto_hidden, "mod_status_label": status_label,
    }
