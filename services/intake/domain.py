"""Intake's domain, pure: what a partner may do with a request, and the status it sees.

No I/O and no `await` here. Commands are decided against the request's own event stream plus the
partner-visible status that intake's projection derives from triage's and deployment's events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID

from shared.catalogue.intake import RequestAmended, RequestSubmitted, RequestWithdrawn
from shared.events import EventData


class Status(StrEnum):
    """The status a partner sees (DESIGN §1)."""

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


FINAL = {Status.REJECTED, Status.CLOSED, Status.WITHDRAWN}
#: Before assessment a partner may change anything it submitted.
AMENDABLE = {Status.SUBMITTED, Status.IN_TRIAGE, Status.INFORMATION_REQUESTED}
#: Withdrawal is allowed until the officers deploy.
WITHDRAWABLE = set(Status) - FINAL - {Status.DEPLOYED}


class DomainError(Exception):
    """A rule refused the command; `rule` is the stable problem type slug."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail)
        self.rule = rule
        self.detail = detail


def next_status(current: Status, event_type: str, data: Mapping[str, Any]) -> Status:
    """Fold one gateway event into the partner-visible status. Events a partner does not see as
    a change of status (scores, approvals at one stage, nominations after the first) keep it."""
    if current in FINAL and event_type != "RequestWithdrawn":
        return current
    match event_type:
        case "RequestSubmitted":
            return Status.SUBMITTED
        case "RequestTriaged":
            return Status.IN_TRIAGE if current == Status.SUBMITTED else current
        case "InformationRequested":
            return Status.INFORMATION_REQUESTED
        case "RequestAmended":
            return Status.IN_TRIAGE if current == Status.INFORMATION_REQUESTED else current
        case "RequestAssessed":
            return Status.ASSESSED
        case "RequestApproved":
            return Status.APPROVED
        case "RequestRejected":
            return Status.REJECTED
        case "RequestPutOnHold":
            return Status.ON_HOLD
        case "RequestResumed":
            return Status.ASSESSED if current == Status.ON_HOLD else current
        case "DeploymentPlanned":
            return Status.SOURCING if current in (Status.APPROVED, Status.SOURCING) else current
        case "OfficerNominated" | "OfficerReleased" | "OfficerCleared":
            return Status.DEPLOYING if current in (Status.SOURCING, Status.DEPLOYING) else current
        case "DeploymentStarted" | "TourExtended":
            return Status.DEPLOYED
        case "DeploymentCompleted":
            return Status.CLOSED
        case "DeploymentCancelled":
            return Status.APPROVED if current in (Status.SOURCING, Status.DEPLOYING) else current
        case "RequestWithdrawn":
            return Status.WITHDRAWN
    return current


def status_of(events: Iterable[tuple[str, Mapping[str, Any]]]) -> Status:
    status = Status.SUBMITTED
    for event_type, data in events:
        status = next_status(status, event_type, data)
    return status


@dataclass(frozen=True)
class RequestState:
    """What intake's own stream says about a request."""

    request_id: UUID
    partner_id: str
    version: int
    withdrawn: bool
    submitted: Mapping[str, Any]


def evolve(state: RequestState | None, event: EventData, version: int) -> RequestState:
    match event:
        case RequestSubmitted():
            return RequestState(
                event.request_id, event.partner_id, version, False, event.model_dump(mode="json")
            )
        case RequestAmended() if state is not None:
            merged = {**state.submitted, **event.changes}
            return RequestState(state.request_id, state.partner_id, version, False, merged)
        case RequestWithdrawn() if state is not None:
            return RequestState(state.request_id, state.partner_id, version, True, state.submitted)
    raise ValueError(f"cannot apply {type(event).__name__} to {state}")


def fold(events: Iterable[EventData]) -> RequestState | None:
    state = None
    for version, event in enumerate(events, start=1):
        state = evolve(state, event, version)
    return state


def decide_amend(
    state: RequestState,
    status: Status,
    *,
    changes: Mapping[str, Any],
    answers: list[str],
    information_request_id: UUID | None,
    open_information_request: UUID | None,
) -> list[EventData]:
    if not changes and not answers:
        raise DomainError("empty-amendment", "an amendment needs changes or answers")
    if status == Status.INFORMATION_REQUESTED:
        if answers and information_request_id not in (None, open_information_request):
            raise DomainError(
                "unknown-information-request",
                "those answers do not belong to the open information request",
            )
    elif status not in AMENDABLE:
        raise DomainError(
            "not-amendable",
            f"the request is {status.value}: it can be amended only before assessment "
            "or when the hub has asked for information",
        )
    elif answers and not changes and open_information_request is None:
        raise DomainError("no-information-requested", "the hub has not asked any questions")
    return [
        RequestAmended(
            request_id=state.request_id,
            partner_id=state.partner_id,
            changes=dict(changes),
            answers=answers,
            information_request_id=information_request_id or open_information_request,
        )
    ]


def decide_withdraw(state: RequestState, status: Status, reason: str) -> list[EventData]:
    if state.withdrawn or status == Status.WITHDRAWN:
        raise DomainError("already-withdrawn", "the request is already withdrawn")
    if status not in WITHDRAWABLE:
        raise DomainError(
            "not-withdrawable",
            f"the request is {status.value}: withdrawal is possible only until deployment starts",
        )
    return [
        RequestWithdrawn(request_id=state.request_id, partner_id=state.partner_id, reason=reason)
    ]
