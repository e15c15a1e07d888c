"""Triage's command handlers: load the case's history, decide (pure), append through the
command path (`shared.commands`). No HTTP, no SQL text. The case stream is the authority on
triage's own decisions; the partner's facts (submission, amendments, withdrawal) come from
intake's events about the request, as the inbox holds them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection
from uuid6 import uuid7

from services.triage import domain, policies, queries
from services.triage.config import TriageConfig
from shared.commands import History, Writer
from shared.events import Envelope, EventData
from shared.eventstore import CommandContext
from shared.refusals import NotFound
from shared.topics import INTAKE_EVENTS


@dataclass(frozen=True)
class Deps:
    writer: Writer
    config: TriageConfig
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


async def load(
    conn: AsyncConnection, writer: Writer, request_id: UUID
) -> tuple[History, domain.CaseState]:
    history = await writer.load(conn, domain.case_stream_id(request_id), key=str(request_id))
    partner = [e.payload() for e in history.related if e.topic == INTAKE_EVENTS]
    state = domain.fold([*partner, *history.events()]) if history.exists else None
    if state is None:
        raise NotFound("case")
    return history, state


async def request_information(
    conn: AsyncConnection,
    deps: Deps,
    request_id: UUID,
    command: domain.AskForInformation,
    ctx: CommandContext,
) -> list[Envelope]:
    history, state = await load(conn, deps.writer, request_id)
    events = domain.decide_request_information(state, command, information_request_id=uuid7())
    return await deps.writer.append(conn, history, events, ctx)


async def assess(
    conn: AsyncConnection,
    deps: Deps,
    request_id: UUID,
    command: domain.Assess,
    ctx: CommandContext,
) -> list[Envelope]:
    history, state = await load(conn, deps.writer, request_id)
    country = deps.config.reference.country_or_unlisted(str(state.request["country"]))
    today = deps.clock().date()
    offered = await queries.offered_officers(conn, str(state.request["capability"]), today)
    book = await policies.load_book(conn, deps.writer.store, deps.config)
    scoring = domain.ScoringContext(book.in_force, today, offered)
    events = domain.decide_assess(
        state, command, assessor=ctx.actor.subject, country=country, scoring=scoring
    )
    return await deps.writer.append(conn, history, events, ctx)


async def decide(
    conn: AsyncConnection,
    deps: Deps,
    request_id: UUID,
    command: domain.Decide,
    ctx: CommandContext,
) -> list[Envelope]:
    history, state = await load(conn, deps.writer, request_id)
    who = domain.Staff(subject=ctx.actor.subject, role=ctx.actor.role)
    events = domain.decide_decision(state, command, who=who, rules=deps.config.rules)
    return await deps.writer.append(conn, history, events, ctx)


async def adopt_policy(
    conn: AsyncConnection, deps: Deps, command: domain.AdoptPolicy, ctx: CommandContext
) -> list[Envelope]:
    """Adopt a policy: the `policy` stream is locked and read, the version checked new, the
    adoption appended at the version read (a concurrent adoption is a 409)."""
    stream = domain.policy_stream_id()
    history = await deps.writer.load(conn, stream, key=stream, related=False)
    book = policies.book_from(history.own, deps.config)
    events = domain.decide_adopt(book, command, author=ctx.actor.subject)
    return await deps.writer.append(conn, history, events, ctx)


async def casework(
    conn: AsyncConnection,
    deps: Deps,
    request_id: UUID,
    decide: Callable[[domain.CaseState, domain.Staff], list[EventData]],
    ctx: CommandContext,
) -> list[Envelope]:
    """Assign, claim, release, a note or a message: `decide` is the domain's, given the case
    and who asks."""
    history, state = await load(conn, deps.writer, request_id)
    who = domain.Staff(subject=ctx.actor.subject, role=ctx.actor.role)
    return await deps.writer.append(conn, history, decide(state, who), ctx)
