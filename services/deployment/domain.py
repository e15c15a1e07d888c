"""Deployment's domain, pure: offers of officers, and the life of a deployment and its officers.

No I/O and no `await` here. Commands are decided against the aggregate's own event stream plus the
facts a handler looked up for it (the officer's offers, their other bookings, the approved
requirement); reference data (vetting ranks, repatriation reasons) is passed in as data.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum
from uuid import UUID

from shared.catalogue.deployment import (
    CapabilityOffered,
    CapabilityWithdrawn,
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
from shared.reference.data import ReferenceData

#: Longest tour (or offer window) the hub plans in one go; extensions add to it later.
MAX_TOUR_MONTHS = 24
MAX_EXTENSION_MONTHS = 12


class DomainError(Exception):
    """A rule refused the command; `rule` is the stable problem type slug. `invalid` marks rules
    about the values asked for (answered 422) rather than the state things are in (409)."""

    def __init__(
        self,
        rule: str,
        detail: str,
        *,
        errors: Sequence[Mapping[str, str]] = (),
        invalid: bool = False,
    ) -> None:
        super().__init__(detail)
        self.rule = rule
        self.detail = detail
        self.errors = [dict(e) for e in errors]
        self.invalid = invalid


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


# --- dates -----------------------------------------------------------------------------------
def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (31 Jan + 1 → 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def tour_end_for(start: date, months: int) -> date:
    """The last day of a tour of `months` starting on `start` (tour dates are inclusive)."""
    return add_months(start, months) - timedelta(days=1)


def extended_end(end: date, months: int) -> date:
    return add_months(end + timedelta(days=1), months) - timedelta(days=1)


# --- offers ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class OfferTerms:
    """The non-identifying facts of an offer (personal data travels separately, sealed)."""

    capability: str
    rank: str
    gender: str
    languages: tuple[str, ...]
    skills: tuple[str, ...]
    vetting_level: str
    vetting_expires: date
    medical_expires: date
    training_expires: date
    passport_expires: date
    available_from: date
    available_to: date


@dataclass(frozen=True)
class Offer:
    offer_id: UUID
    officer_ref: str
    force: str
    terms: OfferTerms
    withdrawn: bool
    version: int

    @property
    def capability(self) -> str:
        return self.terms.capability


def evolve_offer(state: Offer | None, event: EventData, version: int) -> Offer:
    match event:
        case CapabilityOffered():
            terms = OfferTerms(
                capability=event.capability,
                rank=event.rank,
                gender=event.gender,
                languages=tuple(event.languages),
                skills=tuple(event.skills),
                vetting_level=event.vetting_level,
                vetting_expires=event.vetting_expires,
                medical_expires=event.medical_expires,
                training_expires=event.training_expires,
                passport_expires=event.passport_expires,
                available_from=event.available_from,
                available_to=event.available_to,
            )
            return Offer(event.offer_id, event.officer_ref, event.force, terms, False, version)
        case CapabilityWithdrawn() if state is not None:
            return replace(state, withdrawn=True, version=version)
    raise ValueError(f"cannot apply {type(event).__name__} to {state}")


def fold_offer(events: Iterable[EventData]) -> Offer | None:
    state = None
    for version, event in enumerate(events, start=1):
        state = evolve_offer(state, event, version)
    return state


def decide_offer(
    *,
    offer_id: UUID,
    officer_ref: str,
    force: str,
    terms: OfferTerms,
    personal_data: str,
    today: date,
    officer_erased: bool = False,
) -> list[EventData]:
    if officer_erased:
        raise DomainError(
            "officer-erased", f"the personal data of {officer_ref} was erased; offer them afresh"
        )
    if terms.available_to < terms.available_from:
        raise DomainError(
            "availability-window", "available_to is before available_from", invalid=True
        )
    if terms.available_to < today:
        raise DomainError(
            "availability-in-past", "the availability window has already ended", invalid=True
        )
    if terms.available_to > add_months(terms.available_from, 4 * MAX_TOUR_MONTHS):
        raise DomainError(
            "availability-window", "offer at most eight years of availability", invalid=True
        )
    return [
        CapabilityOffered(
            offer_id=offer_id,
            officer_ref=officer_ref,
            force=force,
            capability=terms.capability,
            rank=terms.rank,
            gender=terms.gender,
            languages=list(terms.languages),
            skills=list(terms.skills),
            vetting_level=terms.vetting_level,
            vetting_expires=terms.vetting_expires,
            medical_expires=terms.medical_expires,
            training_expires=terms.training_expires,
            passport_expires=terms.passport_expires,
            available_from=terms.available_from,
            available_to=terms.available_to,
            personal_data=personal_data,
        )
    ]


def decide_withdraw_offer(
    offer: Offer, *, reason: str, committed_to: Sequence[UUID]
) -> list[EventData]:
    if offer.withdrawn:
        raise DomainError("already-withdrawn", "the offer is already withdrawn")
    if committed_to:
        listed = ", ".join(str(d) for d in committed_to)
        raise DomainError(
            "officer-committed",
            f"{offer.officer_ref} is on deployment {listed}; ask the deployment manager to "
            "cancel or complete it first",
        )
    return [
        CapabilityWithdrawn(offer_id=offer.offer_id, officer_ref=offer.officer_ref, reason=reason)
    ]


# --- the approved requirement ------------------------------------------------------------------
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
    requirement: Requirement | None,
    *,
    deployment_id: UUID,
    live_deployments: Sequence[UUID],
    tour_start: date,
    tour_end: date | None,
    mission: str | None,
    today: date,
) -> list[EventData]:
    if requirement is None or requirement.decision is None:
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
        raise DomainError("tour-start-in-past", "the tour cannot start in the past", invalid=True)
    end = tour_end or tour_end_for(tour_start, requirement.tour_length_months or 6)
    if end <= tour_start:
        raise DomainError("tour-dates", "tour_end must be after tour_start", invalid=True)
    if end > tour_end_for(tour_start, MAX_TOUR_MONTHS):
        raise DomainError(
            "tour-too-long", f"plan at most {MAX_TOUR_MONTHS} months; extend later", invalid=True
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
        )
    ]


# --- the deployment ----------------------------------------------------------------------------
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


def _nominee(state: Deployment, officer_ref: str) -> Nominee:
    nominee = state.nominee(officer_ref)
    if nominee is None:
        raise DomainError("not-nominated", f"{officer_ref} is not nominated to this deployment")
    return nominee


def _require(
    state: Deployment, allowed: frozenset[DeploymentStatus], rule: str, doing: str
) -> None:
    if state.status not in allowed:
        raise DomainError(rule, f"the deployment is {state.status.value}: cannot {doing}")


def validity_problems(
    terms: OfferTerms, until: date, classification: str, ref: ReferenceData
) -> list[dict[str, str]]:
    """Every reason the officer may not serve through `until`, one entry per failing item."""
    problems = []
    need = ref.required_vetting(classification)
    if not ref.vetting_at_least(terms.vetting_level, need):
        problems.append(
            {
                "field": "vetting_level",
                "message": f"{classification} work needs {need} vetting or above; "
                f"the officer holds {terms.vetting_level}",
            }
        )
    for item, expires in (
        ("vetting_expires", terms.vetting_expires),
        ("medical_expires", terms.medical_expires),
        ("training_expires", terms.training_expires),
        ("passport_expires", terms.passport_expires),
    ):
        if expires < until:
            what = item.removesuffix("_expires").replace("training", "hostile-environment training")
            problems.append(
                {"field": item, "message": f"{what} expires on {expires}, before {until}"}
            )
    return problems


def decide_nominate(
    state: Deployment,
    officer_ref: str,
    *,
    offers: Sequence[Offer],
    booked_elsewhere: Sequence[UUID],
    erased: bool,
    ref: ReferenceData,
) -> list[EventData]:
    """Pick the officer's offer that fits this deployment, or say why none does."""
    _require(state, NOMINATING, "not-staffing", "nominate officers")
    if erased:
        raise DomainError("officer-erased", f"the personal data of {officer_ref} was erased")
    if state.nominee(officer_ref) is not None:
        raise DomainError("already-nominated", f"{officer_ref} is already nominated here")
    if len(state.nominees) >= state.headcount:
        raise DomainError(
            "headcount-reached", f"all {state.headcount} posts of this deployment have a nominee"
        )
    candidates = [o for o in offers if not o.withdrawn and o.officer_ref == officer_ref]
    if not candidates:
        raise DomainError("no-active-offer", f"{officer_ref} has no active offer")
    candidates = [o for o in candidates if o.capability == state.capability]
    if not candidates:
        raise DomainError(
            "capability-mismatch", f"{officer_ref} is not offered for {state.capability}"
        )
    candidates = [
        o
        for o in candidates
        if o.terms.available_from <= state.tour_start and o.terms.available_to >= state.tour_end
    ]
    if not candidates:
        raise DomainError(
            "officer-unavailable",
            f"{officer_ref} is not available from {state.tour_start} to {state.tour_end}",
        )
    need = ref.required_vetting(state.classification)
    candidates = [o for o in candidates if ref.vetting_at_least(o.terms.vetting_level, need)]
    if not candidates:
        raise DomainError(
            "vetting-insufficient", f"{state.classification} work needs {need} vetting or above"
        )
    if booked_elsewhere:
        raise DomainError(
            "officer-double-booked",
            f"{officer_ref} is on deployment {booked_elsewhere[0]} at that time",
        )
    offer = candidates[0]
    return [
        OfficerNominated(
            request_id=state.request_id,
            deployment_id=state.deployment_id,
            officer_ref=officer_ref,
            offer_id=offer.offer_id,
            force=offer.force,
            gender=offer.terms.gender,
        )
    ]


def decide_release(state: Deployment, officer_ref: str, *, force: str) -> list[EventData]:
    _require(state, CANCELLABLE, "not-staffing", "release officers")
    nominee = _nominee(state, officer_ref)
    if nominee.force != force:
        raise DomainError("not-your-officer", f"{officer_ref} belongs to another force")
    if nominee.status != OfficerStatus.NOMINATED:
        raise DomainError("already-released", f"{officer_ref} is already {nominee.status.value}")
    return [
        OfficerReleased(
            request_id=state.request_id,
            deployment_id=state.deployment_id,
            officer_ref=officer_ref,
            force=force,
        )
    ]


def decide_clear(
    state: Deployment, officer_ref: str, *, offer: Offer | None, ref: ReferenceData
) -> list[EventData]:
    """`offer` is the one the officer was nominated under (None only if they were not)."""
    _require(state, CANCELLABLE, "not-staffing", "clear officers")
    nominee = _nominee(state, officer_ref)
    if nominee.status == OfficerStatus.NOMINATED:
        raise DomainError("not-released", f"{officer_ref}'s home force has not released them yet")
    if nominee.status != OfficerStatus.RELEASED:
        raise DomainError("already-cleared", f"{officer_ref} is already {nominee.status.value}")
    assert offer is not None and offer.offer_id == nominee.offer_id
    problems = validity_problems(offer.terms, state.tour_end, state.classification, ref)
    if problems:
        raise DomainError(
            "clearance-failed",
            f"{officer_ref} cannot be cleared for a tour ending on {state.tour_end}: "
            f"{len(problems)} item(s) fail",
            errors=problems,
        )
    t = offer.terms
    valid_until = min(t.vetting_expires, t.medical_expires, t.training_expires, t.passport_expires)
    return [
        OfficerCleared(
            request_id=state.request_id,
            deployment_id=state.deployment_id,
            officer_ref=officer_ref,
            valid_until=valid_until,
        )
    ]


def decide_start(state: Deployment, *, on: date) -> list[EventData]:
    if state.status in (DeploymentStatus.DEPLOYED, DeploymentStatus.COMPLETED):
        raise DomainError("already-started", "the deployment has already started")
    _require(state, CANCELLABLE, "not-staffing", "start")
    if state.status != DeploymentStatus.READY:
        missing = [
            {"field": f"officers.{n.officer_ref}", "message": f"is {n.status.value}, not cleared"}
            for n in state.nominees
            if n.status != OfficerStatus.CLEARED
        ]
        vacant = state.headcount - len(state.nominees)
        if vacant > 0:
            missing.append({"field": "headcount", "message": f"{vacant} post(s) have no nominee"})
        raise DomainError(
            "posts-not-filled",
            "every post needs a cleared officer before the start",
            errors=missing,
        )
    if on > state.tour_end:
        raise DomainError(
            "start-after-tour-end", f"the tour ends on {state.tour_end}", invalid=True
        )
    return [
        DeploymentStarted(
            request_id=state.request_id,
            deployment_id=state.deployment_id,
            started_on=on,
            officer_refs=[n.officer_ref for n in state.cleared],
        )
    ]


def decide_extend(
    state: Deployment,
    months: int,
    *,
    offers: Mapping[str, Offer],
    booked_elsewhere: Mapping[str, Sequence[UUID]],
    ref: ReferenceData,
) -> list[EventData]:
    """Re-check every officer still deployed against the new end: validity, availability and
    other bookings. `offers` maps each officer to the offer they were nominated under."""
    _require(state, DEPLOYED, "not-deployed", "extend the tour")
    if not 1 <= months <= MAX_EXTENSION_MONTHS:
        raise DomainError(
            "extension-months", f"extend by 1 to {MAX_EXTENSION_MONTHS} months", invalid=True
        )
    new_end = extended_end(state.tour_end, months)
    problems: list[dict[str, str]] = []
    for n in state.nominees:
        if n.status != OfficerStatus.DEPLOYED:
            continue
        offer = offers[n.officer_ref]
        for p in validity_problems(offer.terms, new_end, state.classification, ref):
            problems.append(
                {"field": f"officers.{n.officer_ref}.{p['field']}", "message": p["message"]}
            )
        if offer.terms.available_to < new_end:
            problems.append(
                {
                    "field": f"officers.{n.officer_ref}.available_to",
                    "message": f"offered until {offer.terms.available_to} only",
                }
            )
        for other in booked_elsewhere.get(n.officer_ref, ()):
            problems.append(
                {
                    "field": f"officers.{n.officer_ref}.bookings",
                    "message": f"on deployment {other} before {new_end}",
                }
            )
    if problems:
        raise DomainError(
            "extension-not-possible",
            f"the tour cannot run to {new_end}: {len(problems)} item(s) fail",
            errors=problems,
        )
    return [
        TourExtended(
            request_id=state.request_id,
            deployment_id=state.deployment_id,
            months=months,
            new_end=new_end,
        )
    ]


def decide_repatriate(
    state: Deployment, officer_ref: str, *, reason_code: str, on: date, ref: ReferenceData
) -> list[EventData]:
    _require(state, DEPLOYED, "not-deployed", "repatriate officers")
    nominee = _nominee(state, officer_ref)
    if nominee.status != OfficerStatus.DEPLOYED:
        raise DomainError("officer-not-deployed", f"{officer_ref} is {nominee.status.value}")
    if not ref.is_repatriation_reason(reason_code):
        raise DomainError(
            "unknown-reason-code",
            f"{reason_code!r} is not a published repatriation reason",
            invalid=True,
        )
    assert state.started_on is not None
    if not state.started_on <= on <= state.tour_end:
        raise DomainError(
            "repatriation-date",
            f"the date must lie within the tour ({state.started_on} to {state.tour_end})",
            invalid=True,
        )
    return [
        OfficerRepatriated(
            request_id=state.request_id,
            deployment_id=state.deployment_id,
            officer_ref=officer_ref,
            reason_code=reason_code,
            on=on,
        )
    ]


def decide_complete(state: Deployment, *, on: date) -> list[EventData]:
    _require(state, DEPLOYED, "not-deployed", "complete")
    assert state.started_on is not None
    if on < state.started_on:
        raise DomainError(
            "completion-date", f"the tour started on {state.started_on}", invalid=True
        )
    return [
        DeploymentCompleted(
            request_id=state.request_id, deployment_id=state.deployment_id, completed_on=on
        )
    ]


def decide_cancel(state: Deployment, *, reason: str) -> list[EventData]:
    if state.status == DeploymentStatus.CANCELLED:
        raise DomainError("already-cancelled", "the deployment is already cancelled")
    if state.status not in CANCELLABLE:
        raise DomainError(
            "not-cancellable",
            f"the deployment is {state.status.value}: officers come home by repatriation or "
            "completion",
        )
    return [
        DeploymentCancelled(
            request_id=state.request_id,
            deployment_id=state.deployment_id,
            reason=reason,
            released_officer_refs=[n.officer_ref for n in state.nominees],
        )
    ]
