"""A case as the API shows it (before redaction), made from its history: the one function the
projection keeps the `cases` row with and an `as_of` read reconstructs the past with. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.triage import domain
from services.triage.domain import CaseState
from services.triage.domain.service_levels import SlaStage, sla_stage
from shared.events import REGISTRY


@dataclass(frozen=True)
class CaseHistory:
    state: CaseState | None
    submitted_at: datetime | None
    updated_at: datetime | None
    #: When the case entered its service-level stage (None when no clock runs).
    stage_since: datetime | None = None


def fold_rows(rows: Iterable[Mapping[Any, Any]]) -> CaseHistory:
    """The case folded from these `case_history` rows, given in fold order (intake's events
    first, then the case stream's, each in stream order)."""
    items = list(rows)
    submitted_at = next(
        (r["occurred_at"] for r in items if r["event_type"] == "RequestSubmitted"), None
    )
    updated_at = max((r["occurred_at"] for r in items), default=None)
    if not items or items[0]["event_type"] != "RequestSubmitted":
        return CaseHistory(None, submitted_at, updated_at)
    # Folded one event at a time to see when the case entered the stage it is at: stages change
    # only with the case's own events, which come in stream order.
    state: CaseState | None = None
    stage, since = None, None
    for row in items:
        state = domain.evolve(
            state, REGISTRY.decode(row["event_type"], row["schema_version"], row["data"])
        )
        now_at = service_level_stage(state) if state.triaged else None
        if now_at != stage:
            stage, since = now_at, (row["occurred_at"] if now_at else None)
    return CaseHistory(state, submitted_at, updated_at, since)


def service_level_stage(state: CaseState) -> SlaStage | None:
    """The stage whose clock runs: by the phase, not the status, since questions to the partner
    do not stop the clock (the hub chose to wait); none once the case is withdrawn."""
    return None if state.withdrawn else sla_stage(state.phase)


def document_of(history: CaseHistory) -> dict[str, Any] | None:
    """The case's document, or None while there is no case (not submitted, or not triaged)."""
    state = history.state
    if state is None or not state.triaged or history.submitted_at is None:
        return None
    assert history.updated_at is not None
    document = case_document(state, history.submitted_at, history.updated_at)
    stage = service_level_stage(state)
    return document | {
        "owner": state.owner,
        "sla_stage": stage.value if stage and history.stage_since else None,
        "stage_since": history.stage_since.isoformat() if stage and history.stage_since else None,
    }


def history_entry(row: Mapping[Any, Any]) -> dict[str, Any]:
    """One `case_history` row as the case's `history` lists it."""
    return {
        "at": row["occurred_at"],
        "event": row["event_type"],
        "event_id": row["event_id"],
        "stream_id": row["stream_id"],
        "stream_version": row["stream_version"],
        "actor": {"subject": row["actor_subject"], "role": row["actor_role"]},
        "data": row["data"],
    }


def case_document(state: CaseState, submitted_at: datetime, updated_at: datetime) -> dict[str, Any]:
    """The case as the API shows it (before redaction), JSON values only."""
    r = state.request
    a = state.assessment
    question = state.open_information_request if state.awaiting_answers else None
    return {
        "id": str(state.request_id),
        "reference": r["reference"],
        "title": r["title"],
        "description": r["description"],
        "classification": r["classification"],
        "country": r["country"],
        "region": state.region,
        "capability": r["capability"],
        "partner_type": r["partner_type"],
        "headcount": state.headcount,
        "needed_by": state.needed_by.isoformat(),
        "status": state.status.value,
        "score": state.score,
        "provisional": a is None,
        "policy_version": state.policy_version,
        "risk_tier": a.risk_tier if a else None,
        "submitted_at": submitted_at.isoformat(),
        "updated_at": updated_at.isoformat(),
        "mission": r.get("mission"),
        "requesting_body": r.get("requesting_body"),
        "funding_source": r.get("funding_source"),
        "tour_length_months": r.get("tour_length_months"),
        "role_profile": r.get("role_profile"),
        "contact": r.get("contact"),
        "breakdown": [part.model_dump(mode="json") for part in state.breakdown],
        "assessment": None
        if a is None
        else {
            "assessor": a.assessor,
            "risk_tier": a.risk_tier,
            "alignment": a.alignment,
            "notes": a.notes,
            "score": a.score,
            "computed_score": a.computed_score,
            "override_rationale": a.override_rationale,
            "tier_rationale": a.tier_rationale,
        },
        "approvals": {"board": state.board_approver, "ministerial": state.ministerial_approver},
        "open_information_request": None
        if question is None
        else {
            "id": str(question),
            "questions": list(state.open_questions),
            "returns_to": state.phase.value,
        },
        "rejection": None
        if state.rejection_code is None
        else {
            "reason_code": state.rejection_code,
            "reason": state.rejection_reason or "",
        },
        "held_from": state.held_from.value if state.held_from else None,
        "version": state.version,
    }
