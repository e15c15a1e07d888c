"""Triage's domain, pure: a case per request, how it is assessed, and who may decide on it.

No I/O and no `await` here. A case's state folds two histories: the case's own stream
(`case-<request_id>`, triage's events) and the partner's facts about the request that intake
publishes (submission, amendments, withdrawal). `evolve` is written so that the interleaving of
the two histories does not change the status: an amendment closes the information request it
names whether it is folded before or after that request, and a withdrawal closes the case
wherever it falls. Separation of duties (DESIGN §5) is decided here, on the state alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from typing import Any
from uuid import UUID

from services.triage.scoring import Policy, Score, ScoringInputs, score_request
from shared.catalogue.intake import RequestAmended, RequestSubmitted, RequestWithdrawn
from shared.catalogue.triage import (
    ApprovalGiven,
    CriterionScore,
    InformationRequested,
    RequestApproved,
    RequestAssessed,
    RequestPutOnHold,
    RequestRejected,
    RequestResumed,
    RequestTriaged,
)
from shared.events import EventData
from shared.reference.data import Country, ReferenceData
from shared.refusals import DomainError, forbidden, invalid
from shared.topics import TRIAGE_EVENTS

#: An override of the computed score must be explained in at least this many characters.
MIN_OVERRIDE_RATIONALE = 20


class CaseStatus(StrEnum):
    IN_TRIAGE = "in_triage"
    INFORMATION_REQUESTED = "information_requested"
    ASSESSED = "assessed"
    AWAITING_MINISTERIAL = "awaiting_ministerial"
    APPROVED = "approved"
    REJECTED = "rejected"
    ON_HOLD = "on_hold"
    WITHDRAWN = "withdrawn"


CLOSED = frozenset({CaseStatus.APPROVED, CaseStatus.REJECTED, CaseStatus.WITHDRAWN})
BEFORE_ASSESSMENT = frozenset({CaseStatus.IN_TRIAGE, CaseStatus.INFORMATION_REQUESTED})


class Stage(StrEnum):
    BOARD = "board"
    MINISTERIAL = "ministerial"


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    HOLD = "hold"
    RESUME = "resume"


#: Who decides at each stage (the role claim of the token).
STAGE_ROLE = {Stage.BOARD: "approver", Stage.MINISTERIAL: "minister"}


def case_stream_id(request_id: UUID) -> str:
    """The case's event stream in triage's store."""
    return f"case-{request_id}"


# --- state ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Assessment:
    assessor: str
    risk_tier: str
    score: float
    computed_score: float
    alignment: float | None
    notes: str
    override_rationale: str | None


@dataclass(frozen=True)
class CaseState:
    request_id: UUID
    #: The case stream's version (triage's own events only): the next append expects it.
    version: int
    #: The request as the partner submitted it, amendments applied (JSON values).
    request: Mapping[str, Any]
    phase: CaseStatus = CaseStatus.IN_TRIAGE
    triaged: bool = False
    region: str | None = None
    score: float | None = None
    breakdown: tuple[CriterionScore, ...] = ()
    policy_version: str | None = None
    open_information_request: UUID | None = None
    open_questions: tuple[str, ...] = ()
    answered: frozenset[UUID] = field(default_factory=frozenset)
    withdrawn: bool = False
    assessment: Assessment | None = None
    board_approver: str | None = None
    ministerial_approver: str | None = None
    held_from: CaseStatus | None = None
    rejection_code: str | None = None
    rejection_reason: str | None = None

    @property
    def status(self) -> CaseStatus:
        if self.withdrawn:
            return CaseStatus.WITHDRAWN
        if self.phase == CaseStatus.IN_TRIAGE and self.awaiting_answers:
            return CaseStatus.INFORMATION_REQUESTED
        return self.phase

    @property
    def awaiting_answers(self) -> bool:
        question = self.open_information_request
        return question is not None and question not in self.answered

    @property
    def needed_by(self) -> date:
        return date.fromisoformat(str(self.request["needed_by"]))

    @property
    def headcount(self) -> int:
        return int(self.request["headcount"])


def evolve(state: CaseState | None, event: EventData) -> CaseState:
    """Fold one event (triage's or intake's) into the case."""
    if state is None:
        if isinstance(event, RequestSubmitted):
            return CaseState(event.request_id, 0, event.model_dump(mode="json"))
        raise ValueError(f"a case starts with RequestSubmitted, not {type(event).__name__}")
    if event.topic == TRIAGE_EVENTS:
        state = replace(state, version=state.version + 1)
    match event:
        case RequestAmended():
            answered = state.answered | (
                {event.information_request_id} if event.information_request_id else set()
            )
            return replace(state, request={**state.request, **event.changes}, answered=answered)
        case RequestWithdrawn():
            return replace(state, withdrawn=True)
        case RequestTriaged():
            return replace(
                state,
                triaged=True,
                region=event.region,
                score=event.score,
                breakdown=tuple(event.breakdown),
                policy_version=event.policy_version,
            )
        case InformationRequested():
            return replace(
                state,
                open_information_request=event.information_request_id,
                open_questions=tuple(event.questions),
            )
        case RequestAssessed():
            assessment = Assessment(
                assessor=event.assessor,
                risk_tier=event.risk_tier,
                score=event.score,
                computed_score=event.computed_score,
                alignment=event.alignment,
                notes=event.notes,
                override_rationale=event.override_rationale,
            )
            return replace(
                state,
                phase=CaseStatus.ASSESSED,
                assessment=assessment,
                score=event.score,
                breakdown=tuple(event.breakdown),
                policy_version=event.policy_version,
                board_approver=None,
                ministerial_approver=None,
            )
        case ApprovalGiven(stage="board"):
            return replace(
                state, phase=CaseStatus.AWAITING_MINISTERIAL, board_approver=event.approver
            )
        case ApprovalGiven():
            return replace(state, ministerial_approver=event.approver)
        case RequestApproved():
            return replace(state, phase=CaseStatus.APPROVED)
        case RequestRejected():
            return replace(
                state,
                phase=CaseStatus.REJECTED,
                rejection_code=event.reason_code,
                rejection_reason=event.reason,
            )
        case RequestPutOnHold():
            return replace(state, phase=CaseStatus.ON_HOLD, held_from=state.phase)
        case RequestResumed():
            return replace(state, phase=state.held_from or CaseStatus.ASSESSED, held_from=None)
        case RequestSubmitted():
            raise ValueError("the request was already submitted")
    raise ValueError(f"a case does not take {type(event).__name__}")


def fold(events: Iterable[EventData]) -> CaseState | None:
    """The case after these events (the request's intake events first, then the case stream's,
    each in stream order), or None when the submission is not among them."""
    items = list(events)
    if not items or not isinstance(items[0], RequestSubmitted):
        return None
    state: CaseState | None = None
    for item in items:
        state = evolve(state, item)
    return state


# --- opening a case --------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoringContext:
    """What a score depends on besides the request: the policy, the day, the officers offered."""

    policy: Policy
    today: date
    offered_officers: int


def score_case(
    request: Mapping[str, Any],
    country: Country,
    scoring: ScoringContext,
    *,
    risk_tier: str | None = None,
    alignment: float | None = None,
) -> Score:
    inputs = ScoringInputs.model_validate(
        {
            "country": country,
            "partner_type": request["partner_type"],
            "capability": request["capability"],
            "headcount": request["headcount"],
            "needed_by": request["needed_by"],
            "offered_officers": scoring.offered_officers,
            "risk_tier": risk_tier,
            "alignment": alignment,
        }
    )
    return score_request(inputs, scoring.policy, scoring.today)


def decide_open_case(
    submitted: RequestSubmitted, country: Country, scoring: ScoringContext
) -> list[EventData]:
    """A submitted request opens a case with a preliminary (provisional) score."""
    score = score_case(submitted.model_dump(mode="json"), country, scoring)
    return [
        RequestTriaged(
            request_id=submitted.request_id,
            reference=submitted.reference,
            country=submitted.country,
            region=country.region.value,
            capability=submitted.capability,
            partner_type=submitted.partner_type,
            headcount=submitted.headcount,
            needed_by=submitted.needed_by,
            classification=submitted.classification,
            score=score.total,
            breakdown=score.breakdown,
            policy_version=score.policy_version,
        )
    ]


# --- commands --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Staff:
    """Who asks: the token's subject and role."""

    subject: str
    role: str


@dataclass(frozen=True)
class AskForInformation:
    questions: tuple[str, ...]


@dataclass(frozen=True)
class Assess:
    risk_tier: str
    alignment: float | None = None
    notes: str = ""
    score_override: float | None = None
    override_rationale: str | None = None


@dataclass(frozen=True)
class Decide:
    decision: Decision
    stage: Stage
    reason: str = ""
    reason_code: str | None = None


@dataclass(frozen=True)
class Rules:
    """The rules that live in reference data: published reason codes, tiers needing a minister."""

    rejection_reasons: frozenset[str]
    ministerial_tiers: frozenset[str]

    @classmethod
    def from_reference(cls, reference: ReferenceData) -> Rules:
        return cls(
            rejection_reasons=frozenset(r.code for r in reference.rejection_reasons),
            ministerial_tiers=frozenset(
                t.code for t in reference.risk_tiers if t.ministerial_approval
            ),
        )


def _refuse_closed(state: CaseState) -> None:
    if state.status in CLOSED:
        raise DomainError(
            "case-closed", f"the case is {state.status.value}: it takes no more commands"
        )


def decide_request_information(
    state: CaseState, command: AskForInformation, *, information_request_id: UUID
) -> list[EventData]:
    _refuse_closed(state)
    if state.status == CaseStatus.INFORMATION_REQUESTED:
        raise DomainError(
            "information-request-open", "the partner has not answered the questions already asked"
        )
    if state.status != CaseStatus.IN_TRIAGE:
        raise DomainError(
            "not-in-triage",
            f"the case is {state.status.value}: information "
            "can be requested only before the assessment",
        )
    if not command.questions:
        raise invalid("questions-required", "ask at least one question")
    return [
        InformationRequested(
            request_id=state.request_id,
            information_request_id=information_request_id,
            questions=list(command.questions),
        )
    ]


def decide_assess(
    state: CaseState, command: Assess, *, assessor: str, country: Country, scoring: ScoringContext
) -> list[EventData]:
    _refuse_closed(state)
    match state.status:
        case CaseStatus.INFORMATION_REQUESTED:
            raise DomainError(
                "awaiting-information", "the partner has not answered the hub's questions yet"
            )
        case CaseStatus.ON_HOLD:
            raise DomainError("case-on-hold", "the case is on hold: resume it first")
        case CaseStatus.AWAITING_MINISTERIAL:
            raise DomainError(
                "approval-in-progress",
                "the board has approved: the assessment can no longer change",
            )
    rationale = (command.override_rationale or "").strip()
    if command.score_override is not None and len(rationale) < MIN_OVERRIDE_RATIONALE:
        raise invalid(
            "override-rationale-required",
            "overriding the computed score needs a "
            f"written rationale of at least {MIN_OVERRIDE_RATIONALE} characters",
        )
    if command.score_override is None and rationale:
        raise invalid(
            "rationale-without-override", "an override rationale is given but no score_override"
        )
    computed = score_case(
        state.request, country, scoring, risk_tier=command.risk_tier, alignment=command.alignment
    )
    score = computed.total if command.score_override is None else round(command.score_override, 2)
    return [
        RequestAssessed(
            request_id=state.request_id,
            score=score,
            breakdown=computed.breakdown,
            policy_version=computed.policy_version,
            risk_tier=command.risk_tier,
            alignment=command.alignment,
            assessor=assessor,
            notes=command.notes,
            computed_score=computed.total,
            override_rationale=rationale or None,
        )
    ]


def _stage_now(state: CaseState) -> Stage:
    phase = state.held_from if state.status == CaseStatus.ON_HOLD else state.status
    return Stage.MINISTERIAL if phase == CaseStatus.AWAITING_MINISTERIAL else Stage.BOARD


def decide_decision(
    state: CaseState, command: Decide, *, who: Staff, rules: Rules
) -> list[EventData]:
    """Approve, reject, hold or resume at a stage. Order of checks: your role for the stage,
    then the case's state, then separation of duties."""
    needed = STAGE_ROLE[command.stage]
    if who.role != needed:
        raise forbidden(
            "wrong-role-for-stage", f"a {command.stage.value} decision needs the {needed} role"
        )
    _refuse_closed(state)
    if state.status in BEFORE_ASSESSMENT:
        raise DomainError(
            "assessment-required", "the case must be assessed before the board decides on it"
        )
    match command.decision:
        case Decision.APPROVE:
            return _approve(state, command, who, rules)
        case Decision.REJECT:
            return _reject(state, command, rules)
        case Decision.HOLD:
            _require_active(state, command.stage)
            return [RequestPutOnHold(request_id=state.request_id, reason=command.reason)]
        case Decision.RESUME:
            if state.status != CaseStatus.ON_HOLD:
                raise DomainError("not-on-hold", "the case is not on hold")
            _require_stage(state, command.stage)
            return [RequestResumed(request_id=state.request_id, reason=command.reason)]
    raise AssertionError(command.decision)  # pragma: no cover


def _require_stage(state: CaseState, stage: Stage) -> None:
    if _stage_now(state) != stage:
        raise DomainError(
            "wrong-stage", f"the case is at the {_stage_now(state).value} stage, not {stage.value}"
        )


def _require_active(state: CaseState, stage: Stage) -> None:
    if state.status == CaseStatus.ON_HOLD:
        raise DomainError("case-on-hold", "the case is on hold: resume it first")
    _require_stage(state, stage)


def _approve(state: CaseState, command: Decide, who: Staff, rules: Rules) -> list[EventData]:
    assessment = state.assessment
    assert assessment is not None  # assessed, awaiting_ministerial and on_hold all follow one
    ministerial = assessment.risk_tier in rules.ministerial_tiers
    if state.status == CaseStatus.ON_HOLD:
        raise DomainError("case-on-hold", "the case is on hold: resume it first")
    if command.stage == Stage.MINISTERIAL and state.status == CaseStatus.ASSESSED:
        if ministerial:
            raise DomainError(
                "board-approval-required", "the approval board must approve before the minister"
            )
        raise DomainError(
            "ministerial-approval-not-required",
            f"a {assessment.risk_tier}-risk request needs no ministerial approval",
        )
    _require_stage(state, command.stage)
    approval = ApprovalGiven(
        request_id=state.request_id,
        stage=command.stage.value,
        approver=who.subject,
        reason=command.reason,
    )
    if command.stage == Stage.BOARD:
        if who.subject == assessment.assessor:
            raise forbidden(
                "approver-is-assessor", "the board approver of a request may not be its assessor"
            )
        return [approval] if ministerial else [approval, _approved(state)]
    if who.subject in (assessment.assessor, state.board_approver):
        raise forbidden(
            "minister-not-independent",
            "the ministerial approver may be neither the assessor nor the board approver",
        )
    return [approval, _approved(state)]


def _approved(state: CaseState) -> RequestApproved:
    r = state.request
    return RequestApproved(
        request_id=state.request_id,
        reference=r["reference"],
        country=r["country"],
        capability=r["capability"],
        headcount=state.headcount,
        classification=r["classification"],
        needed_by=state.needed_by,
        tour_length_months=int(r["tour_length_months"]),
    )


def _reject(state: CaseState, command: Decide, rules: Rules) -> list[EventData]:
    if not command.reason_code:
        raise invalid(
            "reason-code-required",
            "a rejection needs a published reason_code (GET /v1/reference/rejection-reasons)",
        )
    if command.reason_code not in rules.rejection_reasons:
        raise invalid(
            "reason-code-unknown",
            f"'{command.reason_code}' is not a published "
            "rejection reason (GET /v1/reference/rejection-reasons)",
        )
    _require_active(state, command.stage)
    return [
        RequestRejected(
            request_id=state.request_id,
            reason_code=command.reason_code,
            reason=command.reason,
            stage=command.stage.value,
        )
    ]
