"""The projection consumer on the real PostgreSQL and Kafka: exactly-once effects, crash safety,
dead letters that park their key, redrive and skip, and a rebuild identical to the live copy."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.backbone_tables import REBUILD_SCHEMA, consumer_offsets, outbox
from shared.consumer import ProjectionApplier, ProjectionConsumer, state
from shared.consumer.rebuild import ProjectionRebuild
from shared.consumer.redrive import list_dead_letters, resolve
from shared.events import Envelope
from shared.topics import deadletter_topic
from tests.conftest import NewTopicFactory
from tests.support import (
    CONTEXT,
    PoisonSwitch,
    ThingHappened,
    ThingNoticed,
    create_tally_tables,
    read_tally,
    read_topic,
    read_whole_topic,
    record_of,
    tally_projection,
)

pytestmark = pytest.mark.integration
CONSUMER_SCRIPT = Path(__file__).with_name("consumer_process.py")


def envelope(thing: str, n: int, *, poison: bool = False) -> Envelope:
    return Envelope.wrap(
        ThingHappened(thing_id=thing, n=n, poison=poison),
        stream_id=thing,
        stream_version=n,
        producer="test",
        actor=CONTEXT.actor,
        correlation_id="test",
    )


async def publish(
    bootstrap: str, topic: str, envelopes: list[Envelope], *, twice: bool = False
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for env in envelopes:
            for _ in range(2 if twice else 1):
                await producer.send(
                    topic, env.to_bytes(), key=env.key.encode(), headers=env.kafka_headers()
                )
        await producer.flush()
    finally:
        await producer.stop()


async def consume_until(
    engine: AsyncEngine,
    applier: ProjectionApplier,
    bootstrap: str,
    check: object,
    timeout_s: float = 60,
) -> None:
    consumer = ProjectionConsumer(
        applier, bootstrap_servers=bootstrap, group_id=f"g-{uuid.uuid4().hex[:8]}"
    )
    task = asyncio.create_task(consumer.run())
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not await check():  # type: ignore[operator]
            assert asyncio.get_running_loop().time() < deadline, "consumer did not catch up"
            assert not task.done(), task
            await asyncio.sleep(0.1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def expected_tally(things: int, per_thing: int) -> dict[str, list[int]]:
    return {f"t{i}": list(range(1, per_thing + 1)) for i in range(things)}


async def test_every_event_applied_once_even_when_delivered_twice(
    backbone_engine: AsyncEngine,
    new_topics: NewTopicFactory,
    bootstrap: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    topic = await new_topics("dupes")
    await create_tally_tables(backbone_engine)
    await publish(
        bootstrap, topic, [envelope(f"t{i}", n) for n in range(1, 21) for i in range(5)], twice=True
    )
    applier = ProjectionApplier(backbone_engine, tally_projection(topic), service="tally")
    want = expected_tally(5, 20)

    async def done() -> bool:
        return await read_tally(backbone_engine) == want

    await consume_until(backbone_engine, applier, bootstrap, done)
    # Replaying the same records again (as after a lost offset) changes nothing either: not
    # the tally, and not the stored offsets (both copies of an event are known, so the re-read
    # is not taken for a new log).
    async with backbone_engine.connect() as conn:
        offsets = await state.stored_offsets(conn)
    records = await read_topic(bootstrap, topic, expect=200)
    with caplog.at_level(logging.WARNING, logger="shared.consumer"):
        await applier.apply_records(records)
    assert await read_tally(backbone_engine) == want
    assert not [r for r in caplog.records if "beyond what Kafka now holds" in r.getMessage()]
    async with backbone_engine.connect() as conn:
        assert await state.stored_offsets(conn) == offsets


async def test_consumer_killed_between_apply_and_commit_ends_equal_to_full_replay(
    backbone_engine: AsyncEngine, fresh_database: str, new_topics: NewTopicFactory, bootstrap: str
) -> None:
    topic = await new_topics("crash")
    await create_tally_tables(backbone_engine)
    await publish(bootstrap, topic, [envelope(f"t{i}", n) for n in range(1, 61) for i in range(6)])
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    want = expected_tally(6, 60)
    deaths = 0
    for _ in range(30):
        # A new group each time: a SIGKILLed member would hold its partitions until its session
        # expires. Positions come from PostgreSQL, not from the group, so nothing else changes.
        group = f"crash-{uuid.uuid4().hex[:8]}"
        proc = subprocess.Popen(
            [sys.executable, str(CONSUMER_SCRIPT), fresh_database, bootstrap, topic, group, "3"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            code = await asyncio.wait_for(asyncio.to_thread(proc.wait), timeout=20)
        except TimeoutError:
            proc.terminate()
            code = await asyncio.to_thread(proc.wait)
        if code == -signal.SIGKILL:
            deaths += 1
        so_far = await read_tally(backbone_engine)
        for thing, ns in so_far.items():  # never a duplicate, never a gap, at every crash
            assert ns == list(range(1, len(ns) + 1)), thing
        if so_far == want:
            break
    assert deaths >= 2, "the consumer should have died mid-transaction several times"
    live = await read_tally(backbone_engine)
    assert live == want
    # A full replay into a fresh copy gives the same projection.
    rebuild = ProjectionRebuild(
        backbone_engine, tally_projection(topic), service="tally", bootstrap_servers=bootstrap
    )
    rebuild.applier.projection = tally_projection(topic)
    await rebuild._prepare_shadow()
    await _replay_into_shadow(rebuild, bootstrap, topic)
    assert await read_tally(backbone_engine, REBUILD_SCHEMA) == live


async def _replay_into_shadow(rebuild: ProjectionRebuild, bootstrap: str, topic: str) -> None:
    records = await read_whole_topic(bootstrap, topic)
    await rebuild.applier.apply_records(records, shared_lock=False)


async def test_poison_event_is_dead_lettered_parks_its_key_and_redrive_applies_in_order(
    backbone_engine: AsyncEngine, new_topics: NewTopicFactory, bootstrap: str
) -> None:
    topic = await new_topics("poison")
    await create_tally_tables(backbone_engine)
    switch = PoisonSwitch(broken=True)
    projection = tally_projection(topic, switch)
    applier = ProjectionApplier(
        backbone_engine,
        projection,
        service=f"svc{uuid.uuid4().hex[:6]}",
        max_retries=2,
        retry_backoff_s=0.01,
    )
    events = [
        envelope("bad", 1),
        envelope("bad", 2, poison=True),
        envelope("bad", 3),
        envelope("bad", 4),
        envelope("good", 1),
        envelope("good", 2),
    ]
    await publish(bootstrap, topic, events)

    async def settled() -> bool:
        return (
            (await read_tally(backbone_engine)).get("good") == [1, 2]
            and bool(await _dead(applier))
            and (await _dead(applier))[0].parked_behind == 2
        )

    await consume_until(backbone_engine, applier, bootstrap, settled)
    # The same records read again (a seek racing with a batch, a late batch of another member):
    # nothing is applied, parked or dead-lettered twice, and no "new log" is assumed.
    await applier.apply_records(await read_topic(bootstrap, topic, expect=len(events)))
    assert await settled() and len(await _dead(applier)) == 1
    dead = (await _dead(applier))[0]
    assert dead.key == "bad" and dead.event_type == "TestThingHappened"
    assert "poison event 2 of bad" in dead.error
    assert dead.attempts == 2
    assert (await read_tally(backbone_engine))["bad"] == [1]  # 3 and 4 wait behind 2
    # The dead letter waits in the outbox for the service's dead-letter topic (the relay, which
    # does not run here, publishes it), with the error and the original bytes.
    async with backbone_engine.connect() as conn:
        waiting = (await conn.execute(sa.select(outbox))).all()
    assert [row.topic for row in waiting] == [deadletter_topic(applier.service)]
    assert waiting[0].key == "bad" and Envelope.from_bytes(waiting[0].value).data["n"] == 2
    assert ["dl_error", dead.error[:1000]] in waiting[0].headers
    # Redrive while still broken: refused, nothing changes.
    outcome = await resolve(applier, dead.id, "redrive", "operator-1")
    assert outcome.still_failing and not outcome.released
    switch.broken = False  # the operator fixes the cause
    outcome = await resolve(applier, dead.id, "redrive", "operator-1")
    assert outcome.released and outcome.applied == 2
    assert (await read_tally(backbone_engine))["bad"] == [1, 2, 3, 4]
    assert await _dead(applier) == []


async def test_skip_drops_the_poison_event_and_releases_the_parked_ones(
    backbone_engine: AsyncEngine, new_topics: NewTopicFactory, bootstrap: str
) -> None:
    topic = await new_topics("skip")
    await create_tally_tables(backbone_engine)
    applier = ProjectionApplier(
        backbone_engine,
        tally_projection(topic),
        service="tally-skip",
        max_retries=1,
        retry_backoff_s=0.01,
    )
    await publish(bootstrap, topic, [envelope("x", 1, poison=True), envelope("x", 2)])

    async def parked() -> bool:
        dead = await _dead(applier)
        return bool(dead) and dead[0].parked_behind == 1

    await consume_until(backbone_engine, applier, bootstrap, parked)
    dead = (await _dead(applier))[0]
    outcome = await resolve(applier, dead.id, "skip", "operator-1")
    assert outcome.released and outcome.applied == 1
    assert (await read_tally(backbone_engine))["x"] == [2]


async def _dead(applier: ProjectionApplier) -> list:
    async with applier.transaction() as conn:
        return await list_dead_letters(conn)


async def test_rebuild_while_live_serves_swaps_in_an_identical_projection(
    backbone_engine: AsyncEngine, new_topics: NewTopicFactory, bootstrap: str
) -> None:
    topic = await new_topics("rebuild")
    await create_tally_tables(backbone_engine)
    await publish(bootstrap, topic, [envelope(f"t{i}", n) for n in range(1, 51) for i in range(8)])
    projection = tally_projection(topic)
    applier = ProjectionApplier(backbone_engine, projection, service="tally-rebuild")
    consumer = ProjectionConsumer(
        applier, bootstrap_servers=bootstrap, group_id=f"g-{uuid.uuid4().hex[:8]}"
    )
    task = asyncio.create_task(consumer.run())
    try:
        while await read_tally(backbone_engine) != expected_tally(8, 50):
            await asyncio.sleep(0.1)
        before = await read_tally(backbone_engine)
        rebuild = ProjectionRebuild(
            backbone_engine, projection, service="tally-rebuild", bootstrap_servers=bootstrap
        )
        # More events arrive while the rebuild runs; the live copy keeps serving reads.
        more = asyncio.create_task(
            publish(
                bootstrap, topic, [envelope(f"t{i}", n) for n in range(51, 61) for i in range(8)]
            )
        )
        progress = await rebuild.run()
        await more
        assert progress.state == "done", progress.error
        assert progress.records_read >= 400
        assert await read_tally(backbone_engine) != {}
        # After the swap, the live consumer continues from the rebuilt offsets.
        want = expected_tally(8, 60)
        for _ in range(200):
            if await read_tally(backbone_engine) == want:
                break
            await asyncio.sleep(0.1)
        assert await read_tally(backbone_engine) == want
        assert before == expected_tally(8, 50)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_stored_offsets_beyond_the_log_follow_the_new_log_and_lose_nothing(
    backbone_engine: AsyncEngine, new_topics: NewTopicFactory, bootstrap: str
) -> None:
    # The database remembers offsets of a log Kafka no longer holds (its data was wiped, or the
    # topic recreated): the consumer must read the new log from its start, not skip it.
    topic = await new_topics("wiped")
    await create_tally_tables(backbone_engine)
    async with backbone_engine.begin() as conn:
        await conn.execute(
            consumer_offsets.insert(),
            [{"topic": topic, "partition": p, "next_offset": 100} for p in range(6)],
        )
    await publish(bootstrap, topic, [envelope(f"t{i}", n) for n in range(1, 5) for i in range(5)])
    applier = ProjectionApplier(backbone_engine, tally_projection(topic), service="tally-wiped")
    want = expected_tally(5, 4)

    async def done() -> bool:
        return await read_tally(backbone_engine) == want

    await consume_until(backbone_engine, applier, bootstrap, done)
    async with backbone_engine.connect() as conn:
        stored = await applier.stored_offsets(conn)
    # Where the new log has records, the stored offsets now follow it (not the old 100s).
    ends: dict[tuple[str, int], int] = {}
    for r in await read_topic(bootstrap, topic, expect=20):
        ends[(r.topic, r.partition)] = max(ends.get((r.topic, r.partition), 0), r.offset + 1)
    assert {tp: stored[tp] for tp in ends} == ends


async def test_own_events_read_back_are_skipped_with_one_read_and_offsets_written_later(
    backbone_engine: AsyncEngine, new_topics: NewTopicFactory, bootstrap: str
) -> None:
    # A service's commands apply their events inline; its consumer then reads them back.
    topic = await new_topics("own")
    await create_tally_tables(backbone_engine)
    own = [envelope(f"t{i}", n) for n in range(1, 4) for i in range(3)]
    applier = ProjectionApplier(backbone_engine, tally_projection(topic), service="tally-own")
    async with backbone_engine.begin() as conn:
        await applier.apply_inline(conn, own)
    await publish(bootstrap, topic, own)
    records = await read_topic(bootstrap, topic, expect=len(own))
    want = expected_tally(3, 3)
    assert await read_tally(backbone_engine) == want

    assert await applier.skip_if_all_applied(records)
    async with backbone_engine.connect() as conn:
        assert await applier.stored_offsets(conn) == {}  # remembered, not yet written
    await applier.flush_deferred()
    ends: dict[tuple[str, int], int] = {}
    for r in records:
        ends[(r.topic, r.partition)] = max(ends.get((r.topic, r.partition), 0), r.offset + 1)
    async with backbone_engine.connect() as conn:
        assert await applier.stored_offsets(conn) == ends
    assert applier.deferred == {}
    assert await read_tally(backbone_engine) == want  # nothing applied twice

    # One event not yet applied among the repeats: the batch goes through a transaction.
    await publish(bootstrap, topic, [envelope("t0", 4)])
    more = await read_topic(bootstrap, topic, expect=len(own) + 1)
    assert not await applier.skip_if_all_applied(more)
    await applier.apply_records(more)
    assert (await read_tally(backbone_engine))["t0"] == [1, 2, 3, 4]


async def test_a_consumer_reading_only_its_own_events_still_stores_its_offsets(
    backbone_engine: AsyncEngine, new_topics: NewTopicFactory, bootstrap: str
) -> None:
    # Steady traffic of the service's own events only: every batch is skipped by one read, and
    # the remembered offsets must still reach the database every few seconds.
    topic = await new_topics("own-steady")
    await create_tally_tables(backbone_engine)
    applier = ProjectionApplier(backbone_engine, tally_projection(topic), service="tally-steady")
    consumer = ProjectionConsumer(
        applier, bootstrap_servers=bootstrap, group_id=f"g-{uuid.uuid4().hex[:8]}"
    )
    task = asyncio.create_task(consumer.run())
    try:
        rounds, remembered = 8, False
        for n in range(1, rounds + 1):
            own = [envelope(f"t{i}", n) for i in range(3)]
            async with backbone_engine.begin() as conn:
                await applier.apply_inline(conn, own)  # as a command does
            await publish(bootstrap, topic, own)
            await asyncio.sleep(1.0)
            remembered = remembered or bool(applier.deferred)
        assert remembered, "the batches of repeats should have been skipped by one read"
        for _ in range(200):
            async with backbone_engine.connect() as conn:
                stored = await applier.stored_offsets(conn)
            if sum(o for (t, _), o in stored.items() if t == topic) == 3 * rounds:
                break
            await asyncio.sleep(0.1)
        assert sum(o for (t, _), o in stored.items() if t == topic) == 3 * rounds
        assert await read_tally(backbone_engine) == expected_tally(3, rounds)  # none twice
        assert not task.done()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_offsets_stored_in_postgresql_are_committed_to_kafkas_group_too(
    backbone_engine: AsyncEngine, new_topics: NewTopicFactory, bootstrap: str
) -> None:
    # PostgreSQL stays the truth the consumer seeks to; Kafka's group shows the same offsets,
    # so that its own tools and lag exporters see the gateway's consumers.
    topic = await new_topics("kafka-offsets")
    await create_tally_tables(backbone_engine)
    await publish(bootstrap, topic, [envelope(f"t{i}", n) for n in range(1, 11) for i in range(6)])
    applier = ProjectionApplier(backbone_engine, tally_projection(topic), service="tally-kafka")
    group = f"g-{uuid.uuid4().hex[:8]}"
    consumer = ProjectionConsumer(applier, bootstrap_servers=bootstrap, group_id=group)
    task = asyncio.create_task(consumer.run())
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        stored: dict[tuple[str, int], int] = {}
        in_kafka: dict[tuple[str, int], int] = {}
        for _ in range(300):
            async with backbone_engine.connect() as conn:
                stored = {k: v for k, v in (await applier.stored_offsets(conn)).items()}
            committed = await admin.list_consumer_group_offsets(group)
            in_kafka = {(tp.topic, tp.partition): meta.offset for tp, meta in committed.items()}
            if sum(stored.values()) == 60 and in_kafka == stored:
                break
            await asyncio.sleep(0.1)
        assert sum(stored.values()) == 60  # every record applied
        assert in_kafka == stored and consumer.kafka_commits >= 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await admin.close()


async def test_events_a_projection_ignores_cost_no_batch_yet_count_as_applied(
    backbone_engine: AsyncEngine,
) -> None:
    # Another service's news the projection neither projects, reacts to nor keeps: no batch
    # transaction, but reads waiting on them (consistency tokens) see them applied.
    await create_tally_tables(backbone_engine)
    applier = ProjectionApplier(backbone_engine, tally_projection("t"), service="tally-ignores")
    told: list[uuid.UUID] = []
    applier.on_applied = told.extend
    noticed = [
        Envelope.wrap(
            ThingNoticed(thing_id=f"n{i}"),
            stream_id=f"n{i}",
            stream_version=1,
            producer="other",
            actor=CONTEXT.actor,
            correlation_id="test",
        )
        for i in range(3)
    ]
    records = [record_of(env, offset) for offset, env in enumerate(noticed)]
    assert await applier.skip_if_all_applied(records)
    ids = [env.event_id for env in noticed]
    assert told == ids
    async with backbone_engine.connect() as conn:
        assert await state.applied_among(conn, ids) == set(ids)
        assert await applier.stored_offsets(conn) == {}  # remembered, written later
    assert applier.deferred == {(records[0].topic, 0): 3}

    # One event it does project, not yet applied: the whole batch goes the full way.
    fresh = envelope("t-new", 1)
    mixed = [*records, record_of(fresh, 3)]
    assert not await applier.skip_if_all_applied(mixed)
    assert await applier.apply_records(mixed) == 1
    assert await read_tally(backbone_engine) == {"t-new": [1]}
