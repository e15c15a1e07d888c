"""The dashboard: its page, and what the page needs to sign in before it has a token (the
provider's issuer and the dashboard's client id). The page holds no data: its script signs in
with the provider (authorization code with PKCE) and asks the API with the token it got."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from services.reporting.settings import ReportingSettings
from shared.browser import page_csp
from shared.reference.data import load_reference_data
from shared.request_status import Status

STATIC = Path(__file__).parent / "static"


class SignInConfig(BaseModel):
    """How the dashboard signs in: `sign_in` false when the service trusts no OpenID Connect
    provider (then only tokens of `jiph token` reach the API, from scripts, not this page)."""

    model_config = ConfigDict(extra="forbid")

    sign_in: bool
    issuer: str | None = Field(
        default=None,
        description="The provider's issuer; its discovery document is "
        "`{issuer}/.well-known/openid-configuration`",
    )
    client_id: str | None = Field(default=None, description="The dashboard's public client")


class Choice(BaseModel):
    code: str
    label: str


class CountryChoice(Choice):
    region: str


class FilterChoices(BaseModel):
    """The code lists the dashboard's filters offer, with their labels (the gateway's reference
    data: the page keeps no copy of its own)."""

    statuses: list[Choice]
    regions: list[Choice]
    capabilities: list[Choice]
    partner_types: list[Choice]
    classifications: list[Choice]
    countries: list[CountryChoice]


def filter_choices() -> FilterChoices:
    data = load_reference_data()

    def choices(entries: Any) -> list[Choice]:
        return [Choice(code=e.code, label=e.label) for e in entries]

    return FilterChoices(
        statuses=[Choice(code=s.value, label=s.value.replace("_", " ")) for s in Status],
        regions=choices(data.regions),
        capabilities=choices(data.capabilities),
        partner_types=choices(data.partner_types),
        classifications=choices(data.classifications),
        countries=[
            CountryChoice(code=c.code, label=c.name, region=c.region.value)
            for c in sorted(data.countries, key=lambda c: c.name)
        ],
    )


def dashboard_router(settings: ReportingSettings) -> APIRouter:
    """The page (with a policy that lets it reach the provider, and nothing else outside) and
    its sign-in configuration, both from `settings`."""
    issuer = settings.oidc_issuer
    config = (
        SignInConfig(sign_in=True, issuer=issuer, client_id=settings.dashboard_client_id)
        if issuer
        else SignInConfig(sign_in=False)
    )
    headers = {
        "Cache-Control": "no-cache",
        "Content-Security-Policy": page_csp(connect_to=issuer),
        "Referrer-Policy": "no-referrer",
    }
    router = APIRouter(tags=["dashboard"])

    @router.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=headers)

    @router.get(
        "/dashboard/config.json",
        response_model=SignInConfig,
        response_model_exclude_none=True,
        summary="The dashboard's sign-in configuration",
    )
    async def sign_in_config() -> SignInConfig:
        """What the dashboard page needs before anyone has signed in: the OpenID Connect
        provider's issuer and the dashboard's client id (`{"sign_in": false}` when the service
        trusts no provider). Public: it names the provider, nothing of the gateway's data."""
        return config

    choices = filter_choices()

    @router.get(
        "/dashboard/reference.json",
        response_model=FilterChoices,
        summary="The code lists of the dashboard's filters",
    )
    async def reference() -> FilterChoices:
        """Statuses, regions, capabilities, partner types, classifications and countries with
        their labels, as the gateway's reference data has them. Public: reference data only."""
        return choices

    return router
