"""The deployment service's command handlers: load the stream, gather the facts a rule needs,
decide (pure), append through the command path (`shared.commands`). No HTTP here; SQL lives in
`privacy`, `staffing` and `queries`. The tour under way (start, extend, repatriate, complete,
cancel): `handlers_tour`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection
from uuid6 import uuid7

from services.deployment import crypto, domain, privacy, queries, queries_register, staffing
from services.deployment.commands import OfferCapability, PlanDeployment, UpdateOffer
from services.deployment.domain import Deployment, DomainError, Offer
from services.deployment.keystore import KeyStore
from shared.commands import History, Writer
from shared.events import Envelope, EventData
from shared.eventstore import CommandContext, EventStore
from shared.reference.data import ReferenceData
from shared.refusals import NotFound


@dataclass(frozen=True)
class Deps:
    writer: Writer
    ref: ReferenceData
    keys: KeyStore  # officers' keys (see keystore.py)


def offer_stream(offer_id: UUID) -> str:
    return f"offer-{offer_id}"


def deployment_stream(deployment_id: UUID) -> str:
    return f"deployment-{deployment_id}"


def double_booked(officer_ref: str) -> DomainError:
    return DomainError(
        "officer-double-booked", f"{officer_ref} was booked onto an overlapping tour meanwhile"
    )


# --- offers ------------------------------------------------------------------------------------
async def load_offer(conn: AsyncConnection, store: EventStore, offer_id: UUID) -> Offer | None:
    history = await store.load(conn, offer_stream(offer_id))
    return domain.fold_offer(env.payload() for env in history)


async def offer(
    conn: AsyncConnection,
    deps: Deps,
    force: str,
    body: OfferCapability,
    ctx: CommandContext,
    today: date,
) -> list[Envelope]:
    if body.officer_ref is not None:
        known = await privacy.find_officer(conn, body.officer_ref, lock=True)
        if known is None or known.force != force:
            raise NotFound("officer")  # another force's officer looks exactly like a missing one
        officer_ref, erased = known.officer_ref, known.erased_at is not None
    else:
        officer_ref, erased = await privacy.register_officer(conn, deps.keys, force), False
    sealed = "" if erased else crypto.seal(deps.keys, officer_ref, body.officer.personal_data())
    current = (
        await _active_offer(conn, deps.writer.store, officer_ref) if body.officer_ref else None
    )
    if current is not None and not erased:
        # An officer is offered once: a re-offer changes that offer in place.
        history = await deps.writer.load(conn, offer_stream(current.offer_id), related=False)
        bookings = await staffing.bookings_of(conn, officer_ref, after=today)
        events = domain.decide_update_offer(
            current, body.terms(), today=today, personal_data=sealed, bookings=bookings
        )
        return await deps.writer.append(conn, history, events, ctx)
    offer_id = uuid7()
    events = domain.decide_offer(
        offer_id=offer_id,
        officer_ref=officer_ref,
        force=force,
        terms=body.terms(),
        personal_data=sealed,
        today=today,
        officer_erased=erased,
    )
    return await deps.writer.append(conn, History.new(offer_stream(offer_id)), events, ctx)


async def _active_offer(conn: AsyncConnection, store: EventStore, officer_ref: str) -> Offer | None:
    for offer_id in await queries_register.offer_ids_of(conn, officer_ref):
        found = await load_offer(conn, store, offer_id)
        if found is not None and not found.withdrawn:
            return found
    return None


async def update_offer(
    conn: AsyncConnection,
    deps: Deps,
    force: str,
    offer_id: UUID,
    changes: UpdateOffer,
    ctx: CommandContext,
    today: date,
) -> list[Envelope]:
    """Readiness dates and availability, changed in place (another force's offer: 404)."""
    history = await deps.writer.load(conn, offer_stream(offer_id), related=False)
    state = domain.fold_offer(history.events())
    if state is None or state.force != force:
        raise NotFound("offer")
    await privacy.find_officer(conn, state.officer_ref, lock=True)  # not while being nominated
    bookings = await staffing.bookings_of(conn, state.officer_ref, after=today)
    events = domain.decide_update_offer(
        state, changes.applied_to(state.terms), today=today, bookings=bookings
    )
    return await deps.writer.append(conn, history, events, ctx)


async def withdraw_offer(
    conn: AsyncConnection,
    deps: Deps,
    force: str,
    offer_id: UUID,
    reason: str,
    ctx: CommandContext,
    today: date,
) -> list[Envelope]:
    history = await deps.writer.load(conn, offer_stream(offer_id), related=False)
    state = domain.fold_offer(history.events())
    if state is None or state.force != force:
        raise NotFound("offer")
    await privacy.find_officer(conn, state.officer_ref, lock=True)  # not while being nominated
    committed = await staffing.committed(conn, state.officer_ref, after=today)
    events = domain.decide_withdraw_offer(state, reason=reason, committed_to=committed)
    return await deps.writer.append(conn, history, events, ctx)


# --- deployments -------------------------------------------------------------------------------
async def load_deployment(
    conn: AsyncConnection, writer: Writer, deployment_id: UUID
) -> tuple[History, Deployment]:
    history = await writer.load(conn, deployment_stream(deployment_id), related=False)
    state = domain.fold(history.events())
    if state is None:
        raise NotFound("deployment")
    return history, state


async def _read_deployment(
    conn: AsyncConnection, store: EventStore, deployment_id: UUID
) -> Deployment:
    """Another deployment of the same request, read as a fact (not written to)."""
    state = domain.fold(
        env.payload() for env in await store.load(conn, deployment_stream(deployment_id))
    )
    if state is None:
        raise NotFound("deployment")
    return state


async def plan(
    conn: AsyncConnection, deps: Deps, body: PlanDeployment, ctx: CommandContext, today: date
) -> list[Envelope]:
    deployment_id = uuid7()
    # Keyed by the request: a withdrawal or hold consumed meanwhile waits for this command to
    # commit (and then cancels what it planned), or this command waits and sees it.
    history = await deps.writer.load(
        conn, deployment_stream(deployment_id), key=str(body.request_id)
    )
    requirement = domain.requirement_of(body.request_id, (e.payload() for e in history.related))
    live = []
    for existing_id in await staffing.deployments_of(conn, body.request_id):
        existing = await _read_deployment(conn, deps.writer.store, existing_id)
        if existing.status in domain.LIVE:
            live.append(existing_id)
    events = domain.decide_plan(
        requirement,
        deployment_id=deployment_id,
        live_deployments=live,
        tour_start=body.tour_start,
        tour_end=body.tour_end,
        mission=body.mission,
        today=today,
        vetting_level=(
            deps.ref.required_vetting(requirement.classification)
            if requirement.classification
            else None
        ),
    )
    await staffing.record_deployment(conn, deployment_id, body.request_id)
    return await deps.writer.append(conn, history, events, ctx)


async def decide_and_append(
    conn: AsyncConnection,
    deps: Deps,
    deployment_id: UUID,
    decide: Callable[[Deployment], list[EventData]],
    ctx: CommandContext,
) -> list[Envelope]:
    history, state = await load_deployment(conn, deps.writer, deployment_id)
    return await deps.writer.append(conn, history, decide(state), ctx)


@dataclass(frozen=True)
class NominationFacts:
    offers: list[Offer]
    booked: list[UUID]
    erased: bool
    start: date  # the first day of the post the officer would fill


async def _nomination_facts(
    conn: AsyncConnection, deps: Deps, state: Deployment, officer_ref: str, post_id: str | None
) -> NominationFacts:
    """What a nomination decides from. Takes the officer's row lock: two nominations of one
    officer run one after the other, and the second sees the first's booking (the exclusion
    constraint backs this up)."""
    officer = await privacy.find_officer(conn, officer_ref, lock=True)
    if officer is None:
        raise NotFound("officer")
    offers = [
        o
        for i in await queries_register.offer_ids_of(conn, officer_ref)
        if (o := await load_offer(conn, deps.writer.store, i)) is not None
    ]
    post = state.post(post_id) if post_id else (state.vacant[0] if state.vacant else None)
    start = max(post.needed_from, state.tour_start) if post else state.tour_start
    booked = await staffing.overlapping(
        conn, officer_ref, start, state.tour_end, excluding=state.deployment_id
    )
    return NominationFacts(offers, booked, officer.erased_at is not None, start)


async def _book(conn: AsyncConnection, state: Deployment, officer_ref: str, start: date) -> None:
    try:
        await staffing.book(conn, officer_ref, state.deployment_id, start, state.tour_end)
    except staffing.DoubleBooked as exc:
        raise double_booked(officer_ref) from exc


async def nominate(
    conn: AsyncConnection,
    deps: Deps,
    deployment_id: UUID,
    officer_ref: str,
    ctx: CommandContext,
    post_id: str | None = None,
) -> list[Envelope]:
    """Into the named post or the first vacant one; while the tour is under way, a backfill of a
    post an early repatriation reopened."""
    history, state = await load_deployment(conn, deps.writer, deployment_id)
    facts = await _nomination_facts(conn, deps, state, officer_ref, post_id)
    events = domain.decide_nominate(
        state,
        officer_ref,
        offers=facts.offers,
        booked_elsewhere=facts.booked,
        erased=facts.erased,
        ref=deps.ref,
        post_id=post_id,
    )
    await _book(conn, state, officer_ref, facts.start)
    return await deps.writer.append(conn, history, events, ctx)


async def withdraw_nomination(
    conn: AsyncConnection,
    deps: Deps,
    deployment_id: UUID,
    officer_ref: str,
    reason: str,
    ctx: CommandContext,
) -> list[Envelope]:
    history, state = await load_deployment(conn, deps.writer, deployment_id)
    events = domain.decide_withdraw_nomination(state, officer_ref, reason=reason)
    await staffing.unbook(conn, deployment_id, officer_ref)
    return await deps.writer.append(conn, history, events, ctx)


async def replace(
    conn: AsyncConnection,
    deps: Deps,
    deployment_id: UUID,
    officer_ref: str,
    replacement: str,
    reason: str,
    ctx: CommandContext,
) -> list[Envelope]:
    """Withdraw the nominee and nominate the replacement to the same post, in one transaction."""
    history, state = await load_deployment(conn, deps.writer, deployment_id)
    nominee = state.nominee(officer_ref)
    post_id = nominee.post_id if nominee else None
    facts = await _nomination_facts(conn, deps, state, replacement, post_id)
    events = domain.decide_replace(
        state,
        officer_ref,
        replacement,
        reason=reason,
        offers=facts.offers,
        booked_elsewhere=facts.booked,
        erased=facts.erased,
        ref=deps.ref,
    )
    await staffing.unbook(conn, deployment_id, officer_ref)
    await _book(conn, state, replacement, facts.start)
    return await deps.writer.append(conn, history, events, ctx)


async def deploy_officer(
    conn: AsyncConnection,
    deps: Deps,
    deployment_id: UUID,
    officer_ref: str,
    on: date,
    today: date,
    ctx: CommandContext,
) -> list[Envelope]:
    return await decide_and_append(
        conn,
        deps,
        deployment_id,
        lambda s: domain.decide_deploy_officer(s, officer_ref, on=on, today=today),
        ctx,
    )


async def release(
    conn: AsyncConnection,
    deps: Deps,
    deployment_id: UUID,
    officer_ref: str,
    force: str,
    ctx: CommandContext,
) -> list[Envelope]:
    return await decide_and_append(
        conn, deps, deployment_id, lambda s: domain.decide_release(s, officer_ref, force=force), ctx
    )


async def clear(
    conn: AsyncConnection, deps: Deps, deployment_id: UUID, officer_ref: str, ctx: CommandContext
) -> list[Envelope]:
    history, state = await load_deployment(conn, deps.writer, deployment_id)
    nominee = state.nominee(officer_ref)
    offer = None if nominee is None else await load_offer(conn, deps.writer.store, nominee.offer_id)
    events = domain.decide_clear(state, officer_ref, offer=offer, ref=deps.ref)
    return await deps.writer.append(conn, history, events, ctx)


# --- matching (a read: nothing is appended) ----------------------------------------------------
async def match_post(
    conn: AsyncConnection, deps: Deps, deployment_id: UUID, post_id: str
) -> tuple[domain.PostNeeds, domain.Matches]:
    """Every active offer of the deployment's capability, ranked for the post or left out."""
    state = await _read_deployment(conn, deps.writer.store, deployment_id)
    post = state.post(post_id)
    if post is None:
        raise NotFound("post")
    needs = domain.needs_of(state, post, deps.ref)
    offers = [
        o
        for i in await queries_register.active_offers_for(conn, state.capability)
        if (o := await load_offer(conn, deps.writer.store, i)) is not None
    ]
    refs = [o.officer_ref for o in offers]
    booked = await staffing.overlapping_many(
        conn, refs, needs.start, needs.end, excluding=deployment_id
    )
    erased = await queries.erased_among(conn, refs)
    here = {n.officer_ref for n in state.nominees if n.status != domain.OfficerStatus.WITHDRAWN}
    candidates = [
        domain.Candidate(
            offer=o,
            booked_elsewhere=tuple(booked.get(o.officer_ref, ())),
            on_this_deployment=o.officer_ref in here,
            erased=o.officer_ref in erased,
        )
        for o in offers
    ]
    return needs, domain.match_post(needs, candidates, deps.ref)
