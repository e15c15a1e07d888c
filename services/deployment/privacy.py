"""Write-side records of officers' personal data: who the officers are (pseudonymously), their
keys (on the key store, never here), and the access log. The personal values themselves are
never stored here, never logged: they exist in clear only in memory, between the request and the
sealing or the response."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.deployment.keystore import KeyStore
from services.deployment.tables import (
    access_log,
    deployment_officers,
    deployments,
    offers,
    officer_bookings,
    officers,
)
from shared.eventstore import EventStore
from shared.redaction import OFFICIAL

PERSONAL_FIELDS = ("name", "contact", "next_of_kin")
_REF_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: refs get read out on the phone


@dataclass(frozen=True)
class OfficerRecord:
    officer_ref: str
    force: str
    erased_at: datetime | None
    created_at: datetime | None = None


def new_officer_ref() -> str:
    return "OFF-" + "".join(secrets.choice(_REF_ALPHABET) for _ in range(10))


async def register_officer(conn: AsyncConnection, keys: KeyStore, force: str) -> str:
    """A new pseudonymous officer, with a key of their own made on the key store."""
    while True:
        ref = new_officer_ref()
        inserted = await conn.scalar(
            insert(officers)
            .values(officer_ref=ref, force=force)
            .on_conflict_do_nothing()
            .returning(officers.c.officer_ref)
        )
        if inserted is not None:
            break
    # If this transaction rolls back, the key stays on the token for a ref nobody holds: it
    # opens nothing (nothing was sealed under it), and erasure of personal data is unaffected.
    keys.create_key(ref)
    return ref


async def find_officer(
    conn: AsyncConnection, officer_ref: str, *, lock: bool = False
) -> OfficerRecord | None:
    """`lock` takes the officer's row FOR UPDATE: every command that books, offers or erases an
    officer holds it, so they happen one after another for one officer."""
    query = sa.select(officers).where(officers.c.officer_ref == officer_ref)
    row = (await conn.execute(query.with_for_update() if lock else query)).first()
    if row is None:
        return None
    return OfficerRecord(row.officer_ref, row.force, row.erased_at, row.created_at)


async def erase(conn: AsyncConnection, keys: KeyStore, officer_ref: str, by: str) -> datetime:
    """Destroy the officer's key on the key store: every sealed copy of their personal data,
    wherever it is, becomes unreadable. The key goes first: should the transaction then fail,
    the officer reads as erased anyway, and a retry completes the record."""
    keys.destroy(officer_ref)
    erased_at = await conn.scalar(
        officers.update()
        .where(officers.c.officer_ref == officer_ref)
        .values(erased_at=sa.func.now(), erased_by=by)
        .returning(officers.c.erased_at)
    )
    assert isinstance(erased_at, datetime)
    return erased_at


async def log_access(
    conn: AsyncConnection,
    *,
    actor: str,
    actor_role: str,
    action: str,
    officer_ref: str,
    justification: str,
    fields: Sequence[str],
    recipient: str,
    correlation_id: str | None,
) -> int:
    log_id = await conn.scalar(
        access_log.insert()
        .values(
            actor=actor,
            actor_role=actor_role,
            action=action,
            officer_ref=officer_ref,
            justification=justification,
            fields=list(fields),
            recipient=recipient,
            correlation_id=correlation_id,
        )
        .returning(access_log.c.id)
    )
    return int(log_id or 0)


@dataclass(frozen=True)
class AccessLogFilters:
    officer_ref: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def access_log_page(
    conn: AsyncConnection, filters: AccessLogFilters, *, before_id: int | None, limit: int
) -> list[dict[str, Any]]:
    """Newest first; keyset pagination on the id."""
    q = sa.select(access_log)
    if filters.officer_ref:
        q = q.where(access_log.c.officer_ref == filters.officer_ref)
    if filters.actor:
        q = q.where(access_log.c.actor == filters.actor)
    if filters.action:
        q = q.where(access_log.c.action == filters.action)
    if filters.since:
        q = q.where(access_log.c.at >= filters.since)
    if filters.until:
        q = q.where(access_log.c.at < filters.until)
    if before_id is not None:
        q = q.where(access_log.c.id < before_id)
    rows = await conn.execute(q.order_by(access_log.c.id.desc()).limit(limit))
    return [dict(r._mapping) for r in rows]


async def access_log_of(conn: AsyncConnection, officer_ref: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(access_log)
        .where(access_log.c.officer_ref == officer_ref)
        .order_by(access_log.c.id)
    )
    return [dict(r._mapping) for r in rows]


# --- need to know ----------------------------------------------------------------------------
#: An officer on a deployment, for need-to-know: not yet home.
ON_DEPLOYMENT = ("nominated", "released", "cleared", "deployed")
LIVE_DEPLOYMENT = ("planned", "staffing", "ready", "deployed")


async def manages_officer(conn: AsyncConnection, subject: str, officer_ref: str) -> bool:
    """Whether `subject` planned a live deployment the officer is on now."""
    o, d = deployment_officers.c, deployments.c
    found = await conn.scalar(
        sa.select(sa.literal(True))
        .select_from(deployment_officers.join(deployments, d.deployment_id == o.deployment_id))
        .where(
            o.officer_ref == officer_ref,
            o.status.in_(ON_DEPLOYMENT),
            d.status.in_(LIVE_DEPLOYMENT),
            d.planned_by == subject,
        )
        .limit(1)
    )
    return bool(found)


# --- the subject access export ---------------------------------------------------------------
@dataclass(frozen=True)
class Held:
    deployments: list[dict[str, Any]]
    bookings: list[dict[str, Any]]
    events: list[dict[str, Any]]


def _mentions(data: dict[str, Any], officer_ref: str) -> bool:
    return data.get("officer_ref") == officer_ref or any(
        officer_ref in data.get(name, ()) for name in ("officer_refs", "released_officer_refs")
    )


async def held_about(conn: AsyncConnection, officer_ref: str) -> Held:
    """The officer's deployments (as the officer's own rows), bookings and every event about
    them, with the role (not the name) of who recorded each."""
    o, d = deployment_officers.c, deployments.c
    rows = await conn.execute(
        sa.select(
            d.deployment_id,
            d.request_id,
            d.country,
            d.capability,
            d.tour_start,
            d.tour_end,
            d.classification,
            d.status.label("deployment_status"),
            o.status,
            o.nominated_at,
            o.released_at,
            o.cleared_at,
            o.valid_until,
            d.started_on,
            d.completed_on,
            o.repatriated_on,
            o.repatriation_reason,
            o.repatriation_notes,
        )
        .select_from(deployment_officers.join(deployments, d.deployment_id == o.deployment_id))
        .where(o.officer_ref == officer_ref)
        .order_by(d.tour_start, d.deployment_id)
    )
    tours = [dict(r._mapping) for r in rows]
    bookings = [
        {"deployment_id": r.deployment_id, "from": r.period.lower, "to": r.period.upper}
        for r in await conn.execute(
            sa.select(officer_bookings).where(officer_bookings.c.officer_ref == officer_ref)
        )
    ]
    # Each stream with the classification of what it is about (offers: of no request).
    streams = [(f"deployment-{t['deployment_id']}", t["classification"]) for t in tours] + [
        (f"offer-{offer_id}", OFFICIAL)
        for offer_id in await conn.scalars(
            sa.select(offers.c.offer_id).where(offers.c.officer_ref == officer_ref)
        )
    ]
    store = EventStore(producer="deployment")
    events: list[dict[str, Any]] = []
    for stream, classification in streams:
        for env in await store.load(conn, stream):
            data = env.data
            if not _mentions(data, officer_ref):
                continue
            shown = {k: v for k, v in data.items() if k != "personal_data"}
            events.append(
                {
                    "event": env.event_type,
                    "at": env.occurred_at,
                    "recorded_by_role": env.actor.role,
                    "classification": classification,
                    "data": shown,
                }
            )
    events.sort(key=lambda e: e["at"])
    return Held(tours, bookings, events)


# --- retention -------------------------------------------------------------------------------
def _last_use() -> sa.ColumnElement[Any]:
    """The day the officer was last in use: the end of their last tour (the day they came home
    early, the deployment's completion, or the tour's planned end), the end of their last offer's
    availability, or the day they were registered; the latest of these."""
    o, d = deployment_officers.c, deployments.c
    tours_end = (
        sa.select(sa.func.max(sa.func.coalesce(o.repatriated_on, d.completed_on, d.tour_end)))
        .select_from(deployment_officers.join(deployments, d.deployment_id == o.deployment_id))
        .where(o.officer_ref == officers.c.officer_ref)
        .scalar_subquery()
    )
    offers_end = (
        sa.select(sa.func.max(offers.c.available_to))
        .where(offers.c.officer_ref == officers.c.officer_ref)
        .scalar_subquery()
    )
    registered = sa.cast(officers.c.created_at, sa.Date)
    return sa.func.greatest(tours_end, offers_end, registered)


def _due(cutoff: date, force: str | None) -> list[sa.ColumnElement[bool]]:
    where = [officers.c.erased_at.is_(None), _last_use() < cutoff]
    if force is not None:
        where.append(officers.c.force == force)
    return where


async def due_for_erasure(
    conn: AsyncConnection, cutoff: date, *, force: str | None, limit: int
) -> list[str]:
    """Officers last in use before `cutoff` and not erased yet, locked (SKIP LOCKED: another
    process's pass takes others)."""
    rows = await conn.scalars(
        sa.select(officers.c.officer_ref)
        .where(*_due(cutoff, force))
        .order_by(officers.c.officer_ref)
        .limit(limit)
        .with_for_update(skip_locked=True, of=officers)
    )
    return list(rows)


async def count_due_for_erasure(conn: AsyncConnection, cutoff: date, *, force: str | None) -> int:
    return int(
        await conn.scalar(
            sa.select(sa.func.count()).select_from(officers).where(*_due(cutoff, force))
        )
        or 0
    )
