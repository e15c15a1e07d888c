"""Intake's read side: every gateway event about a request becomes a timeline entry, and the
partner-visible status is re-derived from the whole timeline, so the order in which the three
topics are consumed does not matter. (The backbone holds the request's key lock meanwhile: the
consumer and a partner's command never overwrite each other's status.)"""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake import partners as partner_domain
from services.intake.tables import metadata, partners, requests, timeline
from services.intake.timeline import partner_entry
from services.intake.webhooks import outbox as webhooks
from shared.catalogue.deployment import DeploymentCompleted, DeploymentStarted, OfficerRepatriated
from shared.catalogue.intake import (
    PartnerDeactivated,
    PartnerReactivated,
    PartnerRegistered,
    PartnerUpdated,
    RequestAmended,
    RequestSubmitted,
)
from shared.catalogue.triage import InformationRequested
from shared.db import driver, jsonb, qualified
from shared.events import REGISTRY, Envelope
from shared.projection import Projection
from shared.request_status import Status, status_of

PROJECTION = Projection(name="intake", metadata=metadata)


# The statements every submission runs go straight to asyncpg (see shared.db.driver), and as few
# as can be: a round trip costs more CPU than the SQL it carries.
def _timeline_statement(conn: AsyncConnection, new_request: str = "") -> str:
    """Add the event ($1..$6) to its request's timeline and answer, in the same round trip, the
    request's event types in order (this one included) and its stored status. `new_request`:
    a data-modifying CTE `new_request` inserting the request row (RETURNING its status)."""
    line = qualified(conn, timeline)
    stored = f"(SELECT status FROM {qualified(conn, requests)} WHERE request_id = $2)"
    if new_request:
        stored = f"coalesce((SELECT status FROM new_request), {stored})"
    return (
        f"WITH {new_request + ', ' if new_request else ''}entry AS ("
        f" INSERT INTO {line} (event_id, request_id, occurred_at, event_type, summary, details)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING"
        " RETURNING event_type, occurred_at, event_id)"
        " SELECT array(SELECT t.event_type FROM ("
        f"  SELECT event_type, occurred_at, event_id FROM {line} WHERE request_id = $2"
        "  UNION ALL SELECT event_type, occurred_at, event_id FROM entry"
        " ) t ORDER BY t.occurred_at, t.event_id) AS event_types,"
        f" {stored} AS status"
    )


#: What adding an event to the timeline tells: the request, its status after the whole
#: timeline, and the status stored before.
Recorded = tuple[UUID, Status, str | None]


async def _record(
    conn: AsyncConnection, env: Envelope, new_request: str = "", *extra: object
) -> Recorded | None:
    """Add the event to its request's timeline (None: it has no entry there)."""
    entry = partner_entry(env)
    if entry is None or env.data.get("request_id") is None:
        return None
    request_id = UUID(env.data["request_id"])
    summary, details = entry
    row = await (await driver(conn)).fetchrow(
        _timeline_statement(conn, new_request),
        env.event_id,
        request_id,
        env.occurred_at,
        env.event_type,
        summary,
        jsonb(details),
        *extra,
    )
    assert row is not None
    return request_id, status_of(row["event_types"]), row["status"]


async def _refresh(
    conn: AsyncConnection, recorded: Recorded, env: Envelope, **values: object
) -> None:
    """The request's status (and `values`) after the event; `updated_at` follows it."""
    request_id, status, _ = recorded
    await (await driver(conn)).execute(
        f"UPDATE {qualified(conn, requests)} SET status = $2,"
        " updated_at = greatest(updated_at, $3) WHERE request_id = $1",
        request_id,
        status.value,
        env.occurred_at,
    )
    if values:
        await conn.execute(
            requests.update().where(requests.c.request_id == request_id).values(**values)
        )
    await _owe_webhooks(conn, request_id, env)


async def _owe_webhooks(conn: AsyncConnection, request_id: UUID, env: Envelope) -> None:
    """What the partner may read, it is also sent (its webhooks), with the status it left."""
    entry = partner_entry(env)
    if entry is not None:
        await webhooks.enqueue(
            conn,
            event_id=env.event_id,
            event_type=env.event_type,
            occurred_at=env.occurred_at,
            request_id=request_id,
            summary=entry[0],
            details=entry[1],
        )


def _new_request_statement(conn: AsyncConnection) -> str:
    # Only a repeat of this very request is absorbed; a clash of references is an error.
    return (
        f"new_request AS (INSERT INTO {qualified(conn, requests)} (request_id, reference,"
        " partner_id, title, country, capability, classification, status, submitted_at,"
        " updated_at, details) VALUES ($2, $7, $8, $9, $10, $11, $12, $13, $3, $3, $14)"
        " ON CONFLICT (request_id) DO NOTHING RETURNING status)"
    )


@PROJECTION.on(RequestSubmitted.event_type)
async def submitted(conn: AsyncConnection, env: Envelope) -> None:
    """The request's row and its first timeline entry in one round trip; its status is written
    again only if events about it arrived before it did (a rebuild reads topics in any order)."""
    d = env.data
    recorded = await _record(
        conn,
        env,
        _new_request_statement(conn),
        d["reference"],
        d["partner_id"],
        d["title"],
        d["country"],
        d["capability"],
        d["classification"],
        Status.SUBMITTED.value,
        jsonb(d),
    )
    assert recorded is not None, "a submission always has a timeline entry"
    request_id, status, stored = recorded
    if status.value != stored:
        await _refresh(conn, recorded, env)
    else:
        await _owe_webhooks(conn, request_id, env)


@PROJECTION.on(RequestAmended.event_type)
async def amended(conn: AsyncConnection, env: Envelope) -> None:
    recorded = await _record(conn, env)
    assert recorded is not None
    changes = env.data.get("changes") or {}
    values: dict[str, object] = {}
    if changes:
        values["details"] = requests.c.details.op("||")(sa.cast(changes, requests.c.details.type))
        if "title" in changes:
            values["title"] = changes["title"]
    if env.data.get("answers"):
        values |= {"open_information_request": None, "open_questions": []}
    await _refresh(conn, recorded, env, **values)


@PROJECTION.on(InformationRequested.event_type)
async def information_requested(conn: AsyncConnection, env: Envelope) -> None:
    recorded = await _record(conn, env)
    assert recorded is not None
    await _refresh(
        conn,
        recorded,
        env,
        open_information_request=UUID(env.data["information_request_id"]),
        open_questions=env.data["questions"],
    )


@PROJECTION.on(DeploymentStarted.event_type)
async def deployment_started(conn: AsyncConnection, env: Envelope) -> None:
    recorded = await _record(conn, env)
    assert recorded is not None
    await _refresh(conn, recorded, env, headcount_deployed=len(env.data["officer_refs"]))


@PROJECTION.on(OfficerRepatriated.event_type)
async def repatriated(conn: AsyncConnection, env: Envelope) -> None:
    recorded = await _record(conn, env)
    assert recorded is not None
    await _refresh(
        conn,
        recorded,
        env,
        headcount_deployed=sa.func.greatest(requests.c.headcount_deployed - 1, 0),
    )


@PROJECTION.on(DeploymentCompleted.event_type)
async def completed(conn: AsyncConnection, env: Envelope) -> None:
    recorded = await _record(conn, env)
    assert recorded is not None
    await _refresh(conn, recorded, env, headcount_deployed=0)


#: Every other event about a request: a timeline entry and perhaps a new status.
OTHER_REQUEST_EVENTS = set(REGISTRY.event_types(with_field="request_id")) - set(PROJECTION.handlers)


@PROJECTION.on(*sorted(OTHER_REQUEST_EVENTS))
async def status_change(conn: AsyncConnection, env: Envelope) -> None:
    recorded = await _record(conn, env)
    if recorded is not None:
        await _refresh(conn, recorded, env)


# --- the partner registry ----------------------------------------------------------------------
@PROJECTION.on(
    PartnerRegistered.event_type,
    PartnerUpdated.event_type,
    PartnerDeactivated.event_type,
    PartnerReactivated.event_type,
)
async def partner_changed(conn: AsyncConnection, env: Envelope) -> None:
    """The partner's row after this event: registered, corrected, or (re)activated. A version
    check makes a repeat, or an older event met late, change nothing."""
    event = env.payload()
    if isinstance(event, PartnerRegistered):
        await conn.execute(
            insert(partners)
            .values(
                **partner_domain.fold([event]).as_json(),  # type: ignore[union-attr]
                registered_at=env.occurred_at,
                updated_at=env.occurred_at,
                version=env.stream_version,
            )
            .on_conflict_do_nothing()
        )
        return
    values: dict[str, object] = {"updated_at": env.occurred_at, "version": env.stream_version}
    if isinstance(event, PartnerUpdated):
        values |= {
            k: v for k, v in event.model_dump().items() if v is not None and k != "partner_id"
        }
    else:
        values["active"] = isinstance(event, PartnerReactivated)
    await conn.execute(
        partners.update()
        .where(
            partners.c.partner_id == env.data["partner_id"],
            partners.c.version < env.stream_version,
        )
        .values(**values)
    )
