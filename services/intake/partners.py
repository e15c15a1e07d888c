"""The partner registry's domain, pure: who may ask the hub for help, and as what.

A partner's type (UN, EU, foreign government, ...) weighs in the priority score and in every KPI
by partner type, so it is the hub's to say, never the partner's: it comes from here, not from a
request body. Only a registered, active partner's token may submit or act on requests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from shared.catalogue.intake import (
    PartnerDeactivated,
    PartnerReactivated,
    PartnerRegistered,
    PartnerUpdated,
)
from shared.events import EventData
from shared.refusals import DomainError, invalid


def partner_stream(partner_id: str) -> str:
    return f"partner-{partner_id}"


def partner_key(partner_id: str) -> str:
    """The key of a partner's events (its stream's key on the topic)."""
    return f"partner:{partner_id}"


@dataclass(frozen=True)
class Partner:
    partner_id: str
    name: str
    partner_type: str
    organisation: str
    country: str | None
    active: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "partner_id": self.partner_id,
            "name": self.name,
            "partner_type": self.partner_type,
            "organisation": self.organisation,
            "country": self.country,
            "active": self.active,
        }


def evolve(state: Partner | None, event: EventData) -> Partner | None:
    match event:
        case PartnerRegistered():
            return Partner(
                event.partner_id,
                event.name,
                event.partner_type,
                event.organisation,
                event.country,
                True,
            )
        case PartnerUpdated() if state is not None:
            changes = {k: v for k, v in event.model_dump().items() if v is not None}
            changes.pop("partner_id", None)
            return replace(state, **changes)
        case PartnerDeactivated() if state is not None:
            return replace(state, active=False)
        case PartnerReactivated() if state is not None:
            return replace(state, active=True)
    return state


def fold(events: Iterable[EventData]) -> Partner | None:
    state = None
    for event in events:
        state = evolve(state, event)
    return state


def decide_register(
    state: Partner | None,
    *,
    partner_id: str,
    name: str,
    partner_type: str,
    organisation: str,
    country: str | None,
    known_partner_types: frozenset[str],
) -> list[EventData]:
    if state is not None:
        raise DomainError("partner-exists", f"partner {partner_id} is registered already")
    _known_type(partner_type, known_partner_types)
    return [
        PartnerRegistered(
            partner_id=partner_id,
            name=name,
            partner_type=partner_type,
            organisation=organisation,
            country=country,
        )
    ]


def decide_update(
    state: Partner, changes: Mapping[str, Any], known_partner_types: frozenset[str]
) -> list[EventData]:
    named = {k: v for k, v in changes.items() if v is not None and getattr(state, k) != v}
    if not named:
        raise invalid("nothing-to-change", "the update names no field that would change")
    if "partner_type" in named:
        _known_type(named["partner_type"], known_partner_types)
    return [PartnerUpdated(partner_id=state.partner_id, **named)]


def decide_deactivate(state: Partner, reason: str) -> list[EventData]:
    if not state.active:
        raise DomainError("partner-inactive", f"partner {state.partner_id} is already inactive")
    return [PartnerDeactivated(partner_id=state.partner_id, reason=reason)]


def decide_reactivate(state: Partner, reason: str) -> list[EventData]:
    if state.active:
        raise DomainError("partner-active", f"partner {state.partner_id} is already active")
    return [PartnerReactivated(partner_id=state.partner_id, reason=reason)]


def _known_type(partner_type: str, known: frozenset[str]) -> None:
    if partner_type not in known:
        raise invalid(
            "unknown-partner-type",
            f"'{partner_type}' is not a partner type ({', '.join(sorted(known))})",
            errors=[{"field": "body.partner_type", "message": "not a published partner type"}],
        )


def reconcile(declared: str | None, registered: str, field: str) -> None:
    """A request body may repeat what the registry says of the partner, never contradict it."""
    if declared is not None and declared != registered:
        raise invalid(
            "registered-value-differs",
            f"{field} comes from the partner registry: your organisation is registered with "
            f"{field} '{registered}'",
            errors=[{"field": f"body.{field}", "message": f"the registry says '{registered}'"}],
        )
