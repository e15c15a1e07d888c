"""Operators' side of dead letters: list them, redrive (apply again, then the parked events in
order) or skip (drop the failed event, then apply the parked ones). Both release the key only when
everything parked behind it has been applied; if a parked event fails in turn, it becomes the
key's new dead letter and the rest stay parked behind it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.backbone_tables import dead_letters, parked_events
from shared.consumer.applier import ProjectionApplier
from shared.consumer.deadletters import HeldRecord, dead_letter
from shared.consumer.records import describe_error, read_envelope
from shared.consumer.state import applied_among, lock_keys, mark_applied


@dataclass(frozen=True)
class DeadLetterView:
    id: int
    topic: str
    partition: int
    offset: int
    key: str
    event_id: str | None
    event_type: str | None
    error: str
    attempts: int
    status: str
    failed_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    parked_behind: int


@dataclass(frozen=True)
class ResolveOutcome:
    dead_letter_id: int
    action: Literal["redrive", "skip"]
    applied: int  # parked events applied after it
    released: bool  # the key flows again
    still_failing: str | None = None  # error when the redriven event failed again
    new_dead_letter_id: int | None = None


class DeadLetterNotFound(Exception):
    pass


async def list_dead_letters(
    conn: AsyncConnection, *, status: str | None = "parked", limit: int = 100
) -> list[DeadLetterView]:
    parked_count = (
        sa.select(sa.func.count())
        .where(parked_events.c.key == dead_letters.c.key)
        .scalar_subquery()
    )
    query = sa.select(dead_letters, parked_count.label("parked_behind")).order_by(dead_letters.c.id)
    if status:
        query = query.where(dead_letters.c.status == status)
    rows = await conn.execute(query.limit(limit))
    return [_view(row) for row in rows]


def _view(row: sa.Row[tuple[object, ...]]) -> DeadLetterView:
    m = row._mapping
    return DeadLetterView(
        id=m["id"],
        topic=m["topic"],
        partition=m["partition"],
        offset=m["offset"],
        key=m["key"],
        event_id=m["event_id"],
        event_type=m["event_type"],
        error=m["error"],
        attempts=m["attempts"],
        status=m["status"],
        failed_at=m["failed_at"],
        resolved_at=m["resolved_at"],
        resolved_by=m["resolved_by"],
        parked_behind=int(m.get("parked_behind") or 0),
    )


async def resolve(
    applier: ProjectionApplier,
    dead_letter_id: int,
    action: Literal["redrive", "skip"],
    operator: str,
) -> ResolveOutcome:
    """Redrive or skip one parked dead letter, in one transaction of its projection."""
    async with applier.transaction() as conn:
        row = (
            await conn.execute(
                sa.select(dead_letters)
                .where(dead_letters.c.id == dead_letter_id, dead_letters.c.status == "parked")
                .with_for_update()
            )
        ).first()
        if row is None:
            raise DeadLetterNotFound(dead_letter_id)
        await lock_keys(conn, [row.key])  # as a consumer batch or a command on that key would
        if action == "redrive":
            error = await _try_apply(applier, conn, bytes(row.value))
            if error is not None:
                await conn.execute(
                    dead_letters.update()
                    .where(dead_letters.c.id == dead_letter_id)
                    .values(error=error, attempts=dead_letters.c.attempts + 1)
                )
                return ResolveOutcome(dead_letter_id, action, 0, False, still_failing=error)
        await conn.execute(
            dead_letters.update()
            .where(dead_letters.c.id == dead_letter_id)
            .values(
                status="redriven" if action == "redrive" else "skipped",
                resolved_at=sa.func.now(),
                resolved_by=operator,
            )
        )
        applied, new_id = await _drain_parked(applier, conn, row.key)
        return ResolveOutcome(
            dead_letter_id, action, applied, new_id is None, new_dead_letter_id=new_id
        )


async def _try_apply(applier: ProjectionApplier, conn: AsyncConnection, value: bytes) -> str | None:
    try:
        envelope = read_envelope(value)
    except Exception as exc:
        return f"undecodable event: {exc}"
    if await applied_among(conn, [envelope.event_id]):
        return None
    try:
        await applier.apply_one(conn, envelope, value)
    except Exception as exc:
        return describe_error(exc)
    await mark_applied(conn, [envelope.event_id])
    return None


async def _drain_parked(
    applier: ProjectionApplier, conn: AsyncConnection, key: str
) -> tuple[int, int | None]:
    """Apply the key's parked events in order; stop at the first failure and dead-letter it
    (through the consumer's own writer: a row, a record on the dead-letter topic, a count)."""
    rows = (
        await conn.execute(
            sa.select(parked_events)
            .where(parked_events.c.key == key)
            .order_by(parked_events.c.seq)
            .with_for_update()
        )
    ).all()
    applied = 0
    for row in rows:
        await conn.execute(parked_events.delete().where(parked_events.c.seq == row.seq))
        error = await _try_apply(applier, conn, bytes(row.value))
        if error is not None:
            held = HeldRecord.of_parked(row)
            return applied, await dead_letter(conn, applier.service, held, error, attempts=1)
        applied += 1
    return applied, None
