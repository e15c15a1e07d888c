"""The outbox relay on the real PostgreSQL and Kafka: gap-free, ordered per key, one active
instance, and nothing lost when it is killed mid-batch."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from aiokafka.errors import OutOfOrderSequenceNumber
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.backbone_tables import outbox
from shared.consumer import ProjectionApplier
from shared.db import create_engine
from shared.eventstore import EventStore
from shared.outbox import OutboxRelay, create_producer
from tests.conftest import NewTopicFactory
from tests.support import (
    CONTEXT,
    ThingHappened,
    by_key,
    create_tally_tables,
    read_tally,
    read_topic,
    tally_projection,
)

pytestmark = pytest.mark.integration
RELAY_SCRIPT = Path(__file__).with_name("relay_process.py")


async def append_stream(engine: AsyncEngine, store: EventStore, thing: str, count: int) -> None:
    """One writer: `count` single-event appends to one stream, each its own transaction."""
    for n in range(1, count + 1):
        async with engine.begin() as conn:
            await store.append(
                conn,
                thing,
                [ThingHappened(thing_id=thing, n=n)],
                expected_version=n - 1,
                context=CONTEXT,
            )


async def wait_for(check: Callable[[], object], timeout_s: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():  # type: ignore[misc]
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def outbox_empty(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        return (await conn.scalar(sa.select(sa.func.count()).select_from(outbox))) == 0


async def test_two_writers_two_thousand_events_all_reach_kafka_in_order_per_key(
    backbone_engine: AsyncEngine, new_topics: NewTopicFactory, bootstrap: str
) -> None:
    topic = await new_topics("relay")
    store = EventStore(producer="test", topic_override=topic)
    producer = create_producer(bootstrap, "test-relay")
    await producer.start()
    # A small batch and a fast poll make the relay read while both writers commit, so a
    # high-water-mark relay would skip the late committers here.
    relay = OutboxRelay(backbone_engine, producer, "t-two", batch_size=50, poll_interval_s=0.01)
    task = asyncio.create_task(relay.run())
    try:
        # Each writer owns 10 streams and appends to them interleaved: 2 x 1,000 events.
        async def writer(prefix: str) -> None:
            await asyncio.gather(
                *(append_stream(backbone_engine, store, f"{prefix}-{i}", 100) for i in range(10))
            )

        await asyncio.gather(writer("a"), writer("b"))
        await wait_for(lambda: outbox_empty(backbone_engine))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await producer.stop()
    records = await read_topic(bootstrap, topic, expect=2000)
    streams = by_key(records)
    assert len(streams) == 20
    for key, envelopes in streams.items():
        ns = [e.data["n"] for e in envelopes]
        assert ns == list(range(1, 101)), f"{key} out of order or incomplete"


class RefusedProducer(AIOKafkaProducer):
    """A producer left as an outage can leave aiokafka's idempotent one: every send refused
    with OutOfOrderSequenceNumber (its sequence numbers ahead of what the broker saw)."""

    async def send(self, *args: Any, **kwargs: Any) -> Any:
        raise OutOfOrderSequenceNumber()


async def test_a_producer_refused_for_its_sequence_numbers_is_replaced_and_nothing_is_lost(
    backbone_engine: AsyncEngine, new_topics: NewTopicFactory, bootstrap: str
) -> None:
    topic = await new_topics("renew")
    store = EventStore(producer="test", topic_override=topic)
    stuck = RefusedProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await stuck.start()
    made: list[AIOKafkaProducer] = []

    async def renew() -> AIOKafkaProducer:
        producer = create_producer(bootstrap, "test-relay-renew")
        await producer.start()
        made.append(producer)
        return producer

    relay = OutboxRelay(
        backbone_engine, stuck, "t-renew", poll_interval_s=0.05, renew_producer=renew
    )
    await append_stream(backbone_engine, store, "renewed", 20)
    task = asyncio.create_task(relay.run())
    try:
        await wait_for(lambda: outbox_empty(backbone_engine))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        for producer in [stuck, *made]:
            await producer.stop()
    assert relay.renewals == 1 and relay.producer is made[0]
    records = await read_topic(bootstrap, topic, expect=20)
    assert [e.data["n"] for e in by_key(records)["renewed"]] == list(range(1, 21))


async def test_only_one_relay_is_active_per_service(
    backbone_engine: AsyncEngine, bootstrap: str
) -> None:
    producer = create_producer(bootstrap, "test-relay-lock")
    await producer.start()
    relays = [OutboxRelay(backbone_engine, producer, "t-lock") for _ in range(3)]
    tasks = [asyncio.create_task(r.run()) for r in relays]
    try:
        await asyncio.sleep(1.5)
        assert sum(r.active for r in relays) == 1
        # The active one goes away: another takes over.
        active = next(i for i, r in enumerate(relays) if r.active)
        tasks[active].cancel()
        await asyncio.gather(tasks[active], return_exceptions=True)
        await asyncio.sleep(2.5)
        assert sum(r.active for i, r in enumerate(relays) if i != active) == 1
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await producer.stop()


async def test_relay_killed_mid_batch_loses_nothing(
    backbone_engine: AsyncEngine, fresh_database: str, new_topics: NewTopicFactory, bootstrap: str
) -> None:
    topic = await new_topics("relay-kill")
    store = EventStore(producer="test", topic_override=topic)
    await asyncio.gather(*(append_stream(backbone_engine, store, f"k-{i}", 150) for i in range(8)))
    argv = [sys.executable, str(RELAY_SCRIPT), fresh_database, bootstrap, "t-kill", "40"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    kills = 0
    for _ in range(4):  # start, let it publish part of the backlog, SIGKILL it
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert proc.stdout is not None
        await asyncio.to_thread(proc.stdout.readline)
        await asyncio.sleep(0.4)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        if await outbox_empty(backbone_engine):
            break
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await wait_for(lambda: outbox_empty(backbone_engine))
    finally:
        proc.terminate()
        proc.wait()
    assert kills >= 1
    records = await read_topic(bootstrap, topic, expect=1200)
    streams = by_key(records)
    assert len(streams) == 8
    for key, envelopes in streams.items():
        # At least once: every event is there; duplicates only re-send what was already sent.
        assert {e.data["n"] for e in envelopes} == set(range(1, 151)), key
        first_seen = list(dict.fromkeys(e.data["n"] for e in envelopes))
        assert first_seen == list(range(1, 151)), f"{key}: first occurrences out of order"
    # Whatever the relay sent twice, a consumer's effects are exactly once.
    await create_tally_tables(backbone_engine)
    applier = ProjectionApplier(backbone_engine, tally_projection(topic), service="tally")
    await applier.apply_records(records)
    await applier.apply_records(records)  # and a full redelivery changes nothing
    assert await read_tally(backbone_engine) == {f"k-{i}": list(range(1, 151)) for i in range(8)}


class _CutOffProducer:
    """The relay's producer when its instance is cut off from the brokers: acks never come."""

    async def send(self, *_: object, **__: object) -> asyncio.Future[object]:
        return asyncio.get_running_loop().create_future()


async def test_a_relay_cut_off_from_kafka_hands_its_lock_to_an_instance_that_reaches_it(
    backbone_engine: AsyncEngine, bootstrap: str, new_topics: NewTopicFactory
) -> None:
    topic = await new_topics("handover")
    other_engine = create_engine(backbone_engine.url.render_as_string(hide_password=False))
    reachable = {"cut": True}
    cut = OutboxRelay(
        backbone_engine,
        _CutOffProducer(),  # type: ignore[arg-type]
        "t-handover",
        poll_interval_s=0.05,
        kafka_reachable=lambda: reachable["cut"],
    )
    producer = create_producer(bootstrap, "test-relay-handover")
    await producer.start()
    healthy = OutboxRelay(other_engine, producer, "t-handover", poll_interval_s=0.05)
    tasks = [asyncio.create_task(cut.run())]
    try:
        for _ in range(50):
            if cut.active:
                break
            await asyncio.sleep(0.1)
        assert cut.active
        tasks.append(asyncio.create_task(healthy.run()))
        async with backbone_engine.begin() as conn:
            await conn.execute(
                outbox.insert().values(topic=topic, key="k", value=b"{}", headers=[])
            )
        await asyncio.sleep(0.5)  # the cut-off relay is waiting for acks that never come
        reachable["cut"] = False
        for _ in range(100):
            async with backbone_engine.connect() as conn:
                left = await conn.scalar(sa.select(sa.func.count()).select_from(outbox))
            if healthy.active and left == 0:
                break
            await asyncio.sleep(0.1)
        assert healthy.active and not cut.active
        assert left == 0  # the healthy instance published what the cut-off one could not
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await producer.stop()
        await other_engine.dispose()
