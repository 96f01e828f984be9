"""Structured logs: one JSON object per line, with the request id; nothing that identifies anyone.

- Every record carries ``time`` (UTC, ISO 8601 with ``Z``), ``level``, ``logger``, ``event``
  (the message), ``request_id`` when it happens during a request, and the ``fields`` a caller
  passes with ``extra={"fields": {...}}``.
- The request middleware logs one ``request`` line per request: method, route *template*
  (``/t/{thread_id}``, never the path or query string), status and duration. It never
  logs an address, a user agent, a cookie, a pseudonym or anything someone wrote.
- JSON encoding escapes control characters, so a value cannot forge a second line (LOG-04).

The request id is also sent back in ``X-Request-Id``, so a person can quote it.
"""

from __future__ import annotations

import contextvars
import json
import logging
import secrets
import sys
import time
from datetime import UTC, datetime
from typing import IO, Any

from litestar._asgi.utils import wrap_in_exception_handler
from litestar.types import ASGIApp, Message, Receive, Scope, Send

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "forum_request_id", default=None
)

HANDLER_NAME = "entrepairs-json"
QUIET_LOGGERS = ("sqlalchemy.engine", "sqlalchemy.pool", "sqlalchemy.orm", "aiosqlite",
                 "asyncpg", "httpx", "httpcore")
"""Never more verbose than WARNING, whatever FORUM_LOG_LEVEL says."""
_base_factory = logging.getLogRecordFactory()


def _record_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    record.request_id = request_id_var.get()
    return record


if getattr(_base_factory, "__name__", "") != "_record_factory":
    logging.setLogRecordFactory(_record_factory)


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON line. Exception text is reduced to its type."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC)
        entry: dict[str, Any] = {
            "time": stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update({k: v for k, v in fields.items() if k not in entry})
        if record.exc_info and record.exc_info[0] is not None:
            # The message of an exception can quote SQL parameters (what someone wrote).
            entry["exception"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=True, default=str)


def configure_logging(level: str = "INFO", stream: IO[str] | None = None) -> logging.Handler:
    """Send every log record to ``stream`` (stderr) as JSON; replaces plain-text handlers.

    Idempotent: calling it again replaces the handler it installed before. Handlers that
    other tools attach (pytest's capture) are left alone.
    """
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == HANDLER_NAME or type(existing) is logging.StreamHandler:
            root.removeHandler(existing)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn.access",):
        logging.getLogger(name).disabled = True  # it logs client addresses
    for name in QUIET_LOGGERS:
        # At DEBUG they would log SQL parameters, i.e. pseudonyms and what people wrote.
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler


class RequestLogMiddleware:
    """ASGI middleware: a request id for the whole request, and one log line at its end.

    The middleware below it (the input guard, the session check, Litestar's CSRF check) can
    raise instead of answering: a failed CSRF check raises ``PermissionDeniedException``.
    Their exceptions are turned into the app's error pages *inside* this middleware (the
    same exception handling Litestar puts around every handler), so the line logged is the
    status the client got, and the response carries its ``X-Request-Id``; before, they went
    past it, were logged as 500 and answered without the id.
    """

    def __init__(self, app: ASGIApp) -> None:
        # Litestar 2's own wrapper (ExceptionHandlerMiddleware; its public alias is
        # deprecated): it resolves the route's exception handlers, i.e. forum/web/errors.py.
        self.app = wrap_in_exception_handler(app)
        self.log = logging.getLogger("forum.request")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = secrets.token_hex(8)
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self.log.info("request", extra={"fields": {
                "method": scope.get("method"),
                "route": scope.get("path_template") or "unmatched",
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            }})
            request_id_var.reset(token)
