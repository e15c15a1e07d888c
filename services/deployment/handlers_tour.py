"""The deployment's tour, command handlers as `handlers` (load, gather facts, decide, append):
start it, extend it (re-checking every deployed officer), bring an officer home early, complete it,
or cancel it before it starts."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from services.deployment import domain, privacy, staffing
from services.deployment.domain import Offer
from services.deployment.handlers import (
    Deps,
    decide_and_append,
    double_booked,
    load_deployment,
    load_offer,
)
from shared.events import Envelope
from shared.eventstore import CommandContext


async def start(
    conn: AsyncConnection,
    deps: Deps,
    deployment_id: UUID,
    on: date,
    today: date,
    ctx: CommandContext,
) -> list[Envelope]:
    return await decide_and_append(
        conn, deps, deployment_id, lambda s: domain.decide_start(s, on=on, today=today), ctx
    )


async def extend(
    conn: AsyncConnection, deps: Deps, deployment_id: UUID, months: int, ctx: CommandContext
) -> list[Envelope]:
    history, state = await load_deployment(conn, deps.writer, deployment_id)
    deployed = sorted(
        (n for n in state.nominees if n.status == domain.OfficerStatus.DEPLOYED),
        key=lambda n: n.officer_ref,
    )
    new_end = domain.extended_end(state.tour_end, months)
    offers: dict[str, Offer] = {}
    booked: dict[str, list[UUID]] = {}
    for n in deployed:  # locked in a fixed order, so two extensions cannot deadlock
        await privacy.find_officer(conn, n.officer_ref, lock=True)
        offer_state = await load_offer(conn, deps.writer.store, n.offer_id)
        assert offer_state is not None
        offers[n.officer_ref] = offer_state
        booked[n.officer_ref] = await staffing.overlapping(
            conn,
            n.officer_ref,
            state.tour_end + timedelta(days=1),
            new_end,
            excluding=deployment_id,
        )
    events = domain.decide_extend(
        state, months, offers=offers, booked_elsewhere=booked, ref=deps.ref
    )
    try:
        await staffing.extend(conn, deployment_id, [n.officer_ref for n in deployed], new_end)
    except staffing.DoubleBooked as exc:
        raise double_booked(", ".join(offers)) from exc
    return await deps.writer.append(conn, history, events, ctx)


async def repatriate(
    conn: AsyncConnection,
    deps: Deps,
    deployment_id: UUID,
    officer_ref: str,
    reason_code: str,
    on: date,
    today: date,
    ctx: CommandContext,
    reason: str | None = None,
) -> list[Envelope]:
    envelopes = await decide_and_append(
        conn,
        deps,
        deployment_id,
        lambda s: domain.decide_repatriate(
            s,
            officer_ref,
            reason_code=reason_code,
            on=on,
            ref=deps.ref,
            today=today,
            reason=reason,
        ),
        ctx,
    )
    await staffing.end_early(conn, deployment_id, on, officer_ref=officer_ref)
    return envelopes


async def complete(
    conn: AsyncConnection,
    deps: Deps,
    deployment_id: UUID,
    on: date,
    today: date,
    ctx: CommandContext,
) -> list[Envelope]:
    envelopes = await decide_and_append(
        conn, deps, deployment_id, lambda s: domain.decide_complete(s, on=on, today=today), ctx
    )
    await staffing.end_early(conn, deployment_id, on)
    return envelopes


async def cancel(
    conn: AsyncConnection,
    deps: Deps,
    deployment_id: UUID,
    reason: str,
    partner_message: str | None,
    ctx: CommandContext,
) -> list[Envelope]:
    envelopes = await decide_and_append(
        conn,
        deps,
        deployment_id,
        lambda s: domain.decide_cancel(s, reason=reason, partner_message=partner_message),
        ctx,
    )
    await staffing.release(conn, deployment_id)
    return envelopes
