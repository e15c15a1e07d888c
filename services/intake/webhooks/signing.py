"""Standard Webhooks signatures (https://www.standardwebhooks.com), by the specification's own
Python package: `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` under a
`whsec_`-prefixed base64 secret."""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the specification asks for 24 to 64


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signed_headers(secret: str, message_id: str, at: datetime, body: str) -> dict[str, str]:
    """The three headers of one delivery attempt; the id stays the same across attempts (the
    receiver's key for ignoring a repeat), the timestamp is the attempt's own."""
    at = at.astimezone(UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body),
    }
