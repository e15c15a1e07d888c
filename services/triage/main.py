"""The triage service: `uvicorn --factory services.triage.main:create_app`."""

from pathlib import Path

from fastapi import FastAPI

import shared.catalogue  # noqa: F401  (registers the event types)
from services.triage import queries
from services.triage.api import reference_router, router
from services.triage.api_casework import casework_router
from services.triage.api_policy import policy_router
from services.triage.breaches import breach_gauge
from services.triage.config import TriageConfig
from services.triage.projection import build_projection
from shared.mail.outbox import run_staff_mail
from shared.service import ServiceDefinition, create_service_app
from shared.settings import ServiceSettings, settings_for

NAME = "triage"
Settings = settings_for(NAME)
CONFIG = TriageConfig.load()

PROJECTION = build_projection(CONFIG)

DEFINITION = ServiceDefinition(
    name=NAME,
    title="JIPH Gateway — Triage",
    description=(
        "The hub's queue. Every submitted request opens a case with a transparent priority "
        "score (a breakdown per criterion and the policy version that made it). Triage "
        "officers ask partners for information and assess the human-rights risk; the approval "
        "board (IPAB) approves, rejects or holds; high- and serious-risk requests also need a "
        "minister's approval. Separation of duties: the board approver is never the assessor, "
        "the minister neither of them.\n\n"
        "Authenticate with `Authorization: Bearer <token>` (roles `triage_officer`, `approver`, "
        "`minister`, `analyst`, `admin`; claim `clearance` sc or above to see OFFICIAL-SENSITIVE "
        "text); locally: `jiph token --role approver --sub bob`. Errors are RFC 9457 "
        "problem+json whose `type` names the rule.\n\n"
        "Scores are made with the prioritisation policy in force (`GET /v1/policy`): a "
        "candidate can be tried on a period's cases first (`POST /v1/policy/what-if`, read-only), "
        "then adopted (`POST /v1/policy/adoptions`, an event with version, author and rationale)."
    ),
    migrations=Path(__file__).parent / "migrations",
    routers=(router, casework_router, policy_router, reference_router),
    projection=PROJECTION,
    describe_request=queries.describe,
    background=(breach_gauge(CONFIG.service_levels), run_staff_mail),
    openapi_tags=(
        {"name": "cases", "description": "The queue; assess, ask, decide"},
        {
            "name": "policy",
            "description": "The prioritisation policy: in force, history, what-if, adoption",
        },
        {"name": "reference", "description": "Published code lists"},
    ),
)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    app = create_service_app(DEFINITION, settings or Settings())
    app.state.triage_config = CONFIG
    return app
