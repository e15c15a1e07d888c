"""The deployment service: `uvicorn --factory services.deployment.main:create_app`."""

from pathlib import Path

from fastapi import FastAPI

import shared.catalogue  # noqa: F401  (registers the event types)
from services.deployment.api import ROUTERS
from services.deployment.projection import PROJECTION
from shared.service import ServiceDefinition, create_service_app
from shared.settings import ServiceSettings, settings_for

Settings = settings_for("deployment")

DEFINITION = ServiceDefinition(
    name="deployment",
    title="JIPH Gateway — Deployment",
    description=(
        "UK forces offer officers for capabilities; deployment managers plan deployments for "
        "approved requests, nominate, clear, deploy, extend and bring officers home.\n\n"
        "Officers appear as a pseudonymous `officer_ref`. Their personal data (name, contact, next "
        "of kin) is sealed with a key per officer, disclosed only to deployment managers who give "
        "an `X-Justification` (every disclosure is logged), and erased by destroying the key.\n\n"
        "Authenticate with `Authorization: Bearer <token>`; locally `jiph token --role "
        "deployment_manager`, `jiph token --role force_liaison --force met` or `jiph token --role "
        "admin`. Errors are RFC 9457 problem+json."
    ),
    migrations=Path(__file__).parent / "migrations",
    routers=ROUTERS,
    projection=PROJECTION,
    openapi_tags=(
        {"name": "offers", "description": "The capability register: officers offered by forces"},
        {"name": "officers", "description": "Personal data: justified reads, erasure, access log"},
        {"name": "deployments", "description": "Requirements, deployments and tours"},
    ),
)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    return create_service_app(DEFINITION, settings or Settings())
