"""Read-your-writes across services.

A write answers with a consistency token naming the last event it appended. A read on any
service may send it back (`X-Consistency-Token`); the read then waits, bounded, until that
service's projection has applied the event, and answers `X-Consistency: applied`, or
`X-Consistency: pending` when the wait ran out (the data shown may not include the write yet).
"""

from __future__ import annotations

import asyncio
import base64
import time
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.backbone_tables import processed_events

TOKEN_HEADER = "X-Consistency-Token"
STATE_HEADER = "X-Consistency"
_PREFIX = "ct1."


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


async def has_applied(engine: AsyncEngine, event_id: UUID) -> bool:
    async with engine.connect() as conn:
        found = await conn.scalar(
            sa.select(processed_events.c.event_id).where(processed_events.c.event_id == event_id)
        )
    return found is not None


async def wait_applied(
    engine: AsyncEngine, event_id: UUID, timeout_s: float, interval_s: float = 0.02
) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        if await has_applied(engine, event_id):
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(interval_s)
