"""The event store: append with optimistic concurrency, load with upcasting.

The store is the source of truth of each service's write side. An append writes the events and
their outbox rows in the caller's transaction, so an event is published if and only if it was
stored (see shared/outbox.py); the transaction that commits them wakes the relay afterwards
(`shared.outbox.transaction_waking`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.backbone_tables import events
from shared.db import driver, jsonb
from shared.events import Actor, Envelope, EventData
from shared.outbox import queued
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
        version = await (await driver(conn)).fetchval(
            "SELECT max(stream_version) FROM events WHERE stream_id = $1", stream_id
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

        One statement checks the version, chains each event's hash to the previous one's
        (shared/history/chain.py), stores the events, moves the stream's head for the next
        signed checkpoint and queues the outbox rows, with the hash as a `chain_hash` header
        (one round trip). Two writers at the same expected version both insert the primary key
        `(stream_id, expected_version + 1)`; PostgreSQL lets exactly one of them commit.
        """
        if not new_events:
            return []
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
        values = [env.to_bytes() for env in envelopes]
        args = (
            stream_id,
            expected_version,
            [env.stream_version for env in envelopes],
            [env.event_id for env in envelopes],
            [env.event_type for env in envelopes],
            [env.schema_version for env in envelopes],
            [env.occurred_at for env in envelopes],
            values,
            topics,
            [env.key for env in envelopes],
            [jsonb([[k, v.decode()] for k, v in env.kafka_headers()]) for env in envelopes],
        )
        # The hot path of every command: straight to asyncpg (a prepared statement, in the
        # transaction SQLAlchemy opened on this very connection), without SQLAlchemy's
        # statement compilation and result wrapping.
        try:
            stored = await (await driver(conn)).fetch(_APPEND, *args)
        except asyncpg.UniqueViolationError as exc:
            raise ConcurrencyConflict(stream_id, expected_version) from exc
        if len(stored) != len(envelopes):
            actual = await self.current_version(conn, stream_id)
            raise ConcurrencyConflict(stream_id, expected_version, actual)
        queued(conn)  # the relay is woken once the caller's transaction commits
        return envelopes


_APPEND = """
    WITH RECURSIVE head AS (
        SELECT stream_version AS version, chain_hash AS hash FROM events
        WHERE stream_id = $1 ORDER BY stream_version DESC LIMIT 1
    ), current AS (
        SELECT coalesce((SELECT version FROM head), 0) AS version,
               coalesce((SELECT hash FROM head),
                        sha256(convert_to('jiph-chain:' || $1::text, 'UTF8'))) AS hash
    ), new AS (
        SELECT * FROM unnest(
            $3::int[], $4::uuid[], $5::text[], $6::int[], $7::timestamptz[], $8::bytea[],
            $9::text[], $10::text[], $11::text[]
        ) AS t(version, id, type, schema, at, value, topic, key, headers)
    ), chained AS (
        -- shared/history/chain.py: hash_n = sha256(hash_{n-1} || envelope_n)
        SELECT new.version, sha256(current.hash || new.value) AS hash
        FROM new, current
        WHERE current.version = $2 AND new.version = $2 + 1
        UNION ALL
        SELECT new.version, sha256(chained.hash || new.value)
        FROM chained JOIN new ON new.version = chained.version + 1
    ), stored AS (
        INSERT INTO events (stream_id, stream_version, event_id, event_type, schema_version,
                            occurred_at, envelope, chain_hash)
        SELECT $1, new.version, new.id, new.type, new.schema, new.at, new.value, chained.hash
        FROM new JOIN chained ON chained.version = new.version
        RETURNING stream_version, chain_hash
    ), moved_head AS (
        INSERT INTO chain_heads (stream_id, version, hash)
        SELECT $1, stream_version, chain_hash FROM stored ORDER BY stream_version DESC LIMIT 1
        ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, hash = excluded.hash
    )
    INSERT INTO outbox (topic, key, value, headers)
    SELECT new.topic, new.key, new.value,
           new.headers::jsonb || jsonb_build_array(
               jsonb_build_array('chain_hash', encode(stored.chain_hash, 'hex')))
    FROM new JOIN stored ON stored.stream_version = new.version
    ORDER BY new.version
    RETURNING position
"""
