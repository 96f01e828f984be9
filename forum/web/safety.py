"""The member's private safety plan (one click from the help link when logged in)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Template

from forum import actions, queries
from forum.db import commit
from forum.i18n import N_
from forum.permissions import check_logged_in
from forum.web.context import viewer_of
from forum.web.deps import Db
from forum.web.forms import FieldError, FormErrors, clean_text, read_form
from forum.web.htmx import see_other

FIELDS = ("warning_signs", "what_helps", "people", "lines")
FIELD_MAX = 4000
EMPTY_PLAN = N_("Ton plan est vide : remplis au moins une partie, ou supprime-le.")


@get("/safety-plan", name="safety_plan")
async def safety_plan_page(request: Request[Any, Any, Any], db: Db) -> Template:
    member = check_logged_in(viewer_of(request))
    plan = await queries.get_safety_plan(db, member.id)
    values = {name: getattr(plan, name) if plan else "" for name in FIELDS}
    return Template(template_name="safety/index.html",
                    context={"values": values, "errors": FormErrors(), "plan": plan},
                    headers={"Cache-Control": "no-store"})


@post("/safety-plan", name="save_safety_plan")
async def save_safety_plan(request: Request[Any, Any, Any], db: Db) -> Response[Any]:
    form = await read_form(request)
    member = check_logged_in(viewer_of(request))
    if form.get("delete"):
        await actions.do_delete_safety_plan(db, member)
        await commit(db)
        return see_other(request, "/safety-plan")
    values: dict[str, str] = {}
    errors = FormErrors()
    for name in FIELDS:
        value, error = clean_text(form.get(name), min_length=0, max_length=FIELD_MAX,
                                  multiline=True)
        values[name] = value
        if error and value:
            errors[name] = error
    if not errors and not any(values.values()):
        errors["warning_signs"] = FieldError(EMPTY_PLAN)
    if errors:
        return Template(template_name="safety/index.html", status_code=422,
                        context={"values": values, "errors": errors, "plan": None},
                        headers={"Cache-Control": "no-store"})
    await actions.do_save_safety_plan(db, member, **values)
    await commit(db)
    return see_other(request, "/safety-plan?saved=1")


ROUTES = [safety_plan_page, save_safety_plan]
