"""Reporting's HTTP API: KPIs, flat exports and time series (the audit trail and the live feed:
`api_events`; the filters, pages and redaction they share: `api_filters`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.encoders import jsonable_encoder

from services.reporting import kpis, queries
from services.reporting.api_filters import (
    REQUEST_PARSERS,
    RequestFilterDep,
    as_seen_by,
    next_cursor,
    read_page,
    request_filters,
    shown,
)
from services.reporting.exports import (
    BREAKDOWN_CSV_COLUMNS,
    DEPLOYMENT_CSV_COLUMNS,
    REQUEST_CSV_COLUMNS,
    csv_lines,
    csv_response,
)
from services.reporting.views import (
    Breakdown,
    DeploymentPage,
    RequestPage,
    RequestRow,
    TimeSeries,
)
from shared.api import (
    Consistent,
    CountryQuery,
    CursorQuery,
    DateQuery,
    LimitQuery,
    ReferenceQuery,
    RuntimeDep,
)
from shared.auth import (
    Principal,
    Role,
    require_roles,
)
from shared.problems import PROBLEM_RESPONSES, not_found
from shared.redaction import Reader, filter_visible_only
from shared.reference.codes import Capability, Classification, PartnerType, Region

router = APIRouter(prefix="/v1", tags=["reporting"], responses=PROBLEM_RESPONSES)

Analyst = Annotated[Principal, Depends(require_roles(Role.ANALYST, Role.ADMIN))]
Auditor = Annotated[Principal, Depends(require_roles(Role.ANALYST, Role.ADMIN, Role.OPERATOR))]
Format = Literal["json", "csv"]


# --- endpoints ------------------------------------------------------------------------------
@router.get("/summary", summary="KPIs over the matching requests")
async def summary(
    reader: Analyst,
    runtime: RuntimeDep,
    filters: RequestFilterDep,
    as_of: Annotated[
        DateQuery, Query(description="The day 'now' means (default: today, UTC)")
    ] = None,
    _: None = Consistent,
) -> dict[str, Any]:
    """Requests by status, partner type, region, country and capability; median and 90th
    percentile days from submission to decision and to deployment start; outcome rates; officers
    deployed now (by mission, country, capability, home force); officer-days overseas; the share
    of women among nominated and deployed officers; tours ending within 30/60/90 days; readiness
    items expiring before tour end; post fill rate of live deployments and hours to fill a post
    (`posts`). Filters (`from`, `to`, `region`, `partner_type`, …) select
    requests; deployments and officers are those of the selected requests. Aggregates include
    OFFICIAL-SENSITIVE requests but never their text."""
    result = await _summary(runtime, filters, reader, as_of)
    result["filters"] = jsonable_encoder(filters)
    return result


async def _summary(
    runtime: Any, filters: queries.RequestFilters, reader: Principal, as_of: date | None
) -> dict[str, Any]:
    async with runtime.engine.connect() as conn:
        facts = as_seen_by(await queries.summary_facts(conn, filters), reader)
    today = as_of or datetime.now(UTC).date()
    return kpis.summary(facts.requests, facts.deployments, facts.officers, today)


Grouping = Literal[
    "status",
    "partner",
    "partner_type",
    "region",
    "country",
    "capability",
    "week",
    "days_to_decision",
    "officers_by_mission",
    "officers_by_country",
]


def breakdown_rows(summary: dict[str, Any], by: Grouping) -> list[dict[str, Any]]:
    """One grouping of the summary as rows (`key`, `series`, `count`): what each chart of the
    dashboard draws, as its table and its CSV."""
    requests = summary["requests"]
    if by == "week":
        weekly = requests["by_week_and_status"]
        return [
            {"key": period, "series": status, "count": counts[i]}
            for status, counts in weekly["series"].items()
            for i, period in enumerate(weekly["periods"])
        ]
    if by == "days_to_decision":
        histogram = summary["days_to_decision"]["histogram"]
        return [{"key": b["bucket"], "series": None, "count": b["count"]} for b in histogram]
    if by.startswith("officers_by_"):
        counts = summary["officers_deployed_now"][by.replace("officers_", "")]
    else:
        counts = requests[f"by_{by}"]
    return [{"key": key, "series": None, "count": n} for key, n in counts.items()]


@router.get(
    "/requests",
    response_model=RequestPage,
    summary="Flat request rows (JSON pages or a CSV export)",
    responses={200: {"content": {"text/csv": {}}}},
)
async def list_requests(
    reader: Analyst,
    runtime: RuntimeDep,
    filters: RequestFilterDep,
    reference: ReferenceQuery = None,
    sort: Annotated[Literal["submitted_at", "score", "reference"], Query()] = "submitted_at",
    order: Annotated[Literal["asc", "desc"], Query()] = "desc",
    format: Annotated[Format, Query(description="`csv` streams every matching row")] = "json",
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
    _: None = Consistent,
) -> Any:
    """One row per request: reference, partner type, country, region, capability,
    classification, status, submission and decision times, outcome flags, deployment start and
    score. Titles and descriptions of OFFICIAL-SENSITIVE requests are `null` (and `redacted`
    true) unless you hold `sc` clearance or above. `?format=csv` streams every matching row.
    `reference` finds one request by its reference (the same filter intake and triage take). An
    unknown query parameter is a 422 naming it."""
    filters = replace(filters, reference=reference)
    page = read_page(cursor, sort, order, limit, REQUEST_PARSERS[sort])
    if format == "csv":

        async def rows() -> AsyncIterator[dict[str, Any]]:
            async with runtime.engine.connect() as conn:
                async for row in queries.all_requests(conn, filters, page):
                    yield shown(row, reader)

        return csv_response(csv_lines(rows(), REQUEST_CSV_COLUMNS), "requests")
    async with runtime.engine.connect() as conn:
        items = await queries.list_requests(conn, filters, page)
    return {
        "items": [shown(item, reader) for item in items[:limit]],
        "next_cursor": next_cursor(items, "request_id", page),
    }


@router.get(
    "/requests/{request_id}",
    response_model=RequestRow,
    summary="One request's flat row",
)
async def get_request(
    request_id: UUID, reader: Analyst, runtime: RuntimeDep, _: None = Consistent
) -> dict[str, Any]:
    """The request as `GET /v1/requests` lists it (the dashboard's detail page; its timeline is
    `GET /v1/audit/{request_id}`). Title, description and mission of an OFFICIAL-SENSITIVE
    request are `null` (`redacted` true) unless you hold `sc` clearance or above."""
    async with runtime.engine.connect() as conn:
        row = await queries.get_request(conn, request_id)
    if row is None:
        raise not_found("request")
    return shown(row, reader)


@router.get(
    "/breakdown",
    response_model=Breakdown,
    summary="One grouping of the KPIs as rows (JSON or a CSV export)",
    responses={200: {"content": {"text/csv": {}}}},
)
async def breakdown(
    reader: Analyst,
    runtime: RuntimeDep,
    filters: RequestFilterDep,
    by: Annotated[Grouping, Query(description="Which grouping of `GET /v1/summary`")],
    as_of: Annotated[
        DateQuery, Query(description="The day 'now' means (default: today, UTC)")
    ] = None,
    format: Annotated[Format, Query(description="`csv`: the rows as a file")] = "json",
    _: None = Consistent,
) -> Any:
    """The rows behind one chart of the dashboard, for the same filters as `GET /v1/summary`:
    requests by status, partner, partner type, region, country or capability; submissions per
    week by current status (`series`); decisions by days to decision; officers deployed now by
    mission or country. Missions the reader may not see group as `withheld`, deployments
    planned without one as `no mission`."""
    rows = breakdown_rows(await _summary(runtime, filters, reader, as_of), by)
    if format == "csv":

        async def each() -> AsyncIterator[dict[str, Any]]:
            for row in rows:
                yield row

        return csv_response(csv_lines(each(), BREAKDOWN_CSV_COLUMNS), f"breakdown-{by}")
    return {"by": by, "rows": rows}


@router.get(
    "/deployments",
    response_model=DeploymentPage,
    summary="Flat deployment rows (JSON pages or a CSV export)",
    responses={200: {"content": {"text/csv": {}}}},
)
async def list_deployments(
    reader: Analyst,
    runtime: RuntimeDep,
    status: Annotated[list[str] | None, Query(description="Only these statuses")] = None,
    country: CountryQuery = None,
    region: Annotated[Region | None, Query()] = None,
    capability: Annotated[Capability | None, Query()] = None,
    mission: Annotated[str | None, Query(max_length=100)] = None,
    no_mission: Annotated[
        bool, Query(description="Only deployments planned without a mission")
    ] = False,
    request_id: Annotated[UUID | None, Query()] = None,
    classification: Annotated[Classification | None, Query()] = None,
    partner: Annotated[
        str | None, Query(max_length=100, description="Only for this partner's requests")
    ] = None,
    partner_type: Annotated[PartnerType | None, Query()] = None,
    submitted_from: Annotated[
        DateQuery, Query(alias="from", description="Of requests submitted on or after this day")
    ] = None,
    submitted_to: Annotated[
        DateQuery, Query(alias="to", description="Of requests submitted on or before this day")
    ] = None,
    sort: Annotated[Literal["tour_start", "tour_end"], Query()] = "tour_start",
    order: Annotated[Literal["asc", "desc"], Query()] = "desc",
    format: Annotated[Format, Query(description="`csv` streams every matching row")] = "json",
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
    _: None = Consistent,
) -> Any:
    """One row per deployment: mission, country, capability, tour dates (with extensions),
    status and officer counts. `partner`, `partner_type`, `from` and `to` select the requests
    deployed for (as on `GET /v1/requests`); the mission of an OFFICIAL-SENSITIVE deployment is
    `null` unless you hold `sc` clearance or above, and a `mission` or `no_mission` filter then
    matches OFFICIAL deployments only."""
    of_requests = await request_filters(
        partner=partner,
        partner_type=partner_type,
        submitted_from=submitted_from,
        submitted_to=submitted_to,
    )
    filters = queries.DeploymentFilters(
        statuses=list(status or ()),
        country=country,
        region=region and region.value,
        capability=capability and capability.value,
        mission=mission,
        no_mission=no_mission,
        request_id=request_id,
        classification=classification and classification.value,
        of_requests=of_requests,
        mission_of_official_only=filter_visible_only(Reader.of(reader), "mission"),
    )
    page = read_page(cursor, sort, order, limit, date.fromisoformat)
    if format == "csv":

        async def rows() -> AsyncIterator[dict[str, Any]]:
            async with runtime.engine.connect() as conn:
                async for row in queries.all_deployments(conn, filters, page):
                    yield shown(row, reader)

        return csv_response(csv_lines(rows(), DEPLOYMENT_CSV_COLUMNS), "deployments")
    async with runtime.engine.connect() as conn:
        items = await queries.list_deployments(conn, filters, page)
    return {
        "items": [shown(item, reader) for item in items[:limit]],
        "next_cursor": next_cursor(items, "deployment_id", page),
    }


@router.get("/timeseries", response_model=TimeSeries, summary="A KPI per week or month")
async def timeseries(
    _reader: Analyst,
    runtime: RuntimeDep,
    filters: RequestFilterDep,
    metric: Annotated[Literal["submitted", "approved", "rejected", "deployed"], Query()],
    interval: Annotated[Literal["week", "month"], Query()] = "week",
    _: None = Consistent,
) -> dict[str, Any]:
    """Submissions, approvals, rejections or deployment starts per ISO week (Monday) or calendar
    month, gaps filled with zero, for the matching requests."""
    async with runtime.engine.connect() as conn:
        days = await queries.metric_days(conn, metric, filters)
    return {"metric": metric, "interval": interval, "points": kpis.timeseries(days, interval)}
