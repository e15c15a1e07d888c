"""Integrity, through the HTTP APIs of the running stack: what the gateway accepts it can stand
behind. One test per promise of the integrity issue; each failed on the main it started from."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from tests.e2e.test_triage_flow import Hub, a_request, eventually, open_case, problem
from tests.running_services import TokenFactory, bearer

pytestmark = pytest.mark.e2e
Clients = tuple[httpx.AsyncClient, httpx.AsyncClient]


def new_partner(
    token: TokenFactory, partner_type: str = "un", **kw: Any
) -> tuple[str, dict[str, str]]:
    partner_id = f"{partner_type}-{uuid.uuid4().hex[:8]}"
    return partner_id, bearer(
        token("partner", partner_id=partner_id, partner_type=partner_type, **kw)
    )


@pytest.fixture
def partner(token: TokenFactory) -> dict[str, str]:
    return new_partner(token)[1]


@pytest.fixture
def hub(token: TokenFactory) -> Hub:
    return Hub(token)


@pytest.fixture
async def clients(services: dict[str, str]) -> Any:
    async with (
        httpx.AsyncClient(base_url=services["intake"], timeout=15) as intake,
        httpx.AsyncClient(base_url=services["triage"], timeout=15) as triage,
    ):
        yield intake, triage


# --- one text rule -----------------------------------------------------------------------------
async def test_a_nul_anywhere_is_refused_with_the_field_and_nothing_is_stored(
    clients: Clients, partner: dict[str, str], hub: Hub
) -> None:
    intake, triage = clients
    rid, _ = await open_case(clients, partner, hub)
    # Once intake has seen the case open, nothing else is on its way to its timeline.
    before = await eventually(intake, f"/v1/requests/{rid}", partner, status="in_triage")
    for path, body, field in (
        (f"/v1/requests/{rid}/withdrawal", {"reason": "plans\x00changed"}, "body.reason"),
        (f"/v1/requests/{rid}/amendments", {"changes": {"title": "T\x00"}}, "body.changes.title"),
    ):
        answer = await intake.post(path, json=body, headers=partner)
        assert answer.status_code == 422, answer.text
        assert [e["field"] for e in answer.json()["errors"]] == [field]
    notes = await triage.post(
        f"/v1/cases/{rid}/assessment",
        json={"risk_tier": "low", "notes": "a\x00b"},
        headers=hub.officer,
    )
    assert notes.status_code == 422 and notes.json()["errors"][0]["field"] == "body.notes"
    after = (await intake.get(f"/v1/requests/{rid}", headers=partner)).json()
    assert after["status"] == before["status"] and after["timeline"] == before["timeline"]
    query = await intake.get("/v1/requests", params={"capability": "x\x00"}, headers=partner)
    assert query.status_code == 422 and query.json()["errors"][0]["field"] == "query.capability"
    # Text is stored normalised: NFC, line breaks as \n, no surrounding space.
    amended = await intake.post(
        f"/v1/requests/{rid}/amendments",
        json={"changes": {"title": "  Cafe\u0301 advisers\r\n"}},
        headers=partner,
    )
    assert amended.status_code == 200, amended.text
    assert amended.json()["request"]["title"] == "Caf\u00e9 advisers"


async def test_a_date_filter_outside_the_supported_range_is_a_422(
    services: dict[str, str], partner: dict[str, str], token: TokenFactory
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        intake = await client.get(
            f"{services['intake']}/v1/requests",
            params={"submitted_to": "9999-12-31"},
            headers=partner,
        )
        reporting = await client.get(
            f"{services['reporting']}/v1/requests",
            params={"to": "9999-12-31"},
            headers=bearer(token("analyst")),
        )
    for answer in (intake, reporting):
        assert answer.status_code == 422, answer.text


async def test_a_token_whose_subject_is_not_canonical_is_refused(
    services: dict[str, str], token: TokenFactory
) -> None:
    async with httpx.AsyncClient(base_url=services["triage"], timeout=10) as triage:
        for subject in ("Alice", " alice", "alice\u00a0"):
            answer = await triage.get("/v1/cases", headers=bearer(token("analyst", sub=subject)))
            assert answer.status_code == 401, subject


# --- commands decide from the log; held for an operator ----------------------------------------
async def test_a_request_whose_event_is_parked_is_held_for_an_operator(
    clients: Clients, partner: dict[str, str], hub: Hub, bootstrap: str, token: TokenFactory
) -> None:
    intake, _ = clients
    rid, _ = await open_case(clients, partner, hub)
    # An event intake cannot even decode, on a topic it reads, with the request's key.
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait("jiph.triage.events", b"not an event", key=rid.encode())
    finally:
        await producer.stop()
    operator = bearer(token("operator"))
    dead: list[dict[str, Any]] = []
    for _ in range(100):
        listing = await intake.get("/v1/admin/deadletters", params={"key": rid}, headers=operator)
        dead = listing.json()["items"]
        if dead:
            break
        await asyncio.sleep(0.2)
    assert len(dead) == 1, "the undecodable record should have been dead-lettered"
    for path, body in (
        (f"/v1/requests/{rid}/amendments", {"changes": {"headcount": 3}}),
        (f"/v1/requests/{rid}/withdrawal", {"reason": "Plans changed."}),
    ):
        problem(await intake.post(path, json=body, headers=partner), 409, "held-for-operator")
    skipped = await intake.post(
        f"/v1/admin/deadletters/{dead[0]['id']}", json={"action": "skip"}, headers=operator
    )
    assert skipped.status_code == 200, skipped.text
    amended = await intake.post(
        f"/v1/requests/{rid}/amendments", json={"changes": {"headcount": 3}}, headers=partner
    )
    assert amended.status_code == 200, amended.text


# --- separation of duties over the whole history ------------------------------------------------
async def test_an_assessor_replaced_by_a_later_assessment_still_may_not_approve(
    clients: Clients, partner: dict[str, str], hub: Hub
) -> None:
    _, triage = clients
    rid, _ = await open_case(clients, partner, hub)
    for who in ("alice", "bob"):
        assessed = await triage.post(
            f"/v1/cases/{rid}/assessment",
            json={"risk_tier": "low"},
            headers=hub.as_("triage_officer", who),
        )
        assert assessed.status_code == 200, assessed.text
    # Alice, now sitting on the board: the case's first assessor.
    problem(
        await triage.post(
            f"/v1/cases/{rid}/decisions",
            json={"decision": "approve", "stage": "board"},
            headers=hub.as_("approver", "alice"),
        ),
        403,
        "approver-is-assessor",
    )


async def test_lowering_a_serious_tier_needs_a_rationale_and_keeps_the_minister(
    clients: Clients, partner: dict[str, str], hub: Hub
) -> None:
    _, triage = clients
    rid, _ = await open_case(clients, partner, hub)
    path = f"/v1/cases/{rid}/assessment"
    serious = await triage.post(path, json={"risk_tier": "serious"}, headers=hub.officer)
    assert serious.status_code == 200, serious.text
    problem(
        await triage.post(path, json={"risk_tier": "low"}, headers=hub.officer),
        422,
        "tier-rationale-required",
    )
    why = "The unit's commander was replaced after the inquiry reported."
    lowered = await triage.post(
        path, json={"risk_tier": "low", "tier_rationale": why}, headers=hub.officer
    )
    assert lowered.status_code == 200, lowered.text
    case = lowered.json()["case"]
    assert case["assessment"]["tier_rationale"] == why
    assert any(e["data"].get("tier_rationale") == why for e in case["history"])
    board = await triage.post(
        f"/v1/cases/{rid}/decisions",
        json={"decision": "approve", "stage": "board"},
        headers=hub.as_("approver", "bob"),
    )
    assert board.status_code == 200, board.text
    assert board.json()["case"]["status"] == "awaiting_ministerial"


# --- the partner registry ----------------------------------------------------------------------
async def test_only_registered_active_partners_are_served_as_what_the_registry_says(
    services: dict[str, str], token: TokenFactory, hub: Hub
) -> None:
    async with (
        httpx.AsyncClient(base_url=services["intake"], timeout=15) as intake,
        httpx.AsyncClient(base_url=services["triage"], timeout=15) as triage,
    ):
        stranger_id = f"stranger-{uuid.uuid4().hex[:8]}"
        stranger = bearer(token("partner", partner_id=stranger_id, register=False))
        problem(await intake.get("/v1/requests", headers=stranger), 403, "partner-not-registered")
        partner_id, government = new_partner(
            token, "foreign-government", organisation="Ministry of the Interior"
        )
        claimed = await intake.post("/v1/requests", json=a_request(), headers=government)
        assert claimed.status_code == 422, claimed.text  # the body says "un"
        assert {e["field"] for e in claimed.json()["errors"]} == {"body.partner_type"}
        body = {
            k: v for k, v in a_request().items() if k not in ("partner_type", "requesting_body")
        }
        created = await intake.post("/v1/requests", json=body, headers=government)
        assert created.status_code == 201, created.text
        assert created.json()["request"]["partner_type"] == "foreign-government"
        assert created.json()["request"]["requesting_body"] == "Ministry of the Interior"
        rid = created.json()["request"]["id"]
        case = await eventually(triage, f"/v1/cases/{rid}", hub.officer)
        assert case["partner_type"] == "foreign-government"

        admin = bearer(token("admin"))
        off = await intake.post(
            f"/v1/partners/{partner_id}/deactivation",
            json={"reason": "Mandate ended."},
            headers=admin,
        )
        assert off.status_code == 200 and off.json()["partner"]["active"] is False
        problem(await intake.get("/v1/requests", headers=government), 403, "partner-inactive")


# --- countries as the UK government lists them -------------------------------------------------
async def test_a_territory_iso_lacks_is_a_country_of_deployment(
    clients: Clients, partner: dict[str, str], hub: Hub
) -> None:
    _, case = await open_case(clients, partner, hub, country="XK", mission="EULEX")
    assert case["country"] == "XK" and case["region"] == "europe"


# --- amendments reach every view ---------------------------------------------------------------
async def test_an_amendment_reaches_intake_triage_and_reporting(
    clients: Clients,
    partner: dict[str, str],
    hub: Hub,
    services: dict[str, str],
    token: TokenFactory,
) -> None:
    intake, triage = clients
    rid, case = await open_case(clients, partner, hub)
    needed = (date.today() + timedelta(days=15)).isoformat()  # sooner: more urgent
    amended = await intake.post(
        f"/v1/requests/{rid}/amendments",
        json={"changes": {"needed_by": needed, "headcount": 5, "tour_length_months": 6}},
        headers=partner,
    )
    assert amended.status_code == 200, amended.text
    shown = amended.json()["request"]
    assert (shown["needed_by"], shown["headcount"], shown["tour_length_months"]) == (needed, 5, 6)
    token_header = {"X-Consistency-Token": amended.json()["consistency_token"]}

    rescored: dict[str, Any] = {}
    for _ in range(100):
        rescored = (await triage.get(f"/v1/cases/{rid}", headers=hub.officer)).json()
        if any(e["event"] == "CaseRescored" for e in rescored["history"]):
            break
        await asyncio.sleep(0.2)
    assert rescored["needed_by"] == needed and rescored["headcount"] == 5
    assert rescored["score"] != case["score"]
    urgency = {c["criterion"]: c for c in rescored["breakdown"]}["urgency"]
    assert needed in urgency["explanation"] and rescored["policy_version"]

    async with httpx.AsyncClient(base_url=services["reporting"], timeout=15) as reporting:
        row: dict[str, Any] = {}
        for _ in range(100):
            page = await reporting.get(
                "/v1/requests",
                params={"limit": 200},
                headers={**bearer(token("analyst")), **token_header},
            )
            row = next((r for r in page.json()["items"] if r["request_id"] == rid), {})
            if row.get("needed_by") == needed:
                break
            await asyncio.sleep(0.2)
    assert (row["needed_by"], row["headcount"], row["tour_length_months"]) == (needed, 5, 6)
