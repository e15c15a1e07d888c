"""Policy changes tried before adoption, against the running services: a candidate policy run
over a seeded period of cases (checked against scores this test computes itself from the
policy documents and each case's breakdown), which changes nothing; then adopted, recorded,
and carried by later scores."""

from __future__ import annotations

import asyncio
import math
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.events import Envelope
from shared.topics import PARTITIONS, TRIAGE_EVENTS
from tests.e2e.test_deployment_support import read_all
from tests.e2e.test_triage_flow import a_request, eventually, problem
from tests.running_services import TokenFactory, bearer

pytestmark = pytest.mark.e2e

PUBLISHED_VERSION = "2026-11-v1"
#: (country, capability, partner type, needed in days, headcount): several of each.
SEEDS = [
    ("SO", "border-security", "un", 20, 2),
    ("SO", "training", "eu", 300, 1),
    ("UA", "cybercrime", "foreign-government", 45, 3),
    ("UA", "public-order", "uk-embassy", 200, 4),
    ("ML", "sgbv", "osce", 90, 1),
    ("ML", "training", "foreign-government", 15, 2),
    ("AF", "investigations", "uk-embassy", 360, 2),
    ("CO", "serious-organised-crime", "eu", 60, 5),
    ("CO", "community-policing", "un", 150, 1),
    ("SO", "forensics", "foreign-government", 30, 2),
]
URGENT_WEIGHTS = [
    {
        "fragility": 0.35,
        "alignment": 0.1,
        "partner_type": 0.05,
        "urgency": 0.35,
        "capability_availability": 0.05,
        "human_rights_risk": 0.1,
    },
    {
        "fragility": 0.3,
        "alignment": 0.1,
        "partner_type": 0.05,
        "urgency": 0.4,
        "capability_availability": 0.1,
        "human_rights_risk": 0.05,
    },
]
#: Three of them assessed: (seed index, risk tier, alignment).
ASSESSMENTS = [(0, "serious", 0.9), (3, "low", None), (6, "high", 0.2)]


def total(breakdown: list[dict[str, Any]], weights: dict[str, float]) -> float:
    """The score of a breakdown's raw values under `weights`, as the policy file defines it:
    points = raw x weight x 100 rounded to 2 dp, the total their sum rounded to 2 dp."""
    return round(
        math.fsum(round(p["raw"] * weights[p["criterion"]] * 100, 2) for p in breakdown), 2
    )


def ranks(rows: dict[str, tuple[float, str]]) -> dict[str, int]:
    """The queue's order: score descending, then the earliest needed-by, then the id."""
    order = sorted(rows, key=lambda rid: (-rows[rid][0], rows[rid][1], uuid.UUID(rid)))
    return {rid: i for i, rid in enumerate(order, start=1)}


def decoded(record: Any) -> Envelope | None:
    """The record's envelope; None for the poison records other tests publish."""
    try:
        return Envelope.from_bytes(record.value)
    except ValueError:
        return None


async def triage_end_offsets(bootstrap: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(TRIAGE_EVENTS, p) for p in range(PARTITIONS)]
        end = await consumer.end_offsets(partitions)
        return {tp.partition: offset for tp, offset in end.items()}
    finally:
        await consumer.stop()


async def settled_offsets(bootstrap: str, timeout_s: float = 30) -> dict[int, int]:
    """Triage's topic once the relay has published everything (two reads a second apart
    agree)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    last = await triage_end_offsets(bootstrap)
    while asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(1.0)
        now = await triage_end_offsets(bootstrap)
        if now == last:
            return now
        last = now
    raise AssertionError("triage's topic kept growing")


@pytest.fixture
async def triage(services: dict[str, str]) -> Any:
    async with httpx.AsyncClient(base_url=services["triage"], timeout=30) as client:
        yield client


@pytest.fixture
async def intake(services: dict[str, str]) -> Any:
    async with httpx.AsyncClient(base_url=services["intake"], timeout=15) as client:
        yield client


async def test_a_candidate_policy_is_tried_on_a_period_changing_nothing_then_adopted(
    intake: httpx.AsyncClient, triage: httpx.AsyncClient, token: TokenFactory, bootstrap: str
) -> None:
    tag = uuid.uuid4().hex[:6]
    officer = bearer(token("triage_officer", sub=f"alice-{tag}"))
    analyst = bearer(token("analyst", sub=f"ann-{tag}"))
    admin = bearer(token("admin", sub=f"erin-{tag}"))
    in_force = await triage.get("/v1/policy", headers=analyst)
    assert in_force.status_code == 200, in_force.text
    current = in_force.json()
    if current["version"] == PUBLISHED_VERSION:  # a fresh stack: the published file
        assert current["source"] == "published file" and current["adopted_by"] is None

    # --- a period of cases: several countries, capabilities and partner types ------------------
    partners: dict[str, dict[str, str]] = {}
    ids = []
    today = datetime.now(UTC).date()
    for country, capability, ptype, days, headcount in SEEDS:
        if ptype not in partners:
            organisation = f"Partner {ptype} {tag}"
            partners[ptype] = bearer(
                token(
                    "partner",
                    partner_id=f"{ptype}-{tag}",
                    partner_type=ptype,
                    organisation=organisation,
                )
            )
        body = a_request(
            country=country,
            capability=capability,
            partner_type=None,
            requesting_body=None,
            headcount=headcount,
            needed_by=(date.today() + timedelta(days=days)).isoformat(),
        )
        submitted = await intake.post("/v1/requests", json=body, headers=partners[ptype])
        assert submitted.status_code == 201, submitted.text
        ids.append(submitted.json()["request"]["id"])
    for rid in ids:
        await eventually(triage, f"/v1/cases/{rid}", officer)
    for index, tier, alignment in ASSESSMENTS:
        assessed = await triage.post(
            f"/v1/cases/{ids[index]}/assessment",
            headers=officer,
            json={"risk_tier": tier, "alignment": alignment, "notes": "OSJA done."},
        )
        assert assessed.status_code == 200, assessed.text

    # --- the candidate: weight shifted to urgency and fragility -------------------------------
    version = f"test-{tag}-urgent"
    candidate = current["policy"] | {"version": version, "description": "Urgency first"}
    # Whichever of two weightings towards urgency and fragility the policy in force is not
    # (an earlier run on this stack may have adopted one of them).
    candidate["weights"] = next(w for w in URGENT_WEIGHTS if w != current["policy"]["weights"])
    before_offsets = await settled_offsets(bootstrap)
    history_before = (await triage.get("/v1/policy/history", headers=analyst)).json()
    cases_before = {
        rid: (await triage.get(f"/v1/cases/{rid}", headers=officer)).json() for rid in ids
    }

    tried = await triage.post(
        "/v1/policy/what-if",
        headers=analyst,
        json={"policy": candidate, "from": today.isoformat(), "to": today.isoformat()},
    )
    assert tried.status_code == 200, tried.text
    answer = tried.json()
    assert answer["current_version"] == current["version"]
    assert answer["candidate_version"] == version
    assert answer["period"] == {"from": today.isoformat(), "to": today.isoformat()}
    rows = {row["request_id"]: row for row in answer["cases"]}
    assert set(ids) <= set(rows) and answer["case_count"] == len(rows)
    # Need to know: scores and codes only, never a request's free text.
    assert set(answer["cases"][0]) == {
        "request_id", "reference", "country", "capability", "partner_type", "status",
        "overridden", "current_score", "current_rank", "candidate_score", "candidate_rank",
        "score_delta", "rank_change", "current_raw", "candidate_raw",
    }  # fmt: skip
    assert "Border security mentors" not in tried.text

    # Every case of the period (this test's and any other's of today), computed here from its
    # raw values and each policy document's weights. This test's own cases were scored today,
    # with the officers on offer now: their raw values must be their breakdown's. (Another
    # test's case may have been scored before officers were offered for it; the what-if
    # rescores it with today's offers.)
    expected_current: dict[str, tuple[float, str]] = {}
    expected_candidate: dict[str, tuple[float, str]] = {}
    documents = {}
    for rid, row in rows.items():
        case = (await triage.get(f"/v1/cases/{rid}", headers=officer)).json()
        documents[rid] = case
        if rid in ids:
            assert row["current_raw"] == {p["criterion"]: p["raw"] for p in case["breakdown"]}
        assert row["candidate_raw"] == row["current_raw"]  # the candidate changes weights only
        parts = [{"criterion": c, "raw": raw} for c, raw in row["current_raw"].items()]
        expected_current[rid] = (total(parts, current["policy"]["weights"]), case["needed_by"])
        expected_candidate[rid] = (total(parts, candidate["weights"]), case["needed_by"])
    current_ranks, candidate_ranks = ranks(expected_current), ranks(expected_candidate)
    for rid, row in rows.items():
        assert row["current_score"] == expected_current[rid][0], rid
        assert row["candidate_score"] == expected_candidate[rid][0], rid
        assert row["current_rank"] == current_ranks[rid], rid
        assert row["candidate_rank"] == candidate_ranks[rid], rid
        assert row["rank_change"] == current_ranks[rid] - candidate_ranks[rid]
        assert row["score_delta"] == round(row["candidate_score"] - row["current_score"], 2)
        assert row["country"] == documents[rid]["country"]
    # An assessed case is scored with its risk tier and alignment, as its real score is.
    serious = documents[ids[0]]
    assert serious["risk_tier"] == "serious" and not serious["provisional"]
    assert serious["policy_version"] == current["version"]
    assert rows[ids[0]]["current_score"] == serious["assessment"]["computed_score"]
    assert [row["request_id"] for row in answer["cases"]] == sorted(
        rows, key=current_ranks.__getitem__
    )

    # Movers: the biggest rises and falls, largest first.
    changes = {rid: current_ranks[rid] - candidate_ranks[rid] for rid in rows}
    rises = sorted((c for c in changes.values() if c > 0), reverse=True)[:10]
    falls = sorted(c for c in changes.values() if c < 0)[:10]
    assert [m["rank_change"] for m in answer["movers"]["up"]] == rises
    assert [m["rank_change"] for m in answer["movers"]["down"]] == falls
    assert rises and falls  # this candidate does reorder the queue

    # One aggregate: Somalia's cases.
    somalia = [rid for rid in rows if rows[rid]["country"] == "SO"]
    [effect] = [g for g in answer["by_country"] if g["key"] == "SO"]
    assert effect["count"] == len(somalia)
    assert effect["mean_candidate_score"] == round(
        math.fsum(expected_candidate[rid][0] for rid in somalia) / len(somalia), 2
    )
    assert effect["mean_rank_change"] == round(sum(changes[r] for r in somalia) / len(somalia), 2)
    assert {g["key"] for g in answer["by_partner_type"]} >= set(partners)

    # Nothing changed: the same scores and versions, no new triage event, no adoption.
    for rid in ids:
        after = (await triage.get(f"/v1/cases/{rid}", headers=officer)).json()
        before = cases_before[rid]
        assert (after["score"], after["policy_version"], after["version"]) == (
            before["score"],
            before["policy_version"],
            before["version"],
        )
    await asyncio.sleep(1.0)
    assert await triage_end_offsets(bootstrap) == before_offsets
    assert (await triage.get("/v1/policy/history", headers=analyst)).json() == history_before

    # --- bad input: problems, never a 500 ------------------------------------------------------
    unbalanced = candidate | {"weights": candidate["weights"] | {"fragility": 0.5}}
    bad = await triage.post("/v1/policy/what-if", headers=analyst, json={"policy": unbalanced})
    problem(bad, 422, "validation-error")
    assert any(
        e["field"] == "body.policy" and "sum to 1" in e["message"] for e in bad.json()["errors"]
    )
    bad = await triage.post(
        "/v1/policy/what-if",
        headers=analyst,
        json={"policy": candidate | {"weights": candidate["weights"] | {"urgency": 1.5}}},
    )
    problem(bad, 422, "validation-error")
    assert bad.json()["errors"][0]["field"] == "body.policy.weights.urgency"
    reversed_period = {"policy": candidate, "from": "2026-12-31", "to": "2026-01-01"}
    problem(
        await triage.post("/v1/policy/what-if", headers=analyst, json=reversed_period),
        422,
        "bad-period",
    )
    problem(
        await triage.post(
            "/v1/policy/what-if", headers=bearer(token("minister")), json={"policy": candidate}
        ),
        403,
        "forbidden",
    )

    # --- adoption ----------------------------------------------------------------------------
    adopt = {"policy": candidate, "rationale": "Board decision 2026/14: urgency first."}
    problem(
        await triage.post("/v1/policy/adoptions", headers=officer, json=adopt), 403, "forbidden"
    )
    problem(
        await triage.post(
            "/v1/policy/adoptions", headers=admin, json=adopt | {"rationale": "  ok \u200b "}
        ),
        422,
        "policy-rationale-required",
    )
    key = {"Idempotency-Key": f"adopt-{tag}"}
    adopted = await triage.post("/v1/policy/adoptions", headers=admin | key, json=adopt)
    assert adopted.status_code == 201, adopted.text
    view = adopted.json()["policy"]
    assert view["version"] == version and view["source"] == "adopted"
    assert view["adopted_by"] == f"erin-{tag}" and view["rationale"] == adopt["rationale"]
    assert view["previous_version"] == current["version"] and view["policy"] == candidate
    again = await triage.post("/v1/policy/adoptions", headers=admin | key, json=adopt)
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    problem(
        await triage.post("/v1/policy/adoptions", headers=admin, json=adopt),
        409,
        "policy-version-exists",
    )
    published = current["policy"] | {"version": PUBLISHED_VERSION}
    problem(
        await triage.post(
            "/v1/policy/adoptions", headers=admin, json=adopt | {"policy": published}
        ),
        409,
        "policy-version-exists",
    )
    assert (await triage.get("/v1/policy", headers=officer)).json() == view
    history = (await triage.get("/v1/policy/history", headers=analyst)).json()
    assert history["items"][0] == view and len(history["items"]) == len(history_before["items"]) + 1
    assert PUBLISHED_VERSION in history["published_versions"]
    # The adoption is an event on triage's topic, keyed `policy`.
    records = await read_all(bootstrap, [TRIAGE_EVENTS])
    events = [e for e in map(decoded, records) if e is not None]
    [event] = [
        e for e in events if e.event_type == "PolicyAdopted" and e.data["policy_version"] == version
    ]
    assert event.key == "policy" and event.actor.subject == f"erin-{tag}"
    assert event.data["author"] == f"erin-{tag}" and event.data["policy"] == candidate

    # --- later scores carry the new version ----------------------------------------------------
    later = await intake.post(
        "/v1/requests",
        json=a_request(country="SO", partner_type=None, requesting_body=None),
        headers=partners["un"],
    )
    assert later.status_code == 201, later.text
    case = await eventually(triage, f"/v1/cases/{later.json()['request']['id']}", officer)
    assert case["policy_version"] == version
    assert case["score"] == total(case["breakdown"], candidate["weights"])
    assert all(p["weight"] == candidate["weights"][p["criterion"]] for p in case["breakdown"])
    reassessed = await triage.post(
        f"/v1/cases/{ids[3]}/assessment",
        headers=officer,
        json={"risk_tier": "medium", "notes": "Reviewed under the new policy."},
    )
    assert reassessed.status_code == 200, reassessed.text
    after = reassessed.json()["case"]
    assert after["policy_version"] == version
    assert after["score"] == total(after["breakdown"], candidate["weights"])
    # Scores made before keep the version that made them.
    untouched = (await triage.get(f"/v1/cases/{ids[1]}", headers=officer)).json()
    assert untouched["policy_version"] == cases_before[ids[1]]["policy_version"]
