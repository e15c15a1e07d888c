"""Casework over HTTP on the running stack: the work queue (order, filters and service-level
breaches under a fixed clock), owners, search that hides what the reader may not see, internal
notes that never reach the partner, the conversation, and one answer per question."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from jiph.stack.postgres import PostgresTarget
from services.triage.breaches import count_breaches
from services.triage.config import load_service_levels
from services.triage.domain.service_levels import SlaStage
from shared.db import create_engine
from tests.e2e.test_triage_flow import TOKEN_HEADER, Hub, eventually, open_case, problem, submit
from tests.running_services import TokenFactory, bearer

pytestmark = pytest.mark.e2e

TODAY_HEADER = "X-Jiph-Today"
LEVELS = load_service_levels()


def utc_today() -> Any:
    return datetime.now(UTC).date()


def on(day: Any) -> dict[str, str]:
    """The development clock: the queue read as of `day`."""
    return {TODAY_HEADER: day.isoformat()}


def word(tag: str) -> str:
    """A word no other test writes (letters only, so the search parser keeps it whole)."""
    return "".join(chr(ord("a") + int(c, 16) % 26) for c in tag) + "word"


@pytest.fixture
async def clients(services: dict[str, str]) -> Any:
    async with (
        httpx.AsyncClient(base_url=services["intake"], timeout=15) as intake,
        httpx.AsyncClient(base_url=services["triage"], timeout=15) as triage,
        httpx.AsyncClient(base_url=services["reporting"], timeout=15) as reporting,
    ):
        yield intake, triage, reporting


@pytest.fixture
def hub(token: TokenFactory) -> Hub:
    return Hub(token)


@pytest.fixture
def partner_id() -> str:
    return f"partner-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def partner(token: TokenFactory, partner_id: str) -> dict[str, str]:
    return bearer(token("partner", partner_id=partner_id))


async def queue(
    triage: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    response = await triage.get("/v1/cases", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def post(client: httpx.AsyncClient, path: str, headers: dict[str, str], **body: Any) -> Any:
    response = await client.post(path, json=body or None, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_queue_sorts_filters_and_flags_breaches_under_a_fixed_clock(
    clients: Any, partner: dict[str, str], partner_id: str, hub: Hub, infra: PostgresTarget
) -> None:
    intake, triage, _ = clients
    two = (intake, triage)
    soon = (utc_today() + timedelta(days=20)).isoformat()
    later = (utc_today() + timedelta(days=300)).isoformat()
    first, _ = await open_case(two, partner, hub, needed_by=later, country="FR")
    second, _ = await open_case(two, partner, hub, needed_by=soon)
    third, _ = await open_case(two, partner, hub, needed_by=soon, capability="forensics")
    # The second goes to the board; the third is assessed and declined (decided: last).
    await post(triage, f"/v1/cases/{second}/assessment", hub.officer, risk_tier="low")
    await post(triage, f"/v1/cases/{third}/assessment", hub.officer, risk_tier="low")
    await post(
        triage,
        f"/v1/cases/{third}/decisions",
        hub.as_("approver", "bob"),
        decision="reject",
        stage="board",
        reason_code="out-of-scope",
    )
    mine = {"partner": partner_id}

    by_priority = await queue(triage, hub.officer, **mine)
    assert [c["id"] for c in by_priority][-1] == third  # decided cases after the open ones
    open_ones = by_priority[:2]
    assert {c["id"] for c in open_ones} == {first, second}
    assert open_ones[0]["score"] >= open_ones[1]["score"]
    by_age = await queue(triage, hub.officer, sort="age", **mine)
    assert [c["id"] for c in by_age] == [first, second, third]

    # Paging keeps the order, whatever the sort.
    page = await triage.get(
        "/v1/cases", params={"sort": "age", "limit": 1, **mine}, headers=hub.officer
    )
    cursor = page.json()["next_cursor"]
    rest = await queue(triage, hub.officer, sort="age", cursor=cursor, **mine)
    assert [c["id"] for c in rest] == [second, third]
    wrong = await triage.get("/v1/cases", params={"cursor": cursor, **mine}, headers=hub.officer)
    problem(wrong, 400, "bad-cursor")
    # A tampered cursor is refused as one, whatever value it carries (not a 500 from binding).
    anchor = "0193a0c4-0000-7000-8000-000000000000"
    for values in ([10**30, 1.0, "2026-01-01", anchor], [0, "inf", "2026-01-01", anchor]):
        raw = json.dumps({"s": "priority", "p": values}).encode()
        forged = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        problem(
            await triage.get("/v1/cases", params={"cursor": forged}, headers=hub.officer),
            400,
            "bad-cursor",
        )

    # Service levels as of today: nothing late; each open case due from when its stage began.
    today = utc_today()
    now = {c["id"]: c for c in await queue(triage, hub.officer | on(today), **mine)}
    assert now[first]["sla_stage"] == "assessment" and now[second]["sla_stage"] == "board"
    assert (
        now[first]["due_on"]
        == (today + timedelta(days=LEVELS.days[SlaStage.ASSESSMENT])).isoformat()
    )
    assert (
        now[second]["due_on"] == (today + timedelta(days=LEVELS.days[SlaStage.BOARD])).isoformat()
    )
    assert now[third]["sla_stage"] is None and now[third]["due_on"] is None
    assert not any(c["breached"] for c in now.values())

    # A day after the first assessment was due: only that case is breached.
    late = today + timedelta(days=LEVELS.days[SlaStage.ASSESSMENT] + 1)
    flagged = await queue(triage, hub.officer | on(late), breached="true", **mine)
    assert [c["id"] for c in flagged] == [first] and flagged[0]["age_days"] == (late - today).days
    within = await queue(triage, hub.officer | on(late), breached="false", **mine)
    assert {c["id"] for c in within} == {second, third}
    # Later still both open cases are late; by due date the earliest first, undated last.
    later_day = today + timedelta(days=LEVELS.days[SlaStage.BOARD] + 1)
    by_due = await queue(triage, hub.officer | on(later_day), sort="due", **mine)
    assert [c["id"] for c in by_due] == [first, second, third]
    assert [c["breached"] for c in by_due] == [True, True, False]

    # Filters: stage, country, capability, partner (another partner's cases are not these).
    board = await queue(triage, hub.officer, stage="board", **mine)
    assert [c["id"] for c in board] == [second]
    assert [c["id"] for c in await queue(triage, hub.officer, country="fr", **mine)] == [first]
    forensics = await queue(triage, hub.officer, capability="forensics", **mine)
    assert [c["id"] for c in forensics] == [third]
    assert await queue(triage, hub.officer, partner="partner-nobody-has") == []

    # The breach gauge's count, on the triage database, as of the same fixed days.
    url = infra.admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    engine = create_engine(url + "/jiph_triage", pool_size=1)
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text("SET search_path TO projection"))
            counts_now = await count_breaches(conn, LEVELS, today - timedelta(days=1))
            counts_late = await count_breaches(conn, LEVELS, later_day)
    finally:
        await engine.dispose()
    assert counts_now == {stage: 0 for stage in SlaStage}
    assert counts_late[SlaStage.ASSESSMENT] >= 1 and counts_late[SlaStage.BOARD] >= 1
    metrics = (await triage.get("/metrics")).text
    for stage in SlaStage:
        assert f'jiph_triage_cases_breached{{stage="{stage.value}"}}' in metrics

    # An unknown query parameter is a 422 naming it, on every list touched.
    typo = await triage.get("/v1/cases", params={"sortt": "due"}, headers=hub.officer)
    problem(typo, 422, "validation-error")
    assert typo.json()["errors"] == [{"field": "query.sortt", "message": "unknown query parameter"}]
    problem(
        await triage.get("/v1/cases", params={"sort": "fame"}, headers=hub.officer),
        422,
        "validation-error",
    )
    problem(
        await intake.get("/v1/requests", params={"refrence": "x"}, headers=partner),
        422,
        "validation-error",
    )


async def test_owners_are_assigned_claimed_and_released_as_events(
    clients: Any, partner: dict[str, str], partner_id: str, hub: Hub
) -> None:
    intake, triage, _ = clients
    rid, _ = await open_case((intake, triage), partner, hub)
    case = f"/v1/cases/{rid}"
    bob = hub.as_("approver", "bob")

    claimed = await post(triage, f"{case}/claim", hub.officer)
    assert claimed["case"]["owner"] == hub.names["alice"]
    problem(await triage.post(f"{case}/claim", headers=bob), 409, "case-owned")
    problem(await triage.post(f"{case}/release", headers=bob), 403, "not-owner")
    problem(
        await triage.post(f"{case}/claim", headers=hub.as_("analyst", "dave")), 403, "forbidden"
    )
    problem(
        await triage.post(f"{case}/assignment", json={"owner": "x"}, headers=bob), 403, "forbidden"
    )

    # An officer gives it to Bob, whatever case the name is typed in.
    given = await post(triage, f"{case}/assignment", hub.officer, owner=hub.names["bob"].upper())
    assert given["case"]["owner"] == hub.names["bob"]
    mine = await queue(triage, bob, owner=hub.names["bob"])
    assert [c["id"] for c in mine] == [rid]
    assert await queue(triage, bob, assigned="false", partner=partner_id) == []
    assert [c["id"] for c in await queue(triage, bob, assigned="true", partner=partner_id)] == [rid]
    problem(
        await triage.post(
            f"{case}/assignment", json={"owner": hub.names["bob"]}, headers=hub.officer
        ),
        409,
        "already-owner",
    )

    released = await post(triage, f"{case}/release", bob)
    assert released["case"]["owner"] is None
    problem(await triage.post(f"{case}/release", headers=bob), 409, "not-assigned")
    history = released["case"]["history"]
    owners = [(e["event"], e["data"]) for e in history if e["event"].startswith("Case")]
    assert [event for event, _ in owners] == ["CaseAssigned", "CaseAssigned", "CaseReleased"]
    assert owners[0][1]["claimed"] is True
    assert owners[1][1] | {"request_id": None} == {
        "request_id": None,
        "owner": hub.names["bob"],
        "assigned_by": hub.names["alice"],
        "claimed": False,
        "previous_owner": hub.names["alice"],
    }
    assert owners[2][1]["previous_owner"] == hub.names["bob"]


async def test_search_finds_by_reference_and_title_word_but_only_what_the_reader_may_see(
    clients: Any, partner: dict[str, str], partner_id: str, hub: Hub, token: TokenFactory
) -> None:
    intake, triage, reporting = clients
    tag = uuid.uuid4().hex[:8]
    open_word, secret_word = word(tag), word(uuid.uuid4().hex[:8])
    plain, plain_case = await open_case(
        (intake, triage), partner, hub, title=f"Election {open_word} advisers"
    )
    secret, secret_case = await open_case(
        (intake, triage),
        partner,
        hub,
        title=f"Covert {secret_word} unit",
        classification="OFFICIAL-SENSITIVE",
    )
    cleared = hub.as_("triage_officer", "alice", clearance="sc")
    uncleared = hub.officer

    async def found(headers: dict[str, str], **params: Any) -> list[str]:
        return [c["id"] for c in await queue(triage, headers, **params)]

    assert await found(uncleared, q=open_word) == [plain]
    assert await found(uncleared, q=f"elections {open_word}") == [plain]  # stemmed
    assert await found(cleared, q=secret_word) == [secret]
    assert await found(uncleared, q=secret_word) == []  # its title is withheld: not found either
    assert await found(uncleared, q=f'"{secret_word} unit" or {open_word}') == [plain]

    # By reference (any case), for every reader: the reference itself is never withheld.
    reference = secret_case["reference"]
    by_reference = await queue(triage, uncleared, reference=reference.lower())
    assert [c["id"] for c in by_reference] == [secret] and by_reference[0]["title"] is None
    assert await found(uncleared, q=reference) == [secret]
    assert await found(cleared, q=plain_case["reference"]) == [plain]

    # Intake: a partner finds its own requests, by word or reference; another partner nothing.
    async def partner_found(headers: dict[str, str], **params: Any) -> list[str]:
        response = await intake.get("/v1/requests", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [r["id"] for r in response.json()["items"]]

    assert await partner_found(partner, q=secret_word) == [secret]
    assert await partner_found(partner, reference=plain_case["reference"]) == [plain]
    assert await partner_found(partner, reference=plain_case["reference"].lower()) == [plain]
    stranger = bearer(token("partner", partner_id=f"other-{tag}"))
    assert await partner_found(stranger, q=open_word) == []
    assert await partner_found(stranger, reference=plain_case["reference"]) == []

    # Reporting: the same `reference` filter (any case too).
    analyst = bearer(token("analyst", sub=f"ann-{tag}"))
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        rows = await reporting.get(
            "/v1/requests", params={"reference": reference.lower()}, headers=analyst
        )
        assert rows.status_code == 200, rows.text
        if rows.json()["items"] or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.2)
    assert [r["request_id"] for r in rows.json()["items"]] == [secret]
    problem(
        await reporting.get("/v1/requests", params={"refernce": reference}, headers=analyst),
        422,
        "validation-error",
    )


async def test_internal_notes_never_reach_the_partner_and_the_conversation_does(
    clients: Any, partner: dict[str, str], hub: Hub
) -> None:
    intake, triage, _ = clients
    rid, _ = await open_case((intake, triage), partner, hub, classification="OFFICIAL-SENSITIVE")
    case = f"/v1/cases/{rid}"
    note = f"Internal {uuid.uuid4().hex}: the desk doubts the host state's consent."
    noted = await post(triage, f"{case}/notes", hub.officer, note=note)
    entry = [e for e in noted["case"]["history"] if e["event"] == "CaseNoteAdded"]
    assert entry and entry[0]["data"]["note"] is None  # uncleared: withheld on this case
    cleared = hub.as_("triage_officer", "alice", clearance="sc")
    shown = (await triage.get(case, headers=cleared)).json()
    assert [e["data"]["note"] for e in shown["history"] if e["event"] == "CaseNoteAdded"] == [note]
    await post(triage, f"{case}/claim", hub.officer)

    asked = f"Could you send the force generation plan? {uuid.uuid4().hex}"
    wrote = await triage.post(f"{case}/messages", json={"message": asked}, headers=hub.officer)
    assert wrote.status_code == 200, wrote.text
    seen = await eventually(
        intake, f"/v1/requests/{rid}", partner | {TOKEN_HEADER: wrote.headers[TOKEN_HEADER]}
    )
    hub_messages = [e for e in seen["timeline"] if e["event"] == "MessageToPartner"]
    assert [e["details"]["message"] for e in hub_messages] == [asked]
    replied = await intake.post(
        f"/v1/requests/{rid}/messages", json={"message": "Sent by courier today."}, headers=partner
    )
    assert replied.status_code == 200, replied.text
    timeline = replied.json()["request"]["timeline"]
    assert [e["event"] for e in timeline if e["event"].startswith("Message")] == [
        "MessageToPartner",
        "MessageFromPartner",
    ]
    # Nothing of the note, nor who owns the case, anywhere in what the partner reads.
    everything = json.dumps(replied.json())
    assert note not in everything and "CaseNoteAdded" not in everything
    assert "CaseAssigned" not in everything and hub.names["alice"] not in everything
    # The partner's message is in the case's history for the hub.
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        history = (await triage.get(case, headers=cleared)).json()["history"]
        theirs = [e for e in history if e["event"] == "MessageFromPartner"]
        if theirs or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.2)
    assert [e["data"]["partner_message"] for e in theirs] == ["Sent by courier today."]

    # The one text rule: no whitespace-only or invisible text, no NUL.
    for bad in ("   ", "\u200b\u200b", "a\u0000b"):
        problem(
            await triage.post(f"{case}/notes", json={"note": bad}, headers=hub.officer),
            422,
            "validation-error",
        )
    problem(
        await intake.post(
            f"/v1/requests/{rid}/messages", json={"message": " \n "}, headers=partner
        ),
        422,
        "validation-error",
    )


async def test_a_two_question_information_request_needs_two_answers(
    clients: Any, partner: dict[str, str], hub: Hub
) -> None:
    intake, triage, _ = clients
    rid = await submit(intake, partner)
    await eventually(triage, f"/v1/cases/{rid}", hub.officer)
    asked = await triage.post(
        f"/v1/cases/{rid}/information-requests",
        json={"questions": ["Is there host-state consent?", "Who provides transport?"]},
        headers=hub.officer,
    )
    assert asked.status_code == 200, asked.text
    await eventually(
        intake,
        f"/v1/requests/{rid}",
        partner | {TOKEN_HEADER: asked.headers[TOKEN_HEADER]},
        status="information_requested",
    )
    amendments = f"/v1/requests/{rid}/amendments"
    one = await intake.post(amendments, json={"answers": ["Yes, signed."]}, headers=partner)
    problem(one, 422, "answers-per-question")
    assert one.json()["errors"][0]["field"] == "body.answers"
    still = (await intake.get(f"/v1/requests/{rid}", headers=partner)).json()
    assert still["status"] == "information_requested"
    both = await intake.post(
        amendments, json={"answers": ["Yes, signed.", "The mission."]}, headers=partner
    )
    assert both.status_code == 200, both.text
    back = await eventually(
        triage,
        f"/v1/cases/{rid}",
        hub.officer | {TOKEN_HEADER: both.headers[TOKEN_HEADER]},
        status="in_triage",
    )
    assert back["open_information_request"] is None


async def reporting_status(
    reporting: httpx.AsyncClient, analyst: dict[str, str], reference: str, status: str
) -> None:
    """Reporting's row for `reference` reaches `status`; bounded."""
    deadline = asyncio.get_running_loop().time() + 30
    seen: Any = None
    while asyncio.get_running_loop().time() < deadline:
        rows = await reporting.get(
            "/v1/requests", params={"reference": reference.lower()}, headers=analyst
        )
        assert rows.status_code == 200, rows.text
        seen = [r["status"] for r in rows.json()["items"]]
        if seen == [status]:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"reporting's row of {reference} did not reach {status}: {seen}")


async def test_the_board_asks_after_the_assessment_and_the_answer_returns_the_request_there(
    clients: Any, partner: dict[str, str], hub: Hub, token: TokenFactory
) -> None:
    intake, triage, reporting = clients
    rid, case = await open_case((intake, triage), partner, hub)
    analyst = bearer(token("analyst", sub=f"ann-{uuid.uuid4().hex[:6]}"))
    board = hub.as_("approver", "bob")
    assessed = await post(
        triage, f"/v1/cases/{rid}/assessment", hub.officer, risk_tier="low", alignment=0.5
    )
    assert assessed["case"]["status"] == "assessed"

    # The board asks two questions: both sides show information_requested, the partner sees them.
    questions = ["Is the host state's consent signed?", "Who provides the vehicles?"]
    asked = await triage.post(
        f"/v1/cases/{rid}/information-requests", json={"questions": questions}, headers=board
    )
    assert asked.status_code == 200, asked.text
    waiting = asked.json()["case"]
    assert waiting["status"] == "information_requested"
    assert waiting["open_information_request"]["returns_to"] == "assessed"
    assert waiting["sla_stage"] == "board"  # the board's clock runs on: the hub chose to wait
    seen = await eventually(
        intake,
        f"/v1/requests/{rid}",
        partner | {TOKEN_HEADER: asked.headers[TOKEN_HEADER]},
        status="information_requested",
    )
    assert seen["open_information_request"]["questions"] == questions
    [entry] = [e for e in seen["timeline"] if e["event"] == "InformationRequested"]
    assert entry["summary"] == "The hub asked for more information"
    assert entry["details"]["questions"] == questions
    await reporting_status(reporting, analyst, case["reference"], "information_requested")

    # While the questions are open the board may not approve; more questions wait too.
    decisions = f"/v1/cases/{rid}/decisions"
    approve = {"decision": "approve", "stage": "board", "reason": "Meets the criteria."}
    problem(await triage.post(decisions, json=approve, headers=board), 409, "awaiting-information")
    problem(
        await triage.post(
            f"/v1/cases/{rid}/information-requests", json={"questions": ["More?"]}, headers=board
        ),
        409,
        "information-request-open",
    )

    # After the assessment the partner answers, and may not change the request with it.
    amendments = f"/v1/requests/{rid}/amendments"
    answers = ["Yes, signed last week.", "The mission."]
    changed = await intake.post(
        amendments, json={"answers": answers, "changes": {"headcount": 9}}, headers=partner
    )
    problem(changed, 409, "answers-only-after-assessment")
    assert changed.json()["errors"][0]["field"] == "body.changes"
    answered = await intake.post(amendments, json={"answers": answers}, headers=partner)
    assert answered.status_code == 200, answered.text
    consistent = {TOKEN_HEADER: answered.headers[TOKEN_HEADER]}
    back = await eventually(triage, f"/v1/cases/{rid}", hub.officer | consistent, status="assessed")
    assert back["open_information_request"] is None and back["headcount"] == 3
    request = await eventually(intake, f"/v1/requests/{rid}", partner | consistent)
    assert request["status"] == "assessed" and request["open_information_request"] is None
    assert request["timeline"][-1]["details"] == {"answers": answers}
    await reporting_status(reporting, analyst, case["reference"], "assessed")

    approved = await post(triage, decisions, board, **approve)
    assert approved["case"]["status"] == "approved"
    closed = await triage.post(
        f"/v1/cases/{rid}/information-requests", json={"questions": ["Late?"]}, headers=board
    )
    problem(closed, 409, "case-closed")
