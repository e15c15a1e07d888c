"""The one status function: a request's partner-visible status, folded from the gateway's events
(intake shows it and decides on it, reporting counts it)."""

from __future__ import annotations

from shared.request_status import Status, status_of


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
