"""The one place dead letters and parked events are written, for the consumer and for redrive.

A dead letter is a row here plus a record on `jiph.deadletter.<service>` (through the outbox, so
it exists there if and only if the transaction commits), and one count on
`jiph_deadletters_total`. The events of the same key that come after it are parked behind it, in
order, until an operator redrives or skips it (`redrive.py`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from shared.backbone_tables import dead_letters, outbox, parked_events
from shared.consumer.records import Record, headers_json
from shared.events import Envelope
from shared.outbox import queued
from shared.telemetry import deadletters_total
from shared.topics import deadletter_topic

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HeldRecord:
    """A record as stored behind a dead letter: where it came from and its original bytes."""

    key: str
    topic: str
    partition: int
    offset: int
    value: bytes
    headers: list[list[str]]

    @classmethod
    def of(cls, record: Record, key: str) -> HeldRecord:
        return cls(
            key, record.topic, record.partition, record.offset, record.value or b"",
            headers_json(record),
        )  # fmt: skip

    @classmethod
    def of_parked(cls, row: Any) -> HeldRecord:
        return cls(
            row.key, row.topic, row.partition, row.offset, bytes(row.value), list(row.headers)
        )

    def envelope(self) -> Envelope | None:
        try:
            return Envelope.from_bytes(self.value)
        except Exception:
            return None


async def park(conn: AsyncConnection, held: HeldRecord) -> None:
    await conn.execute(
        parked_events.insert().values(
            key=held.key,
            topic=held.topic,
            partition=held.partition,
            offset=held.offset,
            value=held.value,
            headers=held.headers,
        )
    )


async def dead_letter(
    conn: AsyncConnection, service: str, held: HeldRecord, error: str, attempts: int
) -> int:
    """Record `held` as its key's dead letter (the key parks from now on); returns its id."""
    env = held.envelope()
    log.error(
        "dead-lettering %s at %s/%d@%d: %s",
        env and env.event_type,
        held.topic,
        held.partition,
        held.offset,
        error,
    )
    new_id = await conn.scalar(
        dead_letters.insert()
        .values(
            topic=held.topic,
            partition=held.partition,
            offset=held.offset,
            key=held.key,
            event_id=str(env.event_id) if env else None,
            event_type=env.event_type if env else None,
            error=error,
            attempts=attempts,
            value=held.value,
            headers=held.headers,
            status="parked",
        )
        .returning(dead_letters.c.id)
    )
    await conn.execute(
        outbox.insert().values(
            topic=deadletter_topic(service),
            key=held.key,
            value=held.value,
            headers=[
                *held.headers,
                ["dl_error", error[:1000]],
                ["dl_topic", held.topic],
                ["dl_partition", str(held.partition)],
                ["dl_offset", str(held.offset)],
                ["dl_service", service],
            ],
        )
    )
    queued(conn)
    deadletters_total.labels(service, held.topic).inc()
    return int(new_id or 0)
