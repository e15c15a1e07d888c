"""A whole story told through the running services' APIs with a canary in every text field, once
per classification: for the need-to-know tests (no tests here).

Every free text a partner or a member of staff writes along the way carries a canary
`CANARY-<OS|OF>-<field>-<run>`, so a search of any response says which field of which
classification's story reached it. The story: a request (title, description, mission, contact),
information asked for and given, an internal note and a message each way, an assessment (notes, an override's rationale), a hold and a
resumption, the board's and the minister's approvals (reasons, messages for the partner), a
deployment planned and cancelled, a second one staffed, started and one officer brought home early;
and a second request assessed and rejected.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx

from tests.e2e.test_deployment_support import an_offer
from tests.e2e.test_triage_flow import Hub, a_request, eventually
from tests.running_services import TokenFactory, bearer

SENSITIVE, OFFICIAL = "OS", "OF"
CLASSIFICATION = {SENSITIVE: "OFFICIAL-SENSITIVE", OFFICIAL: "OFFICIAL"}
#: Text only staff may read (with clearance, for OFFICIAL-SENSITIVE): never a partner.
INTERNAL = frozenset(
    {
        "notes",
        "override_rationale",
        "hold_reason",
        "resume_reason",
        "board_reason",
        "minister_reason",
        "reject_reason",
        "cancel_reason",
        "repatriation_notes",
        "case_note",
    }
)
#: What staff wrote for the partner: partners read it, uncleared staff of OS material do not.
FOR_PARTNER = frozenset(
    {"hold_message", "board_message", "cancel_message", "reject_message", "hub_message"}
)
#: What the partner wrote, or was asked.
PARTNERS_OWN = frozenset(
    {
        "title",
        "description",
        "mission",
        "contact_name",
        "contact_email",
        "questions",
        "answers",
        "partner_reply",
    }
)
FIELDS = INTERNAL | FOR_PARTNER | PARTNERS_OWN | {"deployment_mission"}


@dataclass
class Story:
    tag: str  # OS or OF
    run: str
    request_id: str = ""
    rejected_id: str = ""
    cancelled_deployment: str = ""
    deployment_id: str = ""
    officer_ref: str = ""
    offer_id: str = ""
    partner_id: str = ""
    partner: dict[str, str] = field(default_factory=dict)

    def canary(self, name: str) -> str:
        return f"CANARY-{self.tag}-{name}-{self.run}"


def found(text: str, run: str) -> set[tuple[str, str]]:
    """The (classification tag, field) of every canary of this run in `text`."""
    pattern = rf"CANARY-(OS|OF)-([a-z_]+)-{run}"
    return {(m.group(1), m.group(2)) for m in re.finditer(pattern, text)}


@dataclass
class Clients:
    intake: httpx.AsyncClient
    triage: httpx.AsyncClient
    deployment: httpx.AsyncClient


def _days(n: int) -> str:
    return (date.today() + timedelta(days=n)).isoformat()


def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, f"{response.request.url}: {response.text}"
    return dict(response.json())


async def tell(clients: Clients, token: TokenFactory, hub: Hub, story: Story, force: str) -> Story:
    """Tell the story of `story.tag` through the APIs, with officers of `force` and deployments
    planned by `hub.names["dave"]`; fills in the story's ids. `story.officer_ref` is an officer
    still deployed at the end."""
    c = story.canary
    story.partner_id = f"un-{uuid.uuid4().hex[:8]}"
    story.partner = bearer(token("partner", partner_id=story.partner_id))
    manager = bearer(token("deployment_manager", sub=hub.names["dave"], clearance="sc"))
    liaison = bearer(token("force_liaison", force=force, sub=f"liaison-{force}"))
    request = a_request(
        title=c("title"),
        description=c("description"),
        mission=c("mission"),
        classification=CLASSIFICATION[story.tag],
        contact={"name": c("contact_name"), "email": f"{c('contact_email')}@un.example"},
    )
    created = _ok(
        await clients.intake.post("/v1/requests", json=request, headers=story.partner), 201
    )
    story.request_id = rid = str(created["request"]["id"])
    await eventually(clients.triage, f"/v1/cases/{rid}", hub.officer)
    case = f"/v1/cases/{rid}"
    _ok(
        await clients.triage.post(
            f"{case}/information-requests",
            json={"questions": [c("questions")]},
            headers=hub.officer,
        )
    )
    await eventually(
        clients.intake, f"/v1/requests/{rid}", story.partner, status="information_requested"
    )
    _ok(
        await clients.intake.post(
            f"/v1/requests/{rid}/amendments",
            json={"answers": [c("answers")]},
            headers=story.partner,
        )
    )
    await eventually(clients.triage, case, hub.officer, status="in_triage")
    # Casework: an internal note, and the conversation both ways.
    _ok(
        await clients.triage.post(
            f"{case}/notes", json={"note": c("case_note")}, headers=hub.officer
        )
    )
    _ok(
        await clients.triage.post(
            f"{case}/messages", json={"message": c("hub_message")}, headers=hub.officer
        )
    )
    _ok(
        await clients.intake.post(
            f"/v1/requests/{rid}/messages",
            json={"message": c("partner_reply")},
            headers=story.partner,
        )
    )
    _ok(
        await clients.triage.post(
            f"{case}/assessment",
            json={
                "risk_tier": "high",
                "notes": c("notes"),
                "score_override": 90,
                "override_rationale": c("override_rationale"),
            },
            headers=hub.officer,
        )
    )
    decide = f"{case}/decisions"
    approver, minister = hub.as_("approver", "bob"), hub.as_("minister", "carol")
    for body, who in (
        (
            {
                "decision": "hold",
                "stage": "board",
                "reason": c("hold_reason"),
                "partner_message": c("hold_message"),
            },
            approver,
        ),
        ({"decision": "resume", "stage": "board", "reason": c("resume_reason")}, approver),
        (
            {
                "decision": "approve",
                "stage": "board",
                "reason": c("board_reason"),
                "partner_message": c("board_message"),
            },
            approver,
        ),
        (
            {"decision": "approve", "stage": "ministerial", "reason": c("minister_reason")},
            minister,
        ),
    ):
        _ok(await clients.triage.post(decide, json=body, headers=who))

    await eventually(clients.deployment, f"/v1/requirements/{rid}", manager, status="open")
    plan = {"request_id": rid, "tour_start": _days(14), "mission": c("deployment_mission")}
    first = _ok(await clients.deployment.post("/v1/deployments", json=plan, headers=manager), 201)
    story.cancelled_deployment = str(first["deployment"]["id"])
    _ok(
        await clients.deployment.post(
            f"/v1/deployments/{story.cancelled_deployment}/cancellation",
            json={"reason": c("cancel_reason"), "partner_message": c("cancel_message")},
            headers=manager,
        )
    )
    second = _ok(await clients.deployment.post("/v1/deployments", json=plan, headers=manager), 201)
    story.deployment_id = did = str(second["deployment"]["id"])
    officers = []
    for _ in range(3):  # the request's headcount
        offer = _ok(
            await clients.deployment.post(
                "/v1/offers", json=an_offer(capability="border-security"), headers=liaison
            ),
            201,
        )
        officers.append(offer["offer"]["officer_ref"])
        story.offer_id = str(offer["offer"]["id"])
    story.officer_ref = officers[1]
    base = f"/v1/deployments/{did}"
    for ref in officers:
        _ok(
            await clients.deployment.post(
                f"{base}/nominations", json={"officer_ref": ref}, headers=manager
            ),
            201,
        )
        _ok(await clients.deployment.post(f"{base}/officers/{ref}/release", headers=liaison))
        _ok(await clients.deployment.post(f"{base}/officers/{ref}/clearance", headers=manager))
    on_day = {"X-Jiph-Today": _days(14)}
    _ok(
        await clients.deployment.post(
            f"{base}/start", json={"on": _days(14)}, headers=manager | on_day
        )
    )
    _ok(
        await clients.deployment.post(
            f"{base}/officers/{officers[0]}/repatriation",
            json={"reason_code": "medical", "on": _days(20), "reason": c("repatriation_notes")},
            headers=manager | {"X-Jiph-Today": _days(20)},
        )
    )

    # A second request, rejected with an internal reason and a message for the partner.
    other = a_request(classification=CLASSIFICATION[story.tag], title=f"other {story.tag}")
    created = _ok(await clients.intake.post("/v1/requests", json=other, headers=story.partner), 201)
    story.rejected_id = rejected = str(created["request"]["id"])
    await eventually(clients.triage, f"/v1/cases/{rejected}", hub.officer)
    _ok(
        await clients.triage.post(
            f"/v1/cases/{rejected}/assessment", json={"risk_tier": "low"}, headers=hub.officer
        )
    )
    _ok(
        await clients.triage.post(
            f"/v1/cases/{rejected}/decisions",
            json={
                "decision": "reject",
                "stage": "board",
                "reason_code": "out-of-scope",
                "reason": c("reject_reason"),
                "partner_message": c("reject_message"),
            },
            headers=approver,
        )
    )
    return story
