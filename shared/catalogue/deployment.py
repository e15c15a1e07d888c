"""Events on `jiph.deployment.events`: officers offered by UK forces, deployments and tours.

No personal data travels in clear: officers appear as a pseudonymous `officer_ref`. The personal
fields of an offer travel only as `personal_data`, encrypted with the officer's own key, which
erasure destroys (crypto-shredding).
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar
from uuid import UUID

from shared.events import EventData, event
from shared.topics import DEPLOYMENT_EVENTS


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
    officer_ref: str
    force: str
    capability: str
    rank: str
    gender: str
    languages: list[str] = []
    skills: list[str] = []
    vetting_level: str
    vetting_expires: date
    medical_expires: date
    training_expires: date
    passport_expires: date
    available_from: date
    available_to: date
    personal_data: str  # ciphertext (per-officer key), base64

    def partition_key(self) -> str:
        return str(self.offer_id)


@event
class CapabilityWithdrawn(EventData):
    """The force withdrew its offer."""

    topic: ClassVar[str] = DEPLOYMENT_EVENTS
    event_type: ClassVar[str] = "CapabilityWithdrawn"
    offer_id: UUID
    officer_ref: str
    reason: str = ""

    def partition_key(self) -> str:
        return str(self.offer_id)


@event
class DeploymentPlanned(_DeploymentEvent):
    """A deployment was planned for an approved request."""

    event_type: ClassVar[str] = "DeploymentPlanned"
    mission: str | None = None
    country: str
    capability: str
    headcount: int
    classification: str
    tour_start: date
    tour_end: date


@event
class OfficerNominated(_DeploymentEvent):
    """An offered officer was nominated to a deployment."""

    event_type: ClassVar[str] = "OfficerNominated"
    officer_ref: str
    offer_id: UUID
    force: str
    gender: str


@event
class OfficerReleased(_DeploymentEvent):
    """The officer's home force agreed to release them."""

    event_type: ClassVar[str] = "OfficerReleased"
    officer_ref: str
    force: str


@event
class OfficerCleared(_DeploymentEvent):
    """Vetting, medical, training and passport are valid for the tour."""

    event_type: ClassVar[str] = "OfficerCleared"
    officer_ref: str
    valid_until: date


@event
class DeploymentStarted(_DeploymentEvent):
    """The officers are deployed."""

    event_type: ClassVar[str] = "DeploymentStarted"
    started_on: date
    officer_refs: list[str]


@event
class TourExtended(_DeploymentEvent):
    """The tour was extended by a block of months."""

    event_type: ClassVar[str] = "TourExtended"
    months: int
    new_end: date


@event
class OfficerRepatriated(_DeploymentEvent):
    """An officer came home before the end of the tour."""

    event_type: ClassVar[str] = "OfficerRepatriated"
    officer_ref: str
    reason_code: str
    on: date


@event
class DeploymentCompleted(_DeploymentEvent):
    """The tour ended and the officers returned."""

    event_type: ClassVar[str] = "DeploymentCompleted"
    completed_on: date


@event
class DeploymentCancelled(_DeploymentEvent):
    """The deployment will not go ahead."""

    event_type: ClassVar[str] = "DeploymentCancelled"
    reason: str
    released_officer_refs: list[str] = []
