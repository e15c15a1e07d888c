"""Reacting to the other services: a withdrawn or paused request cancels its deployments that
have not deployed yet, and frees their officers.

This runs inside the consumer's transaction (from a projection handler), so the cancellation is
appended exactly when the consumed event is applied, exactly once. The `reactions` table (write
side) remembers which consumed events were reacted to: a projection rebuild replays them into the
shadow tables without cancelling anything again.
"""

from __future__ import annotations

import logging
from uuid import UUID

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.deployment import domain, handlers, staffing
from services.deployment.tables import reactions
from shared.consumer_state import mark_applied
from shared.events import SYSTEM_ACTOR_ROLE, Actor, Envelope
from shared.eventstore import CommandContext, EventStore
from shared.projection import Handler

log = logging.getLogger(__name__)

STORE = EventStore(producer="deployment")
SYSTEM = Actor(subject="deployment-service", role=SYSTEM_ACTOR_ROLE)


async def first_reaction(conn: AsyncConnection, trigger: Envelope) -> bool:
    inserted = await conn.scalar(
        insert(reactions)
        .values(trigger_event_id=trigger.event_id)
        .on_conflict_do_nothing()
        .returning(reactions.c.trigger_event_id)
    )
    return inserted is not None


async def cancel_for_request(
    conn: AsyncConnection, trigger: Envelope, reason: str, *, apply: Handler
) -> list[Envelope]:
    """Cancel the request's cancellable deployments; `apply` projects the cancellations at once."""
    if not await first_reaction(conn, trigger):
        return []
    ctx = CommandContext(
        actor=SYSTEM, correlation_id=trigger.correlation_id, causation_id=str(trigger.event_id)
    )
    appended: list[Envelope] = []
    for deployment_id in await staffing.deployments_of(conn, UUID(trigger.data["request_id"])):
        state = await handlers.load_deployment(conn, STORE, deployment_id)
        if state.status not in domain.CANCELLABLE:
            continue
        events = domain.decide_cancel(state, reason=reason)
        envelopes = await STORE.append(
            conn,
            handlers.deployment_stream(deployment_id),
            events,
            expected_version=state.version,
            context=ctx,
        )
        await staffing.release(conn, deployment_id)
        for env in envelopes:
            await apply(conn, env)
        await mark_applied(conn, [env.event_id for env in envelopes])
        appended += envelopes
        log.info(
            "cancelled deployment %s after %s %s",
            deployment_id,
            trigger.event_type,
            trigger.event_id,
        )
    return appended
