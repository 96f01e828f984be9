"""Group session pages: a space's sessions, scheduling one, a session's page, registering, and
the facilitator's controls (``forum/groups.py`` holds the rules; ``docs/GROUPS.md`` the how-to).

The live thread itself is an ordinary thread page (``/t/{id}``) that only the participants
can open; removing a message from it is a moderation action (``moderation/web.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from forum import groups, i18n, permissions, queries
from forum.db import commit
from forum.gate import GateRefusal
from forum.i18n import N_, REGION_TIMEZONES
from forum.models import GroupSession, GroupSessionStatus, Member, Space
from forum.resources import lines_for, region_name
from forum.throttle import clock_of
from forum.web.context import locale_of, region_of, viewer_of
from forum.web.deps import SAFE_METHODS, Db, Gate, Reader
from forum.web.forms import FieldError, FormErrors, clean_text, read_form
from forum.web.htmx import see_other

TITLE_MIN, TITLE_MAX = 3, 150
THEME_MAX = 1_000
AGREEMENT_MIN, AGREEMENT_MAX = 20, 5_000
DEFAULT_CAPACITY = 8
TIMEZONES: tuple[str, ...] = tuple(dict.fromkeys(REGION_TIMEZONES.values()))
"""The time zones a start may be given in: those of the regions the forum serves."""

DEFAULT_AGREEMENT = N_(
    "- Ce qui se dit dans le groupe reste dans le groupe.\n"
    "- On parle en « je », de ce qu'on vit ; on ne conseille pas sans qu'on le demande.\n"
    "- On s'écoute sans juger ; chacun·e peut se taire ou partir quand il ou elle veut.\n"
    "- Pas de détails de méthode, de chiffres (poids, doses) ni de ce qui permettrait de "
    "reconnaître quelqu'un.\n"
    "- Si ça va trop mal, la personne qui anime peut t'aider à trouver une ligne d'écoute.")

MISSED_AGREEMENT = N_("Pour t'inscrire, coche la case qui dit que tu acceptes l'accord du "
                      "groupe.")
FULL = N_("Cette session est complète. D'autres sessions sont proposées dans l'espace.")


@dataclass
class GroupForm:
    """The scheduling form, kept as typed."""

    title: str = ""
    theme: str = ""
    agreement: str = ""
    day: str = ""
    start: str = ""
    timezone: str = ""
    minutes: str = "60"
    capacity: str = str(DEFAULT_CAPACITY)
    open_listing: bool = False
    keep_after: bool = True
    starts_at: datetime | None = field(default=None, repr=False)


def _starts_at(form: GroupForm, errors: FormErrors, now: datetime) -> datetime | None:
    try:
        day = date.fromisoformat(form.day)
    except ValueError:
        errors["day"] = FieldError(N_("Choisis le jour de la session (par exemple 2026-12-24)."))
        return None
    try:
        start = time.fromisoformat(form.start)
    except ValueError:
        errors["start"] = FieldError(N_("Choisis l'heure de début (par exemple 20:30)."))
        return None
    zone = ZoneInfo(form.timezone if form.timezone in TIMEZONES else "UTC")
    local = datetime.combine(day, start.replace(second=0, microsecond=0), zone)
    try:
        starts_at = local.astimezone(UTC)
    except (OverflowError, ValueError):
        errors["day"] = FieldError(N_("Choisis un jour dans les mois qui viennent."))
        return None
    if starts_at.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        errors["start"] = FieldError(N_("Cette heure n'existe pas ce jour-là : on change "
                                        "d'heure cette nuit-là. Choisis-en une autre."))
        return None
    if starts_at <= now:
        errors["day"] = FieldError(N_("Ce moment est déjà passé : choisis un début à venir."))
        return None
    if starts_at > now + groups.MAX_AHEAD:
        errors["day"] = FieldError(N_("On ne programme pas plus de six mois à l'avance."))
        return None
    return starts_at


def _whole(raw: str, low: int, high: int) -> int | None:
    try:
        value = int(raw.strip())
    except ValueError:
        return None
    return value if low <= value <= high else None


def parse_group_form(values: dict[str, str], *, now: datetime,
                     default_timezone: str) -> tuple[GroupForm, FormErrors]:
    errors = FormErrors()
    form = GroupForm(
        day=values.get("day", "").strip(), start=values.get("start", "").strip(),
        timezone=values.get("timezone", default_timezone),
        minutes=values.get("minutes", "").strip(), capacity=values.get("capacity", "").strip(),
        open_listing=values.get("open_listing") == "1",
        keep_after=values.get("keep_after", "1") == "1",
    )
    form.title, error = clean_text(values.get("title"), min_length=TITLE_MIN,
                                   max_length=TITLE_MAX, multiline=False)
    if error:
        errors["title"] = error
    if (values.get("theme") or "").strip():  # optional: only a theme given is checked
        form.theme, error = clean_text(values.get("theme"), min_length=1,
                                       max_length=THEME_MAX, multiline=True)
        if error:
            errors["theme"] = error
    form.agreement, error = clean_text(values.get("agreement"), min_length=AGREEMENT_MIN,
                                       max_length=AGREEMENT_MAX, multiline=True)
    if error:
        errors["agreement"] = error
    if form.timezone not in TIMEZONES:
        form.timezone = default_timezone
    form.starts_at = _starts_at(form, errors, now)
    if _whole(form.minutes, 1, 10_000) not in groups.MINUTES_CHOICES:
        errors["minutes"] = FieldError(N_("Choisis une durée dans la liste."))
    if _whole(form.capacity, 2, groups.MAX_CAPACITY) is None:
        errors["capacity"] = FieldError(
            N_("Un groupe compte de %(min)s à %(max)s personnes."),
            {"min": 2, "max": groups.MAX_CAPACITY})
    return form, errors


async def _moderates(db: AsyncSession, viewer: Member | None, space_id: int) -> bool:
    if viewer is None:
        return False
    return viewer.id in await queries.space_moderator_ids(db, space_id)


def _default_timezone(request: Request[Any, Any, Any]) -> str:
    return REGION_TIMEZONES.get(region_of(request), "UTC")


# -- a space's sessions ----------------------------------------------------------------------

@get("/s/{slug:str}/sessions", name="space_sessions")
async def space_sessions(request: Request[Any, Any, Any], db: Db, slug: FromPath[str]
                         ) -> Template:
    viewer = viewer_of(request)
    space = await queries.get_space_or_404(db, slug)
    permissions.check_read_space_content(viewer, space)
    coming, past = await queries.space_group_sessions(db, viewer, space)
    ids = [group.id for group in coming + past]
    mine = await queries.registered_group_ids(db, viewer.id, ids) if viewer else frozenset()
    return Template(template_name="groups/list.html", context={
        "space": space, "coming": coming, "past": past, "mine": mine,
        "counts": await queries.registration_counts(db, ids),
        "can_schedule": permissions.can_schedule_group(
            viewer, space, moderates=await _moderates(db, viewer, space.id)),
    })


# -- scheduling ------------------------------------------------------------------------------

async def _schedulable(request: Request[Any, Any, Any], db: AsyncSession,
                       slug: str) -> tuple[Space, Member]:
    viewer = permissions.check_logged_in(viewer_of(request))
    space = await queries.get_space_or_404(db, slug)
    permissions.check_read_space_content(viewer, space)
    if not permissions.can_schedule_group(viewer, space,
                                          moderates=await _moderates(db, viewer, space.id)):
        raise PermissionDeniedException()
    return space, viewer


def _schedule_page(request: Request[Any, Any, Any], space: Space, form: GroupForm,
                   errors: FormErrors, status: int = 200) -> Template:
    return Template(template_name="groups/new.html", status_code=status, context={
        "space": space, "form": form, "errors": errors, "timezones": TIMEZONES,
        "minutes_choices": groups.MINUTES_CHOICES, "max_capacity": groups.MAX_CAPACITY,
    })


@get("/s/{slug:str}/sessions/nouvelle", name="new_group_session")
async def new_group_session(request: Request[Any, Any, Any], db: Db, slug: FromPath[str]
                            ) -> Template:
    space, _ = await _schedulable(request, db, slug)
    agreement = i18n.translations(locale_of(request)).gettext(DEFAULT_AGREEMENT)
    form = GroupForm(timezone=_default_timezone(request), agreement=agreement)
    return _schedule_page(request, space, form, FormErrors())


@post("/s/{slug:str}/sessions", name="schedule_group_session")
async def schedule_group_session(request: Request[Any, Any, Any], db: Db, reader: Reader,
                                 gate: Gate, slug: FromPath[str]) -> Response[Any]:
    """Access first (in a read-only session: nobody else makes the gate read a text), then the
    agreement through the gate outside any write transaction, then one write."""
    values = await read_form(request)
    space, facilitator = await _schedulable(request, reader, slug)
    await reader.close()
    form, errors = parse_group_form(values, now=clock_of(request),
                                    default_timezone=_default_timezone(request))
    reading = None
    if not errors:
        try:
            reading = await gate.read(form.agreement, locale=locale_of(request))
        except GateRefusal as refusal:
            errors["agreement"] = FieldError(refusal.message)
    if errors or reading is None or form.starts_at is None:
        return _schedule_page(request, space, form, errors, status=422)
    minutes = _whole(form.minutes, 1, 10_000) or 60
    capacity = _whole(form.capacity, 2, groups.MAX_CAPACITY) or DEFAULT_CAPACITY
    group = await groups.do_schedule(db, space=space, facilitator=facilitator, plan=groups.Plan(
        title=form.title, theme=form.theme, agreement=form.agreement,
        agreement_html=reading.html, renderer_version=reading.renderer_version,
        starts_at=form.starts_at, minutes=minutes, capacity=capacity,
        open_listing=form.open_listing, keep_after=form.keep_after))
    await commit(db)
    return see_other(request, f"/sessions/{group.id}")


# -- a session's page ------------------------------------------------------------------------

async def _group(request: Request[Any, Any, Any], db: AsyncSession, group_id: int
                 ) -> GroupSession:
    """The session, brought to where its clock says it is (started, ended) before it shows,
    without waiting for the watch: a page read does that step in a write of its own."""
    viewer = viewer_of(request)
    group = await queries.get_group_session_or_404(db, viewer, group_id)
    now = clock_of(request)
    if not await groups.is_due(db, group, now):
        return group
    if request.method not in SAFE_METHODS:
        await groups.catch_up(db, group, now=now)
        return group
    async with request.app.state.database.writing() as writer:
        fresh = await writer.get(GroupSession, group.id)
        if fresh is not None:
            await groups.catch_up(writer, fresh, now=now)
            await commit(writer)
    await db.rollback()  # read again after the write, in a new snapshot
    return await queries.get_group_session_or_404(db, viewer, group_id)


@get("/sessions/{group_id:int}", name="group_session")
async def group_session(request: Request[Any, Any, Any], db: Db, group_id: FromPath[int]
                        ) -> Template:
    group = await _group(request, db, group_id)
    return await _session_page(request, db, group, FormErrors())


async def _session_page(request: Request[Any, Any, Any], db: AsyncSession, group: GroupSession,
                        errors: FormErrors, status: int = 200) -> Template:
    viewer = viewer_of(request)
    moderates = await _moderates(db, viewer, group.space_id)
    registered = bool(viewer) and group.id in await queries.registered_group_ids(
        db, viewer.id, [group.id])
    thread = await groups.thread_of(db, group.id)
    participant = viewer is not None and await queries.group_session_participant(
        db, viewer, group.id, group.space_id)
    region = region_of(request)
    lines = lines_for(region, topics=group.space.topics)
    return Template(template_name="groups/show.html", status_code=status, context={
        "group": group, "space": group.space, "errors": errors, "registered": registered,
        "registered_count": await groups.registered_count(db, group.id),
        "thread": thread if participant else None,
        "ends_at": groups.ends_at(group),
        "facilitating": permissions.can_facilitate(viewer, group.facilitator_id,
                                                    moderates=moderates),
        "can_register": viewer is not None and not permissions.is_restricted(viewer)
        and viewer.id != group.facilitator_id and group.status in groups.LIVE_OR_SCHEDULED,
        "lines": lines, "primary": lines.primary(),
        "region_label": region_name(region, locale_of(request)),
        "Status": GroupSessionStatus,
    })


@post("/sessions/{group_id:int}/inscription", name="group_register")
async def group_register(request: Request[Any, Any, Any], db: Db, group_id: FromPath[int]
                         ) -> Response[Any]:
    values = await read_form(request)
    member = permissions.check_logged_in(viewer_of(request))
    group = await _group(request, db, group_id)
    if permissions.is_restricted(member):
        raise PermissionDeniedException(detail=permissions.REFUSED_RESTRICTED)
    if group.status not in groups.LIVE_OR_SCHEDULED or member.id == group.facilitator_id:
        return see_other(request, f"/sessions/{group.id}")  # nothing to do: no place taken
    if values.get("agree") != "1":
        return await _session_page(request, db, group,
                                   FormErrors(agree=FieldError(MISSED_AGREEMENT)), status=422)
    outcome = await groups.do_register(db, group, member)
    if outcome == groups.FULL:
        return await _session_page(request, db, group,
                                   FormErrors(agree=FieldError(FULL)), status=409)
    await commit(db)
    return see_other(request, f"/sessions/{group.id}#inscription")


@post("/sessions/{group_id:int}/desinscription", name="group_unregister")
async def group_unregister(request: Request[Any, Any, Any], db: Db, group_id: FromPath[int]
                           ) -> Response[Any]:
    member = permissions.check_logged_in(viewer_of(request))
    group = await _group(request, db, group_id)
    await groups.do_unregister(db, group, member)
    await commit(db)
    return see_other(request, f"/sessions/{group.id}")


FACILITATOR_STEPS = ("pause", "reprise", "fin", "annulation")


@post("/sessions/{group_id:int}/{step:str}", name="group_step")
async def group_step(request: Request[Any, Any, Any], db: Db, group_id: FromPath[int],
                     step: FromPath[str]) -> Response[Any]:
    if step not in FACILITATOR_STEPS:
        raise NotFoundException()
    viewer = permissions.check_logged_in(viewer_of(request))
    group = await _group(request, db, group_id)
    if not permissions.can_facilitate(viewer, group.facilitator_id,
                                      moderates=await _moderates(db, viewer, group.space_id)):
        raise PermissionDeniedException()
    now = clock_of(request)
    if step == "pause":
        await groups.do_set_paused(db, group, True)
    elif step == "reprise":
        await groups.do_set_paused(db, group, False)
    elif step == "fin":
        await groups.do_end(db, group, now=now)
    else:
        await groups.do_cancel(db, group)
    await commit(db)
    thread = await groups.thread_of(db, group.id)
    if step in ("pause", "reprise") and thread is not None:
        return see_other(request, f"/t/{thread.id}")
    return see_other(request, f"/sessions/{group.id}")


ROUTES = [space_sessions, new_group_session, schedule_group_session, group_session,
          group_register, group_unregister, group_step]
