"""The triage service: `uvicorn --factory services.triage.main:create_app`."""

from pathlib import Path

from fastapi import FastAPI

import shared.catalogue  # noqa: F401  (registers the event types)
from services.triage.tables import metadata
from shared.projection import Projection
from shared.service import ServiceDefinition, create_service_app
from shared.settings import ServiceSettings, settings_for
from shared.topics import INTAKE_EVENTS, TRIAGE_EVENTS, DEPLOYMENT_EVENTS

Settings = settings_for("triage")

PROJECTION = Projection(
    name="triage",
    topics=(INTAKE_EVENTS, TRIAGE_EVENTS, DEPLOYMENT_EVENTS),
    metadata=metadata,
)

DEFINITION = ServiceDefinition(
    name="triage",
    title="JIPH Gateway — Triage",
    description="The hub's queue: assess, prioritise, ask for information, approve or reject.",
    migrations=Path(__file__).parent / "migrations",
    projection=PROJECTION,
)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    return create_service_app(DEFINITION, settings or Settings())
