"""The reporting service: `uvicorn --factory services.reporting.main:create_app`."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

import shared.catalogue  # noqa: F401  (registers the event types)
from services.reporting import queries
from services.reporting.api import router
from services.reporting.api_events import events_router
from services.reporting.dashboard import STATIC, dashboard_router
from services.reporting.projection import PROJECTION
from services.reporting.settings import NAME, ReportingSettings
from services.reporting.stream import StreamSlots
from shared.service import ServiceDefinition, create_service_app

Settings = ReportingSettings

DEFINITION = ServiceDefinition(
    name=NAME,
    title="JIPH Gateway — Reporting",
    description=(
        "Read models, KPIs, exports, the audit trail and a live feed of every gateway event, "
        "fed from the intake, triage and deployment topics (no personal data is stored). The "
        "dashboard is at `/`; staff sign in to it with the OpenID Connect provider "
        "(`/dashboard/config.json` names it).\n\n"
        "Authenticate with `Authorization: Bearer <token>` (roles `analyst`, `admin`; the audit "
        "and the live feed also `operator`; claim `clearance` sc or above to see the titles of "
        "OFFICIAL-SENSITIVE requests); locally: `jiph token --role analyst`."
    ),
    migrations=Path(__file__).parent / "migrations",
    routers=(router, events_router),
    projection=PROJECTION,
    describe_request=queries.describe,
    openapi_tags=(
        {"name": "reporting", "description": "KPIs, exports, audit, live feed"},
        {"name": "dashboard", "description": "The dashboard page and its sign-in configuration"},
    ),
)


def create_app(settings: ReportingSettings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = create_service_app(DEFINITION, settings)
    app.include_router(dashboard_router(settings))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.state.stream_slots = StreamSlots()
    return app
