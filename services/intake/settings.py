"""Intake's settings: the common service settings (shared/settings.py) and what only intake needs,
the partners' webhooks and the requests' attachments. Every default is the safe production one;
`jiph up` loosens what a local stack needs (an allow-listed receiver, quick retries)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from shared.settings import settings_for


class IntakeSettings(settings_for("intake")):  # type: ignore[misc]
    #: Destinations (`ip:port`, IPv6 as `[::1]:port`) that webhooks may reach although they are
    #: loopback or private addresses, and over plain HTTP: for a development receiver only.
    #: Empty in production, where only public HTTPS addresses are reached.
    webhook_allowed_targets: list[str] = []
    #: Attempts of one delivery before it is dead-lettered, and the backoff between them:
    #: base x 2^(attempt-1), capped (about 5 s, 10 s, 20 s … 6 h by default: some 17 hours).
    webhook_max_attempts: int = Field(default=14, ge=1, le=50)
    webhook_backoff_base_s: float = Field(default=5.0, gt=0)
    webhook_backoff_max_s: float = Field(default=6 * 3600.0, gt=0)
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=60)
    webhook_poll_interval_s: float = Field(default=1.0, gt=0)
    webhook_endpoints_per_partner: int = Field(default=10, ge=1)

    #: Where attachments' bytes are kept (`local`: a folder; `s3`: a bucket through the S3 API,
    #: credentials from the standard AWS variables); their size is bounded by UPLOAD_MAX_BYTES.
    attachment_store: Literal["local", "s3"] = "local"
    attachment_dir: Path = Path(".state/attachments")
    attachment_bucket: str | None = None
    attachment_s3_endpoint_url: str | None = None
