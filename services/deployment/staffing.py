"""Write-side staffing records: each officer's bookings (tours may not overlap, which PostgreSQL
enforces) and which deployments each request has."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.deployment.tables import deployment_requests, officer_bookings

EXCLUSION_VIOLATION = "23P01"


class DoubleBooked(Exception):
    """The exclusion constraint refused a booking: another tour of the officer overlaps it."""


def _period(start: date | Any, end: date) -> Any:
    return sa.func.daterange(start, end, "[]")  # both days included


async def overlapping(
    conn: AsyncConnection, officer_ref: str, start: date, end: date, *, excluding: UUID
) -> list[UUID]:
    """Deployments that book the officer at some time from `start` to `end`."""
    rows = await conn.scalars(
        sa.select(officer_bookings.c.deployment_id)
        .where(
            officer_bookings.c.officer_ref == officer_ref,
            officer_bookings.c.deployment_id != excluding,
            officer_bookings.c.period.op("&&")(_period(start, end)),
        )
        .order_by(officer_bookings.c.deployment_id)
    )
    return list(rows)


async def committed(conn: AsyncConnection, officer_ref: str, *, after: date) -> list[UUID]:
    """Deployments that hold the officer beyond `after`."""
    rows = await conn.scalars(
        sa.select(officer_bookings.c.deployment_id).where(
            officer_bookings.c.officer_ref == officer_ref,
            sa.func.upper(officer_bookings.c.period) > after,
        )
    )
    return list(rows)


async def _guarded(conn: AsyncConnection, statement: Any) -> None:
    try:
        async with conn.begin_nested():
            await conn.execute(statement)
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) == EXCLUSION_VIOLATION:
            raise DoubleBooked() from exc
        raise


async def book(
    conn: AsyncConnection, officer_ref: str, deployment_id: UUID, start: date, end: date
) -> None:
    await _guarded(
        conn,
        officer_bookings.insert().values(
            officer_ref=officer_ref, deployment_id=deployment_id, period=_period(start, end)
        ),
    )


async def extend(
    conn: AsyncConnection, deployment_id: UUID, officer_refs: Sequence[str], end: date
) -> None:
    await _guarded(
        conn,
        officer_bookings.update()
        .where(
            officer_bookings.c.deployment_id == deployment_id,
            officer_bookings.c.officer_ref.in_(list(officer_refs)),
        )
        .values(period=_period(sa.func.lower(officer_bookings.c.period), end)),
    )


async def end_early(
    conn: AsyncConnection, deployment_id: UUID, on: date, *, officer_ref: str | None = None
) -> None:
    """The officer (or everyone still booked) is free after `on`."""
    q = officer_bookings.update().where(
        officer_bookings.c.deployment_id == deployment_id,
        sa.func.upper(officer_bookings.c.period) > on + timedelta(days=1),
        sa.func.lower(officer_bookings.c.period) <= on,
    )
    if officer_ref is not None:
        q = q.where(officer_bookings.c.officer_ref == officer_ref)
    await conn.execute(q.values(period=_period(sa.func.lower(officer_bookings.c.period), on)))


async def release(conn: AsyncConnection, deployment_id: UUID) -> None:
    await conn.execute(
        officer_bookings.delete().where(officer_bookings.c.deployment_id == deployment_id)
    )


async def record_deployment(conn: AsyncConnection, deployment_id: UUID, request_id: UUID) -> None:
    await conn.execute(
        deployment_requests.insert().values(deployment_id=deployment_id, request_id=request_id)
    )


async def deployments_of(conn: AsyncConnection, request_id: UUID) -> list[UUID]:
    rows = await conn.scalars(
        sa.select(deployment_requests.c.deployment_id)
        .where(deployment_requests.c.request_id == request_id)
        .order_by(deployment_requests.c.deployment_id)
    )
    return list(rows)


async def unbook(conn: AsyncConnection, deployment_id: UUID, officer_ref: str) -> None:
    """A withdrawn nominee is free again for the tour they were booked on."""
    await conn.execute(
        officer_bookings.delete().where(
            officer_bookings.c.deployment_id == deployment_id,
            officer_bookings.c.officer_ref == officer_ref,
        )
    )


async def bookings_of(conn: AsyncConnection, officer_ref: str, *, after: date) -> list[Any]:
    """The officer's tours that end after `after`, as (first day, last day)."""
    rows = await conn.execute(
        sa.select(
            sa.func.lower(officer_bookings.c.period),
            sa.func.upper(officer_bookings.c.period) - 1,
        ).where(
            officer_bookings.c.officer_ref == officer_ref,
            sa.func.upper(officer_bookings.c.period) > after,
        )
    )
    return [(start, end) for start, end in rows]


async def overlapping_many(
    conn: AsyncConnection, officer_refs: Sequence[str], start: date, end: date, *, excluding: UUID
) -> dict[str, list[str]]:
    """For each of these officers, their other deployments that overlap `start` to `end`."""
    rows = await conn.execute(
        sa.select(officer_bookings.c.officer_ref, officer_bookings.c.deployment_id)
        .where(
            officer_bookings.c.officer_ref.in_(list(officer_refs)),
            officer_bookings.c.deployment_id != excluding,
            officer_bookings.c.period.op("&&")(_period(start, end)),
        )
        .order_by(officer_bookings.c.officer_ref, officer_bookings.c.deployment_id)
    )
    found: dict[str, list[str]] = {}
    for ref, deployment_id in rows:
        found.setdefault(ref, []).append(str(deployment_id))
    return found
