"""Every change a moderator (or a member flagging) makes: one ``do_*`` function each.

Each takes the session, the target, a keyword-only ``actor`` and ``reason``; returns False when
nothing would change; changes the rows; settles the open flags it resolves; records one row in
the audit log (``moderation.audit``); and never commits, so the change and its log row land
together or not at all. Notices to members are signed "L'équipe de modération", never by a
person.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from forum import changes, conversations
from forum.actions import do_notify
from forum.db import utcnow
from forum.gate import Verdict
from forum.i18n import N_
from forum.models import (
    Conversation,
    ConversationStatus,
    Member,
    Post,
    PostRevision,
    PostStatus,
    Role,
    Space,
    SpaceModerator,
    Thread,
    Visibility,
)
from forum.resources import lines_for, normalize_region
from moderation import audit, rules
from moderation import queries as mq
from moderation.models import (
    ActionKind,
    Appeal,
    Claim,
    Flag,
    FlagReason,
    ModerationAction,
    PendingDecision,
    ReplyTemplate,
    SecondOpinion,
    WatchedWord,
)

WELFARE_WINDOW = timedelta(hours=24)
WELFARE_NOTICES_PER_AUTHOR = 1
"""At most one caring notice per author per day, however many danger flags arrive."""
DANGER_FLAGS_PER_FLAGGER = 3
"""A member's danger flags beyond this per day still reach moderators, without a notice."""

MOD_NOTICE = "moderation"
RESTRICTION_NOTICE = "restriction"
"""A suspension or a ban: its notice leads to the page where the member may appeal it."""
OUTCOME_NOTICE = "flag_outcome"
APPEAL_NOTICE = "appeal_outcome"

NOTICE_HIDDEN = N_("L'équipe de modération a masqué ton message. Raison : %(reason)s. "
                   "Tu peux contester cette décision depuis le message.")
NOTICE_REMOVED = N_("L'équipe de modération a retiré ton message. Raison : %(reason)s. "
                    "Tu peux contester cette décision depuis le message.")
NOTICE_RESTORED = N_("L'équipe de modération a rétabli ton message. Merci pour ta patience.")
NOTICE_APPROVED = N_("Ton message a été relu et publié. Merci pour ta patience.")
NOTICE_EDITED = N_("L'équipe de modération a modifié ton message. Raison : %(reason)s.")
NOTICE_WARNED = N_("Un mot de l'équipe de modération : %(reason)s")
NOTICE_SUSPENDED = N_("L'équipe de modération a suspendu ton compte jusqu'au %(until)s : tu "
                      "peux lire, mais pas écrire. Raison : %(reason)s.")
NOTICE_BANNED = N_("L'équipe de modération a fermé ton accès en écriture. Raison : %(reason)s.")
NOTICE_LIFTED = N_("Tu peux de nouveau écrire sur le forum. Bienvenue.")
NOTICE_WELFARE = N_("Quelqu'un s'inquiète pour toi après ton message. Ce n'est pas une "
                    "sanction : on voulait juste te dire que tu comptes. Si c'est dur en ce "
                    "moment, tu peux appeler : %(lines)s.")
NOTICE_FLAG_OUTCOME = N_("Merci pour ton signalement : l'équipe de modération l'a examiné. "
                         "Issue : %(outcome)s.")
NOTICE_APPEAL_GRANTED = N_("Ton recours a été accepté : la décision est annulée.")
NOTICE_APPEAL_DENIED = N_("Ton recours a été examiné par une autre personne de l'équipe de "
                          "modération, qui maintient la décision. Raison : %(reason)s.")
NOTICE_RESTRICTION_APPEAL_GRANTED = N_("Ton recours a été accepté : tu peux de nouveau écrire "
                                       "sur le forum. Raison : %(reason)s. Bon retour parmi "
                                       "nous.")
NOTICE_SUSPENSION_APPEAL_DENIED = N_("Ton recours a été relu par une autre personne de l'équipe "
                                     "de modération, qui maintient ta suspension jusqu'au "
                                     "%(until)s. Raison : %(reason)s. D'ici là, tu peux "
                                     "toujours lire le forum.")
NOTICE_APPEAL_REPLACED_BY_BAN = N_("Ton recours contre ta suspension est clos sans décision, "
                                   "parce qu'une décision plus récente la remplace : l'équipe "
                                   "de modération a fermé ton accès en écriture. Si tu penses "
                                   "que cette nouvelle décision est injuste, tu peux la "
                                   "contester à son tour.")
NOTICE_APPEAL_REPLACED_BY_SUSPENSION = N_("Ton recours contre ta suspension précédente est clos "
                                          "sans décision, parce qu'une nouvelle suspension la "
                                          "remplace, jusqu'au %(until)s. Si tu penses que cette "
                                          "nouvelle décision est injuste, tu peux la contester "
                                          "à son tour.")
NOTICE_LIFTED_APPEAL_CLOSED = N_("L'équipe de modération a levé ta restriction : tu peux de "
                                 "nouveau écrire sur le forum. Ton recours n'a donc plus besoin "
                                 "d'être examiné, il est clos. Bienvenue.")
NOTICE_BAN_APPEAL_DENIED = N_("Ton recours a été relu par une autre personne de l'équipe de "
                              "modération, qui maintient la fermeture de ton accès en "
                              "écriture. Raison : %(reason)s. Tu peux toujours lire le forum.")

OUTCOMES = {
    "hidden": N_("message masqué"),
    "removed": N_("message retiré"),
    "approved": N_("message gardé"),
    "dismissed": N_("rien à retirer"),
    "edited": N_("message modifié"),
}

AUTO_HIDE_REASON = N_("Plusieurs membres l'ont signalé : il attend la relecture d'un·e "
                      "modérateur·rice.")


# -- helpers -------------------------------------------------------------------------------

async def _set_status(session: AsyncSession, post: Post, status: PostStatus) -> None:
    """Change a post's status and keep the thread's visible-reply count right."""
    counted_before = post.status == PostStatus.VISIBLE and post.number > 1
    counted_after = status == PostStatus.VISIBLE and post.number > 1
    published = post.status != PostStatus.VISIBLE and status == PostStatus.VISIBLE
    post.status = status
    if counted_before != counted_after:
        delta = 1 if counted_after else -1
        await session.execute(update(Thread).where(Thread.id == post.thread_id)
                              .values(reply_count=Thread.reply_count + delta))
    changes.post(session, post, published=published)


async def _queue_changed(session: AsyncSession, post: Post) -> None:
    """The moderation queue of the post's space changed (``forum.live`` tells its
    moderators' pages); the thread is read only when the post came without it."""
    thread = post.__dict__.get("thread")  # loaded with the post, or not at all
    space_id = thread.space_id if thread is not None else await session.scalar(
        select(Thread.space_id).where(Thread.id == post.thread_id))
    changes.queue(session, space_id)


async def _resolve_flags(session: AsyncSession, post: Post, *, actor: Member | None,
                         outcome: str) -> int:
    """Close the post's open flags and tell each flagger the outcome (never who acted)."""
    flags = await mq.open_flags(session, post.id)
    now = utcnow()
    for flag in flags:
        flag.resolved_at = now
        flag.resolved_by_id = actor.id if actor else None
        flag.outcome = outcome
        if flag.flagger_id is not None:
            await do_notify(session, flag.flagger_id, kind=OUTCOME_NOTICE,
                            message=NOTICE_FLAG_OUTCOME, params={"outcome": OUTCOMES[outcome]},
                            thread_id=post.thread_id, post_id=post.id)
    await session.execute(delete(Claim).where(Claim.post_id == post.id))
    await session.execute(delete(PendingDecision).where(PendingDecision.post_id == post.id))
    await session.flush()
    if flags:
        await _queue_changed(session, post)
    return len(flags)


async def _tell_author(session: AsyncSession, post: Post, message: str, reason: str) -> None:
    if post.author_id is not None:
        await do_notify(session, post.author_id, kind=MOD_NOTICE, message=message,
                        params={"reason": reason}, thread_id=post.thread_id, post_id=post.id)


async def _post_audit(session: AsyncSession, kind: ActionKind, post: Post, *,
                      actor: Member | None, reason: str, **details: object) -> None:
    await audit.record(session, kind, actor=actor, reason=reason,
                       space_id=post.thread.space_id, post_id=post.id, thread_id=post.thread_id,
                       target=post.author, details=dict(details))


# -- flags ---------------------------------------------------------------------------------

async def do_flag_post(session: AsyncSession, post: Post, *, flagger: Member, reason: str,
                       note: str) -> Flag | None:
    """A member flags a post; None if they already have an open flag on it (for a danger
    flag: an open danger flag, so that a worry that grows after a first report still reaches
    the moderators as one). A danger flag also sends the author a caring notice
    (rate-limited); enough distinct flaggers hide the post pending review."""
    danger = reason == FlagReason.DANGER.value
    if await mq.has_open_flag(session, post.id, flagger.id,
                              FlagReason.DANGER.value if danger else None):
        return None
    if danger:  # their earlier, milder report of it gives way (one open flag each)
        await session.execute(update(Flag).where(
            Flag.post_id == post.id, Flag.flagger_id == flagger.id,
            Flag.resolved_at.is_(None)).values(resolved_at=utcnow()))
    since = utcnow() - WELFARE_WINDOW
    notify_author = (
        reason == FlagReason.DANGER.value and post.author_id is not None
        and await mq.recent_danger_flags_by(session, flagger.id, since)
        < DANGER_FLAGS_PER_FLAGGER
        and await mq.recent_welfare_notices(session, post.author_id, since)
        < WELFARE_NOTICES_PER_AUTHOR
    )
    if reason == FlagReason.DANGER.value:
        await mq.lock_for_welfare(session, post.id)
    first_danger = (reason == FlagReason.DANGER.value
                    and not await mq.is_welfare_item(session, post.id))
    flag = Flag(post_id=post.id, flagger_id=flagger.id, reason=reason, note=note,
                text_copy=post.source)
    session.add(flag)
    await session.flush()
    changes.members(session, flagger.id)
    await _queue_changed(session, post)
    if notify_author and post.author is not None:
        await _welfare_notice(session, post, post.author)
    if first_danger:
        await _alert_moderators(session, post, post.thread.space, NOTICE_MEMBER_ALERT)
    await _auto_hide(session, post)
    return flag


async def _welfare_notice(session: AsyncSession, post: Post, author: Member) -> None:
    region = normalize_region(author.region) or "FR"
    locale = author.locale or "fr"
    lines = ", ".join(f"{line.label(locale)} ({line.number_display})"
                      for line in lines_for(region).primary())
    await do_notify(session, author.id, kind="welfare", message=NOTICE_WELFARE,
                    params={"lines": lines}, thread_id=post.thread_id, post_id=post.id)


async def _auto_hide(session: AsyncSession, post: Post) -> bool:
    """Enough established members flagged it: hidden until a moderator reads it. Never a post
    the crisis screen found worrying (any answer, a quiet mark included), nor a welfare item
    (a "danger" flag says "I am worried about this person", and closing one takes two
    people): someone asking for help is read, not hidden. "Danger" flags never count."""
    threshold = post.thread.space.auto_hide_flags
    if (threshold <= 0 or post.status != PostStatus.VISIBLE or post.crisis_level != "none"
            or post.crisis_answer != "none"):
        return False
    if await mq.is_welfare_item(session, post.id):
        return False
    if await mq.count_distinct_open_flaggers(session, post.id, established=True,
                                             danger=False) < threshold:
        return False
    await _set_status(session, post, PostStatus.HIDDEN)
    post.moderation_reason = AUTO_HIDE_REASON
    await _post_audit(session, ActionKind.POST_AUTO_HIDDEN, post, actor=None,
                      reason=AUTO_HIDE_REASON, flaggers=threshold)
    return True


async def do_claim(session: AsyncSession, post: Post, *, actor: Member) -> bool:
    """"Je m'en occupe": at most one claim per item; False if someone already holds it."""
    if await session.get(Claim, post.id) is not None:
        return False
    session.add(Claim(post_id=post.id, member_id=actor.id))
    await session.flush()
    await _queue_changed(session, post)
    return True


async def do_release_claim(session: AsyncSession, post: Post, *, actor: Member) -> bool:
    claim = await session.get(Claim, post.id)
    if claim is None or claim.member_id != actor.id:
        return False
    await session.delete(claim)
    await session.flush()
    await _queue_changed(session, post)
    return True


# -- posts ---------------------------------------------------------------------------------

async def do_approve_post(session: AsyncSession, post: Post, *, actor: Member,
                          reason: str) -> bool:
    """A held (pending) post is published; open flags are settled as "kept"."""
    if post.status != PostStatus.PENDING:
        return False
    await _set_status(session, post, PostStatus.VISIBLE)
    post.moderation_reason = None
    await _resolve_flags(session, post, actor=actor, outcome="approved")
    await _post_audit(session, ActionKind.POST_APPROVED, post, actor=actor, reason=reason)
    await _tell_author(session, post, NOTICE_APPROVED, reason)
    return True


async def do_hide_post(session: AsyncSession, post: Post, *, actor: Member,
                       reason: str) -> bool:
    """Reversible: only the author (and moderators) still see it, with the reason."""
    if post.status not in (PostStatus.VISIBLE, PostStatus.PENDING):
        return False
    await _set_status(session, post, PostStatus.HIDDEN)
    post.moderation_reason = reason
    await _resolve_flags(session, post, actor=actor, outcome="hidden")
    await _post_audit(session, ActionKind.POST_HIDDEN, post, actor=actor, reason=reason)
    await _tell_author(session, post, NOTICE_HIDDEN, reason)
    return True


async def do_restore_post(session: AsyncSession, post: Post, *, actor: Member,
                          reason: str) -> bool:
    if post.status not in (PostStatus.HIDDEN, PostStatus.REMOVED):
        return False
    await _set_status(session, post, PostStatus.VISIBLE)
    post.moderation_reason = None
    await _resolve_flags(session, post, actor=actor, outcome="approved")
    await _settle_appeals(session, post, actor=actor, reason=reason)
    await _post_audit(session, ActionKind.POST_RESTORED, post, actor=actor, reason=reason)
    await _tell_author(session, post, NOTICE_RESTORED, reason)
    return True


async def _settle_appeals(session: AsyncSession, post: Post, *, actor: Member,
                          reason: str) -> None:
    """A restore answers the post's pending appeals in the member's favour, and the log says
    so (``APPEAL_GRANTED`` for each, with the restore's reason), as a decision on the appeal
    does: also when granting an appeal on a welfare item is confirmed by a second person."""
    appeals = await mq.pending_appeals(session, post.id)
    for appeal in appeals:
        appeal.decided_at = utcnow()
        appeal.decided_by_id = actor.id
        appeal.granted = True
    await session.flush()
    for appeal in appeals:
        await _post_audit(session, ActionKind.APPEAL_GRANTED, post, actor=actor, reason=reason,
                          appeal_id=appeal.id, via="restore")


async def do_remove_post(session: AsyncSession, post: Post, *, actor: Member,
                         reason: str, settle_flags: bool = True) -> bool:
    """Nobody but moderators sees it any more; the text is kept so it can be restored.
    ``settle_flags=False`` (a group session's facilitator, who is not the moderators) leaves
    its open flags, a welfare item among them, in the moderators' queue."""
    if post.status not in (PostStatus.VISIBLE, PostStatus.PENDING, PostStatus.HIDDEN):
        return False
    await _set_status(session, post, PostStatus.REMOVED)
    post.moderation_reason = reason
    if settle_flags:
        await _resolve_flags(session, post, actor=actor, outcome="removed")
    await _post_audit(session, ActionKind.POST_REMOVED, post, actor=actor, reason=reason)
    await _tell_author(session, post, NOTICE_REMOVED, reason)
    return True


async def do_moderator_edit_post(
    session: AsyncSession, post: Post, *, actor: Member, reason: str, source: str,
    verdict: Verdict, content_warning: str | None,
) -> bool:
    """Edit the harmful part out (the previous text is kept as a revision), or add or remove
    a content warning. One log row: POST_EDITED, WARNING_ADDED or WARNING_REMOVED."""
    text_changed = source != post.source
    warning_changed = content_warning != post.content_warning
    if not (text_changed or warning_changed):
        return False
    if text_changed:
        session.add(PostRevision(post_id=post.id, editor_id=actor.id, source=post.source,
                                 html=post.html, renderer_version=post.renderer_version,
                                 lang=post.lang))
        post.source = source
        post.html = verdict.html
        post.renderer_version = verdict.renderer_version
        post.edited_at = utcnow()
    post.content_warning = content_warning
    changes.post(session, post)
    kind = ActionKind.POST_EDITED
    if not text_changed:
        kind = ActionKind.WARNING_ADDED if content_warning else ActionKind.WARNING_REMOVED
    if not await mq.is_welfare_item(session, post.id):  # a welfare item needs two people
        await _resolve_flags(session, post, actor=actor, outcome="edited")
    await _post_audit(session, kind, post, actor=actor, reason=reason,
                      content_warning=content_warning or "")
    await _tell_author(session, post, NOTICE_EDITED, reason)
    return True


async def do_dismiss_flags(session: AsyncSession, post: Post, *, actor: Member,
                           reason: str) -> bool:
    """Nothing to act on: the post's open flags are closed; an automatic hide is undone."""
    if not await mq.open_flags(session, post.id):
        return False
    latest = await mq.action_for_appeal(session, post.id)
    if (post.status == PostStatus.HIDDEN and latest is not None
            and latest.kind == ActionKind.POST_AUTO_HIDDEN):
        await _set_status(session, post, PostStatus.VISIBLE)
        post.moderation_reason = None
    await _resolve_flags(session, post, actor=actor, outcome="dismissed")
    await _post_audit(session, ActionKind.FLAGS_DISMISSED, post, actor=actor, reason=reason)
    return True


# -- threads -------------------------------------------------------------------------------

async def _thread_audit(session: AsyncSession, kind: ActionKind, thread: Thread, *,
                        actor: Member, reason: str, **details: object) -> None:
    changes.thread(session, thread.id)
    # The log keeps ids, never what a member wrote (a title can out someone, and the log
    # outlives an erased account): the thread is named by its number.
    await audit.record(session, kind, actor=actor, reason=reason, space_id=thread.space_id,
                       thread_id=thread.id, target_pseudonym=f"#{thread.id}",
                       details=dict(details))


async def _set_thread_flag(session: AsyncSession, thread: Thread, attribute: str, value: bool,
                           kind: ActionKind, *, actor: Member, reason: str) -> bool:
    if getattr(thread, attribute) == value:
        return False
    setattr(thread, attribute, value)
    await session.flush()
    await _thread_audit(session, kind, thread, actor=actor, reason=reason)
    return True


async def do_lock_thread(session: AsyncSession, thread: Thread, *, actor: Member,
                         reason: str) -> bool:
    return await _set_thread_flag(session, thread, "locked", True, ActionKind.THREAD_LOCKED,
                                  actor=actor, reason=reason)


async def do_unlock_thread(session: AsyncSession, thread: Thread, *, actor: Member,
                           reason: str) -> bool:
    return await _set_thread_flag(session, thread, "locked", False,
                                  ActionKind.THREAD_UNLOCKED, actor=actor, reason=reason)


async def do_pin_thread(session: AsyncSession, thread: Thread, *, actor: Member,
                        reason: str) -> bool:
    return await _set_thread_flag(session, thread, "pinned", True, ActionKind.THREAD_PINNED,
                                  actor=actor, reason=reason)


async def do_unpin_thread(session: AsyncSession, thread: Thread, *, actor: Member,
                          reason: str) -> bool:
    return await _set_thread_flag(session, thread, "pinned", False,
                                  ActionKind.THREAD_UNPINNED, actor=actor, reason=reason)


async def do_move_thread(session: AsyncSession, thread: Thread, *, actor: Member, reason: str,
                         to: Space) -> bool:
    if thread.space_id == to.id:
        return False
    source_id = thread.space_id
    thread.space_id = to.id
    await session.execute(update(Space).where(Space.id == source_id)
                          .values(thread_count=Space.thread_count - 1))
    await session.execute(update(Space).where(Space.id == to.id)
                          .values(thread_count=Space.thread_count + 1))
    await session.flush()
    changes.thread(session, thread.id, moved=True)  # its search entries go with it
    changes.queue(session, source_id, to.id)  # its flags go with it
    await _thread_audit(session, ActionKind.THREAD_MOVED, thread, actor=actor, reason=reason,
                        source_space_id=source_id)
    return True


# -- members -------------------------------------------------------------------------------

async def _member_audit(session: AsyncSession, kind: ActionKind, member: Member, *,
                        actor: Member, reason: str, space_id: int | None,
                        **details: object) -> ModerationAction:
    changes.members(session, member.id)  # where their composer was, the restriction shows
    return await audit.record(session, kind, actor=actor, reason=reason, space_id=space_id,
                              target=member, details=dict(details))


async def _close_replaced_appeals(session: AsyncSession, member: Member, *, actor: Member,
                                  reason: str, cause: str,
                                  replaced_by: int | None = None) -> int:
    """A later decision (``cause``: "ban", "suspension" or "lift") replaced or ended the
    restriction a pending appeal contests: the appeal is closed without a decision (decided,
    ``granted`` None), leaves the queue, and each one is logged (``APPEAL_CLOSED``, with the
    later decision's reason). Returns how many; the caller tells the member."""
    appeals = await mq.pending_restriction_appeals(session, member.id)
    for appeal in appeals:
        appeal.decided_at = utcnow()
        appeal.decided_by_id = None  # nobody decided it
        appeal.granted = None
    await session.flush()
    for appeal in appeals:
        details: dict[str, object] = {"appeal_id": appeal.id, "action_id": appeal.action_id,
                                      "cause": cause}
        if replaced_by is not None:
            details["replaced_by"] = replaced_by
        await _member_audit(session, ActionKind.APPEAL_CLOSED, member, actor=actor,
                            reason=reason, space_id=appeal.action.space_id, **details)
    return len(appeals)


async def do_warn_member(session: AsyncSession, member: Member, *, actor: Member, reason: str,
                         space_id: int | None = None) -> bool:
    await do_notify(session, member.id, kind=MOD_NOTICE, message=NOTICE_WARNED,
                    params={"reason": reason})
    await _member_audit(session, ActionKind.MEMBER_WARNED, member, actor=actor, reason=reason,
                        space_id=space_id)
    return True


async def do_suspend_member(session: AsyncSession, member: Member, *, actor: Member,
                            reason: str, days: int, space_id: int | None = None) -> bool:
    until = utcnow() + timedelta(days=days)
    if member.banned or (member.suspended_until is not None and member.suspended_until >= until):
        return False
    member.suspended_until = until
    member.restriction_reason = reason
    await session.flush()
    await do_notify(session, member.id, kind=RESTRICTION_NOTICE, message=NOTICE_SUSPENDED,
                    params={"reason": reason, "until": until.date().isoformat()})
    row = await _member_audit(session, ActionKind.MEMBER_SUSPENDED, member, actor=actor,
                              reason=reason, space_id=space_id, days=days,
                              until=until.isoformat())
    if await _close_replaced_appeals(session, member, actor=actor, reason=reason,
                                     cause="suspension", replaced_by=row.id):
        await do_notify(session, member.id, kind=RESTRICTION_NOTICE,
                        message=NOTICE_APPEAL_REPLACED_BY_SUSPENSION,
                        params={"until": until.date().isoformat()})
    return True


async def do_ban_member(session: AsyncSession, member: Member, *, actor: Member, reason: str,
                        space_id: int | None = None) -> bool:
    if member.banned:
        return False
    member.banned = True
    member.restriction_reason = reason
    await session.flush()
    await do_notify(session, member.id, kind=RESTRICTION_NOTICE, message=NOTICE_BANNED,
                    params={"reason": reason})
    row = await _member_audit(session, ActionKind.MEMBER_BANNED, member, actor=actor,
                              reason=reason, space_id=space_id)
    if await _close_replaced_appeals(session, member, actor=actor, reason=reason, cause="ban",
                                     replaced_by=row.id):
        await do_notify(session, member.id, kind=RESTRICTION_NOTICE,
                        message=NOTICE_APPEAL_REPLACED_BY_BAN, params={})
    return True


async def do_lift_restriction(session: AsyncSession, member: Member, *, actor: Member,
                              reason: str, space_id: int | None = None,
                              notify: bool = True) -> bool:
    """Lift a suspension or a ban. Its pending appeals are closed without a decision (nothing
    is left to decide, and who lifts may be who decided: a lift is not a verdict on the
    appeal), logged, and the member's one notice says so. ``notify=False``: the caller tells
    the member itself (a granted appeal says so in one notice)."""
    if not member.banned and (member.suspended_until is None
                              or member.suspended_until <= utcnow()):
        return False
    member.banned = False
    member.suspended_until = None
    member.restriction_reason = None
    await session.flush()
    row = await _member_audit(session, ActionKind.MEMBER_RESTRICTION_LIFTED, member,
                              actor=actor, reason=reason, space_id=space_id)
    closed = await _close_replaced_appeals(session, member, actor=actor, reason=reason,
                                           cause="lift", replaced_by=row.id)
    if notify:
        await do_notify(session, member.id, kind=MOD_NOTICE,
                        message=NOTICE_LIFTED_APPEAL_CLOSED if closed else NOTICE_LIFTED,
                        params={"reason": reason})
    return True


# -- roles and spaces (admins) ---------------------------------------------------------------

async def _sync_moderator_flag(session: AsyncSession, member: Member) -> None:
    member.is_peer_moderator = bool(await mq.moderated_space_ids(session, member))
    await session.flush()
    changes.everyone(session)  # the moderator's badge beside each of their posts


async def do_add_moderator(session: AsyncSession, space: Space, member: Member, *,
                           actor: Member | None, reason: str) -> bool:
    if await session.get(SpaceModerator, (space.id, member.id)) is not None:
        return False
    session.add(SpaceModerator(space_id=space.id, member_id=member.id))
    await session.flush()
    await _sync_moderator_flag(session, member)
    await audit.record(session, ActionKind.MODERATOR_ADDED, actor=actor, reason=reason,
                       space_id=space.id, target=member)
    return True


async def do_remove_moderator(session: AsyncSession, space: Space, member: Member, *,
                              actor: Member | None, reason: str) -> bool:
    row = await session.get(SpaceModerator, (space.id, member.id))
    if row is None:
        return False
    await session.delete(row)
    await session.flush()
    await _sync_moderator_flag(session, member)
    await audit.record(session, ActionKind.MODERATOR_REMOVED, actor=actor, reason=reason,
                       space_id=space.id, target=member)
    return True


async def _set_helper_badge(session: AsyncSession, member: Member, value: bool,
                            kind: ActionKind, *, actor: Member | None, reason: str) -> bool:
    if member.trained_helper == value:
        return False
    member.trained_helper = value
    await session.flush()
    changes.everyone(session)  # the badge beside each of their posts
    await audit.record(session, kind, actor=actor, reason=reason, target=member)
    return True


async def do_grant_helper_badge(session: AsyncSession, member: Member, *,
                                actor: Member | None, reason: str) -> bool:
    """Give ``member`` the trained peer helper badge ("Pair-aidant·e formé·e")."""
    return await _set_helper_badge(session, member, True, ActionKind.HELPER_GRANTED,
                                   actor=actor, reason=reason)


async def do_revoke_helper_badge(session: AsyncSession, member: Member, *,
                                 actor: Member | None, reason: str) -> bool:
    """Take the badge back; the conversations they held as a helper wait for another helper
    (their members told), and they no longer read them (``queries.conversation_participant``)."""
    if not await _set_helper_badge(session, member, False, ActionKind.HELPER_REVOKED,
                                   actor=actor, reason=reason):
        return False
    await conversations.do_release_all(session, member)
    return True


SPACE_FIELDS = ("slug", "name", "description", "charter", "visibility", "position",
                "archived", "premoderated_posts", "auto_hide_flags", "new_member_hourly_limit")


async def do_create_space(session: AsyncSession, *, actor: Member, reason: str,
                          values: dict[str, object]) -> Space:
    space = Space(**{k: v for k, v in values.items() if k in SPACE_FIELDS})
    session.add(space)
    await session.flush()
    changes.everyone(session)
    await audit.record(session, ActionKind.SPACE_CREATED, actor=actor, reason=reason,
                       space_id=space.id, target_pseudonym=space.slug[:32])
    return space


async def do_update_space(session: AsyncSession, space: Space, *, actor: Member, reason: str,
                          values: dict[str, object]) -> bool:
    changed = {k: v for k, v in values.items()
               if k in SPACE_FIELDS and getattr(space, k) != v}
    if not changed:
        return False
    for key, value in changed.items():
        setattr(space, key, value)
    await session.flush()
    changes.everyone(session)
    await audit.record(session, ActionKind.SPACE_UPDATED, actor=actor, reason=reason,
                       space_id=space.id, target_pseudonym=space.slug[:32],
                       details={"fields": sorted(changed)})
    return True


def default_visibility(value: str) -> Visibility:
    """A visibility named in a form (or the CLI); anything else is public."""
    return Visibility(value) if value in {v.value for v in Visibility} else Visibility.PUBLIC


# -- appeals and care ----------------------------------------------------------------------

async def do_appeal(session: AsyncSession, action: ModerationAction, *, member: Member,
                    message: str) -> Appeal | None:
    """Once per action; None if this action was already appealed."""
    if await mq.appeal_for(session, action.id) is not None:
        return None
    appeal = Appeal(action_id=action.id, member_id=member.id, message=message)
    session.add(appeal)
    await session.flush()
    changes.members(session, member.id)
    return appeal


async def do_decide_appeal(session: AsyncSession, appeal: Appeal, post: Post, *,
                           actor: Member, reason: str, grant: bool) -> bool:
    """Decided by someone other than who acted, and never by the post's author. Granting
    restores the post, under the same rules as a restore: on a welfare item (an open danger
    flag) the first person's grant is only a proposal, which a second person confirms."""
    if (appeal.decided_at is not None or appeal.action.actor_id == actor.id
            or post.author_id == actor.id):
        return False
    if grant and await mq.is_welfare_item(session, post.id):
        outcome = await do_close_item(session, post, "restore", actor=actor, reason=reason)
        return outcome != "unchanged"  # "done" settled the appeal with the restore
    appeal.decided_at = utcnow()
    appeal.decided_by_id = actor.id
    appeal.granted = grant
    if grant and post.status in (PostStatus.HIDDEN, PostStatus.REMOVED):
        await _set_status(session, post, PostStatus.VISIBLE)
        post.moderation_reason = None
        await _resolve_flags(session, post, actor=actor, outcome="approved")
    await session.flush()
    kind = ActionKind.APPEAL_GRANTED if grant else ActionKind.APPEAL_DENIED
    await _post_audit(session, kind, post, actor=actor, reason=reason, appeal_id=appeal.id)
    if appeal.member_id is not None:
        await do_notify(session, appeal.member_id, kind=APPEAL_NOTICE,
                        message=NOTICE_APPEAL_GRANTED if grant else NOTICE_APPEAL_DENIED,
                        params={"reason": reason}, thread_id=post.thread_id, post_id=post.id)
    return True


async def do_decide_restriction_appeal(session: AsyncSession, appeal: Appeal, member: Member, *,
                                       actor: Member, reason: str, grant: bool) -> bool:
    """Grant or refuse a member's appeal of their suspension or ban. Never decided by who took
    the action, nor by the member; a ban's only by an admin (only admins lift bans). Granting
    lifts the restriction through ``do_lift_restriction`` (logged too); refusing keeps it.
    Either way the decision and its reason are logged, and the member gets one notice that
    explains it. Only while the appealed action still holds the member
    (``queries.appeal_in_force``): an appeal of a suspension that ran out, or that a later
    decision replaced, is not decided (False), so granting never lifts another decision."""
    action = appeal.action
    if (appeal.decided_at is not None or action.kind not in mq.RESTRICTION_KINDS
            or actor.id in (action.actor_id, action.target_member_id, appeal.member_id)
            or (action.kind == ActionKind.MEMBER_BANNED and actor.role != Role.ADMIN)
            or not await mq.appeal_in_force(session, appeal, member)):
        return False
    appeal.decided_at = utcnow()
    appeal.decided_by_id = actor.id
    appeal.granted = grant
    await session.flush()
    await _member_audit(session, ActionKind.APPEAL_GRANTED if grant else ActionKind.APPEAL_DENIED,
                        member, actor=actor, reason=reason, space_id=action.space_id,
                        appeal_id=appeal.id, action_id=action.id)
    params: dict[str, object] = {"reason": reason}
    if grant:
        await do_lift_restriction(session, member, actor=actor, reason=reason,
                                  space_id=action.space_id, notify=False)
        message = NOTICE_RESTRICTION_APPEAL_GRANTED
    elif member.banned:
        message = NOTICE_BAN_APPEAL_DENIED
    else:
        message = NOTICE_SUSPENSION_APPEAL_DENIED
        params["until"] = member.suspended_until.date().isoformat()  # type: ignore[union-attr]
    await do_notify(session, member.id, kind=APPEAL_NOTICE, message=message, params=params)
    return True


async def do_set_on_duty(session: AsyncSession, member: Member, on_duty: bool) -> bool:
    result = await session.execute(
        update(SpaceModerator).where(SpaceModerator.member_id == member.id,
                                     SpaceModerator.on_duty.is_not(on_duty))
        .values(on_duty=on_duty))
    if result.rowcount:
        changes.everyone(session)  # a space's page says whether a moderator is present
    return bool(result.rowcount)


# -- crisis screening (issue 4) ---------------------------------------------------------------

CRISIS_SCREEN_NOTE = N_("Repéré automatiquement : ce message contient des mots qui peuvent "
                        "signaler une personne en danger. Le filtre se trompe parfois ; "
                        "regarde avec bienveillance.")


CRISIS_MODEL_NOTE = N_("Repéré automatiquement : sans mot précis, la détection pense que la "
                       "personne qui a écrit ce message pourrait être en danger. Elle se trompe "
                       "parfois ; regarde avec bienveillance.")
"""The urgent note when the model alone raised it (no lexicon words to point at)."""

CRISIS_WATCH_NOTE = N_("Repéré automatiquement, sans certitude : rien n'a été montré à "
                       "l'auteur·e, ou seulement les numéros d'aide sous son message. Regarde "
                       "si quelqu'un devrait prendre de ses nouvelles.")
"""The note of marks made before 2026-12-07 (kept so that they are still translated)."""
CRISIS_MARK_NOTES = {
    "watch": N_("Repéré automatiquement, sans certitude : rien n'a été montré à l'auteur·e. "
                "Regarde si quelqu'un devrait prendre de ses nouvelles."),
    "line": N_("Repéré automatiquement, sans certitude : l'auteur·e a vu les numéros d'aide sous "
               "son message, sans pause. Regarde si quelqu'un devrait prendre de ses nouvelles."),
    "pause": N_("Repéré automatiquement : l'auteur·e a vu une pause avec les numéros d'aide avant "
                "de publier. Regarde si quelqu'un devrait prendre de ses nouvelles."),
}
"""A mark's note says what its author was shown (the screen's answer)."""

WELFARE_ALERT = "welfare_alert"
"""The kind of the notice that tells moderators of an urgent post (links to the item)."""
NOTICE_SCREEN_ALERT = N_("Message urgent à relire dans « %(space)s » : la détection automatique "
                         "y a repéré une personne qui pourrait être en danger. Il attend "
                         "quelqu'un de l'équipe.")
NOTICE_MEMBER_ALERT = N_("Message urgent à relire dans « %(space)s » : un·e membre s'inquiète "
                         "pour la personne qui l'a écrit. Il attend quelqu'un de l'équipe.")
SESSION_REMOVAL = N_("Retiré par la personne qui anime la session, pour que le groupe reste un "
                     "espace sûr pour chacun·e.")
"""The reason of a group session facilitator's removal when they give none (translated where
shown, as the automatic reasons are)."""
ESCALATION_REASON = N_("Personne de l'équipe ne l'a pris en charge à temps.")
NOTICE_WELFARE_ESCALATED = N_("Personne ne s'est encore occupé d'un message urgent dans "
                              "« %(space)s », signalé il y a plus de %(minutes)s minutes. "
                              "Peux-tu le regarder maintenant ?")


async def do_raise_crisis_flag(session: AsyncSession, post: Post, space: Space,
                               details: dict[str, object] | None = None) -> Flag | None:
    """The crisis screen found an urgent text: a priority welfare-concern flag for the space's
    moderators, from no member (so no flagger to thank, and no welfare notice: the author
    has just seen the lines before publishing), and the moderators are told at once. None if
    one is already open on the post. ``details``: the screen's reasons, for the item page.
    When a member's danger flag already made the post a welfare item, the moderators were
    told then: the screen's reasons join the item without a second alert."""
    await mq.lock_for_welfare(session, post.id)
    if await mq.has_open_screen_flag(session, post.id, FlagReason.DANGER.value):
        return None
    already_told = await mq.is_welfare_item(session, post.id)
    note = CRISIS_MODEL_NOTE if (details or {}).get("stage") == "model" else CRISIS_SCREEN_NOTE
    flag = Flag(post_id=post.id, flagger_id=None, reason=FlagReason.DANGER.value,
                note=note, text_copy=post.source,
                details={**(details or {}), "automatic": True})
    session.add(flag)
    await session.flush()
    changes.queue(session, space.id)
    if not already_told:
        await _alert_moderators(session, post, space, NOTICE_SCREEN_ALERT)
    return flag


async def do_mark_for_review(session: AsyncSession, post: Post,
                             details: dict[str, object] | None = None) -> Flag | None:
    """The screen's model alone found the post worrying, without certainty: a quiet,
    low-priority mark in the queue (no notice to anyone). None if one is already open."""
    if await mq.has_open_screen_flag(session, post.id, FlagReason.SCREEN.value):
        return None
    note = CRISIS_MARK_NOTES.get(str((details or {}).get("answer")), CRISIS_MARK_NOTES["watch"])
    flag = Flag(post_id=post.id, flagger_id=None, reason=FlagReason.SCREEN.value,
                note=note, text_copy=post.source,
                details={**(details or {}), "automatic": True})
    session.add(flag)
    await session.flush()
    await _queue_changed(session, post)
    return flag


async def _alert_moderators(session: AsyncSession, post: Post, space: Space, message: str,
                            *, everyone: bool = False, minutes: int = 0) -> int:
    """An in-app notice to the space's moderators on duty (all of them when nobody is, or
    with ``everyone``) and the admins, never to the post's author; returns how many."""
    recipients = [member_id for member_id in
                  await mq.welfare_recipients(session, space.id, everyone=everyone)
                  if member_id != post.author_id]
    for member_id in recipients:
        await do_notify(session, member_id, kind=WELFARE_ALERT, message=message,
                        params={"space": space.name, "minutes": minutes},
                        thread_id=post.thread_id, post_id=post.id)
    return len(recipients)


async def do_escalate_unclaimed(session: AsyncSession, *, now: datetime,
                                after: timedelta) -> list[Post]:
    """Welfare items nobody has claimed ``after`` their flag: every moderator of the space
    and every admin is told, once per item, and the escalation is logged. Safe to run from
    several processes at once: each item is taken by one conditional UPDATE, and an item
    escalated once is never escalated again while it stays open (a flag added later
    included)."""
    escalated: list[Post] = []
    for post in await mq.unclaimed_welfare_posts(session, now - after):
        taken = await session.execute(
            update(Flag).where(Flag.post_id == post.id, Flag.reason == FlagReason.DANGER.value,
                               Flag.resolved_at.is_(None), Flag.escalated_at.is_(None),
                               ~mq.escalated_already(post.id))
            .values(escalated_at=now).execution_options(synchronize_session=False))
        if not taken.rowcount:
            continue  # another process escalated it first
        minutes = int(after.total_seconds() // 60)
        told = await _alert_moderators(session, post, post.thread.space,
                                       NOTICE_WELFARE_ESCALATED, everyone=True, minutes=minutes)
        await _post_audit(session, ActionKind.WELFARE_ESCALATED, post, actor=None,
                          reason=ESCALATION_REASON, minutes=minutes, told=told)
        escalated.append(post)
    return escalated


# -- second opinions and the two-moderator rule (welfare items) -----------------------------

SECOND_OPINION_NOTICE = "second_opinion"
NOTICE_SECOND_OPINION = N_("Un·e modérateur·rice demande ton avis sur un message à relire : "
                           "« %(note)s »")
CLOSING_DO = {
    "approve": do_approve_post, "hide": do_hide_post, "restore": do_restore_post,
    "remove": do_remove_post, "dismiss": do_dismiss_flags,
}
"""The actions that close a queue item; on a welfare item each needs two people."""


async def do_request_second_opinion(session: AsyncSession, post: Post, *, actor: Member,
                                    note: str) -> SecondOpinion:
    """Ask the space's other moderators and the admins to look too; each gets a notice."""
    request = SecondOpinion(post_id=post.id, requested_by_id=actor.id, note=note)
    session.add(request)
    await session.flush()
    for member_id in await mq.second_opinion_recipients(session, post.thread.space_id,
                                                        actor.id):
        await do_notify(session, member_id, kind=SECOND_OPINION_NOTICE,
                        message=NOTICE_SECOND_OPINION, params={"note": note},
                        thread_id=post.thread_id, post_id=post.id)
    await _post_audit(session, ActionKind.SECOND_OPINION_REQUESTED, post, actor=actor,
                      reason=note)
    return request


async def _close_second_opinions(session: AsyncSession, post: Post) -> int:
    result = await session.execute(update(SecondOpinion).where(
        SecondOpinion.post_id == post.id, SecondOpinion.resolved_at.is_(None))
        .values(resolved_at=utcnow()))
    return int(result.rowcount or 0)


async def do_give_second_opinion(session: AsyncSession, post: Post, *, actor: Member,
                                 reason: str) -> bool:
    """Someone other than who asked answers: the requests are closed, the answer logged.
    False when there is no open request, or only the asker's own."""
    requests = (await mq.open_second_opinions(session, [post.id])).get(post.id, [])
    if not requests or all(r.requested_by_id == actor.id for r in requests):
        return False
    await _close_second_opinions(session, post)
    await _post_audit(session, ActionKind.SECOND_OPINION_GIVEN, post, actor=actor,
                      reason=reason)
    return True


async def do_close_item(session: AsyncSession, post: Post, decision: str, *, actor: Member,
                        reason: str) -> str:
    """Apply a closing decision. On a welfare item (an open danger flag) the first person's
    decision only waits ("proposed"); a different moderator or admin taking the same decision
    confirms it ("done"); the same person again changes nothing ("unchanged"). Another
    decision by someone else replaces the proposal. Returns what happened."""
    run = CLOSING_DO[decision]
    if not await mq.is_welfare_item(session, post.id):
        changed = await run(session, post, actor=actor, reason=reason)
        if changed:
            await _close_second_opinions(session, post)
        return "done" if changed else "unchanged"
    pending = await session.get(PendingDecision, post.id)
    if pending is not None and pending.member_id == actor.id:
        return "unchanged"
    if pending is not None and pending.decision == decision:
        changed = await run(session, post, actor=actor, reason=reason)
        if not changed:
            return "unchanged"
        await _close_second_opinions(session, post)  # the proposal went with the flags
        return "done"
    if pending is None:
        pending = PendingDecision(post_id=post.id)
        session.add(pending)
    pending.member_id = actor.id
    pending.decision = decision
    pending.reason = reason
    pending.created_at = utcnow()
    await session.flush()
    await _post_audit(session, ActionKind.DECISION_PROPOSED, post, actor=actor, reason=reason,
                      decision=decision)
    return "proposed"


# -- private messages from the moderation team, reply templates, watched words -------------

NOTICE_PRIVATE = N_("Un message de l'équipe de modération : %(text)s")


async def do_message_author(session: AsyncSession, post: Post, *, actor: Member, text: str,
                            template_key: str = "") -> bool:
    """A private notice to a post's author, signed by the team; the text goes in the log."""
    if post.author_id is None:
        return False
    await do_notify(session, post.author_id, kind=MOD_NOTICE, message=NOTICE_PRIVATE,
                    params={"text": text}, thread_id=post.thread_id, post_id=post.id)
    await _post_audit(session, ActionKind.MEMBER_MESSAGED, post, actor=actor, reason=text,
                      template=template_key)
    return True


async def do_save_reply_template(session: AsyncSession, *, actor: Member, key: str,
                                 locale: str, title: str, body: str) -> bool:
    """An admin rewrites a shipped template; False when nothing changed."""
    row = await session.scalar(select(ReplyTemplate).where(
        ReplyTemplate.key == key, ReplyTemplate.locale == locale))
    if row is not None and (row.title, row.body) == (title, body):
        return False
    if row is None:
        row = ReplyTemplate(key=key, locale=locale, title=title, body=body)
        session.add(row)
    row.title, row.body, row.updated_at = title, body, utcnow()
    await session.flush()
    await audit.record(session, ActionKind.REPLY_TEMPLATE_UPDATED, actor=actor,
                       reason=title, target_pseudonym=f"{key}/{locale}"[:32])
    return True


async def do_add_watched_word(session: AsyncSession, *, actor: Member, pattern: str,
                              action: str, label: str, message: str) -> WatchedWord:
    word = WatchedWord(pattern=pattern, action=action, label=label, message=message)
    session.add(word)
    await session.flush()
    rules.forget_watched_words(session)
    await audit.record(session, ActionKind.WATCHED_WORD_ADDED, actor=actor, reason=label,
                       details={"pattern": pattern, "action": action})
    return word


async def do_remove_watched_word(session: AsyncSession, word: WatchedWord, *,
                                 actor: Member) -> bool:
    details = {"pattern": word.pattern, "action": word.action}
    await session.delete(word)
    await session.flush()
    rules.forget_watched_words(session)
    await audit.record(session, ActionKind.WATCHED_WORD_REMOVED, actor=actor,
                       reason=word.label, details=details)
    return True


# -- a helper calls the moderators into a conversation (issue 17) ---------------------------

MODERATORS_CALLED = N_("%(helper)s a demandé l'aide des modérateur·rices de l'espace "
                       "« %(theme)s » pour ta conversation. Iels liront les derniers messages.")
CALL_REASONS = ("danger", "other")
"""Why a helper calls the moderators in: someone may be in danger (a welfare item, with its
alert), or they need a hand (an ordinary report)."""


async def do_call_in_moderators(session: AsyncSession, conversation: Conversation,
                                helper: Member, *, theme: str, reason: str, note: str
                                ) -> int | None:
    """The helper asks the theme's moderators in: the member's last message (or the last one)
    is reported, so a moderator sees it and the few before it in ``/mod``, nothing else; the
    member is told. Returns the reported message's id; None when there is nothing to show, or
    when the helper's call about that message waits already (a "danger" call after an "other"
    one still goes: ``do_flag_post``)."""
    thread = await conversations.thread_of(session, conversation.id)
    if thread is None or conversation.status != ConversationStatus.OPEN:
        return None
    in_thread = select(Post).where(Post.thread_id == thread.id).options(
        joinedload(Post.thread).joinedload(Thread.space), joinedload(Post.author))
    last = await session.scalar(
        in_thread.where(Post.author_id == conversation.member_id)
        .order_by(Post.number.desc()).limit(1))
    if last is None:
        last = await session.scalar(in_thread.order_by(Post.number.desc()).limit(1))
    if last is None:
        return None
    if await do_flag_post(session, last, flagger=helper, reason=reason, note=note) is None:
        return None  # already called about this message, and not yet answered
    if conversation.member_id is not None:
        await do_notify(session, conversation.member_id, kind=conversations.NOTICE,
                        message=MODERATORS_CALLED, thread_id=thread.id,
                        params={"helper": helper.pseudonym, "theme": theme,
                                "conversation": conversation.id})
    return last.id


async def do_note_conversation_read(session: AsyncSession, post: Post, *, reader: Member
                                    ) -> bool:
    """Log that ``reader`` opened a conversation's message (and the few before it), once per
    moderator and message: the two people's privacy has a record of every exception."""
    seen = await session.scalar(select(ModerationAction.id).where(
        ModerationAction.kind == int(ActionKind.CONVERSATION_READ),
        ModerationAction.target_post_id == post.id,
        ModerationAction.actor_id == reader.id).limit(1))
    if seen is not None:
        return False
    await _post_audit(session, ActionKind.CONVERSATION_READ, post, actor=reader, reason="")
    return True
