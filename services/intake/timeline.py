"""What a partner is told about each gateway event: outcomes and what staff wrote for the partner
(`partner_message`) and the conversation with the hub; never scores, who decided or owns the
case, internal reasons and notes (`CaseNoteAdded`), or officer data."""

from __future__ import annotations

from typing import Any

from shared.events import Envelope


def partner_entry(env: Envelope) -> tuple[str, dict[str, Any]] | None:
    """(summary, partner-visible details) for a timeline, or None for events partners don't see."""
    d = env.data
    match env.event_type:
        case "RequestSubmitted":
            return "Request submitted", {"reference": d["reference"]}
        case "RequestAmended":
            if d.get("answers"):
                return "You answered the hub's questions", {"answers": d["answers"]}
            return "You amended the request", {"changed": sorted(d.get("changes", {}))}
        case "RequestWithdrawn":
            return "You withdrew the request", {"reason": d["reason"]}
        case "RequestTriaged":
            return "The hub opened a case for your request", {}
        case "InformationRequested":
            return "The hub asked for more information", {
                "information_request_id": d["information_request_id"],
                "questions": d["questions"],
            }
        case "RequestAssessed":
            return "The request was assessed", _message(d)
        case "ApprovalGiven":
            stage = "the approval board" if d["stage"] == "board" else "a minister"
            return f"Approved by {stage}", {"stage": d["stage"]} | _message(d)
        case "RequestApproved":
            return "The request was approved", {}
        case "RequestRejected":
            return "The request was declined", {"reason_code": d["reason_code"]} | _message(d)
        case "RequestPutOnHold":
            return "The decision was put on hold", _message(d)
        case "RequestResumed":
            return "The decision was resumed", _message(d)
        case "MessageToPartner":
            return "The hub wrote to you", {"message_id": d["message_id"]} | _message(d)
        case "MessageFromPartner":
            return "You wrote to the hub", {"message_id": d["message_id"]} | _message(d)
        case "DeploymentPlanned":
            return "A deployment was planned", {
                "tour_start": d["tour_start"],
                "tour_end": d["tour_end"],
            }
        case "OfficerNominated":
            return "An officer was nominated", {}
        case "OfficerReleased":
            return "A nominated officer was released by their force", {}
        case "OfficerCleared":
            return "A nominated officer was cleared to deploy", {}
        case "DeploymentStarted":
            return "Officers deployed", {
                "headcount_deployed": len(d["officer_refs"]),
                "started_on": d["started_on"],
            }
        case "TourExtended":
            return "The tour was extended", {"months": d["months"], "new_end": d["new_end"]}
        case "OfficerRepatriated":
            return "An officer returned before the end of the tour", {}
        case "DeploymentCompleted":
            return "The deployment was completed", {"completed_on": d["completed_on"]}
        case "DeploymentCancelled":
            return "The deployment was cancelled", _message(d)
    return None


def _message(data: dict[str, Any]) -> dict[str, Any]:
    """What staff wrote for the partner on a decision, if anything: never the internal reason."""
    message = data.get("partner_message")
    return {"message": message} if message else {}
