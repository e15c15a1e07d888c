"""Response shapes of reporting's API (they become the OpenAPI schemas)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field


class RequestRow(BaseModel):
    request_id: UUID
    reference: str
    partner_id: str
    partner_type: str
    country: str
    region: str
    capability: str
    classification: str
    title: str | None = None  # OFFICIAL-SENSITIVE: only for sc clearance or above
    description: str | None = None
    redacted: bool = False
    withheld: list[str] = Field(
        default_factory=list, description="The fields withheld from you (need-to-know)"
    )
    mission: str | None = None
    funding_source: str | None = None
    headcount: int
    needed_by: date | None = None
    tour_length_months: int | None = None
    status: str
    score: float | None = None
    risk_tier: str | None = None
    submitted_at: datetime
    decided_at: datetime | None = None
    decision: str | None = None
    approved: bool
    rejected: bool
    withdrawn: bool
    withdrawn_at: datetime | None = None
    deployment_start: date | None = None
    updated_at: datetime


class RequestPage(BaseModel):
    items: list[RequestRow]
    next_cursor: str | None = None


class DeploymentRow(BaseModel):
    deployment_id: UUID
    request_id: UUID
    reference: str | None = None
    partner_type: str | None = None
    mission: str | None = None
    redacted: bool = False
    withheld: list[str] = Field(
        default_factory=list, description="The fields withheld from you (need-to-know)"
    )
    country: str
    region: str
    capability: str
    classification: str
    headcount: int
    status: str
    tour_start: date
    tour_end: date
    planned_tour_end: date
    extensions: int
    extension_months: int
    started_on: date | None = None
    completed_on: date | None = None
    officers_nominated: int
    officers_deployed: int
    posts_filled: int = Field(default=0, description="Posts held by an officer now")
    planned_at: datetime
    updated_at: datetime


class DeploymentPage(BaseModel):
    items: list[DeploymentRow]
    next_cursor: str | None = None


class BreakdownRow(BaseModel):
    key: str = Field(description="The group: a status, a country code, a week's Monday, …")
    series: str | None = Field(default=None, description="For `week`: the requests' current status")
    count: int


class Breakdown(BaseModel):
    by: str
    rows: list[BreakdownRow]


class Point(BaseModel):
    period: date
    count: int


class TimeSeries(BaseModel):
    metric: str
    interval: str
    points: list[Point]


class Actor(BaseModel):
    subject: str
    role: str


class Seen(BaseModel):
    """The case as the maker of an assessment or a decision saw it."""

    case_version: int = Field(description="The case stream's version it was made on", examples=[2])
    service: str = Field(description="The service that answers `href`", examples=["triage"])
    href: str = Field(
        description="Triage's read of the case as of that version, as the decider saw it "
        "(redacted for whoever reads it)",
        examples=["/v1/cases/0193a0c4-0000-7000-8000-000000000000?as_of_version=2"],
    )


class AuditEntry(BaseModel):
    seq: int
    event_id: UUID
    event_type: str
    topic: str
    producer: str
    stream_id: str
    stream_version: int
    occurred_at: datetime
    actor: Actor
    correlation_id: str
    trace_id: str | None = None
    details: dict[str, Any]
    seen: Seen | None = Field(
        default=None,
        description="Assessments and decisions: a link to the case as it was when this was "
        "decided (`case_version`); null for other events and for old events that did not "
        "record it",
    )


class Audit(BaseModel):
    request_id: UUID
    events: list[AuditEntry]
