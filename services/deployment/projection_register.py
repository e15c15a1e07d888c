"""The deployment service's read side of the register: approved requests become staffing
requirements (with the role profile of intake's submission, as amended), and offers are
projected from this service's own events, updated in place. Registered on the projection by
`add_register_handlers`; idempotent as the rest of `projection`."""

from __future__ import annotations

from typing import Any, TypeVar
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.deployment.domain import requirement_status
from services.deployment.tables import offers, requirements
from shared.catalogue.deployment import CapabilityOffered, CapabilityWithdrawn, OfferUpdated
from shared.catalogue.intake import (
    RequestAmended,
    RequestSubmitted,
    RequestWithdrawn,
    RoleProfile,
)
from shared.catalogue.triage import RequestApproved, RequestPutOnHold, RequestResumed
from shared.events import Envelope, EventData
from shared.projection import Projection

E = TypeVar("E", bound=EventData)


def typed(env: Envelope, kind: type[E]) -> E:
    """The payload as its model (dates as dates), upcast to the newest schema version."""
    payload = env.payload()
    assert isinstance(payload, kind), f"{env.event_type} is not {kind.__name__}"
    return payload


# --- requirements ------------------------------------------------------------------------------
async def upsert_requirement(
    conn: AsyncConnection, request_id: UUID, env: Envelope, **values: Any
) -> None:
    stmt = insert(requirements).values(
        request_id=request_id, status="awaiting_approval", updated_at=env.occurred_at, **values
    )
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[requirements.c.request_id],
            set_={
                **values,
                "updated_at": sa.func.greatest(requirements.c.updated_at, env.occurred_at),
            },
        )
    )
    row = (
        await conn.execute(
            sa.select(
                requirements.c.decision, requirements.c.withdrawn, requirements.c.deployment_status
            ).where(requirements.c.request_id == request_id)
        )
    ).one()
    status = requirement_status(row.decision, row.withdrawn, row.deployment_status)
    await conn.execute(
        requirements.update().where(requirements.c.request_id == request_id).values(status=status)
    )


async def approved(conn: AsyncConnection, env: Envelope) -> None:
    e = typed(env, RequestApproved)
    await upsert_requirement(
        conn,
        e.request_id,
        env,
        reference=e.reference,
        country=e.country,
        capability=e.capability,
        headcount=e.headcount,
        classification=e.classification,
        needed_by=e.needed_by,
        tour_length_months=e.tour_length_months,
        decision="approved",
        approved_at=env.occurred_at,
    )


def _profile(profile: RoleProfile) -> dict[str, Any]:
    return {"rank": profile.rank, "skills": profile.skills, "languages": profile.languages}


async def submitted(conn: AsyncConnection, env: Envelope) -> None:
    """The role profile the partner asked for (and, kept in the inbox, what planning reads)."""
    e = typed(env, RequestSubmitted)
    await upsert_requirement(conn, e.request_id, env, **_profile(e.role_profile))


async def amended(conn: AsyncConnection, env: Envelope) -> None:
    e = typed(env, RequestAmended)
    if e.changes.role_profile is not None:
        await upsert_requirement(conn, e.request_id, env, **_profile(e.changes.role_profile))


async def resumed(conn: AsyncConnection, env: Envelope) -> None:
    await upsert_requirement(conn, UUID(env.data["request_id"]), env, decision="resumed")


async def put_on_hold(conn: AsyncConnection, env: Envelope) -> None:
    await upsert_requirement(conn, UUID(env.data["request_id"]), env, decision="on_hold")


async def withdrawn(conn: AsyncConnection, env: Envelope) -> None:
    await upsert_requirement(conn, UUID(env.data["request_id"]), env, withdrawn=True)


# --- offers ------------------------------------------------------------------------------------
async def offered(conn: AsyncConnection, env: Envelope) -> None:
    e = typed(env, CapabilityOffered)
    await conn.execute(
        insert(offers)
        .values(
            **e.model_dump(exclude={"offer_id"}),
            offer_id=e.offer_id,
            status="active",
            offered_at=env.occurred_at,
        )
        .on_conflict_do_nothing()
    )


async def offer_updated(conn: AsyncConnection, env: Envelope) -> None:
    """In place: the fields the event names (a re-sealed personal data blob among them)."""
    e = typed(env, OfferUpdated)
    changed = e.model_dump(exclude={"offer_id", "officer_ref"}, exclude_none=True)
    if changed:  # an update naming nothing (valid on the wire) changes nothing
        await conn.execute(offers.update().where(offers.c.offer_id == e.offer_id).values(**changed))


async def offer_withdrawn(conn: AsyncConnection, env: Envelope) -> None:
    await conn.execute(
        offers.update()
        .where(offers.c.offer_id == UUID(env.data["offer_id"]), offers.c.status == "active")
        .values(
            status="withdrawn", withdrawn_at=env.occurred_at, withdrawal_reason=env.data["reason"]
        )
    )


def add_register_handlers(projection: Projection) -> None:
    projection.on(RequestApproved.event_type)(approved)
    projection.on(RequestSubmitted.event_type)(submitted)
    projection.on(RequestAmended.event_type)(amended)
    projection.on(RequestResumed.event_type)(resumed)
    projection.on(RequestPutOnHold.event_type)(put_on_hold)
    projection.on(RequestWithdrawn.event_type)(withdrawn)
    projection.on(CapabilityOffered.event_type)(offered)
    projection.on(OfferUpdated.event_type)(offer_updated)
    projection.on(CapabilityWithdrawn.event_type)(offer_withdrawn)
