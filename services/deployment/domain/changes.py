"""Changing people on a deployment without cancelling it: withdraw a nomination, replace a
nominee (the post reopens and is refilled in one step), and let a backfill officer join a tour
already under way. A backfill is nominated like anyone else (`decide_nominate` fills the post an
early repatriation reopened, for the rest of the tour)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from uuid import UUID

from services.deployment.domain.decisions import decide_nominate
from services.deployment.domain.deployment import (
    CANCELLABLE,
    DEPLOYED,
    Deployment,
    OfficerStatus,
    evolve,
)
from services.deployment.domain.offers import Offer
from shared.catalogue.deployment import NominationWithdrawn, OfficerDeployed
from shared.events import EventData
from shared.reference.data import ReferenceData
from shared.refusals import DomainError, Kind

#: A nominee who has not deployed yet can be withdrawn.
WITHDRAWABLE = frozenset({OfficerStatus.NOMINATED, OfficerStatus.RELEASED, OfficerStatus.CLEARED})


def decide_withdraw_nomination(
    state: Deployment, officer_ref: str, *, reason: str, replaced_by: str | None = None
) -> list[EventData]:
    """Before the start, or (under way) a backfill nominee who has not joined yet."""
    nominee = state.nominee(officer_ref)
    if nominee is None or nominee.status == OfficerStatus.WITHDRAWN:
        raise DomainError("not-nominated", f"{officer_ref} is not nominated to this deployment")
    backfill = state.status in DEPLOYED and nominee.starts_on is not None
    if state.status not in CANCELLABLE and not backfill:
        raise DomainError(
            "not-staffing",
            f"the deployment is {state.status.value}: a deployed officer comes home by "
            "repatriation",
        )
    if nominee.status not in WITHDRAWABLE:
        raise DomainError("officer-deployed", f"{officer_ref} is {nominee.status.value}")
    assert nominee.post_id is not None
    return [
        NominationWithdrawn(
            request_id=state.request_id,
            deployment_id=state.deployment_id,
            officer_ref=officer_ref,
            post_id=nominee.post_id,
            reason=reason,
            replaced_by=replaced_by,
        )
    ]


def decide_replace(
    state: Deployment,
    officer_ref: str,
    replacement: str,
    *,
    reason: str,
    offers: Sequence[Offer],
    booked_elsewhere: Sequence[UUID],
    erased: bool,
    ref: ReferenceData,
) -> list[EventData]:
    """Withdraw `officer_ref` and nominate `replacement` to the same post, or neither."""
    if replacement == officer_ref:
        raise DomainError(
            "same-officer",
            "the replacement is the nominee; update their offer instead",
            kind=Kind.INVALID,
            errors=[{"field": "officer_ref", "message": "names the officer being replaced"}],
        )
    withdrawn = decide_withdraw_nomination(
        state, officer_ref, reason=reason, replaced_by=replacement
    )
    reopened = evolve(state, withdrawn[0], state.version + 1)
    post_id = state.nominee(officer_ref).post_id  # type: ignore[union-attr]
    nominated = decide_nominate(
        reopened,
        replacement,
        offers=offers,
        booked_elsewhere=booked_elsewhere,
        erased=erased,
        ref=ref,
        post_id=post_id,
    )
    return withdrawn + nominated


def decide_deploy_officer(
    state: Deployment, officer_ref: str, *, on: date, today: date
) -> list[EventData]:
    """A cleared backfill officer joins the tour, on or after their post's first vacant day."""
    nominee = state.nominee(officer_ref)
    if nominee is None or nominee.status == OfficerStatus.WITHDRAWN:
        raise DomainError("not-nominated", f"{officer_ref} is not nominated to this deployment")
    if state.status not in DEPLOYED or nominee.starts_on is None:
        raise DomainError(
            "not-a-backfill", "officers nominated before the start deploy with the deployment"
        )
    if nominee.status != OfficerStatus.CLEARED:
        raise DomainError("not-cleared", f"{officer_ref} is {nominee.status.value}, not cleared")
    if not nominee.starts_on <= on <= state.tour_end:
        raise DomainError(
            "deployment-date",
            f"the officer's part of the tour runs from {nominee.starts_on} to {state.tour_end}",
            kind=Kind.INVALID,
        )
    if on > today:
        raise DomainError(
            "deployment-in-future",
            f"the date {on} is in the future (today is {today})",
            kind=Kind.INVALID,
        )
    assert nominee.post_id is not None
    return [
        OfficerDeployed(
            request_id=state.request_id,
            deployment_id=state.deployment_id,
            officer_ref=officer_ref,
            post_id=nominee.post_id,
            on=on,
        )
    ]
