"""The relay is woken after a commit, not by a trigger inside it, on the real PostgreSQL and Kafka:
after a command (in its own process, and from another instance), a consumer batch whose reaction
appended, and a signed checkpoint.

Every relay here polls once every 600 s: an event that reaches Kafka during a test got there
because a wake-up came after its commit (the relay's own, or a NOTIFY from another instance),
never because of the poll. Each relay counts its batches, so a test commits only once the relay
has read the outbox and gone to sleep."""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

import pytest
import sqlalchemy as sa
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.api import command_transaction
from shared.backbone_tables import outbox
from shared.commands import History, Writer, reaction_context
from shared.consumer import ProjectionApplier
from shared.db import create_engine
from shared.events import Envelope
from shared.eventstore import EventStore
from shared.history.checkpointer import Checkpointer
from shared.outbox import OutboxRelay, OutboxWake, create_producer
from shared.topics import checkpoint_topic
from tests.conftest import NewTopicFactory
from tests.support import (
    CONTEXT,
    ThingHappened,
    ThingNoticed,
    create_tally_tables,
    read_topic,
    record_of,
    tally_projection,
)

if TYPE_CHECKING:
    from shared.service import Runtime

pytestmark = pytest.mark.integration
ASLEEP_S = 600.0  # far longer than any test: only a wake-up publishes


class CountingRelay(OutboxRelay):
    """A relay that says how many times it has read the outbox."""

    batches = 0

    async def publish_batch(self, conn: AsyncConnection) -> int:
        count = await super().publish_batch(conn)
        self.batches += 1
        return count


async def until(check: Any, timeout_s: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def outbox_rows(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(outbox)) or 0)


async def outbox_empty(engine: AsyncEngine) -> bool:
    return await outbox_rows(engine) == 0


async def asleep_after(relay: CountingRelay, batches: int) -> bool:
    return relay.active and relay.batches >= batches


class _RunningRelay:
    """`async with`: a relay task for the test's duration."""

    def __init__(self, relay: OutboxRelay) -> None:
        self.relay = relay

    async def __aenter__(self) -> OutboxRelay:
        self.task = asyncio.create_task(self.relay.run())
        return self.relay

    async def __aexit__(self, *_: object) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def append(conn: AsyncConnection, store: EventStore, thing: str, n: int) -> None:
    events = [ThingHappened(thing_id=thing, n=n)]
    await store.append(conn, thing, events, expected_version=n - 1, context=CONTEXT)


def command_runtime(engine: AsyncEngine, wake: OutboxWake) -> Runtime:
    """What the command path (`shared.api.command_transaction`) takes from a service's runtime."""
    return cast("Runtime", SimpleNamespace(engine=engine, wake=wake))


async def test_a_commands_event_reaches_kafka_by_the_wake_of_its_own_process_without_a_notify(
    backbone_engine: AsyncEngine, new_topics: NewTopicFactory, bootstrap: str
) -> None:
    topic = await new_topics("wake-local")
    store = EventStore(producer="test", topic_override=topic)
    producer = create_producer(bootstrap, "test-wake-local")
    await producer.start()
    notifies: list[str] = []

    async def no_database() -> None:  # the active relay in-process is woken without one
        notifies.append("NOTIFY")

    wake = OutboxWake(backbone_engine, notify=no_database)
    relay = CountingRelay(backbone_engine, producer, "t-wake-local", poll_interval_s=ASLEEP_S)
    wake.relay = relay
    try:
        async with _RunningRelay(relay):
            await until(lambda: asleep_after(relay, 1))
            async with command_transaction(command_runtime(backbone_engine, wake)) as conn:
                await append(conn, store, "w-1", 1)
            await until(lambda: asleep_after(relay, 2))  # woken once: one batch, then asleep
            assert await outbox_rows(backbone_engine) == 0

            # Without a wake, nothing publishes: no trigger NOTIFYs inside the transaction any
            # more (the backbone is made as a new database's is) and the poll is far away.
            async with backbone_engine.begin() as conn:
                await append(conn, store, "w-2", 1)
            await asyncio.sleep(1.0)
            assert relay.batches == 2 and await outbox_rows(backbone_engine) == 1
            wake.after_commit()
            await until(lambda: outbox_empty(backbone_engine))
    finally:
        await producer.stop()
    records = await read_topic(bootstrap, topic, expect=2)
    assert sorted(r.key.decode() for r in records) == ["w-1", "w-2"]
    assert notifies == []


async def test_a_commit_in_an_instance_whose_relay_waits_for_the_lock_wakes_the_active_one(
    backbone_engine: AsyncEngine, new_topics: NewTopicFactory, bootstrap: str
) -> None:
    """Two instances of one service, each with its own pool: the one that commits has a relay
    on standby (the other holds the lock), so its wake is a NOTIFY through PostgreSQL."""
    topic = await new_topics("wake-across")
    store = EventStore(producer="test", topic_override=topic)
    other_engine = create_engine(backbone_engine.url.render_as_string(hide_password=False))
    producer = create_producer(bootstrap, "test-wake-across")
    await producer.start()
    active = CountingRelay(backbone_engine, producer, "t-wake-across", poll_interval_s=ASLEEP_S)
    standby = CountingRelay(other_engine, producer, "t-wake-across", poll_interval_s=ASLEEP_S)
    wake = OutboxWake(other_engine)
    wake.relay = standby
    try:
        async with _RunningRelay(active):
            await until(lambda: asleep_after(active, 1))
            async with _RunningRelay(standby):
                for n in range(1, 4):
                    async with command_transaction(command_runtime(other_engine, wake)) as conn:
                        await append(conn, store, "x-1", n)
                await until(lambda: outbox_empty(backbone_engine))
                assert wake.notified >= 1 and not standby.active and standby.batches == 0
                await wake.close()
    finally:
        await producer.stop()
        await other_engine.dispose()
    records = await read_topic(bootstrap, topic, expect=3)
    assert [Envelope.from_bytes(r.value).data["n"] for r in records] == [1, 2, 3]


async def test_a_consumer_batch_whose_reaction_appended_wakes_the_relay(
    backbone_engine: AsyncEngine, new_topics: NewTopicFactory, bootstrap: str
) -> None:
    consumed = await new_topics("wake-in")
    reacted = await new_topics("wake-out")
    projection = tally_projection(consumed)

    @projection.react("echo", "TestThingHappened")
    async def echo(conn: AsyncConnection, env: Envelope, writer: Writer) -> None:
        thing = f"echo-{env.data['thing_id']}"
        events = [ThingNoticed(thing_id=thing)]
        await writer.append(conn, History.new(thing), events, reaction_context("tally", env))

    await create_tally_tables(backbone_engine)
    wake = OutboxWake(backbone_engine)
    applier = ProjectionApplier(
        backbone_engine,
        projection,
        service="tally",
        store=EventStore(producer="tally", topic_override=reacted),
        wake=wake,
    )
    producer = create_producer(bootstrap, "test-wake-reaction")
    await producer.start()
    relay = CountingRelay(backbone_engine, producer, "t-wake-reaction", poll_interval_s=ASLEEP_S)
    wake.relay = relay
    trigger = Envelope.wrap(
        ThingHappened(thing_id="r-1", n=1),
        stream_id="r-1",
        stream_version=1,
        producer="elsewhere",
        actor=CONTEXT.actor,
        correlation_id="wake",
    )
    try:
        async with _RunningRelay(relay):
            await until(lambda: asleep_after(relay, 1))
            assert await applier.apply_records([record_of(trigger, 0)]) == 1
            await until(lambda: outbox_empty(backbone_engine))
    finally:
        await producer.stop()
    records = await read_topic(bootstrap, reacted, expect=1)
    assert [r.key.decode() for r in records] == ["echo-r-1"]


async def test_a_signed_checkpoint_wakes_the_relay(
    backbone_engine: AsyncEngine, new_topics: NewTopicFactory, bootstrap: str
) -> None:
    service = f"wake-{uuid.uuid4().hex[:8]}"
    checkpoints = checkpoint_topic(service)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(checkpoints, 6, 1)])
    finally:
        await admin.close()
    new_topics.created.append(checkpoints)  # deleted with the test's own
    events = await new_topics("wake-checkpointed")
    store = EventStore(producer=service, topic_override=events)
    async with backbone_engine.begin() as conn:  # a head that moved; its event waits unwoken
        await append(conn, store, "c-1", 1)
    wake = OutboxWake(backbone_engine)
    checkpointer = Checkpointer(
        backbone_engine, service, Ed25519PrivateKey.generate(), interval_s=ASLEEP_S, wake=wake
    )
    producer = create_producer(bootstrap, "test-wake-checkpoint")
    await producer.start()
    relay = CountingRelay(backbone_engine, producer, service, poll_interval_s=ASLEEP_S)
    wake.relay = relay
    try:
        async with _RunningRelay(relay):
            await until(lambda: asleep_after(relay, 1))
            async with backbone_engine.begin() as conn:  # a second one, after the first batch
                await append(conn, store, "c-1", 2)
            checkpoint = await checkpointer.checkpoint_once()
            assert checkpoint is not None
            await until(lambda: outbox_empty(backbone_engine))
    finally:
        await producer.stop()
    records = await read_topic(bootstrap, checkpoints, expect=1)
    assert len(records) == 1 and records[0].key.decode() == service
