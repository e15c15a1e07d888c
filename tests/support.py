"""Test-only building blocks: an event type, a tallying projection, topic readers."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar
from uuid import UUID

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.backbone_tables import PROJECTION_SCHEMA
from shared.events import Actor, Envelope, EventData, event
from shared.eventstore import CommandContext
from shared.projection import Projection


@event
class ThingHappened(EventData):
    """A test event: `n` is its sequence number within the thing's stream."""

    event_type: ClassVar[str] = "TestThingHappened"
    topic: ClassVar[str] = "test.unused"
    thing_id: str
    n: int
    poison: bool = False

    def partition_key(self) -> str:
        return self.thing_id


@event
class ThingNoticed(EventData):
    """A test event no test projection handles: another service's news."""

    event_type: ClassVar[str] = "TestThingNoticed"
    topic: ClassVar[str] = "test.unused"
    thing_id: str

    def partition_key(self) -> str:
        return self.thing_id


CONTEXT = CommandContext(actor=Actor(subject="tester", role="operator"), correlation_id="test")

tally_metadata = sa.MetaData(schema=PROJECTION_SCHEMA)
tally = sa.Table(
    "tally",
    tally_metadata,
    sa.Column("thing_id", sa.Text, primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("ns", ARRAY(sa.Integer), nullable=False),
)


@dataclass(frozen=True)
class FakeRecord:
    """A record as the consumer gets it from Kafka, for feeding an applier directly."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int = 0
    headers: Sequence[tuple[str, bytes]] = ()


def record_of(env: Envelope, offset: int, partition: int = 0) -> FakeRecord:
    return FakeRecord(env.topic, partition, offset, env.key.encode(), env.to_bytes())


@dataclass
class PoisonSwitch:
    """Poison events fail while `broken` is set: the operator's "cause" to fix before redrive."""

    broken: bool = True
    seen: list[str] = field(default_factory=list)


def tally_projection(topic: str, switch: PoisonSwitch | None = None) -> Projection:
    projection = Projection(
        name="tally", metadata=tally_metadata, topics=(topic,), keeps_inbox=False
    )

    @projection.on("TestThingHappened")
    async def count(conn: AsyncConnection, env: Envelope) -> None:
        if env.data.get("poison") and (switch is None or switch.broken):
            raise ValueError(f"poison event {env.data['n']} of {env.data['thing_id']}")
        stmt = insert(tally).values(thing_id=env.data["thing_id"], count=1, ns=[env.data["n"]])
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[tally.c.thing_id],
                set_={"count": tally.c.count + 1, "ns": tally.c.ns + stmt.excluded.ns},
            )
        )

    @projection.on_batch("TestThingHappened")
    async def count_many(conn: AsyncConnection, envs: Sequence[Envelope]) -> None:
        """Set-based: one upsert per thing (executemany), its numbers in event order."""
        per_thing: dict[str, list[int]] = defaultdict(list)
        for env in envs:
            if env.data.get("poison") and (switch is None or switch.broken):
                raise ValueError(f"poison event {env.data['n']} of {env.data['thing_id']}")
            per_thing[env.data["thing_id"]].append(env.data["n"])
        stmt = insert(tally)
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[tally.c.thing_id],
                set_={
                    "count": tally.c.count + stmt.excluded.count,
                    "ns": tally.c.ns + stmt.excluded.ns,
                },
            ),
            [{"thing_id": t, "count": len(ns), "ns": ns} for t, ns in per_thing.items()],
        )

    return projection


async def create_tally_tables(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: tally_metadata.create_all(c))


async def read_tally(engine: AsyncEngine, schema: str = PROJECTION_SCHEMA) -> dict[str, list[int]]:
    async with engine.connect() as conn:
        conn = await conn.execution_options(schema_translate_map={PROJECTION_SCHEMA: schema})
        rows = await conn.execute(sa.select(tally).order_by(tally.c.thing_id))
        return {r.thing_id: list(r.ns) for r in rows}


async def read_topic(bootstrap: str, topic: str, *, expect: int, timeout_s: float = 60) -> list:
    """Every record of `topic` from the beginning, until `expect` records or the end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        # Every topic of the project (and of the tests) has 6 partitions.
        partitions = [TopicPartition(topic, p) for p in range(6)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list = []
        deadline = asyncio.get_running_loop().time() + timeout_s
        while len(records) < expect and asyncio.get_running_loop().time() < deadline:
            fetched = await consumer.getmany(timeout_ms=500)
            for batch in fetched.values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def read_whole_topic(bootstrap: str, topic: str, timeout_s: float = 60) -> list:
    """Every record `topic` holds now: read up to the end offsets found at the start, so a caller
    whose records are all published (and flushed) waits for nothing else."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(6)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list = []
        deadline = asyncio.get_running_loop().time() + timeout_s
        while any([await consumer.position(tp) < end for tp, end in ends.items()]):
            assert asyncio.get_running_loop().time() < deadline, f"{topic} not read to its end"
            fetched = await consumer.getmany(timeout_ms=500)
            for batch in fetched.values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


def by_key(records: list) -> dict[str, list[Envelope]]:
    grouped: dict[str, list[Envelope]] = defaultdict(list)
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        env = Envelope.from_bytes(r.value)
        grouped[env.key].append(env)
    return grouped


def unique_ids(envelopes: list[Envelope]) -> set[UUID]:
    return {e.event_id for e in envelopes}
