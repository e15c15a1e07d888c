"""A deployment, its posts and its officers: statuses, state, and how events fold into it.

A deployment has one post per head of its headcount (`P1`…), each asking for the request's role
profile. A post is held by at most one officer at a time; a withdrawn nominee or an officer
repatriated early leaves it vacant again (from the day after they came home, for a backfill)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum
from uuid import UUID

from shared.catalogue.deployment import (
    DeploymentCancelled,
    DeploymentCompleted,
    DeploymentPlanned,
    DeploymentStarted,
    NominationWithdrawn,
    OfficerCleared,
    OfficerDeployed,
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
    WITHDRAWN = "withdrawn"  # the nomination was withdrawn (or the nominee replaced)


#: A nominee in one of these holds their post.
HOLDING = frozenset(
    {
        OfficerStatus.NOMINATED,
        OfficerStatus.RELEASED,
        OfficerStatus.CLEARED,
        OfficerStatus.DEPLOYED,
        OfficerStatus.RETURNED,
    }
)


#: Before officers deploy a deployment can be cancelled (by the hub, or because the request went).
CANCELLABLE = frozenset(
    {DeploymentStatus.PLANNED, DeploymentStatus.STAFFING, DeploymentStatus.READY}
)
NOMINATING = frozenset({DeploymentStatus.PLANNED, DeploymentStatus.STAFFING})
DEPLOYED = frozenset({DeploymentStatus.DEPLOYED})
LIVE = CANCELLABLE | DEPLOYED


@dataclass(frozen=True)
class Post:
    """One head of the headcount. `needed_from` is the first day it needs its officer: the tour's
    start, or the day after its last holder came home early."""

    post_id: str
    needed_from: date
    holder: str | None = None  # the officer_ref holding it now
    filled: int = 0  # how many officers have held it


@dataclass(frozen=True)
class RoleProfile:
    """What every post of a deployment asks for, beyond its capability and vetting level."""

    rank: str | None = None
    skills: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Nominee:
    officer_ref: str
    offer_id: UUID
    force: str
    gender: str
    status: OfficerStatus
    valid_until: date | None = None
    post_id: str | None = None
    starts_on: date | None = None  # a backfill's first day on the tour


def post_ids(headcount: int) -> tuple[str, ...]:
    return tuple(f"P{i}" for i in range(1, headcount + 1))


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
    posts: tuple[Post, ...] = ()
    profile: RoleProfile = RoleProfile()
    vetting_level: str | None = None  # None: what the classification needs (older plans)

    def nominee(self, officer_ref: str) -> Nominee | None:
        """The officer's current entry (a withdrawn one too: they may be nominated again)."""
        return next((n for n in self.nominees if n.officer_ref == officer_ref), None)

    def post(self, post_id: str) -> Post | None:
        return next((p for p in self.posts if p.post_id == post_id), None)

    @property
    def vacant(self) -> list[Post]:
        return [p for p in self.posts if p.holder is None]

    def with_post(self, post_id: str, **changes: object) -> tuple[Post, ...]:
        return tuple(
            replace(p, **changes) if p.post_id == post_id else p  # type: ignore[arg-type]
            for p in self.posts
        )

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


def _vacate(s: Deployment, officer_ref: str, needed_from: date | None = None) -> tuple[Post, ...]:
    nominee = s.nominee(officer_ref)
    if nominee is None or nominee.post_id is None:
        return s.posts
    post = s.post(nominee.post_id)
    assert post is not None
    return s.with_post(post.post_id, holder=None, needed_from=needed_from or post.needed_from)


def _nominated(s: Deployment, event: OfficerNominated) -> Deployment:
    # An older nomination named no post: the first vacant one is the one it filled.
    post_id = event.post_id or (s.vacant[0].post_id if s.vacant else None)
    added = Nominee(
        event.officer_ref,
        event.offer_id,
        event.force,
        event.gender,
        OfficerStatus.NOMINATED,
        post_id=post_id,
        starts_on=event.starts_on,
    )
    nominees = (*(n for n in s.nominees if n.officer_ref != event.officer_ref), added)
    posts = s.posts
    if post_id is not None and (post := s.post(post_id)) is not None:
        posts = s.with_post(post_id, holder=event.officer_ref, filled=post.filled + 1)
    status = s.status if s.status == DeploymentStatus.DEPLOYED else _staffing(s, nominees)
    return replace(s, nominees=nominees, posts=posts, status=status)


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
            posts=tuple(Post(p, event.tour_start) for p in post_ids(event.headcount)),
            profile=RoleProfile(event.rank, tuple(event.skills), tuple(event.languages)),
            vetting_level=event.vetting_level,
        )
    if state is None:
        raise ValueError(f"cannot apply {type(event).__name__} to an unplanned deployment")
    s = replace(state, version=version)
    match event:
        case OfficerNominated():
            return _nominated(s, event)
        case NominationWithdrawn():
            posts = _vacate(s, event.officer_ref)
            nominees = s.with_nominee(event.officer_ref, status=OfficerStatus.WITHDRAWN)
            status = s.status if s.status == DeploymentStatus.DEPLOYED else _staffing(s, nominees)
            return replace(s, nominees=nominees, posts=posts, status=status)
        case OfficerDeployed():
            return replace(
                s, nominees=s.with_nominee(event.officer_ref, status=OfficerStatus.DEPLOYED)
            )
        case OfficerReleased():
            return replace(
                s, nominees=s.with_nominee(event.officer_ref, status=OfficerStatus.RELEASED)
            )
        case OfficerCleared():
            nominees = s.with_nominee(
                event.officer_ref, status=OfficerStatus.CLEARED, valid_until=event.valid_until
            )
            status = s.status if s.status == DeploymentStatus.DEPLOYED else _staffing(s, nominees)
            return replace(s, nominees=nominees, status=status)
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
            # The post reopens for the rest of the tour: a backfill is needed from the next day.
            posts = _vacate(s, event.officer_ref, event.on + timedelta(days=1))
            nominees = s.with_nominee(event.officer_ref, status=OfficerStatus.REPATRIATED_EARLY)
            return replace(s, nominees=nominees, posts=posts)
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
