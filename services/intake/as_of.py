"""The partner's view of a request at a point of its past, made again from the events. Pure.

Intake's own stream for the request (submission, amendments, withdrawal: their values) and the
timeline entries of what triage and deployment said about it are the events the view is built
from; `shared.as_of.cut` says which of them the view had at the point asked, and `row` folds
them the way the projection (`services.intake.projection`) keeps the `requests` row: the
submission's details with each amendment's changes applied, the open information request, the
officers deployed, the partner-visible status (`shared.request_status`) and the last change.
The timeline entries of intake's own events are made by the projection's own `partner_entry`,
so what a partner may read of them is decided in one place, today's rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from services.intake.timeline import partner_entry
from shared.as_of import AsOf, Point, cut
from shared.catalogue.deployment import DeploymentCompleted, DeploymentStarted, OfficerRepatriated
from shared.catalogue.intake import RequestAmended, RequestSubmitted
from shared.catalogue.triage import InformationRequested
from shared.events import Envelope
from shared.request_status import status_of


@dataclass(frozen=True)
class Item:
    """One event the view is built from, in the timeline's terms."""

    event_id: UUID
    occurred_at: datetime
    event_type: str
    summary: str
    details: Mapping[str, Any]
    #: Intake's own event about the request: its stream version and its data.
    version: int = 0
    data: Mapping[str, Any] | None = None

    @property
    def own(self) -> bool:
        return self.data is not None

    def entry(self) -> dict[str, Any]:
        return {
            "at": self.occurred_at,
            "event": self.event_type,
            "summary": self.summary,
            "details": dict(self.details),
        }


@dataclass(frozen=True)
class Past:
    row: dict[str, Any]  # shaped as the `requests` row
    timeline: list[dict[str, Any]]
    point: Point


def items(own: Sequence[Envelope], entries: Sequence[Mapping[str, Any]]) -> list[Item]:
    """Intake's own events (from its store) and the timeline's entries of everyone else's, in
    the order they happened."""
    mine = []
    for env in own:
        told = partner_entry(env)
        summary, details = told if told is not None else ("", {})
        mine.append(
            Item(
                env.event_id,
                env.occurred_at,
                env.event_type,
                summary,
                details,
                env.stream_version,
                env.data,
            )
        )
    known = {item.event_id for item in mine}
    others = [
        Item(e["event_id"], e["occurred_at"], e["event_type"], e["summary"], e["details"])
        for e in entries
        if e["event_id"] not in known
    ]
    return sorted([*mine, *others], key=lambda i: (i.occurred_at, str(i.event_id)))


def reconstruct(own: Sequence[Envelope], entries: Sequence[Mapping[str, Any]], asked: AsOf) -> Past:
    kept, point = cut(
        items(own, entries),
        asked,
        own=lambda i: i.own,
        version=lambda i: i.version,
        occurred_at=lambda i: i.occurred_at,
    )
    return Past(row(kept), [i.entry() for i in kept if i.summary], point)


def row(kept: Sequence[Item]) -> dict[str, Any]:
    """The `requests` row after these events (the submission among them)."""
    submission = next(i for i in kept if i.event_type == RequestSubmitted.event_type)
    assert submission.data is not None
    details = dict(submission.data)
    open_request: UUID | None = None
    questions: list[str] = []
    deployed = 0
    for item in kept:
        d = item.data if item.data is not None else item.details
        match item.event_type:
            case RequestAmended.event_type:
                details |= d.get("changes") or {}
                if d.get("answers"):
                    open_request, questions = None, []
            case InformationRequested.event_type:
                open_request = UUID(str(d["information_request_id"]))
                questions = list(d["questions"])
            case DeploymentStarted.event_type:
                deployed = int(d["headcount_deployed"])
            case OfficerRepatriated.event_type:
                deployed = max(deployed - 1, 0)
            case DeploymentCompleted.event_type:
                deployed = 0
    return {
        "request_id": submission.data["request_id"],
        "reference": details["reference"],
        "partner_id": details["partner_id"],
        "title": details["title"],
        "country": details["country"],
        "capability": details["capability"],
        "classification": details["classification"],
        "status": status_of(i.event_type for i in kept if i.summary).value,
        "submitted_at": submission.occurred_at,
        "updated_at": max(i.occurred_at for i in kept if i.summary),
        "details": details,
        "open_information_request": open_request,
        "open_questions": questions,
        "headcount_deployed": deployed,
    }
