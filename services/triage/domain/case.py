"""A case: its statuses, its state, and how the case's and the partner's events fold into it.

`evolve` is written so that the interleaving of the two histories does not change the status: an
amendment closes the information request it names whether it is folded before or after that
request, and a withdrawal closes the case wherever it falls."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from typing import Any
from uuid import UUID

from shared.catalogue.intake import (
    MessageFromPartner,
    RequestAmended,
    RequestSubmitted,
    RequestWithdrawn,
)
from shared.catalogue.triage import (
    ApprovalGiven,
    CaseAssigned,
    CaseNoteAdded,
    CaseReleased,
    CaseRescored,
    CriterionScore,
    InformationRequested,
    MessageToPartner,
    RequestApproved,
    RequestAssessed,
    RequestPutOnHold,
    RequestRejected,
    RequestResumed,
    RequestTriaged,
)
from shared.events import EventData
from shared.text import canonical_identity
from shared.topics import TRIAGE_EVENTS

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
    tier_rationale: str | None = None


@dataclass(frozen=True)
class CaseState:
    request_id: UUID
    #: The case stream's version (triage's own events only): the next append expects it.
    version: int
    #: The request as the partner submitted it, amendments applied (JSON values).
    request: Mapping[str, Any]
    #: Where the case is, the open questions aside (never `information_requested`): what the
    #: decisions go by, and what the partner's answer returns the case to.
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
    #: Everyone who assessed the case at any point, and everyone who took a board decision on
    #: it (approve, reject, hold, resume), in canonical form: separation of duties looks at the
    #: whole history, not at the latest assessment.
    assessors: frozenset[str] = field(default_factory=frozenset)
    board_deciders: frozenset[str] = field(default_factory=frozenset)
    #: Every risk tier the case was assessed at: once high or serious, the minister stays.
    tiers_assessed: frozenset[str] = field(default_factory=frozenset)
    #: The staff member who owns the case (canonical subject), if anyone.
    owner: str | None = None

    @property
    def status(self) -> CaseStatus:
        """`phase` as shown, with the partner's unanswered questions on top: the hub may ask
        at any stage before its final decision, and the answer returns the case to its phase."""
        if self.withdrawn:
            return CaseStatus.WITHDRAWN
        if self.phase not in CLOSED and self.awaiting_answers:
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
            return replace(
                state, request={**state.request, **event.changes.named()}, answered=answered
            )
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
        case CaseRescored():
            if state.assessment is not None:
                return state  # the assessment's score stands
            return replace(
                state,
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
                tier_rationale=event.tier_rationale,
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
                assessors=state.assessors | {canonical_identity(event.assessor)},
                tiers_assessed=state.tiers_assessed | {event.risk_tier},
            )
        case ApprovalGiven(stage="board"):
            return replace(
                state,
                phase=CaseStatus.AWAITING_MINISTERIAL,
                board_approver=event.approver,
                board_deciders=state.board_deciders | {canonical_identity(event.approver)},
            )
        case ApprovalGiven():
            return replace(state, ministerial_approver=event.approver)
        case RequestApproved():
            return replace(state, phase=CaseStatus.APPROVED)
        case RequestRejected():
            return replace(
                _board_decided(state, event.stage, event.decided_by),
                phase=CaseStatus.REJECTED,
                rejection_code=event.reason_code,
                rejection_reason=event.reason,
            )
        case RequestPutOnHold():
            return replace(
                _board_decided(state, event.stage, event.decided_by),
                phase=CaseStatus.ON_HOLD,
                held_from=state.phase,
            )
        case RequestResumed():
            return replace(
                _board_decided(state, event.stage, event.decided_by),
                phase=state.held_from or CaseStatus.ASSESSED,
                held_from=None,
            )
        case RequestSubmitted():
            return state  # a request is submitted once; a repeat changes nothing
        case CaseAssigned():
            return replace(state, owner=event.owner)
        case CaseReleased():
            return replace(state, owner=None)
        case CaseNoteAdded() | MessageToPartner() | MessageFromPartner():
            return state  # the conversation and the notes are in the history, not the state
    raise ValueError(f"a case does not take {type(event).__name__}")


def _board_decided(state: CaseState, stage: str, decided_by: str | None) -> CaseState:
    if stage != "board" or not decided_by:  # version 1 did not record who decided
        return state
    return replace(state, board_deciders=state.board_deciders | {canonical_identity(decided_by)})


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
