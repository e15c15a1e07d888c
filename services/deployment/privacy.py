"""Write-side records of officers' personal data: who the officers are (pseudonymously), their
keys, and the access log. The personal values themselves are never stored here, never logged:
they exist in clear only in memory, between the request and the sealing or the response."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.deployment import crypto
from services.deployment.tables import access_log, officer_keys, officers

PERSONAL_FIELDS = ("name", "contact", "next_of_kin")
_REF_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: refs get read out on the phone


@dataclass(frozen=True)
class OfficerRecord:
    officer_ref: str
    force: str
    erased_at: datetime | None


def new_officer_ref() -> str:
    return "OFF-" + "".join(secrets.choice(_REF_ALPHABET) for _ in range(10))


async def register_officer(conn: AsyncConnection, force: str) -> tuple[str, bytes]:
    """A new pseudonymous officer and their key."""
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
    key = crypto.new_key()
    await conn.execute(officer_keys.insert().values(officer_ref=ref, key=key))
    return ref, key


async def find_officer(
    conn: AsyncConnection, officer_ref: str, *, lock: bool = False
) -> OfficerRecord | None:
    """`lock` takes the officer's row FOR UPDATE: every command that books, offers or erases an
    officer holds it, so they happen one after another for one officer."""
    query = sa.select(officers).where(officers.c.officer_ref == officer_ref)
    row = (await conn.execute(query.with_for_update() if lock else query)).first()
    return None if row is None else OfficerRecord(row.officer_ref, row.force, row.erased_at)


async def key_of(conn: AsyncConnection, officer_ref: str) -> bytes | None:
    key = await conn.scalar(
        sa.select(officer_keys.c.key).where(officer_keys.c.officer_ref == officer_ref)
    )
    return None if key is None else bytes(key)


async def erase(conn: AsyncConnection, officer_ref: str, by: str) -> datetime:
    """Destroy the officer's key: every sealed copy of their personal data becomes unreadable."""
    await conn.execute(officer_keys.delete().where(officer_keys.c.officer_ref == officer_ref))
    erased_at = await conn.scalar(
        officers.update()
        .where(officers.c.officer_ref == officer_ref)
        .values(erased_at=sa.func.now(), erased_by=by)
        .returning(officers.c.erased_at)
    )
    assert isinstance(erased_at, datetime)
    return erased_at


async def vacuum_keys(engine: AsyncEngine) -> None:
    """Reclaim the deleted key rows' space now rather than at the next autovacuum."""
    async with engine.connect() as conn:
        autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(sa.text("VACUUM officer_keys"))


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
