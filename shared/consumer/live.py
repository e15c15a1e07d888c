"""A service's live consumer: a member of the service's consumer group that feeds one applier.

On assignment it seeks to the offsets stored with the projection (after the batch in flight has
committed); then it fetches, applies and repeats, reconnecting after failures. Batches that hold
only the service's own events, already applied by its commands, cost one read
(`ProjectionApplier.skip_if_all_applied`).

The offsets PostgreSQL holds are the truth the consumer seeks to. After each commit there, the
same offsets are also committed to Kafka's consumer group, so that Kafka's own tools
(`kafka-consumer-groups.sh --describe`) and lag exporters see the gateway's consumers; a commit
Kafka refuses (a rebalance in between) is only logged, as the next one will carry on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from shared.consumer.applier import ProjectionApplier, StaleGeneration
from shared.consumer.records import decode
from shared.tasks import being_cancelled
from shared.telemetry import consumer_lag

log = logging.getLogger(__name__)

REBALANCE_GRACE_S = 30.0
#: A consumer without partitions this long is made again: after a broker restart aiokafka's
#: group membership was seen never to recover on its own.
STALLED_AFTER_S = 20.0
REPEAT_CHECK_MAX = 50  # a live batch this small may be only the service's own events
DEFERRED_FLUSH_S = 5.0
KAFKA_COMMIT_TIMEOUT_S = 5.0


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
        #: Offsets handled since the last PostgreSQL commit, for Kafka's group after it.
        self.handled: dict[TopicPartition, int] = {}
        self.kafka_commits = 0

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
            # As the relay's producer (shared/outbox.py): aiokafka asks only the brokers of its
            # last metadata, so refresh often enough to learn of a broker that came back.
            metadata_max_age_ms=10000,
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
        """Forever: consume, apply, repeat; reconnect after failures. A CancelledError that is
        not this task's own cancellation (aiokafka raises one from its internals when a
        broker comes back) is a failure like any other, not a reason to stop consuming."""
        while True:
            self.consumer = self._new_consumer()
            try:
                await self.consumer.start()
                self.consumer.subscribe(
                    list(self.applier.projection.topics), listener=_SeekToStored(self)
                )
                await self._loop()
            except asyncio.CancelledError:
                if being_cancelled():
                    raise
                log.warning("consumer %s: interrupted by its client; restarting", self.group_id)
            except Exception:
                log.exception("consumer %s failed; restarting", self.group_id)
                await asyncio.sleep(1.0)
            finally:
                self.set_assigned(set())
                await _quietly(self.consumer.stop())

    async def _loop(self) -> None:
        assert self.consumer is not None
        waiting_since = time.monotonic()
        while True:
            if self.assigned:
                waiting_since = time.monotonic()
            elif time.monotonic() - waiting_since > STALLED_AFTER_S:
                log.warning(
                    "consumer %s: no partitions for %.0f s; connecting again",
                    self.group_id,
                    STALLED_AFTER_S,
                )
                return
            fetched = await self.consumer.getmany(timeout_ms=200, max_records=self.max_records)
            records = [r for batch in fetched.values() for r in batch]
            try:
                async with self.applying:
                    decoded = [decode(r) for r in records]  # once, for the check and the batch
                    repeats_only = bool(records) and (
                        len(records) <= REPEAT_CHECK_MAX
                        and await self.applier.skip_if_all_applied(records, decoded)
                    )
                    for tp, batch in fetched.items():
                        if batch:
                            self.handled[tp] = batch[-1].offset + 1
                    if records and not repeats_only:
                        # (writes the deferred offsets too)
                        await self.applier.apply_records(records, decoded=decoded)
                        self.flushed_at = time.monotonic()
                        await self._commit_to_kafka()
                    elif time.monotonic() - self.flushed_at > DEFERRED_FLUSH_S:
                        # Quiet, or nothing but repeats: remembered offsets still reach the
                        # database every few seconds.
                        await self.applier.flush_deferred()
                        self.flushed_at = time.monotonic()
                        await self._commit_to_kafka()
                if not records:
                    continue
            except StaleGeneration:
                self.handled.clear()
                await self.seek_to_stored(list(self.consumer.assignment()))
                continue
            except Exception:
                # The transaction rolled back: read the same records again from the stored offsets.
                self.handled.clear()
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

    async def _commit_to_kafka(self) -> None:
        """What PostgreSQL now holds, to Kafka's group too (for its tools; never read back)."""
        assert self.consumer is not None
        owned = self.consumer.assignment()
        offsets = {tp: offset for tp, offset in self.handled.items() if tp in owned}
        self.handled.clear()
        if not offsets:
            return
        try:
            await asyncio.wait_for(self.consumer.commit(offsets), KAFKA_COMMIT_TIMEOUT_S)
            self.kafka_commits += 1
        except (KafkaError, TimeoutError) as exc:
            log.info("consumer %s: offsets not committed to Kafka (%s)", self.group_id, exc)


async def _quietly(stopping: Awaitable[Any]) -> None:
    """Await a client's shutdown; whatever it raises (but this task's own cancellation)."""
    try:
        await stopping
    except asyncio.CancelledError:
        if being_cancelled():
            raise
    except Exception:
        log.debug("stopping the consumer failed", exc_info=True)
