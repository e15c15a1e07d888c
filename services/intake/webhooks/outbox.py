"""What a partner's endpoints are owed when one of its requests gets a timeline entry: one
delivery per active endpoint, written in the projection's transaction, so that the entry and the
deliveries commit together or not at all. The unique (endpoint, event) makes a redelivered or
re-applied event owe nothing more; a rebuild of the projection enqueues nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection
from uuid6 import uuid7

from services.intake.tables import requests
from services.intake.webhooks.tables import webhook_deliveries, webhook_endpoints
from shared.backbone_tables import PROJECTION_SCHEMA
from shared.db import driver, qualified

EVENT_TYPE = "request.updated"


def webhook_body(
    *,
    event_id: UUID,
    event_type: str,
    occurred_at: datetime,
    request_id: UUID,
    reference: str,
    status: str,
    summary: str,
    details: dict[str, Any],
) -> str:
    """The Standard Webhooks payload (`type`, `timestamp`, `data`): the timeline entry the
    partner can read at `GET /v1/requests/{id}`, with the status it left the request in."""
    return orjson.dumps(
        {
            "type": EVENT_TYPE,
            "timestamp": occurred_at.isoformat(),
            "data": {
                "request_id": str(request_id),
                "reference": reference,
                "status": status,
                "event_id": str(event_id),
                "event_type": event_type,
                "summary": summary,
                "details": details,
                "occurred_at": occurred_at.isoformat(),
            },
        }
    ).decode()


def rebuilding(conn: AsyncConnection) -> bool:
    """Whether `conn` writes a projection rebuild's shadow tables (events met again)."""
    options = conn.sync_connection.get_execution_options() if conn.sync_connection else {}
    translate = options.get("schema_translate_map") or {}
    return bool(translate.get(PROJECTION_SCHEMA, PROJECTION_SCHEMA) != PROJECTION_SCHEMA)


async def enqueue(
    conn: AsyncConnection,
    *,
    event_id: UUID,
    event_type: str,
    occurred_at: datetime,
    request_id: UUID,
    summary: str,
    details: dict[str, Any],
) -> None:
    """Owe every active endpoint of the request's partner this entry, unless it was registered
    after the event happened (a late consumer must not send old news to a new endpoint)."""
    if rebuilding(conn):
        return
    db = await driver(conn)
    # One statement, which finds nothing (and costs little) for the many partners with none.
    endpoints = await db.fetch(
        f"SELECT e.endpoint_id, e.event_types, r.reference, r.status"
        f" FROM {qualified(conn, webhook_endpoints)} e JOIN {qualified(conn, requests)} r"
        " ON r.partner_id = e.partner_id"
        " WHERE r.request_id = $1 AND e.active AND e.created_at <= $2",
        request_id,
        occurred_at,
    )
    wanted = [
        e["endpoint_id"]
        for e in endpoints
        if e["event_types"] is None or event_type in e["event_types"]
    ]
    if not wanted:
        return
    row = endpoints[0]
    body = webhook_body(
        event_id=event_id,
        event_type=event_type,
        occurred_at=occurred_at,
        request_id=request_id,
        reference=row["reference"],
        status=row["status"],
        summary=summary,
        details=details,
    )
    await db.executemany(
        f"INSERT INTO {qualified(conn, webhook_deliveries)} (delivery_id, endpoint_id, event_id,"
        " event_type, request_id, body, next_attempt_at, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, now(), now())"
        " ON CONFLICT (endpoint_id, event_id) DO NOTHING",
        [(uuid7(), e, event_id, event_type, request_id, body) for e in wanted],
    )
