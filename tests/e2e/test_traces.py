"""One trace runs from a partner's POST through intake's relay, triage's consumer and its
decision, to the reporting projection (spans exported by the services to the tests' collector)."""

from __future__ import annotations

import asyncio
import secrets
import uuid

import httpx
import pytest

from tests.e2e.collector import Collector
from tests.e2e.conftest import TokenFactory, bearer
from tests.e2e.test_intake_api import a_request

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

    wanted = {"intake", "triage", "reporting"}
    spans: list[tuple[str, str, str]] = []
    for _ in range(150):
        spans = collector.trace(trace_id)
        if wanted <= {service for service, _, _ in spans} and any(
            service == "triage" and "RequestTriaged" in name for service, name, _ in spans
        ):
            break
        await asyncio.sleep(0.2)
    names = {(service, name) for service, name, _ in spans}
    assert wanted <= {service for service, _ in names}, names
    assert ("intake", "publish RequestSubmitted") in names  # the relay
    assert ("triage", "apply RequestSubmitted") in names  # triage's consumer
    assert ("triage", "publish RequestTriaged") in names  # its decision, published
    assert ("reporting", "apply RequestSubmitted") in names  # the reporting projection
    assert any(
        service == "intake" and name.startswith("POST /v1/requests") for service, name in names
    )
