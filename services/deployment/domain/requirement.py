"""What the deployment service knows of a request from triage's and intake's events: whether it
is approved, held or withdrawn, and what it asks for; and the rule for planning a deployment."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from uuid import UUID

from services.deployment.domain.dates import MAX_TOUR_MONTHS, tour_end_for
from shared.catalogue.deployment import DeploymentPlanned
from shared.catalogue.intake import RequestAmended, RequestSubmitted, RequestWithdrawn, RoleProfile
from shared.catalogue.triage import RequestApproved, RequestPutOnHold, RequestResumed
from shared.events import EventData
from shared.refusals import DomainError, Kind


@dataclass(frozen=True)
class Requirement:
    """What the deployment service knows of a request from triage's and intake's events."""

    request_id: UUID
    decision: str | None  # approved | on_hold | resumed (None: not decided yet)
    withdrawn: bool
    country: str | None = None
    capability: str | None = None
    headcount: int | None = None
    classification: str | None = None
    tour_length_months: int | None = None
    #: The role profile the partner asked for (from intake's submission and amendments).
    rank: str | None = None
    skills: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()


def requirement_of(request_id: UUID, events: Iterable[EventData]) -> Requirement:
    """The requirement after triage's and intake's events about the request, in the order they
    happened."""
    requirement = Requirement(request_id, decision=None, withdrawn=False)
    for event in events:
        match event:
            case RequestSubmitted():
                requirement = _with_profile(requirement, event.role_profile)
            case RequestAmended() if event.changes.role_profile is not None:
                requirement = _with_profile(requirement, event.changes.role_profile)
            case RequestApproved():
                requirement = replace(
                    requirement,
                    decision="approved",
                    country=event.country,
                    capability=event.capability,
                    headcount=event.headcount,
                    classification=event.classification,
                    tour_length_months=event.tour_length_months,
                )
            case RequestPutOnHold():
                requirement = replace(requirement, decision="on_hold")
            case RequestResumed():
                requirement = replace(requirement, decision="resumed")
            case RequestWithdrawn():
                requirement = replace(requirement, withdrawn=True)
    return requirement


def _with_profile(requirement: Requirement, profile: RoleProfile) -> Requirement:
    return replace(
        requirement,
        rank=profile.rank,
        skills=tuple(profile.skills),
        languages=tuple(profile.languages),
    )


def requirement_status(decision: str | None, withdrawn: bool, deployment_status: str | None) -> str:
    """The staffing status of a request, from facts that arrive on different topics in any order."""
    if withdrawn:
        return "withdrawn"
    if decision == "on_hold":
        return "on_hold"
    if decision != "approved":
        return "awaiting_approval"
    match deployment_status:
        case "completed":
            return "fulfilled"
        case "deployed":
            return "deployed"
        case None | "cancelled":
            return "open"
    return "sourcing"


def decide_plan(
    requirement: Requirement,
    *,
    deployment_id: UUID,
    live_deployments: Sequence[UUID],
    tour_start: date,
    tour_end: date | None,
    mission: str | None,
    today: date,
    vetting_level: str | None = None,
) -> list[EventData]:
    """`vetting_level` is what the request's classification needs (from reference data): every
    post asks for it, with the request's role profile."""
    if requirement.decision is None:
        raise DomainError("request-not-approved", "no approved request with that id is known here")
    if requirement.withdrawn:
        raise DomainError("request-withdrawn", "the partner withdrew the request")
    if requirement.decision == "on_hold":
        raise DomainError("request-on-hold", "the hub put the request on hold")
    if requirement.decision != "approved":
        raise DomainError("request-not-approved", "the request is not approved (any more)")
    if live_deployments:
        raise DomainError(
            "deployment-exists", f"the request already has deployment {live_deployments[0]}"
        )
    assert requirement.capability and requirement.headcount and requirement.classification
    assert requirement.country is not None
    if tour_start < today:
        raise DomainError(
            "tour-start-in-past", "the tour cannot start in the past", kind=Kind.INVALID
        )
    end = tour_end or tour_end_for(tour_start, requirement.tour_length_months or 6)
    if end <= tour_start:
        raise DomainError("tour-dates", "tour_end must be after tour_start", kind=Kind.INVALID)
    if end > tour_end_for(tour_start, MAX_TOUR_MONTHS):
        raise DomainError(
            "tour-too-long",
            f"plan at most {MAX_TOUR_MONTHS} months; extend later",
            kind=Kind.INVALID,
        )
    return [
        DeploymentPlanned(
            request_id=requirement.request_id,
            deployment_id=deployment_id,
            mission=mission,
            country=requirement.country,
            capability=requirement.capability,
            headcount=requirement.headcount,
            classification=requirement.classification,
            tour_start=tour_start,
            tour_end=end,
            rank=requirement.rank,
            skills=list(requirement.skills),
            languages=list(requirement.languages),
            vetting_level=vetting_level,
        )
    ]
