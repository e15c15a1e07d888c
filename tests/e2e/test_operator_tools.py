"""The operator's command line against the running test stack: tail, dead letters, where."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import uuid
from datetime import date, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from jiph.stack.postgres import PostgresTarget
from shared.catalogue.intake import Contact, RequestSubmitted, RequestWithdrawn, RoleProfile
from shared.catalogue.triage import InformationRequested
from shared.events import Envelope
from shared.topics import INTAKE_EVENTS, TRIAGE_EVENTS
from tests.e2e.conftest import TokenFactory, bearer
from tests.e2e.test_intake_api import publish

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
PRETTY = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  (intake|triage|deployment)\s+\w+\s+\S+\s+\w+:\S+\s*.*$"
)


def jiph(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "JIPH_TOKEN")}
    return subprocess.run([sys.executable, "-m", "jiph.cli", "--stack", "test", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


def submitted(request_id: uuid.UUID, reference: str, partner: str) -> RequestSubmitted:
    return RequestSubmitted(
        request_id=request_id, reference=reference, partner_id=partner, title="Tail me",
        description="d", country="KE", requesting_body="UK Embassy Nairobi",
        partner_type="uk-embassy", capability="training", headcount=1,
        role_profile=RoleProfile(rank="PS"), tour_length_months=6,
        needed_by=date.today() + timedelta(days=120), funding_source="cssf-oda",
        classification="OFFICIAL", contact=Contact(name="C", email="c@d.e"),
    )


async def test_tail_json_pretty_and_filters(services: dict[str, str], bootstrap: str) -> None:
    rid = uuid.uuid4()
    reference = f"JIPH-2099-{uuid.uuid4().int % 10**6:06d}"
    await publish(bootstrap, INTAKE_EVENTS, submitted(rid, reference, "p-tail"), f"request-{rid}", 1)
    await publish(bootstrap, INTAKE_EVENTS,
                  RequestWithdrawn(request_id=rid, partner_id="p-tail", reason="plans changed"),
                  f"request-{rid}", 2)

    everything = await asyncio.to_thread(jiph, "tail", "intake", "triage", "--from-beginning",
                                         "--no-follow", "--json")
    assert everything.returncode == 0, everything.stderr
    lines = everything.stdout.splitlines()
    assert len(lines) >= 2
    for line in lines:  # every line is a complete envelope
        env = Envelope.model_validate_json(line)
        assert env.event_id and env.event_type and env.actor.role and env.occurred_at

    by_type = await asyncio.to_thread(jiph, "tail", "all", "--from-beginning", "--no-follow",
                                      "--json", "--type", "RequestWithdrawn", "--request", str(rid))
    assert [Envelope.model_validate_json(x).event_type for x in by_type.stdout.splitlines()] == [
        "RequestWithdrawn"]
    by_reference = await asyncio.to_thread(jiph, "tail", "intake", "--from-beginning",
                                           "--no-follow", "--request", reference)
    pretty = by_reference.stdout.splitlines()
    assert len(pretty) == 2, by_reference.stdout + by_reference.stderr
    for line in pretty:
        assert PRETTY.match(line), line
        assert reference in line and "\033[" not in line  # not a terminal: no colours
    assert "country=KE" in pretty[0] and "capability=training" in pretty[0]
    assert "reason=plans changed" in pretty[1]


async def test_dead_letter_found_redriven_after_the_fix_and_parked_events_applied_in_order(
    services: dict[str, str], bootstrap: str, infra: PostgresTarget, token: TokenFactory
) -> None:
    partner = f"p-dl-{uuid.uuid4().hex[:6]}"
    headers = bearer(token("partner", partner_id=partner))
    async with httpx.AsyncClient(base_url=services["intake"]) as client:
        created = await client.post("/v1/requests", headers=headers, json={
            "title": "Existing", "description": "d", "country": "GH",
            "requesting_body": "Ghana Police Service", "partner_type": "foreign-government",
            "capability": "cybercrime", "headcount": 1, "role_profile": {"rank": "DS"},
            "tour_length_months": 6, "needed_by": str(date.today() + timedelta(days=100)),
            "funding_source": "cssf-oda", "classification": "OFFICIAL",
            "contact": {"name": "K", "email": "k@gh.example"}})
        existing = created.json()["request"]["reference"]
        # A second request arrives claiming the same reference: intake's projection refuses it
        # (unique reference), so the event is dead-lettered and its request's later events park.
        rid = uuid.uuid4()
        await publish(bootstrap, INTAKE_EVENTS, submitted(rid, existing, partner), f"request-{rid}", 1)
        await publish(bootstrap, TRIAGE_EVENTS, InformationRequested(
            request_id=rid, information_request_id=uuid.uuid4(), questions=["First?"]),
            f"case-{rid}", 1)
        await publish(bootstrap, INTAKE_EVENTS,
                      RequestWithdrawn(request_id=rid, partner_id=partner, reason="second"),
                      f"request-{rid}", 2)

        listing = ""
        for _ in range(100):
            listing = (await asyncio.to_thread(jiph, "deadletters", "list", "--service", "intake")).stdout
            if str(rid) in listing and re.search(rf"{rid}\s+RequestSubmitted\s+2\s", listing):
                break
            await asyncio.sleep(0.3)
        assert str(rid) in listing and "UniqueViolation" in listing or "unique" in listing.lower(), listing
        row = next(line for line in listing.splitlines() if str(rid) in line)
        dead_id = row.split()[1]

        where = await asyncio.to_thread(jiph, "where", str(rid))
        assert f"DEAD LETTER {dead_id}" in where.stdout, where.stdout

        refused = await asyncio.to_thread(jiph, "deadletters", "redrive", dead_id, "--service", "intake")
        assert refused.returncode != 0 and "failed again" in refused.stderr

        # The operator fixes the cause: the duplicate reference is corrected at the source.
        conn = await asyncpg.connect(infra.admin_url.rsplit("/", 1)[0] + "/jiph_intake")
        try:
            await conn.execute("UPDATE projection.requests SET reference = reference || '-old' "
                               "WHERE reference = $1", existing)
        finally:
            await conn.close()
        redriven = await asyncio.to_thread(jiph, "deadletters", "redrive", dead_id, "--service", "intake")
        assert redriven.returncode == 0, redriven.stderr
        assert "2 parked event(s) applied after it in order; key released" in redriven.stdout

    conn = await asyncpg.connect(infra.admin_url.rsplit("/", 1)[0] + "/jiph_intake")
    try:
        status = await conn.fetchval("SELECT status FROM projection.requests WHERE request_id=$1", rid)
        steps = await conn.fetch("SELECT event_type FROM projection.timeline WHERE request_id=$1 "
                                 "ORDER BY occurred_at, event_id", rid)
    finally:
        await conn.close()
    assert [s["event_type"] for s in steps] == ["RequestSubmitted", "InformationRequested",
                                               "RequestWithdrawn"]
    assert status == "withdrawn"
    after = await asyncio.to_thread(jiph, "deadletters", "list", "--service", "intake")
    assert str(rid) not in after.stdout
