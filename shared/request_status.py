"""The status of a request as a partner sees it (DESIGN §1), folded from the gateway's events.

Pure, and the only place these rules live: intake shows it to partners and decides on it,
reporting counts it. Events arrive from three topics; callers fold them in the order they
happened (`occurred_at`), so the result does not depend on the order they were consumed in.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from shared.catalogue.deployment import (
    DeploymentCancelled,
    DeploymentCompleted,
    DeploymentPlanned,
    DeploymentStarted,
    OfficerCleared,
    OfficerNominated,
    OfficerReleased,
    TourExtended,
)
from shared.catalogue.intake import RequestAmended, RequestSubmitted, RequestWithdrawn
from shared.catalogue.triage import (
    InformationRequested,
    RequestApproved,
    RequestAssessed,
    RequestPutOnHold,
    RequestRejected,
    RequestResumed,
    RequestTriaged,
)


class Status(StrEnum):
    SUBMITTED = "submitted"
    IN_TRIAGE = "in_triage"
    INFORMATION_REQUESTED = "information_requested"
    ASSESSED = "assessed"
    APPROVED = "approved"
    REJECTED = "rejected"
    ON_HOLD = "on_hold"
    SOURCING = "sourcing"
    DEPLOYING = "deploying"
    DEPLOYED = "deployed"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


#: Nothing changes a request's status once it is here.
FINAL = frozenset({Status.REJECTED, Status.CLOSED, Status.WITHDRAWN})
#: Before assessment a partner may change anything it submitted.
AMENDABLE = frozenset({Status.SUBMITTED, Status.IN_TRIAGE, Status.INFORMATION_REQUESTED})
#: A partner may withdraw until the officers deploy.
WITHDRAWABLE = frozenset(set(Status) - FINAL - {Status.DEPLOYED})


def next_status(current: Status, event_type: str) -> Status:
    """The status after one more event. Events a partner does not see as a change of status
    (scores, one stage's approval, nominations after the first) keep it. A withdrawal that
    crossed a rejection, a completion or the start of the deployment changes nothing: those
    came first."""
    if current in FINAL:
        return current
    match event_type:
        case RequestSubmitted.event_type:
            return Status.SUBMITTED
        case RequestTriaged.event_type:
            return Status.IN_TRIAGE if current == Status.SUBMITTED else current
        case InformationRequested.event_type:
            return Status.INFORMATION_REQUESTED
        case RequestAmended.event_type:
            return Status.IN_TRIAGE if current == Status.INFORMATION_REQUESTED else current
        case RequestAssessed.event_type:
            return Status.ASSESSED
        case RequestApproved.event_type:
            return Status.APPROVED
        case RequestRejected.event_type:
            return Status.REJECTED
        case RequestPutOnHold.event_type:
            return Status.ON_HOLD
        case RequestResumed.event_type:
            return Status.ASSESSED if current == Status.ON_HOLD else current
        case DeploymentPlanned.event_type:
            return Status.SOURCING if current in (Status.APPROVED, Status.SOURCING) else current
        case OfficerNominated.event_type | OfficerReleased.event_type | OfficerCleared.event_type:
            return Status.DEPLOYING if current in (Status.SOURCING, Status.DEPLOYING) else current
        case DeploymentStarted.event_type | TourExtended.event_type:
            return Status.DEPLOYED
        case DeploymentCompleted.event_type:
            return Status.CLOSED
        case DeploymentCancelled.event_type:
            return Status.APPROVED if current in (Status.SOURCING, Status.DEPLOYING) else current
        case RequestWithdrawn.event_type:
            return current if current == Status.DEPLOYED else Status.WITHDRAWN
    return current


def status_of(event_types: Iterable[str]) -> Status:
    """The status after these events, in the order they happened."""
    status = Status.SUBMITTED
    for event_type in event_types:
        status = next_status(status, event_type)
    return status
