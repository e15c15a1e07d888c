"""Read-model SQL behind the policy what-if: the cases submitted in a period (a module of its
own beside `queries.py`, which the as-of views are changing)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.triage.tables import cases


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


async def cases_submitted(
    conn: AsyncConnection, start: date, end: date, statuses: Sequence[str], *, limit: int
) -> list[dict[str, Any]]:
    """The documents of the cases submitted from `start` to `end` (UTC days, both included),
    with these statuses (any, if none), at most `limit` of them."""
    c = cases.c
    q = sa.select(c.document).where(
        c.submitted_at >= _midnight(start), c.submitted_at < _midnight(end + timedelta(days=1))
    )
    if statuses:
        q = q.where(c.status.in_(list(statuses)))
    rows = await conn.execute(q.order_by(c.request_id).limit(limit))
    return [dict(row.document) for row in rows]
