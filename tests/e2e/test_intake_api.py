"""Intake over HTTP, against the running service with the real database and broker."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from jiph.stack.postgres import PostgresTarget
from shared.catalogue.deployment import DeploymentPlanned, DeploymentStarted
from shared.catalogue.triage import InformationRequested, RequestApproved, RequestAssessed
from shared.events import Actor, Envelope, EventData
from shared.topics import DEPLOYMENT_EVENTS, INTAKE_EVENTS, TRIAGE_EVENTS
from tests.running_services import TokenFactory, bearer
from tests.support import read_topic

pytestmark = pytest.mark.e2e


def a_request(**overrides: Any) -> dict[str, Any]:
    body = {
        "title": "Public order advisers for the 2027 elections",
        "description": "Two advisers to mentor the national police public order unit.",
        "country": "SO",
        "mission": "UNSOM",
        "requesting_body": "UN Police Division",
        "partner_type": "un",
        "capability": "public-order",
        "headcount": 2,
        "role_profile": {
            "rank": "Inspector",
            "skills": ["public order command"],
            "languages": ["English"],
        },
        "tour_length_months": 12,
        "needed_by": (date.today() + timedelta(days=90)).isoformat(),
        "funding_source": "cssf-oda",
        "classification": "OFFICIAL",
        "contact": {"name": "Amina Diallo", "email": "a.diallo@un.example"},
    }
    body.update(overrides)
    return body


@pytest.fixture
def partner(token: TokenFactory) -> tuple[str, dict[str, str]]:
    partner_id = f"partner-{uuid.uuid4().hex[:8]}"
    return partner_id, bearer(token("partner", partner_id=partner_id))


async def submit(
    client: httpx.AsyncClient, headers: dict[str, str], **overrides: Any
) -> dict[str, Any]:
    response = await client.post("/v1/requests", json=a_request(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def intake_event_count(infra: PostgresTarget) -> int:
    conn = await asyncpg.connect(infra.admin_url.rsplit("/", 1)[0] + "/jiph_intake")
    try:
        return int(await conn.fetchval("SELECT count(*) FROM events"))
    finally:
        await conn.close()


async def publish(bootstrap: str, topic: str, data: EventData, stream: str, version: int) -> None:
    env = Envelope.wrap(
        data,
        stream_id=stream,
        stream_version=version,
        producer="test",
        actor=Actor(subject="hub-staff", role="triage_officer"),
        correlation_id="e2e",
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, env.to_bytes(), key=env.key.encode(), headers=env.kafka_headers()
        )
    finally:
        await producer.stop()


async def wait_status(
    client: httpx.AsyncClient, headers: dict[str, str], rid: str, want: str
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for _ in range(150):
        body = (await client.get(f"/v1/requests/{rid}", headers=headers)).json()
        if body.get("status") == want:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"status stayed {body.get('status')}, wanted {want}")


async def test_submission_publishes_exactly_one_full_envelope(
    services: dict[str, str], partner: tuple[str, dict[str, str]], bootstrap: str
) -> None:
    partner_id, headers = partner
    async with httpx.AsyncClient(base_url=services["intake"]) as client:
        created = await submit(client, headers)
    request = created["request"]
    assert request["status"] == "submitted"
    assert request["reference"].startswith(f"JIPH-{date.today().year}-")
    records = await read_topic(bootstrap, INTAKE_EVENTS, expect=10**9, timeout_s=4)
    mine = [
        Envelope.from_bytes(r.value)
        for r in records
        if Envelope.from_bytes(r.value).data.get("request_id") == request["id"]
    ]
    assert len(mine) == 1
    env = mine[0]
    assert env.event_type == "RequestSubmitted" and env.schema_version == 1
    assert env.stream_version == 1 and env.producer == "intake"
    assert env.actor.role == "partner" and env.data["partner_id"] == partner_id
    assert env.correlation_id and env.traceparent and env.occurred_at.tzinfo is not None
    assert env.key == request["id"]
    assert env.event_id.version == 7


async def test_same_idempotency_key_replays_and_other_body_is_refused(
    services: dict[str, str], partner: tuple[str, dict[str, str]], infra: PostgresTarget
) -> None:
    _, headers = partner
    keyed = {**headers, "Idempotency-Key": f"k-{uuid.uuid4()}"}
    async with httpx.AsyncClient(base_url=services["intake"]) as client:
        first = await client.post("/v1/requests", json=a_request(), headers=keyed)
        before = await intake_event_count(infra)
        again = await client.post("/v1/requests", json=a_request(), headers=keyed)
        other = await client.post("/v1/requests", json=a_request(title="Different"), headers=keyed)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert other.status_code == 422
    assert other.json()["type"] == "/problems/idempotency-key-reused"
    assert await intake_event_count(infra) == before  # no second event


async def test_triage_and_deployment_events_change_status_and_timeline(
    services: dict[str, str], partner: tuple[str, dict[str, str]], bootstrap: str
) -> None:
    _, headers = partner
    async with httpx.AsyncClient(base_url=services["intake"]) as client:
        request = (await submit(client, headers))["request"]
        rid = uuid.UUID(request["id"])
        case = f"case-{rid}"
        question = uuid.uuid4()
        await publish(
            bootstrap,
            TRIAGE_EVENTS,
            InformationRequested(
                request_id=rid,
                information_request_id=question,
                questions=["Is transport provided?"],
            ),
            case,
            2,
        )
        shown = await wait_status(client, headers, str(rid), "information_requested")
        assert shown["open_information_request"]["questions"] == ["Is transport provided?"]

        answered = await client.post(
            f"/v1/requests/{rid}/amendments",
            headers=headers,
            json={"answers": ["Yes, armoured vehicles."]},
        )
        assert answered.status_code == 200, answered.text
        assert answered.json()["request"]["status"] == "in_triage"

        await publish(
            bootstrap,
            TRIAGE_EVENTS,
            RequestAssessed(
                request_id=rid,
                score=71.5,
                breakdown=[],
                policy_version="v1",
                risk_tier="high",
                assessor="secret-assessor-name",
                computed_score=71.5,
            ),
            case,
            3,
        )
        await wait_status(client, headers, str(rid), "assessed")
        await publish(
            bootstrap,
            TRIAGE_EVENTS,
            RequestApproved(
                request_id=rid,
                reference=request["reference"],
                country="SO",
                capability="public-order",
                headcount=2,
                classification="OFFICIAL",
                needed_by=date.today() + timedelta(days=90),
                tour_length_months=12,
            ),
            case,
            4,
        )
        await wait_status(client, headers, str(rid), "approved")
        deployment = uuid.uuid4()
        start = date.today() + timedelta(days=60)
        await publish(
            bootstrap,
            DEPLOYMENT_EVENTS,
            DeploymentPlanned(
                request_id=rid,
                deployment_id=deployment,
                country="SO",
                capability="public-order",
                headcount=2,
                classification="OFFICIAL",
                tour_start=start,
                tour_end=start + timedelta(days=365),
            ),
            f"deployment-{deployment}",
            1,
        )
        await wait_status(client, headers, str(rid), "sourcing")
        await publish(
            bootstrap,
            DEPLOYMENT_EVENTS,
            DeploymentStarted(
                request_id=rid,
                deployment_id=deployment,
                started_on=start,
                officer_refs=["OFF-1", "OFF-2"],
            ),
            f"deployment-{deployment}",
            2,
        )
        final = await wait_status(client, headers, str(rid), "deployed")
    assert final["headcount_deployed"] == 2
    steps = [entry["summary"] for entry in final["timeline"]]
    for expected in (
        "Request submitted",
        "The hub asked for more information",
        "You answered the hub's questions",
        "The request was assessed",
        "The request was approved",
        "A deployment was planned",
        "Officers deployed",
    ):
        assert expected in steps
    text = str(final)
    assert "secret-assessor-name" not in text and "71.5" not in text and "OFF-1" not in text


async def test_a_partner_cannot_see_or_touch_another_partners_request(
    services: dict[str, str], token: TokenFactory
) -> None:
    a = bearer(token("partner", partner_id=f"a-{uuid.uuid4().hex[:6]}"))
    b = bearer(token("partner", partner_id=f"b-{uuid.uuid4().hex[:6]}"))
    async with httpx.AsyncClient(base_url=services["intake"]) as client:
        rid = (await submit(client, b))["request"]["id"]
        missing = str(uuid.uuid4())
        for target in (rid, missing):
            got = await client.get(f"/v1/requests/{target}", headers=a)
            amend = await client.post(
                f"/v1/requests/{target}/amendments",
                headers=a,
                json={"changes": {"title": "Hijacked"}},
            )
            withdraw = await client.post(
                f"/v1/requests/{target}/withdrawal", headers=a, json={"reason": "not mine"}
            )
            assert [got.status_code, amend.status_code, withdraw.status_code] == [404, 404, 404]
            assert got.json()["detail"] == "no such request"  # indistinguishable from a missing one
        listed = (await client.get("/v1/requests", headers=a)).json()["items"]
        assert rid not in [item["id"] for item in listed]
        still = (await client.get(f"/v1/requests/{rid}", headers=b)).json()
        assert still["title"] != "Hijacked" and still["status"] in ("submitted", "in_triage")


async def test_list_is_newest_first_filtered_and_paginated(
    services: dict[str, str], partner: tuple[str, dict[str, str]]
) -> None:
    _, headers = partner
    async with httpx.AsyncClient(base_url=services["intake"]) as client:
        ids = [
            (await submit(client, headers, country=c))["request"]["id"] for c in ("SO", "KE", "SO")
        ]
        page1 = (await client.get("/v1/requests", params={"limit": 2}, headers=headers)).json()
        page2 = (
            await client.get(
                "/v1/requests", headers=headers, params={"limit": 2, "cursor": page1["next_cursor"]}
            )
        ).json()
        only_ke = (
            await client.get("/v1/requests", params={"country": "ke"}, headers=headers)
        ).json()  # codes in any case
        bad = await client.get("/v1/requests", params={"cursor": "garbage"}, headers=headers)
    assert [i["id"] for i in page1["items"] + page2["items"]] == list(reversed(ids))
    assert page2["next_cursor"] is None
    assert [i["id"] for i in only_ke["items"]] == [ids[1]]
    assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"


async def test_withdrawal_then_amendment_is_a_conflict_with_the_reason(
    services: dict[str, str], partner: tuple[str, dict[str, str]]
) -> None:
    _, headers = partner
    async with httpx.AsyncClient(base_url=services["intake"]) as client:
        rid = (await submit(client, headers))["request"]["id"]
        changed = await client.post(
            f"/v1/requests/{rid}/amendments", headers=headers, json={"changes": {"headcount": 3}}
        )
        assert changed.status_code == 200 and changed.json()["request"]["headcount"] == 3
        withdrawn = await client.post(
            f"/v1/requests/{rid}/withdrawal",
            headers=headers,
            json={"reason": "Mandate not renewed"},
        )
        assert withdrawn.json()["request"]["status"] == "withdrawn"
        late = await client.post(
            f"/v1/requests/{rid}/amendments", headers=headers, json={"changes": {"headcount": 4}}
        )
        twice = await client.post(
            f"/v1/requests/{rid}/withdrawal", headers=headers, json={"reason": "again"}
        )
    assert late.status_code == 409 and late.json()["type"] == "/problems/not-amendable"
    assert "withdrawn" in late.json()["detail"]
    assert twice.status_code == 409 and twice.json()["type"] == "/problems/already-withdrawn"


BAD_BODIES = [
    ("unknown field", a_request(status="approved"), 422, "body.status"),
    ("server-set id", a_request(id=str(uuid.uuid4())), 422, "body.id"),
    ("over-long title", a_request(title="x" * 201), 422, "body.title"),
    (
        "too many skills",
        a_request(role_profile={"rank": "PC", "skills": ["s"] * 21}),
        422,
        "body.role_profile.skills",
    ),
    ("not ISO", a_request(country="XX"), 422, "body.country"),
    ("past date", a_request(needed_by="2020-01-01"), 422, "body.needed_by"),
    ("headcount 0", a_request(headcount=0), 422, "body.headcount"),
    ("headcount huge", a_request(headcount=1000), 422, "body.headcount"),
    ("unknown capability", a_request(capability="wizardry"), 422, "body.capability"),
    ("unknown funding", a_request(funding_source="lottery"), 422, "body.funding_source"),
    ("SECRET", a_request(classification="SECRET"), 422, "body.classification"),
    ("missing field", {k: v for k, v in a_request().items() if k != "title"}, 422, "body.title"),
]


@pytest.mark.parametrize(
    ("case", "body", "status", "field"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES]
)
async def test_bad_input_gets_a_clear_problem_and_leaves_no_event(
    services: dict[str, str],
    partner: tuple[str, dict[str, str]],
    infra: PostgresTarget,
    case: str,
    body: dict[str, Any],
    status: int,
    field: str,
) -> None:
    _, headers = partner
    before = await intake_event_count(infra)
    async with httpx.AsyncClient(base_url=services["intake"]) as client:
        response = await client.post("/v1/requests", json=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert field in [e["field"] for e in problem["errors"]], problem
    if case == "SECRET":
        assert "does not accept SECRET" in str(problem["errors"])
    assert await intake_event_count(infra) == before


async def test_transport_and_auth_errors(
    services: dict[str, str], partner: tuple[str, dict[str, str]], token: TokenFactory
) -> None:
    _, headers = partner
    async with httpx.AsyncClient(base_url=services["intake"]) as client:
        malformed = await client.post(
            "/v1/requests",
            content=b"{not json",
            headers={**headers, "content-type": "application/json"},
        )
        huge = await client.post(
            "/v1/requests", json=a_request(description="x" * 100_000), headers=headers
        )
        anonymous = await client.get("/v1/requests")
        forged = await client.get("/v1/requests", headers={"Authorization": "Bearer abc.def.ghi"})
        staff = await client.post(
            "/v1/requests", json=a_request(), headers=bearer(token("triage_officer"))
        )
    assert malformed.status_code == 400 and malformed.json()["type"] == "/problems/malformed-json"
    assert huge.status_code == 413
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    assert forged.status_code == 401
    assert staff.status_code == 403 and staff.json()["type"] == "/problems/forbidden"


async def test_writes_are_rate_limited_per_partner_with_retry_after(
    services: dict[str, str], partner: tuple[str, dict[str, str]], token: TokenFactory
) -> None:
    _, headers = partner
    # In waves of 100 at once: one request after another, a loaded machine answers so slowly
    # that the bucket (10/s, burst 100) refills as fast as it is drained.
    async with httpx.AsyncClient(base_url=services["intake"]) as client:
        statuses: list[int] = []
        limited: list[httpx.Response] = []
        for _ in range(6):
            replies = await asyncio.gather(
                *(
                    client.post(
                        f"/v1/requests/{uuid.uuid4()}/withdrawal",
                        headers=headers,
                        json={"reason": "load"},
                    )
                    for _ in range(100)
                )
            )
            statuses += [r.status_code for r in replies]
            limited = [r for r in replies if r.status_code == 429]
            if limited:
                break
        other = bearer(token("partner", partner_id=f"other-{uuid.uuid4().hex[:6]}"))
        unaffected = await client.post(
            f"/v1/requests/{uuid.uuid4()}/withdrawal", headers=other, json={"reason": "x"}
        )
    assert limited and set(statuses) == {404, 429}
    assert int(limited[0].headers["retry-after"]) >= 1
    assert limited[0].json()["type"] == "/problems/rate-limited"
    assert unaffected.status_code == 404


async def test_consistency_token_is_honoured_by_reads(
    services: dict[str, str], partner: tuple[str, dict[str, str]]
) -> None:
    _, headers = partner
    async with httpx.AsyncClient(base_url=services["intake"]) as client:
        created = await client.post("/v1/requests", json=a_request(), headers=headers)
        token_value = created.headers["x-consistency-token"]
        read = await client.get(
            created.headers["location"], headers={**headers, "X-Consistency-Token": token_value}
        )
        bad = await client.get("/v1/requests", headers={**headers, "X-Consistency-Token": "nope"})
    assert read.status_code == 200 and read.headers["x-consistency"] == "applied"
    assert bad.status_code == 400
