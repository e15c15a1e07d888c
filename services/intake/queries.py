"""Read-model SELECTs behind intake's GET endpoints."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake import as_of
from services.intake.domain import stream_id
from services.intake.tables import requests, timeline
from shared.as_of import AsOf
from shared.db import driver, qualified
from shared.eventstore import EventStore
from shared.search import matches


@dataclass(frozen=True)
class RequestFilters:
    status: str | None = None
    country: str | None = None
    capability: str | None = None
    submitted_from: date | None = None
    submitted_to: date | None = None
    reference: str | None = None
    #: Words to find (websearch syntax) in the partner's requests.
    text: str | None = None


def _summary(row: Mapping[Any, Any]) -> dict[str, Any]:
    d = row["details"]
    return {
        "id": row["request_id"],
        "reference": row["reference"],
        "title": row["title"],
        "country": row["country"],
        "capability": row["capability"],
        "classification": row["classification"],
        "status": row["status"],
        "headcount": d.get("headcount"),
        "needed_by": d.get("needed_by"),
        "submitted_at": row["submitted_at"],
        "updated_at": row["updated_at"],
    }


async def list_requests(
    conn: AsyncConnection,
    partner_id: str,
    filters: RequestFilters,
    *,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """The partner's own requests, newest first; keyset pagination on (submitted_at, id)."""
    q = sa.select(requests).where(requests.c.partner_id == partner_id)
    if filters.status:
        q = q.where(requests.c.status == filters.status)
    if filters.country:
        q = q.where(requests.c.country == filters.country)
    if filters.capability:
        q = q.where(requests.c.capability == filters.capability)
    if filters.reference:
        q = q.where(requests.c.reference == filters.reference)
    if filters.text:
        q = q.where(matches(requests.c.search, filters.text))
    if filters.submitted_from:
        q = q.where(
            requests.c.submitted_at >= datetime.combine(filters.submitted_from, time(), UTC)
        )
    if filters.submitted_to:
        end = datetime.combine(filters.submitted_to + timedelta(days=1), time(), UTC)
        q = q.where(requests.c.submitted_at < end)
    if after is not None:
        q = q.where(sa.tuple_(requests.c.submitted_at, requests.c.request_id) < sa.tuple_(*after))
    q = q.order_by(requests.c.submitted_at.desc(), requests.c.request_id.desc()).limit(limit)
    return [_summary(row._mapping) for row in await conn.execute(q)]


async def get_request(
    conn: AsyncConnection, partner_id: str, request_id: UUID
) -> dict[str, Any] | None:
    """The partner's view of one request (read after every write: straight to asyncpg)."""
    row = await (await driver(conn)).fetchrow(
        "SELECT r.*, coalesce((SELECT json_agg(json_build_object('at', t.occurred_at,"
        " 'event', t.event_type, 'summary', t.summary, 'details', t.details)"
        " ORDER BY t.occurred_at, t.event_id)"
        f" FROM {qualified(conn, timeline)} t WHERE t.request_id = r.request_id), '[]')"
        f" AS timeline FROM {qualified(conn, requests)} r"
        " WHERE r.request_id = $1 AND r.partner_id = $2",
        request_id,
        partner_id,
    )
    if row is None:
        return None
    return request_view(row, row["timeline"])  # `at` as ISO text; the response model parses it


def request_view(row: Mapping[Any, Any], entries: list[Any]) -> dict[str, Any]:
    """The partner's view of a request: its `requests` row (stored, or made again from the
    events by `services.intake.as_of`) and its timeline entries."""
    d = row["details"]
    return _summary(row) | {
        "description": d.get("description"),
        "mission": d.get("mission"),
        "requesting_body": d.get("requesting_body"),
        "partner_type": d.get("partner_type"),
        "role_profile": d.get("role_profile"),
        "tour_length_months": d.get("tour_length_months"),
        "funding_source": d.get("funding_source"),
        "contact": d.get("contact"),
        "open_information_request": (
            {"id": row["open_information_request"], "questions": row["open_questions"]}
            if row["open_information_request"]
            else None
        ),
        "headcount_deployed": row["headcount_deployed"],
        "timeline": entries,
    }


async def get_request_as_of(
    conn: AsyncConnection, store: EventStore, partner_id: str, request_id: UUID, asked: AsOf
) -> dict[str, Any] | None:
    """The partner's view of its request as it was at `asked` (`shared.as_of`), made again from
    intake's own stream for the request and the timeline of what the other services said about
    it; None when it is not this partner's (as the current read)."""
    row = (
        await conn.execute(
            sa.select(requests.c.request_id).where(
                requests.c.request_id == request_id, requests.c.partner_id == partner_id
            )
        )
    ).first()
    if row is None:
        return None
    own = await store.load(conn, stream_id(request_id))
    entries = await conn.execute(
        sa.select(timeline)
        .where(timeline.c.request_id == request_id)
        .order_by(timeline.c.occurred_at, timeline.c.event_id)
    )
    past = as_of.reconstruct(own, [dict(e._mapping) for e in entries], asked)
    return request_view(past.row, past.timeline) | {"as_of": past.point.as_json()}


async def describe(conn: AsyncConnection, request_id: UUID) -> dict[str, Any] | None:
    """For operators (`jiph where`): the partner-visible state, no personal details."""
    row = (
        await conn.execute(sa.select(requests).where(requests.c.request_id == request_id))
    ).first()
    if row is None:
        return None
    return {
        "reference": row.reference,
        "status": row.status,
        "partner_id": row.partner_id,
        "updated_at": row.updated_at.isoformat(),
    }
