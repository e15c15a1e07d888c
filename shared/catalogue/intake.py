"""Events on `jiph.intake.events`: what partners did with their requests, and the registry of
partner organisations the hub keeps."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, ClassVar
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from shared.catalogue.fields import (
    Classification,
    Code,
    CountryCode,
    Headcount,
    Identity,
    LongText,
    Reference,
    ShortText,
    TourMonths,
)
from shared.events import EventData, event
from shared.topics import INTAKE_EVENTS

Word = Annotated[str, Field(max_length=80)]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoleProfile(_Part):
    rank: Word
    skills: list[Word] = Field(default=[], max_length=20)
    languages: list[Word] = Field(default=[], max_length=10)


class Contact(_Part):
    name: ShortText
    email: Annotated[str, Field(max_length=254)]
    phone: Annotated[str, Field(max_length=40)] | None = None


class _IntakeEvent(EventData):
    topic: ClassVar[str] = INTAKE_EVENTS
    request_id: UUID


@event
class RequestSubmitted(_IntakeEvent):
    """A partner asked for UK policing assistance."""

    event_type: ClassVar[str] = "RequestSubmitted"
    reference: Reference
    partner_id: Identity
    title: ShortText
    description: LongText
    country: CountryCode
    mission: ShortText | None = None
    requesting_body: ShortText
    partner_type: Code
    capability: Code
    headcount: Headcount
    role_profile: RoleProfile
    tour_length_months: TourMonths
    needed_by: date
    funding_source: Code
    classification: Classification
    contact: Contact


class RequestChanges(_Part):
    """What an amendment changed (only the fields it names)."""

    title: ShortText | None = None
    description: LongText | None = None
    mission: ShortText | None = None
    headcount: Headcount | None = None
    role_profile: RoleProfile | None = None
    tour_length_months: TourMonths | None = None
    needed_by: date | None = None
    contact: Contact | None = None

    @model_serializer(mode="wrap")
    def _only_what_changed(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # On the wire an amendment names only what it changed, as it always has.
        return {k: v for k, v in handler(self).items() if v is not None}

    def named(self) -> dict[str, Any]:
        """The changed fields and their new values (JSON values)."""
        return self.model_dump(mode="json")


@event
class RequestAmended(_IntakeEvent):
    """A partner changed its request before assessment, or answered the hub's questions."""

    event_type: ClassVar[str] = "RequestAmended"
    partner_id: Identity
    changes: RequestChanges = RequestChanges()
    answers: list[LongText] = Field(default=[], max_length=20)
    information_request_id: UUID | None = None


@event
class RequestWithdrawn(_IntakeEvent):
    """The partner no longer needs the assistance."""

    event_type: ClassVar[str] = "RequestWithdrawn"
    partner_id: Identity
    reason: LongText


# --- the partner registry --------------------------------------------------------------------
class _PartnerEvent(EventData):
    topic: ClassVar[str] = INTAKE_EVENTS
    partner_id: Identity

    def partition_key(self) -> str:
        return f"partner:{self.partner_id}"


@event
class PartnerRegistered(_PartnerEvent):
    """The hub registered a partner organisation: only registered, active partners may submit."""

    event_type: ClassVar[str] = "PartnerRegistered"
    name: ShortText
    partner_type: Code
    organisation: ShortText
    country: CountryCode | None = None


@event
class PartnerUpdated(_PartnerEvent):
    """The hub corrected a partner's details (only the fields named)."""

    event_type: ClassVar[str] = "PartnerUpdated"
    name: ShortText | None = None
    partner_type: Code | None = None
    organisation: ShortText | None = None
    country: CountryCode | None = None


@event
class PartnerDeactivated(_PartnerEvent):
    """The partner may no longer submit or act on its requests (they stay readable)."""

    event_type: ClassVar[str] = "PartnerDeactivated"
    reason: LongText = ""


@event
class PartnerReactivated(_PartnerEvent):
    """A deactivated partner may act again."""

    event_type: ClassVar[str] = "PartnerReactivated"
    reason: LongText = ""


@event
class MessageFromPartner(_IntakeEvent):
    """The partner wrote to the hub about its request (the conversation the hub's
    `MessageToPartner` is the other half of)."""

    event_type: ClassVar[str] = "MessageFromPartner"
    partner_id: Identity
    message_id: UUID
    partner_message: LongText = Field(description="What the partner wrote")
