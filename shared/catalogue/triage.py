"""Events on `jiph.triage.events`: how the hub assessed, prioritised and decided."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from shared.events import EventData, event
from shared.topics import TRIAGE_EVENTS


class CriterionScore(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    criterion: str
    raw: float
    weight: float
    points: float
    explanation: str


class _TriageEvent(EventData):
    topic: ClassVar[str] = TRIAGE_EVENTS
    request_id: UUID


@event
class RequestTriaged(_TriageEvent):
    """The hub opened a case with a preliminary priority score."""

    event_type: ClassVar[str] = "RequestTriaged"
    reference: str
    country: str
    region: str
    capability: str
    partner_type: str
    headcount: int
    needed_by: date
    classification: str
    score: float
    breakdown: list[CriterionScore]
    policy_version: str


@event
class InformationRequested(_TriageEvent):
    """The hub asked the partner questions before it can assess."""

    event_type: ClassVar[str] = "InformationRequested"
    information_request_id: UUID
    questions: list[str]


@event
class RequestAssessed(_TriageEvent):
    """A triage officer assessed risk and alignment; the score is final."""

    event_type: ClassVar[str] = "RequestAssessed"
    score: float
    breakdown: list[CriterionScore]
    policy_version: str
    risk_tier: Literal["low", "medium", "high", "serious"]
    alignment: float | None = None
    assessor: str
    notes: str = ""
    computed_score: float
    override_rationale: str | None = None


@event
class ApprovalGiven(_TriageEvent):
    """The board (IPAB) or a minister approved at their stage."""

    event_type: ClassVar[str] = "ApprovalGiven"
    stage: Literal["board", "ministerial"]
    approver: str
    reason: str = ""


@event
class RequestApproved(_TriageEvent):
    """Every approval the request needs is given; sourcing can start."""

    event_type: ClassVar[str] = "RequestApproved"
    reference: str
    country: str
    capability: str
    headcount: int
    classification: str
    needed_by: date
    tour_length_months: int


@event
class RequestRejected(_TriageEvent):
    """The hub declined the request, with a published reason code."""

    event_type: ClassVar[str] = "RequestRejected"
    reason_code: str
    reason: str = ""
    stage: Literal["board", "ministerial"] = "board"


@event
class RequestPutOnHold(_TriageEvent):
    """The decision is paused."""

    event_type: ClassVar[str] = "RequestPutOnHold"
    reason: str = ""


@event
class RequestResumed(_TriageEvent):
    """A paused request is back in the decision queue."""

    event_type: ClassVar[str] = "RequestResumed"
    reason: str = ""
