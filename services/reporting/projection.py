"""Reporting's read side: every gateway event goes into the event log (without personal data),
then the request's row and its deployment's rows are re-derived from the log by the pure folds of
`folds.py`. Deterministic: times come from the events, never from the clock."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting import folds
from services.reporting.tables import (
    deployment_officers,
    deployments,
    event_log,
    metadata,
    offers,
    requests,
)
from shared.catalogue.deployment import CapabilityOffered, CapabilityWithdrawn, OfferUpdated
from shared.db import any_of, driver, insert_rows, qualified, upsert_clause
from shared.events import REGISTRY, Envelope
from shared.projection import Projection

PROJECTION = Projection(name="reporting", metadata=metadata, keeps_inbox=False)

#: Every event about a request, on any topic: the catalogue says which.
REQUEST_EVENTS = REGISTRY.event_types(with_field="request_id")


def log_row(env: Envelope) -> dict[str, Any]:
    d = env.data
    return {
        "event_id": env.event_id,
        "request_id": UUID(d["request_id"]) if d.get("request_id") else None,
        "deployment_id": UUID(d["deployment_id"]) if d.get("deployment_id") else None,
        "topic": env.topic,
        "stream_id": env.stream_id,
        "stream_version": env.stream_version,
        "event_type": env.event_type,
        "schema_version": env.schema_version,
        "producer": env.producer,
        "actor_subject": env.actor.subject,
        "actor_role": env.actor.role,
        "occurred_at": env.occurred_at,
        "correlation_id": env.correlation_id,
        "trace_id": folds.trace_id_of(env.traceparent),
        "data": folds.without_personal_data(d),
    }


async def log_events(conn: AsyncConnection, envs: Sequence[Envelope]) -> None:
    await insert_rows(conn, event_log, [log_row(e) for e in envs], on_conflict=_ONCE)


#: An event is logged once, whatever redelivers it.
_ONCE = "ON CONFLICT DO NOTHING"


async def _logged_by(
    conn: AsyncConnection, column: sa.Column[Any], ids: Iterable[UUID]
) -> dict[UUID, list[folds.Logged]]:
    """The logged events of each of these requests (or deployments), one query for all."""
    rows = await (await driver(conn)).fetch(
        f'SELECT "{column.name}", event_id, event_type, topic, stream_version, occurred_at, data'
        f' FROM {qualified(conn, event_log)} WHERE "{column.name}" = ANY($1::uuid[])',
        list(ids),
    )
    grouped: dict[UUID, list[folds.Logged]] = defaultdict(list)
    for owner, *fields in rows:
        grouped[owner].append(folds.Logged(*fields))
    return grouped


async def refresh_requests(conn: AsyncConnection, request_ids: Iterable[UUID]) -> None:
    """Re-derive each request's row from its whole log (so the order the three topics were read
    in does not matter)."""
    logged = await _logged_by(conn, event_log.c.request_id, request_ids)
    rows = []
    for request_id, events in logged.items():
        row = folds.request_row(events)
        if row is not None:
            rows.append({"request_id": request_id, **row})
    if rows:
        await insert_rows(conn, requests, rows, on_conflict=upsert_clause(["request_id"], rows[0]))


async def refresh_deployments(conn: AsyncConnection, deployment_ids: Iterable[UUID]) -> None:
    logged = await _logged_by(conn, event_log.c.deployment_id, deployment_ids)
    derived = {d: folds.deployment_rows(events) for d, events in logged.items()}
    rows = {d: r for d, r in derived.items() if r is not None}
    if not rows:
        return
    deployment_rows = [{"deployment_id": d, **r.deployment} for d, r in rows.items()]
    await insert_rows(
        conn,
        deployments,
        deployment_rows,
        on_conflict=upsert_clause(["deployment_id"], deployment_rows[0]),
    )
    await conn.execute(
        deployment_officers.delete().where(any_of(deployment_officers.c.deployment_id, rows))
    )
    officers = [{"deployment_id": d, **o} for d, r in rows.items() for o in r.officers]
    await insert_rows(conn, deployment_officers, officers)


@PROJECTION.on_batch(*REQUEST_EVENTS)
async def request_events(conn: AsyncConnection, envs: Sequence[Envelope]) -> None:
    """Log the events, then re-derive each touched request and deployment once. (The backbone
    holds each request's key lock: replicas consuming different topics never race here.)"""
    request_ids = sorted({UUID(e.data["request_id"]) for e in envs})
    await log_events(conn, envs)
    deployment_ids = {UUID(e.data["deployment_id"]) for e in envs if e.data.get("deployment_id")}
    if deployment_ids:
        await refresh_deployments(conn, deployment_ids)
    await refresh_requests(conn, request_ids)


@PROJECTION.on(*REQUEST_EVENTS)
async def request_event(conn: AsyncConnection, env: Envelope) -> None:
    await request_events(conn, [env])


@PROJECTION.on(CapabilityOffered.event_type)
async def offered(conn: AsyncConnection, env: Envelope) -> None:
    await log_events(conn, [env])
    d = env.data
    await conn.execute(
        insert(offers)
        .values(
            offer_id=UUID(d["offer_id"]),
            officer_ref=d["officer_ref"],
            force=d["force"],
            capability=d["capability"],
            vetting_level=d["vetting_level"],
            vetting_expires=date.fromisoformat(d["vetting_expires"]),
            medical_expires=date.fromisoformat(d["medical_expires"]),
            training_expires=date.fromisoformat(d["training_expires"]),
            passport_expires=date.fromisoformat(d["passport_expires"]),
            available_from=date.fromisoformat(d["available_from"]),
            available_to=date.fromisoformat(d["available_to"]),
            offered_at=env.occurred_at,
        )
        .on_conflict_do_nothing()
    )


@PROJECTION.on(CapabilityWithdrawn.event_type)
async def offer_withdrawn(conn: AsyncConnection, env: Envelope) -> None:
    await log_events(conn, [env])
    await conn.execute(
        offers.update()
        .where(offers.c.offer_id == UUID(env.data["offer_id"]))
        .values(withdrawn=True)
    )


#: What an offer update can change here (the other columns are dates).
_CODES = ("capability", "vetting_level")
_DATES = (
    "vetting_expires",
    "medical_expires",
    "training_expires",
    "passport_expires",
    "available_from",
    "available_to",
)


@PROJECTION.on(OfferUpdated.event_type)
async def offer_updated(conn: AsyncConnection, env: Envelope) -> None:
    await log_events(conn, [env])
    d = env.data
    changed: dict[str, Any] = {name: d[name] for name in _CODES if d.get(name) is not None}
    changed |= {name: date.fromisoformat(d[name]) for name in _DATES if d.get(name) is not None}
    if changed:
        await conn.execute(
            offers.update().where(offers.c.offer_id == UUID(d["offer_id"])).values(**changed)
        )
