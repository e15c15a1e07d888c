"""The deployment service's HTTP API: the capability register, officers' personal data, and
deployments."""

from services.deployment import (
    api_deployments,
    api_offers,
    api_officers,
    api_requirements,
    api_staffing,
    api_tour,
)

ROUTERS = (
    api_offers.router,
    api_officers.router,
    api_requirements.router,
    api_deployments.router,
    api_tour.router,
    api_staffing.router,
)
