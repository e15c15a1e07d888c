"""Pure folds: a request's (or a deployment's) logged events → its flat read-model row.

No I/O and no clock: the rows are functions of the events alone, so a rebuild from offset 0
comes out identical, whatever order the three topics were consumed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from shared.reference.data import load_reference_data
from shared.request_status import Progress, advance
from shared.topics import DEPLOYMENT_EVENTS, INTAKE_EVENTS, TRIAGE_EVENTS

#: Fields that never enter the reporting database: personal data of contacts and officers.
PERSONAL_FIELDS = frozenset({"contact", "personal_data", "next_of_kin"})
#: What an amendment may change that a request row shows.
AMENDED_COLUMNS = ("title", "description", "mission", "headcount", "tour_length_months")
_TOPIC_RANK = {INTAKE_EVENTS: 0, TRIAGE_EVENTS: 1, DEPLOYMENT_EVENTS: 2}


@dataclass(frozen=True)
class Logged:
    """One event as the log holds it."""

    event_id: UUID
    event_type: str
    topic: str
    stream_version: int
    occurred_at: datetime
    data: Mapping[str, Any]


def without_personal_data(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in PERSONAL_FIELDS}


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id of a W3C `traceparent` (`00-<trace id>-<span id>-<flags>`)."""
    if not traceparent:
        return None
    parts = traceparent.split("-")
    if len(parts) != 4 or len(parts[1]) != 32:
        return None
    return parts[1]


def region_of(country: str) -> str:
    return load_reference_data().country_or_unlisted(country).region.value


def in_order(events: Iterable[Logged]) -> list[Logged]:
    """Time first; then intake before triage before deployment, then stream order."""
    return sorted(
        events,
        key=lambda e: (e.occurred_at, _TOPIC_RANK.get(e.topic, 3), e.stream_version, e.event_id),
    )


def request_row(events: Sequence[Logged]) -> dict[str, Any] | None:
    """The flat request row, or None until the submission itself has been seen."""
    ordered = in_order(events)
    submitted = next((e for e in ordered if e.event_type == "RequestSubmitted"), None)
    if submitted is None:
        return None
    d = submitted.data
    row: dict[str, Any] = {
        "reference": d["reference"],
        "partner_id": d["partner_id"],
        "partner_type": d["partner_type"],
        "country": d["country"],
        "region": None,
        "capability": d["capability"],
        "classification": d["classification"],
        "title": d["title"],
        "description": d["description"],
        "mission": d.get("mission"),
        "funding_source": d.get("funding_source"),
        "headcount": d["headcount"],
        "tour_length_months": d.get("tour_length_months"),
        "needed_by": _date(d.get("needed_by")),
        "status": None,
        "score": None,
        "risk_tier": None,
        "submitted_at": submitted.occurred_at,
        "decided_at": None,
        "decision": None,
        "withdrawn_at": None,
        "deployment_start": None,
        "updated_at": submitted.occurred_at,
    }
    progress = Progress()  # the stage apart from open questions: an answer returns to it
    for e in ordered:
        if e is submitted:
            continue
        _apply_to_request(row, e)
        progress = advance(progress, e.event_type)
        row["updated_at"] = max(row["updated_at"], e.occurred_at)
    row["status"] = progress.status.value
    row["region"] = row["region"] or region_of(row["country"])
    row["approved"] = row["decision"] == "approved"
    row["rejected"] = row["decision"] == "rejected"
    row["withdrawn"] = row["withdrawn_at"] is not None
    return row


def _apply_to_request(row: dict[str, Any], e: Logged) -> None:
    d = e.data
    match e.event_type:
        case "RequestAmended":
            # Every amendable field the row shows (contact is personal data: never here).
            changes = d.get("changes") or {}
            for name in AMENDED_COLUMNS:
                if changes.get(name) is not None:
                    row[name] = changes[name]
            if changes.get("needed_by") is not None:
                row["needed_by"] = _date(changes["needed_by"])
        case "RequestTriaged":
            row["region"] = d.get("region") or row["region"]
            row["score"] = d.get("score", row["score"])
        case "RequestAssessed":
            row["score"] = d.get("score", row["score"])
            row["risk_tier"] = d.get("risk_tier")
        case "RequestApproved" | "RequestRejected" if row["decided_at"] is None:
            row["decided_at"] = e.occurred_at
            row["decision"] = "approved" if e.event_type == "RequestApproved" else "rejected"
        case "RequestWithdrawn" if row["withdrawn_at"] is None:
            row["withdrawn_at"] = e.occurred_at
        case "DeploymentStarted":
            started = _date(d.get("started_on"))
            if started and (row["deployment_start"] is None or started < row["deployment_start"]):
                row["deployment_start"] = started


@dataclass(frozen=True)
class DeploymentRows:
    deployment: dict[str, Any]
    officers: list[dict[str, Any]]


def deployment_rows(events: Sequence[Logged]) -> DeploymentRows | None:
    """The deployment row and its officers' rows, or None until it has been planned."""
    ordered = sorted(events, key=lambda e: (e.stream_version, e.occurred_at, e.event_id))
    planned = next((e for e in ordered if e.event_type == "DeploymentPlanned"), None)
    if planned is None:
        return None
    d = planned.data
    dep: dict[str, Any] = {
        "request_id": UUID(str(d["request_id"])),
        "mission": d.get("mission"),
        "country": d["country"],
        "region": region_of(d["country"]),
        "capability": d["capability"],
        "classification": d["classification"],
        "headcount": d["headcount"],
        "status": "planned",
        "tour_start": _date(d["tour_start"]),
        "tour_end": _date(d["tour_end"]),
        "planned_tour_end": _date(d["tour_end"]),
        "extensions": 0,
        "extension_months": 0,
        "started_on": None,
        "completed_on": None,
        "planned_at": planned.occurred_at,
        "updated_at": planned.occurred_at,
    }
    officers: dict[str, dict[str, Any]] = {}
    posts = PostFill(vacant_since=[planned.occurred_at] * int(d["headcount"]))
    for e in ordered:
        if e is not planned:
            _apply_to_deployment(dep, officers, e)
            posts.apply(e, officers)
            dep["updated_at"] = max(dep["updated_at"], e.occurred_at)
    live = dep["status"] not in ("completed", "cancelled")
    dep["posts_filled"] = dep["headcount"] - len(posts.vacant_since) if live else 0
    dep["fill_hours"] = posts.fill_hours
    dep["officers_nominated"] = len(officers)
    dep["officers_deployed"] = sum(1 for o in officers.values() if o["started_on"] is not None)
    return DeploymentRows(dep, list(officers.values()))


@dataclass
class PostFill:
    """When each vacant post fell vacant, and how long each fill took (hours): a nomination
    fills the post vacant longest; a withdrawal or an early repatriation opens one again."""

    vacant_since: list[datetime]
    fill_hours: list[float] = field(default_factory=list)

    def apply(self, e: Logged, officers: dict[str, dict[str, Any]]) -> None:
        match e.event_type:
            case "OfficerNominated" if self.vacant_since:
                opened = self.vacant_since.pop(0)
                hours = (e.occurred_at - opened).total_seconds() / 3600
                self.fill_hours.append(round(max(hours, 0.0), 3))
            case "NominationWithdrawn" | "OfficerRepatriated":
                self.vacant_since.append(e.occurred_at)


def _apply_to_deployment(
    dep: dict[str, Any], officers: dict[str, dict[str, Any]], e: Logged
) -> None:
    d = e.data
    ref = d.get("officer_ref")
    match e.event_type:
        case "OfficerNominated" if isinstance(ref, str):
            officers[ref] = {
                "officer_ref": ref,
                "request_id": dep["request_id"],
                "offer_id": UUID(str(d["offer_id"])) if d.get("offer_id") else None,
                "force": d["force"],
                "gender": d["gender"],
                "capability": dep["capability"],
                "state": "nominated",
                "nominated_at": e.occurred_at,
                "started_on": None,
                "returned_on": None,
                "repatriation_reason": None,
            }
            dep["status"] = "staffing" if dep["status"] == "planned" else dep["status"]
        case "OfficerReleased" if ref in officers:
            officers[ref]["state"] = "released"
        case "NominationWithdrawn" if ref in officers:
            officers[ref]["state"] = "withdrawn"
        case "OfficerDeployed" if ref in officers:
            officers[ref] |= {"state": "deployed", "started_on": _date(d["on"])}
        case "OfficerCleared" if ref in officers:
            officers[ref]["state"] = "cleared"
            cleared = sum(1 for o in officers.values() if o["state"] == "cleared")
            if dep["status"] in ("planned", "staffing") and cleared >= dep["headcount"]:
                dep["status"] = "ready"
        case "DeploymentStarted":
            started = _date(d["started_on"])
            dep["status"] = "deployed"
            dep["started_on"] = started
            for officer_ref in d.get("officer_refs", []):
                if officer_ref in officers:
                    officers[officer_ref] |= {"state": "deployed", "started_on": started}
        case "TourExtended":
            dep["tour_end"] = _date(d["new_end"])
            dep["extensions"] += 1
            dep["extension_months"] += int(d.get("months", 0))
        case "OfficerRepatriated" if ref in officers:
            officers[ref] |= {
                "state": "repatriated_early",
                "returned_on": _date(d["on"]),
                "repatriation_reason": d.get("reason_code"),
            }
        case "DeploymentCompleted":
            completed = _date(d["completed_on"])
            dep["status"] = "completed"
            dep["completed_on"] = completed
            for officer in officers.values():
                if officer["state"] == "deployed":
                    officer |= {"state": "returned", "returned_on": completed}
        case "DeploymentCancelled":
            dep["status"] = "cancelled"
            for officer in officers.values():
                if officer["state"] in ("nominated", "released", "cleared"):
                    officer["state"] = "stood_down"


def _date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
