"""A tiny form-filling client: tests read pages and submit the forms on them, with their hidden
fields (CSRF token, idempotency key), the way a person's browser would without JavaScript, or
the way htmx would (``data-hx-post`` plus the headers from ``<body data-hx-headers>``).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from bs4 import BeautifulSoup, Tag
from litestar.testing import AsyncTestClient

DEFAULT_PASSWORD = "une phrase assez longue"

# Consonants only: no digits (a run such as "112" or "3114" is a helpline's number, which the
# forum refuses in a pseudonym), no vowels (no "modo", "admin" or other reserved word can form).
_NAME_LETTERS = "bcdfghjkmnpqrstvwxz"


def random_pseudonym(prefix: str) -> str:
    """A fresh pseudonym the forum accepts whatever the draw: ``prefix`` then eight consonants."""
    return prefix + "".join(secrets.choice(_NAME_LETTERS) for _ in range(8))


@dataclass
class Page:
    response: httpx.Response
    soup: BeautifulSoup = field(init=False)

    def __post_init__(self) -> None:
        self.soup = BeautifulSoup(self.response.text, "html.parser")

    @property
    def status(self) -> int:
        return self.response.status_code

    def one(self, selector: str) -> Tag:
        found = self.soup.select_one(selector)
        assert found is not None, f"{selector!r} not found in {self.response.url}"
        return found

    def all(self, selector: str) -> list[Tag]:
        return self.soup.select(selector)

    def text(self, selector: str = "main") -> str:
        return " ".join(self.one(selector).get_text(" ").split())

    def form(self, selector: str = "main form") -> Form:
        """The form ``selector`` names, or, when it names a submit button, the button's form
        as that button sends it (its ``formaction``, its name and value)."""
        found = self.one(selector)
        if found.name == "button" or found.get("type") == "submit":
            owner = found.find_parent("form")
            assert owner is not None, f"{selector!r} is a button outside any form"
            return Form(owner, self, submitter=found)
        return Form(found, self)

    def hx_headers(self) -> dict[str, str]:
        body = self.soup.body
        raw = body.get("data-hx-headers") if body else None
        return json.loads(raw) if raw else {}


@dataclass
class Form:
    element: Tag
    page: Page
    submitter: Tag | None = None

    @property
    def action(self) -> str:
        if self.submitter is not None and self.submitter.get("formaction"):
            return str(self.submitter["formaction"])
        return str(self.element.get("action") or self.page.response.url.path)

    def values(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for field_tag in self.element.select("input[name], textarea[name], select[name]"):
            name = str(field_tag["name"])
            if field_tag.name == "textarea":
                values[name] = field_tag.get_text()
            elif field_tag.name == "select":
                chosen = field_tag.select_one("option[selected]") or field_tag.select_one("option")
                values[name] = str(chosen.get("value", "")) if chosen else ""
            elif field_tag.get("type") in ("checkbox", "radio"):
                if field_tag.has_attr("checked"):
                    values[name] = str(field_tag.get("value", "on"))
            else:
                values[name] = str(field_tag.get("value", ""))
        if self.submitter is not None and self.submitter.get("name"):
            values[str(self.submitter["name"])] = str(self.submitter.get("value", ""))
        return values


class Browser:
    def __init__(self, client: AsyncTestClient) -> None:
        self.client = client

    async def get(self, url: str, **kwargs: Any) -> Page:
        return Page(await self.client.get(url, **kwargs))

    async def submit(self, form: Form, data: dict[str, str] | None = None, *,
                     htmx: bool = False, follow: bool = False) -> Page:
        payload = {**form.values(), **(data or {})}
        headers: dict[str, str] = {}
        action = form.action
        if htmx:
            action = str(form.element.get("data-hx-post") or action)
            headers = {"HX-Request": "true", "HX-Current-URL": str(form.page.response.url),
                       **form.page.hx_headers()}
        response = await self.client.post(action, data=payload, headers=headers,
                                          follow_redirects=follow)
        return Page(response)

    async def follow(self, page: Page) -> Page:
        assert page.status in (302, 303), page.status
        return await self.get(page.response.headers["location"])

    async def signup(self, pseudonym: str, password: str = DEFAULT_PASSWORD) -> str:
        """Sign up through the real form; returns the recovery code shown once."""
        page = await self.get("/signup")
        result = await self.submit(page.form(), {
            "pseudonym": pseudonym, "password": password, "password_confirm": password,
            "consent": "yes",
        })
        assert result.status == 303, result.text()
        assert result.response.headers["location"] == "/recovery-code"
        shown = await self.follow(result)
        return shown.one("#recovery-code code").get_text().strip()

    async def login(self, pseudonym: str, password: str = DEFAULT_PASSWORD) -> Page:
        page = await self.get("/login")
        return await self.submit(page.form(), {"pseudonym": pseudonym, "password": password})

    async def logout(self) -> Page:
        page = await self.get("/")
        return await self.submit(page.form("form[action='/logout']"))

    async def start_thread(self, space_slug: str, title: str, body: str,
                           **extra: str) -> Page:
        page = await self.get(f"/s/{space_slug}/new")
        return await self.submit(page.form("form.composer"),
                                 {"title": title, "body": body, **extra})

    async def reply(self, thread_id: int, body: str, *, htmx: bool = False,
                    page_number: int | None = None, **extra: str) -> Page:
        suffix = f"?page={page_number}" if page_number else ""
        page = await self.get(f"/t/{thread_id}{suffix}")
        return await self.submit(page.form("#reply-form"), {"body": body, **extra}, htmx=htmx)


# -- more than one person at once (issue 7: notifications, reactions, blocking) -----------------

@asynccontextmanager
async def another_browser(app: Any) -> AsyncIterator[Browser]:
    """A second person's browser on the same app (its own cookies)."""
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as other:
        yield Browser(other)
