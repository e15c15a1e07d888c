"""Casework, pure: owners (assign, claim, release), notes and messages, service levels and when a
case entered its stage."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from services.triage.config import ServiceLevelsFile, load_service_levels
from services.triage.document import document_of, fold_rows
from services.triage.domain import (
    Assign,
    CaseStatus,
    DomainError,
    Staff,
    decide_assign,
    decide_claim,
    decide_message,
    decide_note,
    decide_release,
)
from services.triage.domain.service_levels import ServiceLevels, SlaStage, sla_stage
from shared.catalogue.triage import CaseAssigned, CaseReleased, RequestRejected
from shared.events import EventData
from tests.unit.test_triage_domain import (
    RID,
    answered,
    asked,
    assessed,
    board_approval,
    given,
    opened,
    withdrawn,
)

ALICE = Staff("alice", "triage_officer")
BOB = Staff("Bob", "approver")
ANALYST = Staff("ann", "analyst")


def refused(fn: Any, *args: Any, **kwargs: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        fn(*args, **kwargs)
    return caught.value


def owned_by(who: str) -> list[EventData]:
    return [
        *opened(),
        CaseAssigned(request_id=RID, owner=who, assigned_by=who, claimed=True),
    ]


def test_a_claim_takes_an_unowned_case_and_never_a_colleagues() -> None:
    [claim] = decide_claim(given(*opened()), who=BOB)
    assert isinstance(claim, CaseAssigned)
    assert (claim.owner, claim.assigned_by, claim.claimed) == ("bob", "bob", True)
    assert given(*opened(), claim).owner == "bob"
    assert refused(decide_claim, given(*owned_by("alice")), who=BOB).rule == "case-owned"
    assert refused(decide_claim, given(*owned_by("bob")), who=BOB).rule == "already-owner"


def test_an_officer_assigns_in_canonical_form_and_names_the_previous_owner() -> None:
    [event] = decide_assign(given(*owned_by("alice")), Assign(" Bob "), who=ALICE)
    assert isinstance(event, CaseAssigned)
    assert (event.owner, event.previous_owner, event.claimed) == ("bob", "alice", False)
    assert refused(decide_assign, given(*opened()), Assign("x"), who=BOB).rule == (
        "assign-not-allowed"
    )
    assert (
        refused(decide_assign, given(*owned_by("bob")), Assign("BOB"), who=ALICE).rule
        == "already-owner"
    )


def test_only_the_owner_or_an_officer_releases() -> None:
    case = given(*owned_by("bob"))
    assert refused(decide_release, case, who=ANALYST).rule == "not-owner"
    [mine] = decide_release(case, who=BOB)
    assert isinstance(mine, CaseReleased) and mine.previous_owner == "bob"
    assert decide_release(case, who=ALICE)[0].released_by == "alice"  # type: ignore[attr-defined]
    assert given(*owned_by("bob"), mine).owner is None
    assert refused(decide_release, given(*opened()), who=BOB).rule == "not-assigned"


def test_a_decided_case_takes_no_owner_but_still_takes_notes() -> None:
    rejected = RequestRejected(request_id=RID, reason_code="out-of-scope", decided_by="bob")
    closed = given(*opened(), assessed(), rejected)
    assert closed.status == CaseStatus.REJECTED
    assert refused(decide_claim, closed, who=ALICE).rule == "case-closed"
    assert decide_note(closed, "Filed.", who=ALICE, note_id=uuid4())[0].note == "Filed."  # type: ignore[attr-defined]
    gone = given(*opened(), withdrawn())
    assert refused(decide_message, gone, "Hello", who=ALICE, message_id=uuid4()).rule == (
        "case-closed"
    )


def test_each_open_stage_has_a_service_level_and_decided_ones_none() -> None:
    assert sla_stage(CaseStatus.INFORMATION_REQUESTED) is SlaStage.ASSESSMENT
    assert sla_stage(CaseStatus.AWAITING_MINISTERIAL) is SlaStage.MINISTERIAL
    for status in (CaseStatus.ON_HOLD, CaseStatus.APPROVED, CaseStatus.WITHDRAWN):
        assert sla_stage(status) is None
    levels = ServiceLevels(
        "t", {SlaStage.ASSESSMENT: 10, SlaStage.BOARD: 5, SlaStage.MINISTERIAL: 3}
    )
    due = levels.due_on(SlaStage.ASSESSMENT, date(2026, 1, 1))
    assert due == date(2026, 1, 11)
    assert not levels.breached(due, due) and levels.breached(due, due + timedelta(days=1))
    assert not levels.breached(None, date(2999, 1, 1))


def test_the_service_level_file_names_every_stage_and_nothing_else() -> None:
    shipped = load_service_levels()
    assert set(shipped.days) == set(SlaStage) and all(d > 0 for d in shipped.days.values())
    with pytest.raises(ValueError, match="ministerial"):
        ServiceLevelsFile(version="v", days={"assessment": 1, "board": 1}).levels()
    with pytest.raises(ValueError):
        ServiceLevelsFile.model_validate({"version": "v", "days": {"lunch": 1}})


def _rows(events: list[EventData], start: datetime) -> list[dict[str, Any]]:
    """`case_history` rows, one day apart, in fold order (intake's events first)."""
    intake = [e for e in events if e.topic != "jiph.triage.events"]
    own = [e for e in events if e.topic == "jiph.triage.events"]
    return [
        {
            "event_type": e.event_type,
            "schema_version": e.schema_version,
            "data": e.model_dump(mode="json"),
            "occurred_at": start + timedelta(days=i),
        }
        for i, e in enumerate([*intake, *own])
    ]


def test_the_stage_clock_starts_when_the_case_enters_the_stage() -> None:
    start = datetime(2026, 3, 1, 9, tzinfo=UTC)
    note = decide_note(given(*opened()), "n", who=ALICE, note_id=uuid4())[0]
    rows = _rows([*opened(), note, assessed(), board_approval()], start)
    document = document_of(fold_rows(rows))
    assert document is not None
    assert document["sla_stage"] == "ministerial"
    assert document["stage_since"] == (start + timedelta(days=4)).isoformat()
    opened_only = document_of(fold_rows(_rows([*opened(), note], start)))
    assert opened_only is not None and opened_only["sla_stage"] == "assessment"
    assert opened_only["stage_since"] == (start + timedelta(days=1)).isoformat()


def test_questions_at_the_board_stage_neither_stop_nor_restart_its_clock() -> None:
    start = datetime(2026, 3, 1, 9, tzinfo=UTC)
    question = uuid4()
    waiting = [*opened(), assessed(), asked(question)]
    document = document_of(fold_rows(_rows(waiting, start)))
    assert document is not None and document["status"] == "information_requested"
    assert document["sla_stage"] == "board"
    assert document["stage_since"] == (start + timedelta(days=2)).isoformat()
    assert document["open_information_request"]["returns_to"] == "assessed"
    # The answer (intake's event, folded first) closes the questions; the clock runs on.
    back = document_of(fold_rows(_rows([*waiting, answered(question)], start)))
    assert back is not None and back["status"] == "assessed"
    assert back["open_information_request"] is None and back["sla_stage"] == "board"
    assert back["stage_since"] == (start + timedelta(days=3)).isoformat()
