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
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from jiph.stack.postgres import PostgresTarget
from shared.catalogue.intake import Contact, RequestSubmitted, RequestWithdrawn, RoleProfile
from shared.catalogue.triage import InformationRequested
from shared.events import Envelope
from shared.topics import INTAKE_EVENTS, TRIAGE_EVENTS
from tests.e2e.test_intake_api import publish

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
PRETTY = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  (intake|triage|deployment)\s+\w+\s+\S+\s+\w+:\S+\s*.*$"
)


def jiph(*args: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "JIPH_TOKEN")
    }
    stack = os.environ.get("JIPH_TEST_STACK", "test")  # the stack the fixtures started
    return subprocess.run(
        [sys.executable, "-m", "jiph.cli", "--stack", stack, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def submitted(request_id: uuid.UUID, reference: str, partner: str) -> RequestSubmitted:
    return RequestSubmitted(
        request_id=request_id,
        reference=reference,
        partner_id=partner,
        title="Tail me",
        description="d",
        country="KE",
        requesting_body="UK Embassy Nairobi",
        partner_type="uk-embassy",
        capability="training",
        headcount=1,
        role_profile=RoleProfile(rank="PS"),
        tour_length_months=6,
        needed_by=date.today() + timedelta(days=120),
        funding_source="cssf-oda",
        classification="OFFICIAL",
        contact=Contact(name="C", email="c@d.e"),
    )


async def test_tail_json_pretty_and_filters(services: dict[str, str], bootstrap: str) -> None:
    rid = uuid.uuid4()
    reference = f"JIPH-2099-{uuid.uuid4().int % 10**6:06d}"
    await publish(
        bootstrap, INTAKE_EVENTS, submitted(rid, reference, "p-tail"), f"request-{rid}", 1
    )
    await publish(
        bootstrap,
        INTAKE_EVENTS,
        RequestWithdrawn(request_id=rid, partner_id="p-tail", reason="plans changed"),
        f"request-{rid}",
        2,
    )

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(TRIAGE_EVENTS, b"\x00 garbage", key=str(rid).encode())
    finally:
        await producer.stop()

    everything = await asyncio.to_thread(
        jiph, "tail", "intake", "triage", "--from-beginning", "--no-follow", "--json"
    )
    assert everything.returncode == 0, everything.stderr
    lines = everything.stdout.splitlines()
    assert len(lines) >= 3
    assert any(orjson.loads(line).get("raw") == "\x00 garbage" for line in lines)
    for line in lines:  # every line is JSON: a complete envelope, or a record marked undecodable
        document = orjson.loads(line)
        if document.get("undecodable"):
            assert {"topic", "partition", "offset", "raw"} <= document.keys()
            continue
        env = Envelope.model_validate(document)
        assert env.event_id and env.event_type and env.actor.role and env.occurred_at

    by_type = await asyncio.to_thread(
        jiph,
        "tail",
        "all",
        "--from-beginning",
        "--no-follow",
        "--json",
        "--type",
        "RequestWithdrawn",
        "--request",
        str(rid),
    )
    assert [Envelope.model_validate_json(x).event_type for x in by_type.stdout.splitlines()] == [
        "RequestWithdrawn"
    ]
    by_reference = await asyncio.to_thread(
        jiph, "tail", "intake", "--from-beginning", "--no-follow", "--request", reference
    )
    pretty = by_reference.stdout.splitlines()
    assert len(pretty) == 2, by_reference.stdout + by_reference.stderr
    for line in pretty:
        assert PRETTY.match(line), line
        assert reference in line and "\033[" not in line  # not a terminal: no colours
    assert "country=KE" in pretty[0] and "capability=training" in pretty[0]
    assert "reason=plans changed" in pretty[1]


def one_line_refusal(run: subprocess.CompletedProcess[str], *words: str) -> None:
    assert run.returncode != 0 and "Traceback" not in run.stderr, run
    assert len(run.stderr.splitlines()) == 1, run.stderr
    for word in words:
        assert word in run.stderr, run.stderr


async def test_tail_and_where_refuse_an_unknown_topic_and_an_unknown_reference(
    bootstrap: str,
) -> None:
    nowhere = "JIPH-2097-999999"
    # Four independent commands, run side by side: each is mostly the CLI's start-up.
    typo, full, tail, where = await asyncio.gather(
        asyncio.to_thread(jiph, "tail", "intak", "--no-follow"),
        asyncio.to_thread(jiph, "tail", "jiph.intake.event", "--no-follow"),
        asyncio.to_thread(jiph, "tail", "intake", "--request", nowhere, "--no-follow"),
        asyncio.to_thread(jiph, "where", nowhere),
    )
    one_line_refusal(typo, "jiph tail:", "no topic intak", "did you mean intake")
    one_line_refusal(full, "no topic jiph.intake.event", "jiph.intake.events")
    one_line_refusal(tail, "jiph tail:", f"no request with reference {nowhere}")
    one_line_refusal(where, "jiph where:", f"no request with reference {nowhere}")


async def test_tail_escapes_control_characters_of_events_in_pretty_lines(bootstrap: str) -> None:
    rid = uuid.uuid4()
    reference = f"JIPH-2096-{uuid.uuid4().int % 10**6:06d}"
    await publish(bootstrap, INTAKE_EVENTS, submitted(rid, reference, "p-ctl"), f"request-{rid}", 1)
    hostile = "\x1b[2J\x1b]0;owned\x07cleared\r\nFAKE LINE\u202eexe"
    await publish(
        bootstrap,
        INTAKE_EVENTS,
        RequestWithdrawn(request_id=rid, partner_id="p-ctl", reason=hostile),
        f"request-{rid}",
        2,
    )
    run = await asyncio.to_thread(
        jiph, "tail", "intake", "--from-beginning", "--no-follow", "--request", str(rid)
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 2, run.stdout
    assert not any(ch in run.stdout for ch in "\x1b\x07\r\u202e")
    assert "reason=\\x1b[2J\\x1b]0;owned\\x07cleared\\r\\nFAKE LINE\\u202eexe" in lines[1]
    as_json = await asyncio.to_thread(
        jiph, "tail", "intake", "--from-beginning", "--no-follow", "--json", "--request", str(rid)
    )
    assert orjson.loads(as_json.stdout.splitlines()[1])["data"]["reason"] == hostile


async def intake_db(infra: PostgresTarget) -> asyncpg.Connection:
    return await asyncpg.connect(infra.admin_url.rsplit("/", 1)[0] + "/jiph_intake")


async def metrics_track_parked_events(infra: PostgresTarget, intake_url: str) -> int:
    """Wait until intake's `jiph_deadletter_parked` gauge shows what its database holds."""
    conn = await intake_db(infra)
    try:
        async with httpx.AsyncClient(base_url=intake_url, timeout=10) as client:
            for _ in range(100):  # the gauge is refreshed every 5 s
                held = await conn.fetchval("SELECT count(*) FROM projection.parked_events")
                text = (await client.get("/metrics")).text
                shown = re.search(r'^jiph_deadletter_parked\{service="intake"\} (\S+)$', text, re.M)
                if shown and float(shown.group(1)) == held:
                    return int(held)
                await asyncio.sleep(0.2)
    finally:
        await conn.close()
    raise AssertionError(f"jiph_deadletter_parked never matched the database: {shown}")


async def wait_parked(infra: PostgresTarget, rid: uuid.UUID, behind: int) -> None:
    conn = await intake_db(infra)
    try:
        for _ in range(600):
            count = await conn.fetchval(
                "SELECT count(p.seq) FROM projection.dead_letters d LEFT JOIN projection.parked_events p"
                " ON p.key = d.key WHERE d.key = $1 AND d.status = 'parked'",
                str(rid),
            )
            dead = await conn.fetchval(
                "SELECT count(*) FROM projection.dead_letters WHERE key = $1 AND status = 'parked'",
                str(rid),
            )
            if dead and count >= behind:
                return
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    raise AssertionError(f"no dead letter with {behind} or more parked behind it")


async def test_dead_letter_found_redriven_after_the_fix_and_parked_events_applied_in_order(
    services: dict[str, str], bootstrap: str, infra: PostgresTarget
) -> None:
    rid = uuid.uuid4()
    partner = f"p-dl-{uuid.uuid4().hex[:6]}"
    conn = await intake_db(infra)
    try:
        # The cause: a database fault that refuses this request's row (as a broken constraint
        # or a full tablespace would), so intake cannot apply its RequestSubmitted.
        await conn.execute(f"""
            CREATE FUNCTION projection.refuse_{rid.hex}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.request_id = '{rid}' THEN RAISE EXCEPTION 'disk quota exceeded'; END IF;
            RETURN NEW; END $$;
            CREATE TRIGGER refuse_{rid.hex} BEFORE INSERT ON projection.requests
            FOR EACH ROW EXECUTE FUNCTION projection.refuse_{rid.hex}();""")
    finally:
        await conn.close()
    reference = f"JIPH-2098-{uuid.uuid4().int % 10**6:06d}"
    await publish(bootstrap, INTAKE_EVENTS, submitted(rid, reference, partner), f"request-{rid}", 1)
    await wait_parked(infra, rid, 0)
    # Later events of the same request, on two topics, wait behind it (triage's RequestTriaged
    # for this submission may be parked there too).
    await publish(
        bootstrap,
        TRIAGE_EVENTS,
        InformationRequested(
            request_id=rid, information_request_id=uuid.uuid4(), questions=["First?"]
        ),
        f"case-{rid}",
        1,
    )
    await publish(
        bootstrap,
        INTAKE_EVENTS,
        RequestWithdrawn(request_id=rid, partner_id=partner, reason="second"),
        f"request-{rid}",
        2,
    )
    await wait_parked(infra, rid, 2)

    parked_shown = await metrics_track_parked_events(infra, services["intake"])
    assert parked_shown >= 2

    listing = (await asyncio.to_thread(jiph, "deadletters", "list", "--service", "intake")).stdout
    row = next(line for line in listing.splitlines() if str(rid) in line)
    assert re.search(r"RequestSubmitted\s+[23]\s+.*disk quota exceeded", row), row
    parked = int(re.search(r"RequestSubmitted\s+([23])\s", row).group(1))  # type: ignore[union-attr]
    dead_id = row.split()[1]
    where = await asyncio.to_thread(jiph, "where", str(rid))
    assert f"DEAD LETTER {dead_id}" in where.stdout, where.stdout

    refused = await asyncio.to_thread(
        jiph, "deadletters", "redrive", dead_id, "--service", "intake"
    )
    assert refused.returncode != 0 and "failed again" in refused.stderr

    conn = await intake_db(infra)
    try:
        await conn.execute(f"DROP TRIGGER refuse_{rid.hex} ON projection.requests")  # the fix
    finally:
        await conn.close()
    redriven = await asyncio.to_thread(
        jiph, "deadletters", "redrive", dead_id, "--service", "intake"
    )
    assert redriven.returncode == 0, redriven.stderr
    assert f"{parked} parked event(s) applied after it in order; key released" in redriven.stdout

    conn = await intake_db(infra)
    try:
        status = await conn.fetchval(
            "SELECT status FROM projection.requests WHERE request_id=$1", rid
        )
        steps = await conn.fetch(
            "SELECT event_type FROM projection.timeline WHERE request_id=$1 "
            "ORDER BY occurred_at, event_id",
            rid,
        )
    finally:
        await conn.close()
    seen = [s["event_type"] for s in steps if s["event_type"] != "RequestTriaged"]
    assert seen == ["RequestSubmitted", "InformationRequested", "RequestWithdrawn"]
    assert status == "withdrawn"
    after = await asyncio.to_thread(jiph, "deadletters", "list", "--service", "intake")
    assert str(rid) not in after.stdout
    assert await metrics_track_parked_events(infra, services["intake"]) < parked_shown
