"""The local platform is real: Kafka 4.x over the network, PostgreSQL with one role per service."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError

from jiph.stack.config import SERVICE_NAMES
from jiph.stack.postgres import PostgresTarget, service_password, service_role
from shared import topics
from tests.conftest import NewTopicFactory

pytestmark = pytest.mark.integration


async def test_idempotent_producer_and_consumer_round_trip_through_the_broker(
    bootstrap: str, new_topics: NewTopicFactory
) -> None:
    topic = await new_topics("roundtrip")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for i in range(20):
            await producer.send_and_wait(topic, f"v{i}".encode(), key=b"same-key")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"g-{uuid.uuid4()}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    got: list[bytes] = []
    try:
        while len(got) < 20:
            batch = await asyncio.wait_for(consumer.getmany(timeout_ms=1000), 30)
            got.extend(r.value for rs in batch.values() for r in rs)
    finally:
        await consumer.stop()
    assert got == [f"v{i}".encode() for i in range(20)]  # one key: one partition, in order


async def test_a_consumer_group_shares_the_six_partitions(
    bootstrap: str, new_topics: NewTopicFactory
) -> None:
    topic = await new_topics("group")
    group = f"g-{uuid.uuid4()}"
    members = [
        AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group) for _ in range(2)
    ]
    for m in members:
        await m.start()
    try:
        for _ in range(100):
            await asyncio.gather(*(m.getmany(timeout_ms=200) for m in members))
            shares = [m.assignment() for m in members]
            if all(len(s) == 3 for s in shares):
                break
        assert [len(s) for s in shares] == [3, 3]
        assert {tp.partition for s in shares for tp in s} == set(range(6))
    finally:
        for m in members:
            await m.stop()


async def test_project_topics_have_six_partitions_and_infinite_retention(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(topics.all_topics())
        assert {t["topic"]: len(t["partitions"]) for t in described} == {
            name: 6 for name in topics.all_topics()
        }
        configs = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in topics.all_topics()]
        )
        for response in configs:
            for resource in response.resources:
                entries = {e[0]: e[1] for e in resource[4]}
                assert entries["retention.ms"] == "-1", resource[3]
    finally:
        await admin.close()


async def test_broker_does_not_create_topics_on_demand(bootstrap: str) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, request_timeout_ms=3000, metadata_max_age_ms=1000
    )
    await producer.start()
    try:
        with pytest.raises(KafkaError):
            await asyncio.wait_for(
                producer.send_and_wait(f"nobody.made.this.{uuid.uuid4().hex}", b"x"), 20
            )
    finally:
        await producer.stop()


@pytest.mark.parametrize("service", SERVICE_NAMES)
async def test_each_service_role_reaches_only_its_own_database(
    infra: PostgresTarget, service: str
) -> None:
    own = await asyncpg.connect(
        host=infra.host,
        port=infra.port,
        user=service_role(service),
        password=service_password(service),
        database=service_role(service),
    )
    assert await own.fetchval("SELECT current_database()") == service_role(service)
    await own.close()
    for other in SERVICE_NAMES:
        if other == service:
            continue
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await asyncpg.connect(
                host=infra.host,
                port=infra.port,
                user=service_role(service),
                password=service_password(service),
                database=service_role(other),
            )
