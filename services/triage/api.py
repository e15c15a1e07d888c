"""Triage's HTTP API: the hub's queue, assessment, information requests and decisions."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncConnection

from services.triage import handlers, queries
from services.triage.commands import (
    AssessCase,
    DecideOnCase,
    RequestInformation,
)
from services.triage.config import TriageConfig
from services.triage.domain import CaseStatus
from services.triage.domain.service_levels import ServiceLevels, SlaStage
from services.triage.queries import Sort
from services.triage.views import (
    Accepted,
    CaseDetail,
    CasePage,
    ReasonCodeList,
    ServiceLevelsView,
)
from shared.api import (
    AsOfTimeQuery,
    AsOfVersionQuery,
    Consistent,
    CountryQuery,
    CursorQuery,
    Handle,
    IdempotencyKey,
    LimitQuery,
    ReferenceQuery,
    RuntimeDep,
    Today,
    encode_cursor,
    read_cursor,
    refusals_as_problems,
    run_command,
)
from shared.api import today as reads_today
from shared.as_of import AsOf
from shared.auth import CurrentPrincipal, Principal, Role, require_roles
from shared.events import Envelope
from shared.eventstore import CommandContext
from shared.problems import PROBLEM_RESPONSES, not_found
from shared.redaction import Reader, shown_to
from shared.reference.codes import Capability, PartnerType, Region, RiskTier
from shared.text import canonical_identity

router = APIRouter(prefix="/v1/cases", tags=["cases"], responses=PROBLEM_RESPONSES)
reference_router = APIRouter(
    prefix="/v1/reference",
    tags=["reference"],
    responses=PROBLEM_RESPONSES,
)

CaseReader = Annotated[
    Principal,
    Depends(
        require_roles(Role.TRIAGE_OFFICER, Role.APPROVER, Role.MINISTER, Role.ADMIN, Role.ANALYST)
    ),
]
Officer = Annotated[Principal, Depends(require_roles(Role.TRIAGE_OFFICER))]
Decider = Annotated[Principal, Depends(require_roles(Role.APPROVER, Role.MINISTER))]
#: Staff who may ask the partner questions: whoever works the stage the case is at.
Asker = Annotated[
    Principal, Depends(require_roles(Role.TRIAGE_OFFICER, Role.APPROVER, Role.MINISTER))
]
#: Staff who work cases: own them, write notes and write to the partner (analysts only read).
Caseworker = Annotated[
    Principal,
    Depends(require_roles(Role.TRIAGE_OFFICER, Role.APPROVER, Role.MINISTER, Role.ADMIN)),
]
Assigner = Annotated[Principal, Depends(require_roles(Role.TRIAGE_OFFICER, Role.ADMIN))]


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


@router.get("", response_model=CasePage, summary="The queue: by priority, due date or age")
async def list_cases(
    reader: CaseReader,
    runtime: RuntimeDep,
    config: Config,
    today: Today,
    status: Annotated[
        list[CaseStatus] | None, Query(description="Only these statuses (repeat)")
    ] = None,
    country: CountryQuery = None,
    region: Annotated[Region | None, Query()] = None,
    capability: Annotated[Capability | None, Query()] = None,
    risk_tier: Annotated[RiskTier | None, Query(description="Assessed cases only")] = None,
    partner_type: Annotated[PartnerType | None, Query()] = None,
    partner: Annotated[
        str | None, Query(min_length=1, max_length=200, description="The partner's id")
    ] = None,
    reference: ReferenceQuery = None,
    owner: Annotated[
        str | None,
        Query(min_length=1, max_length=200, description="Owned by this staff subject"),
    ] = None,
    assigned: Annotated[
        bool | None, Query(description="Only owned (true) or unowned (false) cases")
    ] = None,
    stage: Annotated[SlaStage | None, Query(description="At this service-level stage")] = None,
    breached: Annotated[
        bool | None,
        Query(description="Only cases past (true) or within (false) their service level"),
    ] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description='Words to find (PostgreSQL `websearch_to_tsquery`: `"exact phrase"`, '
            "`or`, `-word`) in the reference, title, description, mission, requesting body, "
            "country and capability; OFFICIAL-SENSITIVE text only for a cleared reader",
        ),
    ] = None,
    sort: Annotated[Sort, Query(description="The order (open cases always first)")] = Sort.PRIORITY,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
    _: None = Consistent,
) -> dict[str, Any]:
    """The hub's work queue. Open cases come first, decided ones (approved, rejected,
    withdrawn) after them; within each, `sort=priority` (default: the highest score, then the
    earliest needed-by date), `sort=due` (the earliest due date, cases without one last) or
    `sort=age` (the oldest submission first).

    Every case shows its `owner`, its service-level `sla_stage` with `due_on` (from the
    service-level policy, `GET /v1/reference/service-levels`), whether it is `breached` and its
    `age_days`, as of today (UTC; `X-Jiph-Today` in development). `reference` finds one
    request by its reference (`JIPH-2026-000123`, any case), the same filter intake and
    reporting take. An unknown query parameter is a 422 naming it. Paginated with an opaque
    cursor (a cursor is valid for the `sort` it was given with)."""
    reader_of = Reader.of(reader)
    after = read_cursor(cursor, lambda c: _position(c, sort))
    filters = queries.CaseFilters(
        statuses=[s.value for s in status or ()],
        country=country,
        region=region and region.value,
        capability=capability and capability.value,
        risk_tier=risk_tier and risk_tier.value,
        partner_type=partner_type and partner_type.value,
        partner_id=partner and canonical_identity(partner),
        reference=reference,
        owner=owner and canonical_identity(owner),
        assigned=assigned,
        sla_stage=stage and stage.value,
        breached=breached,
        text=q,
        cleared=reader_of.cleared,
    )
    levels = config.service_levels
    async with runtime.engine.connect() as conn:
        items = await queries.list_cases(
            conn, filters, levels=levels, today=today, sort=sort, after=after, limit=limit + 1
        )
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        next_cursor = encode_cursor({"s": sort.value, "p": jsonable_encoder(items[-1]["position"])})
    return {
        "items": [shown(with_service_level(i, levels, today), reader) for i in items],
        "next_cursor": next_cursor,
    }


def _position(cursor: dict[str, Any], sort: Sort) -> list[Any]:
    if cursor["s"] != sort.value:
        raise ValueError("cursor of another ordering")
    return queries.parse_position(sort, cursor["p"])


def with_service_level(case: dict[str, Any], levels: ServiceLevels, today: date) -> dict[str, Any]:
    """The case with its due date, whether it is past it, and its age, as of `today`."""
    stage, since = case.get("sla_stage"), case.get("stage_since")
    due = (
        levels.due_on(SlaStage(stage), datetime.fromisoformat(since).astimezone(UTC).date())
        if stage and since
        else None
    )
    submitted = datetime.fromisoformat(case["submitted_at"]).astimezone(UTC).date()
    extra = {
        "due_on": due,
        "breached": levels.breached(due, today),
        "age_days": max(0, (today - submitted).days),
    }
    return {k: v for k, v in case.items() if k != "position"} | extra


@router.get("/{request_id}", response_model=CaseDetail, summary="One case, its score and history")
async def get_case(
    request_id: UUID,
    reader: CaseReader,
    runtime: RuntimeDep,
    config: Config,
    today: Today,
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
    return shown(with_service_level(case, config.service_levels, today), reader)


@reference_router.get(
    "/rejection-reasons",
    response_model=ReasonCodeList,
    summary="The published rejection reason codes",
)
async def rejection_reasons(_: CurrentPrincipal, config: Config) -> dict[str, Any]:
    """The codes a rejection must give (`reason_code`), with their labels."""
    return {"items": [r.model_dump() for r in config.reference.rejection_reasons]}


@reference_router.get(
    "/service-levels", response_model=ServiceLevelsView, summary="The service-level policy"
)
async def service_levels(_: CurrentPrincipal, config: Config) -> dict[str, Any]:
    """The days a case may spend at each stage before it is `breached`: to the first
    assessment (from the case's opening), to the board's decision (from the assessment) and to
    the minister's (from the board's approval). Kept as data
    (`services/triage/service_levels.json`), loaded at start."""
    levels = config.service_levels
    return {"version": levels.version, "days": {k.value: v for k, v in levels.days.items()}}


# --- writes -----------------------------------------------------------------------------------


async def command(
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

    levels = request.app.state.triage_config.service_levels
    day = await reads_today(request, runtime)  # the reads' clock, for the due dates shown

    async def answer(conn: AsyncConnection, _: list[Envelope], token: str) -> tuple[Any, str]:
        case = await queries.get_case(conn, request_id)
        assert case is not None  # projected inline in this transaction
        case = with_service_level(case, levels, day)
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

    return await command(request, runtime, officer, request_id, body, idempotency_key, run)


@router.post(
    "/{request_id}/information-requests",
    response_model=Accepted,
    summary="Ask the partner for information",
)
async def request_information(
    request_id: UUID,
    request: Request,
    asker: Asker,
    runtime: RuntimeDep,
    deps: Deps,
    body: RequestInformation,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Ask the partner questions (1 to 20), at any stage before the final decision: in triage,
    assessed, awaiting the minister or on hold (a triage officer, an approver or a minister).
    The case is `information_requested` until the partner answers every question through
    intake, then back at the status it had (`open_information_request.returns_to`); after the
    assessment the partner may answer but not change the request. While the questions are open
    the case is neither assessed nor approved (`/problems/awaiting-information`); it may still be
    rejected, put on hold or resumed. One set of questions at a time
    (`/problems/information-request-open`); none once approved, rejected or withdrawn
    (`/problems/case-closed`)."""

    async def run(conn: AsyncConnection, ctx: CommandContext) -> list[Envelope]:
        return await handlers.request_information(conn, deps, request_id, body.to_command(), ctx)

    return await command(request, runtime, asker, request_id, body, idempotency_key, run)


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
    While the partner's answers to the hub's questions are awaited an approval is refused
    (`/problems/awaiting-information`); a rejection, hold or resumption is not.
    A refusal's problem `type` names the rule, e.g. `/problems/approver-is-assessor`."""

    async def run(conn: AsyncConnection, ctx: CommandContext) -> list[Envelope]:
        return await handlers.decide(conn, deps, request_id, body.to_command(), ctx)

    return await command(request, runtime, decider, request_id, body, idempotency_key, run)
