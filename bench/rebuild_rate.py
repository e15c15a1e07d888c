"""Projection rebuild rate: events/s replayed from Kafka into PostgreSQL by the shared rebuild
(shadow schema, offsets and event ids in the same transactions), beside the rate at which the
same records are merely read from Kafka (the baseline), in the same run. Two projections: the
test tally (the backbone's own cost) and reporting's real one (event log + re-derived rows).

usage: python bench/rebuild_rate.py ADMIN_URL BOOTSTRAP [--events N]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import date

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy.engine import make_url

from bench.eventstore_append import fresh_database
from bench.targets import target
from services.reporting.projection import PROJECTION as REPORTING
from shared.backbone_tables import create_backbone_tables
from shared.catalogue.intake import Contact, RequestSubmitted, RoleProfile
from shared.catalogue.triage import CriterionScore, RequestAssessed, RequestTriaged
from shared.consumer.rebuild import ProjectionRebuild
from shared.db import create_engine
from shared.events import Actor, Envelope
from shared.gc_tuning import tune_for_service
from shared.kafka_metadata import topic_partitions
from tests.support import ThingHappened, create_tally_tables, tally_projection


def tally_events(count: int) -> list[Envelope]:
    """2,000 things, each a stream of ThingHappened: the backbone's own cost, nearly no SQL."""
    actor = Actor(subject="bench", role="operator")
    return [
        Envelope.wrap(
            ThingHappened(thing_id=f"thing-{n % 2000}", n=n),
            stream_id=f"thing-{n % 2000}",
            stream_version=n // 2000 + 1,
            producer="bench",
            actor=actor,
            correlation_id="bench",
        )
        for n in range(count)
    ]


def reporting_events(count: int) -> list[Envelope]:
    """Requests as the gateway sees them: submitted, triaged, assessed (three events each),
    interleaved across requests as they would be on the topics."""
    partner = Actor(subject="bench-partner", role="partner")
    officer = Actor(subject="bench-officer", role="triage_officer")
    breakdown = [
        CriterionScore(criterion="fragility", raw=0.8, weight=0.3, points=24, explanation="bench")
    ]
    requests = count // 3
    lifecycles = []
    for n in range(requests):
        request_id = uuid.uuid4()
        reference = f"JIPH-2026-{n + 1:06d}"
        country, capability = ("SO", "KE", "UA", "BA")[n % 4], ("forensics", "training")[n % 2]
        submitted = RequestSubmitted(
            request_id=request_id,
            reference=reference,
            partner_id="un-dpo",
            title=f"Bench request {n}",
            description="Mentoring for a national police service.",
            country=country,
            requesting_body="UN DPO",
            partner_type="un_mission",
            capability=capability,
            headcount=2,
            role_profile=RoleProfile(rank="inspector"),
            tour_length_months=6,
            needed_by=date(2027, 6, 1),
            funding_source="cssf",
            classification="OFFICIAL",
            contact=Contact(name="Bench Contact", email="bench@example.org"),
        )
        triaged = RequestTriaged(
            request_id=request_id,
            reference=reference,
            country=country,
            region="bench",
            capability=capability,
            partner_type="un_mission",
            headcount=2,
            needed_by=date(2027, 6, 1),
            classification="OFFICIAL",
            score=55.0,
            breakdown=breakdown,
            policy_version="bench",
        )
        assessed = RequestAssessed(
            request_id=request_id,
            score=60.0,
            breakdown=breakdown,
            policy_version="bench",
            risk_tier="low",
            assessor="bench-officer",
            computed_score=60.0,
        )
        lifecycles.append(
            [
                (submitted, "intake", partner),
                (triaged, "triage", officer),
                (assessed, "triage", officer),
            ]
        )
    events = []
    for step in range(3):  # every submission first, then every triage... as a backlog would hold
        for lifecycle in lifecycles:
            data, producer, actor = lifecycle[step]
            events.append(
                Envelope.wrap(
                    data,
                    stream_id=str(data.request_id),
                    stream_version=step + 1,
                    producer=producer,
                    actor=actor,
                    correlation_id="bench",
                )
            )
    return events


async def publish(bootstrap: str, topic: str, events: list[Envelope]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        linger_ms=20,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    try:
        for env in events:
            await producer.send(topic, env.to_bytes(), key=env.key.encode())
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


async def rebuild_rate(
    admin_url: str, bootstrap: str, scenario: str, events: list[Envelope]
) -> tuple[float, float, float]:
    """(rebuild events/s, read+decode events/s, seconds) for one scenario on a fresh topic."""
    topic = f"bench.rebuild.{scenario}.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 6, 1)])
    try:
        await publish(bootstrap, topic, events)
        url = await fresh_database(admin_url, "jiph_bench_rebuild")
        engine = create_engine(
            make_url(url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
        )
        async with engine.begin() as conn:
            await conn.run_sync(create_backbone_tables)
        if scenario == "tally":
            projection = tally_projection(topic)
            await create_tally_tables(engine)
        else:
            projection = REPORTING.following((topic,))
            async with engine.begin() as conn:
                await conn.run_sync(REPORTING.metadata.create_all)
        raw = await read_only(bootstrap, topic, len(events))
        rebuild = ProjectionRebuild(
            engine, projection, service=f"bench-{scenario}", bootstrap_servers=bootstrap
        )
        progress = await rebuild.run()
        assert progress.state == "done", progress.error
        assert progress.events_applied == len(events), progress
        took = (progress.finished_at or 0) - (progress.started_at or 0)
        await engine.dispose()
        return progress.records_read / took, raw, took
    finally:
        await admin.delete_topics([topic])
        await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("admin_url")
    parser.add_argument("bootstrap")
    parser.add_argument("--events", type=int, default=60_000)
    args = parser.parse_args()
    scenarios = {
        "tally": tally_events(args.events),
        "reporting": reporting_events(args.events),
    }
    tune_for_service()  # the rebuild runs here as in a service process, with its GC settings
    print("projection  events   rebuild ev/s   read+decode ev/s   ratio   (target 20,000 ev/s)")
    for scenario, events in scenarios.items():
        rate, raw, took = await rebuild_rate(args.admin_url, args.bootstrap, scenario, events)
        print(
            f"{scenario:<10} {len(events):>7,}   {rate:>12,.0f}   {raw:>16,.0f}"
            f"   {rate / raw:>5.2f}   ({took:.1f}s, swap included)"
        )
        if scenario == "reporting":
            print(target("reporting rebuild >= 20,000 events/s", f"{rate:,.0f}/s", rate >= 20_000))


if __name__ == "__main__":
    asyncio.run(main())
