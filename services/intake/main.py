"""The intake service: `uvicorn --factory services.intake.main:create_app`."""

from pathlib import Path

from fastapi import FastAPI

import shared.catalogue  # noqa: F401  (registers the event types)
from services.intake import queries
from services.intake.api import router
from services.intake.api_partners import router as partners_router
from services.intake.attachments.api import UPLOAD_PATH
from services.intake.attachments.api import router as attachments_router
from services.intake.attachments.storage import blob_store
from services.intake.directory import PartnerDirectory
from services.intake.projection import PROJECTION
from services.intake.settings import IntakeSettings
from services.intake.webhooks.api import router as webhooks_router
from services.intake.webhooks.worker import run_webhook_deliveries
from shared.service import ServiceDefinition, create_service_app

Settings = IntakeSettings

DEFINITION = ServiceDefinition(
    name="intake",
    title="JIPH Gateway — Intake",
    description=(
        "The partner-facing door of the gateway. UN and EU missions, OSCE, foreign governments "
        "and UK embassies submit requests for UK policing assistance here, answer the hub's "
        "questions, withdraw when plans change, and follow each request to deployment.\n\n"
        "**Signing in.** Your system obtains a token from the hub's identity provider with the "
        "OAuth 2.0 client-credentials grant, using the client id and secret the hub gave you "
        "when it registered your organisation (`POST /v1/partners/{partner_id}/credentials`):\n\n"
        "```\ncurl -s -u partner-<your id>:<secret> -d grant_type=client_credentials "
        "<provider>/realms/jiph/protocol/openid-connect/token\n```\n\n"
        "and sends its `access_token` as `Authorization: Bearer <token>` (it carries the role "
        "`partner` and your `partner_id`; it lasts 5 minutes: obtain a new one when it expires). "
        "In a development stack `jiph token --role partner --partner un-dpo` prints a token "
        "signed with the stack's own key instead. Errors are RFC 9457 problem+json."
    ),
    migrations=Path(__file__).parent / "migrations",
    routers=(router, partners_router, attachments_router, webhooks_router),
    projection=PROJECTION,
    openapi_tags=(
        {"name": "requests", "description": "Submit, amend, withdraw, follow"},
        {"name": "partners", "description": "The registry of partner organisations (hub admins)"},
        {"name": "attachments", "description": "Documents attached to a request"},
        {"name": "webhooks", "description": "Be told of changes: signed Standard Webhooks"},
    ),
    describe_request=queries.describe,
    background=(run_webhook_deliveries,),
    upload_paths=(UPLOAD_PATH,),
)


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    chosen = settings or Settings()
    app = create_service_app(DEFINITION, chosen)
    app.state.partner_directory = PartnerDirectory()
    app.state.blob_store = blob_store(
        chosen.attachment_store,
        chosen.attachment_dir,
        chosen.attachment_bucket,
        chosen.attachment_s3_endpoint_url,
    )
    return app
