"""Intake's rules, pure: given events, when a command, then events or the rule that refuses."""

from __future__ import annotations

from datetime import date
from uuid import UUID, uuid4

import pytest

from services.intake.domain import (
    DomainError,
    Status,
    decide_amend,
    decide_message,
    decide_withdraw,
    fold,
)
from shared.catalogue.deployment import DeploymentPlanned, DeploymentStarted
from shared.catalogue.intake import (
    Contact,
    RequestAmended,
    RequestSubmitted,
    RequestWithdrawn,
    RoleProfile,
)
from shared.catalogue.triage import (
    ApprovalGiven,
    InformationRequested,
    RequestApproved,
    RequestAssessed,
    RequestPutOnHold,
    RequestRejected,
    RequestTriaged,
)
from shared.events import EventData

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


def triaged() -> RequestTriaged:
    return RequestTriaged(
        request_id=RID,
        reference="JIPH-2026-000001",
        country="SO",
        region="africa",
        capability="training",
        partner_type="un",
        headcount=2,
        needed_by=date(2030, 1, 1),
        classification="OFFICIAL",
        score=50.0,
        breakdown=[],
        policy_version="v1",
    )


def asked(question_id: UUID) -> InformationRequested:
    return InformationRequested(
        request_id=RID, information_request_id=question_id, questions=["Is there consent?"]
    )


def assessed() -> RequestAssessed:
    return RequestAssessed(
        request_id=RID,
        score=50.0,
        breakdown=[],
        policy_version="v1",
        risk_tier="low",
        assessor="officer",
        computed_score=50.0,
    )


def approved() -> RequestApproved:
    return RequestApproved(
        request_id=RID,
        reference="JIPH-2026-000001",
        country="SO",
        capability="training",
        headcount=2,
        classification="OFFICIAL",
        needed_by=date(2030, 1, 1),
        tour_length_months=6,
    )


def planned() -> DeploymentPlanned:
    return DeploymentPlanned(
        request_id=RID,
        deployment_id=uuid4(),
        country="SO",
        capability="training",
        headcount=2,
        classification="OFFICIAL",
        tour_start=date(2030, 1, 1),
        tour_end=date(2030, 6, 30),
    )


def started() -> DeploymentStarted:
    return DeploymentStarted(
        request_id=RID, deployment_id=uuid4(), started_on=date(2030, 1, 1), officer_refs=["OFF-A"]
    )


def withdrawn() -> RequestWithdrawn:
    return RequestWithdrawn(request_id=RID, partner_id="un-dpo", reason="r")


def given(*events: EventData):  # type: ignore[no-untyped-def]
    state = fold([submitted(), *events])
    assert state is not None
    return state


def amend(state, changes=None, answers=None, information_request_id=None):  # type: ignore[no-untyped-def]
    return decide_amend(
        state,
        changes=changes or {},
        answers=answers or [],
        information_request_id=information_request_id,
    )


def test_the_state_follows_every_services_events() -> None:
    assert given().status == Status.SUBMITTED
    assert given(triaged()).status == Status.IN_TRIAGE
    question = uuid4()
    state = given(triaged(), asked(question))
    assert state.status == Status.INFORMATION_REQUESTED
    assert state.open_information_request == question


def test_changes_are_allowed_before_assessment() -> None:
    events = amend(given(triaged()), changes={"headcount": 3})
    assert isinstance(events[0], RequestAmended) and events[0].changes.named() == {"headcount": 3}
    assert given(events[0]).submitted["headcount"] == 3


@pytest.mark.parametrize(
    ("history", "status"),
    [
        ((triaged(), assessed()), Status.ASSESSED),
        ((triaged(), assessed(), approved(), asked(uuid4())), Status.APPROVED),  # a stray one
        ((triaged(), assessed(), approved(), planned(), started()), Status.DEPLOYED),
        ((withdrawn(),), Status.WITHDRAWN),
    ],
)
def test_changes_after_assessment_are_refused_with_the_reason(
    history: tuple[EventData, ...], status: Status
) -> None:
    with pytest.raises(DomainError) as err:
        amend(given(*history), changes={"headcount": 3})
    assert err.value.rule == "not-amendable" and status.value in err.value.detail


def test_a_withdrawn_request_stays_withdrawn_after_an_amendment_was_folded() -> None:
    # The stream is the authority: an amendment folded after the withdrawal must not revive it
    # (it once did, and intake accepted a second withdrawal behind a parked first one).
    state = given(withdrawn(), RequestAmended(request_id=RID, partner_id="un-dpo", changes={}))
    assert state.withdrawn
    with pytest.raises(DomainError) as again:
        decide_withdraw(state, "r")
    assert again.value.rule == "already-withdrawn"


def test_answers_go_to_the_open_information_request_only() -> None:
    open_id = uuid4()
    state = given(triaged(), asked(open_id))
    ok = amend(state, answers=["yes"])
    assert ok[0].information_request_id == open_id  # type: ignore[attr-defined]
    assert given(triaged(), asked(open_id), ok[0]).status == Status.IN_TRIAGE
    assert given(triaged(), asked(open_id), ok[0]).open_information_request is None
    with pytest.raises(DomainError, match="do not belong"):
        amend(state, answers=["yes"], information_request_id=uuid4())
    with pytest.raises(DomainError) as err:
        amend(given(triaged()), answers=["unasked"])
    assert err.value.rule == "no-information-requested"
    with pytest.raises(DomainError) as empty:
        amend(given(triaged()))
    assert empty.value.rule == "empty-amendment"


def test_withdrawal_until_deployment_starts_and_only_once() -> None:
    for history in ((), (triaged(), assessed(), approved()), (approved(), planned())):
        assert isinstance(decide_withdraw(given(*history), "r")[0], RequestWithdrawn)
    with pytest.raises(DomainError) as deployed:
        decide_withdraw(given(approved(), planned(), started()), "r")
    assert deployed.value.rule == "not-withdrawable"
    with pytest.raises(DomainError) as again:
        decide_withdraw(given(withdrawn()), "r")
    assert again.value.rule == "already-withdrawn"


def test_a_two_question_information_request_needs_two_answers() -> None:
    open_id = uuid4()
    two = InformationRequested(
        request_id=RID, information_request_id=open_id, questions=["Consent?", "Transport?"]
    )
    state = given(triaged(), two)
    with pytest.raises(DomainError) as one:
        amend(state, answers=["Consent is given."])
    assert one.value.rule == "answers-per-question"
    assert one.value.errors[0]["field"] == "body.answers" and "2 question" in one.value.detail
    # A change alone would close the questions (for triage and in the status) unanswered.
    with pytest.raises(DomainError) as none:
        amend(state, changes={"headcount": 3})
    assert none.value.rule == "answers-per-question" and "0 given" in none.value.detail
    [both] = amend(state, changes={"headcount": 3}, answers=["Yes.", "By road."])
    assert both.changes.headcount == 3 and len(both.answers) == 2
    [answered] = amend(state, answers=["Consent is given.", "Armoured vehicles."])
    after = given(triaged(), two, answered)
    assert after.status == Status.IN_TRIAGE and after.open_information_request is None


def test_the_partner_writes_to_the_hub_until_it_withdraws() -> None:
    [message] = decide_message(given(triaged(), assessed()), "Consent signed.", message_id=RID)
    assert message.partner_message == "Consent signed."  # type: ignore[attr-defined]
    with pytest.raises(DomainError) as gone:
        decide_message(given(withdrawn()), "Hello?", message_id=RID)
    assert gone.value.rule == "already-withdrawn"


#: Every stage the hub may ask at, and the status the partner sees there (the minister's stage
#: is `assessed` to the partner).
ASKED_AT = {
    "in_triage": ((triaged(),), Status.IN_TRIAGE),
    "assessed": ((triaged(), assessed()), Status.ASSESSED),
    "awaiting_ministerial": (
        (triaged(), assessed(), ApprovalGiven(request_id=RID, stage="board", approver="b")),
        Status.ASSESSED,
    ),
    "on_hold": ((triaged(), assessed(), RequestPutOnHold(request_id=RID)), Status.ON_HOLD),
}


@pytest.mark.parametrize("stage", sorted(ASKED_AT))
def test_the_answer_returns_the_request_to_the_status_it_had_when_asked(stage: str) -> None:
    history, status = ASKED_AT[stage]
    question = uuid4()
    state = given(*history, asked(question))
    assert state.status == Status.INFORMATION_REQUESTED
    [answer] = amend(state, answers=["Consent is given."])
    after = given(*history, asked(question), answer)
    assert after.status == status and after.open_information_request is None


@pytest.mark.parametrize("stage", ["assessed", "awaiting_ministerial", "on_hold"])
def test_questions_asked_after_the_assessment_take_answers_only(stage: str) -> None:
    history, _ = ASKED_AT[stage]
    state = given(*history, asked(uuid4()))
    for answers in ([], ["Consent is given."]):
        with pytest.raises(DomainError) as err:
            amend(state, changes={"headcount": 3}, answers=answers)
        assert err.value.rule == "answers-only-after-assessment" and err.value.status == 409
        assert err.value.errors[0]["field"] == "body.changes"
        assert "headcount" in err.value.errors[0]["message"]
    with pytest.raises(DomainError) as short:  # the answers-per-question rule stays
        amend(state, answers=["Yes.", "And more."])
    assert short.value.rule == "answers-per-question"


def test_questions_asked_before_the_assessment_take_answers_with_changes() -> None:
    question = uuid4()
    state = given(triaged(), asked(question))
    [answer] = amend(state, changes={"headcount": 3}, answers=["Three are needed."])
    after = given(triaged(), asked(question), answer)
    assert after.status == Status.IN_TRIAGE and after.submitted["headcount"] == 3


def test_no_questions_are_open_once_the_hub_decided() -> None:
    rejected = RequestRejected(request_id=RID, reason_code="other")
    question = uuid4()
    for history, status in (
        ((triaged(), assessed(), approved(), asked(uuid4())), Status.APPROVED),  # a stray one
        ((triaged(), assessed(), asked(question), rejected), Status.REJECTED),
    ):
        state = given(*history)
        assert state.status == status
        with pytest.raises(DomainError) as err:
            amend(state, answers=["Too late."])
        assert err.value.rule == "not-amendable"
