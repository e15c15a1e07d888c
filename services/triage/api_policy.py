"""Triage's prioritisation policy over HTTP: the policy in force and its history, a candidate
tried on a period's cases without changing anything, and adopting a policy (an event)."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncConnection

from services.triage import handlers, policies, policy_queries, queries
from services.triage.api import Deps
from services.triage.commands import MAX_WHAT_IF_CASES, AdoptPolicyBody, TryPolicy
from services.triage.config import TriageConfig
from services.triage.domain import PolicyBook
from services.triage.domain.what_if import CaseFacts, CaseToScore, compare, score_both
from services.triage.views_policy import PolicyAdoptedView, PolicyHistory, PolicyView, WhatIf
from shared.api import (
    Consistent,
    IdempotencyKey,
    RuntimeDep,
    Today,
    refusals_as_problems,
    run_command,
)
from shared.auth import Principal, Role, require_roles
from shared.events import Envelope
from shared.eventstore import CommandContext
from shared.problems import PROBLEM_RESPONSES, Problem

policy_router = APIRouter(prefix="/v1/policy", tags=["policy"], responses=PROBLEM_RESPONSES)

#: Who reads the policy that orders the queue: everyone who reads the queue.
PolicyReader = Annotated[
    Principal,
    Depends(
        require_roles(Role.TRIAGE_OFFICER, Role.APPROVER, Role.MINISTER, Role.ANALYST, Role.ADMIN)
    ),
]
#: Who may try a candidate: those who shape the queue (triage officers, the board), the
#: analysts who study it, and the administrators who adopt policies.
PolicyTrier = Annotated[
    Principal,
    Depends(require_roles(Role.TRIAGE_OFFICER, Role.APPROVER, Role.ANALYST, Role.ADMIN)),
]
#: DESIGN names nobody who adopts policies (they were files an administrator published).
PolicyAdopter = Annotated[Principal, Depends(require_roles(Role.ADMIN))]


async def _book(conn: AsyncConnection, deps: handlers.Deps) -> PolicyBook:
    return await policies.load_book(conn, deps.writer.store, deps.config)


@policy_router.get("", response_model=PolicyView, summary="The policy in force")
async def policy_in_force(
    _: PolicyReader, runtime: RuntimeDep, deps: Deps, __: None = Consistent
) -> PolicyView:
    """The prioritisation policy new scores are made with: the latest adoption, or the file
    published with the service (`source: published file`), with its whole document."""
    async with runtime.engine.connect() as conn:
        return PolicyView.in_force(await _book(conn, deps))


@policy_router.get("/history", response_model=PolicyHistory, summary="Every adoption")
async def policy_history(
    _: PolicyReader, runtime: RuntimeDep, deps: Deps, __: None = Consistent
) -> PolicyHistory:
    """Every policy adopted, the latest first, with who adopted it, when and why (adoptions are
    few: one page), and the versions published as files."""
    async with runtime.engine.connect() as conn:
        book = await _book(conn, deps)
    return PolicyHistory(
        items=[PolicyView.of_adoption(a) for a in reversed(book.adoptions)],
        published_versions=sorted(book.published),
    )


@policy_router.post("/what-if", response_model=WhatIf, summary="Try a candidate policy")
async def what_if(
    body: TryPolicy, _: PolicyTrier, runtime: RuntimeDep, deps: Deps, today: Today
) -> WhatIf:
    """Score every case submitted in the period (`from`..`to`, UTC days) under the policy in
    force and under the candidate, and compare: each case's score and rank under both, the
    biggest movers, the effect by country, capability and partner type. Read-only: no event is
    written, no score changes.

    Both columns are recomputed the same way, on the same day (today), with the officers on
    offer today and each assessed case's risk tier and alignment; a score override is left out
    of both (`overridden` flags it). At most 2,000 cases: a longer period answers 422
    `too-many-cases`."""
    with refusals_as_problems():
        start, end = body.period(today)
    statuses = [s.value for s in body.statuses or ()]
    async with runtime.engine.connect() as conn:
        book = await _book(conn, deps)
        documents = await policy_queries.cases_submitted(
            conn, start, end, statuses, limit=MAX_WHAT_IF_CASES + 1
        )
        if len(documents) > MAX_WHAT_IF_CASES:
            raise Problem(
                422,
                "too-many-cases",
                "Too many cases",
                f"the period {start}..{end} holds more than {MAX_WHAT_IF_CASES} cases: "
                "ask for a shorter one (or fewer statuses)",
                errors=[{"field": "body.from", "message": "the period holds too many cases"}],
            )
        offered = {
            capability: await queries.offered_officers(conn, capability, today)
            for capability in sorted({str(d["capability"]) for d in documents})
        }
    cases = [_to_score(d, deps.config, offered) for d in documents]
    current, candidate = book.in_force, body.policy
    # Pure and CPU-bound (about 0.1 ms a case): off the event loop, so reads keep flowing.
    scored = await asyncio.to_thread(score_both, cases, current, candidate, today)
    comparison = compare(scored, movers=body.movers)
    return WhatIf.of(
        comparison,
        period=(start, end),
        scored_on=today,
        current_version=current.version,
        candidate_version=candidate.version,
    )


def _to_score(
    document: dict[str, Any], config: TriageConfig, offered: dict[str, int]
) -> CaseToScore:
    assessment = document.get("assessment") or {}
    facts = CaseFacts(
        request_id=UUID(document["id"]),
        reference=document["reference"],
        country=document["country"],
        capability=document["capability"],
        partner_type=document["partner_type"],
        status=document["status"],
        needed_by=date.fromisoformat(document["needed_by"]),
        overridden=assessment.get("override_rationale") is not None,
    )
    return CaseToScore(
        facts=facts,
        request=document,
        country=config.reference.country_or_unlisted(document["country"]),
        offered_officers=offered.get(document["capability"], 0),
        risk_tier=assessment.get("risk_tier"),
        alignment=assessment.get("alignment"),
    )


@policy_router.post(
    "/adoptions", response_model=PolicyAdoptedView, status_code=201, summary="Adopt a policy"
)
async def adopt_policy(
    request: Request,
    admin: PolicyAdopter,
    runtime: RuntimeDep,
    deps: Deps,
    body: AdoptPolicyBody,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Adopt a policy (role `admin`): a `PolicyAdopted` event records its version, the whole
    document, the author and the rationale (at least 10 visible characters). From then on
    every new score (a case opened, a score made again after an amendment, an assessment) is
    made with it and names its version; scores already made keep theirs. A version published
    as a file or adopted before answers 409 `policy-version-exists`."""

    async def run(conn: AsyncConnection, ctx: CommandContext) -> list[Envelope]:
        return await handlers.adopt_policy(conn, deps, body.to_command(), ctx)

    async def answer(conn: AsyncConnection, _: list[Envelope], token: str) -> tuple[Any, str]:
        book = await _book(conn, deps)
        view = PolicyAdoptedView(policy=PolicyView.in_force(book), consistency_token=token)
        return jsonable_encoder(view), "/v1/policy"

    return await run_command(
        request, runtime, admin, run, answer, body=body, idempotency_key=idempotency_key, status=201
    )
