"""The deployment service's own settings, beside the ones every service reads
(`shared.settings`): the retention rule for officers' personal data."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PersonalDataSettings(BaseSettings):
    """`JIPH_DEPLOYMENT_RETENTION_DAYS`, `JIPH_DEPLOYMENT_RETENTION_INTERVAL_S`."""

    model_config = SettingsConfigDict(env_prefix="JIPH_DEPLOYMENT_", extra="ignore", frozen=True)

    #: Personal data is erased this many days after the officer's last tour (or offer) ended.
    retention_days: int = Field(default=730, ge=1, le=36500)
    #: How often each process runs the retention rule.
    retention_interval_s: float = Field(default=3600.0, gt=0)
