"""Tamper-evident history, on the running stack: events are changed, deleted, moved and
rewritten directly in intake's database, and `jiph audit verify` names each one; an untouched
store verifies clean; a checkpoint signed with another key is refused.

Every tampering is undone before its test ends, so the store verifies clean again after it.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from jiph import eventlog
from jiph.stack.config import StackConfig
from jiph.stack.postgres import PostgresTarget, plain_url
from shared.history import chain
from shared.history.checkpoints import Checkpoint, Head, load_public_key, sign
from shared.history.verifier import verify
from shared.topics import checkpoint_topic
from tests.e2e.test_triage_flow import a_request
from tests.running_services import TokenFactory, bearer

pytestmark = pytest.mark.e2e
CHECKPOINT_WAIT_S = 30


def audit(stack: StackConfig, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    """`jiph audit verify … --json`: exit status, one report per service, stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "jiph.cli", "--stack", stack.name, "audit", "verify", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    reports = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return done.returncode, reports, done.stderr


@pytest.fixture
async def intake_db(infra: PostgresTarget) -> AsyncIterator[asyncpg.Connection]:
    db = await asyncpg.connect(plain_url(infra.service_url("intake")))
    try:
        yield db
    finally:
        await db.close()


async def a_request_with_history(services: dict[str, str], token: TokenFactory) -> str:
    """A request whose intake stream has four events: submitted, then amended three times.
    Returns its stream id."""
    partner = bearer(token("partner", partner_id="un-history"))
    async with httpx.AsyncClient(base_url=services["intake"], timeout=15) as intake:
        made = await intake.post("/v1/requests", headers=partner, json=a_request())
        assert made.status_code == 201, made.text
        rid = made.json()["request"]["id"]
        for headcount in (4, 5, 6):
            changed = await intake.post(
                f"/v1/requests/{rid}/amendments",
                headers=partner,
                json={"changes": {"headcount": headcount}},
            )
            assert changed.status_code == 200, changed.text
    return f"request-{rid}"


async def signed_up_to(stack: StackConfig, stream: str, version: int) -> None:
    """Wait until a checkpoint has signed `stream` at `version` (they come every few seconds)."""
    deadline = asyncio.get_running_loop().time() + CHECKPOINT_WAIT_S
    while asyncio.get_running_loop().time() < deadline:
        async for item in eventlog.read(
            stack.kafka_bootstrap, [checkpoint_topic("intake")], from_beginning=True, follow=False
        ):
            heads = orjson.loads(item.raw)["checkpoint"]["heads"]
            if [stream, version] in [h[:2] for h in heads]:
                return
        await asyncio.sleep(0.5)
    raise AssertionError(f"no checkpoint signed {stream} at version {version}")


@pytest.fixture
async def stream(services: dict[str, str], token: TokenFactory, test_stack: StackConfig) -> str:
    stream_id = await a_request_with_history(services, token)
    await signed_up_to(test_stack, stream_id, 4)
    return stream_id


@asynccontextmanager
async def tampered(db: asyncpg.Connection, stream: str) -> AsyncIterator[list[asyncpg.Record]]:
    """The stream's rows as they were; put back exactly so afterwards."""
    rows = await db.fetch(
        "SELECT * FROM events WHERE stream_id = $1 ORDER BY stream_version", stream
    )
    try:
        yield rows
    finally:
        async with db.transaction():
            await db.execute("DELETE FROM events WHERE stream_id = $1", stream)
            await db.executemany(
                "INSERT INTO events (stream_id, stream_version, event_id, event_type,"
                " schema_version, occurred_at, envelope, chain_hash)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                [tuple(r.values()) for r in rows],
            )


def first_mismatch(stack: StackConfig, stream: str) -> dict[str, Any]:
    status, reports, stderr = audit(stack, "intake", "--stream", stream, "--json")
    assert status == 1, (status, reports, stderr)
    (report,) = reports
    assert report["clean"] is False and report["refused_checkpoints"] == []
    (mismatch,) = report["mismatches"]
    assert mismatch["stream_id"] == stream
    return dict(mismatch)


def altered(envelope: bytes) -> bytes:
    data = orjson.loads(envelope)
    data["data"]["changes"]["headcount"] = 50
    return orjson.dumps(data)


async def test_an_untouched_store_verifies_clean(
    stream: str, test_stack: StackConfig, services: dict[str, str]
) -> None:
    status, reports, stderr = audit(test_stack, "--json")
    assert status == 0, (reports, stderr)
    assert [r["service"] for r in reports] == ["intake", "triage", "deployment"]
    for report in reports:
        assert (
            report["clean"] and report["mismatches"] == [] and report["refused_checkpoints"] == []
        )
    intake = reports[0]
    assert intake["events"] >= 4 and intake["checkpoints"] >= 1 and intake["signed_heads"] >= 1
    # The chain hash also travels with the event, as a Kafka header.
    async for item in eventlog.read(
        test_stack.kafka_bootstrap, ["jiph.intake.events"], from_beginning=True, follow=False
    ):
        assert len(bytes.fromhex(item.headers["chain_hash"])) == 32
        break


async def test_an_altered_event_is_named(
    stream: str, intake_db: asyncpg.Connection, test_stack: StackConfig
) -> None:
    async with tampered(intake_db, stream) as rows:
        await intake_db.execute(
            "UPDATE events SET envelope = $3 WHERE stream_id = $1 AND stream_version = $2",
            stream,
            2,
            altered(bytes(rows[1]["envelope"])),
        )
        mismatch = first_mismatch(test_stack, stream)
    assert (mismatch["stream_version"], mismatch["problem"]) == (2, "altered")
    assert audit(test_stack, "intake", "--stream", stream)[0] == 0  # put back: clean again


async def test_a_deleted_event_is_named(
    stream: str, intake_db: asyncpg.Connection, test_stack: StackConfig
) -> None:
    async with tampered(intake_db, stream):
        await intake_db.execute(
            "DELETE FROM events WHERE stream_id = $1 AND stream_version = 3", stream
        )
        mismatch = first_mismatch(test_stack, stream)
    assert (mismatch["stream_version"], mismatch["problem"]) == (3, "missing")
    assert "version 3 is not in the store" in mismatch["detail"]


async def test_a_deleted_last_event_is_named_from_the_checkpoint(
    stream: str, intake_db: asyncpg.Connection, test_stack: StackConfig
) -> None:
    async with tampered(intake_db, stream):
        await intake_db.execute(
            "DELETE FROM events WHERE stream_id = $1 AND stream_version = 4", stream
        )
        mismatch = first_mismatch(test_stack, stream)
    assert (mismatch["stream_version"], mismatch["problem"]) == (4, "truncated")


async def test_two_reordered_events_are_named(
    stream: str, intake_db: asyncpg.Connection, test_stack: StackConfig
) -> None:
    async with tampered(intake_db, stream):
        async with intake_db.transaction():
            for old, new in ((2, -2), (3, 2), (-2, 3)):
                await intake_db.execute(
                    "UPDATE events SET stream_version = $3"
                    " WHERE stream_id = $1 AND stream_version = $2",
                    stream,
                    old,
                    new,
                )
        mismatch = first_mismatch(test_stack, stream)
    assert (mismatch["stream_version"], mismatch["problem"]) == (2, "moved")
    assert "says it is" in mismatch["detail"] and "version 3" in mismatch["detail"]


async def test_a_rewrite_that_recomputes_the_chain_is_caught_by_the_signed_checkpoint(
    stream: str, intake_db: asyncpg.Connection, test_stack: StackConfig
) -> None:
    async with tampered(intake_db, stream) as rows:
        envelopes = [bytes(r["envelope"]) for r in rows]
        envelopes[1] = altered(envelopes[1])
        async with intake_db.transaction():
            for version, (envelope, digest) in enumerate(
                zip(envelopes, chain.chain(stream, envelopes), strict=True), start=1
            ):
                await intake_db.execute(
                    "UPDATE events SET envelope = $3, chain_hash = $4"
                    " WHERE stream_id = $1 AND stream_version = $2",
                    stream,
                    version,
                    envelope,
                    digest,
                )
        mismatch = first_mismatch(test_stack, stream)
    assert mismatch["problem"] == "rewritten" and mismatch["stream_version"] <= 2
    assert "checkpoint" in mismatch["detail"]


async def test_a_checkpoint_signed_with_another_key_is_refused(
    stream: str, intake_db: asyncpg.Connection, test_stack: StackConfig, tmp_path: Path
) -> None:
    # Checked with another key, every genuine checkpoint is refused.
    other = Ed25519PrivateKey.generate()
    from cryptography.hazmat.primitives import serialization

    other_file = tmp_path / "other.pem"
    other_file.write_bytes(
        other.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    status, (report,), _ = audit(
        test_stack, "intake", "--stream", stream, "--public-key", str(other_file), "--json"
    )
    assert status == 1 and report["checkpoints"] == 0
    assert report["refused_checkpoints"] and all(
        "is not signed by intake's checkpoint key" in r for r in report["refused_checkpoints"]
    )

    # A forged checkpoint beside the genuine ones (vouching for a rewritten head) is refused,
    # and the genuine ones still verify the store.
    genuine = [
        item.raw
        async for item in eventlog.read(
            test_stack.kafka_bootstrap,
            [checkpoint_topic("intake")],
            from_beginning=True,
            follow=False,
        )
    ]
    forged = sign(
        Checkpoint(
            "intake",
            len(genuine) + 1,
            "0" * 64,
            datetime.now(UTC),
            "forged",
            (Head(stream, 4, b"\x00" * 32),),
        ),
        other,
    )

    async def records() -> AsyncIterator[bytes]:
        for record in [*genuine, forged]:
            yield record

    public = load_public_key(test_stack.checkpoint_key_file("intake"))
    result = await verify(intake_db, "intake", records(), [public], stream=stream)
    assert result.mismatches == []
    assert len(result.refused) == 1 and "not signed by intake's checkpoint key" in result.refused[0]


def test_operators_see_the_checkpoints_in_tail(stream: str, test_stack: StackConfig) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "jiph.cli",
            "--stack",
            test_stack.name,
            "tail",
            "checkpoints",
            "--from-beginning",
            "--no-follow",
            "--color",
            "never",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = [line for line in done.stdout.splitlines() if "ChainCheckpoint" in line]
    assert lines and all("seq=" in line and "heads=" in line for line in lines)
    assert any("checkpoints.intake" in line for line in lines)
