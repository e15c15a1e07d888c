"""Events on `jiph.deployment.events`: officers offered by UK forces, deployments and tours.

No personal data travels in clear: officers appear as a pseudonymous `officer_ref`. The personal
fields of an offer travel only as `personal_data`, encrypted with the officer's own key, which
erasure destroys (crypto-shredding).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, ClassVar
from uuid import UUID

from pydantic import Field

from shared.catalogue.fields import (
    Classification,
    Code,
    CountryCode,
    ExtensionMonths,
    Headcount,
    Identity,
    LongText,
    OfficerRef,
    ShortText,
)
from shared.events import REGISTRY, EventData, event
from shared.topics import DEPLOYMENT_EVENTS

Word = Annotated[str, Field(max_length=80)]
#: The sealed personal data of an officer (base64 of a small AES-GCM or PKCS#11 blob).
Sealed = Annotated[str, Field(max_length=20_000)]
#: A post of a deployment: `P1` to `P100` (one per head of the headcount).
PostId = Annotated[str, Field(max_length=8)]


class _DeploymentEvent(EventData):
    topic: ClassVar[str] = DEPLOYMENT_EVENTS
    request_id: UUID
    deployment_id: UUID


@event
class CapabilityOffered(EventData):
    """A UK force offered an officer for a capability."""

    topic: ClassVar[str] = DEPLOYMENT_EVENTS
    event_type: ClassVar[str] = "CapabilityOffered"
    offer_id: UUID
    officer_ref: OfficerRef
    force: Identity
    capability: Code
    rank: Word
    gender: Code
    languages: list[Word] = Field(default=[], max_length=10)
    skills: list[Word] = Field(default=[], max_length=20)
    vetting_level: Code
    vetting_expires: date
    medical_expires: date
    training_expires: date
    passport_expires: date
    available_from: date
    available_to: date
    personal_data: Sealed  # ciphertext (per-officer key), base64

    def partition_key(self) -> str:
        return str(self.offer_id)


@event
class CapabilityWithdrawn(EventData):
    """The force withdrew its offer."""

    topic: ClassVar[str] = DEPLOYMENT_EVENTS
    event_type: ClassVar[str] = "CapabilityWithdrawn"
    offer_id: UUID
    officer_ref: OfficerRef
    reason: Annotated[str, Field(max_length=500)] = ""

    def partition_key(self) -> str:
        return str(self.offer_id)


@event
class OfferUpdated(EventData):
    """The force changed an offer in place: readiness dates, availability, or (on a re-offer)
    every term. Only the fields it names changed; `personal_data` is the officer's details
    sealed afresh with their own key, when a re-offer sent them."""

    topic: ClassVar[str] = DEPLOYMENT_EVENTS
    event_type: ClassVar[str] = "OfferUpdated"
    offer_id: UUID
    officer_ref: OfficerRef
    capability: Code | None = None
    rank: Word | None = None
    gender: Code | None = None
    languages: list[Word] | None = Field(default=None, max_length=10)
    skills: list[Word] | None = Field(default=None, max_length=20)
    vetting_level: Code | None = None
    vetting_expires: date | None = None
    medical_expires: date | None = None
    training_expires: date | None = None
    passport_expires: date | None = None
    available_from: date | None = None
    available_to: date | None = None
    personal_data: Sealed | None = None

    def partition_key(self) -> str:
        return str(self.offer_id)


@event
class DeploymentPlannedV1(_DeploymentEvent):
    """A deployment was planned for an approved request."""

    event_type: ClassVar[str] = "DeploymentPlanned"
    schema_version: ClassVar[int] = 1
    mission: ShortText | None = None
    country: CountryCode
    capability: Code
    headcount: Headcount
    classification: Classification
    tour_start: date
    tour_end: date


@event
class DeploymentPlanned(_DeploymentEvent):
    """A deployment was planned for an approved request: `headcount` posts, each with the
    request's role profile (rank, skills, languages) and the vetting its classification needs."""

    event_type: ClassVar[str] = "DeploymentPlanned"
    schema_version: ClassVar[int] = 2
    mission: ShortText | None = None
    country: CountryCode
    capability: Code
    headcount: Headcount
    classification: Classification
    tour_start: date
    tour_end: date
    rank: Word | None = None
    skills: list[Word] = Field(default=[], max_length=20)
    languages: list[Word] = Field(default=[], max_length=10)
    vetting_level: Code | None = None


@REGISTRY.upcaster("DeploymentPlanned", 1)
def _planned_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 had no role profile: its posts ask for the capability and vetting only."""
    return data


@event
class OfficerNominatedV1(_DeploymentEvent):
    """An offered officer was nominated to a deployment."""

    event_type: ClassVar[str] = "OfficerNominated"
    schema_version: ClassVar[int] = 1
    officer_ref: OfficerRef
    offer_id: UUID
    force: Identity
    gender: Code


@event
class OfficerNominated(_DeploymentEvent):
    """An offered officer was nominated to a post of a deployment. `starts_on` is set for a
    backfill: the officer joins a tour already under way, from that day."""

    event_type: ClassVar[str] = "OfficerNominated"
    schema_version: ClassVar[int] = 2
    officer_ref: OfficerRef
    offer_id: UUID
    force: Identity
    gender: Code
    post_id: PostId | None = None
    starts_on: date | None = None


@REGISTRY.upcaster("OfficerNominated", 1)
def _nominated_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 named no post: the fold gives the nominee the first vacant one."""
    return data


@event
class NominationWithdrawn(_DeploymentEvent):
    """A nominee leaves the deployment before deploying (failed clearance, replaced, no longer
    available): their post is vacant again and their booking is freed. `reason` is internal;
    `replaced_by` names the officer nominated to the post in the same command, if any."""

    event_type: ClassVar[str] = "NominationWithdrawn"
    officer_ref: OfficerRef
    post_id: PostId
    reason: LongText
    replaced_by: OfficerRef | None = None


@event
class OfficerDeployed(_DeploymentEvent):
    """A backfill officer joined a tour already under way."""

    event_type: ClassVar[str] = "OfficerDeployed"
    officer_ref: OfficerRef
    post_id: PostId
    on: date


@event
class OfficerReleased(_DeploymentEvent):
    """The officer's home force agreed to release them."""

    event_type: ClassVar[str] = "OfficerReleased"
    officer_ref: OfficerRef
    force: Identity


@event
class OfficerCleared(_DeploymentEvent):
    """Vetting, medical, training and passport are valid for the tour."""

    event_type: ClassVar[str] = "OfficerCleared"
    officer_ref: OfficerRef
    valid_until: date


@event
class DeploymentStarted(_DeploymentEvent):
    """The officers are deployed."""

    event_type: ClassVar[str] = "DeploymentStarted"
    started_on: date
    officer_refs: list[OfficerRef] = Field(max_length=100)


@event
class TourExtended(_DeploymentEvent):
    """The tour was extended by a block of months."""

    event_type: ClassVar[str] = "TourExtended"
    months: ExtensionMonths
    new_end: date


@event
class OfficerRepatriatedV1(_DeploymentEvent):
    """An officer came home before the end of the tour."""

    event_type: ClassVar[str] = "OfficerRepatriated"
    schema_version: ClassVar[int] = 1
    officer_ref: OfficerRef
    reason_code: Code
    on: date


@event
class OfficerRepatriated(_DeploymentEvent):
    """An officer came home before the end of the tour. `reason` is the hub's internal account
    (it may name the officer's health or conduct): staff read it, partners never do."""

    event_type: ClassVar[str] = "OfficerRepatriated"
    schema_version: ClassVar[int] = 2
    officer_ref: OfficerRef
    reason_code: Code
    on: date
    reason: LongText | None = None


@REGISTRY.upcaster("OfficerRepatriated", 1)
def _repatriated_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 had only the published reason code."""
    return data


@event
class DeploymentCompleted(_DeploymentEvent):
    """The tour ended and the officers returned."""

    event_type: ClassVar[str] = "DeploymentCompleted"
    completed_on: date


@event
class DeploymentCancelledV1(_DeploymentEvent):
    """The deployment will not go ahead."""

    event_type: ClassVar[str] = "DeploymentCancelled"
    schema_version: ClassVar[int] = 1
    reason: LongText
    released_officer_refs: list[OfficerRef] = Field(default=[], max_length=100)


@event
class DeploymentCancelled(_DeploymentEvent):
    """The deployment will not go ahead. `reason` is internal (it may name an officer's
    circumstances); `partner_message` is what the partner is told, if anything."""

    event_type: ClassVar[str] = "DeploymentCancelled"
    schema_version: ClassVar[int] = 2
    reason: LongText
    released_officer_refs: list[OfficerRef] = Field(default=[], max_length=100)
    partner_message: LongText | None = None


@REGISTRY.upcaster("DeploymentCancelled", 1)
def _cancelled_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 had no message for the partner."""
    return data
