"""Kafka records as the consumer sees them: decoded into envelopes, or not, and why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from shared.events import REGISTRY, Envelope


class Record(Protocol):
    """The parts of aiokafka's ConsumerRecord the backbone reads."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


Position = tuple[str, int, int]


@dataclass
class Decoded:
    record: Record
    key: str
    envelope: Envelope | None
    error: str | None


def decode(record: Record) -> Decoded:
    # The key is stored too (locks, parked events, dead letters): storable like the data.
    key = (
        record.key.decode(errors="replace").replace("\x00", REPLACEMENT)
        if record.key
        else f"offset:{record.offset}"
    )
    try:
        return Decoded(record, key, read_envelope(record.value or b""), None)
    except Exception as exc:
        return Decoded(record, key, None, f"undecodable event: {exc}")


def read_envelope(raw: bytes) -> Envelope:
    """The event in these bytes, as projections get it: in its type's newest schema version
    (upcast), and storable (see `storable`)."""
    envelope = latest(Envelope.from_bytes(raw))
    return storable(envelope) if _NUL in raw else envelope


def latest(envelope: Envelope) -> Envelope:
    """The event upcast to the newest schema version of its type, so that every projection
    reads one shape per type (an old version's missing fields take their defaults)."""
    if not REGISTRY.knows(envelope.event_type):
        return envelope  # a type this version of the code does not know: no handler takes it
    newest = REGISTRY.latest_version(envelope.event_type)
    if envelope.schema_version == newest:
        return envelope
    data = envelope.payload().model_dump(mode="json")
    return envelope.model_copy(update={"schema_version": newest, "data": data})


#: How a NUL character stands in an event's JSON (orjson and every encoder escape it so).
_NUL = b"\\u0000"
REPLACEMENT = "\ufffd"


def storable(envelope: Envelope) -> Envelope:
    """The event with every NUL character replaced by U+FFFD, which PostgreSQL can store. The
    text rule refuses NUL at every boundary now; an event committed before it may still hold
    one, and must be applied, not dead-lettered for its content. (The event store, the topic and
    the inbox keep the original bytes.)"""
    return Envelope.model_validate(_replace_nul(envelope.model_dump(mode="json")))


def _replace_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", REPLACEMENT)
    if isinstance(value, dict):
        return {_replace_nul(k): _replace_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_nul(v) for v in value]
    return value


def position(record: Record) -> Position:
    return (record.topic, record.partition, record.offset)


def describe_error(exc: BaseException) -> str:
    """One readable line for operators: the database's own message, not SQLAlchemy's wrapper
    (which would also quote the statement)."""
    cause = getattr(exc, "orig", None) or exc
    first = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    return f"{type(cause).__name__}: {first}"[:2000]


def headers_json(record: Record) -> list[list[str]]:
    return [[k, v.decode(errors="replace")] for k, v in (record.headers or ())]
