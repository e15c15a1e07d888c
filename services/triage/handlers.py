"""Triage's command handlers: load the case, decide (pure), append, project. No HTTP, no SQL
text. The case stream is the authority on triage's own decisions (optimistic concurrency on
it); the partner's facts (amendments, withdrawal) come from the projection's history."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection
from uuid6 import uuid7

from services.triage import domain, queries
from services.triage.config import TriageConfig
from shared.consumer import ProjectionApplier
from shared.events import Envelope, EventData
from shared.eventstore import CommandContext, EventStore


@dataclass(frozen=True)
class Deps:
    store: EventStore
    applier: ProjectionApplier
    config: TriageConfig
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


class NotFound(Exception):
    pass


async def load(conn: AsyncConnection, deps: Deps, request_id: UUID) -> domain.CaseState:
    own = await deps.store.load(conn, domain.case_stream_id(request_id))
    if not own:
        raise NotFound(request_id)
    partner = await queries.intake_payloads(conn, request_id)
    state = domain.fold([*partner, *(env.payload() for env in own)])
    if state is None:
        raise NotFound(request_id)
    return state


async def _append(
    conn: AsyncConnection,
    deps: Deps,
    state: domain.CaseState,
    events: list[EventData],
    ctx: CommandContext,
) -> list[Envelope]:
    envelopes = await deps.store.append(
        conn,
        domain.case_stream_id(state.request_id),
        events,
        expected_version=state.version,
        context=ctx,
    )
    await deps.applier.apply_inline(conn, envelopes)
    return envelopes


async def request_information(
    conn: AsyncConnection,
    deps: Deps,
    request_id: UUID,
    command: domain.AskForInformation,
    ctx: CommandContext,
) -> list[Envelope]:
    state = await load(conn, deps, request_id)
    events = domain.decide_request_information(state, command, information_request_id=uuid7())
    return await _append(conn, deps, state, events, ctx)


async def assess(
    conn: AsyncConnection,
    deps: Deps,
    request_id: UUID,
    command: domain.Assess,
    ctx: CommandContext,
) -> list[Envelope]:
    state = await load(conn, deps, request_id)
    country = deps.config.reference.country(str(state.request["country"]))
    if country is None:
        raise ValueError(f"unknown country {state.request['country']!r}")
    today = deps.clock().date()
    offered = await queries.offered_officers(conn, str(state.request["capability"]), today)
    scoring = domain.ScoringContext(deps.config.policy, today, offered)
    events = domain.decide_assess(
        state, command, assessor=ctx.actor.subject, country=country, scoring=scoring
    )
    return await _append(conn, deps, state, events, ctx)


async def decide(
    conn: AsyncConnection,
    deps: Deps,
    request_id: UUID,
    command: domain.Decide,
    ctx: CommandContext,
) -> list[Envelope]:
    state = await load(conn, deps, request_id)
    who = domain.Staff(subject=ctx.actor.subject, role=ctx.actor.role)
    events = domain.decide_decision(state, command, who=who, rules=deps.config.rules)
    return await _append(conn, deps, state, events, ctx)
