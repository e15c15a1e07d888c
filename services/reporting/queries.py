"""Read-model SQL behind reporting's GET endpoints. KPIs themselves are computed in `kpis.py`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting import kpis
from services.reporting.tables import (
    deployment_officers,
    deployments,
    event_log,
    offers,
    requests,
)
from shared.redaction import OFFICIAL, PROTECTED

Direction = Literal["asc", "desc"]
REQUEST_SORTS: dict[str, sa.ColumnElement[Any]] = {
    "submitted_at": requests.c.submitted_at,
    "score": sa.func.coalesce(requests.c.score, -1.0),
    "reference": requests.c.reference,
}
DEPLOYMENT_SORTS: dict[str, sa.ColumnElement[Any]] = {
    "tour_start": deployments.c.tour_start,
    "tour_end": deployments.c.tour_end,
}


@dataclass(frozen=True)
class RequestFilters:
    statuses: list[str] = field(default_factory=list)
    partner: str | None = None  # the partner's registry id
    partner_type: str | None = None
    region: str | None = None
    country: str | None = None
    capability: str | None = None
    classification: str | None = None
    submitted_from: date | None = None
    submitted_to: date | None = None  # inclusive
    reference: str | None = None
    decisions: list[str] = field(default_factory=list)  # approved, rejected

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        c = requests.c
        out: list[sa.ColumnElement[bool]] = []
        if self.statuses:
            out.append(c.status.in_(self.statuses))
        if self.decisions:
            out.append(c.decision.in_(self.decisions))
        for column, value in (
            (c.partner_id, self.partner),
            (c.partner_type, self.partner_type),
            (c.region, self.region),
            (c.country, self.country),
            (c.capability, self.capability),
            (c.classification, self.classification),
            (c.reference, self.reference),
        ):
            if value is not None:
                out.append(column == value)
        if self.submitted_from is not None:
            out.append(c.submitted_at >= _midnight(self.submitted_from))
        if self.submitted_to is not None:
            out.append(c.submitted_at < _midnight(self.submitted_to + timedelta(days=1)))
        return out


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


@dataclass(frozen=True)
class Page:
    sort: str
    direction: Direction
    after: tuple[Any, UUID] | None
    limit: int


def _keyset(
    query: sa.Select[Any], key: sa.ColumnElement[Any], ident: sa.ColumnElement[Any], page: Page
) -> sa.Select[Any]:
    if page.after is not None:
        position = sa.tuple_(key, ident)
        bound = sa.tuple_(sa.literal(page.after[0]), sa.literal(page.after[1]))
        query = query.where(position > bound if page.direction == "asc" else position < bound)
    order = (key.asc(), ident.asc()) if page.direction == "asc" else (key.desc(), ident.desc())
    return query.order_by(*order).limit(page.limit)


# --- requests -------------------------------------------------------------------------------
async def list_requests(
    conn: AsyncConnection, filters: RequestFilters, page: Page
) -> list[dict[str, Any]]:
    key = REQUEST_SORTS[page.sort]
    query = sa.select(requests, key.label("sort_key")).where(*filters.conditions())
    rows = await conn.execute(_keyset(query, key, requests.c.request_id, page))
    return [dict(row._mapping) for row in rows]


async def all_requests(
    conn: AsyncConnection, filters: RequestFilters, page: Page, chunk: int = 500
) -> AsyncIterator[dict[str, Any]]:
    """Every matching row, fetched a chunk at a time (for exports)."""
    after = page.after
    while True:
        batch = await list_requests(conn, filters, Page(page.sort, page.direction, after, chunk))
        for row in batch:
            yield row
        if len(batch) < chunk:
            return
        after = (batch[-1]["sort_key"], batch[-1]["request_id"])


async def get_request(conn: AsyncConnection, request_id: UUID) -> dict[str, Any] | None:
    query = sa.select(requests).where(requests.c.request_id == request_id)
    row = (await conn.execute(query)).first()
    return dict(row._mapping) if row else None


# --- deployments ----------------------------------------------------------------------------
@dataclass(frozen=True)
class DeploymentFilters:
    statuses: list[str] = field(default_factory=list)
    country: str | None = None
    region: str | None = None
    capability: str | None = None
    mission: str | None = None
    request_id: UUID | None = None
    classification: str | None = None
    #: Only deployments planned without a mission (bilateral work, most often).
    no_mission: bool = False
    #: Only deployments of the requests these filters select (partner, dates, …).
    of_requests: RequestFilters | None = None
    #: Match only OFFICIAL deployments on `mission` (for a reader who may not see the others').
    mission_of_official_only: bool = False

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        c = deployments.c
        out: list[sa.ColumnElement[bool]] = []
        on_mission = self.mission is not None or self.no_mission
        if on_mission and self.mission_of_official_only:
            out.append(c.classification == OFFICIAL)
        if self.no_mission:
            out.append(c.mission.is_(None))
        if self.of_requests is not None and (chosen := self.of_requests.conditions()):
            out.append(c.request_id.in_(sa.select(requests.c.request_id).where(*chosen)))
        if self.statuses:
            out.append(c.status.in_(self.statuses))
        for column, value in (
            (c.country, self.country),
            (c.region, self.region),
            (c.capability, self.capability),
            (c.mission, self.mission),
            (c.request_id, self.request_id),
            (c.classification, self.classification),
        ):
            if value is not None:
                out.append(column == value)
        return out


async def list_deployments(
    conn: AsyncConnection, filters: DeploymentFilters, page: Page
) -> list[dict[str, Any]]:
    key = DEPLOYMENT_SORTS[page.sort]
    query = sa.select(
        deployments, requests.c.reference, requests.c.partner_type, key.label("sort_key")
    ).select_from(
        deployments.outerjoin(requests, requests.c.request_id == deployments.c.request_id)
    )
    query = query.where(*filters.conditions())
    rows = await conn.execute(_keyset(query, key, deployments.c.deployment_id, page))
    return [dict(row._mapping) for row in rows]


async def all_deployments(
    conn: AsyncConnection, filters: DeploymentFilters, page: Page, chunk: int = 500
) -> AsyncIterator[dict[str, Any]]:
    after = page.after
    while True:
        batch = await list_deployments(conn, filters, Page(page.sort, page.direction, after, chunk))
        for row in batch:
            yield row
        if len(batch) < chunk:
            return
        after = (batch[-1]["sort_key"], batch[-1]["deployment_id"])


# --- KPI inputs -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Facts:
    requests: list[kpis.RequestFacts]
    deployments: list[kpis.DeploymentFacts]
    officers: list[kpis.OfficerFacts]


async def summary_facts(conn: AsyncConnection, filters: RequestFilters) -> Facts:
    """The plain rows the KPIs are computed from; deployments and officers are those of the
    matching requests."""
    r = requests.c
    request_rows = await conn.execute(
        sa.select(
            r.request_id,
            r.status,
            r.partner_type,
            r.region,
            r.country,
            r.capability,
            r.submitted_at,
            r.decided_at,
            r.decision,
            r.withdrawn_at,
            r.deployment_start,
            r.partner_id,
        ).where(*filters.conditions())
    )
    facts = [kpis.RequestFacts(str(row[0]), *row[1:]) for row in request_rows]
    matching = sa.select(r.request_id).where(*filters.conditions())
    d = deployments.c
    dep_rows = await conn.execute(
        sa.select(
            d.deployment_id,
            d.mission,
            d.country,
            d.capability,
            d.status,
            d.tour_start,
            d.tour_end,
            d.classification,
            d.headcount,
            d.posts_filled,
            d.fill_hours,
        ).where(d.request_id.in_(matching))
    )
    deps = [
        kpis.DeploymentFacts(str(row[0]), *row[1:8], *row[8:10], tuple(row[10] or ()))
        for row in dep_rows
    ]
    o = deployment_officers.c
    officer_rows = await conn.execute(
        sa.select(
            o.officer_ref,
            o.deployment_id,
            d.mission,
            d.country,
            o.capability,
            o.force,
            o.gender,
            o.state,
            d.tour_end,
            o.started_on,
            o.returned_on,
            offers.c.vetting_expires,
            offers.c.medical_expires,
            offers.c.training_expires,
            offers.c.passport_expires,
            d.classification,
        )
        .select_from(
            deployment_officers.join(deployments, d.deployment_id == o.deployment_id).outerjoin(
                offers, offers.c.offer_id == o.offer_id
            )
        )
        .where(o.request_id.in_(matching))
    )
    officers = []
    for row in officer_rows:
        expiries = {
            item: value
            for item, value in zip(kpis.READINESS_ITEMS, row[11:15], strict=True)
            if value is not None
        }
        officers.append(
            kpis.OfficerFacts(
                officer_ref=row.officer_ref,
                deployment_id=str(row.deployment_id),
                mission=row.mission,
                country=row.country,
                capability=row.capability,
                force=row.force,
                gender=row.gender,
                state=row.state,
                tour_end=row.tour_end,
                started_on=row.started_on,
                returned_on=row.returned_on,
                expiries=expiries,
                classification=row.classification,
            )
        )
    return Facts(facts, deps, officers)


Metric = Literal["submitted", "approved", "rejected", "deployed"]


async def metric_days(conn: AsyncConnection, metric: Metric, filters: RequestFilters) -> list[date]:
    """The day of each occurrence of `metric` among the matching requests."""
    r = requests.c
    if metric == "deployed":
        query = sa.select(deployments.c.started_on).where(
            deployments.c.started_on.is_not(None),
            deployments.c.request_id.in_(sa.select(r.request_id).where(*filters.conditions())),
        )
        return [row[0] for row in await conn.execute(query)]
    if metric == "submitted":
        query = sa.select(r.submitted_at).where(*filters.conditions())
    else:
        query = sa.select(r.decided_at).where(r.decision == metric, *filters.conditions())
    return [row[0].astimezone(UTC).date() for row in await conn.execute(query)]


# --- the event log --------------------------------------------------------------------------
def _events() -> sa.Select[Any]:
    """Event-log rows with the classification of the request each is about (None when not known
    here: the need-to-know policy then treats the event as OFFICIAL-SENSITIVE)."""
    return sa.select(event_log, requests.c.classification).select_from(
        event_log.outerjoin(requests, requests.c.request_id == event_log.c.request_id)
    )


async def audit(conn: AsyncConnection, request_id: UUID) -> list[dict[str, Any]]:
    rows = await conn.execute(
        _events()
        .where(event_log.c.request_id == request_id)
        .order_by(event_log.c.occurred_at, event_log.c.seq)
    )
    return [dict(row._mapping) for row in rows]


async def events_after(
    conn: AsyncConnection,
    seq: int,
    *,
    types: list[str],
    request_id: UUID | None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    query = _events().where(event_log.c.seq > seq)
    if types:
        query = query.where(event_log.c.event_type.in_(types))
    if request_id is not None:
        query = query.where(event_log.c.request_id == request_id)
    rows = await conn.execute(query.order_by(event_log.c.seq).limit(limit))
    return [dict(row._mapping) for row in rows]


async def last_seq(conn: AsyncConnection) -> int:
    return int(await conn.scalar(sa.select(sa.func.max(event_log.c.seq))) or 0)


async def describe(conn: AsyncConnection, request_id: UUID) -> dict[str, Any] | None:
    """For `jiph where` (operators, whatever their clearance): the request's flat row without any
    field the need-to-know policy protects, and how many events we hold."""
    row = await get_request(conn, request_id)
    events = int(
        await conn.scalar(sa.select(sa.func.count()).where(event_log.c.request_id == request_id))
        or 0
    )
    if row is None and events == 0:
        return None
    summary: dict[str, Any] = {"events": events}
    if row is not None:
        summary |= {
            k: (v.isoformat() if isinstance(v, date | datetime) else v)
            for k, v in row.items()
            if k not in PROTECTED and k != "request_id"
        }
    return summary
