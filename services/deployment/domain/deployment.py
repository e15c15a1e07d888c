"""A deployment and its officers: statuses, state, and how events fold into it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from uuid import UUID

from shared.catalogue.deployment import (
    DeploymentCancelled,
    DeploymentCompleted,
    DeploymentPlanned,
    DeploymentStarted,
    OfficerCleared,
    OfficerNominated,
    OfficerReleased,
    OfficerRepatriated,
    TourExtended,
)
from shared.events import EventData


class DeploymentStatus(StrEnum):
    PLANNED = "planned"
    STAFFING = "staffing"
    READY = "ready"
    DEPLOYED = "deployed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class OfficerStatus(StrEnum):
    NOMINATED = "nominated"
    RELEASED = "released"
    CLEARED = "cleared"
    DEPLOYED = "deployed"
    RETURNED = "returned"
    REPATRIATED_EARLY = "repatriated_early"


#: Before officers deploy a deployment can be cancelled (by the hub, or because the request went).
CANCELLABLE = frozenset(
    {DeploymentStatus.PLANNED, DeploymentStatus.STAFFING, DeploymentStatus.READY}
)
NOMINATING = frozenset({DeploymentStatus.PLANNED, DeploymentStatus.STAFFING})
DEPLOYED = frozenset({DeploymentStatus.DEPLOYED})
LIVE = CANCELLABLE | DEPLOYED


@dataclass(frozen=True)
class Nominee:
    officer_ref: str
    offer_id: UUID
    force: str
    gender: str
    status: OfficerStatus
    valid_until: date | None = None


@dataclass(frozen=True)
class Deployment:
    deployment_id: UUID
    request_id: UUID
    version: int
    status: DeploymentStatus
    country: str
    capability: str
    headcount: int
    classification: str
    mission: str | None
    tour_start: date
    tour_end: date
    nominees: tuple[Nominee, ...] = ()
    started_on: date | None = None
    completed_on: date | None = None
    extensions: int = 0

    def nominee(self, officer_ref: str) -> Nominee | None:
        return next((n for n in self.nominees if n.officer_ref == officer_ref), None)

    def with_nominee(self, officer_ref: str, **changes: object) -> tuple[Nominee, ...]:
        return tuple(
            replace(n, **changes) if n.officer_ref == officer_ref else n  # type: ignore[arg-type]
            for n in self.nominees
        )

    @property
    def cleared(self) -> list[Nominee]:
        return [n for n in self.nominees if n.status == OfficerStatus.CLEARED]


def _staffing(state: Deployment, nominees: tuple[Nominee, ...]) -> DeploymentStatus:
    cleared = sum(1 for n in nominees if n.status == OfficerStatus.CLEARED)
    return DeploymentStatus.READY if cleared >= state.headcount else DeploymentStatus.STAFFING


def evolve(state: Deployment | None, event: EventData, version: int) -> Deployment:
    if isinstance(event, DeploymentPlanned):
        return Deployment(
            deployment_id=event.deployment_id,
            request_id=event.request_id,
            version=version,
            status=DeploymentStatus.PLANNED,
            country=event.country,
            capability=event.capability,
            headcount=event.headcount,
            classification=event.classification,
            mission=event.mission,
            tour_start=event.tour_start,
            tour_end=event.tour_end,
        )
    if state is None:
        raise ValueError(f"cannot apply {type(event).__name__} to an unplanned deployment")
    s = replace(state, version=version)
    match event:
        case OfficerNominated():
            added = Nominee(
                event.officer_ref,
                event.offer_id,
                event.force,
                event.gender,
                OfficerStatus.NOMINATED,
            )
            nominees = (*s.nominees, added)
            return replace(s, nominees=nominees, status=_staffing(s, nominees))
        case OfficerReleased():
            return replace(
                s, nominees=s.with_nominee(event.officer_ref, status=OfficerStatus.RELEASED)
            )
        case OfficerCleared():
            nominees = s.with_nominee(
                event.officer_ref, status=OfficerStatus.CLEARED, valid_until=event.valid_until
            )
            return replace(s, nominees=nominees, status=_staffing(s, nominees))
        case DeploymentStarted():
            nominees = tuple(
                replace(n, status=OfficerStatus.DEPLOYED)
                if n.officer_ref in event.officer_refs
                else n
                for n in s.nominees
            )
            return replace(
                s, status=DeploymentStatus.DEPLOYED, nominees=nominees, started_on=event.started_on
            )
        case TourExtended():
            return replace(s, tour_end=event.new_end, extensions=s.extensions + 1)
        case OfficerRepatriated():
            nominees = s.with_nominee(event.officer_ref, status=OfficerStatus.REPATRIATED_EARLY)
            return replace(s, nominees=nominees)
        case DeploymentCompleted():
            nominees = tuple(
                replace(n, status=OfficerStatus.RETURNED)
                if n.status == OfficerStatus.DEPLOYED
                else n
                for n in s.nominees
            )
            return replace(
                s,
                status=DeploymentStatus.COMPLETED,
                nominees=nominees,
                completed_on=event.completed_on,
            )
        case DeploymentCancelled():
            return replace(s, status=DeploymentStatus.CANCELLED)
    raise ValueError(f"cannot apply {type(event).__name__} to a deployment")


def fold(events: Iterable[EventData]) -> Deployment | None:
    state = None
    for version, event in enumerate(events, start=1):
        state = evolve(state, event, version)
    return state
