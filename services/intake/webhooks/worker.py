"""The background task that works the deliveries table (one per intake process; instances share
the work by row locks). A delivery is locked while it is attempted and its outcome is written
in the same transaction: a process that dies mid-attempt leaves it due, to be tried again with
the same `webhook-id`, which is how receivers recognise a repeat."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

from sqlalchemy.ext.asyncio import AsyncEngine

from services.intake.webhooks import store
from services.intake.webhooks.addresses import AddressPolicy
from services.intake.webhooks.sender import Outcome, new_client, send
from services.intake.webhooks.signing import signed_headers
from shared.retry import RetrySchedule

if TYPE_CHECKING:
    import httpx

    from services.intake.settings import IntakeSettings
    from shared.service import Runtime

log = logging.getLogger(__name__)
BATCH = 20


def message_id(delivery: store.Due) -> str:
    return f"msg_{delivery.delivery_id}"


async def _attempt(
    client: httpx.AsyncClient, policy: AddressPolicy, due: store.Due
) -> tuple[Outcome, datetime]:
    at = datetime.now(UTC)
    headers = signed_headers(due.secret, message_id(due), at, due.body)
    return await send(client, policy, due.url, headers, due.body), at


async def deliver_due(
    engine: AsyncEngine,
    client: httpx.AsyncClient,
    policy: AddressPolicy,
    schedule: RetrySchedule,
) -> int:
    """Attempt every delivery due now (a batch); how many were attempted."""
    async with engine.begin() as conn:
        due = await store.claim_due(conn, BATCH)
        results = await asyncio.gather(*(_attempt(client, policy, d) for d in due))
        for delivery, (outcome, at) in zip(due, results, strict=True):
            attempts = delivery.attempts + 1
            later = None if outcome.delivered else schedule.after_failure(attempts, at)
            if not outcome.delivered:
                log.info(
                    "webhook %s attempt %d failed: %s%s",
                    message_id(delivery),
                    attempts,
                    outcome.error,
                    "" if later else " (dead letter)",
                )
            await store.record_attempt(
                conn,
                delivery.delivery_id,
                attempts=attempts,
                at=at,
                delivered=outcome.delivered,
                status_code=outcome.status_code,
                error=outcome.error,
                next_attempt_at=later,
            )
    return len(due)


async def run_webhook_deliveries(runtime: Runtime) -> None:
    """Forever: deliver what is due, then wait a poll interval when nothing was."""
    settings = cast("IntakeSettings", runtime.settings)
    policy = AddressPolicy.from_settings(settings.webhook_allowed_targets)
    schedule = RetrySchedule(
        settings.webhook_max_attempts,
        settings.webhook_backoff_base_s,
        settings.webhook_backoff_max_s,
    )
    async with new_client(settings.webhook_timeout_s) as client:
        while True:
            try:
                attempted = await deliver_due(runtime.engine, client, policy, schedule)
            except Exception as exc:  # the database is away: try again after a pause
                log.warning("webhook deliveries paused: %s", exc)
                attempted = 0
            if not attempted:
                await asyncio.sleep(settings.webhook_poll_interval_s)
