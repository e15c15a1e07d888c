"""Intake's read side: every gateway event about a request becomes a timeline entry, and the
partner-visible status is re-derived from the whole timeline, so the order in which the three
topics are consumed does not matter."""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.domain import Status, status_of
from services.intake.queries import lock_request
from services.intake.tables import metadata, requests, timeline
from services.intake.timeline import partner_entry
from shared.events import Envelope
from shared.projection import Projection
from shared.topics import DEPLOYMENT_EVENTS, INTAKE_EVENTS, TRIAGE_EVENTS

PROJECTION = Projection(
    name="intake",
    topics=(INTAKE_EVENTS, TRIAGE_EVENTS, DEPLOYMENT_EVENTS),
    metadata=metadata,
)


async def _record(conn: AsyncConnection, env: Envelope) -> UUID | None:
    """Add the event to its request's timeline, holding the request's lock until commit: the
    status is then re-derived from a timeline no concurrent writer can change under it (the
    consumer of one topic and a partner's command would otherwise overwrite each other)."""
    entry = partner_entry(env)
    request_id = env.data.get("request_id")
    if entry is None or request_id is None:
        return None
    await lock_request(conn, UUID(request_id))
    summary, details = entry
    await conn.execute(
        insert(timeline)
        .values(
            event_id=env.event_id,
            request_id=UUID(request_id),
            occurred_at=env.occurred_at,
            event_type=env.event_type,
            summary=summary,
            details=details,
        )
        .on_conflict_do_nothing()
    )
    return UUID(request_id)


async def _refresh(
    conn: AsyncConnection, request_id: UUID, env: Envelope, **values: object
) -> None:
    rows = await conn.execute(
        sa.select(timeline.c.event_type, timeline.c.details)
        .where(timeline.c.request_id == request_id)
        .order_by(timeline.c.occurred_at, timeline.c.event_id)
    )
    status = status_of((r.event_type, r.details) for r in rows)
    await conn.execute(
        requests.update()
        .where(requests.c.request_id == request_id)
        .values(
            status=status.value,
            updated_at=sa.func.greatest(requests.c.updated_at, env.occurred_at),
            **values,
        )
    )


@PROJECTION.on("RequestSubmitted")
async def submitted(conn: AsyncConnection, env: Envelope) -> None:
    d = env.data
    await conn.execute(
        insert(requests)
        .values(
            request_id=UUID(d["request_id"]),
            reference=d["reference"],
            partner_id=d["partner_id"],
            title=d["title"],
            country=d["country"],
            capability=d["capability"],
            classification=d["classification"],
            status=Status.SUBMITTED.value,
            submitted_at=env.occurred_at,
            updated_at=env.occurred_at,
            details=d,
        )
        # Only a repeat of this very request is absorbed; a clash of references is an error.
        .on_conflict_do_nothing(index_elements=[requests.c.request_id])
    )
    request_id = await _record(conn, env)
    assert request_id is not None
    await _refresh(conn, request_id, env)


@PROJECTION.on("RequestAmended")
async def amended(conn: AsyncConnection, env: Envelope) -> None:
    request_id = await _record(conn, env)
    assert request_id is not None
    changes = env.data.get("changes") or {}
    values: dict[str, object] = {}
    if changes:
        values["details"] = requests.c.details.op("||")(sa.cast(changes, requests.c.details.type))
        if "title" in changes:
            values["title"] = changes["title"]
    if env.data.get("answers"):
        values |= {"open_information_request": None, "open_questions": []}
    await _refresh(conn, request_id, env, **values)


@PROJECTION.on("InformationRequested")
async def information_requested(conn: AsyncConnection, env: Envelope) -> None:
    request_id = await _record(conn, env)
    assert request_id is not None
    await _refresh(
        conn,
        request_id,
        env,
        open_information_request=UUID(env.data["information_request_id"]),
        open_questions=env.data["questions"],
    )


@PROJECTION.on("DeploymentStarted")
async def deployment_started(conn: AsyncConnection, env: Envelope) -> None:
    request_id = await _record(conn, env)
    assert request_id is not None
    await _refresh(conn, request_id, env, headcount_deployed=len(env.data["officer_refs"]))


@PROJECTION.on("OfficerRepatriated")
async def repatriated(conn: AsyncConnection, env: Envelope) -> None:
    request_id = await _record(conn, env)
    assert request_id is not None
    await _refresh(
        conn,
        request_id,
        env,
        headcount_deployed=sa.func.greatest(requests.c.headcount_deployed - 1, 0),
    )


@PROJECTION.on("DeploymentCompleted")
async def completed(conn: AsyncConnection, env: Envelope) -> None:
    request_id = await _record(conn, env)
    assert request_id is not None
    await _refresh(conn, request_id, env, headcount_deployed=0)


@PROJECTION.on(
    "RequestWithdrawn",
    "RequestTriaged",
    "RequestAssessed",
    "ApprovalGiven",
    "RequestApproved",
    "RequestRejected",
    "RequestPutOnHold",
    "RequestResumed",
    "DeploymentPlanned",
    "OfficerNominated",
    "OfficerReleased",
    "OfficerCleared",
    "TourExtended",
    "DeploymentCancelled",
)
async def status_change(conn: AsyncConnection, env: Envelope) -> None:
    request_id = await _record(conn, env)
    if request_id is not None:
        await _refresh(conn, request_id, env)
