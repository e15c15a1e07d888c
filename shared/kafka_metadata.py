"""What the broker's metadata says about topics, with Kafka's admin client alone: for the
consumer backbone's rebuild and for `jiph tail`, which must not load the backbone (SQLAlchemy,
the telemetry's FastAPI) only to start."""

from __future__ import annotations

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


async def topic_partitions(bootstrap_servers: str, topics: tuple[str, ...]) -> list[TopicPartition]:
    """Every partition of `topics`, from the broker's metadata."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return [
        TopicPartition(t["topic"], p["partition"])
        for t in described
        for p in sorted(t["partitions"], key=lambda p: p["partition"])
    ]
