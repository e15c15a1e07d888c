"""Read-your-writes across services.

A write answers with a consistency token naming the last event it appended. A read on any
service may send it back (`X-Consistency-Token`); the read then waits, bounded, until that
service's projection has applied the event, and answers `X-Consistency: applied`, or
`X-Consistency: pending` when the wait ran out (the data shown may not include the write yet).
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Iterable
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.consumer.state import applied_among

TOKEN_HEADER = "X-Consistency-Token"
STATE_HEADER = "X-Consistency"
_PREFIX = "ct1."
log = logging.getLogger(__name__)
#: Ids of events applied lately that the watcher remembers (a read of one needs no query).
RECENT_APPLIED_KEPT = 10_000


class BadToken(ValueError):
    pass


def make_token(event_id: UUID) -> str:
    return _PREFIX + base64.urlsafe_b64encode(event_id.bytes).decode().rstrip("=")


def parse_token(token: str) -> UUID:
    if not token.startswith(_PREFIX):
        raise BadToken("not a consistency token")
    raw = token[len(_PREFIX) :]
    try:
        return UUID(bytes=base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except ValueError as exc:
        raise BadToken("not a consistency token") from exc


class AppliedWatcher:
    """Waits, bounded, until events are applied to this service's projection.

    However many reads wait, one query at a time asks about all their events (one query per
    waiting read made a burst of such reads the service's main work): the first read starts a
    poll, which repeats every `interval_s` while any read waits. A read is answered at once when
    this process's own consumer applies its event (`applied`), or applied it lately. Another
    process of the service may apply it instead: the poll sees that too."""

    def __init__(self, engine: AsyncEngine, interval_s: float = 0.02) -> None:
        self.engine = engine
        self.interval_s = interval_s
        self._waiters: dict[UUID, list[asyncio.Future[None]]] = {}
        self._poller: asyncio.Task[None] | None = None
        self._recent: dict[UUID, None] = {}  # ids applied lately, oldest first

    async def wait(self, event_id: UUID, timeout_s: float) -> bool:
        if event_id in self._recent:
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(event_id, []).append(waiter)
        if self._poller is None:
            self._poller = asyncio.create_task(self._poll(), name="consistency-poller")
        try:
            await asyncio.wait_for(waiter, timeout_s)
            return True
        except TimeoutError:
            return False
        finally:
            waiting = self._waiters.get(event_id, [])
            if waiter in waiting:
                waiting.remove(waiter)
                if not waiting:
                    del self._waiters[event_id]

    def applied(self, event_ids: Iterable[UUID]) -> None:
        """These events are committed to the projection: answer the reads waiting for them."""
        for event_id in event_ids:
            self._recent[event_id] = None
            for waiter in self._waiters.pop(event_id, ()):
                if not waiter.done():
                    waiter.set_result(None)
        while len(self._recent) > RECENT_APPLIED_KEPT:
            del self._recent[next(iter(self._recent))]

    async def _poll(self) -> None:
        try:
            while self._waiters:
                try:
                    self.applied(await self._applied_among(list(self._waiters)))
                except Exception:  # the database away for a moment: the reads time out
                    log.warning("consistency poll failed", exc_info=True)
                if self._waiters:
                    await asyncio.sleep(self.interval_s)
        finally:
            self._poller = None

    async def _applied_among(self, event_ids: list[UUID]) -> set[UUID]:
        if not event_ids:
            return set()
        async with self.engine.connect() as conn:
            return await applied_among(conn, event_ids)
