"""Welfare items nobody claims are escalated: a background watch in every app process.

Every ``INTERVAL`` seconds the watch asks ``moderation.actions.do_escalate_unclaimed`` for the
urgent items (an open danger flag, from the crisis screen or a member) that nobody has claimed
("Je m'en occupe") ``FORUM_WELFARE_ESCALATION_MINUTES`` after they were raised: every moderator
of the space and every admin is told, once, and the escalation is in the moderation log. Several
processes may run the watch at once: each item is taken by one conditional UPDATE.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from forum.db import Database, commit
from forum.models import Post
from forum.watch import Watch
from moderation.actions import do_escalate_unclaimed

INTERVAL = 60.0
"""Seconds between two looks (at most): an item waits at most this much past its deadline.
With a deadline under four minutes the watch looks four times per deadline instead."""

logger = logging.getLogger(__name__)


class WelfareWatch(Watch):
    """``run_once()`` escalates what is due; ``start()``/``stop()`` run it in the background
    (``forum/watch.py``)."""

    name = "welfare watch"

    def __init__(self, database: Database, *, after: timedelta,
                 clock: Callable[[], datetime]) -> None:
        super().__init__(database, clock=clock)
        self.after = after

    async def run_once(self) -> list[Post]:
        async with self.database.writing() as session:
            escalated = await do_escalate_unclaimed(session, now=self.clock(), after=self.after)
            await commit(session)
        if escalated:
            logger.info("welfare items escalated", extra={"count": len(escalated)})
        return escalated

    @property
    def interval(self) -> float:  # type: ignore[override]
        return min(INTERVAL, max(5.0, self.after.total_seconds() / 4))
