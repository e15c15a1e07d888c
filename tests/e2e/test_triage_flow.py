"""Triage over HTTP: a partner's request through the hub's queue to a ministerial approval,
against the running services (intake and triage meet only through Kafka)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from services.triage.domain.case import CLOSED
from shared.catalogue.deployment import CapabilityOffered
from shared.events import Actor, Envelope
from shared.topics import DEPLOYMENT_EVENTS
from tests.running_services import TokenFactory, bearer

pytestmark = pytest.mark.e2e

CASE_TIMEOUT_S = 30.0
TOKEN_HEADER = "X-Consistency-Token"


def a_request(**overrides: Any) -> dict[str, Any]:
    body = {
        "title": "Border security mentors for the northern crossings",
        "description": "Three mentors for the border police at the northern crossings.",
        "country": "SO",
        "mission": "UNSOM",
        "requesting_body": "UN Police Division",
        "partner_type": "un",
        "capability": "border-security",
        "headcount": 3,
        "role_profile": {"rank": "Sergeant", "skills": ["border management"], "languages": []},
        "tour_length_months": 12,
        "needed_by": (date.today() + timedelta(days=120)).isoformat(),
        "funding_source": "cssf-oda",
        "classification": "OFFICIAL",
        "contact": {"name": "Amina Diallo", "email": "a.diallo@un.example"},
    }
    return body | overrides


class Hub:
    """The staff of one test: fresh subjects, so no rule sees another test's people."""

    def __init__(self, token: TokenFactory) -> None:
        tag = uuid.uuid4().hex[:6]
        self.names = {who: f"{who}-{tag}" for who in ("alice", "bob", "carol", "dave")}
        self.token = token

    def as_(self, role: str, who: str, **claims: Any) -> dict[str, str]:
        return bearer(self.token(role, sub=self.names[who], **claims))

    @property
    def officer(self) -> dict[str, str]:
        return self.as_("triage_officer", "alice")


@pytest.fixture
def hub(token: TokenFactory) -> Hub:
    return Hub(token)


@pytest.fixture
def partner(token: TokenFactory) -> dict[str, str]:
    return bearer(token("partner", partner_id=f"partner-{uuid.uuid4().hex[:8]}"))


async def submit(intake: httpx.AsyncClient, partner: dict[str, str], **overrides: Any) -> str:
    response = await intake.post("/v1/requests", json=a_request(**overrides), headers=partner)
    assert response.status_code == 201, response.text
    return str(response.json()["request"]["id"])


async def eventually(
    client: httpx.AsyncClient,
    path: str,
    headers: dict[str, str],
    *,
    status: str | None = None,
    timeout_s: float = CASE_TIMEOUT_S,
) -> dict[str, Any]:
    """GET `path` until it answers 200 (with `status`, if given); bounded."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    last: httpx.Response | None = None
    while asyncio.get_running_loop().time() < deadline:
        last = await client.get(path, headers=headers)
        if last.status_code == 200 and (status is None or last.json()["status"] == status):
            return dict(last.json())
        await asyncio.sleep(0.1)
    shown = last.text if last is not None else "no answer"
    raise AssertionError(f"{path} did not reach {status or '200'} in {timeout_s} s: {shown}")


def problem(response: httpx.Response, status: int, slug: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == f"/problems/{slug}", response.text


@pytest.fixture
async def clients(services: dict[str, str]) -> Any:
    async with (
        httpx.AsyncClient(base_url=services["intake"], timeout=15) as intake,
        httpx.AsyncClient(base_url=services["triage"], timeout=15) as triage,
    ):
        yield intake, triage


async def open_case(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
    partner: dict[str, str],
    hub: Hub,
    **overrides: Any,
) -> tuple[str, dict[str, Any]]:
    intake, triage = clients
    rid = await submit(intake, partner, **overrides)
    return rid, await eventually(triage, f"/v1/cases/{rid}", hub.officer)


async def test_a_high_risk_request_goes_from_submission_to_ministerial_approval(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], partner: dict[str, str], hub: Hub
) -> None:
    intake, triage = clients
    rid, case = await open_case(clients, partner, hub)
    assert case["status"] == "in_triage" and case["provisional"] is True
    assert case["policy_version"] and len(case["breakdown"]) == 6
    assert round(sum(part["points"] for part in case["breakdown"]), 2) == case["score"]
    opened = [e for e in case["history"] if e["event"] == "RequestTriaged"]
    assert len(opened) == 1 and opened[0]["actor"] == {"subject": "triage", "role": "system"}
    assert opened[0]["stream_id"] == f"case-{rid}" and opened[0]["stream_version"] == 1

    # The hub asks; the partner sees the questions and answers them through intake.
    asked = await triage.post(
        f"/v1/cases/{rid}/information-requests",
        headers=hub.officer,
        json={"questions": ["Will the host state provide transport?"]},
    )
    assert asked.status_code == 200, asked.text
    assert asked.json()["case"]["status"] == "information_requested"
    token = asked.headers[TOKEN_HEADER]
    assert asked.json()["consistency_token"] == token
    await eventually(
        intake,
        f"/v1/requests/{rid}",
        partner | {TOKEN_HEADER: token},
        status="information_requested",
    )
    answered = await intake.post(
        f"/v1/requests/{rid}/amendments",
        headers=partner,
        json={"answers": ["Yes, armoured vehicles with drivers."]},
    )
    assert answered.status_code == 200, answered.text
    back = await eventually(
        triage,
        f"/v1/cases/{rid}",
        hub.officer | {TOKEN_HEADER: answered.headers[TOKEN_HEADER]},
        status="in_triage",
    )
    assert back["open_information_request"] is None

    # Assessment: high risk, so the board's approval is followed by a minister's.
    assessed = await triage.post(
        f"/v1/cases/{rid}/assessment",
        headers=hub.officer,
        json={
            "risk_tier": "high",
            "alignment": 0.7,
            "notes": "OSJA completed; mitigations agreed.",
        },
    )
    assert assessed.status_code == 200, assessed.text
    view = assessed.json()["case"]
    assert view["status"] == "assessed" and view["provisional"] is False
    assert view["assessment"]["assessor"] == hub.names["alice"]
    assert view["risk_tier"] == "high" and view["score"] == view["assessment"]["computed_score"]

    decisions = f"/v1/cases/{rid}/decisions"
    board = {"decision": "approve", "stage": "board", "reason": "Meets the criteria."}
    ministerial = {"decision": "approve", "stage": "ministerial"}
    problem(
        await triage.post(decisions, json=board, headers=hub.as_("approver", "alice")),
        403,
        "approver-is-assessor",
    )
    problem(
        await triage.post(decisions, json=ministerial, headers=hub.as_("minister", "carol")),
        409,
        "board-approval-required",
    )
    problem(
        await triage.post(decisions, json=board, headers=hub.as_("minister", "carol")),
        403,
        "wrong-role-for-stage",
    )
    problem(await triage.post(decisions, json=board, headers=hub.officer), 403, "forbidden")

    approved_by_board = await triage.post(decisions, json=board, headers=hub.as_("approver", "bob"))
    assert approved_by_board.status_code == 200, approved_by_board.text
    assert approved_by_board.json()["case"]["status"] == "awaiting_ministerial"

    for who in ("alice", "bob"):
        problem(
            await triage.post(decisions, json=ministerial, headers=hub.as_("minister", who)),
            403,
            "minister-not-independent",
        )
    problem(
        await triage.post(decisions, json=ministerial, headers=hub.as_("approver", "dave")),
        403,
        "wrong-role-for-stage",
    )

    final = await triage.post(decisions, json=ministerial, headers=hub.as_("minister", "carol"))
    assert final.status_code == 200, final.text
    case = final.json()["case"]
    assert case["status"] == "approved"
    assert case["approvals"] == {"board": hub.names["bob"], "ministerial": hub.names["carol"]}
    problem(
        await triage.post(decisions, json=board, headers=hub.as_("approver", "dave")),
        409,
        "case-closed",
    )
    events = [e["event"] for e in case["history"]]
    for expected in (
        "RequestSubmitted",
        "RequestTriaged",
        "InformationRequested",
        "RequestAmended",
        "RequestAssessed",
        "ApprovalGiven",
        "RequestApproved",
    ):
        assert expected in events

    # The partner follows every partner-visible step, and sees no scores or staff names.
    seen = await eventually(
        intake,
        f"/v1/requests/{rid}",
        partner | {TOKEN_HEADER: final.headers[TOKEN_HEADER]},
        status="approved",
    )
    steps = [entry["summary"] for entry in seen["timeline"]]
    assert steps == [
        "Request submitted",
        "The hub opened a case for your request",
        "The hub asked for more information",
        "You answered the hub's questions",
        "The request was assessed",
        "Approved by the approval board",
        "Approved by a minister",
        "The request was approved",
    ]
    text = str(seen)
    assert all(name not in text for name in hub.names.values())
    assert str(view["score"]) not in text


async def test_the_queue_is_ordered_by_priority_filtered_and_paginated(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], token: TokenFactory, hub: Hub
) -> None:
    _, triage = clients
    far = (date.today() + timedelta(days=300)).isoformat()
    near = (date.today() + timedelta(days=20)).isoformat()
    # A partner's type is the registry's: one partner of each type.
    of_type = {
        kind: bearer(
            token(
                "partner",
                partner_id=f"{kind}-{uuid.uuid4().hex[:8]}",
                partner_type=kind,
                organisation="UN Police Division",
            )
        )
        for kind in ("osce", "other")
    }
    mine = [
        (await open_case(clients, of_type[kind], hub, needed_by=when, partner_type=kind))[0]
        for when, kind in ((far, "osce"), (near, "osce"), (near, "other"))
    ]
    seen: list[dict[str, Any]] = []
    cursor = None
    for _ in range(200):
        params: dict[str, Any] = {
            "limit": 2,
            "partner_type": "osce",
            "capability": "border-security",
        }
        if cursor:
            params["cursor"] = cursor
        page = await triage.get("/v1/cases", params=params, headers=hub.officer)
        assert page.status_code == 200, page.text
        assert len(page.json()["items"]) <= 2
        seen.extend(page.json()["items"])
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    ids = [item["id"] for item in seen]
    assert len(ids) == len(set(ids))
    assert mine[0] in ids and mine[1] in ids and mine[2] not in ids
    assert {item["partner_type"] for item in seen} == {"osce"}
    # Open cases first (other tests leave decided ones of this kind), then by priority.
    closed = {status.value for status in CLOSED}
    order = [
        (item["status"] in closed, -item["score"], item["needed_by"], item["id"]) for item in seen
    ]
    assert order == sorted(order)
    # The same request needed sooner is more urgent, so it comes first.
    assert ids.index(mine[1]) < ids.index(mine[0])

    only = await triage.get(
        "/v1/cases", headers=hub.officer, params={"status": ["approved", "rejected"], "limit": 50}
    )
    assert {item["status"] for item in only.json()["items"]} <= {"approved", "rejected"}
    problem(
        await triage.get("/v1/cases", params={"cursor": "bogus"}, headers=hub.officer),
        400,
        "bad-cursor",
    )
    problem(await triage.get("/v1/cases", headers=of_type["osce"]), 403, "forbidden")


async def test_official_sensitive_text_needs_sc_clearance(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], partner: dict[str, str], hub: Hub
) -> None:
    _, triage = clients
    rid, case = await open_case(
        clients,
        partner,
        hub,
        classification="OFFICIAL-SENSITIVE",
        title="Sensitive title",
        description="Sensitive description",
    )
    assert case["redacted"] is True and case["title"] is None and case["description"] is None
    assert "Sensitive title" not in str(case)
    cleared = await triage.get(
        f"/v1/cases/{rid}", headers=hub.as_("analyst", "dave", clearance="sc")
    )
    assert cleared.status_code == 200
    assert cleared.json()["title"] == "Sensitive title" and cleared.json()["redacted"] is False
    ctc = await triage.get(f"/v1/cases/{rid}", headers=hub.as_("analyst", "dave", clearance="ctc"))
    assert ctc.json()["title"] is None


async def test_a_withdrawn_request_closes_its_case(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], partner: dict[str, str], hub: Hub
) -> None:
    intake, triage = clients
    rid, _ = await open_case(clients, partner, hub)
    withdrawn = await intake.post(
        f"/v1/requests/{rid}/withdrawal",
        headers=partner,
        json={"reason": "The mission was cancelled."},
    )
    assert withdrawn.status_code == 200, withdrawn.text
    await eventually(triage, f"/v1/cases/{rid}", hub.officer, status="withdrawn")
    problem(
        await triage.post(
            f"/v1/cases/{rid}/assessment", json={"risk_tier": "low"}, headers=hub.officer
        ),
        409,
        "case-closed",
    )


async def test_rejections_need_a_published_reason_code(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], partner: dict[str, str], hub: Hub
) -> None:
    _, triage = clients
    reasons = await triage.get("/v1/reference/rejection-reasons", headers=partner)
    assert reasons.status_code == 200
    codes = [item["code"] for item in reasons.json()["items"]]
    assert "out-of-scope" in codes
    rid, _ = await open_case(clients, partner, hub)
    decisions = f"/v1/cases/{rid}/decisions"
    bob = hub.as_("approver", "bob")
    reject = {"decision": "reject", "stage": "board"}
    problem(await triage.post(decisions, json=reject, headers=bob), 409, "assessment-required")
    problem(
        await triage.post(
            f"/v1/cases/{rid}/assessment",
            headers=hub.officer,
            json={"risk_tier": "low", "score_override": 99},
        ),
        422,
        "override-rationale-required",
    )
    assessed = await triage.post(
        f"/v1/cases/{rid}/assessment",
        headers=hub.officer,
        json={
            "risk_tier": "low",
            "score_override": 99,
            "override_rationale": "Requested by the Home Secretary.",
        },
    )
    assert assessed.status_code == 200, assessed.text
    assert assessed.json()["case"]["score"] == 99
    problem(await triage.post(decisions, json=reject, headers=bob), 422, "reason-code-required")
    problem(
        await triage.post(decisions, json=reject | {"reason_code": "whim"}, headers=bob),
        422,
        "reason-code-unknown",
    )
    problem(
        await triage.post(decisions, json=reject | {"status": "approved"}, headers=bob),
        422,
        "validation-error",
    )
    rejected = await triage.post(
        decisions, headers=bob, json=reject | {"reason_code": "out-of-scope", "reason": "No."}
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["case"]["rejection"] == {"reason_code": "out-of-scope", "reason": "No."}


async def test_two_racing_decisions_on_one_case_let_exactly_one_win(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], partner: dict[str, str], hub: Hub
) -> None:
    _, triage = clients
    rid, _ = await open_case(clients, partner, hub)
    assessed = await triage.post(
        f"/v1/cases/{rid}/assessment", json={"risk_tier": "low"}, headers=hub.officer
    )
    assert assessed.status_code == 200, assessed.text
    approve = {"decision": "approve", "stage": "board"}
    reject = {"decision": "reject", "stage": "board", "reason_code": "no-funding"}
    answers = await asyncio.gather(
        triage.post(f"/v1/cases/{rid}/decisions", json=approve, headers=hub.as_("approver", "bob")),
        triage.post(f"/v1/cases/{rid}/decisions", json=reject, headers=hub.as_("approver", "dave")),
    )
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 409], [a.text for a in answers]
    loser = next(a for a in answers if a.status_code == 409)
    # Both read the same version: the store refuses the second append. Had the loser read after
    # the winner committed, the closed case would refuse it instead.
    assert loser.json()["type"] in ("/problems/version-conflict", "/problems/case-closed")
    case = (await triage.get(f"/v1/cases/{rid}", headers=hub.officer)).json()
    decided = [e for e in case["history"] if e["event"] in ("RequestApproved", "RequestRejected")]
    assert len(decided) == 1


async def test_a_repeated_idempotency_key_answers_the_first_response(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], partner: dict[str, str], hub: Hub
) -> None:
    _, triage = clients
    rid, _ = await open_case(clients, partner, hub)
    keyed = hub.officer | {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    body = {"questions": ["How many vehicles?"]}
    path = f"/v1/cases/{rid}/information-requests"
    first = await triage.post(path, json=body, headers=keyed)
    again = await triage.post(path, json=body, headers=keyed)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    other = await triage.post(path, json={"questions": ["Other?"]}, headers=keyed)
    problem(other, 422, "idempotency-key-reused")


async def test_a_rebuild_reopens_no_case_and_comes_out_identical(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
    partner: dict[str, str],
    hub: Hub,
    token: TokenFactory,
) -> None:
    _, triage = clients
    rid, _ = await open_case(clients, partner, hub)
    assessed = await triage.post(
        f"/v1/cases/{rid}/assessment", json={"risk_tier": "medium"}, headers=hub.officer
    )
    assert assessed.status_code == 200, assessed.text
    before = (await triage.get(f"/v1/cases/{rid}", headers=hub.officer)).json()
    operator = bearer(token("operator"))
    started = await triage.post("/v1/admin/rebuild", headers=operator)
    assert started.status_code == 202, started.text
    progress: dict[str, Any] = {}
    for _ in range(600):
        progress = (await triage.get("/v1/admin/rebuild", headers=operator)).json()
        if progress["state"] in ("done", "failed"):
            break
        await asyncio.sleep(0.1)
    assert progress["state"] == "done", progress
    after = await eventually(triage, f"/v1/cases/{rid}", hub.officer)
    assert after == before
    assert [e["event"] for e in after["history"]].count("RequestTriaged") == 1
    where = (await triage.get(f"/v1/admin/requests/{rid}", headers=operator)).json()
    assert where["state"]["status"] == "assessed" and where["state"]["risk_tier"] == "medium"


def offered_in(case: dict[str, Any]) -> int:
    part = next(p for p in case["breakdown"] if p["criterion"] == "capability_availability")
    return int(part["explanation"].split()[0])


async def offer_officers(bootstrap: str, capability: str, count: int) -> None:
    """What deployment publishes when UK forces offer officers (sent straight to the topic)."""
    until = date.today() + timedelta(days=1000)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for n in range(count):
            offer = CapabilityOffered(
                offer_id=uuid.uuid4(),
                officer_ref=f"OFF-{uuid.uuid4().hex[:8]}",
                force="kent",
                capability=capability,
                rank="PS",
                gender="f",
                vetting_level="sc",
                vetting_expires=until,
                medical_expires=until,
                training_expires=until,
                passport_expires=until,
                available_from=date.today(),
                available_to=until,
                personal_data="ciphertext",
            )
            env = Envelope.wrap(
                offer,
                stream_id=f"offer-{offer.offer_id}",
                stream_version=1,
                producer="test",
                correlation_id=f"offer-{n}",
                actor=Actor(subject="kent-liaison", role="force_liaison"),
            )
            await producer.send_and_wait(
                DEPLOYMENT_EVENTS, env.to_bytes(), key=env.key.encode(), headers=env.kafka_headers()
            )
    finally:
        await producer.stop()


async def test_officers_offered_for_a_capability_raise_its_availability(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
    partner: dict[str, str],
    hub: Hub,
    bootstrap: str,
) -> None:
    big = {"capability": "forensics", "headcount": 100}
    _, before = await open_case(clients, partner, hub, **big)
    await offer_officers(bootstrap, "forensics", 3)
    deadline = asyncio.get_running_loop().time() + CASE_TIMEOUT_S
    while True:
        _, after = await open_case(clients, partner, hub, **big)
        if offered_in(after) >= offered_in(before) + 3:
            break
        assert asyncio.get_running_loop().time() < deadline, after["breakdown"]
        await asyncio.sleep(0.5)
    assert after["score"] > before["score"] or offered_in(before) >= 100
