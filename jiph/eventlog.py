"""Reading the gateway's topics as operators do: from the beginning, from a time, or live."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from jiph.errors import CommandError, did_you_mean
from shared import topics

# Kafka's client and the envelope's models are imported when a topic is read, not at the start
# of every `jiph` command (see jiph/cli.py); the consumer backbone (SQLAlchemy, Alembic) never.
if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from shared.consumer import Record
    from shared.events import Envelope

REFERENCE = re.compile(r"^JIPH-\d{4}-\d{6}$")
SHORT_NAMES = ("all", "intake", "triage", "deployment", "checkpoints")


class KafkaUnavailable(CommandError):
    pass


class UnknownTopic(CommandError):
    pass


class UnknownRequest(CommandError, LookupError):
    pass


@dataclass(frozen=True)
class Read:
    topic: str
    partition: int
    offset: int
    headers: dict[str, str]
    envelope: Envelope | None
    raw: bytes


def topic_names() -> list[str]:
    """The names an operator may give: the short ones, then every topic by its full name."""
    return [*SHORT_NAMES, *topics.all_topics()]


def expand(names: Sequence[str]) -> list[str]:
    """`all` means every topic of events and dead letters; otherwise the names given (short:
    `intake`, `triage`, `deployment`, `checkpoints`)."""
    checkpoints = [topics.checkpoint_topic(s) for s in topics.WRITERS]
    if not names or "all" in names:  # what happens; the signed checkpoints by name only
        return [t for t in topics.all_topics() if t not in checkpoints]
    short = {
        "intake": [topics.INTAKE_EVENTS],
        "triage": [topics.TRIAGE_EVENTS],
        "deployment": [topics.DEPLOYMENT_EVENTS],
        "checkpoints": checkpoints,
    }
    return [topic for n in names for topic in short.get(n, [n])]


async def read(
    bootstrap: str,
    names: Sequence[str],
    *,
    from_beginning: bool = False,
    since: datetime | None = None,
    follow: bool = True,
) -> AsyncIterator[Read]:
    """The records of the topics `names`, oldest first within each fetch. Kafka away or a topic
    it does not have is a `CommandError` (one line for the operator), never a traceback."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.errors import KafkaError

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = await _partitions(bootstrap, names)
        await consumer.start()
    except (TimeoutError, KafkaError, OSError) as exc:
        await consumer.stop()
        raise KafkaUnavailable(
            f"Kafka at {bootstrap} is not answering ({_reason(exc)}): is the stack up?"
        ) from exc
    except UnknownTopic:
        await consumer.stop()
        raise
    try:
        consumer.assign(partitions)
        if since is not None:
            stamps = await consumer.offsets_for_times(
                {tp: int(since.timestamp() * 1000) for tp in partitions}
            )
            ends = await consumer.end_offsets(partitions)
            for tp in partitions:
                found = stamps.get(tp)
                consumer.seek(tp, found.offset if found else ends[tp])
        elif from_beginning:
            await consumer.seek_to_beginning(*partitions)
        else:
            await consumer.seek_to_end(*partitions)
        end = None if follow else await consumer.end_offsets(partitions)
        while True:
            if end is not None and await _reached(consumer, end):
                return
            fetched = await consumer.getmany(timeout_ms=300)
            batch = sorted((r for rs in fetched.values() for r in rs), key=lambda r: r.timestamp)
            for record in batch:
                yield _decode(record)
    except (TimeoutError, KafkaError, OSError) as exc:
        raise KafkaUnavailable(f"lost Kafka at {bootstrap} ({_reason(exc)})") from exc
    finally:
        await consumer.stop()


async def _partitions(bootstrap: str, names: Sequence[str]) -> list[TopicPartition]:
    """Every partition of `names`; a name Kafka has no partitions of is refused with the
    gateway's topic names closest to it."""
    from shared.kafka_metadata import topic_partitions

    partitions = await topic_partitions(bootstrap, tuple(names))
    found = {tp.topic for tp in partitions}
    missing = [n for n in dict.fromkeys(names) if n not in found]
    if missing:
        hints = "".join(did_you_mean(n, topic_names()) for n in missing[:1])
        raise UnknownTopic(
            f"no topic {', '.join(missing)} on Kafka at {bootstrap}{hints}; topics are "
            f"{', '.join(SHORT_NAMES)} or full names such as {topics.INTAKE_EVENTS}"
        )
    return partitions


def _reason(exc: BaseException) -> str:
    from aiokafka.errors import KafkaConnectionError

    if isinstance(exc, KafkaConnectionError):  # its text is a list of socket addresses
        return "no broker could be reached"
    return str(exc) or type(exc).__name__


async def _reached(consumer: AIOKafkaConsumer, end: dict[TopicPartition, int]) -> bool:
    for tp, offset in end.items():
        if await consumer.position(tp) < offset:
            return False
    return True


def _decode(record: Record) -> Read:
    from shared.events import Envelope

    value = record.value or b""
    headers = {k: v.decode(errors="replace") for k, v in record.headers or ()}
    try:
        env: Envelope | None = Envelope.from_bytes(value)
    except Exception:
        env = None
    return Read(record.topic, record.partition, record.offset, headers, env, value)


async def resolve_request(bootstrap: str, request: str) -> tuple[str, str | None]:
    """(request id, reference) for an id or a `JIPH-YYYY-NNNNNN` reference."""
    if not REFERENCE.match(request):
        try:
            return str(UUID(request)), None
        except ValueError:
            raise UnknownRequest(
                f"{request!r} is neither a request id (a UUID) nor a reference (JIPH-YYYY-NNNNNN)"
            ) from None
    async for item in read(bootstrap, [topics.INTAKE_EVENTS], from_beginning=True, follow=False):
        env = item.envelope
        if env and env.event_type == "RequestSubmitted" and env.data.get("reference") == request:
            return env.key, request
    raise UnknownRequest(f"no request with reference {request} on {topics.INTAKE_EVENTS}")


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]
