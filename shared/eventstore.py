"""The event store: append with optimistic concurrency, load with upcasting.

The store is the source of truth of each service's write side. An append writes the events and
their outbox rows in the caller's transaction, so an event is published if and only if it was
stored (see shared/outbox.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.backbone_tables import events, outbox
from shared.events import Actor, Envelope, EventData
from shared.telemetry import current_traceparent


class ConcurrencyConflict(Exception):
    """Another writer appended to the stream first; the API answers 409."""

    def __init__(self, stream_id: str, expected_version: int, actual_version: int | None = None):
        self.stream_id = stream_id
        self.expected_version = expected_version
        self.actual_version = actual_version
        super().__init__(
            f"stream {stream_id} is not at version {expected_version}"
            + (f" (it is at {actual_version})" if actual_version is not None else "")
        )


@dataclass(frozen=True)
class CommandContext:
    """Who asks, and which conversation the resulting events belong to."""

    actor: Actor
    correlation_id: str
    causation_id: str | None = None


@dataclass(frozen=True)
class EventStore:
    producer: str  # the service name written into every envelope
    #: Tests publish to topics of their own; services leave it None (each type knows its topic).
    topic_override: str | None = None

    async def load(self, conn: AsyncConnection, stream_id: str) -> list[Envelope]:
        rows = await conn.execute(
            sa.select(events.c.envelope)
            .where(events.c.stream_id == stream_id)
            .order_by(events.c.stream_version)
        )
        return [Envelope.from_bytes(row.envelope) for row in rows]

    async def current_version(self, conn: AsyncConnection, stream_id: str) -> int:
        version = await conn.scalar(
            sa.select(sa.func.max(events.c.stream_version)).where(events.c.stream_id == stream_id)
        )
        return int(version or 0)

    async def append(
        self,
        conn: AsyncConnection,
        stream_id: str,
        new_events: Sequence[EventData],
        *,
        expected_version: int,
        context: CommandContext,
    ) -> list[Envelope]:
        """Append after `expected_version` (0 for a new stream) or raise ConcurrencyConflict.

        Two writers at the same expected version both try to insert the same primary key
        `(stream_id, expected_version + 1)`; PostgreSQL lets exactly one of them commit.
        """
        if not new_events:
            return []
        actual = await self.current_version(conn, stream_id)
        if actual != expected_version:
            raise ConcurrencyConflict(stream_id, expected_version, actual)
        traceparent = current_traceparent()
        envelopes = [
            Envelope.wrap(
                data,
                stream_id=stream_id,
                stream_version=expected_version + i,
                producer=self.producer,
                actor=context.actor,
                correlation_id=context.correlation_id,
                causation_id=context.causation_id,
                traceparent=traceparent,
            )
            for i, data in enumerate(new_events, start=1)
        ]
        topics = [self.topic_override or type(d).topic for d in new_events]
        await self.append_envelopes(conn, envelopes, topics)
        return envelopes

    async def append_envelopes(
        self, conn: AsyncConnection, envelopes: Sequence[Envelope], topics: Sequence[str]
    ) -> None:
        """Store ready-made envelopes and queue them for publication (used by `append`)."""
        values = [env.to_bytes() for env in envelopes]
        try:
            await conn.execute(
                events.insert(),
                [
                    {
                        "stream_id": env.stream_id,
                        "stream_version": env.stream_version,
                        "event_id": env.event_id,
                        "event_type": env.event_type,
                        "schema_version": env.schema_version,
                        "occurred_at": env.occurred_at,
                        "envelope": value,
                    }
                    for env, value in zip(envelopes, values, strict=True)
                ],
            )
        except IntegrityError as exc:
            first = envelopes[0]
            raise ConcurrencyConflict(first.stream_id, first.stream_version - 1) from exc
        await conn.execute(
            outbox.insert(),
            [
                {
                    "topic": topic,
                    "key": env.key,
                    "value": value,
                    "headers": [[k, v.decode()] for k, v in env.kafka_headers()],
                }
                for env, value, topic in zip(envelopes, values, topics, strict=True)
            ],
        )
