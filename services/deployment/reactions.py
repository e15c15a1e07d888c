"""Reacting to the other services: a withdrawn or paused request cancels its deployments that
have not deployed yet, and frees their officers. The backbone runs it once per consumed event,
in the transaction that applies the event (`shared.projection`, `Projection.react`)."""

from __future__ import annotations

import logging
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from services.deployment import domain, handlers, staffing
from shared.catalogue.intake import RequestWithdrawn
from shared.catalogue.triage import RequestPutOnHold
from shared.commands import Writer, reaction_context
from shared.events import Envelope
from shared.projection import Projection

log = logging.getLogger(__name__)

SERVICE = "deployment"


def _reason(trigger: Envelope) -> str:
    d = trigger.data
    if trigger.event_type == RequestWithdrawn.event_type:
        return f"The partner withdrew the request: {d['reason']}"[:2000]
    return ("The hub put the request on hold" + (f": {d['reason']}" if d.get("reason") else ""))[
        :2000
    ]


def add_reactions(projection: Projection) -> None:
    @projection.react(
        "cancel-deployments", RequestWithdrawn.event_type, RequestPutOnHold.event_type
    )
    async def cancel_deployments(conn: AsyncConnection, trigger: Envelope, writer: Writer) -> None:
        """Cancel the request's deployments that can still be cancelled."""
        request_id = UUID(trigger.data["request_id"])
        for deployment_id in await staffing.deployments_of(conn, request_id):
            history, state = await handlers.load_deployment(conn, writer, deployment_id)
            if state.status not in domain.CANCELLABLE:
                continue
            events = domain.decide_cancel(state, reason=_reason(trigger))
            await writer.append(conn, history, events, reaction_context(SERVICE, trigger))
            await staffing.release(conn, deployment_id)
            log.info(
                "cancelled deployment %s after %s %s",
                deployment_id,
                trigger.event_type,
                trigger.event_id,
            )
