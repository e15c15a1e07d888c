"""What hub staff may do with a case: ask, assess, decide; and who may (separation of duties)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from services.triage.domain.case import (
    BEFORE_ASSESSMENT,
    CLOSED,
    MIN_OVERRIDE_RATIONALE,
    STAGE_ROLE,
    CaseState,
    CaseStatus,
    Decision,
    Stage,
)
from services.triage.domain.opening import ScoringContext, score_case
from shared.catalogue.triage import (
    ApprovalGiven,
    InformationRequested,
    RequestApproved,
    RequestAssessed,
    RequestPutOnHold,
    RequestRejected,
    RequestResumed,
)
from shared.events import EventData
from shared.reference.data import Country, ReferenceData
from shared.refusals import DomainError, forbidden, invalid
from shared.text import canonical_identity, visible_length


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
    #: Why the risk tier is lower than an earlier assessment's (required then).
    tier_rationale: str | None = None
    partner_message: str | None = None


@dataclass(frozen=True)
class Decide:
    decision: Decision
    stage: Stage
    reason: str = ""
    reason_code: str | None = None
    #: What the partner is told (optional); `reason` is internal.
    partner_message: str | None = None


#: Risk tiers, lowest first: lowering one needs a written rationale.
TIER_ORDER = ("low", "medium", "high", "serious")


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
    """The hub may ask at any stage before its final decision (in triage, assessed, awaiting the
    minister, on hold), one set of questions at a time."""
    _refuse_closed(state)
    if state.awaiting_answers:
        raise DomainError(
            "information-request-open", "the partner has not answered the questions already asked"
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
    match state.phase:
        case CaseStatus.ON_HOLD:
            raise DomainError("case-on-hold", "the case is on hold: resume it first")
        case CaseStatus.AWAITING_MINISTERIAL:
            raise DomainError(
                "approval-in-progress",
                "the board has approved: the assessment can no longer change",
            )
    _refuse_awaiting_answers(state)
    rationale = (command.override_rationale or "").strip()
    if command.score_override is not None and visible_length(rationale) < MIN_OVERRIDE_RATIONALE:
        raise invalid(
            "override-rationale-required",
            "overriding the computed score needs a written rationale of at least "
            f"{MIN_OVERRIDE_RATIONALE} visible characters",
        )
    if command.score_override is None and rationale:
        raise invalid(
            "rationale-without-override", "an override rationale is given but no score_override"
        )
    tier_rationale = _tier_rationale(state, command)
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
            tier_rationale=tier_rationale,
            case_version=state.version,
            partner_message=command.partner_message,
        )
    ]


def _tier_rationale(state: CaseState, command: Assess) -> str | None:
    """A tier below one the case was assessed at before needs a written rationale (it may
    remove the ministerial stage from a decision, though never once a minister was needed)."""
    rationale = (command.tier_rationale or "").strip() or None
    highest = max(
        (TIER_ORDER.index(t) for t in state.tiers_assessed if t in TIER_ORDER), default=-1
    )
    lowered = TIER_ORDER.index(command.risk_tier) < highest
    if lowered and visible_length(rationale or "") < MIN_OVERRIDE_RATIONALE:
        raise invalid(
            "tier-rationale-required",
            f"the case was assessed {TIER_ORDER[highest]} before: lowering its risk tier to "
            f"{command.risk_tier} needs a tier_rationale of at least {MIN_OVERRIDE_RATIONALE} "
            "visible characters",
        )
    return rationale


def _refuse_awaiting_answers(state: CaseState) -> None:
    """An assessment or an approval waits for the partner's answers: the hub asked because it
    needed them to decide. A rejection, a hold or a resumption does not: a partner who never
    answers must not block the hub."""
    if state.awaiting_answers:
        raise DomainError(
            "awaiting-information", "the partner has not answered the hub's questions yet"
        )


def _stage_now(state: CaseState) -> Stage:
    phase = state.held_from if state.phase == CaseStatus.ON_HOLD else state.phase
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
    if state.phase in BEFORE_ASSESSMENT:
        raise DomainError(
            "assessment-required", "the case must be assessed before the board decides on it"
        )
    _refuse_conflicted(state, command.stage, who)
    match command.decision:
        case Decision.APPROVE:
            return _approve(state, command, who, rules)
        case Decision.REJECT:
            return _reject(state, command, who, rules)
        case Decision.HOLD:
            _require_active(state, command.stage)
            return [RequestPutOnHold(**_recorded(state, command, who), reason=command.reason)]
        case Decision.RESUME:
            if state.phase != CaseStatus.ON_HOLD:
                raise DomainError("not-on-hold", "the case is not on hold")
            _require_stage(state, command.stage)
            return [RequestResumed(**_recorded(state, command, who), reason=command.reason)]
    raise AssertionError(command.decision)  # pragma: no cover


def _refuse_conflicted(state: CaseState, stage: Stage, who: Staff) -> None:
    """Separation of duties over the case's whole history (DESIGN §5): nobody who assessed it at
    any point takes a board decision on it; the minister neither assessed it nor took a board
    decision on it. Identities compare in canonical form."""
    me = canonical_identity(who.subject)
    if stage == Stage.BOARD and me in state.assessors:
        raise forbidden(
            "approver-is-assessor",
            "you assessed this case: nobody who assessed it may take a board decision on it",
        )
    if stage == Stage.MINISTERIAL and me in state.assessors | state.board_deciders:
        raise forbidden(
            "minister-not-independent",
            "the ministerial approver may neither have assessed the case nor have taken a "
            "board decision on it",
        )


def _recorded(state: CaseState, command: Decide, who: Staff) -> dict[str, Any]:
    """What every decision records: the case, the stage, who decided, the case version it was
    decided on, and the message for the partner, if any."""
    return {
        "request_id": state.request_id,
        "stage": command.stage.value,
        "decided_by": who.subject,
        "case_version": state.version,
        "partner_message": command.partner_message,
    }


def needs_minister(state: CaseState, rules: Rules) -> bool:
    """Once the case was assessed at a tier that needs a minister, the minister stays, whatever
    a later assessment says."""
    return bool(state.tiers_assessed & rules.ministerial_tiers)


def _require_stage(state: CaseState, stage: Stage) -> None:
    if _stage_now(state) != stage:
        raise DomainError(
            "wrong-stage", f"the case is at the {_stage_now(state).value} stage, not {stage.value}"
        )


def _require_active(state: CaseState, stage: Stage) -> None:
    if state.phase == CaseStatus.ON_HOLD:
        raise DomainError("case-on-hold", "the case is on hold: resume it first")
    _require_stage(state, stage)


def _approve(state: CaseState, command: Decide, who: Staff, rules: Rules) -> list[EventData]:
    assessment = state.assessment
    assert assessment is not None  # assessed, awaiting_ministerial and on_hold all follow one
    ministerial = needs_minister(state, rules)
    if state.phase == CaseStatus.ON_HOLD:
        raise DomainError("case-on-hold", "the case is on hold: resume it first")
    _refuse_awaiting_answers(state)
    if command.stage == Stage.MINISTERIAL and state.phase == CaseStatus.ASSESSED:
        if ministerial:
            raise DomainError(
                "board-approval-required", "the approval board must approve before the minister"
            )
        raise DomainError(
            "ministerial-approval-not-required",
            f"a {assessment.risk_tier}-risk request needs no ministerial approval",
        )
    _require_stage(state, command.stage)
    recorded = _recorded(state, command, who)
    del recorded["decided_by"]  # an approval names its approver
    approval = ApprovalGiven(**recorded, approver=who.subject, reason=command.reason)
    if command.stage == Stage.BOARD and ministerial:
        return [approval]
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


def _reject(state: CaseState, command: Decide, who: Staff, rules: Rules) -> list[EventData]:
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
            **_recorded(state, command, who), reason_code=command.reason_code, reason=command.reason
        )
    ]
