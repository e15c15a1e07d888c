"""The event envelope, the registry of event types and the upcasters of old schema versions.

Domain code produces `EventData` objects (what happened, nothing else); `Envelope.wrap` adds the
metadata every event carries on the wire (ids, stream position, actor, trace) as DESIGN §2 lists.
Wire names (`event_type`) are explicit strings, never derived from Python names or modules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar
from uuid import UUID

import orjson
from pydantic import BaseModel, ConfigDict, Field
from uuid6 import uuid7

JSON = dict[str, Any]
Upcaster = Callable[[JSON], JSON]


class EventData(BaseModel):
    """The payload of one event type at one schema version. Subclasses set the class vars."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1
    topic: ClassVar[str]

    def partition_key(self) -> str:
        """Events of one request share a key so they stay in order (offers use the offer id)."""
        request_id = getattr(self, "request_id", None)
        if request_id is None:
            raise NotImplementedError(f"{type(self).__name__} must define partition_key()")
        return str(request_id)


class Actor(BaseModel):
    model_config = ConfigDict(frozen=True)

    subject: str = Field(max_length=200)
    role: str = Field(max_length=40)


SYSTEM_ACTOR_ROLE = "system"


class Envelope(BaseModel):
    """Every event on Kafka and in the event stores has exactly this shape (JSON)."""

    model_config = ConfigDict(frozen=True)

    event_id: UUID
    event_type: str
    schema_version: int
    stream_id: str
    stream_version: int
    occurred_at: datetime
    producer: str
    actor: Actor
    correlation_id: str
    causation_id: str | None = None
    traceparent: str | None = None
    key: str
    data: JSON

    @classmethod
    def wrap(
        cls,
        data: EventData,
        *,
        stream_id: str,
        stream_version: int,
        producer: str,
        actor: Actor,
        correlation_id: str,
        causation_id: str | None = None,
        traceparent: str | None = None,
        occurred_at: datetime | None = None,
    ) -> Envelope:
        return cls(
            event_id=uuid7(),
            event_type=data.event_type,
            schema_version=data.schema_version,
            stream_id=stream_id,
            stream_version=stream_version,
            occurred_at=occurred_at or datetime.now(UTC),
            producer=producer,
            actor=actor,
            correlation_id=correlation_id,
            causation_id=causation_id,
            traceparent=traceparent,
            key=data.partition_key(),
            data=data.model_dump(mode="json"),
        )

    @property
    def topic(self) -> str:
        """The topic that carries this event's type, as the catalogue says."""
        return REGISTRY.topic_of(self.event_type)

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        return cls.model_validate(orjson.loads(raw))

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        """The ids also travel as headers, so tools can filter without parsing the value."""
        headers = [
            ("event_id", str(self.event_id).encode()),
            ("event_type", self.event_type.encode()),
            ("schema_version", str(self.schema_version).encode()),
            ("stream_id", self.stream_id.encode()),
            ("correlation_id", self.correlation_id.encode()),
        ]
        if self.traceparent:
            headers.append(("traceparent", self.traceparent.encode()))
        return headers

    def payload(self, registry: EventRegistry | None = None) -> EventData:
        """The typed data, upcast to the newest schema version of its type."""
        return (registry or REGISTRY).decode(self.event_type, self.schema_version, self.data)


class UnknownEventType(Exception):
    pass


E = TypeVar("E", bound=type[EventData])


class EventRegistry:
    """`(event_type, schema_version)` → model, plus upcasters `(type, v)` → dict of `v + 1`."""

    def __init__(self) -> None:
        self._models: dict[tuple[str, int], type[EventData]] = {}
        self._latest: dict[str, int] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    def register(self, model: E) -> E:
        key = (model.event_type, model.schema_version)
        if key in self._models and self._models[key] is not model:
            raise ValueError(f"event {key} registered twice")
        self._models[key] = model
        self._latest[model.event_type] = max(
            model.schema_version, self._latest.get(model.event_type, 0)
        )
        return model

    def upcaster(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        def add(fn: Upcaster) -> Upcaster:
            self._upcasters[(event_type, from_version)] = fn
            return fn

        return add

    def latest_version(self, event_type: str) -> int:
        if event_type not in self._latest:
            raise UnknownEventType(event_type)
        return self._latest[event_type]

    def upcast(self, event_type: str, version: int, data: JSON) -> tuple[int, JSON]:
        latest = self.latest_version(event_type)
        while version < latest:
            step = self._upcasters.get((event_type, version))
            if step is None:
                raise UnknownEventType(f"no upcaster for {event_type} v{version}")
            data, version = step(data), version + 1
        return version, data

    def decode(self, event_type: str, version: int, data: JSON) -> EventData:
        version, data = self.upcast(event_type, version, data)
        return self._models[(event_type, version)].model_validate(data)

    def models(self) -> Iterator[type[EventData]]:
        yield from sorted(
            self._models.values(), key=lambda m: (m.topic, m.event_type, m.schema_version)
        )

    def knows(self, event_type: str) -> bool:
        return event_type in self._latest

    def model(self, event_type: str) -> type[EventData]:
        """The newest schema version's model of `event_type`."""
        return self._models[(event_type, self.latest_version(event_type))]

    def topic_of(self, event_type: str) -> str:
        """The topic that carries `event_type` (the catalogue is the only place that knows)."""
        return self.model(event_type).topic

    def event_types(
        self, *, topic: str | None = None, with_field: str | None = None
    ) -> tuple[str, ...]:
        """Every known event type, sorted; only those on `topic`, or whose newest model has
        the field `with_field` (e.g. every type about a request: `with_field="request_id"`)."""
        chosen = []
        for event_type in sorted(self._latest):
            model = self.model(event_type)
            if topic is not None and model.topic != topic:
                continue
            if with_field is not None and with_field not in model.model_fields:
                continue
            chosen.append(event_type)
        return tuple(chosen)


#: The gateway's one catalogue; each service's `events.py` registers its types at import.
REGISTRY = EventRegistry()


def event(model: E) -> E:
    """Class decorator: register an event type in the catalogue."""
    return REGISTRY.register(model)
