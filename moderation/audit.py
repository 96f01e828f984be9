"""The only code that writes ``ModerationAction`` rows: the append-only moderation log.

``record`` adds the row to the caller's unit of work and flushes it, so a row that cannot be
written fails the whole request before anything commits. It never commits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from forum.i18n import N_
from forum.models import Member
from moderation.models import ActionKind, ModerationAction

KIND_LABELS: dict[ActionKind, str] = {
    ActionKind.POST_APPROVED: N_("Message approuvé"),
    ActionKind.POST_HIDDEN: N_("Message masqué"),
    ActionKind.POST_RESTORED: N_("Message rétabli"),
    ActionKind.POST_REMOVED: N_("Message retiré"),
    ActionKind.POST_EDITED: N_("Message modifié par la modération"),
    ActionKind.WARNING_ADDED: N_("Avertissement de contenu ajouté"),
    ActionKind.WARNING_REMOVED: N_("Avertissement de contenu retiré"),
    ActionKind.FLAGS_DISMISSED: N_("Signalements classés"),
    ActionKind.THREAD_LOCKED: N_("Fil fermé"),
    ActionKind.THREAD_UNLOCKED: N_("Fil rouvert"),
    ActionKind.THREAD_PINNED: N_("Fil épinglé"),
    ActionKind.THREAD_UNPINNED: N_("Fil désépinglé"),
    ActionKind.THREAD_MOVED: N_("Fil déplacé"),
    ActionKind.MEMBER_WARNED: N_("Membre averti·e"),
    ActionKind.MEMBER_SUSPENDED: N_("Membre suspendu·e"),
    ActionKind.MEMBER_BANNED: N_("Membre exclu·e"),
    ActionKind.MEMBER_RESTRICTION_LIFTED: N_("Suspension ou exclusion levée"),
    ActionKind.MODERATOR_ADDED: N_("Modérateur·rice ajouté·e"),
    ActionKind.MODERATOR_REMOVED: N_("Modérateur·rice retiré·e"),
    ActionKind.SPACE_CREATED: N_("Espace créé"),
    ActionKind.SPACE_UPDATED: N_("Espace modifié"),
    ActionKind.POST_AUTO_HIDDEN: N_("Message masqué automatiquement (signalements)"),
    ActionKind.POST_HELD: N_("Message mis en attente automatiquement"),
    ActionKind.APPEAL_GRANTED: N_("Recours accepté"),
    ActionKind.APPEAL_DENIED: N_("Recours refusé"),
    ActionKind.WATCHED_WORD_ADDED: N_("Mot surveillé ajouté"),
    ActionKind.WATCHED_WORD_REMOVED: N_("Mot surveillé retiré"),
    ActionKind.SECOND_OPINION_REQUESTED: N_("Second avis demandé"),
    ActionKind.DECISION_PROPOSED: N_("Décision proposée, en attente d'un second avis"),
    ActionKind.MEMBER_MESSAGED: N_("Message privé de la modération envoyé"),
    ActionKind.REPLY_TEMPLATE_UPDATED: N_("Modèle de réponse modifié"),
    ActionKind.SECOND_OPINION_GIVEN: N_("Second avis donné"),
    ActionKind.WELFARE_ESCALATED: N_("Message urgent sans prise en charge : toute l'équipe "
                                     "prévenue"),
    ActionKind.HELPER_GRANTED: N_("Badge de pair-aidant·e formé·e donné"),
    ActionKind.HELPER_REVOKED: N_("Badge de pair-aidant·e formé·e retiré"),
    ActionKind.APPEAL_CLOSED: N_("Recours clos sans décision : la décision contestée a été "
                                 "remplacée ou levée"),
    ActionKind.CONVERSATION_READ: N_("Message d'une conversation privée lu, après un "
                                     "signalement"),
}
"""What the log calls each kind (a test checks that every kind has one)."""


async def record(
    session: AsyncSession, kind: ActionKind, *, actor: Member | None, reason: str,
    space_id: int | None = None, post_id: int | None = None, thread_id: int | None = None,
    target: Member | None = None, target_pseudonym: str | None = None,
    details: dict[str, Any] | None = None,
) -> ModerationAction:
    """Append one row to the moderation log, in the caller's transaction."""
    row = ModerationAction(
        kind=int(kind), actor_id=actor.id if actor else None,
        actor_pseudonym=actor.pseudonym if actor else "",
        space_id=space_id, target_post_id=post_id, target_thread_id=thread_id,
        target_member_id=target.id if target else None,
        target_pseudonym=(target.pseudonym if target else target_pseudonym) or "",
        reason=reason, details=details or {},
    )
    session.add(row)
    await session.flush()
    return row
