"""Applying records to one copy of a projection (the live schema or a rebuild's), exactly once in
effect.

* Offsets live in PostgreSQL, written in the same transaction as the projection changes; the
  consumer seeks to them on assignment. A crash between applying and committing rolls both back.
* Applying an event twice changes nothing: every applied `event_id` is recorded (same
  transaction) and a repeat is skipped, which also absorbs the relay's at-least-once duplicates.
  So a log Kafka lost (stored offsets beyond its end) is simply read again from its start.
* Applying an event means: keep it in the inbox if another service wrote it, run the
  projection's handler, then the reactions to it (`shared.reactions`), each once per event.
* One writer per key at a time: a batch locks the keys it applies, as commands do
  (`shared.commands`), until it commits.
* A batch is applied whole in its transaction; runs of events whose type has a set-based handler
  (`Projection.on_batch`) go to it whole, which is what makes catching up and rebuilds fast.
  If anything in the batch fails, the transaction is rolled back and the batch applied again,
  in a new one, event by event (each in a savepoint) to find the culprit.
* An event that still fails after bounded retries is dead-lettered (`deadletters.py`) and its key
  is parked: later events of the same key are stored behind it, never applied out of order,
  while other keys keep flowing. `redrive.py` redrives or skips.

What applying one event does (inbox, handlers, reactions) and the write-through of a command's
own events: `effects.py`, the applier's base class.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.backbone_tables import PROJECTION_SCHEMA
from shared.consumer import state
from shared.consumer.deadletters import HeldRecord, dead_letter, park
from shared.consumer.effects import EventEffects
from shared.consumer.records import Decoded, Position, Record, decode, describe_error, position
from shared.db import driver
from shared.outages import is_outage
from shared.outbox import OutboxWake, transaction_waking
from shared.projection import Projection
from shared.telemetry import consumer_duplicates_skipped, consumer_events_applied

if TYPE_CHECKING:
    from shared.eventstore import EventStore

log = logging.getLogger(__name__)


class StaleGeneration(Exception):
    """The projection was swapped under us: re-seek to the stored offsets."""


def _by_position(
    records: Sequence[Record], decoded: Sequence[Decoded] | None
) -> dict[Position, Decoded]:
    items = decoded if decoded is not None else [decode(r) for r in records]
    return {position(d.record): d for d in items}


class _BatchFailed(Exception):
    """Something in a batch applied whole failed: roll back, apply event by event."""


class ProjectionApplier(EventEffects):
    """Applies records to one copy of a projection. `store` is where the projection's reactions
    append (a projection without reactions needs none)."""

    def __init__(
        self,
        engine: AsyncEngine,
        projection: Projection,
        *,
        service: str,
        schema: str = PROJECTION_SCHEMA,
        max_retries: int = 3,
        retry_backoff_s: float = 0.05,
        trace_each_event: bool = True,
        store: EventStore | None = None,
        wake: OutboxWake | None = None,
    ) -> None:
        if projection.reactions and store is None:
            raise ValueError(f"projection {projection.name} reacts: give the store it appends to")
        self.engine = engine
        self.projection = projection
        self.service = service
        self.schema = schema
        self.max_retries = max_retries
        self.retry_backoff_s = retry_backoff_s
        # A span per event in the trace of the command behind it: what live consumption wants;
        # a rebuild replaying history does not (it traces each batch instead).
        self.trace_each_event = trace_each_event
        self.store = store
        #: Woken after a transaction of this applier that queued outbox rows (reactions'
        #: events, dead letters).
        self.wake = wake
        self.event_types = projection.event_types
        # Offsets of batches that held only events already applied, not yet written (see
        # `skip_if_all_applied`); the next batch's transaction or `flush_deferred` writes them.
        self.deferred: dict[tuple[str, int], int] = {}
        self.generation: int | None = None
        #: Told the ids of each committed batch's applied events (reads waiting for them).
        self.on_applied: Callable[[list[UUID]], None] | None = None

    @contextlib.asynccontextmanager
    async def transaction(self) -> Any:
        async with transaction_waking(self.engine, self.wake) as conn:
            yield await conn.execution_options(
                schema_translate_map={PROJECTION_SCHEMA: self.schema}
            )

    async def stored_offsets(self, conn: AsyncConnection) -> dict[tuple[str, int], int]:
        return await state.stored_offsets(conn)

    async def current_generation(self, conn: AsyncConnection) -> int:
        return await state.lock_and_read_generation(conn, None)

    # --- batches from Kafka --------------------------------------------------------------------
    async def apply_records(
        self,
        records: Sequence[Record],
        *,
        shared_lock: bool = True,
        decoded: Sequence[Decoded] | None = None,
    ) -> int:
        """Apply one fetched batch in one transaction. Returns how many events were applied.
        `decoded`: the records decoded already (`skip_if_all_applied` did), not done twice."""
        if not records:
            return 0
        flushing = dict(self.deferred)
        by_position = _by_position(records, decoded)
        try:
            applied = await self._apply_batch(records, shared_lock, flushing, by_position, True)
        except _BatchFailed:
            # Rolled back whole: again in a new transaction, event by event, to find the
            # culprit (retries, then a dead letter) and apply the others.
            applied = await self._apply_batch(records, shared_lock, flushing, by_position, False)
        self._flushed(flushing)
        if self.on_applied is not None and applied:
            self.on_applied(applied)
        return len(applied)

    async def _apply_batch(
        self,
        records: Sequence[Record],
        shared_lock: bool,
        flushing: dict[tuple[str, int], int],
        decoded: Mapping[Position, Decoded],
        whole: bool,
    ) -> list[UUID]:
        async with self.transaction() as conn:
            stored = await self._check_generation(conn, shared_lock)
            return await self._apply_in(conn, records, stored, flushing, decoded, whole=whole)

    async def _check_generation(
        self, conn: AsyncConnection, shared_lock: bool
    ) -> dict[tuple[str, int], int]:
        """Refuse a batch that straddles a swap; the stored offsets, read meanwhile."""
        lock_id = state.projection_lock_id(self.service) if shared_lock else None
        generation, stored = await state.lock_and_read_offsets(conn, lock_id)
        if self.generation is not None and generation != self.generation:
            self.deferred.clear()  # offsets of the swapped-out copy
            raise StaleGeneration()
        return stored

    def _flushed(self, flushing: dict[tuple[str, int], int]) -> None:
        for partition, offset in flushing.items():
            if self.deferred.get(partition) == offset:
                del self.deferred[partition]

    async def skip_if_all_applied(
        self, records: Sequence[Record], decoded: Sequence[Decoded] | None = None
    ) -> bool:
        """Batches with nothing to apply skip the batch's transaction (a dozen round trips):
        a service reads back its own events, already applied by the commands that wrote them,
        and events of types it neither projects, reacts to nor keeps (another service's news).
        When every record is one of those, one read says so, the ignored ones are marked
        applied (reads waiting on them with a consistency token see them), and the offsets are
        remembered instead of written in a transaction of their own. Safe: stored offsets only
        spare re-reading, and a record read again after a crash is skipped by its event id; an
        ignored event changes nothing, so it needs no place behind a parked one."""
        items = list(decoded) if decoded is not None else [decode(r) for r in records]
        envelopes = [d.envelope for d in items if d.envelope is not None]
        if not envelopes or len(envelopes) < len(items):
            return False
        ignored = [e.event_id for e in envelopes if e.event_type not in self.event_types]
        mine = [e.event_id for e in envelopes if e.event_type in self.event_types]
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(
                isolation_level="AUTOCOMMIT",
                schema_translate_map={PROJECTION_SCHEMA: self.schema},
            )
            done = await state.applied_among(conn, mine)
            if not done.issuperset(mine):
                return False
            await state.mark_applied(conn, ignored)
        for item in items:
            r = item.record
            key = (r.topic, r.partition)
            self.deferred[key] = max(self.deferred.get(key, 0), r.offset + 1)
            if item.envelope is not None and item.envelope.event_type in self.event_types:
                consumer_duplicates_skipped.labels(self.service, r.topic).inc()
        if self.on_applied is not None and ignored:
            self.on_applied(ignored)
        return True

    async def flush_deferred(self) -> None:
        """Write the remembered offsets (a quiet consumer calls this now and then)."""
        if not self.deferred:
            return
        flushing = dict(self.deferred)
        async with self.transaction() as conn:
            await self._check_generation(conn, shared_lock=True)
            await self._store_offsets(conn, [], deferred=flushing)
        self._flushed(flushing)

    async def _apply_in(
        self,
        conn: AsyncConnection,
        records: Sequence[Record],
        stored: dict[tuple[str, int], int],
        deferred: dict[tuple[str, int], int] | None = None,
        decoded: Mapping[Position, Decoded] | None = None,
        *,
        whole: bool = True,
    ) -> list[UUID]:
        # Records below a partition's stored offset are either ones this projection has seen
        # (read again: a seek raced with a batch, or another member's late batch) and are
        # dropped, or new ones: Kafka's log is no longer the one the offsets came from (the
        # broker's data wiped, the topic recreated) and the consumer fell back to its start.
        # Those are applied (at most once, by event id) and the offset follows the new log.
        below = [r for r in records if r.offset < stored.get((r.topic, r.partition), 0)]
        seen = await state.seen_before(conn, below)
        rewound = {(r.topic, r.partition) for r in below if position(r) not in seen}
        for topic, partition in sorted(rewound):
            log.warning(
                "%s/%d: stored offset %d is beyond what Kafka now holds; following its log"
                " again (repeats are skipped by event id)",
                topic,
                partition,
                stored[(topic, partition)],
            )
        records = [r for r in records if position(r) not in seen]
        items = [(decoded or {}).get(position(r)) or decode(r) for r in records]
        ids = [d.envelope.event_id for d in items if d.envelope]
        done = await state.applied_among(conn, ids)
        # Parking and locking matter only for what would be applied: a repeat is skipped anyway.
        fresh = {d.key for d in items if d.envelope is None or d.envelope.event_id not in done}
        await state.lock_keys(conn, fresh)
        parked = await state.parked_among(conn, fresh)
        if whole:
            applied = await self._apply_all_at_once(conn, items, done, parked)
        else:
            applied = await self._apply_one_by_one(conn, items, done, parked)
        await self._store_offsets(conn, records, rewound, deferred or {}, applied)
        return applied

    def _plan(
        self, item: Decoded, done: set[UUID], applied: Collection[UUID], parked: set[str]
    ) -> str:
        env = item.envelope
        if item.key in parked:
            return "park"
        if env is not None and (env.event_id in done or env.event_id in applied):
            consumer_duplicates_skipped.labels(self.service, item.record.topic).inc()
            return "skip"
        return "apply"

    async def _apply_all_at_once(
        self, conn: AsyncConnection, items: Sequence[Decoded], done: set[UUID], parked: set[str]
    ) -> list[UUID]:
        """The common case, fast: the whole batch in the batch's transaction, no savepoint (two
        round trips fewer). `_BatchFailed` if anything failed: the caller rolls the transaction
        back, so nothing of this attempt remains, and tries again event by event."""
        if any(item.error for item in items):
            raise _BatchFailed()
        applied: dict[UUID, None] = {}  # an ordered set
        to_apply: list[Decoded] = []
        to_park: list[Decoded] = []
        for item in items:
            action = self._plan(item, done, applied, parked)
            if action == "park":
                to_park.append(item)
            elif action == "apply":
                assert item.envelope is not None
                to_apply.append(item)
                applied[item.envelope.event_id] = None
        if not to_apply and not to_park:  # only repeats (e.g. a service's own events)
            return []
        try:
            for item in to_park:
                await park(conn, HeldRecord.of(item.record, item.key))
            await self._apply_effects(conn, to_apply)
        except Exception as exc:
            if is_outage(exc):
                raise  # the database went away: not the batch's fault; it is read again
            raise _BatchFailed() from exc
        for item in to_apply:
            assert item.envelope is not None
            consumer_events_applied.labels(
                self.service, item.record.topic, item.envelope.event_type
            ).inc()
        return list(applied)

    async def _apply_one_by_one(
        self, conn: AsyncConnection, items: Sequence[Decoded], done: set[UUID], parked: set[str]
    ) -> list[UUID]:
        applied: dict[UUID, None] = {}  # an ordered set
        for item in items:
            action = self._plan(item, done, applied, parked)
            if action == "park":
                await park(conn, HeldRecord.of(item.record, item.key))
            elif action == "apply":
                error = item.error or await self._apply_with_retries(conn, item)
                if error is None and item.envelope is not None:
                    applied[item.envelope.event_id] = None
                    consumer_events_applied.labels(
                        self.service, item.record.topic, item.envelope.event_type
                    ).inc()
                elif error is not None:
                    attempts = self.max_retries if item.envelope else 1
                    held = HeldRecord.of(item.record, item.key)
                    await dead_letter(conn, self.service, held, error, attempts)
                    parked.add(item.key)
        return list(applied)

    async def _apply_with_retries(self, conn: AsyncConnection, item: Decoded) -> str | None:
        assert item.envelope is not None
        error = "not attempted"
        for attempt in range(self.max_retries):
            try:
                await self._apply_one_decoded(conn, item)
                return None
            except Exception as exc:
                if is_outage(exc):
                    raise  # the database went away: not this event's fault; the batch is read again
                error = describe_error(exc)
                log.warning(
                    "applying %s failed (attempt %d/%d): %s",
                    item.envelope.event_type,
                    attempt + 1,
                    self.max_retries,
                    error,
                )
                await asyncio.sleep(self.retry_backoff_s * 2**attempt)
        return error

    async def _apply_one_decoded(self, conn: AsyncConnection, item: Decoded) -> None:
        """One event in a savepoint, so that a failure leaves the batch intact. (asyncpg's own
        savepoint: SQLAlchemy's costs ~0.4 ms of CPU, as much as the rest of a command.)"""
        async with (await driver(conn)).transaction():
            await self._apply_effects(conn, [item])

    async def _store_offsets(
        self,
        conn: AsyncConnection,
        records: Sequence[Record],
        rewound: Collection[tuple[str, int]] = (),
        deferred: dict[tuple[str, int], int] | None = None,
        applied: Collection[UUID] = (),
    ) -> None:
        """The last step of every batch's transaction, which also records the ids of the events
        it applied (crash tests stop a process here)."""
        await state.store_next_offsets(conn, records, rewound, deferred, applied)
