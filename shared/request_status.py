"""The status of a request as a partner sees it (DESIGN §1), folded from the gateway's events.

Pure, and the only place these rules live: intake shows it to partners and decides on it,
reporting counts it. Events arrive from three topics; callers fold them in the order they
happened (`occurred_at`), so the result does not depend on the order they were consumed in.
The fold keeps a `Progress` rather than a bare status: the hub may ask questions at any stage
before its final decision, and the answer returns the request to the stage they were asked in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
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
#: Before the assessment a partner may change anything it submitted.
BEFORE_ASSESSMENT = frozenset({Status.SUBMITTED, Status.IN_TRIAGE})
#: The stages the hub may ask the partner questions in: any before its final decision (the
#: partner sees the board's and the minister's stages as `assessed`).
ASKABLE = BEFORE_ASSESSMENT | {Status.ASSESSED, Status.ON_HOLD}
#: A partner may amend (change, or answer the hub's questions) in these statuses; what an
#: amendment may hold depends on the stage (`Progress.changeable`).
AMENDABLE = BEFORE_ASSESSMENT | {Status.INFORMATION_REQUESTED}
#: A partner may withdraw until the officers deploy.
WITHDRAWABLE = frozenset(set(Status) - FINAL - {Status.DEPLOYED})


@dataclass(frozen=True)
class Progress:
    """Where a request is: the stage it is at, and whether the hub's questions wait for the
    partner. Questions may come at any stage before a final decision; the answer returns the
    request to the stage, so the stage is kept apart from the questions."""

    #: The stage, the open questions aside: never `information_requested`.
    stage: Status = Status.SUBMITTED
    #: The hub asked and the partner has not answered yet.
    questions_open: bool = False

    @property
    def status(self) -> Status:
        """The status the partner sees."""
        return Status.INFORMATION_REQUESTED if self.questions_open else self.stage

    @property
    def changeable(self) -> bool:
        """May the partner change what it submitted? Only before the assessment: questions
        asked after it take answers only, since the assessment was made on those fields."""
        return self.stage in BEFORE_ASSESSMENT


def advance(progress: Progress, event_type: str) -> Progress:
    """The progress after one more event. While questions are open the hub's other events
    still move the stage (a hold, a resumption), so the answer returns the request to where the
    hub has taken it meanwhile; a final decision ends the questions (nothing is left to answer
    for)."""
    if progress.stage in FINAL:
        return progress
    match event_type:
        case InformationRequested.event_type:
            # A question shows the hub has the case (as its opening would: from `submitted` it
            # is in triage). Asked once approved (or later), there is nothing to answer for.
            stage = _next_stage(progress.stage, RequestTriaged.event_type)
            return Progress(stage, stage in ASKABLE)
        case RequestAmended.event_type:
            # Any amendment answers: intake lets one without answers through only before the
            # assessment, where the partner may answer by changing the request.
            return Progress(progress.stage)
    stage = _next_stage(progress.stage, event_type)
    return Progress(stage, progress.questions_open and stage in ASKABLE)


def _next_stage(current: Status, event_type: str) -> Status:
    """The stage after one more event other than a question or an answer. Events a partner
    does not see as a change of status (scores, one stage's approval, nominations after the
    first) keep it. A withdrawal that crossed a rejection, a completion or the start of the
    deployment changes nothing: those came first."""
    match event_type:
        case RequestSubmitted.event_type:
            return Status.SUBMITTED
        case RequestTriaged.event_type:
            return Status.IN_TRIAGE if current == Status.SUBMITTED else current
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


def progress_of(event_types: Iterable[str]) -> Progress:
    """The progress after these events, in the order they happened."""
    progress = Progress()
    for event_type in event_types:
        progress = advance(progress, event_type)
    return progress


def status_of(event_types: Iterable[str]) -> Status:
    """The status after these events, in the order they happened."""
    return progress_of(event_types).status
