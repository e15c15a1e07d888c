"""Intake's rules, pure: given events, when a command, then events or the rule that refuses."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest

from services.intake.domain import (
    DomainError,
    Status,
    decide_amend,
    decide_withdraw,
    fold,
    status_of,
)
from shared.catalogue.intake import (
    Contact,
    RequestAmended,
    RequestSubmitted,
    RequestWithdrawn,
    RoleProfile,
)

RID = uuid4()


def submitted() -> RequestSubmitted:
    return RequestSubmitted(
        request_id=RID,
        reference="JIPH-2026-000001",
        partner_id="un-dpo",
        title="T",
        description="D",
        country="SO",
        requesting_body="UN",
        partner_type="un",
        capability="training",
        headcount=2,
        role_profile=RoleProfile(rank="PC"),
        tour_length_months=6,
        needed_by=date(2030, 1, 1),
        funding_source="cssf-oda",
        classification="OFFICIAL",
        contact=Contact(name="A", email="a@b.c"),
    )


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
    seen = [status_of((s, {}) for s in steps[: i + 1]) for i in range(len(steps))]
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
    assert (
        status_of([("RequestSubmitted", {}), ("RequestRejected", {}), ("RequestApproved", {})])
        == Status.REJECTED
    )
    assert (
        status_of([("RequestSubmitted", {}), ("RequestWithdrawn", {}), ("RequestTriaged", {})])
        == Status.WITHDRAWN
    )


def test_a_cancelled_deployment_returns_the_request_to_approved() -> None:
    assert (
        status_of(
            [
                ("RequestSubmitted", {}),
                ("RequestApproved", {}),
                ("DeploymentPlanned", {}),
                ("DeploymentCancelled", {}),
            ]
        )
        == Status.APPROVED
    )


def test_changes_are_allowed_before_assessment() -> None:
    state = fold([submitted()])
    assert state is not None
    events = decide_amend(
        state,
        Status.IN_TRIAGE,
        changes={"headcount": 3},
        answers=[],
        information_request_id=None,
        open_information_request=None,
    )
    assert isinstance(events[0], RequestAmended) and events[0].changes == {"headcount": 3}
    assert fold([submitted(), events[0]]).submitted["headcount"] == 3  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "status", [Status.ASSESSED, Status.APPROVED, Status.DEPLOYED, Status.WITHDRAWN]
)
def test_changes_after_assessment_are_refused_with_the_reason(status: Status) -> None:
    state = fold([submitted()])
    assert state is not None
    with pytest.raises(DomainError) as err:
        decide_amend(
            state,
            status,
            changes={"headcount": 3},
            answers=[],
            information_request_id=None,
            open_information_request=None,
        )
    assert err.value.rule == "not-amendable" and status.value in err.value.detail


def test_answers_go_to_the_open_information_request_only() -> None:
    state = fold([submitted()])
    assert state is not None
    open_id = uuid4()
    ok = decide_amend(
        state,
        Status.INFORMATION_REQUESTED,
        changes={},
        answers=["yes"],
        information_request_id=None,
        open_information_request=open_id,
    )
    assert ok[0].information_request_id == open_id  # type: ignore[attr-defined]
    with pytest.raises(DomainError, match="do not belong"):
        decide_amend(
            state,
            Status.INFORMATION_REQUESTED,
            changes={},
            answers=["yes"],
            information_request_id=uuid4(),
            open_information_request=open_id,
        )
    with pytest.raises(DomainError) as err:
        decide_amend(
            state,
            Status.IN_TRIAGE,
            changes={},
            answers=["unasked"],
            information_request_id=None,
            open_information_request=None,
        )
    assert err.value.rule == "no-information-requested"
    with pytest.raises(DomainError) as empty:
        decide_amend(
            state,
            Status.IN_TRIAGE,
            changes={},
            answers=[],
            information_request_id=None,
            open_information_request=None,
        )
    assert empty.value.rule == "empty-amendment"


def test_withdrawal_until_deployment_starts_and_only_once() -> None:
    state = fold([submitted()])
    assert state is not None
    for status in (Status.SUBMITTED, Status.APPROVED, Status.DEPLOYING):
        assert isinstance(decide_withdraw(state, status, "r")[0], RequestWithdrawn)
    with pytest.raises(DomainError) as deployed:
        decide_withdraw(state, Status.DEPLOYED, "r")
    assert deployed.value.rule == "not-withdrawable"
    gone = fold([submitted(), RequestWithdrawn(request_id=RID, partner_id="un-dpo", reason="r")])
    assert gone is not None
    with pytest.raises(DomainError) as again:
        decide_withdraw(gone, Status.WITHDRAWN, "r")
    assert again.value.rule == "already-withdrawn"
