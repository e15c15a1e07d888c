"""Officers offered by UK forces: an offer's terms, its stream, and the rules on offering."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import date
from uuid import UUID

from services.deployment.domain.dates import MAX_TOUR_MONTHS, add_months
from shared.catalogue.deployment import (
    CapabilityOffered,
    CapabilityWithdrawn,
    OfferUpdated,
)
from shared.events import EventData
from shared.refusals import DomainError, Kind


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
        case OfferUpdated() if state is not None:
            changed = {
                f.name: tuple(v) if isinstance(v := getattr(event, f.name), list) else v
                for f in fields(OfferTerms)
                if getattr(event, f.name) is not None
            }
            terms = replace(state.terms, **changed)  # type: ignore[arg-type]
            return replace(state, terms=terms, version=version)
    raise ValueError(f"cannot apply {type(event).__name__} to {state}")


def fold_offer(events: Iterable[EventData]) -> Offer | None:
    state = None
    for version, event in enumerate(events, start=1):
        state = evolve_offer(state, event, version)
    return state


def _check_window(terms: OfferTerms, today: date) -> None:
    if terms.available_to < terms.available_from:
        raise DomainError(
            "availability-window", "available_to is before available_from", kind=Kind.INVALID
        )
    if terms.available_to < today:
        raise DomainError(
            "availability-in-past", "the availability window has already ended", kind=Kind.INVALID
        )
    if terms.available_to > add_months(terms.available_from, 4 * MAX_TOUR_MONTHS):
        raise DomainError(
            "availability-window", "offer at most eight years of availability", kind=Kind.INVALID
        )


def decide_update_offer(
    offer: Offer,
    new_terms: OfferTerms,
    *,
    today: date,
    personal_data: str | None = None,
    bookings: Sequence[tuple[date, date]] = (),
) -> list[EventData]:
    """Change the offer in place (an officer is offered once): the event names what changed.
    The window must still cover the tours the officer is booked on (`bookings`); readiness
    dates are checked against a tour at clearance, where an expiry mid-tour is named."""
    if offer.withdrawn:
        raise DomainError("offer-withdrawn", "the offer was withdrawn: offer the officer afresh")
    _check_window(new_terms, today)
    for start, end in bookings:
        if new_terms.available_from > start or new_terms.available_to < end:
            raise DomainError(
                "officer-committed",
                f"{offer.officer_ref} is booked from {start} to {end}: the availability window "
                "must cover it",
                errors=[{"field": "available_from", "message": f"must cover {start} to {end}"}],
            )
    old, new = asdict(offer.terms), asdict(new_terms)
    changed = {k: list(v) if isinstance(v, tuple) else v for k, v in new.items() if old[k] != v}
    if not changed and personal_data is None:
        raise DomainError("offer-unchanged", "the offer already says that")
    return [
        OfferUpdated(
            offer_id=offer.offer_id,
            officer_ref=offer.officer_ref,
            personal_data=personal_data,
            **changed,
        )
    ]


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
    _check_window(terms, today)
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
