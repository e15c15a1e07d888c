"""The deployment service: `uvicorn --factory services.deployment.main:create_app`."""

from pathlib import Path

from fastapi import FastAPI

import shared.catalogue  # noqa: F401  (registers the event types)
from services.deployment.tables import metadata
from shared.projection import Projection
from shared.service import ServiceDefinition, create_service_app
from shared.settings import ServiceSettings, settings_for
from shared.topics import INTAKE_EVENTS, TRIAGE_EVENTS, DEPLOYMENT_EVENTS

Settings = settings_for("deployment")

PROJECTION = Projection(
    name="deployment",
    topics=(INTAKE_EVENTS, TRIAGE_EVENTS, DEPLOYMENT_EVENTS),
    metadata=metadata,
)

DEFINITION = ServiceDefinition(
    name="deployment",
    title="JIPH Gateway — Deployment",
    description="UK forces' capability offers, deployment plans, nominations and tours.",
    migrations=Path(__file__).parent / "migrations",
    projection=PROJECTION,
)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    return create_service_app(DEFINITION, settings or Settings())
