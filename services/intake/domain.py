"""Intake's domain, pure: what a partner may do with a request.

No I/O and no `await` here. A request's state is folded from its events, in the order they
happened: intake's own stream (submission, amendments, withdrawal) and what triage and deployment
said about the request (the status a partner sees comes from all of them, `shared.request_status`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from shared.catalogue.intake import (
    MessageFromPartner,
    RequestAmended,
    RequestSubmitted,
    RequestWithdrawn,
)
from shared.catalogue.triage import InformationRequested
from shared.events import EventData
from shared.refusals import DomainError, invalid
from shared.request_status import AMENDABLE, WITHDRAWABLE, Progress, Status, advance

__all__ = [
    "DomainError",
    "RequestState",
    "Status",
    "decide_amend",
    "decide_message",
    "decide_withdraw",
    "fold",
    "stream_id",
]


def stream_id(request_id: UUID) -> str:
    """The request's event stream in intake's store."""
    return f"request-{request_id}"


@dataclass(frozen=True)
class RequestState:
    request_id: UUID
    partner_id: str
    progress: Progress
    withdrawn: bool
    #: The request as submitted, amendments applied (JSON values).
    submitted: Mapping[str, Any]
    open_information_request: UUID | None = None
    #: How many questions the open information request asks: each needs its answer.
    open_questions: int = 0

    @property
    def status(self) -> Status:
        return self.progress.status


def evolve(state: RequestState | None, event: EventData) -> RequestState | None:
    """One more event about the request, intake's or another service's."""
    if isinstance(event, RequestSubmitted):
        return RequestState(
            event.request_id,
            event.partner_id,
            Progress(),
            False,
            event.model_dump(mode="json"),
        )
    if state is None:  # another service's event met before the submission: nothing to fold yet
        return None
    state = replace(state, progress=advance(state.progress, event.event_type))
    match event:
        case RequestAmended():
            answered = event.answers and event.information_request_id in (
                None,
                state.open_information_request,
            )
            return replace(
                state,
                submitted={**state.submitted, **event.changes.named()},
                open_information_request=None if answered else state.open_information_request,
            )
        case RequestWithdrawn():
            return replace(state, withdrawn=True)
        case InformationRequested():
            return replace(
                state,
                open_information_request=event.information_request_id,
                open_questions=len(event.questions),
            )
    return state


def fold(events: Iterable[EventData]) -> RequestState | None:
    """The request after these events (in the order they happened), or None before its
    submission."""
    state = None
    for event in events:
        state = evolve(state, event)
    return state


def decide_amend(
    state: RequestState,
    *,
    changes: Mapping[str, Any],
    answers: list[str],
    information_request_id: UUID | None,
) -> list[EventData]:
    if not changes and not answers:
        raise DomainError("empty-amendment", "an amendment needs changes or answers")
    if state.withdrawn:
        raise DomainError("not-amendable", "the request is withdrawn: it can no longer change")
    open_request = state.open_information_request
    if state.status == Status.INFORMATION_REQUESTED:
        if changes and not state.progress.changeable:
            raise DomainError(
                "answers-only-after-assessment",
                f"the hub asked these questions after the assessment (the request is "
                f"{state.progress.stage.value}): answer them without changing the request, "
                "whose fields the assessment was made on",
                errors=[
                    {
                        "field": "body.changes",
                        "message": "no changes once the request is assessed: "
                        f"{', '.join(sorted(changes))} given",
                    }
                ],
            )
        if answers and information_request_id not in (None, open_request):
            raise DomainError(
                "unknown-information-request",
                "those answers do not belong to the open information request",
            )
        if len(answers) != state.open_questions:
            # One answer must not close a request that asked two questions: the hub would
            # assess with a question unanswered. Answers go in the order the questions were put.
            # Nor may a change alone stand for the answers: while questions are open, every
            # amendment answers them (it closes them for triage and in the status), so each
            # needs its answer; fields may change along with them before the assessment.
            raise invalid(
                "answers-per-question",
                f"the hub asked {state.open_questions} question(s): give one answer to each, "
                f"in order ({len(answers)} given)",
                errors=[
                    {
                        "field": "body.answers",
                        "message": f"{state.open_questions} answer(s) expected, "
                        f"{len(answers)} given",
                    }
                ],
            )
    elif state.status not in AMENDABLE:
        raise DomainError(
            "not-amendable",
            f"the request is {state.status.value}: it can be amended only before assessment "
            "or, with answers only after it, when the hub has asked for information",
        )
    elif answers and not changes and open_request is None:
        raise DomainError("no-information-requested", "the hub has not asked any questions")
    return [
        RequestAmended(
            request_id=state.request_id,
            partner_id=state.partner_id,
            changes=dict(changes),
            answers=answers,
            information_request_id=information_request_id or open_request,
        )
    ]


def decide_message(state: RequestState, message: str, *, message_id: UUID) -> list[EventData]:
    """The partner writes to the hub: at any time until the request is withdrawn."""
    if state.withdrawn or state.status == Status.WITHDRAWN:
        raise DomainError("already-withdrawn", "the request is withdrawn")
    return [
        MessageFromPartner(
            request_id=state.request_id,
            partner_id=state.partner_id,
            message_id=message_id,
            partner_message=message,
        )
    ]


def decide_withdraw(state: RequestState, reason: str) -> list[EventData]:
    if state.withdrawn or state.status == Status.WITHDRAWN:
        raise DomainError("already-withdrawn", "the request is already withdrawn")
    if state.status not in WITHDRAWABLE:
        raise DomainError(
            "not-withdrawable",
            f"the request is {state.status.value}: withdrawal is possible only until "
            "deployment starts",
        )
    return [
        RequestWithdrawn(request_id=state.request_id, partner_id=state.partner_id, reason=reason)
    ]
