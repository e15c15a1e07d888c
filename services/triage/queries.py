"""Read-model SQL behind triage's GET endpoints, its projection and the facts a command needs."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.triage.document import CaseHistory, document_of, fold_rows, history_entry
from services.triage.domain import CLOSED
from services.triage.domain.service_levels import ServiceLevels
from services.triage.tables import capability_offers, case_history, cases
from shared.api import supported
from shared.as_of import AsOf, cut, too_early
from shared.db import driver, qualified
from shared.redaction import OFFICIAL
from shared.search import matches
from shared.topics import TRIAGE_EVENTS


async def offered_officers(conn: AsyncConnection, capability: str, on: date) -> int:
    """Officers on offer for `capability` and still available on `on`."""
    count = await (await driver(conn)).fetchval(
        f"SELECT count(*) FROM {qualified(conn, capability_offers)}"
        " WHERE capability = $1 AND NOT withdrawn AND available_to >= $2",
        capability,
        on,
    )
    return int(count or 0)


async def history_payloads(conn: AsyncConnection, request_id: UUID) -> CaseHistory:
    """The case folded from its history: intake's events first, then the case stream's.
    (Every event of a case runs this: straight to asyncpg.)"""
    rows = await (await driver(conn)).fetch(
        "SELECT event_type, schema_version, data, occurred_at"
        f" FROM {qualified(conn, case_history)} WHERE request_id = $1"
        f" ORDER BY {FOLD_ORDER}",
        request_id,
        TRIAGE_EVENTS,
    )
    return fold_rows(rows)


#: The order `fold_rows` takes a case's history in ($2 is triage's topic).
FOLD_ORDER = "(topic = $2), stream_version, event_id"


@dataclass(frozen=True)
class CaseFilters:
    statuses: list[str] = field(default_factory=list)
    country: str | None = None
    region: str | None = None
    capability: str | None = None
    risk_tier: str | None = None
    partner_type: str | None = None
    partner_id: str | None = None
    reference: str | None = None
    owner: str | None = None
    assigned: bool | None = None
    sla_stage: str | None = None
    #: With `today`: only cases past (True) or within (False) their service level.
    breached: bool | None = None
    #: Words to search for (websearch syntax), over what the reader may see.
    text: str | None = None
    #: Whether the reader may see OFFICIAL-SENSITIVE text (`shared.redaction.Reader.cleared`).
    cleared: bool = False


class Sort(StrEnum):
    PRIORITY = "priority"  # highest score first, then the earliest needed-by date
    DUE = "due"  # the earliest due date first (cases without one last), then by priority
    AGE = "age"  # the oldest submission first


def due_on_sql(levels: ServiceLevels) -> sa.ColumnElement[Any]:
    """The case's due date (`ServiceLevels.due_on` in SQL), null when no clock runs."""
    c = cases.c
    days = sa.case(
        *((c.sla_stage == stage.value, sa.literal(n)) for stage, n in levels.days.items()),
        else_=sa.null(),
    )
    return sa.cast(sa.func.timezone("UTC", c.stage_since), sa.Date) + days


def _keys(sort: Sort, due: sa.ColumnElement[Any]) -> list[tuple[sa.ColumnElement[Any], str]]:
    """The sort's keys, every one ascending (so one row comparison pages them), each with the
    kind of value a cursor carries. Open cases always come before decided ones."""
    c = cases.c
    closed = sa.case((c.status.in_([s.value for s in CLOSED]), 1), else_=0)
    keys: list[tuple[sa.ColumnElement[Any], str]] = [(closed, "int")]
    if sort is Sort.DUE:
        keys.append((sa.func.coalesce(due, LAST_DAY), "date"))
    if sort is Sort.AGE:
        keys.append((c.submitted_at, "time"))
    else:
        keys += [(-c.score, "float"), (c.needed_by, "date")]
    return [*keys, (c.request_id, "uuid")]


LAST_DAY = date(9999, 12, 31)


def _rank(value: Any) -> int:
    if value not in (0, 1) or isinstance(value, bool):
        raise ValueError("not a rank")
    return int(value)


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError("not a finite number")
    return float(value)


def _moment(value: Any) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("a moment without an offset")
    return moment


#: How a cursor's value of each kind is read back; anything else is refused (a cursor is the
#: caller's to tamper with: a value PostgreSQL cannot bind must be a 400, not a 500).
_PARSE: dict[str, Any] = {
    "int": _rank,
    "float": _number,
    "date": lambda v: supported(date.fromisoformat(v)) if v != LAST_DAY.isoformat() else LAST_DAY,
    "time": _moment,
    "uuid": UUID,
}


def parse_position(sort: Sort, values: list[Any]) -> list[Any]:
    """A cursor's values for `sort`, typed; ValueError if they are not this sort's."""
    kinds = [kind for _, kind in _keys(sort, sa.null())]
    if not isinstance(values, list) or len(values) != len(kinds):
        raise ValueError("cursor of another ordering")
    return [_PARSE[kind](value) for kind, value in zip(kinds, values, strict=True)]


def _search(filters: CaseFilters) -> sa.ColumnElement[bool]:
    c = cases.c
    assert filters.text is not None
    if filters.cleared:
        return matches(c.search_all, filters.text)
    # Need-to-know (shared.redaction): the OFFICIAL-SENSITIVE text an uncleared reader may not
    # see must not be found either, or a hit would tell what it says.
    vector = sa.case((c.classification == OFFICIAL, c.search_all), else_=c.search_open)
    return matches(vector, filters.text)


async def list_cases(
    conn: AsyncConnection,
    filters: CaseFilters,
    *,
    levels: ServiceLevels,
    today: date,
    sort: Sort = Sort.PRIORITY,
    after: list[Any] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """The queue in `sort` order, open cases first; filtered; keyset pagination. Each item is
    the case's document with its due date and `position` (the values a cursor carries)."""
    c = cases.c
    due = due_on_sql(levels)
    keys = _keys(sort, due)
    q = sa.select(
        c.document, due.label("due_on"), *(k.label(f"k{i}") for i, (k, _) in enumerate(keys))
    )
    if filters.statuses:
        q = q.where(c.status.in_(filters.statuses))
    for column, value in (
        (c.country, filters.country),
        (c.region, filters.region),
        (c.capability, filters.capability),
        (c.risk_tier, filters.risk_tier),
        (c.partner_type, filters.partner_type),
        (c.partner_id, filters.partner_id),
        (c.reference, filters.reference),
        (c.owner, filters.owner),
        (c.sla_stage, filters.sla_stage),
    ):
        if value is not None:
            q = q.where(column == value)
    if filters.assigned is not None:
        q = q.where(c.owner.is_not(None) if filters.assigned else c.owner.is_(None))
    if filters.breached is not None:
        late = due < today
        q = q.where(late if filters.breached else sa.or_(due.is_(None), sa.not_(late)))
    if filters.text:
        q = q.where(_search(filters))
    if after is not None:
        q = q.where(sa.tuple_(*(k for k, _ in keys)) > sa.tuple_(*map(sa.literal, after)))
    q = q.order_by(*(k for k, _ in keys)).limit(limit)
    items = []
    for row in await conn.execute(q):
        position = [row._mapping[f"k{i}"] for i in range(len(keys))]
        items.append(dict(row.document) | {"due_on": row.due_on, "position": position})
    return items


async def get_case(conn: AsyncConnection, request_id: UUID) -> dict[str, Any] | None:
    document = await conn.scalar(
        sa.select(cases.c.document).where(cases.c.request_id == request_id)
    )
    if document is None:
        return None
    entries = await conn.execute(
        sa.select(case_history)
        .where(case_history.c.request_id == request_id)
        .order_by(case_history.c.occurred_at, case_history.c.event_id)
    )
    return dict(document) | {"history": [history_entry(e._mapping) for e in entries]}


async def get_case_as_of(
    conn: AsyncConnection, request_id: UUID, as_of: AsOf
) -> dict[str, Any] | None:
    """The case as it was at `as_of` (`shared.as_of`), made again from its history by the fold
    and the document the projection uses; its `history` cut at the same point, and `as_of`
    saying where that is. None when there is no case now (as the current read)."""
    rows = await (await driver(conn)).fetch(
        f"SELECT * FROM {qualified(conn, case_history)} WHERE request_id = $1"
        f" ORDER BY {FOLD_ORDER}",
        request_id,
        TRIAGE_EVENTS,
    )
    if document_of(fold_rows(rows)) is None:
        return None
    kept, point = cut(
        rows,
        as_of,
        own=lambda r: bool(r["topic"] == TRIAGE_EVENTS),
        version=lambda r: int(r["stream_version"]),
        occurred_at=lambda r: r["occurred_at"],
    )
    document = document_of(fold_rows(kept))
    if document is None:  # submitted then, not yet triaged: no case yet
        raise too_early(point.at)
    seen = sorted(kept, key=lambda r: (r["occurred_at"], str(r["event_id"])))
    return document | {
        "history": [history_entry(r) for r in seen],
        "as_of": point.as_json(),
    }


async def describe(conn: AsyncConnection, request_id: UUID) -> dict[str, Any] | None:
    """For operators (`jiph where`): where the case stands, no free text or personal details."""
    row = (await conn.execute(sa.select(cases).where(cases.c.request_id == request_id))).first()
    if row is None:
        return None
    return {
        "reference": row.reference,
        "status": row.status,
        "score": row.score,
        "risk_tier": row.risk_tier,
        "policy_version": row.document.get("policy_version"),
        "case_version": row.version,
        "updated_at": row.updated_at.isoformat(),
    }
