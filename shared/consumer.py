"""The one consumer loop: Kafka records → projection tables, exactly once in effect.

* Offsets live in PostgreSQL, written in the same transaction as the projection changes; on
  assignment the consumer seeks to them. A crash between applying and committing rolls both back.
* Applying an event twice changes nothing: every applied `event_id` is recorded (same
  transaction) and a repeat is skipped, which also absorbs the relay's at-least-once duplicates.
  So a log Kafka lost (stored offsets beyond its end) is simply read again from its start.
* A batch is applied in one savepoint; runs of events whose type has a set-based handler
  (`Projection.on_batch`) go to it whole, which is what makes catching up and rebuilds fast.
  If anything in the batch fails, it is applied again event by event to find the culprit.
* An event that still fails after bounded retries is dead-lettered (a row here, and a record on
  `jiph.deadletter.<service>` through the outbox) and its key is parked: later events of the same
  key are stored behind it, never applied out of order, while other keys keep flowing.
  `shared/deadletters.py` redrives or skips.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import zlib
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared import consumer_state as state
from shared.backbone_tables import (
    PROJECTION_SCHEMA,
    dead_letters,
    outbox,
    parked_events,
)
from shared.db import any_of, driver
from shared.events import Envelope
from shared.projection import Projection
from shared.telemetry import (
    consumer_duplicates_skipped,
    consumer_events_applied,
    consumer_lag,
    deadletters_total,
    start_consumer_span,
)
from shared.topics import deadletter_topic

log = logging.getLogger(__name__)

REBALANCE_GRACE_S = 30.0
REPEAT_CHECK_MAX = 50  # a live batch this small may be only the service's own events
DEFERRED_FLUSH_S = 5.0


class Record(Protocol):
    """The parts of aiokafka's ConsumerRecord the backbone reads."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


def projection_lock_id(service: str) -> int:
    """Batches hold it shared; a rebuild's swap holds it exclusively."""
    return zlib.crc32(f"projection:{service}".encode())


class StaleGeneration(Exception):
    """The projection was swapped under us: re-seek to the stored offsets."""


@dataclass
class Decoded:
    record: Record
    key: str
    envelope: Envelope | None
    error: str | None


def decode(record: Record) -> Decoded:
    key = record.key.decode(errors="replace") if record.key else f"offset:{record.offset}"
    try:
        return Decoded(record, key, Envelope.from_bytes(record.value or b""), None)
    except Exception as exc:
        return Decoded(record, key, None, f"undecodable event: {exc}")


def _position(record: Record) -> tuple[str, int, int]:
    return (record.topic, record.partition, record.offset)


def describe_error(exc: BaseException) -> str:
    """One readable line for operators: the database's own message, not SQLAlchemy's wrapper
    (which would also quote the statement)."""
    cause = getattr(exc, "orig", None) or exc
    first = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    return f"{type(cause).__name__}: {first}"[:2000]


def headers_json(record: Record) -> list[list[str]]:
    return [[k, v.decode(errors="replace")] for k, v in (record.headers or ())]


class ProjectionApplier:
    """Applies records to one copy of a projection (the live schema or a rebuild's)."""

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
    ) -> None:
        self.engine = engine
        self.projection = projection
        self.service = service
        self.schema = schema
        self.max_retries = max_retries
        self.retry_backoff_s = retry_backoff_s
        # A span per event in the trace of the command behind it: what live consumption wants;
        # a rebuild replaying history does not (it traces each batch instead).
        self.trace_each_event = trace_each_event
        # Offsets of batches that held only events already applied, not yet written (see
        # `skip_if_all_applied`); the next batch's transaction or `flush_deferred` writes them.
        self.deferred: dict[tuple[str, int], int] = {}
        self.generation: int | None = None
        #: Told the ids of each committed batch's applied events (reads waiting for them).
        self.on_applied: Callable[[list[UUID]], None] | None = None

    @contextlib.asynccontextmanager
    async def transaction(self) -> Any:
        async with self.engine.begin() as conn:
            yield await conn.execution_options(
                schema_translate_map={PROJECTION_SCHEMA: self.schema}
            )

    async def stored_offsets(self, conn: AsyncConnection) -> dict[tuple[str, int], int]:
        return await state.stored_offsets(conn)

    async def current_generation(self, conn: AsyncConnection) -> int:
        return await state.lock_and_read_generation(conn, None)

    async def apply_records(self, records: Sequence[Record], *, shared_lock: bool = True) -> int:
        """Apply one fetched batch in one transaction. Returns how many events were applied."""
        if not records:
            return 0
        flushing = dict(self.deferred)
        async with self.transaction() as conn:
            await self._check_generation(conn, shared_lock)
            applied = await self._apply_in(conn, records, flushing)
        self._flushed(flushing)
        if self.on_applied is not None and applied:
            self.on_applied(applied)
        return len(applied)

    async def _check_generation(self, conn: AsyncConnection, shared_lock: bool) -> None:
        lock_id = projection_lock_id(self.service) if shared_lock else None
        generation = await state.lock_and_read_generation(conn, lock_id)
        if self.generation is not None and generation != self.generation:
            self.deferred.clear()  # offsets of the swapped-out copy
            raise StaleGeneration()

    def _flushed(self, flushing: dict[tuple[str, int], int]) -> None:
        for partition, offset in flushing.items():
            if self.deferred.get(partition) == offset:
                del self.deferred[partition]

    async def skip_if_all_applied(self, records: Sequence[Record]) -> bool:
        """A service reads back its own events, already applied by the commands that wrote them.
        When every record is such a repeat, one read says so and their offsets are remembered
        instead of written in a transaction of their own. Safe: stored offsets only spare
        re-reading, and a record read again after a crash is skipped by its event id."""
        items = [decode(r) for r in records]
        ids = [d.envelope.event_id for d in items if d.envelope is not None]
        if not ids or len(ids) < len(items):
            return False
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(
                isolation_level="AUTOCOMMIT",
                schema_translate_map={PROJECTION_SCHEMA: self.schema},
            )
            done = await state.applied_among(conn, ids)
        if not done.issuperset(ids):
            return False
        for r in records:
            key = (r.topic, r.partition)
            self.deferred[key] = max(self.deferred.get(key, 0), r.offset + 1)
            consumer_duplicates_skipped.labels(self.service, r.topic).inc()
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
        deferred: dict[tuple[str, int], int] | None = None,
    ) -> list[UUID]:
        stored = await self.stored_offsets(conn)
        # Records below a partition's stored offset are either ones this projection has seen
        # (read again: a seek raced with a batch, or another member's late batch) and are
        # dropped, or new ones: Kafka's log is no longer the one the offsets came from (the
        # broker's data wiped, the topic recreated) and the consumer fell back to its start.
        # Those are applied (at most once, by event id) and the offset follows the new log.
        below = [r for r in records if r.offset < stored.get((r.topic, r.partition), 0)]
        seen = await self._seen_before(conn, below)
        rewound = {(r.topic, r.partition) for r in below if _position(r) not in seen}
        for topic, partition in sorted(rewound):
            log.warning(
                "%s/%d: stored offset %d is beyond what Kafka now holds; following its log"
                " again (repeats are skipped by event id)",
                topic,
                partition,
                stored[(topic, partition)],
            )
        records = [r for r in records if _position(r) not in seen]
        items = [decode(r) for r in records]
        ids = [d.envelope.event_id for d in items if d.envelope]
        done = await state.applied_among(conn, ids)
        # Parking matters only for what would be applied: a repeat is skipped either way.
        parked = await self.parked_keys(
            conn, {d.key for d in items if d.envelope is None or d.envelope.event_id not in done}
        )
        applied = await self._apply_all_at_once(conn, items, done, parked)
        if applied is None:  # something failed: one by one, with retries and dead letters
            applied = await self._apply_one_by_one(conn, items, done, parked)
        await state.mark_applied(conn, applied)
        await self._store_offsets(conn, records, rewound, deferred or {})
        return applied

    async def _seen_before(
        self, conn: AsyncConnection, records: Sequence[Record]
    ) -> set[tuple[str, int, int]]:
        """Positions of these records whose event this projection has applied, parked or
        dead-lettered already (the same bytes at the same position)."""
        if not records:
            return set()
        by_id = {}
        for r in records:
            env = decode(r).envelope
            if env is not None:
                by_id[env.event_id] = _position(r)
        seen = {by_id[event_id] for event_id in await state.applied_among(conn, list(by_id))}
        values = {_position(r): r.value or b"" for r in records}
        offsets = sorted({r.offset for r in records})
        for table in (parked_events, dead_letters):
            held = await conn.execute(
                sa.select(table.c.topic, table.c.partition, table.c.offset, table.c.value).where(
                    any_of(table.c.offset, offsets)
                )
            )
            for topic, partition, offset, value in held:
                if values.get((topic, partition, offset)) == bytes(value):
                    seen.add((topic, partition, offset))
        return seen

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
    ) -> list[UUID] | None:
        """The common case, fast: the whole batch in one savepoint. None if anything failed
        (the savepoint is rolled back and nothing of this attempt remains)."""
        if any(item.error for item in items):
            return None
        applied: dict[UUID, None] = {}  # an ordered set
        to_apply: list[Envelope] = []
        to_park: list[Decoded] = []
        counted: list[tuple[str, str]] = []  # (topic, event type) of each event applied
        for item in items:
            action = self._plan(item, done, applied, parked)
            if action == "park":
                to_park.append(item)
            elif action == "apply":
                assert item.envelope is not None
                to_apply.append(item.envelope)
                applied[item.envelope.event_id] = None
                counted.append((item.record.topic, item.envelope.event_type))
        if not to_apply and not to_park:  # only repeats (e.g. a service's own events)
            return []
        try:
            async with (await driver(conn)).transaction():  # a savepoint
                for item in to_park:
                    await self._park(conn, item.record, item.key)
                for batch_handler, run in self.projection.runs(to_apply):
                    if batch_handler is None:
                        await self._apply_traced(conn, run[0])
                    else:
                        with self._spans_for(run):
                            await batch_handler(conn, run)
        except Exception:
            return None
        for topic, event_type in counted:
            consumer_events_applied.labels(self.service, topic, event_type).inc()
        return list(applied)

    async def _apply_one_by_one(
        self, conn: AsyncConnection, items: Sequence[Decoded], done: set[UUID], parked: set[str]
    ) -> list[UUID]:
        applied: dict[UUID, None] = {}  # an ordered set
        for item in items:
            action = self._plan(item, done, applied, parked)
            if action == "park":
                await self._park(conn, item.record, item.key)
            elif action == "apply":
                error = item.error or await self._apply_with_retries(conn, item)
                if error is None and item.envelope is not None:
                    applied[item.envelope.event_id] = None
                    consumer_events_applied.labels(
                        self.service, item.record.topic, item.envelope.event_type
                    ).inc()
                elif error is not None:
                    await self._dead_letter(conn, item, error)
                    parked.add(item.key)
        return list(applied)

    async def apply_inline(
        self, conn: AsyncConnection, envelopes: Sequence[Envelope], *, new_keys: bool = False
    ) -> None:
        """Write-through from a command's own transaction, so its author reads it at once. The
        consumer later meets the same events and skips them by id. A key with a dead letter is
        left to the consumer (it parks them in order), and so is an event whose handler fails.
        `new_keys`: the caller made these keys just now (a new request), so none can be parked."""
        parked = set() if new_keys else await self.parked_keys(conn, {e.key for e in envelopes})
        applied = []
        for env in envelopes:
            if env.key in parked:
                continue
            try:
                await self.apply_one(conn, env)
            except Exception:
                log.warning(
                    "inline apply of %s failed; the consumer will retry",
                    env.event_type,
                    exc_info=True,
                )
                continue
            applied.append(env.event_id)
        await state.mark_applied(conn, applied)

    async def parked_keys(self, conn: AsyncConnection, keys: set[str]) -> set[str]:
        return await state.parked_among(conn, keys)

    async def apply_one(self, conn: AsyncConnection, envelope: Envelope) -> None:
        """Apply one event in a savepoint, so that a failure leaves the batch intact. (asyncpg's
        own savepoint: SQLAlchemy's costs ~0.4 ms of CPU, as much as the rest of a command.)"""
        async with (await driver(conn)).transaction():
            await self._apply_traced(conn, envelope)

    @contextlib.contextmanager
    def _spans_for(self, run: Sequence[Envelope]) -> Iterator[None]:
        """One CONSUMER span per event of a batch-applied run, each in its own command's trace,
        all covering the run's one set-based write."""
        with contextlib.ExitStack() as spans:
            for envelope in run if self.trace_each_event else ():
                spans.enter_context(
                    start_consumer_span(
                        f"apply {envelope.event_type}",
                        envelope.traceparent,
                        {
                            "jiph.service": self.service,
                            "jiph.event_id": str(envelope.event_id),
                            "jiph.batch_size": len(run),
                        },
                    )
                )
            yield

    async def _apply_traced(self, conn: AsyncConnection, envelope: Envelope) -> None:
        """Apply inside a CONSUMER span that joins the trace of the command behind the event."""
        if not self.trace_each_event:
            await self.projection.apply(conn, envelope)
            return
        with start_consumer_span(
            f"apply {envelope.event_type}",
            envelope.traceparent,
            {"jiph.service": self.service, "jiph.event_id": str(envelope.event_id)},
        ):
            await self.projection.apply(conn, envelope)

    async def _apply_with_retries(self, conn: AsyncConnection, item: Decoded) -> str | None:
        assert item.envelope is not None
        error = "not attempted"
        for attempt in range(self.max_retries):
            try:
                await self.apply_one(conn, item.envelope)
                return None
            except Exception as exc:
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

    async def _park(self, conn: AsyncConnection, record: Record, key: str) -> None:
        await conn.execute(
            parked_events.insert().values(
                key=key,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                value=record.value or b"",
                headers=headers_json(record),
            )
        )

    async def _dead_letter(self, conn: AsyncConnection, item: Decoded, error: str) -> None:
        record, env = item.record, item.envelope
        log.error(
            "dead-lettering %s at %s/%d@%d: %s",
            env and env.event_type,
            record.topic,
            record.partition,
            record.offset,
            error,
        )
        await conn.execute(
            dead_letters.insert().values(
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                key=item.key,
                event_id=str(env.event_id) if env else None,
                event_type=env.event_type if env else None,
                error=error,
                attempts=self.max_retries if env else 1,
                value=record.value or b"",
                headers=headers_json(record),
                status="parked",
            )
        )
        # The original bytes and the error go to the dead-letter topic through the outbox, so
        # the record exists there if and only if this transaction commits.
        dl_headers = [
            *headers_json(record),
            ["dl_error", error[:1000]],
            ["dl_topic", record.topic],
            ["dl_partition", str(record.partition)],
            ["dl_offset", str(record.offset)],
            ["dl_service", self.service],
        ]
        await conn.execute(
            outbox.insert().values(
                topic=deadletter_topic(self.service),
                key=item.key,
                value=record.value or b"",
                headers=dl_headers,
            )
        )
        deadletters_total.labels(self.service, record.topic).inc()

    async def _store_offsets(
        self,
        conn: AsyncConnection,
        records: Sequence[Record],
        rewound: Collection[tuple[str, int]] = (),
        deferred: dict[tuple[str, int], int] | None = None,
    ) -> None:
        """Next offset per partition (of these records, and those `deferred`); it only moves
        forward, except on a partition whose log was found to be a new one (`rewound`), where
        it follows that log."""
        latest: dict[tuple[str, int], int] = {
            partition: offset
            for partition, offset in (deferred or {}).items()
            if partition not in rewound
        }
        for r in records:
            latest[(r.topic, r.partition)] = max(
                latest.get((r.topic, r.partition), 0), r.offset + 1
            )
        await state.store_offsets(conn, latest, rewound)


class _SeekToStored(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: ProjectionConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        if revoked:
            log.info("consumer %s: %d partitions revoked", self.owner.group_id, len(revoked))
        self.owner.set_assigned(self.owner.assigned - set(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        # After the batch in flight (if any) has committed, so the offsets read are current.
        async with self.owner.applying:
            await self.owner.seek_to_stored(assigned)
        log.info("consumer %s: %d partitions assigned", self.owner.group_id, len(assigned))
        self.owner.set_assigned(self.owner.assigned | set(assigned))


class ProjectionConsumer:
    """A service's live consumer: a member of the service's consumer group."""

    def __init__(
        self,
        applier: ProjectionApplier,
        *,
        bootstrap_servers: str,
        group_id: str,
        max_records: int = 500,
    ) -> None:
        self.applier = applier
        self.bootstrap_servers = bootstrap_servers
        self.group_id = group_id
        self.max_records = max_records
        self.assigned: set[TopicPartition] = set()
        self.consumer: AIOKafkaConsumer | None = None
        self.batches = 0
        self.ever_assigned = False
        self.applying = asyncio.Lock()  # a batch in flight; seeks on assignment wait for it
        self.flushed_at = time.monotonic()
        self.unassigned_since = time.monotonic()

    def set_assigned(self, partitions: set[TopicPartition]) -> None:
        if partitions and not self.assigned:
            self.ever_assigned = True
        elif self.assigned and not partitions:
            self.unassigned_since = time.monotonic()
        self.assigned = partitions

    def assignment_state(self, rebalance_grace_s: float = REBALANCE_GRACE_S) -> tuple[bool, str]:
        """(ready, description). A rebalance after the first assignment is routine (a member
        joined or left, metadata changed) and is not a reason to take the service out of
        rotation: reads keep working. Only a consumer never assigned, or unassigned for longer
        than the grace period, is not ready."""
        if self.assigned:
            return True, f"assigned {len(self.assigned)} partitions"
        waited = time.monotonic() - self.unassigned_since
        if self.ever_assigned and waited < rebalance_grace_s:
            return True, f"rebalancing for {waited:.0f}s"
        return False, "not assigned"

    def _new_consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            group_id=self.group_id,
            client_id=f"{self.group_id}-consumer",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_records=self.max_records,
            session_timeout_ms=10000,
            heartbeat_interval_ms=1000,
        )

    async def seek_to_stored(self, partitions: Sequence[TopicPartition]) -> None:
        assert self.consumer is not None
        async with self.applier.transaction() as conn:
            stored = await self.applier.stored_offsets(conn)
            self.applier.generation = await self.applier.current_generation(conn)
        for tp in partitions:
            offset = stored.get((tp.topic, tp.partition))
            if offset is None:
                await self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, offset)

    async def run(self) -> None:
        """Forever: consume, apply, repeat; reconnect after failures."""
        while True:
            self.consumer = self._new_consumer()
            try:
                await self.consumer.start()
                self.consumer.subscribe(
                    list(self.applier.projection.topics), listener=_SeekToStored(self)
                )
                await self._loop()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("consumer %s failed; restarting", self.group_id)
                await asyncio.sleep(1.0)
            finally:
                self.set_assigned(set())
                with contextlib.suppress(Exception):
                    await self.consumer.stop()

    async def _loop(self) -> None:
        assert self.consumer is not None
        while True:
            fetched = await self.consumer.getmany(timeout_ms=200, max_records=self.max_records)
            records = [r for batch in fetched.values() for r in batch]
            try:
                async with self.applying:
                    repeats_only = bool(records) and (
                        len(records) <= REPEAT_CHECK_MAX
                        and await self.applier.skip_if_all_applied(records)
                    )
                    if records and not repeats_only:
                        await self.applier.apply_records(records)  # writes deferred ones too
                        self.flushed_at = time.monotonic()
                    elif time.monotonic() - self.flushed_at > DEFERRED_FLUSH_S:
                        # Quiet, or nothing but repeats: remembered offsets still reach the
                        # database every few seconds.
                        await self.applier.flush_deferred()
                        self.flushed_at = time.monotonic()
                if not records:
                    continue
            except StaleGeneration:
                await self.seek_to_stored(list(self.consumer.assignment()))
                continue
            except Exception:
                # The transaction rolled back: read the same records again from the stored offsets.
                log.exception("batch failed; re-reading from stored offsets")
                await asyncio.sleep(0.5)
                await self.seek_to_stored(list(self.consumer.assignment()))
                continue
            self.batches += 1
            for tp in fetched:
                high = self.consumer.highwater(tp)
                if high is not None:
                    lag = max(0, high - (fetched[tp][-1].offset + 1))
                    consumer_lag.labels(self.applier.service, tp.topic, tp.partition).set(lag)
