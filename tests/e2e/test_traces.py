"""One trace runs from a partner's POST through intake's relay, triage's consumer and its
decision, to the reporting projection (spans exported by the services to the tests' collector)."""

from __future__ import annotations

import asyncio
import secrets
import uuid

import httpx
import pytest

from tests.e2e.collector import Collector
from tests.e2e.test_intake_api import a_request
from tests.running_services import TokenFactory, bearer

pytestmark = pytest.mark.e2e


async def test_one_trace_spans_intake_triage_and_reporting(
    services: dict[str, str], token: TokenFactory, collector: Collector
) -> None:
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    headers = {
        **bearer(token("partner", partner_id=f"trace-{uuid.uuid4().hex[:6]}")),
        "traceparent": traceparent,
    }
    async with httpx.AsyncClient(base_url=services["intake"]) as client:
        created = await client.post("/v1/requests", json=a_request(), headers=headers)
    assert created.status_code == 201, created.text

    # Reporting reads the intake and triage topics independently: its RequestTriaged may be
    # applied before its RequestSubmitted, so wait for every span named here, not the first.
    required = {
        ("intake", "publish RequestSubmitted"),  # the relay
        ("triage", "apply RequestSubmitted"),  # triage's consumer
        ("triage", "publish RequestTriaged"),  # its decision, published
        ("reporting", "apply RequestSubmitted"),  # the reporting projection
    }
    names: set[tuple[str, str]] = set()
    for _ in range(150):
        names = {(service, name) for service, name, _ in collector.trace(trace_id)}
        if required <= names:
            break
        await asyncio.sleep(0.2)
    assert required <= names, sorted(names)
    assert any(
        service == "intake" and name.startswith("POST /v1/requests") for service, name in names
    )
