"""The live feed: event-log rows as Server-Sent Events, resumable by `Last-Event-ID`.

The log's `seq` is the SSE id. The table is polled (every `poll_s`), which keeps the feed
independent of which process consumed the event; a comment line is sent as a heartbeat so proxies
keep the connection open and a dead client is noticed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from services.reporting import queries

#: Event data that may be shown to any reader of the feed or the audit: codes, dates, counts.
#: Never free text (titles, descriptions, answers, notes), which may be OFFICIAL-SENSITIVE.
PUBLIC_FIELDS = (
    "request_id",
    "deployment_id",
    "offer_id",
    "reference",
    "country",
    "region",
    "capability",
    "partner_type",
    "classification",
    "headcount",
    "needed_by",
    "score",
    "risk_tier",
    "policy_version",
    "stage",
    "reason_code",
    "mission",
    "tour_start",
    "tour_end",
    "new_end",
    "months",
    "started_on",
    "completed_on",
    "tour_length_months",
)


def public_details(data: dict[str, Any]) -> dict[str, Any]:
    return {k: data[k] for k in PUBLIC_FIELDS if k in data}


def event_view(row: dict[str, Any]) -> dict[str, Any]:
    """An event-log row as the audit and the feed show it."""
    return {
        "seq": row["seq"],
        "event_id": str(row["event_id"]),
        "event_type": row["event_type"],
        "topic": row["topic"],
        "producer": row["producer"],
        "stream_id": row["stream_id"],
        "stream_version": row["stream_version"],
        "request_id": str(row["request_id"]) if row["request_id"] else None,
        "occurred_at": row["occurred_at"].isoformat(),
        "actor": {"subject": row["actor_subject"], "role": row["actor_role"]},
        "correlation_id": row["correlation_id"],
        "trace_id": row["trace_id"],
        "details": public_details(row["data"]),
    }


def sse_frame(row: dict[str, Any]) -> bytes:
    data = orjson.dumps(event_view(row)).decode()
    return f"id: {row['seq']}\nevent: gateway-event\ndata: {data}\n\n".encode()


@dataclass(frozen=True)
class FeedRequest:
    types: list[str]
    request_id: UUID | None
    last_event_id: int | None


async def feed(
    engine: AsyncEngine,
    want: FeedRequest,
    disconnected: Callable[[], Awaitable[bool]],
    *,
    poll_s: float = 0.5,
    heartbeat_s: float = 15.0,
) -> AsyncIterator[bytes]:
    async with engine.connect() as conn:
        newest = await queries.last_seq(conn)
    # No id, or one from before a rebuild renumbered the log (larger than any we hold): live only.
    cursor = want.last_event_id
    if cursor is None or cursor > newest:
        cursor = newest
    yield b"retry: 2000\n: connected\n\n"
    beat = time.monotonic()
    while not await disconnected():
        async with engine.connect() as conn:
            rows = await queries.events_after(
                conn, cursor, types=want.types, request_id=want.request_id
            )
        for row in rows:
            cursor = row["seq"]
            yield sse_frame(row)
        if rows:
            beat = time.monotonic()
            continue
        if time.monotonic() - beat >= heartbeat_s:
            beat = time.monotonic()
            yield b": heartbeat\n\n"
        await asyncio.sleep(poll_s)
