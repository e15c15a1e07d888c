"""What a decider saw (issue 19, part 2), through the running services: a case read `as_of` the
version a decision was made on is the case the decider had before them, whatever happened to it
afterwards; the partner reads its own request as it was; the audit trail links each decision to
that view; the redaction is the reader's, as on the current view."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.e2e.test_triage_flow import TOKEN_HEADER, Hub, eventually, problem, submit
from tests.running_services import TokenFactory, bearer

pytestmark = pytest.mark.e2e


@pytest.fixture
def hub(token: TokenFactory) -> Hub:
    return Hub(token)


@pytest.fixture
def partner_id() -> str:
    return f"partner-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def partner(token: TokenFactory, partner_id: str) -> dict[str, str]:
    return bearer(token("partner", partner_id=partner_id))


@pytest.fixture
async def clients(services: dict[str, str]) -> Any:
    async with (
        httpx.AsyncClient(base_url=services["intake"], timeout=15) as intake,
        httpx.AsyncClient(base_url=services["triage"], timeout=15) as triage,
        httpx.AsyncClient(base_url=services["reporting"], timeout=15) as reporting,
    ):
        yield intake, triage, reporting


def without_as_of(view: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in view.items() if k != "as_of"}


async def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return dict(response.json())


async def until(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], seen: Any, what: str
) -> dict[str, Any]:
    """GET `path` until `seen(body)`; bounded."""
    for _ in range(300):
        answer = await client.get(path, headers=headers)
        if answer.status_code == 200 and seen(answer.json()):
            return dict(answer.json())
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path}: {what} never came")


def midpoint(a: str, b: str) -> str:
    start, end = datetime.fromisoformat(a), datetime.fromisoformat(b)
    assert start < end
    return (start + (end - start) / 2).isoformat()


async def test_a_case_read_as_of_a_decision_is_what_the_decider_saw(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient, httpx.AsyncClient],
    partner: dict[str, str],
    hub: Hub,
    token: TokenFactory,
) -> None:
    intake, triage, reporting = clients
    rid = await submit(intake, partner, title="Public order advisers for the capital")
    await eventually(triage, f"/v1/cases/{rid}", hub.officer)

    # Before assessment the partner changes its request; triage folds the change in.
    amended = await intake.post(
        f"/v1/requests/{rid}/amendments",
        headers=partner,
        json={"changes": {"title": "Public order and border advisers", "headcount": 4}},
    )
    assert amended.status_code == 200, amended.text
    await until(
        triage,
        f"/v1/cases/{rid}",
        hub.officer,
        lambda c: c["title"] == "Public order and border advisers",
        "the amendment",
    )

    assessed = await triage.post(
        f"/v1/cases/{rid}/assessment",
        headers=hub.officer,
        json={"risk_tier": "medium", "notes": "Host state consent confirmed; low exposure."},
    )
    assert assessed.status_code == 200, assessed.text
    # What the board has before it when it decides.
    before = await ok(
        await triage.get(
            f"/v1/cases/{rid}",
            headers=hub.as_("approver", "bob")
            | {TOKEN_HEADER: assessed.json()["consistency_token"]},
        )
    )
    assert before["as_of"] is None and before["status"] == "assessed"

    decisions = f"/v1/cases/{rid}/decisions"
    board = hub.as_("approver", "bob")
    held = await triage.post(
        decisions,
        headers=board,
        json={"decision": "hold", "stage": "board", "reason": "Await the mandate renewal."},
    )
    assert held.status_code == 200, held.text
    resumed = await triage.post(
        decisions, headers=board, json={"decision": "resume", "stage": "board"}
    )
    assert resumed.status_code == 200, resumed.text
    # Re-assessed with other notes and a higher tier; then the partner withdraws (an event of
    # intake's after the decision): neither is what the board saw.
    reassessed = await triage.post(
        f"/v1/cases/{rid}/assessment",
        headers=hub.officer,
        json={"risk_tier": "high", "notes": "New reporting of abuses by the host police."},
    )
    assert reassessed.status_code == 200, reassessed.text
    withdrawn = await intake.post(
        f"/v1/requests/{rid}/withdrawal", headers=partner, json={"reason": "Mandate ended."}
    )
    assert withdrawn.status_code == 200, withdrawn.text
    now = await eventually(triage, f"/v1/cases/{rid}", hub.officer, status="withdrawn")
    assert now["assessment"]["risk_tier"] == "high"

    hold = next(e for e in now["history"] if e["event"] == "RequestPutOnHold")
    version = hold["data"]["case_version"]
    assert version == before["version"]
    as_of = await ok(
        await triage.get(f"/v1/cases/{rid}", params={"as_of_version": version}, headers=board)
    )
    assert without_as_of(as_of) == without_as_of(before)  # every field, history and times too
    assessed_event = next(e for e in before["history"] if e["stream_version"] == version)
    assert as_of["as_of"] == {"version": version, "at": assessed_event["at"], "by": "version"}

    # As of a time between the assessment and the hold: the same view.
    between = midpoint(assessed_event["at"], hold["at"])
    by_time = await ok(
        await triage.get(f"/v1/cases/{rid}", params={"as_of": between}, headers=board)
    )
    assert without_as_of(by_time) == without_as_of(before)
    assert by_time["as_of"]["version"] == version and by_time["as_of"]["by"] == "time"

    # As of the current version: the current view, made again from the events.
    current = await ok(
        await triage.get(
            f"/v1/cases/{rid}", params={"as_of_version": now["version"]}, headers=board
        )
    )
    assert without_as_of(current) == without_as_of(now)

    # The audit trail links the decision to that view, and the link resolves to it.
    analyst = bearer(token("analyst", sub=f"analyst-{uuid.uuid4().hex[:6]}"))
    audit = await until(
        reporting,
        f"/v1/audit/{rid}",
        analyst,
        lambda a: any(e["event_type"] == "RequestWithdrawn" for e in a["events"]),
        "the withdrawal in reporting",
    )
    entries = {e["event_id"]: e for e in audit["events"]}
    link = entries[hold["event_id"]]["seen"]
    assert link == {
        "case_version": version,
        "service": "triage",
        "href": f"/v1/cases/{rid}?as_of_version={version}",
    }
    linked = await ok(await triage.get(link["href"], headers=board))
    assert linked == as_of
    first = next(e for e in now["history"] if e["event"] == "RequestAssessed")
    assert entries[first["event_id"]]["seen"]["case_version"] == first["data"]["case_version"]
    triaged = next(e for e in now["history"] if e["event"] == "RequestTriaged")
    assert entries[triaged["event_id"]]["seen"] is None  # not a decision


async def test_an_uncleared_reader_sees_the_past_redacted_as_the_present(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient, httpx.AsyncClient],
    partner: dict[str, str],
    hub: Hub,
    token: TokenFactory,
) -> None:
    intake, triage, _ = clients
    rid = await submit(intake, partner, classification="OFFICIAL-SENSITIVE")
    await eventually(triage, f"/v1/cases/{rid}", hub.as_("triage_officer", "alice", clearance="sc"))
    assessed = await triage.post(
        f"/v1/cases/{rid}/assessment",
        headers=hub.as_("triage_officer", "alice", clearance="sc"),
        json={"risk_tier": "low", "notes": "Sensitive source reporting."},
    )
    assert assessed.status_code == 200, assessed.text
    version = assessed.json()["case"]["version"]
    uncleared = bearer(token("analyst", sub=f"analyst-{uuid.uuid4().hex[:6]}"))
    cleared = bearer(token("analyst", sub=f"analyst-{uuid.uuid4().hex[:6]}", clearance="sc"))
    path = f"/v1/cases/{rid}"

    shown_now = await ok(await triage.get(path, headers=uncleared))
    shown_then = await ok(
        await triage.get(path, params={"as_of_version": version}, headers=uncleared)
    )
    assert shown_now["redacted"] and shown_then["redacted"]
    assert shown_then["withheld"] == shown_now["withheld"]
    assert {"title", "description", "notes", "contact"} <= set(shown_then["withheld"])
    assert shown_then["title"] is None and shown_then["assessment"]["notes"] is None
    assert without_as_of(shown_then) == without_as_of(shown_now)
    assert (
        "Sensitive source reporting."
        not in (await triage.get(path, params={"as_of_version": version}, headers=uncleared)).text
    )
    opened = await ok(await triage.get(path, params={"as_of_version": 1}, headers=uncleared))
    assert opened["assessment"] is None and opened["title"] is None
    full = await ok(await triage.get(path, params={"as_of_version": version}, headers=cleared))
    assert full["assessment"]["notes"] == "Sensitive source reporting." and not full["redacted"]


async def test_a_partner_reads_its_request_as_it_was_and_no_one_else_can(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient, httpx.AsyncClient],
    partner: dict[str, str],
    hub: Hub,
    token: TokenFactory,
) -> None:
    intake, triage, _ = clients
    rid = await submit(intake, partner, title="Forensic trainers", headcount=2)
    await eventually(triage, f"/v1/cases/{rid}", hub.officer)
    path = f"/v1/requests/{rid}"
    original = await until(
        intake, path, partner, lambda r: r["status"] == "in_triage", "the case opened"
    )
    amended = await intake.post(
        f"{path}/amendments",
        headers=partner,
        json={"changes": {"title": "Forensic and crime-scene trainers", "headcount": 5}},
    )
    assert amended.status_code == 200, amended.text
    now = await ok(await intake.get(path, headers=partner))
    assert now["title"] == "Forensic and crime-scene trainers" and now["as_of"] is None

    then = await ok(await intake.get(path, params={"as_of_version": 1}, headers=partner))
    assert then["title"] == "Forensic trainers" and then["headcount"] == 2
    assert without_as_of(then) == without_as_of(original)
    assert then["as_of"]["version"] == 1 and then["as_of"]["by"] == "version"
    assert [e["event"] for e in then["timeline"]] == ["RequestSubmitted", "RequestTriaged"]
    latest = await ok(await intake.get(path, params={"as_of_version": 2}, headers=partner))
    assert without_as_of(latest) == without_as_of(now)
    submitted_at = then["timeline"][0]["at"]
    at_submission = await ok(
        await intake.get(path, params={"as_of": submitted_at}, headers=partner)
    )
    assert at_submission["status"] == "submitted" and at_submission["title"] == "Forensic trainers"

    other = bearer(token("partner", partner_id=f"partner-{uuid.uuid4().hex[:8]}"))
    for params in ({"as_of_version": 1}, {"as_of": submitted_at}, {}):
        problem(await intake.get(path, params=params, headers=other), 404, "not-found")

    problem(
        await intake.get(path, params={"as_of_version": 3}, headers=partner),
        422,
        "as-of-out-of-range",
    )
    problem(
        await intake.get(path, params={"as_of": "2001-01-01T00:00:00Z"}, headers=partner),
        422,
        "as-of-out-of-range",
    )


async def test_bad_as_of_parameters_are_problems_naming_them(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient, httpx.AsyncClient],
    partner: dict[str, str],
    hub: Hub,
) -> None:
    intake, triage, _ = clients
    rid = await submit(intake, partner)
    case = await eventually(triage, f"/v1/cases/{rid}", hub.officer)
    path = f"/v1/cases/{rid}"

    async def refused(params: dict[str, Any], slug: str, field: str) -> None:
        answer = await triage.get(path, params=params, headers=hub.officer)
        problem(answer, 422, slug)
        assert field in {e["field"] for e in answer.json()["errors"]}, answer.text

    await refused(
        {"as_of_version": 1, "as_of": "2030-01-01T00:00:00Z"}, "as-of-ambiguous", "query.as_of"
    )
    await refused(
        {"as_of_version": case["version"] + 1}, "as-of-out-of-range", "query.as_of_version"
    )
    await refused({"as_of": "2001-01-01T00:00:00+01:00"}, "as-of-out-of-range", "query.as_of")
    await refused({"as_of_version": 0}, "validation-error", "query.as_of_version")
    await refused({"as_of_version": "two"}, "validation-error", "query.as_of_version")
    await refused({"as_of": "2030-01-01T00:00:00"}, "validation-error", "query.as_of")  # no offset
    await refused({"as_of": "yesterday"}, "validation-error", "query.as_of")
    await refused({"as_of": "9999-12-31T23:59:59-14:00"}, "validation-error", "query.as_of")
    problem(
        await triage.get(
            f"/v1/cases/{uuid.uuid4()}", params={"as_of_version": 1}, headers=hub.officer
        ),
        404,
        "not-found",
    )
    # A time after everything: the case as it stands.
    later = await ok(
        await triage.get(path, params={"as_of": "2190-01-01T00:00:00Z"}, headers=hub.officer)
    )
    assert without_as_of(later) == without_as_of(case)
