"""The inbox: other services' events, verbatim, by key, as the consumer applied them.

A command decides from events, never from a read model: from its own stream (the event store)
and from what the other services said about the same request (here). Written in the consumer's
batch transaction, so it holds exactly the events the projection has applied; a rebuild fills a
fresh copy with the rest of the projection.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from shared.backbone_tables import inbox
from shared.consumer.records import read_envelope
from shared.db import driver, insert_rows, qualified
from shared.events import Envelope


async def keep(conn: AsyncConnection, events: Sequence[tuple[Envelope, bytes]]) -> None:
    """Keep these events (each with its bytes as they came off the topic)."""
    if not events:
        return
    rows = [
        {
            "event_id": env.event_id,
            "key": env.key,
            "event_type": env.event_type,
            "occurred_at": env.occurred_at,
            "envelope": raw,
        }
        for env, raw in events
    ]
    await insert_rows(conn, inbox, rows, on_conflict="ON CONFLICT DO NOTHING")


async def load(conn: AsyncConnection, key: str) -> list[Envelope]:
    """Other services' events about `key`, in the order they happened."""
    rows = await (await driver(conn)).fetch(
        f"SELECT envelope FROM {qualified(conn, inbox)} WHERE key = $1"
        " ORDER BY occurred_at, event_id",
        key,
    )
    # As projections see them: upcast, and storable (a NUL in an old event stands as U+FFFD).
    return [read_envelope(r["envelope"]) for r in rows]
