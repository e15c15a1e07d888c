"""What the deployment service answers: the response models shown in the OpenAPI document."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from services.deployment.domain import DeploymentStatus, OfficerStatus

NEXT_CURSOR = Field(description="Pass as `cursor` for the next page; null at the end")
CONSISTENCY_TOKEN = Field(
    description="Send as `X-Consistency-Token` on a later read (here or on any service) to wait "
    "until that read includes this write"
)


class OfferView(BaseModel):
    """An offered officer, pseudonymous: no name, contact or next of kin here."""

    id: UUID
    officer_ref: str = Field(examples=["OFF-7K2M9QX4TA"])
    force: str = Field(examples=["met"])
    capability: str
    rank: str
    gender: str
    languages: list[str]
    skills: list[str]
    vetting_level: str
    vetting_expires: date
    medical_expires: date
    training_expires: date
    passport_expires: date
    available_from: date
    available_to: date
    status: Literal["active", "withdrawn"]
    offered_at: datetime
    withdrawn_at: datetime | None
    withdrawal_reason: str | None


class OfferPage(BaseModel):
    items: list[OfferView]
    next_cursor: str | None = NEXT_CURSOR


class OfferAccepted(BaseModel):
    offer: OfferView
    consistency_token: str = CONSISTENCY_TOKEN


class RequirementView(BaseModel):
    """An approved request as a staffing requirement."""

    request_id: UUID
    reference: str | None = Field(examples=["JIPH-2026-000123"])
    country: str | None
    capability: str | None
    headcount: int | None
    classification: str | None
    needed_by: date | None
    tour_length_months: int | None
    rank: str | None = Field(default=None, description="The rank asked for")
    skills: list[str] | None = None
    languages: list[str] | None = None
    status: Literal[
        "open", "sourcing", "deployed", "fulfilled", "on_hold", "withdrawn", "awaiting_approval"
    ]
    deployment_id: UUID | None = Field(description="The current deployment, if any")
    approved_at: datetime | None
    updated_at: datetime


class RequirementPage(BaseModel):
    items: list[RequirementView]
    next_cursor: str | None = NEXT_CURSOR


class DeploymentSummary(BaseModel):
    id: UUID
    request_id: UUID
    reference: str | None
    mission: str | None = Field(
        description="Withheld from OFFICIAL-SENSITIVE deployments unless "
        "your token carries SC clearance or above"
    )
    country: str
    capability: str
    headcount: int
    classification: str
    tour_start: date
    tour_end: date
    status: DeploymentStatus
    nominated: int = Field(description="Officers nominated so far")
    cleared: int = Field(description="Officers cleared and not yet deployed")
    started_on: date | None
    completed_on: date | None
    extensions: int
    cancel_reason: str | None
    planned_at: datetime
    updated_at: datetime
    redacted: bool = Field(
        default=False,
        description="OFFICIAL-SENSITIVE text withheld: it needs a `clearance` of sc or above",
    )
    withheld: list[str] = Field(
        default=[], description="The names of the fields withheld (null wherever they stand)"
    )


class DeploymentOfficer(BaseModel):
    officer_ref: str
    offer_id: UUID
    force: str
    gender: str
    rank: str | None
    status: OfficerStatus
    nominated_at: datetime
    released_at: datetime | None
    cleared_at: datetime | None
    valid_until: date | None
    repatriated_on: date | None
    repatriation_reason: str | None = Field(description="The published reason code")
    repatriation_notes: str | None = Field(description="Internal: never shown to the partner")
    personal_data: Literal["available", "erased"] = Field(
        description="Whether the officer's personal data can still be read (GET /v1/officers/{ref})"
    )
    post_id: str | None = Field(default=None, description="The post the officer fills (or filled)")
    starts_on: date | None = Field(default=None, description="A backfill's first day on the tour")
    joined_on: date | None = Field(default=None, description="The day a backfill joined")
    withdrawn_at: datetime | None = None
    withdrawal_reason: str | None = Field(
        default=None, description="Internal: why the nomination was withdrawn"
    )
    replaced_by: str | None = Field(default=None, description="Who took the post, if replaced")


class TimelineEntry(BaseModel):
    at: datetime
    event: str = Field(examples=["OfficerNominated"])
    by_role: str = Field(examples=["deployment_manager"])
    details: dict[str, Any]


class PostView(BaseModel):
    """One head of the headcount, held by at most one officer at a time, with its own history."""

    post_id: str = Field(examples=["P1"])
    status: Literal["vacant", "filled"]
    holder: str | None = Field(description="The officer_ref holding it now")
    needed_from: date = Field(description="The first day it needs its officer")
    vacant_since: datetime | None
    filled_at: datetime | None
    fills: int = Field(description="How many officers have held it")
    history: list[TimelineEntry] = Field(description="The events about this post, oldest first")


class DeploymentDetail(DeploymentSummary):
    rank: str | None = Field(default=None, description="The rank every post asks for")
    skills: list[str] = []
    languages: list[str] = []
    vetting_level: str | None = Field(default=None, description="The vetting every post needs")
    posts: list[PostView] = Field(default=[], description="Empty for a force liaison officer")
    officers: list[DeploymentOfficer]
    timeline: list[TimelineEntry]


class CriterionView(BaseModel):
    criterion: Literal["readiness", "languages", "skills", "rank"]
    raw: float = Field(ge=0, le=1, description="How well the officer fits, 0-1")
    weight: float
    points: float = Field(description="raw x weight x 100")
    explanation: str


class MatchView(BaseModel):
    officer_ref: str
    offer_id: UUID
    force: str
    score: float = Field(ge=0, le=100, description="The sum of the criteria's points")
    criteria: list[CriterionView]
    requirements: list[str] = Field(description="The requirements this officer meets")
    ready_until: date = Field(description="The earliest of their readiness expiries")


class LeftOutView(BaseModel):
    officer_ref: str
    reason: str = Field(examples=["officer-double-booked"])
    explanation: str


class PostMatches(BaseModel):
    """Offered officers who can fill the post, best first, each with why; and who cannot."""

    deployment_id: UUID
    post_id: str
    needs: dict[str, Any] = Field(description="What the post asks for, over which window")
    items: list[MatchView]
    left_out: list[LeftOutView]
    next_cursor: str | None = NEXT_CURSOR


class DeploymentPage(BaseModel):
    items: list[DeploymentSummary]
    next_cursor: str | None = NEXT_CURSOR


class DeploymentAccepted(BaseModel):
    """The outcome of a write: the deployment as it now stands and a consistency token."""

    deployment: DeploymentDetail
    consistency_token: str = CONSISTENCY_TOKEN


Erased = Literal["erased"]


class OfficerDeployment(BaseModel):
    id: UUID
    request_id: UUID
    country: str
    capability: str
    tour_start: date
    tour_end: date
    status: DeploymentStatus
    officer_status: OfficerStatus


class OfficerPersonal(BaseModel):
    """An officer with their personal data. Every such answer is recorded in the access log."""

    officer_ref: str
    force: str
    erased_at: datetime | None = Field(description="When the personal data was erased, if it was")
    name: str | Erased | None
    contact: dict[str, Any] | Erased | None
    next_of_kin: dict[str, Any] | Erased | None
    offers: list[OfferView]
    deployments: list[OfficerDeployment]
    access_log_id: int | None = Field(description="The access-log entry of this disclosure")


class Erasure(BaseModel):
    officer_ref: str
    erased_at: datetime
    access_log_id: int


class AccessLogEntry(BaseModel):
    id: int
    at: datetime
    actor: str = Field(description="Who read or erased")
    actor_role: str
    action: Literal["read", "export", "erasure"]
    officer_ref: str
    justification: str = Field(description="Why (as given in `X-Justification`)")
    fields: list[str] = Field(description="Which personal fields were disclosed or erased")
    recipient: str = Field(description="To whom the data was disclosed")
    correlation_id: str | None


class AccessLogPage(BaseModel):
    items: list[AccessLogEntry]
    next_cursor: str | None = NEXT_CURSOR


class SubjectTour(BaseModel):
    deployment_id: UUID
    request_id: UUID
    country: str
    capability: str
    tour_start: date
    tour_end: date
    classification: str
    deployment_status: str
    status: str = Field(description="The officer's status on the deployment")
    nominated_at: datetime
    released_at: datetime | None
    cleared_at: datetime | None
    valid_until: date | None
    started_on: date | None
    completed_on: date | None
    repatriated_on: date | None
    repatriation_reason: str | None
    repatriation_notes: str | None
    redacted: bool = Field(default=False, description="Text withheld for your clearance")
    withheld: list[str] = []


class SubjectBooking(BaseModel):
    deployment_id: UUID
    from_: date | None = Field(alias="from")
    to: date | None


class SubjectEvent(BaseModel):
    event: str
    at: datetime
    recorded_by_role: str
    classification: str
    data: dict[str, Any] = Field(description="The event's data (the sealed blob left out)")
    redacted: bool = Field(default=False, description="Text withheld for your clearance")
    withheld: list[str] = []


class SubjectAccess(BaseModel):
    """Everything the deployment service holds about one officer (DPA 2018 s.45)."""

    officer_ref: str
    force: str
    registered_at: datetime | None
    erased_at: datetime | None
    personal_data: dict[str, Any] = Field(description="Name, contact, next of kin, or `erased`")
    offers: list[OfferView]
    deployments: list[SubjectTour]
    bookings: list[SubjectBooking]
    events: list[SubjectEvent]
    access_log: list[AccessLogEntry] = Field(description="Who consulted the data, and why")
    export_log_id: int = Field(description="The access-log entry of this export")
    exported_at: datetime


class RetentionRun(BaseModel):
    retention_days: int
    cutoff: date = Field(description="Officers last in use before this day were erased")
    erased: list[str] = Field(description="The officers erased by this run")
    remaining: int = Field(description="Officers still due (another process holds them)")
