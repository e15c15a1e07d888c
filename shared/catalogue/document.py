"""The event catalogue as a machine-readable AsyncAPI 3.0 document, generated from the code.

`jiph catalogue > asyncapi.json` prints it; each service also serves it at `/v1/catalogue`.
"""

from __future__ import annotations

from typing import Any

import shared.catalogue  # noqa: F401  (registers every event type)
from shared.events import REGISTRY, Envelope, EventRegistry

ENVELOPE_FIELDS = [name for name in Envelope.model_fields if name != "data"]


def asyncapi(registry: EventRegistry = REGISTRY) -> dict[str, Any]:
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {"Envelope": Envelope.model_json_schema()}
    for model in registry.models():
        name = f"{model.event_type}.v{model.schema_version}"
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for def_name, definition in schema.pop("$defs", {}).items():
            schemas.setdefault(def_name, definition)
        schemas[name] = schema
        messages[name] = {
            "name": model.event_type,
            "title": model.event_type,
            "summary": (model.__doc__ or "").strip(),
            "contentType": "application/json",
            "headers": {
                "type": "object",
                "properties": {
                    h: {"type": "string"}
                    for h in (
                        "event_id",
                        "event_type",
                        "schema_version",
                        "stream_id",
                        "correlation_id",
                        "traceparent",
                    )
                },
            },
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
        }
        channel = channels.setdefault(
            model.topic.replace(".", "-"),
            {"address": model.topic, "messages": {}, "description": f"Kafka topic {model.topic}"},
        )
        channel["messages"][name] = {"$ref": f"#/components/messages/{name}"}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "JIPH Gateway events",
            "version": "1",
            "description": "Every event the gateway's services publish. Each message is a JSON "
            f"envelope ({', '.join(ENVELOPE_FIELDS)}) whose `data` has the schema shown; "
            "the key is the request id (offers: the offer id; policy adoptions: `policy`).",
        },
        "channels": channels,
        "components": {"messages": messages, "schemas": schemas},
    }
