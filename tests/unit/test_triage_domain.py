"""Triage's rules, pure: given events, when a command, then events or the rule that refuses."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID, uuid4

import pytest

from services.triage.domain import (
    AskForInformation,
    Assess,
    CaseState,
    CaseStatus,
    Decide,
    Decision,
    DomainError,
    Rules,
    ScoringContext,
    Staff,
    Stage,
    decide_assess,
    decide_decision,
    decide_open_case,
    decide_request_information,
    fold,
)
from services.triage.scoring import load_policy
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
    RequestResumed,
    RequestTriaged,
)
from shared.events import EventData
from shared.reference.codes import Region
from shared.reference.data import Country, load_reference_data
from shared.topics import TRIAGE_EVENTS

RID = uuid4()
TODAY = date(2026, 11, 26)
POLICY = load_policy()
RULES = Rules.from_reference(load_reference_data())
SOMALIA = Country(
    code="SO",
    name="Somalia",
    region=Region.AFRICA,
    oda_eligible=True,
    fragility=108,
    hmg_priority=True,
)
SCORING = ScoringContext(POLICY, TODAY, offered_officers=1)

ASSESSOR = Staff("alice", "triage_officer")
BOARD = Staff("bob", "approver")
MINISTER = Staff("carol", "minister")


# --- givens ----------------------------------------------------------------------------------


def submitted(**changes: Any) -> RequestSubmitted:
    values: dict[str, Any] = dict(
        request_id=RID,
        reference="JIPH-2026-000001",
        partner_id="un-dpo",
        title="Advisers",
        description="Two advisers",
        country="SO",
        requesting_body="UN",
        partner_type="un",
        capability="public-order",
        headcount=2,
        role_profile=RoleProfile(rank="Inspector"),
        tour_length_months=12,
        needed_by=date(2027, 3, 1),
        funding_source="cssf-oda",
        classification="OFFICIAL",
        contact=Contact(name="A", email="a@b.c"),
    )
    return RequestSubmitted(**(values | changes))


def triaged() -> RequestTriaged:
    [event] = decide_open_case(submitted(), SOMALIA, SCORING)
    assert isinstance(event, RequestTriaged)
    return event


def opened() -> list[EventData]:
    return [submitted(), triaged()]


def given(*events: EventData) -> CaseState:
    state = fold(events)
    assert state is not None
    return state


def assessed(risk_tier: str = "high", assessor: str = ASSESSOR.subject) -> RequestAssessed:
    [event] = decide_assess(
        given(*opened()),
        Assess(risk_tier=risk_tier),
        assessor=assessor,
        country=SOMALIA,
        scoring=SCORING,
    )
    assert isinstance(event, RequestAssessed)
    return event


def board_approval(approver: str = BOARD.subject) -> ApprovalGiven:
    # Decided on the case as opened (1) and assessed (2).
    return ApprovalGiven(request_id=RID, stage="board", approver=approver, case_version=2)


def approve(stage: Stage = Stage.BOARD) -> Decide:
    return Decide(Decision.APPROVE, stage)


def refused(fn: Any, *args: Any, **kwargs: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        fn(*args, **kwargs)
    return caught.value


# --- opening a case ----------------------------------------------------------------------------


def test_a_submission_opens_a_case_in_triage_with_a_provisional_score() -> None:
    event = triaged()
    assert event.request_id == RID and event.reference == "JIPH-2026-000001"
    assert event.region == "africa" and event.policy_version == POLICY.version
    assert 0 < event.score <= 100
    assert event.breakdown[0].criterion == "fragility"
    assert "not yet assessed" in event.breakdown[-1].explanation
    state = given(submitted(), event)
    assert state.status == CaseStatus.IN_TRIAGE and state.version == 1 and state.triaged


def test_a_case_folds_only_from_its_submission() -> None:
    assert fold([triaged()]) is None
    assert fold([]) is None


# --- information requests and amendments -----------------------------------------------------


def test_information_can_be_requested_in_triage() -> None:
    question = uuid4()
    events = decide_request_information(
        given(*opened()), AskForInformation(("Transport?",)), information_request_id=question
    )
    assert events == [
        InformationRequested(
            request_id=RID, information_request_id=question, questions=["Transport?"]
        )
    ]
    assert given(*opened(), *events).status == CaseStatus.INFORMATION_REQUESTED


def asked(question: UUID) -> InformationRequested:
    return InformationRequested(request_id=RID, information_request_id=question, questions=["Q?"])


def answered(question: UUID | None, **changes: Any) -> RequestAmended:
    return RequestAmended(
        request_id=RID,
        partner_id="un-dpo",
        answers=["A."] if question else [],
        information_request_id=question,
        changes=changes,
    )


def test_an_amendment_returns_the_case_from_information_requested_to_in_triage() -> None:
    question = uuid4()
    state = given(submitted(), answered(question, headcount=3), *opened()[1:], asked(question))
    assert state.status == CaseStatus.IN_TRIAGE
    assert state.headcount == 3  # the amendment's changes are the case's facts now


def test_the_partners_answer_counts_wherever_it_is_folded() -> None:
    question = uuid4()
    intake_first = given(submitted(), answered(question), triaged(), asked(question))
    assert intake_first.status == CaseStatus.IN_TRIAGE
    assert given(*opened(), asked(question)).status == CaseStatus.INFORMATION_REQUESTED


def test_an_answer_to_an_older_question_leaves_the_new_one_open() -> None:
    first, second = uuid4(), uuid4()
    state = given(submitted(), answered(first), triaged(), asked(first), asked(second))
    assert state.status == CaseStatus.INFORMATION_REQUESTED


def test_more_questions_wait_for_the_open_ones_to_be_answered() -> None:
    state = given(*opened(), asked(uuid4()))
    error = refused(
        decide_request_information,
        state,
        AskForInformation(("Again?",)),
        information_request_id=uuid4(),
    )
    assert error.rule == "information-request-open" and error.status == 409


def held(stage: Stage = Stage.BOARD) -> RequestPutOnHold:
    return RequestPutOnHold(request_id=RID, stage=stage.value, decided_by="bob")


#: Every stage before a final decision, and the phase the partner's answer returns the case to.
OPEN_STAGES = {
    "in_triage": ([], CaseStatus.IN_TRIAGE),
    "assessed": ([assessed("high")], CaseStatus.ASSESSED),
    "awaiting_ministerial": ([assessed("high"), board_approval()], CaseStatus.AWAITING_MINISTERIAL),
    "on_hold": ([assessed("low"), held()], CaseStatus.ON_HOLD),
}


@pytest.mark.parametrize("stage", sorted(OPEN_STAGES))
def test_questions_may_be_asked_at_every_stage_before_a_decision_and_the_answer_returns_there(
    stage: str,
) -> None:
    before, phase = OPEN_STAGES[stage]
    question = uuid4()
    [event] = decide_request_information(
        given(*opened(), *before), AskForInformation(("Consent?",)), information_request_id=question
    )
    assert isinstance(event, InformationRequested) and event.information_request_id == question
    waiting = given(*opened(), *before, event)
    assert waiting.status == CaseStatus.INFORMATION_REQUESTED and waiting.phase == phase
    error = refused(
        decide_request_information,
        waiting,
        AskForInformation(("More?",)),
        information_request_id=uuid4(),
    )
    assert error.rule == "information-request-open" and error.status == 409
    assert given(*opened(), *before, event, answered(question)).status == phase


def test_a_board_or_ministerial_approval_waits_for_the_answers() -> None:
    for history, who, stage in (
        ([assessed("low")], BOARD, Stage.BOARD),
        ([assessed("high"), board_approval()], MINISTER, Stage.MINISTERIAL),
    ):
        question = uuid4()
        waiting = given(*opened(), *history, asked(question))
        error = refused(decide_decision, waiting, approve(stage), who=who, rules=RULES)
        assert error.rule == "awaiting-information" and error.status == 409
        answered_now = given(*opened(), *history, asked(question), answered(question))
        events = decide_decision(answered_now, approve(stage), who=who, rules=RULES)
        assert RequestApproved in [type(e) for e in events]


def test_a_partner_who_never_answers_does_not_block_a_rejection() -> None:
    for history, who, stage in (
        ([assessed("low")], BOARD, Stage.BOARD),
        ([assessed("high"), board_approval()], MINISTER, Stage.MINISTERIAL),
    ):
        before = [*opened(), *history, asked(uuid4())]
        command = Decide(Decision.REJECT, stage, reason_code="other")
        [event] = decide_decision(given(*before), command, who=who, rules=RULES)
        assert isinstance(event, RequestRejected)
        rejected = given(*before, event)
        assert rejected.status == CaseStatus.REJECTED
        assert {e.rule for e in every_command(rejected)} == {"case-closed"}


def test_hold_and_resume_go_on_while_questions_are_open_and_the_answer_follows_them() -> None:
    question = uuid4()
    before = [*opened(), assessed("low"), asked(question)]
    hold = Decide(Decision.HOLD, Stage.BOARD, reason="Elections")
    [on_hold] = decide_decision(given(*before), hold, who=BOARD, rules=RULES)
    waiting = given(*before, on_hold)
    assert waiting.status == CaseStatus.INFORMATION_REQUESTED
    assert waiting.phase == CaseStatus.ON_HOLD
    assert given(*before, on_hold, answered(question)).status == CaseStatus.ON_HOLD
    [resumed] = decide_decision(
        waiting, Decide(Decision.RESUME, Stage.BOARD), who=BOARD, rules=RULES
    )
    assert given(*before, on_hold, resumed).status == CaseStatus.INFORMATION_REQUESTED
    assert given(*before, on_hold, resumed, answered(question)).status == CaseStatus.ASSESSED
    # On hold with questions open, a rejection still waits for the resumption, as without them.
    reject = Decide(Decision.REJECT, Stage.BOARD, reason_code="other")
    assert refused(decide_decision, waiting, reject, who=BOARD, rules=RULES).rule == "case-on-hold"


# --- assessment --------------------------------------------------------------------------------


def test_assessment_records_the_score_breakdown_policy_risk_and_assessor() -> None:
    command = Assess(risk_tier="high", alignment=0.8, notes="Consent confirmed.")
    [event] = decide_assess(
        given(*opened()), command, assessor="alice", country=SOMALIA, scoring=SCORING
    )
    assert isinstance(event, RequestAssessed)
    assert event.assessor == "alice" and event.risk_tier == "high" and event.alignment == 0.8
    assert event.policy_version == POLICY.version and event.score == event.computed_score
    assert event.override_rationale is None and event.notes == "Consent confirmed."
    assert "human-rights risk high" in event.breakdown[-1].explanation
    state = given(*opened(), event)
    assert state.status == CaseStatus.ASSESSED and state.score == event.score


def test_assessment_and_reassessment_wait_for_the_partners_answers() -> None:
    for before in ([], [assessed("low")]):
        error = refused(
            decide_assess,
            given(*opened(), *before, asked(uuid4())),
            Assess("medium"),
            assessor="alice",
            country=SOMALIA,
            scoring=SCORING,
        )
        assert error.rule == "awaiting-information" and error.status == 409


def test_an_override_needs_a_written_rationale() -> None:
    state = given(*opened())
    for rationale in (None, "", "too short"):
        error = refused(
            decide_assess,
            state,
            Assess("low", score_override=90, override_rationale=rationale),
            assessor="alice",
            country=SOMALIA,
            scoring=SCORING,
        )
        assert error.rule == "override-rationale-required" and error.status == 422


def test_a_rationale_without_an_override_is_refused() -> None:
    error = refused(
        decide_assess,
        given(*opened()),
        Assess("low", override_rationale="x" * 30),
        assessor="alice",
        country=SOMALIA,
        scoring=SCORING,
    )
    assert error.rule == "rationale-without-override"


def test_an_override_replaces_the_score_and_keeps_the_computed_one_and_the_rationale() -> None:
    rationale = "Ministerial commitment at the summit raises the priority."
    [event] = decide_assess(
        given(*opened()),
        Assess("low", score_override=95.0, override_rationale=rationale),
        assessor="alice",
        country=SOMALIA,
        scoring=SCORING,
    )
    assert isinstance(event, RequestAssessed)
    assert event.score == 95.0 and event.computed_score != 95.0
    assert event.override_rationale == rationale


def test_the_assessment_cannot_change_once_the_board_has_approved() -> None:
    state = given(*opened(), assessed("high"), board_approval())
    error = refused(
        decide_assess, state, Assess("low"), assessor="alice", country=SOMALIA, scoring=SCORING
    )
    assert error.rule == "approval-in-progress"


# --- decisions: the board --------------------------------------------------------------------


def test_approval_needs_an_assessment() -> None:
    for state in (given(*opened()), given(*opened(), asked(uuid4()))):
        error = refused(decide_decision, state, approve(), who=BOARD, rules=RULES)
        assert error.rule == "assessment-required" and error.status == 409


def test_approver_cannot_approve_own_assessment() -> None:
    state = given(*opened(), assessed("low", assessor="bob"))
    error = refused(decide_decision, state, approve(), who=BOARD, rules=RULES)
    assert error.rule == "approver-is-assessor" and error.status == 403


def test_low_and_medium_risk_are_approved_by_the_board_alone() -> None:
    for tier in ("low", "medium"):
        events = decide_decision(
            given(*opened(), assessed(tier)), approve(), who=BOARD, rules=RULES
        )
        assert [type(e) for e in events] == [ApprovalGiven, RequestApproved]
        assert events[0] == board_approval()
        approved = events[1]
        assert isinstance(approved, RequestApproved)
        assert approved.headcount == 2 and approved.tour_length_months == 12
        assert given(*opened(), assessed(tier), *events).status == CaseStatus.APPROVED


def test_high_and_serious_risk_board_approval_awaits_a_minister() -> None:
    for tier in ("high", "serious"):
        events = decide_decision(
            given(*opened(), assessed(tier)), approve(), who=BOARD, rules=RULES
        )
        assert events == [board_approval()]
        state = given(*opened(), assessed(tier), *events)
        assert state.status == CaseStatus.AWAITING_MINISTERIAL


def test_each_stage_needs_its_role() -> None:
    state = given(*opened(), assessed("high"))
    for who, stage in (
        (MINISTER, Stage.BOARD),
        (BOARD, Stage.MINISTERIAL),
        (ASSESSOR, Stage.BOARD),
    ):
        error = refused(decide_decision, state, approve(stage), who=who, rules=RULES)
        assert error.rule == "wrong-role-for-stage" and error.status == 403


# --- decisions: the minister -----------------------------------------------------------------


def test_an_independent_minister_completes_a_high_risk_approval() -> None:
    state = given(*opened(), assessed("high"), board_approval())
    events = decide_decision(state, approve(Stage.MINISTERIAL), who=MINISTER, rules=RULES)
    assert [type(e) for e in events] == [ApprovalGiven, RequestApproved]
    assert events[0] == ApprovalGiven(
        request_id=RID, stage="ministerial", approver="carol", case_version=3
    )
    after = given(*opened(), assessed("high"), board_approval(), *events)
    assert after.status == CaseStatus.APPROVED
    assert (after.board_approver, after.ministerial_approver) == ("bob", "carol")


@pytest.mark.parametrize("minister", ["alice", "bob"], ids=["assessor", "board-approver"])
def test_the_minister_is_neither_the_assessor_nor_the_board_approver(minister: str) -> None:
    state = given(*opened(), assessed("serious"), board_approval())
    error = refused(
        decide_decision,
        state,
        approve(Stage.MINISTERIAL),
        who=Staff(minister, "minister"),
        rules=RULES,
    )
    assert error.rule == "minister-not-independent" and error.status == 403


def test_the_minister_decides_after_the_board() -> None:
    error = refused(
        decide_decision,
        given(*opened(), assessed("high")),
        approve(Stage.MINISTERIAL),
        who=MINISTER,
        rules=RULES,
    )
    assert error.rule == "board-approval-required"


def test_low_risk_needs_no_minister() -> None:
    error = refused(
        decide_decision,
        given(*opened(), assessed("low")),
        approve(Stage.MINISTERIAL),
        who=MINISTER,
        rules=RULES,
    )
    assert error.rule == "ministerial-approval-not-required"


def test_the_board_cannot_act_again_once_it_has_approved() -> None:
    state = given(*opened(), assessed("high"), board_approval())
    error = refused(decide_decision, state, approve(), who=Staff("dave", "approver"), rules=RULES)
    assert error.rule == "wrong-stage"


# --- rejection ---------------------------------------------------------------------------------


def test_rejection_needs_a_reason_code() -> None:
    state = given(*opened(), assessed("low"))
    error = refused(
        decide_decision, state, Decide(Decision.REJECT, Stage.BOARD), who=BOARD, rules=RULES
    )
    assert error.rule == "reason-code-required"


def test_rejection_needs_a_published_reason_code() -> None:
    state = given(*opened(), assessed("low"))
    error = refused(
        decide_decision,
        state,
        Decide(Decision.REJECT, Stage.BOARD, reason_code="because"),
        who=BOARD,
        rules=RULES,
    )
    assert error.rule == "reason-code-unknown"


def test_the_board_rejects_with_a_reason_code_and_the_case_closes() -> None:
    state = given(*opened(), assessed("low"))
    command = Decide(
        Decision.REJECT, Stage.BOARD, reason="Out of scope.", reason_code="out-of-scope"
    )
    events = decide_decision(state, command, who=BOARD, rules=RULES)
    assert events == [
        RequestRejected(
            request_id=RID,
            reason_code="out-of-scope",
            reason="Out of scope.",
            stage="board",
            decided_by=BOARD.subject,
            case_version=2,
        )
    ]
    assert given(*opened(), assessed("low"), *events).status == CaseStatus.REJECTED


def test_the_minister_may_reject_after_the_board_approved() -> None:
    state = given(*opened(), assessed("high"), board_approval())
    command = Decide(Decision.REJECT, Stage.MINISTERIAL, reason_code="unacceptable-risk")
    [event] = decide_decision(state, command, who=MINISTER, rules=RULES)
    assert isinstance(event, RequestRejected) and event.stage == "ministerial"


# --- hold and resume ---------------------------------------------------------------------------


def test_hold_and_resume_return_the_case_to_where_it_was() -> None:
    for tier, history, who, stage, back in (
        ("low", [], BOARD, Stage.BOARD, CaseStatus.ASSESSED),
        ("high", [board_approval()], MINISTER, Stage.MINISTERIAL, CaseStatus.AWAITING_MINISTERIAL),
    ):
        before = [*opened(), assessed(tier), *history]
        held = decide_decision(
            given(*before), Decide(Decision.HOLD, stage, reason="Elections"), who=who, rules=RULES
        )
        version = len([e for e in before if e.topic == TRIAGE_EVENTS])
        recorded = {"stage": stage.value, "decided_by": who.subject}
        assert held == [
            RequestPutOnHold(request_id=RID, reason="Elections", case_version=version, **recorded)
        ]
        on_hold = given(*before, *held)
        assert on_hold.status == CaseStatus.ON_HOLD
        resumed = decide_decision(on_hold, Decide(Decision.RESUME, stage), who=who, rules=RULES)
        assert resumed == [RequestResumed(request_id=RID, case_version=version + 1, **recorded)]
        assert given(*before, *held, *resumed).status == back


def test_a_case_on_hold_is_not_approved_until_resumed() -> None:
    state = given(*opened(), assessed("low"), RequestPutOnHold(request_id=RID))
    error = refused(decide_decision, state, approve(), who=BOARD, rules=RULES)
    assert error.rule == "case-on-hold"


def test_only_a_case_on_hold_resumes() -> None:
    error = refused(
        decide_decision,
        given(*opened(), assessed("low")),
        Decide(Decision.RESUME, Stage.BOARD),
        who=BOARD,
        rules=RULES,
    )
    assert error.rule == "not-on-hold"


# --- closed cases ------------------------------------------------------------------------------


def withdrawn() -> RequestWithdrawn:
    return RequestWithdrawn(request_id=RID, partner_id="un-dpo", reason="No longer needed")


def every_command(state: CaseState) -> list[DomainError]:
    return [
        refused(
            decide_request_information,
            state,
            AskForInformation(("Q?",)),
            information_request_id=uuid4(),
        ),
        refused(
            decide_assess, state, Assess("low"), assessor="alice", country=SOMALIA, scoring=SCORING
        ),
        *(
            refused(
                decide_decision,
                state,
                Decide(decision, Stage.BOARD, reason_code="other"),
                who=BOARD,
                rules=RULES,
            )
            for decision in Decision
        ),
    ]


def test_a_withdrawn_case_refuses_every_command() -> None:
    for history in (
        [*opened(), withdrawn()],
        [*opened(), assessed("high"), board_approval(), withdrawn()],
        [submitted(), withdrawn(), triaged()],  # the partner's withdrawal folded first
    ):
        state = given(*history)
        assert state.status == CaseStatus.WITHDRAWN
        assert {e.rule for e in every_command(state)} == {"case-closed"}


def test_approved_and_rejected_cases_are_closed() -> None:
    approved = [
        *opened(),
        assessed("low"),
        board_approval(),
        RequestApproved(
            request_id=RID,
            reference="R",
            country="SO",
            capability="public-order",
            headcount=2,
            classification="OFFICIAL",
            needed_by=date(2027, 3, 1),
            tour_length_months=12,
        ),
    ]
    rejected = [*opened(), assessed("low"), RequestRejected(request_id=RID, reason_code="other")]
    for history in (approved, rejected):
        assert {e.rule for e in every_command(given(*history))} == {"case-closed"}


# --- separation of duties over the whole history (the integrity issue) ----------------------


def reassessed(state_events: list[EventData], tier: str, assessor: str, **extra: Any) -> Any:
    [event] = decide_assess(
        given(*state_events),
        Assess(risk_tier=tier, **extra),
        assessor=assessor,
        country=SOMALIA,
        scoring=SCORING,
    )
    return event


def test_whoever_assessed_at_any_point_takes_no_board_decision() -> None:
    # A assesses, B re-assesses: A used to be allowed to approve at the board.
    first = assessed("low", assessor="bob")
    history = [*opened(), first, reassessed([*opened(), first], "low", "erin")]
    for decision in (approve(), Decide(Decision.HOLD, Stage.BOARD)):
        error = refused(decide_decision, given(*history), decision, who=BOARD, rules=RULES)
        assert error.rule == "approver-is-assessor" and error.status == 403


def test_identities_are_compared_in_canonical_form() -> None:
    # An event written with another spelling of the same identity still counts as that person.
    history = [*opened(), assessed("low", assessor=" Bob ")]
    error = refused(decide_decision, given(*history), approve(), who=BOARD, rules=RULES)
    assert error.rule == "approver-is-assessor"


def test_a_minister_who_took_a_board_decision_is_not_independent() -> None:
    held = RequestPutOnHold(request_id=RID, stage="board", decided_by="carol", case_version=2)
    resumed = RequestResumed(request_id=RID, stage="board", decided_by="dave", case_version=3)
    history = [*opened(), assessed("high"), held, resumed, board_approval()]
    error = refused(
        decide_decision, given(*history), approve(Stage.MINISTERIAL), who=MINISTER, rules=RULES
    )
    assert error.rule == "minister-not-independent"


def test_lowering_the_risk_tier_needs_a_rationale_and_the_minister_stays() -> None:
    serious = [*opened(), assessed("serious")]
    error = refused(
        decide_assess,
        given(*serious),
        Assess(risk_tier="low"),
        assessor="erin",
        country=SOMALIA,
        scoring=SCORING,
    )
    assert error.rule == "tier-rationale-required" and error.status == 422
    blank = "\u00a0" * 25 + "x"  # visible characters are what count
    error = refused(
        decide_assess,
        given(*serious),
        Assess(risk_tier="low", tier_rationale=blank),
        assessor="erin",
        country=SOMALIA,
        scoring=SCORING,
    )
    assert error.rule == "tier-rationale-required"
    why = "The host state's new oversight body reviewed the unit in October."
    lowered = reassessed(serious, "low", "erin", tier_rationale=why)
    assert lowered.tier_rationale == why and lowered.risk_tier == "low"
    # The board's approval still awaits a minister: a serious tier was assessed once.
    events = decide_decision(given(*serious, lowered), approve(), who=BOARD, rules=RULES)
    assert [type(e) for e in events] == [ApprovalGiven]
    assert given(*serious, lowered, *events).status == CaseStatus.AWAITING_MINISTERIAL
