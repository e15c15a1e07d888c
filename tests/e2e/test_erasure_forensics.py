"""Erasure a forensic reader cannot undo. An officer with canary personal values is offered, read,
exported and erased through the API; then everything the stack wrote to disk is searched as a
forensic reader would: PostgreSQL's data directory (its write-ahead log included) and its server
log, every Kafka log segment, the services' logs and the key store's files. No canary is found
in any form, and no byte string found there opens any ciphertext of the officer's personal data.

The key search tries every 32-byte window of every file written since the officer existed (a file
not written since cannot hold anything made after; see tests/forensics.py for the filter a random
key passes). Its positive control is `test_the_scanners_find_what_they_look_for`."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from jiph.stack.config import StackConfig
from jiph.stack.postgres import PostgresTarget, cluster_log
from shared.events import Envelope
from tests import forensics
from tests.conftest import ARTIFACTS
from tests.e2e.test_deployment_support import Api, an_offer, deployment_database_url
from tests.running_services import TokenFactory

pytestmark = pytest.mark.e2e
WHY = "Arranging the officer's flights to the mission"
AAD = b"jiph:officer-personal-data:"


@pytest.fixture
async def api(services: dict[str, str], token: TokenFactory) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=services["deployment"], timeout=30) as client:
        yield Api(client, token)


async def sealed_values(infra: PostgresTarget, officer_ref: str) -> list[bytes]:
    """Every ciphertext of the officer's personal data in the deployment service's event store."""
    conn = await asyncpg.connect(deployment_database_url(infra))
    try:
        rows = await conn.fetch(
            "SELECT envelope FROM events WHERE event_type = 'CapabilityOffered'"
        )
    finally:
        await conn.close()
    found = []
    for row in rows:
        data = Envelope.from_bytes(row["envelope"]).data
        if data["officer_ref"] == officer_ref and data.get("personal_data"):
            found.append(base64.b64decode(data["personal_data"]))
    return found


async def flush_postgres(infra: PostgresTarget) -> Path:
    """Write every dirty buffer to the data files (what a copy of the disk would hold) and
    return the data directory."""
    conn = await asyncpg.connect(infra.admin_url)
    try:
        await conn.execute("CHECKPOINT")
        return Path(await conn.fetchval("SHOW data_directory"))
    finally:
        await conn.close()


async def test_an_erased_officer_cannot_be_recovered_from_anything_on_disk(
    api: Api, bootstrap: str, infra: PostgresTarget, test_stack: StackConfig
) -> None:
    assert infra.managed, "the forensic search needs the stack's own PostgreSQL cluster"
    since = time.time() - 1
    unique = uuid.uuid4().hex
    canaries = [
        f"CANARY-{unique}",
        f"{unique[:12]}@police.example",
        f"+44 7700 {str(uuid.UUID(unique).int)[:6]}",
    ]
    officer = {
        "name": f"CANARY-{unique}",
        "contact": {"email": canaries[1], "phone": "+44 20 7946 0001"},
        "next_of_kin": {
            "name": f"CANARY-{unique}-KIN",
            "relationship": "parent",
            "phone": canaries[2],
        },
    }
    force = f"force-{uuid.uuid4().hex[:8]}"
    offered = await api.client.post(
        "/v1/offers",
        json=an_offer(officer=officer),
        headers=api.liaison(force) | {"Idempotency-Key": str(uuid.uuid4())},
    )
    assert offered.status_code == 201, offered.text
    ref = offered.json()["offer"]["officer_ref"]
    did = (await api.plan(await api.requirement(bootstrap, headcount=1)))["id"]
    nominated = await api.post(f"/v1/deployments/{did}/nominations", officer_ref=ref)
    assert nominated.status_code == 201, nominated.text
    read = await api.client.get(
        f"/v1/officers/{ref}", headers=api.manager | {"X-Justification": WHY}
    )
    assert read.status_code == 200 and read.json()["name"] == officer["name"]
    export = await api.client.get(
        f"/v1/officers/{ref}/subject-access", headers=api.admin | {"X-Justification": WHY}
    )
    assert export.status_code == 200 and export.json()["personal_data"]["name"] == officer["name"]
    sealed = await sealed_values(infra, ref)
    assert sealed, "the officer's sealed personal data is in the event store"

    erased = await api.client.delete(f"/v1/officers/{ref}/personal-data", headers=api.admin)
    assert erased.status_code == 200, erased.text
    after = await api.client.get(
        f"/v1/officers/{ref}", headers=api.manager | {"X-Justification": WHY}
    )
    assert after.json()["name"] == "erased"
    await asyncio.sleep(2)  # the outbox relay publishes; logs flush

    data_dir = await flush_postgres(infra)
    places = [
        data_dir,  # base/, global/, pg_wal/, pg_xact/, ...
        cluster_log(test_stack),
        test_stack.kafka_data_dir,  # every topic's log segments
        test_stack.log_dir,  # the services' and the broker's logs
        test_stack.state_dir / "softhsm",  # the key store's token files
    ]
    everything = await asyncio.to_thread(forensics.files_under, *places)
    assert any(p.parts[-2:-1] == ("pg_wal",) for p in everything), "the WAL is searched"
    assert any(p.suffix == ".log" and "jiph.deployment.events" in str(p) for p in everything)
    # The search reads what it should: the officer's pseudonym is in the database and on Kafka.
    secrets = [ref.encode(), *(canary.encode() for canary in canaries)]
    hits = await asyncio.to_thread(forensics.occurrences_of_each, everything, secrets)
    holding_ref = hits[ref.encode()]
    assert any(str(data_dir) in h for h in holding_ref) and any(
        str(test_stack.kafka_data_dir) in h for h in holding_ref
    )
    for canary in canaries:
        found = hits[canary.encode()]
        assert found == [], f"{canary} found in {found}"

    written = [p for p in everything if p.exists() and p.stat().st_mtime >= since]
    started = time.monotonic()
    opened, tried = await asyncio.to_thread(
        forensics.keys_that_open, written, sealed, AAD + ref.encode()
    )
    (ARTIFACTS / "erasure-forensics.json").write_text(
        json.dumps(
            {
                "files_searched_for_canaries": len(everything),
                "bytes_searched": sum(p.stat().st_size for p in everything if p.exists()),
                "files_written_since_the_officer_existed": len(written),
                "bytes_scanned_for_keys": sum(p.stat().st_size for p in written if p.exists()),
                "candidate_keys_tried": tried,
                "ciphertexts": len(sealed),
                "key_scan_seconds": round(time.monotonic() - started, 1),
            },
            indent=2,
        )
    )
    assert tried > 1000  # real files, full of candidate windows
    assert opened == [], f"a byte string in {opened} opens the erased officer's data"
