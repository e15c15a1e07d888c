"""Read-model SQL behind triage's GET endpoints, its projection and the facts a command needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.triage.document import CaseHistory, document_of, fold_rows, history_entry
from services.triage.tables import capability_offers, case_history, cases
from shared.as_of import AsOf, cut, too_early
from shared.db import driver, qualified
from shared.topics import TRIAGE_EVENTS


async def offered_officers(conn: AsyncConnection, capability: str, on: date) -> int:
    """Officers on offer for `capability` and still available on `on`."""
    count = await (await driver(conn)).fetchval(
        f"SELECT count(*) FROM {qualified(conn, capability_offers)}"
        " WHERE capability = $1 AND NOT withdrawn AND available_to >= $2",
        capability,
        on,
    )
    return int(count or 0)


async def history_payloads(conn: AsyncConnection, request_id: UUID) -> CaseHistory:
    """The case folded from its history: intake's events first, then the case stream's.
    (Every event of a case runs this: straight to asyncpg.)"""
    rows = await (await driver(conn)).fetch(
        "SELECT event_type, schema_version, data, occurred_at"
        f" FROM {qualified(conn, case_history)} WHERE request_id = $1"
        f" ORDER BY {FOLD_ORDER}",
        request_id,
        TRIAGE_EVENTS,
    )
    return fold_rows(rows)


#: The order `fold_rows` takes a case's history in ($2 is triage's topic).
FOLD_ORDER = "(topic = $2), stream_version, event_id"


@dataclass(frozen=True)
class CaseFilters:
    statuses: list[str] = field(default_factory=list)
    country: str | None = None
    region: str | None = None
    capability: str | None = None
    risk_tier: str | None = None
    partner_type: str | None = None


@dataclass(frozen=True)
class QueuePosition:
    """Where the previous page ended, in queue order (score desc, needed_by, request_id)."""

    score: float
    needed_by: date
    request_id: UUID


async def list_cases(
    conn: AsyncConnection, filters: CaseFilters, *, after: QueuePosition | None, limit: int
) -> list[dict[str, Any]]:
    """The queue: highest score first, then the earliest needed-by date; keyset pagination."""
    c = cases.c
    q = sa.select(c.document)
    if filters.statuses:
        q = q.where(c.status.in_(filters.statuses))
    for column, value in (
        (c.country, filters.country),
        (c.region, filters.region),
        (c.capability, filters.capability),
        (c.risk_tier, filters.risk_tier),
        (c.partner_type, filters.partner_type),
    ):
        if value is not None:
            q = q.where(column == value)
    if after is not None:
        q = q.where(
            sa.or_(
                c.score < after.score,
                sa.and_(c.score == after.score, c.needed_by > after.needed_by),
                sa.and_(
                    c.score == after.score,
                    c.needed_by == after.needed_by,
                    c.request_id > after.request_id,
                ),
            )
        )
    q = q.order_by(c.score.desc(), c.needed_by, c.request_id).limit(limit)
    return [dict(row.document) for row in await conn.execute(q)]


async def get_case(conn: AsyncConnection, request_id: UUID) -> dict[str, Any] | None:
    document = await conn.scalar(
        sa.select(cases.c.document).where(cases.c.request_id == request_id)
    )
    if document is None:
        return None
    entries = await conn.execute(
        sa.select(case_history)
        .where(case_history.c.request_id == request_id)
        .order_by(case_history.c.occurred_at, case_history.c.event_id)
    )
    return dict(document) | {"history": [history_entry(e._mapping) for e in entries]}


async def get_case_as_of(
    conn: AsyncConnection, request_id: UUID, as_of: AsOf
) -> dict[str, Any] | None:
    """The case as it was at `as_of` (`shared.as_of`), made again from its history by the fold
    and the document the projection uses; its `history` cut at the same point, and `as_of`
    saying where that is. None when there is no case now (as the current read)."""
    rows = await (await driver(conn)).fetch(
        f"SELECT * FROM {qualified(conn, case_history)} WHERE request_id = $1"
        f" ORDER BY {FOLD_ORDER}",
        request_id,
        TRIAGE_EVENTS,
    )
    if document_of(fold_rows(rows)) is None:
        return None
    kept, point = cut(
        rows,
        as_of,
        own=lambda r: bool(r["topic"] == TRIAGE_EVENTS),
        version=lambda r: int(r["stream_version"]),
        occurred_at=lambda r: r["occurred_at"],
    )
    document = document_of(fold_rows(kept))
    if document is None:  # submitted then, not yet triaged: no case yet
        raise too_early(point.at)
    seen = sorted(kept, key=lambda r: (r["occurred_at"], str(r["event_id"])))
    return document | {
        "history": [history_entry(r) for r in seen],
        "as_of": point.as_json(),
    }


async def describe(conn: AsyncConnection, request_id: UUID) -> dict[str, Any] | None:
    """For operators (`jiph where`): where the case stands, no free text or personal details."""
    row = (await conn.execute(sa.select(cases).where(cases.c.request_id == request_id))).first()
    if row is None:
        return None
    return {
        "reference": row.reference,
        "status": row.status,
        "score": row.score,
        "risk_tier": row.risk_tier,
        "policy_version": row.document.get("policy_version"),
        "case_version": row.version,
        "updated_at": row.updated_at.isoformat(),
    }
