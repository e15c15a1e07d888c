"""Rebuild a projection from offset 0 into shadow tables, then swap them in atomically.

The rebuild fills schema `projection_rebuild` (the same tables, via SQLAlchemy's schema
translation) while the live `projection` schema keeps serving reads. Once it has caught up with
the topics' end offsets, it takes the projection's advisory lock exclusively (the live consumer's
batches hold it shared, so they pause), applies the last few records, and renames the schemas in
one transaction. The live consumer then sees a new generation and seeks to the rebuilt offsets.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Literal

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.backbone_tables import PROJECTION_SCHEMA, REBUILD_SCHEMA, create_projection_schema
from shared.consumer.applier import ProjectionApplier
from shared.consumer.state import projection_lock_id
from shared.eventstore import EventStore
from shared.kafka_metadata import topic_partitions
from shared.outbox import OutboxWake
from shared.projection import Projection
from shared.telemetry import get_tracer, projection_rebuild_events

log = logging.getLogger(__name__)


@dataclass
class RebuildProgress:
    state: Literal["idle", "running", "swapping", "done", "failed"] = "idle"
    records_read: int = 0
    events_applied: int = 0
    records_total: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None
    generation: int | None = None
    rate_per_s: float = field(default=0.0)


class ProjectionRebuild:
    def __init__(
        self,
        engine: AsyncEngine,
        projection: Projection,
        *,
        service: str,
        bootstrap_servers: str,
        batch: int = 5000,
        store: EventStore | None = None,
        wake: OutboxWake | None = None,
    ) -> None:
        self.engine = engine
        self.projection = projection
        self.service = service
        self.bootstrap_servers = bootstrap_servers
        self.batch = batch
        self.progress = RebuildProgress()
        # Reactions run here too: one the live consumer has not taken yet is taken once, by
        # whichever meets its event first (the record of it is on the write side).
        self.applier = ProjectionApplier(
            engine,
            projection,
            service=service,
            schema=REBUILD_SCHEMA,
            trace_each_event=False,
            store=store,
            wake=wake,
        )

    @property
    def running(self) -> bool:
        return self.progress.state in ("running", "swapping")

    async def run(self) -> RebuildProgress:
        self.progress = RebuildProgress(state="running", started_at=time.time())
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            enable_auto_commit=False,
            isolation_level="read_committed",
            max_poll_records=self.batch,
            fetch_max_bytes=32 * 1024 * 1024,
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        try:
            generation = await self._prepare_shadow()
            await consumer.start()
            partitions = await topic_partitions(self.bootstrap_servers, self.projection.topics)
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            await self._catch_up(consumer, partitions)
            self.progress.state = "swapping"
            await self._swap(consumer, partitions)
            self.progress.generation = generation
            self.progress.state = "done"
        except Exception as exc:
            log.exception("rebuild of %s failed", self.service)
            self.progress.state = "failed"
            self.progress.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.progress.finished_at = time.time()
            await consumer.stop()
        return self.progress

    async def _prepare_shadow(self) -> int:
        async with self.engine.begin() as conn:
            live = await conn.scalar(
                sa.text(f"SELECT generation FROM {PROJECTION_SCHEMA}.projection_meta")
            )
            await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{REBUILD_SCHEMA}" CASCADE'))
            generation = int(live or 0) + 1
            await conn.run_sync(
                create_projection_schema,
                REBUILD_SCHEMA,
                self.projection.metadata,
                generation=generation,
            )
        return generation

    async def _catch_up(self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> None:
        """Read until every partition reaches the end offsets it has now."""
        end = await consumer.end_offsets(partitions)
        self.progress.records_total = max(self.progress.records_total, sum(end.values()))
        started = time.monotonic()
        while await _behind(consumer, end):
            fetched = await consumer.getmany(timeout_ms=500, max_records=self.batch)
            records = [r for batch in fetched.values() for r in batch]
            with get_tracer().start_as_current_span(
                "rebuild batch",
                attributes={"jiph.service": self.service, "jiph.records": len(records)},
            ):
                applied = await self.applier.apply_records(records, shared_lock=False)
            self.progress.records_read += len(records)
            self.progress.events_applied += applied
            projection_rebuild_events.labels(self.service).inc(len(records))
            elapsed = time.monotonic() - started
            self.progress.rate_per_s = self.progress.records_read / elapsed if elapsed else 0.0

    async def _swap(self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> None:
        lock = {"id": projection_lock_id(self.service)}
        # A session lock on one dedicated connection: the live consumer's batches take the same
        # key shared (per transaction), so they wait here until the swap is committed.
        async with self.engine.connect() as conn:
            await conn.execute(sa.text("SELECT pg_advisory_lock(:id)"), lock)
            await conn.commit()
            try:
                await self._catch_up(consumer, partitions)
                old = f"{PROJECTION_SCHEMA}_old"
                await conn.execute(sa.text(f'ALTER SCHEMA "{PROJECTION_SCHEMA}" RENAME TO "{old}"'))
                await conn.execute(
                    sa.text(f'ALTER SCHEMA "{REBUILD_SCHEMA}" RENAME TO "{PROJECTION_SCHEMA}"')
                )
                await conn.execute(sa.text(f'DROP SCHEMA "{old}" CASCADE'))
                await conn.commit()
            finally:
                await conn.rollback()
                await conn.execute(sa.text("SELECT pg_advisory_unlock(:id)"), lock)
                await conn.commit()


async def _behind(consumer: AIOKafkaConsumer, end: dict[TopicPartition, int]) -> bool:
    for tp, offset in end.items():
        if await consumer.position(tp) < offset:
            return True
    return False
