"""Read-model SELECTs of the register: staffing requirements and offers, behind their GET
endpoints, and the lookups commands make (the approved requirement, locked; an officer's offers;
the active offers of a capability)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.deployment.domain import Requirement
from services.deployment.queries import Keyset
from services.deployment.tables import offers, requirements


# --- requirements ------------------------------------------------------------------------------
async def lock_requirement(conn: AsyncConnection, request_id: UUID) -> Requirement | None:
    """The requirement, its row locked: a withdrawal or hold consumed meanwhile waits for this
    command to commit (and then cancels what it planned), or this command waits and sees it."""
    row = (
        await conn.execute(
            sa.select(requirements).where(requirements.c.request_id == request_id).with_for_update()
        )
    ).first()
    if row is None:
        return None
    return Requirement(
        request_id=row.request_id,
        decision=row.decision,
        withdrawn=row.withdrawn,
        country=row.country,
        capability=row.capability,
        headcount=row.headcount,
        classification=row.classification,
        tour_length_months=row.tour_length_months,
    )


def _requirement(row: Any) -> dict[str, Any]:
    return {
        "request_id": row.request_id,
        "reference": row.reference,
        "country": row.country,
        "capability": row.capability,
        "headcount": row.headcount,
        "classification": row.classification,
        "needed_by": row.needed_by,
        "tour_length_months": row.tour_length_months,
        "rank": row.rank,
        "skills": row.skills,
        "languages": row.languages,
        "status": row.status,
        "deployment_id": row.deployment_id,
        "approved_at": row.approved_at,
        "updated_at": row.updated_at,
    }


@dataclass(frozen=True)
class RequirementFilters:
    status: str | None = None
    capability: str | None = None
    country: str | None = None
    reference: str | None = None


async def list_requirements(
    conn: AsyncConnection, filters: RequirementFilters, *, after: Keyset | None, limit: int
) -> list[dict[str, Any]]:
    q = sa.select(requirements).where(requirements.c.approved_at.is_not(None))
    if filters.status:
        q = q.where(requirements.c.status == filters.status)
    if filters.capability:
        q = q.where(requirements.c.capability == filters.capability)
    if filters.country:
        q = q.where(requirements.c.country == filters.country)
    if filters.reference:
        q = q.where(requirements.c.reference == filters.reference)
    if after is not None:
        q = q.where(
            sa.tuple_(requirements.c.approved_at, requirements.c.request_id) < sa.tuple_(*after)
        )
    q = q.order_by(requirements.c.approved_at.desc(), requirements.c.request_id.desc()).limit(limit)
    return [_requirement(r) for r in await conn.execute(q)]


async def get_requirement(conn: AsyncConnection, request_id: UUID) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            sa.select(requirements).where(
                requirements.c.request_id == request_id, requirements.c.approved_at.is_not(None)
            )
        )
    ).first()
    return None if row is None else _requirement(row)


# --- offers ------------------------------------------------------------------------------------
_OFFER_COLUMNS = [c for c in offers.c if c.name != "personal_data"]


def _offer(row: Any) -> dict[str, Any]:
    view = {c.name: getattr(row, c.name) for c in _OFFER_COLUMNS}
    view["id"] = view.pop("offer_id")
    return view


@dataclass(frozen=True)
class OfferFilters:
    capability: str | None = None
    force: str | None = None
    available_on: date | None = None
    status: str | None = "active"
    officer_ref: str | None = None


async def list_offers(
    conn: AsyncConnection, filters: OfferFilters, *, after: Keyset | None, limit: int
) -> list[dict[str, Any]]:
    q = sa.select(*_OFFER_COLUMNS)
    if filters.capability:
        q = q.where(offers.c.capability == filters.capability)
    if filters.force:
        q = q.where(offers.c.force == filters.force)
    if filters.available_on:
        q = q.where(
            offers.c.available_from <= filters.available_on,
            offers.c.available_to >= filters.available_on,
        )
    if filters.status:
        q = q.where(offers.c.status == filters.status)
    if filters.officer_ref:
        q = q.where(offers.c.officer_ref == filters.officer_ref)
    if after is not None:
        q = q.where(sa.tuple_(offers.c.offered_at, offers.c.offer_id) < sa.tuple_(*after))
    q = q.order_by(offers.c.offered_at.desc(), offers.c.offer_id.desc()).limit(limit)
    return [_offer(r) for r in await conn.execute(q)]


async def get_offer(conn: AsyncConnection, offer_id: UUID) -> dict[str, Any] | None:
    row = (
        await conn.execute(sa.select(*_OFFER_COLUMNS).where(offers.c.offer_id == offer_id))
    ).first()
    return None if row is None else _offer(row)


async def offer_ids_of(conn: AsyncConnection, officer_ref: str) -> list[UUID]:
    rows = await conn.scalars(
        sa.select(offers.c.offer_id)
        .where(offers.c.officer_ref == officer_ref)
        .order_by(offers.c.offered_at.desc(), offers.c.offer_id.desc())
    )
    return list(rows)


async def latest_sealed_personal_data(conn: AsyncConnection, officer_ref: str) -> str | None:
    """The personal data of the officer's latest offer, sealed (the latest is the current one)."""
    return await conn.scalar(
        sa.select(offers.c.personal_data)
        .where(offers.c.officer_ref == officer_ref)
        .order_by(offers.c.offered_at.desc(), offers.c.offer_id.desc())
        .limit(1)
    )


async def active_offers_for(conn: AsyncConnection, capability: str) -> list[UUID]:
    """The active offers of a capability, oldest first (matching folds each from its stream)."""
    rows = await conn.scalars(
        sa.select(offers.c.offer_id)
        .where(offers.c.capability == capability, offers.c.status == "active")
        .order_by(offers.c.offered_at, offers.c.offer_id)
    )
    return list(rows)
