"""What triage answers: the response models shown in the OpenAPI document."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from services.triage.domain import CaseStatus


class CriterionView(BaseModel):
    criterion: str = Field(examples=["fragility"])
    raw: float = Field(description="The criterion's value, 0 to 1", examples=[0.9])
    weight: float = Field(description="Its weight in the policy", examples=[0.25])
    points: float = Field(description="raw x weight x 100, rounded to 2 dp", examples=[22.5])
    explanation: str = Field(examples=["fragility 108/120 (Somalia)"])


class CaseSummary(BaseModel):
    id: UUID = Field(description="The request's id (a case per request)")
    reference: str = Field(examples=["JIPH-2026-000123"])
    title: str | None = Field(description="Null when `redacted`")
    classification: str = Field(examples=["OFFICIAL"])
    country: str = Field(examples=["SO"])
    region: str = Field(examples=["africa"])
    capability: str = Field(examples=["public-order"])
    partner_type: str = Field(examples=["un"])
    headcount: int
    needed_by: date
    status: CaseStatus
    score: float = Field(description="Priority 0-100: preliminary until assessed", examples=[71.5])
    provisional: bool = Field(description="True until a triage officer has assessed the case")
    policy_version: str = Field(examples=["2026-11-v1"])
    risk_tier: str | None = Field(examples=["high"])
    submitted_at: datetime
    updated_at: datetime
    redacted: bool = Field(
        description="OFFICIAL-SENSITIVE free text withheld: it needs a `clearance` of sc or above"
    )
    withheld: list[str] = Field(
        default=[], description="The names of the fields withheld (null wherever they stand)"
    )
    owner: str | None = Field(default=None, description="Who owns the case (a staff subject)")
    sla_stage: Literal["assessment", "board", "ministerial"] | None = Field(
        default=None, description="The service-level stage whose clock runs; null if none"
    )
    stage_since: datetime | None = Field(default=None, description="When it entered the stage")
    due_on: date | None = Field(
        default=None, description="The last day within the stage's service level"
    )
    breached: bool = Field(default=False, description="Past `due_on` (as of today, UTC)")
    age_days: int = Field(default=0, description="Days since the submission")


class AssessmentView(BaseModel):
    assessor: str
    risk_tier: str
    alignment: float | None
    notes: str | None = Field(description="Null when `redacted`")
    score: float = Field(description="The score in force (the override, if any)")
    computed_score: float = Field(description="What the policy computed")
    override_rationale: str | None
    tier_rationale: str | None = Field(
        default=None, description="Why the risk tier is lower than an earlier assessment's"
    )


class ApprovalsView(BaseModel):
    board: str | None = Field(description="Who approved for the board (IPAB)")
    ministerial: str | None = Field(description="Which minister approved")


class OpenInformationRequest(BaseModel):
    id: UUID
    questions: list[str] | None = Field(description="Null when `redacted`")
    returns_to: CaseStatus | None = Field(
        default=None,
        description="The status the partner's answer returns the case to: the hub may ask at "
        "any stage before its final decision",
    )


class RejectionView(BaseModel):
    reason_code: str
    reason: str | None = Field(description="Internal; null when `redacted`")


class HistoryActor(BaseModel):
    subject: str
    role: str


class HistoryEntry(BaseModel):
    at: datetime
    event: str = Field(examples=["RequestAssessed"])
    event_id: UUID
    stream_id: str = Field(examples=["case-0193a0c4-..."])
    stream_version: int
    actor: HistoryActor
    data: dict[str, Any]


class AsOfView(BaseModel):
    """Where a view of the past stands (`as_of_version` or `as_of` asked)."""

    version: int = Field(description="The case stream's version then", examples=[2])
    at: datetime = Field(
        description="By version: when the case's event `version` occurred; by time: the time "
        "asked for"
    )
    by: Literal["version", "time"] = Field(description="Which parameter was asked")


class CaseDetail(CaseSummary):
    description: str | None = Field(description="Null when `redacted`")
    mission: str | None
    requesting_body: str | None
    funding_source: str | None
    tour_length_months: int | None
    role_profile: dict[str, Any] | None
    contact: dict[str, Any] | None
    breakdown: list[CriterionView] = Field(
        description="How the score was made, criterion by criterion"
    )
    assessment: AssessmentView | None
    approvals: ApprovalsView
    open_information_request: OpenInformationRequest | None
    rejection: RejectionView | None
    held_from: CaseStatus | None = Field(description="While on hold: the status it resumes to")
    version: int = Field(description="The case stream's version")
    history: list[HistoryEntry] = Field(
        description="Every event of the case, oldest first (as of the point asked, if any)"
    )
    as_of: AsOfView | None = Field(
        default=None,
        description="Set when read with `as_of_version` or `as_of`: the case as it was then, "
        "made again from its events; null for the case as it stands",
    )


class CasePage(BaseModel):
    items: list[CaseSummary]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


class Accepted(BaseModel):
    """The outcome of a write: the case as it now stands and a consistency token."""

    case: CaseDetail
    consistency_token: str = Field(
        description="Send as `X-Consistency-Token` on a later read (here or on any service) to "
        "wait until that read includes this write"
    )


class ReasonCode(BaseModel):
    code: str = Field(examples=["out-of-scope"])
    label: str
    description: str


class ReasonCodeList(BaseModel):
    items: list[ReasonCode]


class ServiceLevelsView(BaseModel):
    version: str = Field(examples=["sla-2026-v1"])
    days: dict[str, int] = Field(
        description="Days allowed per stage", examples=[{"assessment": 10, "board": 15}]
    )
