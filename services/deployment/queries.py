"""Read-model SELECTs behind the deployment service's deployment endpoints (and the lookups
commands make of them). The register's, requirements and offers: `queries_register`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.deployment.tables import (
    deployment_officers,
    deployment_posts,
    deployment_timeline,
    deployments,
    offers,
    officers,
    requirements,
)

Keyset = tuple[datetime, UUID]


# --- deployments -------------------------------------------------------------------------------
def _deployment(row: Any) -> dict[str, Any]:
    m = row._mapping
    return {
        "id": m["deployment_id"],
        "request_id": m["request_id"],
        "reference": m["reference"],
        "mission": m["mission"],
        "country": m["country"],
        "capability": m["capability"],
        "headcount": m["headcount"],
        "classification": m["classification"],
        "tour_start": m["tour_start"],
        "tour_end": m["tour_end"],
        "status": m["status"],
        "nominated": m["nominated"],
        "cleared": m["cleared"],
        "started_on": m["started_on"],
        "completed_on": m["completed_on"],
        "extensions": m["extensions"],
        "cancel_reason": m["cancel_reason"],
        "planned_at": m["planned_at"],
        "updated_at": m["updated_at"],
    }


def _count(status: str | None = None) -> Any:
    q = sa.select(sa.func.count()).where(
        deployment_officers.c.deployment_id == deployments.c.deployment_id
    )
    if status:
        q = q.where(deployment_officers.c.status == status)
    return q.scalar_subquery()


def _deployments_select() -> Any:
    return sa.select(
        deployments,
        requirements.c.reference,
        _count().label("nominated"),
        _count("cleared").label("cleared"),
    ).select_from(
        deployments.outerjoin(requirements, requirements.c.request_id == deployments.c.request_id)
    )


@dataclass(frozen=True)
class DeploymentFilters:
    status: str | None = None
    request_id: UUID | None = None
    capability: str | None = None
    country: str | None = None
    force: str | None = None  # deployments with an officer of this force
    officer_ref: str | None = None
    reference: str | None = None  # the request's


def _with_officer(where: Any) -> Any:
    return sa.exists().where(
        deployment_officers.c.deployment_id == deployments.c.deployment_id, where
    )


async def list_deployments(
    conn: AsyncConnection, filters: DeploymentFilters, *, after: Keyset | None, limit: int
) -> list[dict[str, Any]]:
    q = _deployments_select()
    if filters.status:
        q = q.where(deployments.c.status == filters.status)
    if filters.request_id:
        q = q.where(deployments.c.request_id == filters.request_id)
    if filters.capability:
        q = q.where(deployments.c.capability == filters.capability)
    if filters.country:
        q = q.where(deployments.c.country == filters.country)
    if filters.force:
        q = q.where(_with_officer(deployment_officers.c.force == filters.force))
    if filters.officer_ref:
        q = q.where(_with_officer(deployment_officers.c.officer_ref == filters.officer_ref))
    if filters.reference:
        q = q.where(requirements.c.reference == filters.reference)
    if after is not None:
        q = q.where(
            sa.tuple_(deployments.c.planned_at, deployments.c.deployment_id) < sa.tuple_(*after)
        )
    q = q.order_by(deployments.c.planned_at.desc(), deployments.c.deployment_id.desc()).limit(limit)
    return [_deployment(r) for r in await conn.execute(q)]


async def get_deployment(conn: AsyncConnection, deployment_id: UUID) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            _deployments_select().where(deployments.c.deployment_id == deployment_id)
        )
    ).first()
    if row is None:
        return None
    erased = sa.exists().where(
        officers.c.officer_ref == deployment_officers.c.officer_ref,
        officers.c.erased_at.is_not(None),
    )
    officer_rows = await conn.execute(
        sa.select(deployment_officers, offers.c.rank, erased.label("erased"))
        .select_from(
            deployment_officers.outerjoin(
                offers, offers.c.offer_id == deployment_officers.c.offer_id
            )
        )
        .where(deployment_officers.c.deployment_id == deployment_id)
        .order_by(deployment_officers.c.nominated_at, deployment_officers.c.officer_ref)
    )
    entries = await conn.execute(
        sa.select(deployment_timeline)
        .where(deployment_timeline.c.deployment_id == deployment_id)
        .order_by(deployment_timeline.c.occurred_at, deployment_timeline.c.event_id)
    )
    timeline = [
        (
            e.post_id,
            {
                "at": e.occurred_at,
                "event": e.event_type,
                "by_role": e.actor_role,
                "details": e.details,
            },
        )
        for e in entries
    ]
    return _deployment(row) | {
        "officers": [
            {
                "officer_ref": o.officer_ref,
                "offer_id": o.offer_id,
                "force": o.force,
                "gender": o.gender,
                "rank": o.rank,
                "status": o.status,
                "nominated_at": o.nominated_at,
                "released_at": o.released_at,
                "cleared_at": o.cleared_at,
                "valid_until": o.valid_until,
                "repatriated_on": o.repatriated_on,
                "repatriation_reason": o.repatriation_reason,
                "repatriation_notes": o.repatriation_notes,
                "personal_data": "erased" if o.erased else "available",
                "post_id": o.post_id,
                "starts_on": o.starts_on,
                "joined_on": o.joined_on,
                "withdrawn_at": o.withdrawn_at,
                "withdrawal_reason": o.withdrawal_reason,
                "replaced_by": o.replaced_by,
            }
            for o in officer_rows
        ],
        "rank": row.rank,
        "skills": row.skills,
        "languages": row.languages,
        "vetting_level": row.vetting_level,
        "posts": await _posts(conn, deployment_id, list(timeline)),
        "timeline": [entry for _, entry in timeline],
    }


async def _posts(
    conn: AsyncConnection, deployment_id: UUID, timeline: list[tuple[str | None, dict[str, Any]]]
) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(deployment_posts)
        .where(deployment_posts.c.deployment_id == deployment_id)
        .order_by(deployment_posts.c.number)
    )
    return [
        {
            "post_id": p.post_id,
            "status": p.status,
            "holder": p.holder,
            "needed_from": p.needed_from,
            "vacant_since": p.vacant_since,
            "filled_at": p.filled_at,
            "fills": p.fills,
            "history": [entry for post_id, entry in timeline if post_id == p.post_id],
        }
        for p in rows
    ]


async def erased_among(conn: AsyncConnection, officer_refs: list[str]) -> set[str]:
    rows = await conn.scalars(
        sa.select(officers.c.officer_ref).where(
            officers.c.officer_ref.in_(officer_refs), officers.c.erased_at.is_not(None)
        )
    )
    return set(rows)


async def officer_deployments(conn: AsyncConnection, officer_ref: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(
            deployments.c.deployment_id,
            deployments.c.request_id,
            deployments.c.country,
            deployments.c.capability,
            deployments.c.tour_start,
            deployments.c.tour_end,
            deployments.c.status.label("deployment_status"),
            deployment_officers.c.status.label("officer_status"),
        )
        .select_from(
            deployment_officers.join(
                deployments, deployments.c.deployment_id == deployment_officers.c.deployment_id
            )
        )
        .where(deployment_officers.c.officer_ref == officer_ref)
        .order_by(deployments.c.tour_start, deployments.c.deployment_id)
    )
    return [
        {
            "id": r.deployment_id,
            "request_id": r.request_id,
            "country": r.country,
            "capability": r.capability,
            "tour_start": r.tour_start,
            "tour_end": r.tour_end,
            "status": r.deployment_status,
            "officer_status": r.officer_status,
        }
        for r in rows
    ]
