"""The reporting service: `uvicorn --factory services.reporting.main:create_app`."""

from pathlib import Path

from fastapi import FastAPI

import shared.catalogue  # noqa: F401  (registers the event types)
from services.reporting.tables import metadata
from shared.projection import Projection
from shared.service import ServiceDefinition, create_service_app
from shared.settings import ServiceSettings, settings_for
from shared.topics import INTAKE_EVENTS, TRIAGE_EVENTS, DEPLOYMENT_EVENTS

Settings = settings_for("reporting")

PROJECTION = Projection(
    name="reporting",
    topics=(INTAKE_EVENTS, TRIAGE_EVENTS, DEPLOYMENT_EVENTS),
    metadata=metadata,
)

DEFINITION = ServiceDefinition(
    name="reporting",
    title="JIPH Gateway — Reporting",
    description="Read models, KPIs, exports and a dashboard for the hub's staff.",
    migrations=Path(__file__).parent / "migrations",
    projection=PROJECTION,
)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    return create_service_app(DEFINITION, settings or Settings())
