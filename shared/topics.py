"""Kafka topic names: stable wire strings, never derived from module paths."""

from typing import Final

INTAKE_EVENTS: Final = "jiph.intake.events"
TRIAGE_EVENTS: Final = "jiph.triage.events"
DEPLOYMENT_EVENTS: Final = "jiph.deployment.events"

EVENT_TOPICS: Final = (INTAKE_EVENTS, TRIAGE_EVENTS, DEPLOYMENT_EVENTS)
#: The topic each writer publishes its own events to (through its outbox); reporting has none.
OWN_EVENTS: Final = {
    "intake": INTAKE_EVENTS,
    "triage": TRIAGE_EVENTS,
    "deployment": DEPLOYMENT_EVENTS,
}
SERVICES: Final = ("intake", "triage", "deployment", "reporting")
#: The services with an event store of their own (reporting only reads).
WRITERS: Final = ("intake", "triage", "deployment")

PARTITIONS: Final = 6
#: Topics are the replayable history of the gateway: nothing is ever deleted by time or size.
TOPIC_CONFIG: Final = {"retention.ms": "-1", "retention.bytes": "-1"}


def deadletter_topic(service: str) -> str:
    """Where events that `service` could not apply go, with their error and original bytes."""
    return f"jiph.deadletter.{service}"


def checkpoint_topic(service: str) -> str:
    """Where `service` publishes the signed heads of its streams (shared/history)."""
    return f"jiph.checkpoints.{service}"


def all_topics() -> list[str]:
    return [
        *EVENT_TOPICS,
        *(deadletter_topic(s) for s in SERVICES),
        *(checkpoint_topic(s) for s in WRITERS),
    ]
