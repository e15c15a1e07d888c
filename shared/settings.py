"""One settings object per service, read from the environment under the service's own prefix.

`JIPH_INTAKE_DATABASE_URL`, `JIPH_TRIAGE_KAFKA_BOOTSTRAP_SERVERS`, ... `jiph up` sets them all;
production manifests set them explicitly. Development defaults are refused outside development.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.topics import WRITERS

DEV_ISSUER = "jiph-gateway-dev"
AUDIENCE = "jiph-gateway"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str = "service"
    env: Literal["development", "production"] = "development"
    database_url: str = Field(
        description="SQLAlchemy URL (postgresql+asyncpg://) of the service's own database"
    )
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    consumer_group: str | None = None
    port: int = 8000

    jwt_issuer: str = DEV_ISSUER
    jwt_audience: str = AUDIENCE
    jwt_algorithms: list[str] = ["ES256"]
    jwks_url: str | None = None
    #: The OpenID Connect provider whose tokens are accepted (its discovery document names the
    #: key set); in development the stack's own key (`jiph token`) is accepted beside it.
    oidc_issuer: str | None = None
    oidc_algorithms: list[str] = ["RS256", "ES256", "PS256"]
    #: Intake's client at the provider for partner onboarding (a Keycloak client allowed to
    #: manage clients), and the file holding its secret.
    provider_admin_client_id: str = "jiph-intake-provisioner"
    provider_admin_secret_file: Path | None = None
    dev_key_file: Path | None = None

    max_body_bytes: int = 64 * 1024
    #: The bodies of the few routes that take a file (attachments): the largest accepted.
    upload_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    #: Writes per minute per caller (partner organisation or staff subject), with a burst.
    write_rate_per_minute: int = 600
    #: How long a read waits for a consistency token before answering "not yet applied".
    consistency_wait_max_s: float = 5.0
    consumer_max_retries: int = 3
    relay_batch_size: int = 500
    relay_poll_interval_s: float = 1.0  # commits wake the relay; this is the safety net
    #: The Ed25519 key that signs the checkpoints of the service's history (shared/history);
    #: kept outside the database, so that whoever can rewrite the events cannot sign for them.
    checkpoint_key_file: Path | None = None
    checkpoint_interval_s: float = Field(default=5.0, gt=0)

    #: Staff e-mail (shared/mail): through GOV.UK Notify (an API key in a file, a template id
    #: per kind) or by SMTP; the local stack runs an SMTP receiver and sets its port.
    mail_transport: Literal["smtp", "govuk-notify"] = "smtp"
    mail_smtp_host: str = "127.0.0.1"
    mail_smtp_port: int = 25
    mail_from: str = "jiph-gateway@localhost"
    mail_notify_api_key_file: Path | None = None
    mail_notify_templates: dict[str, str] = {}
    #: Who is told that a minister's decision is wanted (the ministerial private office): none
    #: by default, so that nothing is sent until someone is named. Staff addressed by subject
    #: (a case's owner) are looked up in `mail_staff_addresses`, then (if set) written as
    #: `<subject>@<mail_staff_domain>`; a subject neither names is left unaddressed.
    mail_ministerial_addresses: list[str] = []
    mail_staff_addresses: dict[str, str] = {}
    mail_staff_domain: str | None = None
    mail_max_attempts: int = Field(default=10, ge=1)
    mail_backoff_base_s: float = Field(default=30.0, gt=0)

    @property
    def group_id(self) -> str:
        return self.consumer_group or f"jiph-{self.service_name}"

    @model_validator(mode="after")
    def _refuse_dev_defaults_in_production(self) -> ServiceSettings:
        if self.env == "production":
            if self.jwks_url is None and self.oidc_issuer is None:
                raise ValueError(
                    "production needs JWKS_URL or OIDC_ISSUER: development signing keys are refused"
                )
            dev_issuer = self.jwks_url is not None and self.jwt_issuer == DEV_ISSUER
            if "-local" in self.database_url or dev_issuer or self.oidc_issuer == DEV_ISSUER:
                raise ValueError("production refuses development passwords and the dev issuer")
            if self.service_name in WRITERS and self.checkpoint_key_file is None:
                raise ValueError(
                    "production needs CHECKPOINT_KEY_FILE: an unsigned history is not evidence"
                )
        return self


def settings_for(service: str) -> type[ServiceSettings]:
    """The settings class of `service`, reading `JIPH_<SERVICE>_*`."""
    prefix = f"JIPH_{service.upper()}_"

    class _Settings(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix=prefix, extra="ignore", frozen=True)
        service_name: str = service

    _Settings.__name__ = f"{service.title()}Settings"
    return _Settings
