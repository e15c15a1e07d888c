"""Reporting's read side: every gateway event goes into the event log (without personal data),
then the request's row and its deployment's rows are re-derived from the log by the pure folds of
`folds.py`. Deterministic: times come from the events, never from the clock."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting import folds
from services.reporting.tables import (
    deployment_officers,
    deployments,
    event_log,
    metadata,
    offers,
    requests,
)
from shared.db import lock_until_commit
from shared.events import Envelope
from shared.projection import Projection
from shared.topics import DEPLOYMENT_EVENTS, INTAKE_EVENTS, TRIAGE_EVENTS

PROJECTION = Projection(
    name="reporting",
    topics=(INTAKE_EVENTS, TRIAGE_EVENTS, DEPLOYMENT_EVENTS),
    metadata=metadata,
)

INTAKE_TYPES = frozenset({"RequestSubmitted", "RequestAmended", "RequestWithdrawn"})
TRIAGE_TYPES = frozenset(
    {
        "RequestTriaged",
        "InformationRequested",
        "RequestAssessed",
        "ApprovalGiven",
        "RequestApproved",
        "RequestRejected",
        "RequestPutOnHold",
        "RequestResumed",
    }
)
DEPLOYMENT_TYPES = frozenset(
    {
        "DeploymentPlanned",
        "OfficerNominated",
        "OfficerReleased",
        "OfficerCleared",
        "DeploymentStarted",
        "TourExtended",
        "OfficerRepatriated",
        "DeploymentCompleted",
        "DeploymentCancelled",
    }
)


def topic_of(event_type: str) -> str:
    if event_type in INTAKE_TYPES:
        return INTAKE_EVENTS
    if event_type in TRIAGE_TYPES:
        return TRIAGE_EVENTS
    return DEPLOYMENT_EVENTS


async def log_event(conn: AsyncConnection, env: Envelope) -> None:
    d = env.data
    await conn.execute(
        insert(event_log)
        .values(
            event_id=env.event_id,
            request_id=UUID(d["request_id"]) if d.get("request_id") else None,
            deployment_id=UUID(d["deployment_id"]) if d.get("deployment_id") else None,
            topic=topic_of(env.event_type),
            stream_id=env.stream_id,
            stream_version=env.stream_version,
            event_type=env.event_type,
            schema_version=env.schema_version,
            producer=env.producer,
            actor_subject=env.actor.subject,
            actor_role=env.actor.role,
            occurred_at=env.occurred_at,
            correlation_id=env.correlation_id,
            trace_id=folds.trace_id_of(env.traceparent),
            data=folds.without_personal_data(d),
        )
        .on_conflict_do_nothing()
    )


async def _lock(conn: AsyncConnection, request_id: UUID) -> None:
    """Serialise refreshes of one request's rows (consumers of different topics may race)."""
    await lock_until_commit(conn, f"reporting-request:{request_id}")


async def _logged(conn: AsyncConnection, where: sa.ColumnElement[bool]) -> list[folds.Logged]:
    rows = await conn.execute(
        sa.select(
            event_log.c.event_id,
            event_log.c.event_type,
            event_log.c.topic,
            event_log.c.stream_version,
            event_log.c.occurred_at,
            event_log.c.data,
        ).where(where)
    )
    return [folds.Logged(*row) for row in rows]


async def refresh_request(conn: AsyncConnection, request_id: UUID) -> None:
    row = folds.request_row(await _logged(conn, event_log.c.request_id == request_id))
    if row is None:
        return
    stmt = insert(requests).values(request_id=request_id, **row)
    await conn.execute(stmt.on_conflict_do_update(index_elements=[requests.c.request_id], set_=row))


async def refresh_deployment(conn: AsyncConnection, deployment_id: UUID) -> None:
    rows = folds.deployment_rows(await _logged(conn, event_log.c.deployment_id == deployment_id))
    if rows is None:
        return
    stmt = insert(deployments).values(deployment_id=deployment_id, **rows.deployment)
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[deployments.c.deployment_id], set_=rows.deployment
        )
    )
    await conn.execute(
        deployment_officers.delete().where(deployment_officers.c.deployment_id == deployment_id)
    )
    if rows.officers:
        await conn.execute(
            insert(deployment_officers),
            [{"deployment_id": deployment_id, **o} for o in rows.officers],
        )


@PROJECTION.on(*INTAKE_TYPES, *TRIAGE_TYPES, *DEPLOYMENT_TYPES)
async def request_event(conn: AsyncConnection, env: Envelope) -> None:
    request_id = UUID(env.data["request_id"])
    await _lock(conn, request_id)
    await log_event(conn, env)
    if env.data.get("deployment_id"):
        await refresh_deployment(conn, UUID(env.data["deployment_id"]))
    await refresh_request(conn, request_id)


@PROJECTION.on("CapabilityOffered")
async def offered(conn: AsyncConnection, env: Envelope) -> None:
    await log_event(conn, env)
    d = env.data
    await conn.execute(
        insert(offers)
        .values(
            offer_id=UUID(d["offer_id"]),
            officer_ref=d["officer_ref"],
            force=d["force"],
            capability=d["capability"],
            vetting_level=d["vetting_level"],
            vetting_expires=date.fromisoformat(d["vetting_expires"]),
            medical_expires=date.fromisoformat(d["medical_expires"]),
            training_expires=date.fromisoformat(d["training_expires"]),
            passport_expires=date.fromisoformat(d["passport_expires"]),
            available_from=date.fromisoformat(d["available_from"]),
            available_to=date.fromisoformat(d["available_to"]),
            offered_at=env.occurred_at,
        )
        .on_conflict_do_nothing()
    )


@PROJECTION.on("CapabilityWithdrawn")
async def offer_withdrawn(conn: AsyncConnection, env: Envelope) -> None:
    await log_event(conn, env)
    await conn.execute(
        offers.update()
        .where(offers.c.offer_id == UUID(env.data["offer_id"]))
        .values(withdrawn=True)
    )
