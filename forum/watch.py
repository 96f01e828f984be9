"""A background watch: one task per app process that does a due job every so often (welfare
items to escalate, ``moderation/escalation.py``; group sessions to move along,
``forum/groups.py``). Each job is safe to run in several processes at once (conditional
UPDATEs): the watch only says when. A failed look is logged and the next one tries again."""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from forum.db import Database, DatabaseUnavailable

log = logging.getLogger(__name__)


class Watch(abc.ABC):
    """``run_once()`` does what is due; ``start()``/``stop()`` run it every ``interval``
    seconds in the background. Subclasses give ``name``, ``interval`` and ``run_once``."""

    name = "watch"
    interval = 60.0

    def __init__(self, database: Database, *, clock: Callable[[], datetime]) -> None:
        self.database = database
        self.clock = clock
        """The app's notion of now (tests move ``app.state.clock`` instead of waiting)."""
        self._task: asyncio.Task[None] | None = None

    @abc.abstractmethod
    async def run_once(self) -> Any:
        """Do what is due now (each subclass its own job)."""

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.run_once()
            except DatabaseUnavailable:
                log.warning("%s: database unavailable, trying again later", self.name)
            except Exception:
                log.exception("%s failed; trying again later", self.name)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        if task.get_loop() is asyncio.get_running_loop():  # a test client may stop elsewhere
            with contextlib.suppress(asyncio.CancelledError):
                await task
