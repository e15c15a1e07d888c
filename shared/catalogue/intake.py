"""Events on `jiph.intake.events`: what partners did with their requests."""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from shared.events import EventData, event
from shared.topics import INTAKE_EVENTS


class RoleProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    rank: str
    skills: list[str] = []
    languages: list[str] = []


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    email: str
    phone: str | None = None


class _IntakeEvent(EventData):
    topic: ClassVar[str] = INTAKE_EVENTS
    request_id: UUID


@event
class RequestSubmitted(_IntakeEvent):
    """A partner asked for UK policing assistance."""

    event_type: ClassVar[str] = "RequestSubmitted"
    reference: str
    partner_id: str
    title: str
    description: str
    country: str
    mission: str | None = None
    requesting_body: str
    partner_type: str
    capability: str
    headcount: int
    role_profile: RoleProfile
    tour_length_months: int
    needed_by: date
    funding_source: str
    classification: str
    contact: Contact


@event
class RequestAmended(_IntakeEvent):
    """A partner changed its request before assessment, or answered the hub's questions."""

    event_type: ClassVar[str] = "RequestAmended"
    partner_id: str
    changes: dict[str, Any] = {}
    answers: list[str] = []
    information_request_id: UUID | None = None


@event
class RequestWithdrawn(_IntakeEvent):
    """The partner no longer needs the assistance."""

    event_type: ClassVar[str] = "RequestWithdrawn"
    partner_id: str
    reason: str
