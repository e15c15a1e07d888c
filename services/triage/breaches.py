"""The breach gauge: how many open cases are past their service level, by stage, refreshed from
the queue itself every few seconds (so it is right whichever instance changed the cases)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncConnection

from services.triage.domain.service_levels import ServiceLevels, SlaStage
from services.triage.queries import due_on_sql
from services.triage.tables import cases
from shared.service import Runtime

log = logging.getLogger(__name__)

REFRESH_S = 5.0

cases_breached = Gauge(
    "jiph_triage_cases_breached",
    "Open cases past their service level's due date, by stage",
    ["stage"],
)


async def count_breaches(
    conn: AsyncConnection, levels: ServiceLevels, today: date
) -> dict[SlaStage, int]:
    """Open cases past their due date on `today`, by stage (every stage named)."""
    due = due_on_sql(levels)
    rows = await conn.execute(
        sa.select(cases.c.sla_stage, sa.func.count()).where(due < today).group_by(cases.c.sla_stage)
    )
    found = {SlaStage(stage): int(n) for stage, n in rows}
    return {stage: found.get(stage, 0) for stage in SlaStage}


def breach_gauge(levels: ServiceLevels) -> Callable[[Runtime], Coroutine[Any, Any, None]]:
    """The background work that keeps the gauge (a `ServiceDefinition.background` item)."""

    async def refresh_breach_gauge(runtime: Runtime) -> None:
        while True:
            try:
                async with runtime.engine.connect() as conn:
                    counts = await count_breaches(conn, levels, datetime.now(UTC).date())
                for stage, n in counts.items():
                    cases_breached.labels(stage.value).set(n)
            except Exception as exc:  # the database is away: /readyz says so
                log.debug("could not count breaches: %s", exc)
            await asyncio.sleep(REFRESH_S)

    return refresh_breach_gauge
