"""The deployment service: `uvicorn --factory services.deployment.main:create_app`."""

from dataclasses import replace
from pathlib import Path

from fastapi import FastAPI

import shared.catalogue  # noqa: F401  (registers the event types)
from services.deployment import personal_data
from services.deployment.api import ROUTERS
from services.deployment.keystore import keystore_from_env
from services.deployment.projection import PROJECTION
from services.deployment.settings import PersonalDataSettings
from shared.service import Runtime, ServiceDefinition, create_service_app
from shared.settings import ServiceSettings, settings_for

Settings = settings_for("deployment")

DEFINITION = ServiceDefinition(
    name="deployment",
    title="JIPH Gateway — Deployment",
    description=(
        "UK forces offer officers for capabilities; deployment managers plan deployments for "
        "approved requests, nominate, clear, deploy, extend and bring officers home.\n\n"
        "Officers appear as a pseudonymous `officer_ref`. Their personal data (name, contact, next "
        "of kin) is sealed with a key per officer held in a key store outside the database (a "
        "PKCS#11 token), disclosed on a need-to-know basis (the manager of a deployment the "
        "officer is on, the liaison officer of their force) with an `X-Justification` (every "
        "read and export is logged), and erased by destroying the key: on request, or "
        "automatically a set period after the officer's last tour.\n\n"
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
    """The service, with its key store opened (`JIPH_DEPLOYMENT_PKCS11_*`; it will not start
    without one) and the retention rule running."""
    keys = keystore_from_env()
    personal = PersonalDataSettings()

    async def retention(runtime: Runtime) -> None:
        await personal_data.run_retention(
            runtime.engine, keys, personal.retention_days, personal.retention_interval_s
        )

    definition = replace(DEFINITION, background=(retention,))
    app = create_service_app(definition, settings or Settings())
    app.state.keystore = keys
    app.state.personal_data_settings = personal
    return app
