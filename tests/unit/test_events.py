"""The envelope, the registry and upcasting, and the generated catalogue."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import pytest

from shared.catalogue.document import asyncapi
from shared.events import Actor, Envelope, EventData, EventRegistry, UnknownEventType
from shared.topics import DEPLOYMENT_EVENTS, INTAKE_EVENTS, TRIAGE_EVENTS

FIXTURES = Path(__file__).with_name("fixtures")
DESIGN_CATALOGUE = {
    INTAKE_EVENTS: {"RequestSubmitted", "RequestAmended", "RequestWithdrawn"},
    TRIAGE_EVENTS: {
        "RequestTriaged",
        "InformationRequested",
        "RequestAssessed",
        "ApprovalGiven",
        "RequestApproved",
        "RequestRejected",
        "RequestPutOnHold",
        "RequestResumed",
    },
    DEPLOYMENT_EVENTS: {
        "CapabilityOffered",
        "CapabilityWithdrawn",
        "DeploymentPlanned",
        "OfficerNominated",
        "OfficerReleased",
        "OfficerCleared",
        "DeploymentStarted",
        "TourExtended",
        "OfficerRepatriated",
        "DeploymentCompleted",
        "DeploymentCancelled",
    },
}


def example_registry() -> EventRegistry:
    """v1 carried one name field; v2 splits it (a change of shape with its upcaster)."""
    registry = EventRegistry()

    class ReferralMadeV1(EventData):
        event_type: ClassVar[str] = "ExampleReferralMade"
        schema_version: ClassVar[int] = 1
        topic: ClassVar[str] = "example"
        request_id: str
        officer_name: str

    class ReferralMadeV2(EventData):
        event_type: ClassVar[str] = "ExampleReferralMade"
        schema_version: ClassVar[int] = 2
        topic: ClassVar[str] = "example"
        request_id: str
        given_name: str
        family_name: str

    registry.register(ReferralMadeV1)
    registry.register(ReferralMadeV2)

    @registry.upcaster("ExampleReferralMade", 1)
    def split_name(data: dict[str, object]) -> dict[str, object]:
        given, _, family = str(data.pop("officer_name")).partition(" ")
        return {**data, "given_name": given, "family_name": family}

    return registry


def test_a_stored_v1_event_loads_as_v2_through_its_upcaster() -> None:
    stored = Envelope.from_bytes((FIXTURES / "referral_made_v1.json").read_bytes())
    payload = stored.payload(example_registry())
    assert type(payload).schema_version == 2
    assert payload.model_dump() == {
        "request_id": "r-1",
        "given_name": "Jo",
        "family_name": "Bloggs",
    }


def test_a_version_without_an_upcaster_or_an_unknown_type_is_refused() -> None:
    registry = example_registry()
    with pytest.raises(UnknownEventType):
        registry.decode("NoSuchEvent", 1, {})
    registry._upcasters.clear()
    with pytest.raises(UnknownEventType):
        registry.decode("ExampleReferralMade", 1, {"request_id": "r", "officer_name": "A B"})


def test_registering_two_models_for_one_type_and_version_is_an_error() -> None:
    registry = example_registry()

    class Impostor(EventData):
        event_type: ClassVar[str] = "ExampleReferralMade"
        schema_version: ClassVar[int] = 1
        topic: ClassVar[str] = "example"

    with pytest.raises(ValueError, match="registered twice"):
        registry.register(Impostor)


def test_envelope_carries_every_design_field_and_round_trips() -> None:
    from shared.catalogue.intake import RequestWithdrawn

    data = RequestWithdrawn(
        request_id="0190a0a0-0000-7000-8000-000000000000", partner_id="p", reason="no longer needed"
    )
    env = Envelope.wrap(
        data,
        stream_id="request-x",
        stream_version=3,
        producer="intake",
        actor=Actor(subject="u", role="partner"),
        correlation_id="c",
        causation_id="cause",
        traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01",
    )
    as_json = json.loads(env.to_bytes())
    for field in (
        "event_id",
        "event_type",
        "schema_version",
        "stream_id",
        "stream_version",
        "occurred_at",
        "producer",
        "actor",
        "correlation_id",
        "causation_id",
        "traceparent",
        "data",
    ):
        assert field in as_json
    assert env.event_id.version == 7
    assert env.key == "0190a0a0-0000-7000-8000-000000000000"
    assert Envelope.from_bytes(env.to_bytes()) == env
    assert env.payload() == data
    headers = dict(env.kafka_headers())
    assert headers["event_type"] == b"RequestWithdrawn" and headers["traceparent"].startswith(
        b"00-"
    )


def test_the_generated_catalogue_lists_every_design_event_on_its_topic() -> None:
    doc = asyncapi()
    assert doc["asyncapi"].startswith("3.")
    by_topic = {
        ch["address"]: {m.split(".v")[0] for m in ch["messages"]} for ch in doc["channels"].values()
    }
    for topic, names in DESIGN_CATALOGUE.items():
        assert names <= by_topic[topic]
    json.dumps(doc)  # serialisable as is
    submitted = doc["components"]["schemas"]["RequestSubmitted.v1"]
    assert {"request_id", "reference", "country", "needed_by"} <= set(submitted["properties"])
