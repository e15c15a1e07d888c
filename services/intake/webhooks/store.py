"""All the SQL of webhook endpoints and deliveries (the API and the worker call these)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.webhooks.tables import webhook_deliveries as deliveries
from services.intake.webhooks.tables import webhook_endpoints as endpoints

ENDPOINT_COLUMNS = [c for c in endpoints.c if c.name != "secret"]
DELIVERY_COLUMNS = [c for c in deliveries.c if c.name != "body"]


async def count_endpoints(conn: AsyncConnection, partner_id: str) -> int:
    query = sa.select(sa.func.count()).where(endpoints.c.partner_id == partner_id)
    return int(await conn.scalar(query.select_from(endpoints)) or 0)


async def insert_endpoint(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(endpoints.insert().values(**values))


async def get_endpoint(
    conn: AsyncConnection, partner_id: str, endpoint_id: UUID
) -> dict[str, Any] | None:
    """The partner's endpoint (never another partner's), without its secret."""
    row = (
        await conn.execute(
            sa.select(*ENDPOINT_COLUMNS).where(
                endpoints.c.endpoint_id == endpoint_id, endpoints.c.partner_id == partner_id
            )
        )
    ).first()
    return dict(row._mapping) if row else None


async def list_endpoints(
    conn: AsyncConnection, partner_id: str, after: tuple[datetime, UUID] | None, limit: int
) -> list[dict[str, Any]]:
    query = sa.select(*ENDPOINT_COLUMNS).where(endpoints.c.partner_id == partner_id)
    if after is not None:
        query = query.where(sa.tuple_(endpoints.c.created_at, endpoints.c.endpoint_id) > after)
    query = query.order_by(endpoints.c.created_at, endpoints.c.endpoint_id).limit(limit)
    return [dict(r._mapping) for r in (await conn.execute(query)).all()]


async def update_endpoint(
    conn: AsyncConnection, partner_id: str, endpoint_id: UUID, values: dict[str, Any]
) -> bool:
    result = await conn.execute(
        endpoints.update()
        .where(endpoints.c.endpoint_id == endpoint_id, endpoints.c.partner_id == partner_id)
        .values(**values, updated_at=sa.func.now())
    )
    return bool(result.rowcount)


async def delete_endpoint(conn: AsyncConnection, partner_id: str, endpoint_id: UUID) -> bool:
    result = await conn.execute(
        endpoints.delete().where(
            endpoints.c.endpoint_id == endpoint_id, endpoints.c.partner_id == partner_id
        )
    )
    return bool(result.rowcount)


async def list_deliveries(
    conn: AsyncConnection,
    endpoint_id: UUID,
    state: str | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """The endpoint's deliveries, newest first (the caller has checked the endpoint is its)."""
    query = sa.select(*DELIVERY_COLUMNS).where(deliveries.c.endpoint_id == endpoint_id)
    if state is not None:
        query = query.where(deliveries.c.state == state)
    if after is not None:
        query = query.where(sa.tuple_(deliveries.c.created_at, deliveries.c.delivery_id) < after)
    query = query.order_by(deliveries.c.created_at.desc(), deliveries.c.delivery_id.desc())
    return [dict(r._mapping) for r in (await conn.execute(query.limit(limit))).all()]


async def get_delivery(
    conn: AsyncConnection, endpoint_id: UUID, delivery_id: UUID
) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            sa.select(*DELIVERY_COLUMNS).where(
                deliveries.c.delivery_id == delivery_id, deliveries.c.endpoint_id == endpoint_id
            )
        )
    ).first()
    return dict(row._mapping) if row else None


async def schedule_redelivery(conn: AsyncConnection, endpoint_id: UUID, delivery_id: UUID) -> bool:
    """Due again now with a fresh set of attempts; the same id (`webhook-id`) and body."""
    result = await conn.execute(
        deliveries.update()
        .where(deliveries.c.delivery_id == delivery_id, deliveries.c.endpoint_id == endpoint_id)
        .values(state="pending", attempts=0, next_attempt_at=sa.func.now(), delivered_at=None)
    )
    return bool(result.rowcount)


@dataclass(frozen=True)
class Due:
    delivery_id: UUID
    attempts: int
    body: str
    url: str
    secret: str


async def claim_due(conn: AsyncConnection, limit: int) -> list[Due]:
    """Deliveries due now, locked until this transaction ends; another instance's worker skips
    them (SKIP LOCKED), so no two send the same one at once."""
    query = (
        sa.select(
            deliveries.c.delivery_id,
            deliveries.c.attempts,
            deliveries.c.body,
            endpoints.c.url,
            endpoints.c.secret,
        )
        .join(endpoints, endpoints.c.endpoint_id == deliveries.c.endpoint_id)
        .where(
            deliveries.c.state == "pending",
            deliveries.c.next_attempt_at <= sa.func.now(),
            endpoints.c.active,
        )
        .order_by(deliveries.c.next_attempt_at)
        .limit(limit)
        .with_for_update(of=deliveries, skip_locked=True)
    )
    return [Due(**r._mapping) for r in (await conn.execute(query)).all()]


async def record_attempt(
    conn: AsyncConnection,
    delivery_id: UUID,
    *,
    attempts: int,
    at: datetime,
    delivered: bool,
    status_code: int | None,
    error: str | None,
    next_attempt_at: datetime | None,
) -> None:
    state = "delivered" if delivered else ("pending" if next_attempt_at else "dead")
    values: dict[str, Any] = {
        "state": state,
        "attempts": attempts,
        "last_attempt_at": at,
        "last_status_code": status_code,
        "last_error": error,
    }
    if delivered:
        values["delivered_at"] = at
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    await conn.execute(
        deliveries.update().where(deliveries.c.delivery_id == delivery_id).values(**values)
    )
