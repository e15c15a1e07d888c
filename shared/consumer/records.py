"""Kafka records as the consumer sees them: decoded into envelopes, or not, and why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from shared.events import Envelope


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
    key = record.key.decode(errors="replace") if record.key else f"offset:{record.offset}"
    try:
        return Decoded(record, key, Envelope.from_bytes(record.value or b""), None)
    except Exception as exc:
        return Decoded(record, key, None, f"undecodable event: {exc}")


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
