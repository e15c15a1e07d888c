"""The dashboard: its page, and what the page needs to sign in before it has a token (the
provider's issuer and the dashboard's client id). The page holds no data: its script signs in
with the provider (authorization code with PKCE) and asks the API with the token it got."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from services.reporting.settings import ReportingSettings
from shared.browser import page_csp

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

    return router
