"""The one status function: a request's partner-visible status, folded from the gateway's events
(intake shows it and decides on it, reporting counts it)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from shared.events import REGISTRY
from shared.request_status import ASKABLE, Status, progress_of, status_of


def test_status_follows_the_partner_visible_life_of_a_request() -> None:
    steps = [
        "RequestSubmitted",
        "RequestTriaged",
        "InformationRequested",
        "RequestAmended",
        "RequestAssessed",
        "RequestPutOnHold",
        "RequestResumed",
        "RequestApproved",
        "DeploymentPlanned",
        "OfficerNominated",
        "DeploymentStarted",
        "DeploymentCompleted",
    ]
    seen = [status_of(steps[: i + 1]) for i in range(len(steps))]
    assert seen == [
        Status.SUBMITTED,
        Status.IN_TRIAGE,
        Status.INFORMATION_REQUESTED,
        Status.IN_TRIAGE,
        Status.ASSESSED,
        Status.ON_HOLD,
        Status.ASSESSED,
        Status.APPROVED,
        Status.SOURCING,
        Status.DEPLOYING,
        Status.DEPLOYED,
        Status.CLOSED,
    ]


def test_final_states_stay_final() -> None:
    assert status_of(["RequestSubmitted", "RequestRejected", "RequestApproved"]) == Status.REJECTED
    assert status_of(["RequestSubmitted", "RequestWithdrawn", "RequestTriaged"]) == Status.WITHDRAWN


def test_a_withdrawal_that_crossed_a_final_outcome_or_the_start_changes_nothing() -> None:
    # Intake and reporting used to disagree here: intake made these "withdrawn".
    for before in ("RequestRejected", "DeploymentCompleted"):
        assert status_of(["RequestSubmitted", before, "RequestWithdrawn"]) != Status.WITHDRAWN
    started = ["RequestSubmitted", "RequestApproved", "DeploymentPlanned", "DeploymentStarted"]
    assert status_of([*started, "RequestWithdrawn"]) == Status.DEPLOYED
    assert status_of(["RequestSubmitted", "RequestApproved", "RequestWithdrawn"]) == (
        Status.WITHDRAWN
    )


def test_a_cancelled_deployment_returns_the_request_to_approved() -> None:
    assert (
        status_of(
            ["RequestSubmitted", "RequestApproved", "DeploymentPlanned", "DeploymentCancelled"]
        )
        == Status.APPROVED
    )


# --- questions at any stage before a final decision ---------------------------------------------

ASKED, ANSWERED = "InformationRequested", "RequestAmended"
#: The events that take a request to each stage the hub may ask at, and the status seen there
#: (the board's and the minister's stages are both `assessed` to the partner).
STAGES = {
    "in_triage": (["RequestSubmitted", "RequestTriaged"], Status.IN_TRIAGE),
    "assessed": (["RequestSubmitted", "RequestTriaged", "RequestAssessed"], Status.ASSESSED),
    "awaiting_ministerial": (
        ["RequestSubmitted", "RequestTriaged", "RequestAssessed", "ApprovalGiven"],
        Status.ASSESSED,
    ),
    "on_hold": (
        ["RequestSubmitted", "RequestTriaged", "RequestAssessed", "RequestPutOnHold"],
        Status.ON_HOLD,
    ),
}


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_questions_at_any_stage_before_a_decision_return_the_request_there(stage: str) -> None:
    before, status = STAGES[stage]
    assert status_of(before) == status
    assert status_of([*before, ASKED]) == Status.INFORMATION_REQUESTED
    assert status_of([*before, ASKED, ANSWERED]) == status
    assert progress_of([*before, ASKED]).changeable is (stage == "in_triage")


def test_questions_once_the_hub_decided_change_nothing() -> None:
    decided = ["RequestSubmitted", "RequestTriaged", "RequestAssessed"]
    for outcome, status in (
        (["RequestApproved"], Status.APPROVED),
        (["RequestApproved", "DeploymentPlanned"], Status.SOURCING),
        (["RequestRejected"], Status.REJECTED),
        (["RequestWithdrawn"], Status.WITHDRAWN),
    ):
        assert status_of([*decided, *outcome, ASKED]) == status
        assert status_of([*decided, *outcome, ASKED, ANSWERED]) == status


def test_a_final_decision_ends_the_open_questions() -> None:
    waiting = [*STAGES["assessed"][0], ASKED]
    assert status_of([*waiting, "RequestRejected"]) == Status.REJECTED
    assert status_of([*waiting, "RequestWithdrawn", ANSWERED]) == Status.WITHDRAWN


def test_a_hold_or_resumption_while_questions_are_open_is_where_the_answer_returns() -> None:
    waiting = [*STAGES["assessed"][0], ASKED]
    assert status_of([*waiting, "RequestPutOnHold"]) == Status.INFORMATION_REQUESTED
    assert status_of([*waiting, "RequestPutOnHold", ANSWERED]) == Status.ON_HOLD
    resumed = [*STAGES["on_hold"][0], ASKED, "RequestResumed"]
    assert status_of(resumed) == Status.INFORMATION_REQUESTED
    assert status_of([*resumed, ANSWERED]) == Status.ASSESSED


#: Every event type about a request, from the catalogue (those the fold does not know change
#: nothing).
EVENT_TYPES = REGISTRY.event_types(with_field="request_id")
histories = st.lists(st.sampled_from(EVENT_TYPES), max_size=25)


def unasked(events: list[str]) -> list[str]:
    """The history had the hub not asked: a question still shows it has the case (as its
    opening does), an answer is no more."""
    return ["RequestTriaged" if e == ASKED else e for e in events if e != ANSWERED]


@given(histories)
def test_questions_and_answers_never_move_the_stage(events: list[str]) -> None:
    # The stage is what the request would be at had the hub never asked: so an answer returns
    # the request to a status it would have had anyway, never to one it did not have.
    without = unasked(events)
    progress = progress_of(events)
    assert progress.stage == progress_of(without).stage
    assert progress.stage != Status.INFORMATION_REQUESTED
    if progress.questions_open:
        assert progress.stage in ASKABLE and progress.status == Status.INFORMATION_REQUESTED
    else:
        assert progress.status == progress_of(without).status


@given(histories, histories)
def test_a_question_answered_at_once_leaves_no_trace(before: list[str], after: list[str]) -> None:
    # Asked and answered where no questions were open: the request is where it would have been.
    assume(not progress_of(before).questions_open)
    opened = [*before, "RequestTriaged"]
    assert progress_of([*before, ASKED, ANSWERED, *after]) == progress_of([*opened, *after])
    assert progress_of([*before, ASKED, ANSWERED]).status == status_of(opened)


def test_a_question_to_a_request_not_yet_seen_opened_puts_it_in_triage() -> None:
    assert status_of(["RequestSubmitted", ASKED, ANSWERED]) == Status.IN_TRIAGE
