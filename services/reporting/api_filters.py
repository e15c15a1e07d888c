"""What reporting's endpoints share: the request filters of the query string, keyset pages and
their cursors, and what a reader may see of a row (`shared.redaction`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Depends, Query

from services.reporting import queries
from shared.api import CountryQuery, DateQuery, encode_cursor, read_cursor
from shared.auth import Principal
from shared.problems import Problem
from shared.redaction import Reader, group_label, shown_to
from shared.reference.codes import Capability, Classification, PartnerType, Region


# --- what a reader may see (`shared.redaction`) --------------------------------------------
def shown(row: dict[str, Any], principal: Principal) -> dict[str, Any]:
    row = {k: v for k, v in row.items() if k != "sort_key"}
    return shown_to(Reader.of(principal), row.get("classification"), row)


def as_seen_by(facts: queries.Facts, principal: Principal) -> queries.Facts:
    """The KPI inputs with every mission the reader may not see under one label."""
    reader = Reader.of(principal)

    def label(fact: Any) -> Any:
        return replace(
            fact, mission=group_label(reader, fact.classification, "mission", fact.mission)
        )

    return queries.Facts(
        facts.requests, [label(d) for d in facts.deployments], [label(o) for o in facts.officers]
    )


# --- filters --------------------------------------------------------------------------------
async def request_filters(
    status: Annotated[list[str] | None, Query(description="Only these statuses (repeat)")] = None,
    partner: Annotated[
        str | None, Query(max_length=100, description="Only this partner's (its registry id)")
    ] = None,
    partner_type: Annotated[PartnerType | None, Query()] = None,
    region: Annotated[Region | None, Query()] = None,
    country: CountryQuery = None,
    capability: Annotated[Capability | None, Query()] = None,
    classification: Annotated[Classification | None, Query()] = None,
    submitted_from: Annotated[
        DateQuery, Query(alias="from", description="Submitted on or after this day (UTC)")
    ] = None,
    submitted_to: Annotated[
        DateQuery, Query(alias="to", description="Submitted on or before this day (UTC)")
    ] = None,
    decision: Annotated[
        list[Literal["approved", "rejected"]] | None,
        Query(description="Only requests decided so (repeat for both)"),
    ] = None,
) -> queries.RequestFilters:
    if submitted_from and submitted_to and submitted_from > submitted_to:
        message = "the range ends before it starts (`from`)"
        raise Problem(
            422,
            "validation-error",
            "Invalid request",
            "1 problem(s) with: query.to",
            errors=[{"field": "query.to", "message": message}],
        )
    return queries.RequestFilters(
        statuses=list(status or ()),
        partner=partner,
        decisions=list(decision or ()),
        partner_type=partner_type and partner_type.value,
        region=region and region.value,
        country=country,
        capability=capability and capability.value,
        classification=classification and classification.value,
        submitted_from=submitted_from,
        submitted_to=submitted_to,
    )


RequestFilterDep = Annotated[queries.RequestFilters, Depends(request_filters)]


def read_page(
    cursor: str | None,
    sort: str,
    direction: queries.Direction,
    limit: int,
    parse: Callable[[Any], Any],
) -> queries.Page:
    def position(c: dict[str, Any]) -> tuple[Any, UUID]:
        if c["s"] != sort or c["d"] != direction:
            raise ValueError("cursor of another ordering")
        return parse(c["v"]), UUID(c["id"])

    after = read_cursor(cursor, position)
    return queries.Page(sort, direction, after, limit + 1)


def next_cursor(items: list[dict[str, Any]], id_key: str, page: queries.Page) -> str | None:
    if len(items) < page.limit:
        return None
    last = items[page.limit - 2]
    value = last["sort_key"]
    return encode_cursor(
        {
            "s": page.sort,
            "d": page.direction,
            "v": value.isoformat() if isinstance(value, date | datetime) else value,
            "id": str(last[id_key]),
        }
    )


REQUEST_PARSERS: dict[str, Callable[[Any], Any]] = {
    "submitted_at": datetime.fromisoformat,
    "score": float,
    "reference": str,
}
