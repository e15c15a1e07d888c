"""Projection rebuild rate: events/s replayed from Kafka into PostgreSQL by the shared rebuild
(shadow schema, offsets and event ids in the same transactions), beside the rate at which the
same records are merely read from Kafka (the baseline), in the same run.

usage: python bench/rebuild_rate.py ADMIN_URL BOOTSTRAP [--events N]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy.engine import make_url

from bench.eventstore_append import fresh_database
from shared.backbone_tables import create_backbone_tables
from shared.db import create_engine
from shared.events import Actor, Envelope
from shared.rebuild import ProjectionRebuild, topic_partitions
from tests.support import ThingHappened, create_tally_tables, tally_projection


async def publish(bootstrap: str, topic: str, count: int) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        linger_ms=20,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    actor = Actor(subject="bench", role="operator")
    try:
        for n in range(count):
            thing = f"thing-{n % 2000}"
            env = Envelope.wrap(
                ThingHappened(thing_id=thing, n=n),
                stream_id=thing,
                stream_version=n // 2000 + 1,
                producer="bench",
                actor=actor,
                correlation_id="bench",
            )
            await producer.send(topic, env.to_bytes(), key=thing.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def read_only(bootstrap: str, topic: str, count: int) -> float:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    partitions = await topic_partitions(bootstrap, (topic,))
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    started, seen = time.perf_counter(), 0
    while seen < count:
        batch = await consumer.getmany(timeout_ms=500, max_records=2000)
        for records in batch.values():
            for r in records:
                Envelope.from_bytes(r.value)  # decoding is part of any consumer's work
            seen += sum(len(rs) for rs in batch.values())
    elapsed = time.perf_counter() - started
    await consumer.stop()
    return count / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("admin_url")
    parser.add_argument("bootstrap")
    parser.add_argument("--events", type=int, default=50_000)
    args = parser.parse_args()
    topic = f"bench.rebuild.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=args.bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 6, 1)])
    try:
        await publish(args.bootstrap, topic, args.events)
        url = await fresh_database(args.admin_url, "jiph_bench_rebuild")
        engine = create_engine(
            make_url(url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
        )
        async with engine.begin() as conn:
            await conn.run_sync(create_backbone_tables)
        await create_tally_tables(engine)
        raw = await read_only(args.bootstrap, topic, args.events)
        rebuild = ProjectionRebuild(
            engine, tally_projection(topic), service="bench", bootstrap_servers=args.bootstrap
        )
        progress = await rebuild.run()
        assert progress.state == "done", progress.error
        took = (progress.finished_at or 0) - (progress.started_at or 0)
        rate = progress.records_read / took
        print(
            f"events {args.events:,}: rebuild {rate:,.0f} events/s ({took:.1f}s, swap included); "
            f"read+decode only {raw:,.0f} events/s; ratio {rate / raw:.2f}; target 20,000/s"
        )
        await engine.dispose()
    finally:
        await admin.delete_topics([topic])
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
