"""The deployment service's read side: approved requests become staffing requirements; offers and
deployments are projected from this service's own events.

Handlers are deterministic functions of the events (times from `occurred_at`) and idempotent:
deployment rows remember the stream version they have applied. A requirement's status is derived
from facts that arrive on three topics in any order, so the result does not depend on that order.
A withdrawal or hold also reacts on the write side (see `reactions`), once per consumed event.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.deployment.domain.deployment import post_ids
from services.deployment.projection_register import (
    add_register_handlers,
    typed,
    upsert_requirement,
)
from services.deployment.reactions import add_reactions
from services.deployment.tables import (
    deployment_officers,
    deployment_posts,
    deployment_timeline,
    deployments,
    metadata,
    requirements,
)
from shared.catalogue.deployment import (
    DeploymentCancelled,
    DeploymentCompleted,
    DeploymentPlanned,
    DeploymentStarted,
    NominationWithdrawn,
    OfficerCleared,
    OfficerDeployed,
    OfficerNominated,
    OfficerReleased,
    OfficerRepatriated,
    TourExtended,
)
from shared.events import Envelope
from shared.projection import Projection

PROJECTION = Projection(name="deployment", metadata=metadata)
add_reactions(PROJECTION)
add_register_handlers(PROJECTION)


# --- deployments -------------------------------------------------------------------------------
def _ids(env: Envelope) -> tuple[UUID, UUID]:
    return UUID(env.data["deployment_id"]), UUID(env.data["request_id"])


async def _post_of(conn: AsyncConnection, env: Envelope) -> str | None:
    """The post the event concerns: named in it, or the one its officer holds."""
    if env.data.get("post_id"):
        return str(env.data["post_id"])
    if "officer_ref" not in env.data:
        return None
    post: str | None = await conn.scalar(
        sa.select(deployment_officers.c.post_id).where(
            deployment_officers.c.deployment_id == UUID(env.data["deployment_id"]),
            deployment_officers.c.officer_ref == env.data["officer_ref"],
        )
    )
    return post


async def _timeline(conn: AsyncConnection, env: Envelope) -> None:
    details = {k: v for k, v in env.data.items() if k not in ("request_id", "deployment_id")}
    post_id = await _post_of(conn, env)
    await conn.execute(
        insert(deployment_timeline)
        .values(
            event_id=env.event_id,
            deployment_id=UUID(env.data["deployment_id"]),
            occurred_at=env.occurred_at,
            event_type=env.event_type,
            actor_role=env.actor.role,
            details=details,
            post_id=post_id,
        )
        .on_conflict_do_nothing()
    )


async def _advance(conn: AsyncConnection, env: Envelope, **values: Any) -> bool:
    """Apply the event to the deployment's row unless it already was; False if it was."""
    deployment_id, _ = _ids(env)
    result = await conn.execute(
        deployments.update()
        .where(
            deployments.c.deployment_id == deployment_id, deployments.c.version < env.stream_version
        )
        .values(version=env.stream_version, updated_at=env.occurred_at, **values)
    )
    if result.rowcount == 0:
        return False
    await _timeline(conn, env)
    return True


async def _officer(conn: AsyncConnection, env: Envelope, **values: Any) -> None:
    deployment_id, _ = _ids(env)
    await conn.execute(
        deployment_officers.update()
        .where(
            deployment_officers.c.deployment_id == deployment_id,
            deployment_officers.c.officer_ref == env.data["officer_ref"],
        )
        .values(**values)
    )


async def _restaff(conn: AsyncConnection, env: Envelope) -> None:
    """planned/staffing/ready from the officers: ready once every post has a cleared officer."""
    deployment_id, _ = _ids(env)
    cleared = (
        sa.select(sa.func.count())
        .where(
            deployment_officers.c.deployment_id == deployment_id,
            deployment_officers.c.status == "cleared",
        )
        .scalar_subquery()
    )
    await conn.execute(
        deployments.update()
        .where(
            deployments.c.deployment_id == deployment_id,
            deployments.c.status.in_(("planned", "staffing", "ready")),
        )
        .values(status=sa.case((cleared >= deployments.c.headcount, "ready"), else_="staffing"))
    )


async def _requirement_follows(
    conn: AsyncConnection, env: Envelope, deployment_status: str
) -> None:
    deployment_id, request_id = _ids(env)
    live = deployment_status != "cancelled"
    row = (
        await conn.execute(
            sa.select(requirements.c.deployment_id).where(requirements.c.request_id == request_id)
        )
    ).first()
    if row is not None and row.deployment_id not in (None, deployment_id) and not live:
        return  # an older deployment's cancellation says nothing about the current one
    await upsert_requirement(
        conn,
        request_id,
        env,
        deployment_id=deployment_id if live else None,
        deployment_status=deployment_status,
    )


@PROJECTION.on(DeploymentPlanned.event_type)
async def planned(conn: AsyncConnection, env: Envelope) -> None:
    e = typed(env, DeploymentPlanned)
    inserted = await conn.scalar(
        insert(deployments)
        .values(
            **e.model_dump(),
            status="planned",
            planned_by=env.actor.subject,
            planned_at=env.occurred_at,
            updated_at=env.occurred_at,
            version=env.stream_version,
        )
        .on_conflict_do_nothing()
        .returning(deployments.c.deployment_id)
    )
    if inserted is not None:
        await _timeline(conn, env)
        await conn.execute(
            deployment_posts.insert().values(
                [
                    {
                        "deployment_id": e.deployment_id,
                        "post_id": post_id,
                        "number": number,
                        "status": "vacant",
                        "needed_from": e.tour_start,
                        "vacant_since": env.occurred_at,
                    }
                    for number, post_id in enumerate(post_ids(e.headcount), start=1)
                ]
            )
        )
        await _requirement_follows(conn, env, "planned")


async def _vacate(conn: AsyncConnection, env: Envelope, **values: Any) -> None:
    """The officer's post is vacant again, from now."""
    deployment_id, _ = _ids(env)
    await conn.execute(
        deployment_posts.update()
        .where(
            deployment_posts.c.deployment_id == deployment_id,
            deployment_posts.c.holder == env.data["officer_ref"],
        )
        .values(status="vacant", holder=None, vacant_since=env.occurred_at, **values)
    )


@PROJECTION.on(OfficerNominated.event_type)
async def nominated(conn: AsyncConnection, env: Envelope) -> None:
    if not await _advance(conn, env):
        return
    e = typed(env, OfficerNominated)
    post_id = e.post_id or await conn.scalar(  # an older nomination: the first vacant post
        sa.select(deployment_posts.c.post_id)
        .where(
            deployment_posts.c.deployment_id == e.deployment_id,
            deployment_posts.c.status == "vacant",
        )
        .order_by(deployment_posts.c.number)
        .limit(1)
    )
    values = e.model_dump(exclude={"request_id", "deployment_id", "officer_ref", "post_id"})
    renominated = {
        **values,
        "post_id": post_id,
        "status": "nominated",
        "nominated_at": env.occurred_at,
        "released_at": None,
        "cleared_at": None,
        "valid_until": None,
        "withdrawn_at": None,
        "withdrawal_reason": None,
        "replaced_by": None,
    }
    stmt = insert(deployment_officers).values(
        deployment_id=e.deployment_id, officer_ref=e.officer_ref, **renominated
    )
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[deployment_officers.c.deployment_id, deployment_officers.c.officer_ref],
            set_=renominated,
        )
    )
    await conn.execute(
        deployment_posts.update()
        .where(
            deployment_posts.c.deployment_id == e.deployment_id,
            deployment_posts.c.post_id == post_id,
        )
        .values(
            status="filled",
            holder=e.officer_ref,
            filled_at=env.occurred_at,
            fills=deployment_posts.c.fills + 1,
        )
    )
    await _restaff(conn, env)
    if e.starts_on is None:
        await _requirement_follows(conn, env, "staffing")


@PROJECTION.on(NominationWithdrawn.event_type)
async def nomination_withdrawn(conn: AsyncConnection, env: Envelope) -> None:
    if not await _advance(conn, env):
        return
    e = typed(env, NominationWithdrawn)
    await _officer(
        conn,
        env,
        status="withdrawn",
        withdrawn_at=env.occurred_at,
        withdrawal_reason=e.reason,
        replaced_by=e.replaced_by,
    )
    await _vacate(conn, env)
    await _restaff(conn, env)


@PROJECTION.on(OfficerDeployed.event_type)
async def officer_deployed(conn: AsyncConnection, env: Envelope) -> None:
    if await _advance(conn, env):
        await _officer(conn, env, status="deployed", joined_on=typed(env, OfficerDeployed).on)


@PROJECTION.on(OfficerReleased.event_type)
async def released(conn: AsyncConnection, env: Envelope) -> None:
    if await _advance(conn, env):
        await _officer(conn, env, status="released", released_at=env.occurred_at)


@PROJECTION.on(OfficerCleared.event_type)
async def cleared(conn: AsyncConnection, env: Envelope) -> None:
    if await _advance(conn, env):
        await _officer(
            conn,
            env,
            status="cleared",
            cleared_at=env.occurred_at,
            valid_until=typed(env, OfficerCleared).valid_until,
        )
        await _restaff(conn, env)


@PROJECTION.on(DeploymentStarted.event_type)
async def started(conn: AsyncConnection, env: Envelope) -> None:
    e = typed(env, DeploymentStarted)
    if not await _advance(conn, env, status="deployed", started_on=e.started_on):
        return
    deployment_id, _ = _ids(env)
    await conn.execute(
        deployment_officers.update()
        .where(
            deployment_officers.c.deployment_id == deployment_id,
            deployment_officers.c.officer_ref.in_(e.officer_refs),
        )
        .values(status="deployed")
    )
    await _requirement_follows(conn, env, "deployed")


@PROJECTION.on(TourExtended.event_type)
async def extended(conn: AsyncConnection, env: Envelope) -> None:
    new_end = typed(env, TourExtended).new_end
    await _advance(conn, env, tour_end=new_end, extensions=deployments.c.extensions + 1)


@PROJECTION.on(OfficerRepatriated.event_type)
async def repatriated(conn: AsyncConnection, env: Envelope) -> None:
    if await _advance(conn, env):
        e = typed(env, OfficerRepatriated)
        await _officer(
            conn,
            env,
            status="repatriated_early",
            repatriated_on=e.on,
            repatriation_reason=e.reason_code,
            repatriation_notes=e.reason,
        )
        await _vacate(conn, env, needed_from=e.on + timedelta(days=1))


@PROJECTION.on(DeploymentCompleted.event_type)
async def completed(conn: AsyncConnection, env: Envelope) -> None:
    completed_on = typed(env, DeploymentCompleted).completed_on
    if not await _advance(conn, env, status="completed", completed_on=completed_on):
        return
    deployment_id, _ = _ids(env)
    await conn.execute(
        deployment_officers.update()
        .where(
            deployment_officers.c.deployment_id == deployment_id,
            deployment_officers.c.status == "deployed",
        )
        .values(status="returned")
    )
    await _requirement_follows(conn, env, "completed")


@PROJECTION.on(DeploymentCancelled.event_type)
async def cancelled(conn: AsyncConnection, env: Envelope) -> None:
    if await _advance(conn, env, status="cancelled", cancel_reason=env.data["reason"]):
        await _requirement_follows(conn, env, "cancelled")
