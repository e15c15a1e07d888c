"""What the dashboard's drill-down reads, over HTTP on the known scenario of
`test_reporting_api.py`: the partner and decision filters, deployments of the selected requests,
one request's row, each chart's rows (JSON and CSV) and the filters' code lists; need-to-know on
each of them for an analyst without SC clearance."""

from __future__ import annotations

import csv
import io
import json
import uuid

import httpx
import pytest

from tests.e2e.test_reporting_api import Scenario, analyst, get_json, scenario
from tests.running_services import TokenFactory, bearer

pytestmark = pytest.mark.e2e
__all__ = ["analyst", "scenario"]  # the scenario's fixtures, published for this module too


async def test_requests_filter_by_partner_and_decision(
    services: dict[str, str], scenario: Scenario, analyst: dict[str, str]
) -> None:
    window = scenario.window_query
    async with httpx.AsyncClient(base_url=services["reporting"], timeout=10) as client:
        everything = await get_json(client, "/v1/requests", analyst, **window)
        ours = await get_json(
            client, "/v1/requests", analyst, partner="e2e-reporting-partner", **window
        )
        nobody = await get_json(client, "/v1/requests", analyst, partner="someone-else", **window)
        approved = await get_json(client, "/v1/requests", analyst, decision="approved", **window)
        both = await client.get(
            "/v1/requests",
            headers=analyst,
            params=[("decision", "approved"), ("decision", "rejected"), *window.items()],
        )
        summary = await get_json(client, "/v1/summary", analyst, **window)
        bad = await client.get("/v1/requests", headers=analyst, params={"decision": "maybe"})
    assert {r["reference"] for r in ours["items"]} == set(scenario.references.values())
    assert nobody["items"] == []
    assert summary["requests"]["by_partner"] == {"e2e-reporting-partner": 6}
    decided = {r["reference"]: r["decision"] for r in everything["items"] if r["decision"]}
    assert {r["reference"] for r in approved["items"]} == {
        ref for ref, d in decided.items() if d == "approved"
    }
    assert {r["reference"] for r in both.json()["items"]} == set(decided)
    assert len(decided) == len(scenario.decided)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"].startswith("query.decision")


async def test_a_date_range_that_ends_before_it_starts_is_refused_naming_to(
    services: dict[str, str], analyst: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=services["reporting"], timeout=10) as client:
        for path in ("/v1/requests", "/v1/summary", "/v1/deployments", "/v1/breakdown?by=region"):
            answer = await client.get(
                path, headers=analyst, params={"from": "2024-05-02", "to": "2024-05-01"}
            )
            assert answer.status_code == 422, path
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert [e["field"] for e in answer.json()["errors"]] == ["query.to"], path


async def test_one_request_row_is_redacted_for_an_uncleared_analyst(
    services: dict[str, str], scenario: Scenario, analyst: dict[str, str], token: TokenFactory
) -> None:
    secret = scenario.ids["r2"]
    async with httpx.AsyncClient(base_url=services["reporting"], timeout=10) as client:
        hidden = await get_json(client, f"/v1/requests/{secret}", analyst)
        shown = await get_json(
            client, f"/v1/requests/{secret}", bearer(token("analyst", clearance="sc"))
        )
        missing = await client.get(f"/v1/requests/{uuid.uuid4()}", headers=analyst)
        not_an_id = await client.get("/v1/requests/not-an-id", headers=analyst)
        partner = await client.get(
            f"/v1/requests/{secret}", headers=bearer(token("partner", partner_id="x"))
        )
    assert hidden["reference"] == scenario.references["r2"]
    assert hidden["title"] is None and hidden["redacted"] is True
    assert "title" in hidden["withheld"]
    assert shown["title"] == scenario.secret_title and shown["withheld"] == []
    assert missing.status_code == 404
    assert not_an_id.status_code == 422
    assert partner.status_code == 403


async def test_deployments_of_the_selected_requests(
    services: dict[str, str], scenario: Scenario, analyst: dict[str, str]
) -> None:
    window = scenario.window_query
    async with httpx.AsyncClient(base_url=services["reporting"], timeout=10) as client:
        mine = await get_json(
            client, "/v1/deployments", analyst, partner="e2e-reporting-partner", **window
        )
        eu = await get_json(client, "/v1/deployments", analyst, partner_type="eu", **window)
        before = await get_json(
            client, "/v1/deployments", analyst, to=scenario.window[0].isoformat(), partner="x"
        )
        sensitive = await get_json(
            client, "/v1/deployments", analyst, classification="OFFICIAL-SENSITIVE", **window
        )
        missionless = await get_json(
            client, "/v1/deployments", analyst, no_mission="true", **window
        )
    ours = {scenario.ids[n] for n in ("r1", "r2", "r6")}
    assert {uuid.UUID(d["request_id"]) for d in mine["items"]} == ours
    assert [uuid.UUID(d["request_id"]) for d in eu["items"]] == [scenario.ids["r2"]]
    assert before["items"] == []
    (secret,) = sensitive["items"]
    assert secret["mission"] is None and secret["withheld"] == ["mission"]
    # Every scenario deployment names a mission: none of them matches, the withheld one neither.
    assert missionless["items"] == []


async def test_breakdowns_are_the_summarys_groups_and_export_as_csv(
    services: dict[str, str], scenario: Scenario, analyst: dict[str, str]
) -> None:
    window = scenario.window_query
    async with httpx.AsyncClient(base_url=services["reporting"], timeout=10) as client:
        summary = await get_json(client, "/v1/summary", analyst, **window)
        countries = await get_json(client, "/v1/breakdown", analyst, by="country", **window)
        missions = await get_json(
            client, "/v1/breakdown", analyst, by="officers_by_mission", **window
        )
        weeks = await get_json(client, "/v1/breakdown", analyst, by="week", **window)
        exported = await client.get(
            "/v1/breakdown", headers=analyst, params={"by": "capability", "format": "csv", **window}
        )
        unknown = await client.get("/v1/breakdown", headers=analyst, params={"by": "colour"})
    assert {r["key"]: r["count"] for r in countries["rows"]} == summary["requests"]["by_country"]
    by_mission = {r["key"]: r["count"] for r in missions["rows"]}
    assert by_mission == {scenario.missions["r1"]: 2, "withheld": 1}
    assert scenario.missions["r2"] not in json.dumps(missions)
    assert sum(r["count"] for r in weeks["rows"]) == 6
    assert {r["series"] for r in weeks["rows"]} == set(summary["requests"]["by_status"])
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["key"]: int(r["count"]) for r in rows} == summary["requests"]["by_capability"]
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "query.by"


async def test_the_filters_code_lists_are_public_reference_data(services: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=services["reporting"], timeout=10) as client:
        answer = await client.get("/dashboard/reference.json")
    choices = answer.json()
    assert answer.status_code == 200
    codes = {c["code"] for c in choices["countries"]}
    assert {"KE", "SO", "UA", "XK", "SH-AC"} <= codes
    assert {c["code"] for c in choices["classifications"]} == {"OFFICIAL", "OFFICIAL-SENSITIVE"}
    assert "in_triage" in {s["code"] for s in choices["statuses"]}
