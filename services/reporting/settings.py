"""The reporting service's settings (`JIPH_REPORTING_*`): every service's, and the client the
dashboard signs in with at the OpenID Connect provider (`oidc_issuer`)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings

NAME = "reporting"


class ReportingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="JIPH_REPORTING_", extra="ignore", frozen=True)

    service_name: str = NAME
    #: The provider's public client of the dashboard (authorization code with PKCE, no secret:
    #: a page cannot keep one); the stack's realm registers `jiph-dashboard`.
    dashboard_client_id: str = "jiph-dashboard"
