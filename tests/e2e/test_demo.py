"""`jiph demo` against the running test stack: it exits 0, says what to open next, and what it
did is there to see through the public APIs afterwards."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from jiph import demo_data as d
from jiph.stack.config import REPO_ROOT
from tests.running_services import TokenFactory, bearer

pytestmark = pytest.mark.e2e

ARGS = ["--requests", "12", "--officers", "20", "--seed", "7"]


def run_demo() -> subprocess.CompletedProcess[str]:
    """Run the demo; again if a service was restarting (others restart the stack at times)."""
    stack = os.environ.get("JIPH_TEST_STACK", "test")  # the stack the fixtures started
    command = [sys.executable, "-m", "jiph.cli", "--stack", stack, "demo", *ARGS]
    for _attempt in range(3):
        done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=240)
        if done.returncode == 0 or "not answering" not in done.stderr:
            return done
        time.sleep(3)
    return done


def partner_request_ids(intake: httpx.Client, token: TokenFactory, partner: d.Partner) -> set[str]:
    headers = bearer(token("partner", partner_id=partner.partner_id))
    ids: set[str] = set()
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 200} | ({"cursor": cursor} if cursor else {})
        response = intake.get("/v1/requests", params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        ids |= {item["id"] for item in page["items"]}
        if not (cursor := page["next_cursor"]):
            return ids


def demo_request_ids(intake: httpx.Client, token: TokenFactory) -> set[str]:
    return set().union(*(partner_request_ids(intake, token, p) for p in d.PARTNERS))


def test_the_demo_drives_the_whole_story_through_the_apis(
    services: dict[str, str], token: TokenFactory
) -> None:
    with (
        httpx.Client(base_url=services["intake"], timeout=15) as intake,
        httpx.Client(base_url=services["triage"], timeout=15) as triage,
        httpx.Client(base_url=services["deployment"], timeout=15) as deployment,
    ):
        before = demo_request_ids(intake, token)
        done = run_demo()
        assert done.returncode == 0, done.stderr[-2000:]
        assert f"{services['reporting']}/" in done.stdout
        assert f"{services['intake']}/docs" in done.stdout
        assert "tail all --from-beginning" in done.stdout
        summary = re.search(
            r"Summary: (\d+) requests submitted, (\d+) approved, (\d+) rejected, "
            r"(\d+) deployments started, (\d+) officers deployed, (\d+) nominee\(s\) replaced, "
            r"(\d+) post\(s\) backfilled",
            done.stdout,
        )
        assert summary, done.stdout
        submitted, approved, rejected, started, deployed, replaced, backfilled = map(
            int, summary.groups()
        )
        assert replaced == 1 and backfilled == 1
        assert submitted == 12 and approved >= 1 and rejected >= 1 and started >= 1
        assert deployed >= started
        # Not a terminal: the progress bar is not drawn (no redraws in a log); see
        # tests/unit/test_cli_errors.py for the bar on a terminal.
        assert "\r" not in done.stderr and "\x1b" not in done.stderr, done.stderr

        # What the scenario meant to do, and what the services now hold.
        today = datetime.now(UTC).date()
        scenario = d.plan_scenario(7, 12, 20, list(d.REJECTIONS), today)
        new = demo_request_ids(intake, token) - before
        assert len(new) == 12

        analyst = bearer(token("analyst", clearance="sc"))
        cases = {}
        for rid in new:
            response = triage.get(f"/v1/cases/{rid}", headers=analyst)
            assert response.status_code == 200, response.text
            cases[rid] = response.json()
        statuses = Counter(case["status"] for case in cases.values())
        intended = Counter(r.outcome for r in scenario.requests)
        assert statuses["approved"] == approved == sum(intended[o] for o in d.APPROVED_OUTCOMES)
        assert statuses["rejected"] == rejected == intended[d.REJECT]
        assert statuses["on_hold"] == intended[d.HOLD]
        assert all(c["rejection"]["reason_code"] for c in cases.values() if c["rejection"])
        ministerial = [c for c in cases.values() if c["approvals"]["ministerial"]]
        assert len(ministerial) == intended[d.MINISTERIAL]
        for case in ministerial:
            assert case["risk_tier"] in ("high", "serious")
            assessor = case["assessment"]["assessor"]
            assert (
                len({assessor, case["approvals"]["board"], case["approvals"]["ministerial"]}) == 3
            )
        asked = [
            c
            for c in cases.values()
            if any(e["event"] == "InformationRequested" for e in c["history"])
        ]
        assert len(asked) == sum(r.info_request for r in scenario.requests) >= 1

        # The queue lists them too (the analyst's view of triage).
        queue: dict[str, str] = {}
        cursor = None
        while True:
            params: dict[str, Any] = {"status": ["approved", "rejected"], "limit": 200}
            response = triage.get(
                "/v1/cases", params=params | ({"cursor": cursor} if cursor else {}), headers=analyst
            )
            assert response.status_code == 200, response.text
            queue |= {c["id"]: c["status"] for c in response.json()["items"]}
            if not (cursor := response.json()["next_cursor"]):
                break
        assert {"approved", "rejected"} <= {queue[rid] for rid in new if rid in queue}

        manager = bearer(token("deployment_manager", clearance="sc"))
        ours = []
        for rid in new:
            response = deployment.get(
                "/v1/deployments", params={"request_id": rid}, headers=manager
            )
            assert response.status_code == 200, response.text
            ours += response.json()["items"]
        live = [x for x in ours if x["status"] in ("deployed", "completed")]
        assert len(live) == started >= 1
        assert any(x["status"] == "completed" for x in ours) or started < 3
        assert any(x["extensions"] > 0 for x in ours) or started < 2
        officers = []
        for item in live:
            detail = deployment.get(f"/v1/deployments/{item['id']}", headers=manager).json()
            officers += detail["officers"]
        # The replaced nominee stays on record (withdrawn, with who took the post).
        withdrawn = [o for o in officers if o["status"] == "withdrawn"]
        assert len(withdrawn) == replaced and all(o["replaced_by"] for o in withdrawn)
        assert len(officers) - len(withdrawn) == deployed
        assert {o["status"] for o in officers} <= {
            "deployed",
            "returned",
            "repatriated_early",
            "withdrawn",
        }
        backfills = [o for o in officers if o["starts_on"] is not None]
        assert len(backfills) == backfilled
        assert {o["status"] for o in backfills} <= {"deployed", "returned"}
