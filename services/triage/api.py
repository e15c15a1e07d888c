"""Triage's HTTP API: the hub's queue, assessment, information requests and decisions."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncConnection

from services.triage import handlers, queries
from services.triage.commands import AssessCase, DecideOnCase, RequestInformation
from services.triage.config import TriageConfig
from services.triage.domain import CaseStatus
from services.triage.views import Accepted, CaseDetail, CasePage, ReasonCodeList
from shared.api import (
    AsOfTimeQuery,
    AsOfVersionQuery,
    Consistent,
    CountryQuery,
    CursorQuery,
    Handle,
    IdempotencyKey,
    LimitQuery,
    RuntimeDep,
    encode_cursor,
    read_cursor,
    refusals_as_problems,
    run_command,
)
from shared.as_of import AsOf
from shared.auth import CurrentPrincipal, Principal, Role, require_roles
from shared.events import Envelope
from shared.eventstore import CommandContext
from shared.problems import PROBLEM_RESPONSES, not_found
from shared.redaction import Reader, shown_to
from shared.reference.data import Capability, PartnerType, Region, RiskTier

router = APIRouter(prefix="/v1/cases", tags=["cases"], responses=PROBLEM_RESPONSES)
reference_router = APIRouter(
    prefix="/v1/reference", tags=["reference"], responses=PROBLEM_RESPONSES
)

CaseReader = Annotated[
    Principal,
    Depends(
        require_roles(Role.TRIAGE_OFFICER, Role.APPROVER, Role.MINISTER, Role.ADMIN, Role.ANALYST)
    ),
]
Officer = Annotated[Principal, Depends(require_roles(Role.TRIAGE_OFFICER))]
Decider = Annotated[Principal, Depends(require_roles(Role.APPROVER, Role.MINISTER))]


async def _config(request: Request) -> TriageConfig:
    config: TriageConfig = request.app.state.triage_config
    return config


Config = Annotated[TriageConfig, Depends(_config)]


async def _deps(runtime: RuntimeDep, config: Config) -> handlers.Deps:
    assert runtime.writer is not None
    return handlers.Deps(writer=runtime.writer, config=config)


Deps = Annotated[handlers.Deps, Depends(_deps)]


# --- what a reader may see ------------------------------------------------------------------
def shown(case: dict[str, Any], principal: Principal) -> dict[str, Any]:
    """The case as this reader may see it (`shared.redaction`)."""
    return shown_to(Reader.of(principal), case.get("classification"), case)


# --- reads ------------------------------------------------------------------------------------


@router.get("", response_model=CasePage, summary="The queue, by priority")
async def list_cases(
    reader: CaseReader,
    runtime: RuntimeDep,
    status: Annotated[
        list[CaseStatus] | None, Query(description="Only these statuses (repeat)")
    ] = None,
    country: CountryQuery = None,
    region: Annotated[Region | None, Query()] = None,
    capability: Annotated[Capability | None, Query()] = None,
    risk_tier: Annotated[RiskTier | None, Query(description="Assessed cases only")] = None,
    partner_type: Annotated[PartnerType | None, Query()] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
    _: None = Consistent,
) -> dict[str, Any]:
    """Cases with the highest priority score first, then the earliest needed-by date; filtered,
    paginated with an opaque cursor."""
    after = read_cursor(
        cursor,
        lambda c: queries.QueuePosition(float(c["s"]), date.fromisoformat(c["n"]), UUID(c["id"])),
    )
    filters = queries.CaseFilters(
        statuses=[s.value for s in status or ()],
        country=country.upper() if country else None,
        region=region and region.value,
        capability=capability and capability.value,
        risk_tier=risk_tier and risk_tier.value,
        partner_type=partner_type and partner_type.value,
    )
    async with runtime.engine.connect() as conn:
        items = await queries.list_cases(conn, filters, after=after, limit=limit + 1)
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        last = items[-1]
        next_cursor = encode_cursor({"s": last["score"], "n": last["needed_by"], "id": last["id"]})
    return {"items": [shown(item, reader) for item in items], "next_cursor": next_cursor}


@router.get("/{request_id}", response_model=CaseDetail, summary="One case, its score and history")
async def get_case(
    request_id: UUID,
    reader: CaseReader,
    runtime: RuntimeDep,
    as_of_version: AsOfVersionQuery = None,
    as_of: AsOfTimeQuery = None,
    _: None = Consistent,
) -> dict[str, Any]:
    """The case as it stands: the request, the status, the score with its breakdown and policy
    version, the assessment, the approvals, and every event of the case (its history).

    **What a decider saw.** With `as_of_version=N` or `as_of=<time>` the case is made again from
    its history (the events, not the stored row), by the same fold and the same document, with
    the same redaction for you and its `history` cut at the same point; `as_of` in the answer
    says where that is (`version`, `at`, `by`), and is null on the current view.

    - as of version N: the case stream's own events up to version N, and the partner's (intake's)
      events about the request that occurred before the case's event N+1 (all of them when N is
      the current version): what a command that decided at `case_version` N had folded. Every
      assessment and decision records that `case_version`, and the audit trail links to it;
      `at` is the time of the case's event N.
    - as of a time T: every event that occurred at or before T; `version` is the case's then.

    A version the case has not reached, or a time before the case was opened, is a 422 naming
    the parameter; both parameters at once is a 422."""
    with refusals_as_problems():
        asked = AsOf.asked(as_of_version, as_of)
        async with runtime.engine.connect() as conn:
            if asked is None:
                case = await queries.get_case(conn, request_id)
            else:
                case = await queries.get_case_as_of(conn, request_id, asked)
    if case is None:
        raise not_found("case")
    return shown(case, reader)


@reference_router.get(
    "/rejection-reasons",
    response_model=ReasonCodeList,
    summary="The published rejection reason codes",
)
async def rejection_reasons(_: CurrentPrincipal, config: Config) -> dict[str, Any]:
    """The codes a rejection must give (`reason_code`), with their labels."""
    return {"items": [r.model_dump() for r in config.reference.rejection_reasons]}


# --- writes -----------------------------------------------------------------------------------


async def _command(
    request: Request,
    runtime: RuntimeDep,
    who: Principal,
    request_id: UUID,
    body: Any,
    key: str | None,
    run: Handle,
) -> JSONResponse:
    """Run a command on the case and answer the case as it now stands (redacted for the
    caller) with a consistency token."""

    async def answer(conn: AsyncConnection, _: list[Envelope], token: str) -> tuple[Any, str]:
        case = await queries.get_case(conn, request_id)
        assert case is not None  # projected inline in this transaction
        view = Accepted(case=CaseDetail.model_validate(shown(case, who)), consistency_token=token)
        return jsonable_encoder(view), f"/v1/cases/{request_id}"

    return await run_command(request, runtime, who, run, answer, body=body, idempotency_key=key)


@router.post("/{request_id}/assessment", response_model=Accepted, summary="Assess a case")
async def assess_case(
    request_id: UUID,
    request: Request,
    officer: Officer,
    runtime: RuntimeDep,
    deps: Deps,
    body: AssessCase,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Record the human-rights risk tier, alignment and notes. The score is recomputed under the
    current policy and recorded with its breakdown and policy version; `score_override` replaces
    it only with an `override_rationale`. You become the case's assessor, who may not approve it."""

    async def run(conn: AsyncConnection, ctx: CommandContext) -> list[Envelope]:
        return await handlers.assess(conn, deps, request_id, body.to_command(), ctx)

    return await _command(request, runtime, officer, request_id, body, idempotency_key, run)


@router.post(
    "/{request_id}/information-requests",
    response_model=Accepted,
    summary="Ask the partner for information",
)
async def request_information(
    request_id: UUID,
    request: Request,
    officer: Officer,
    runtime: RuntimeDep,
    deps: Deps,
    body: RequestInformation,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Ask the partner questions (1 to 20). The case is `information_requested` until the partner
    answers through intake, then back `in_triage`."""

    async def run(conn: AsyncConnection, ctx: CommandContext) -> list[Envelope]:
        return await handlers.request_information(conn, deps, request_id, body.to_command(), ctx)

    return await _command(request, runtime, officer, request_id, body, idempotency_key, run)


@router.post("/{request_id}/decisions", response_model=Accepted, summary="Decide on a case")
async def decide(
    request_id: UUID,
    request: Request,
    decider: Decider,
    runtime: RuntimeDep,
    deps: Deps,
    body: DecideOnCase,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """`approve`, `reject` (with a `reason_code`), `hold` or `resume` at the `board` stage (role
    `approver`, never the assessor) or, for high or serious risk after the board's approval, the
    `ministerial` stage (role `minister`, neither the assessor nor the board approver).
    A refusal's problem `type` names the rule, e.g. `/problems/approver-is-assessor`."""

    async def run(conn: AsyncConnection, ctx: CommandContext) -> list[Envelope]:
        return await handlers.decide(conn, deps, request_id, body.to_command(), ctx)

    return await _command(request, runtime, decider, request_id, body, idempotency_key, run)
