"""Triage's read side: every event about a request goes into the case's history, and the case
row is re-derived from the whole history by the domain's fold, so the order in which the three
topics are consumed does not matter. A submission also opens the case (see reactions.py)."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.triage import queries
from services.triage.config import TriageConfig
from services.triage.document import document_of
from services.triage.reactions import add_reactions
from services.triage.staff_notices import add_staff_notices
from services.triage.tables import capability_offers, case_history, cases, metadata
from shared.catalogue.deployment import CapabilityOffered, CapabilityWithdrawn
from shared.db import driver, jsonb, qualified
from shared.events import REGISTRY, Envelope
from shared.projection import Projection
from shared.topics import INTAKE_EVENTS, TRIAGE_EVENTS

#: What a case is made of: the partner's events about the request and the case's own (triage's
#: events about a request: a policy adoption is about none, and is read from the event store).
CASE_EVENTS = REGISTRY.event_types(topic=INTAKE_EVENTS, with_field="request_id") + (
    REGISTRY.event_types(topic=TRIAGE_EVENTS, with_field="request_id")
)


def build_projection(config: TriageConfig) -> Projection:
    """The projection, with the reactions that open cases."""
    projection = Projection(name="triage", metadata=metadata)

    @projection.on(*CASE_EVENTS)
    async def case_event(conn: AsyncConnection, env: Envelope) -> None:
        await refresh(conn, await record(conn, env))

    @projection.on(CapabilityOffered.event_type)
    async def offered(conn: AsyncConnection, env: Envelope) -> None:
        d = env.data
        await conn.execute(
            insert(capability_offers)
            .values(
                offer_id=UUID(d["offer_id"]),
                capability=d["capability"],
                available_to=date.fromisoformat(d["available_to"]),
            )
            .on_conflict_do_nothing()
        )

    @projection.on(CapabilityWithdrawn.event_type)
    async def withdrawn(conn: AsyncConnection, env: Envelope) -> None:
        await conn.execute(
            capability_offers.update()
            .where(capability_offers.c.offer_id == UUID(env.data["offer_id"]))
            .values(withdrawn=True)
        )

    add_reactions(projection, config)
    add_staff_notices(projection, config)
    return projection


async def record(conn: AsyncConnection, env: Envelope) -> UUID:
    """Add the event to its case's history (once)."""
    request_id = UUID(env.data["request_id"])
    await (await driver(conn)).execute(
        f"INSERT INTO {qualified(conn, case_history)} (event_id, request_id, topic, stream_id,"
        " stream_version, event_type, schema_version, occurred_at, actor_subject, actor_role,"
        " data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
        env.event_id,
        request_id,
        env.topic,
        env.stream_id,
        env.stream_version,
        env.event_type,
        env.schema_version,
        env.occurred_at,
        env.actor.subject,
        env.actor.role,
        jsonb(env.data),
    )
    return request_id


async def refresh(conn: AsyncConnection, request_id: UUID) -> None:
    """Re-derive the case row from its history; nothing until it is submitted and triaged."""
    history = await queries.history_payloads(conn, request_id)
    document = document_of(history)
    if document is None:
        return
    state, submitted_at, updated_at = history.state, history.submitted_at, history.updated_at
    assert state is not None and submitted_at is not None and updated_at is not None
    values = {
        "reference": document["reference"],
        "partner_id": state.request["partner_id"],
        "classification": document["classification"],
        "country": document["country"],
        "region": document["region"],
        "capability": document["capability"],
        "partner_type": document["partner_type"],
        "needed_by": state.needed_by,
        "status": state.status.value,
        "score": state.score,
        "risk_tier": document["risk_tier"],
        "version": state.version,
        "submitted_at": submitted_at,
        "updated_at": updated_at,
        "document": document,
        "owner": state.owner,
        "sla_stage": document["sla_stage"],
        "stage_since": history.stage_since if document["sla_stage"] else None,
    }
    stmt = insert(cases).values(request_id=request_id, **values)
    await conn.execute(stmt.on_conflict_do_update(index_elements=[cases.c.request_id], set_=values))
