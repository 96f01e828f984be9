"""Virtual members that post through the real reply form, and the ledger of what they saw.

A member GETs the thread once (the CSRF cookie and the form's hidden fields, as a browser
would), then POSTs replies, each with a fresh client-generated ``idempotency_key``. The ledger
records every attempt: a key is *acknowledged* only on a 303 (the app answers 2xx/303 only
after its commit succeeded); a key whose request got no answer, or a 503, is *unknown* (the
commit may or may not have happened); any other answer is *refused*.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
import uuid
from dataclasses import dataclass, field

import httpx
from bs4 import BeautifulSoup

TRACEBACK_MARKERS = ("Traceback (most recent call last)", 'File "/', "sqlalchemy.exc",
                     "asyncpg.exceptions")
_POST_ID = re.compile(r"#post-(\d+)$")
REQUEST_TIMEOUT = 40.0


@dataclass
class Attempt:
    kind: str
    key: str | None
    member: int
    started: float
    latency: float
    status: int | None
    error: str | None = None
    post_id: int | None = None
    retry_after: str | None = None
    traceback: bool = False


@dataclass
class Ledger:
    """Every request made, and per key what is known of its fate."""

    attempts: list[Attempt] = field(default_factory=list)
    acked: dict[str, set[int]] = field(default_factory=dict)
    """key -> the post ids the 303s pointed to (one id, if the app is right)."""
    unknown: set[str] = field(default_factory=set)
    sent: dict[str, int] = field(default_factory=dict)
    """key -> member id of its author."""

    def record(self, attempt: Attempt) -> None:
        self.attempts.append(attempt)
        if attempt.key is None:
            return
        if attempt.status == 303 and attempt.post_id is not None:
            self.acked.setdefault(attempt.key, set()).add(attempt.post_id)
        elif attempt.status is None or attempt.status == 503:
            self.unknown.add(attempt.key)

    @property
    def acked_keys(self) -> set[str]:
        return set(self.acked)

    def writes(self) -> list[Attempt]:
        return [a for a in self.attempts if a.kind == "reply"]


def new_key() -> str:
    return uuid.uuid4().hex


def post_body(member: int, number: int) -> str:
    return (f"Message {number} de la pair-aidante n°{member} : aujourd'hui j'ai marché "
            "un peu, et ça m'a fait du bien. Un jour après l'autre.")


class VirtualMember:
    """One logged-in member with its own cookies and connection pool."""

    def __init__(self, base_url: str, member_id: int, token: str, ledger: Ledger) -> None:
        self.member_id = member_id
        self.ledger = ledger
        self.client = httpx.AsyncClient(
            base_url=base_url, cookies={"entrepairs": token}, timeout=REQUEST_TIMEOUT,
            follow_redirects=False, limits=httpx.Limits(max_connections=20),
        )
        self.fields: dict[str, str] = {}
        self.action = ""

    async def close(self) -> None:
        await self.client.aclose()

    async def open_thread(self, thread_id: int) -> None:
        """GET the thread page and keep its reply form's hidden fields (CSRF token)."""
        attempt = await self._send("read", None, "GET", f"/t/{thread_id}")
        if attempt.status != 200 or not self.fields:
            raise RuntimeError(f"no reply form on /t/{thread_id} (status {attempt.status})")

    async def read(self, thread_id: int) -> Attempt:
        return await self._send("read", None, "GET", f"/t/{thread_id}")

    async def reply(self, body: str, key: str) -> Attempt:
        self.ledger.sent[key] = self.member_id
        data = {**self.fields, "body": body, "idempotency_key": key}
        return await self._send("reply", key, "POST", self.action, data=data)

    async def reply_until_answered(self, body: str, key: str, *, deadline: float,
                                   tries: int = 30) -> Attempt:
        """Post; on a 503 or no answer, post again with the SAME key (as a person would
        press the button again), after a short wait, within ``tries`` and ``deadline``."""
        attempt = await self.reply(body, key)
        for _ in range(tries - 1):
            if attempt.status not in (None, 503) or time.monotonic() > deadline:
                break
            wait = min(float(attempt.retry_after or 1), 2.0)
            await asyncio.sleep(random.uniform(0.2, wait))  # noqa: S311 - jitter, not crypto
            attempt = await self.reply(body, key)
        return attempt

    async def _send(self, kind: str, key: str | None, method: str, url: str,
                    data: dict[str, str] | None = None) -> Attempt:
        started = time.monotonic()
        try:
            response = await self.client.request(method, url, data=data)
        except httpx.HTTPError as exc:
            attempt = Attempt(kind, key, self.member_id, started, time.monotonic() - started,
                              None, error=type(exc).__name__)
            self.ledger.record(attempt)
            return attempt
        attempt = Attempt(kind, key, self.member_id, started, time.monotonic() - started,
                          response.status_code, retry_after=response.headers.get("retry-after"),
                          traceback=any(m in response.text for m in TRACEBACK_MARKERS))
        if response.status_code == 303:
            match = _POST_ID.search(response.headers.get("location", ""))
            attempt.post_id = int(match.group(1)) if match else None
        if kind == "read" and response.status_code == 200 and not self.fields:
            self._keep_form(response.text)
        self.ledger.record(attempt)
        return attempt

    def _keep_form(self, html: str) -> None:
        form = BeautifulSoup(html, "html.parser").select_one("#reply-form")
        if form is None:
            return
        self.action = str(form.get("action"))
        self.fields = {str(i["name"]): str(i.get("value", ""))
                       for i in form.select("input[type=hidden][name]")}
