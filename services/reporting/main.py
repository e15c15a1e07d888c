"""The reporting service: `uvicorn --factory services.reporting.main:create_app`."""

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

import shared.catalogue  # noqa: F401  (registers the event types)
from services.reporting import queries
from services.reporting.api import router
from services.reporting.projection import PROJECTION
from services.reporting.stream import StreamSlots
from shared.service import ServiceDefinition, create_service_app
from shared.settings import ServiceSettings, settings_for

NAME = "reporting"
STATIC = Path(__file__).parent / "static"
Settings = settings_for(NAME)

dashboard_router = APIRouter(tags=["dashboard"])


@dashboard_router.get("/", include_in_schema=False)
async def dashboard() -> FileResponse:
    """The dashboard page. It holds no data: its script asks the API with the user's token."""
    return FileResponse(
        STATIC / "index.html",
        headers={
            "Cache-Control": "no-cache",
            "Content-Security-Policy": (
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
            ),
            "Referrer-Policy": "no-referrer",
        },
    )


DEFINITION = ServiceDefinition(
    name=NAME,
    title="JIPH Gateway — Reporting",
    description=(
        "Read models, KPIs, exports, the audit trail and a live feed of every gateway event, "
        "fed from the intake, triage and deployment topics (no personal data is stored). The "
        "dashboard is at `/`.\n\n"
        "Authenticate with `Authorization: Bearer <token>` (roles `analyst`, `admin`; the audit "
        "and the live feed also `operator`; claim `clearance` sc or above to see the titles of "
        "OFFICIAL-SENSITIVE requests); locally: `jiph token --role analyst`."
    ),
    migrations=Path(__file__).parent / "migrations",
    routers=(router, dashboard_router),
    projection=PROJECTION,
    describe_request=queries.describe,
    openapi_tags=(
        {"name": "reporting", "description": "KPIs, exports, audit, live feed"},
        {"name": "dashboard", "description": "The dashboard page"},
    ),
)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    app = create_service_app(DEFINITION, settings or Settings())
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.state.stream_slots = StreamSlots()
    return app
