"""Officers' personal data (DPA 2018 Part 3): justified reads on a need-to-know basis, the subject
access export (s.45), erasure on request and by the retention rule; every read, export and
erasure logged (s.62) in the same transaction as the disclosure.

The personal values exist in clear only here, in memory, between the key store's unsealing and
the response. The rule of who may read is `domain.need_to_know`; the SQL is in `privacy`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.deployment import crypto, privacy, queries, queries_register
from services.deployment.domain import need_to_know
from services.deployment.keystore import KeyStore
from shared.auth import Principal
from shared.redaction import Reader, shown_to
from shared.refusals import DomainError, NotFound

log = logging.getLogger(__name__)

erasures = Counter(
    "jiph_personal_data_erasures_total",
    "Officers whose personal data was erased, by why (request or retention)",
    ["reason"],
)
due_for_erasure = Gauge(
    "jiph_personal_data_due_for_erasure",
    "Officers past the retention period whose personal data the last pass left (should be 0)",
)
retention_last_run = Gauge(
    "jiph_personal_data_retention_last_run_timestamp_seconds", "When the retention pass last ran"
)

#: Who the subject access export is disclosed to, in the access log.
DATA_SUBJECT = "the data subject (DPA 2018 s.45)"
RETENTION_ACTOR = "retention"


@dataclass(frozen=True)
class Caller:
    """Who asks, for the access log."""

    subject: str
    role: str
    force: str | None
    correlation_id: str | None

    @classmethod
    def of(cls, who: Principal, correlation_id: str | None) -> Caller:
        return cls(who.subject, who.role.value, who.force, correlation_id)


async def _personal(conn: AsyncConnection, keys: KeyStore, officer_ref: str) -> dict[str, Any]:
    """The officer's personal fields in clear, or each `"erased"` once the key is gone."""
    sealed = await queries_register.latest_sealed_personal_data(conn, officer_ref)
    if sealed:
        try:
            values: dict[str, Any] = orjson.loads(crypto.unseal(keys, officer_ref, sealed))
            return {f: values.get(f) for f in privacy.PERSONAL_FIELDS}
        except crypto.KeyDestroyed:
            pass
    return dict.fromkeys(privacy.PERSONAL_FIELDS, "erased")


async def _officer(conn: AsyncConnection, officer_ref: str, *, lock: bool = False) -> Any:
    officer = await privacy.find_officer(conn, officer_ref, lock=lock)
    if officer is None:
        raise NotFound("officer")
    return officer


async def read(
    conn: AsyncConnection, keys: KeyStore, officer_ref: str, caller: Caller, justification: str
) -> dict[str, Any]:
    """The officer with their personal data, for a reader with a need to know, and the access-log
    entry of the disclosure. An erased officer discloses nothing and is not logged."""
    justification = need_to_know.check_justification(justification)
    officer = await _officer(conn, officer_ref)
    manages = caller.role == need_to_know.DEPLOYMENT_MANAGER and await privacy.manages_officer(
        conn, caller.subject, officer_ref
    )
    refusal = need_to_know.personal_data_refusal(caller.role, caller.force, officer.force, manages)
    if refusal is not None:
        raise refusal
    personal = await _personal(conn, keys, officer_ref) if officer.erased_at is None else {}
    disclosed = need_to_know.disclosed_fields(
        {k: v for k, v in personal.items() if v != "erased"}, privacy.PERSONAL_FIELDS
    )
    log_id = None
    if disclosed:
        log_id = await _log(conn, caller, "read", officer_ref, justification, disclosed)
    return {
        "officer_ref": officer_ref,
        "force": officer.force,
        "erased_at": officer.erased_at,
        **{f: personal.get(f, "erased") for f in privacy.PERSONAL_FIELDS},
        "offers": await queries_register.list_offers(
            conn,
            queries_register.OfferFilters(officer_ref=officer_ref, status=None),
            after=None,
            limit=100,
        ),
        "deployments": await queries.officer_deployments(conn, officer_ref),
        "access_log_id": log_id,
    }


async def subject_access(
    conn: AsyncConnection,
    keys: KeyStore,
    officer_ref: str,
    caller: Caller,
    justification: str,
    reader: Reader,
) -> dict[str, Any]:
    """Everything this service holds about the officer (DPA 2018 s.45), logged as an export;
    what is about an OFFICIAL-SENSITIVE deployment as `reader` may see it."""
    justification = need_to_know.check_justification(justification)
    officer = await _officer(conn, officer_ref)
    personal = await _personal(conn, keys, officer_ref)
    held = await privacy.held_about(conn, officer_ref)
    disclosed = need_to_know.disclosed_fields(
        {k: v for k, v in personal.items() if v != "erased"}, privacy.PERSONAL_FIELDS
    )
    log_id = await _log(
        conn, caller, "export", officer_ref, justification, disclosed, recipient=DATA_SUBJECT
    )
    return {
        "officer_ref": officer_ref,
        "force": officer.force,
        "registered_at": officer.created_at,
        "erased_at": officer.erased_at,
        "personal_data": personal,
        "offers": await queries_register.list_offers(
            conn,
            queries_register.OfferFilters(officer_ref=officer_ref, status=None),
            after=None,
            limit=1000,
        ),
        "deployments": [shown_to(reader, t["classification"], t) for t in held.deployments],
        "bookings": held.bookings,
        "events": [shown_to(reader, e["classification"], e) for e in held.events],
        # The log of who consulted the data, this export included: the recipients s.45 names.
        "access_log": await privacy.access_log_of(conn, officer_ref),
        "export_log_id": log_id,
        "exported_at": datetime.now(UTC),
    }


async def erase(
    conn: AsyncConnection,
    keys: KeyStore,
    officer_ref: str,
    caller: Caller,
    justification: str,
    *,
    reason: str = "request",
) -> tuple[datetime, int]:
    officer = await _officer(conn, officer_ref, lock=True)
    if officer.erased_at is not None:
        raise DomainError("already-erased", f"the personal data of {officer_ref} is already erased")
    erased_at = await privacy.erase(conn, keys, officer_ref, by=caller.subject)
    log_id = await _log(
        conn,
        caller,
        "erasure",
        officer_ref,
        justification,
        list(privacy.PERSONAL_FIELDS),
        recipient="none",
    )
    erasures.labels(reason).inc()
    return erased_at, log_id


async def _log(
    conn: AsyncConnection,
    caller: Caller,
    action: str,
    officer_ref: str,
    justification: str,
    fields: list[str],
    *,
    recipient: str | None = None,
) -> int:
    return await privacy.log_access(
        conn,
        actor=caller.subject,
        actor_role=caller.role,
        action=action,
        officer_ref=officer_ref,
        justification=justification,
        fields=fields,
        recipient=recipient or caller.subject,
        correlation_id=caller.correlation_id,
    )


# --- retention -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RetentionPass:
    cutoff: date
    erased: list[str]
    remaining: int


async def retention_pass(
    engine: AsyncEngine,
    keys: KeyStore,
    *,
    today: date,
    retention_days: int,
    force: str | None = None,
    batch: int = 100,
) -> RetentionPass:
    """Erase the personal data of every officer whose last tour (or offer) ended more than
    `retention_days` before `today`. Safe in several processes at once: each takes the officers
    it erases with SKIP LOCKED, one transaction per officer."""
    cutoff = today - timedelta(days=retention_days)
    caller = Caller(RETENTION_ACTOR, "system", None, None)
    why = f"retention: {retention_days} days after the last tour ended (before {cutoff})"
    erased: list[str] = []
    while True:
        async with engine.begin() as conn:
            due = await privacy.due_for_erasure(conn, cutoff, force=force, limit=1)
            if not due:
                break
            await erase(conn, keys, due[0], caller, why, reason="retention")
            erased.append(due[0])
        if len(erased) >= batch:
            break
    async with engine.connect() as conn:
        remaining = await privacy.count_due_for_erasure(conn, cutoff, force=force)
    due_for_erasure.set(remaining)
    retention_last_run.set_to_current_time()
    if erased:
        log.info("retention erased the personal data of %d officers", len(erased))
    return RetentionPass(cutoff, erased, remaining)


async def run_retention(
    engine: AsyncEngine,
    keys: KeyStore,
    retention_days: int,
    interval_s: float,
    today: Callable[[], date] = lambda: datetime.now(UTC).date(),
) -> None:
    """The retention rule, every `interval_s`, for as long as the service runs."""
    while True:
        try:
            await retention_pass(engine, keys, today=today(), retention_days=retention_days)
        except asyncio.CancelledError:
            raise
        except Exception:  # an outage: the next pass catches up
            log.warning("retention pass failed; retrying in %.0f s", interval_s, exc_info=True)
        await asyncio.sleep(interval_s)
