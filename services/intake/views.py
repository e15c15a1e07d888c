"""What intake answers: the response models shown in the OpenAPI document."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from services.intake.domain import Status


class RequestSummary(BaseModel):
    id: UUID
    reference: str = Field(examples=["JIPH-2026-000123"])
    title: str
    country: str
    capability: str
    classification: str
    status: Status
    headcount: int | None
    needed_by: date | None
    submitted_at: datetime
    updated_at: datetime


class TimelineEntry(BaseModel):
    at: datetime
    event: str = Field(examples=["InformationRequested"])
    summary: str = Field(examples=["The hub asked for more information"])
    details: dict[str, Any]


class OpenInformationRequest(BaseModel):
    id: UUID
    questions: list[str]


class AsOfView(BaseModel):
    """Where a view of the past stands (`as_of_version` or `as_of` asked)."""

    version: int = Field(description="The request's own stream version then", examples=[1])
    at: datetime = Field(
        description="By version: when the request's event `version` occurred; by time: the "
        "time asked for"
    )
    by: Literal["version", "time"] = Field(description="Which parameter was asked")


class RequestDetail(RequestSummary):
    description: str | None
    mission: str | None
    requesting_body: str | None
    partner_type: str | None
    role_profile: dict[str, Any] | None
    tour_length_months: int | None
    funding_source: str | None
    contact: dict[str, Any] | None
    open_information_request: OpenInformationRequest | None
    headcount_deployed: int
    timeline: list[TimelineEntry]
    as_of: AsOfView | None = Field(
        default=None,
        description="Set when read with `as_of_version` or `as_of`: the request as it was then, "
        "made again from its events; null for the request as it stands",
    )


class RequestPage(BaseModel):
    items: list[RequestSummary]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


class Accepted(BaseModel):
    """The outcome of a write: the request as it now stands and a consistency token."""

    request: RequestDetail
    consistency_token: str = Field(
        description="Send as `X-Consistency-Token` on a later read (here or on any service) to "
        "wait until that read includes this write"
    )


class PartnerView(BaseModel):
    partner_id: str = Field(examples=["un-dpo"])
    name: str = Field(examples=["UN Department of Peace Operations"])
    partner_type: str = Field(examples=["un"])
    organisation: str = Field(examples=["UN Police Division"])
    country: str | None
    active: bool


class PartnerList(BaseModel):
    items: list[PartnerView]


class PartnerAccepted(BaseModel):
    partner: PartnerView
    consistency_token: str


class PartnerCredentials(BaseModel):
    """What a partner's system signs in with: shown once."""

    client_id: str = Field(examples=["partner-un-dpo"])
    client_secret: str = Field(description="Shown once; a new issue replaces it")
    token_endpoint: str = Field(
        examples=["http://127.0.0.1:8180/realms/jiph/protocol/openid-connect/token"]
    )
    example: str = Field(
        description="How to obtain a token (client credentials); send it as "
        "`Authorization: Bearer <access_token>`"
    )
