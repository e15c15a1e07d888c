"""The event catalogue as a machine-readable AsyncAPI 3.0 document, generated from the code.

Each service serves its own at `/asyncapi.json` (`shared.service.catalogue_of`): every event
channel of the gateway with every message the catalogue knows, the Kafka brokers the service
talks to, what it sends (its own events, its dead letters, its signed checkpoints) and what it
receives (the event types its projection handles or reacts to). The official parser
(`@asyncapi/parser`) validates each with no errors (tests/unit/test_asyncapi.py).

Schemas live in `components.schemas` and are referenced there (`#/components/schemas/Actor`):
pydantic's own `#/$defs/...` references would point into a `$defs` the document does not have.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import shared.catalogue  # noqa: F401  (registers every event type)
from shared import topics
from shared.events import REGISTRY, Envelope, EventData, EventRegistry

ENVELOPE_FIELDS = [name for name in Envelope.model_fields if name != "data"]
SCHEMAS = "#/components/schemas/{model}"
KAFKA_BINDING = "0.5.0"
HEADERS = ("event_id", "event_type", "schema_version", "stream_id", "correlation_id")
DEAD_LETTER_HEADERS = {
    "dl_error": "why the event could not be applied (the last attempt's error, at most 1000 "
    "characters)",
    "dl_topic": "the topic the event was read from",
    "dl_partition": "its partition",
    "dl_offset": "its offset",
    "dl_service": "the service that could not apply it",
}


@dataclass(frozen=True)
class ServiceContract:
    """What one service does with Kafka, as its document shows it."""

    name: str
    bootstrap_servers: str
    #: The event types its projection handles or reacts to (empty: it consumes nothing).
    consumes: Collection[str] = ()
    group_id: str | None = None
    #: Whether it dead-letters events it cannot apply (it has a projection).
    dead_letters: bool = False
    #: Whether it publishes signed checkpoints of its history (it has a checkpoint key).
    checkpoints: bool = False


def asyncapi(
    service: ServiceContract | None = None, registry: EventRegistry = REGISTRY
) -> dict[str, Any]:
    """The catalogue; with `service`, also its servers and operations."""
    nested: dict[str, Any] = {}  # models inside others (Actor, Contact, ...)
    schemas: dict[str, Any] = {"Envelope": _schema(Envelope, nested)}
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    for model in registry.models():
        name = _message_name(model)
        schemas[name] = _schema(model, nested)
        messages[name] = _event_message(model, name)
        channel = channels.setdefault(_channel_id(model.topic), _channel(model.topic))
        channel["messages"][name] = {"$ref": f"#/components/messages/{name}"}
    for def_name, definition in nested.items():
        schemas.setdefault(def_name, definition)
    document: dict[str, Any] = {
        "asyncapi": "3.0.0",
        "info": {
            "title": "JIPH Gateway events" + (f" — {service.name}" if service else ""),
            "version": "1",
            "description": "Every event the gateway's services publish. Each message is a JSON "
            f"envelope ({', '.join(ENVELOPE_FIELDS)}) whose `data` has the schema shown; "
            "the key is the request id (offers: the offer id; policy adoptions: `policy`; "
            "partner registrations: `partner:<id>`). Topics keep every record forever.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "components": {"messages": messages, "schemas": schemas},
    }
    if service is not None:
        _add_service(document, service, registry)
    return document


def _add_service(
    document: dict[str, Any], service: ServiceContract, registry: EventRegistry
) -> None:
    servers = [s.strip() for s in service.bootstrap_servers.split(",") if s.strip()]
    document["servers"] = {
        ("kafka" if len(servers) == 1 else f"kafka-{i}"): {
            "host": host,
            "protocol": "kafka",
            "description": f"a Kafka bootstrap broker of {service.name}",
        }
        for i, host in enumerate(servers, start=1)
    }
    channels, messages = document["channels"], document["components"]["messages"]
    operations: dict[str, Any] = {}

    def operation(
        op_id: str,
        action: str,
        channel_id: str,
        names: Collection[str],
        text: str,
        bindings: dict[str, Any] | None = None,
    ) -> None:
        operations[op_id] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": text,
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{n}"} for n in sorted(names)],
            **({"bindings": bindings} if bindings else {}),
        }

    own = topics.OWN_EVENTS.get(service.name)
    if own is not None:
        names = [_message_name(m) for m in registry.models() if m.topic == own]
        operation(
            f"{service.name}.publish",
            "send",
            _channel_id(own),
            names,
            f"{service.name} publishes its events (through its outbox, key: the stream's key)",
        )
    consumed: dict[str, list[str]] = {}
    for model in registry.models():
        if model.event_type in service.consumes:
            consumed.setdefault(model.topic, []).append(_message_name(model))
    group = (
        {
            "kafka": {
                "groupId": {"type": "string", "enum": [service.group_id]},
                "bindingVersion": KAFKA_BINDING,
            }
        }
        if service.group_id
        else None
    )
    for topic, names in sorted(consumed.items()):
        short = topic.removeprefix("jiph.").removesuffix(".events")
        operation(
            f"{service.name}.consume.{short}",
            "receive",
            _channel_id(topic),
            names,
            f"{service.name}'s projection applies these events",
            group,
        )
    if service.dead_letters:
        topic = topics.deadletter_topic(service.name)
        channels[_channel_id(topic)] = _channel(
            topic,
            f"Events {service.name} could not apply after bounded retries, with the error "
            "in headers; later events of the same key are parked until an operator redrives or "
            "skips it (`jiph deadletters`).",
        )
        channels[_channel_id(topic)]["messages"]["DeadLetter"] = {
            "$ref": "#/components/messages/DeadLetter"
        }
        messages["DeadLetter"] = _dead_letter_message()
        operation(
            f"{service.name}.deadletter",
            "send",
            _channel_id(topic),
            ["DeadLetter"],
            f"{service.name} dead-letters an event it could not apply",
        )
    if service.checkpoints:
        topic = topics.checkpoint_topic(service.name)
        channels[_channel_id(topic)] = _channel(
            topic,
            f"{service.name}'s signed checkpoints: the heads of its hash-chained streams, "
            "signed with its Ed25519 checkpoint key (`jiph audit verify` checks them).",
        )
        channels[_channel_id(topic)]["messages"]["SignedCheckpoint"] = {
            "$ref": "#/components/messages/SignedCheckpoint"
        }
        messages["SignedCheckpoint"] = _checkpoint_message()
        document["components"]["schemas"]["SignedCheckpoint"] = _checkpoint_schema()
        operation(
            f"{service.name}.checkpoint",
            "send",
            _channel_id(topic),
            ["SignedCheckpoint"],
            f"{service.name} signs and publishes the heads of the streams that moved",
        )
    document["operations"] = operations


def _schema(model: type[Any], defs: dict[str, Any]) -> dict[str, Any]:
    """The model's JSON schema with its nested models moved into `defs` (→ components)."""
    schema: dict[str, Any] = model.model_json_schema(ref_template=SCHEMAS)
    for def_name, definition in schema.pop("$defs", {}).items():
        defs.setdefault(def_name, definition)
    return schema


def _message_name(model: type[EventData]) -> str:
    return f"{model.event_type}.v{model.schema_version}"


def _channel_id(topic: str) -> str:
    return topic.replace(".", "-")


def _channel(topic: str, description: str | None = None) -> dict[str, Any]:
    return {
        "address": topic,
        "description": description or f"Kafka topic {topic}",
        "messages": {},
        "bindings": {
            "kafka": {
                "topic": topic,
                "partitions": topics.PARTITIONS,
                "topicConfiguration": {
                    name: int(value) for name, value in topics.TOPIC_CONFIG.items()
                },
                "bindingVersion": KAFKA_BINDING,
            }
        },
    }


def _string_headers(names: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {h: {"type": "string", "description": d} for h, d in names.items()},
    }


def _event_message(model: type[EventData], name: str) -> dict[str, Any]:
    headers = {h: f"the envelope's `{h}`" for h in HEADERS}
    headers["traceparent"] = "W3C trace context, when the event was traced"
    return {
        "name": model.event_type,
        "title": model.event_type,
        "summary": (model.__doc__ or "").strip(),
        "contentType": "application/json",
        "headers": _string_headers(headers),
        "payload": {
            "allOf": [
                {"$ref": "#/components/schemas/Envelope"},
                {
                    "type": "object",
                    "properties": {
                        "event_type": {"const": model.event_type},
                        "schema_version": {"const": model.schema_version},
                        "data": {"$ref": f"#/components/schemas/{name}"},
                    },
                },
            ]
        },
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "the stream's partition key"},
                "bindingVersion": KAFKA_BINDING,
            }
        },
    }


def _dead_letter_message() -> dict[str, Any]:
    return {
        "name": "DeadLetter",
        "title": "Dead letter",
        "summary": "An event a service could not apply, as it was read, with why in headers.",
        "contentType": "application/json",
        "headers": _string_headers(DEAD_LETTER_HEADERS),
        "payload": {
            "description": "The record's value byte for byte: an envelope, or (when it could "
            "not be decoded) whatever bytes were on the topic.",
            "$ref": "#/components/schemas/Envelope",
        },
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "the original record's key"},
                "bindingVersion": KAFKA_BINDING,
            }
        },
    }


def _checkpoint_message() -> dict[str, Any]:
    return {
        "name": "SignedCheckpoint",
        "title": "Signed checkpoint",
        "summary": "The heads of the streams that moved since the previous checkpoint, signed.",
        "description": "The signature is Ed25519 over the checkpoint object as JSON with sorted "
        "keys and no spaces; `previous` is the SHA-256 of the previous checkpoint's bytes "
        "(64 zeros for the first).",
        "contentType": "application/json",
        "payload": {"$ref": "#/components/schemas/SignedCheckpoint"},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "the service's name"},
                "bindingVersion": KAFKA_BINDING,
            }
        },
    }


def _checkpoint_schema() -> dict[str, Any]:
    hex64 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
    return {
        "type": "object",
        "required": ["checkpoint", "signature"],
        "properties": {
            "checkpoint": {
                "type": "object",
                "required": ["service", "seq", "previous", "at", "key_id", "heads"],
                "properties": {
                    "service": {"type": "string"},
                    "seq": {"type": "integer", "minimum": 1},
                    "previous": hex64,
                    "at": {"type": "string", "format": "date-time"},
                    "key_id": {
                        "type": "string",
                        "description": "SHA-256 of the public key, 16 hex",
                    },
                    "heads": {
                        "type": "array",
                        "description": "[stream id, version, chain hash (hex)] per stream",
                        "items": {
                            "type": "array",
                            "minItems": 3,
                            "maxItems": 3,
                            "items": [{"type": "string"}, {"type": "integer"}, hex64],
                        },
                    },
                },
            },
            "signature": {"type": "string", "contentEncoding": "base64"},
        },
    }
