"""Helpers for the deployment service's end-to-end tests (no tests here).

Triage and intake are driven by publishing their events directly, as those services would, so
these tests depend on the deployment service alone.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from jiph.stack.config import StackConfig
from jiph.stack.postgres import PostgresTarget
from shared.catalogue.intake import RequestWithdrawn
from shared.catalogue.triage import RequestApproved, RequestPutOnHold
from shared.events import Actor, Envelope, EventData
from shared.topics import DEPLOYMENT_EVENTS, INTAKE_EVENTS, PARTITIONS, TRIAGE_EVENTS
from tests.running_services import TokenFactory, bearer

T = TypeVar("T")
TODAY = date.today()


def days(n: int) -> str:
    return (TODAY + timedelta(days=n)).isoformat()


# --- the other services' events ----------------------------------------------------------------
async def publish(
    bootstrap: str,
    topic: str,
    data: EventData,
    *,
    stream_id: str,
    version: int,
    producer: str,
    role: str,
) -> Envelope:
    env = Envelope.wrap(
        data,
        stream_id=stream_id,
        stream_version=version,
        producer=producer,
        actor=Actor(subject="test", role=role),
        correlation_id="t",
    )
    kafka = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await kafka.start()
    try:
        await kafka.send_and_wait(
            topic, env.to_bytes(), key=env.key.encode(), headers=env.kafka_headers()
        )
    finally:
        await kafka.stop()
    return env


async def publish_approved(bootstrap: str, request_id: uuid.UUID, **overrides: Any) -> Envelope:
    fields: dict[str, Any] = {
        "request_id": request_id,
        "reference": f"JIPH-2026-{uuid.uuid4().int % 10**6:06d}",
        "country": "SO",
        "capability": "public-order",
        "headcount": 2,
        "classification": "OFFICIAL",
        "needed_by": days(60),
        "tour_length_months": 6,
    }
    fields.update(overrides)
    return await publish(
        bootstrap,
        TRIAGE_EVENTS,
        RequestApproved(**fields),
        stream_id=f"case-{request_id}",
        version=1,
        producer="triage",
        role="approver",
    )


async def publish_on_hold(bootstrap: str, request_id: uuid.UUID) -> Envelope:
    return await publish(
        bootstrap,
        TRIAGE_EVENTS,
        RequestPutOnHold(request_id=request_id, reason="awaiting funding"),
        stream_id=f"case-{request_id}",
        version=2,
        producer="triage",
        role="approver",
    )


async def publish_withdrawn(bootstrap: str, request_id: uuid.UUID) -> Envelope:
    data = RequestWithdrawn(
        request_id=request_id, partner_id="un-dpo", reason="The mission's mandate was not renewed."
    )
    return await publish(
        bootstrap,
        INTAKE_EVENTS,
        data,
        stream_id=f"request-{request_id}",
        version=2,
        producer="intake",
        role="partner",
    )


# --- HTTP --------------------------------------------------------------------------------------
class Api:
    """The deployment service, called as the roles the tests need."""

    def __init__(self, client: httpx.AsyncClient, token: TokenFactory) -> None:
        self.client = client
        self.token = token
        self.manager = bearer(token("deployment_manager", sub="manager-1", clearance="sc"))
        self.admin = bearer(token("admin", sub="admin-1"))

    def liaison(self, force: str) -> dict[str, str]:
        return bearer(self.token("force_liaison", force=force, sub=f"liaison-{force}"))

    async def offer(self, force: str, **overrides: Any) -> dict[str, Any]:
        response = await self.client.post(
            "/v1/offers", json=an_offer(**overrides), headers=self.liaison(force)
        )
        assert response.status_code == 201, response.text
        return dict(response.json()["offer"])

    async def requirement(self, bootstrap: str, **overrides: Any) -> uuid.UUID:
        """A request approved by triage, once this service has consumed the approval."""
        request_id = uuid.uuid4()
        await publish_approved(bootstrap, request_id, **overrides)

        async def visible() -> bool:
            r = await self.client.get(f"/v1/requirements/{request_id}", headers=self.manager)
            return r.status_code == 200

        await wait_until(visible, "the approval was not consumed")
        return request_id

    async def plan(self, request_id: uuid.UUID, **body: Any) -> dict[str, Any]:
        response = await self.client.post(
            "/v1/deployments",
            headers=self.manager,
            json={"request_id": str(request_id), "tour_start": days(14), **body},
        )
        assert response.status_code == 201, response.text
        return dict(response.json()["deployment"])

    async def post(
        self,
        path: str,
        headers: dict[str, str] | None = None,
        *,
        today: str | None = None,
        **body: Any,
    ) -> httpx.Response:
        """POST as the manager (or `headers`); `today` is the day the command is recorded on
        (the development clock): a tour is played in seconds."""
        sent = dict(headers or self.manager)
        if today is not None:
            sent["X-Jiph-Today"] = today
        return await self.client.post(path, json=body or None, headers=sent)

    async def deployment(self, deployment_id: str) -> dict[str, Any]:
        response = await self.client.get(f"/v1/deployments/{deployment_id}", headers=self.manager)
        assert response.status_code == 200, response.text
        return dict(response.json())


def an_offer(**overrides: Any) -> dict[str, Any]:
    officer = {
        "name": "Jo Smith",
        "rank": "Inspector",
        "gender": "female",
        "contact": {"email": "jo.smith@police.example", "phone": "+44 20 7946 0000"},
        "languages": ["English", "French"],
        "skills": ["public order command"],
        "next_of_kin": {"name": "Alex Smith", "relationship": "spouse", "phone": "+44 7700 900123"},
    }
    officer.update(overrides.pop("officer", {}))
    body = {
        "officer": officer,
        "capability": "public-order",
        "vetting_level": "sc",
        "vetting_expires": days(1500),
        "medical_expires": days(1400),
        "training_expires": days(1300),
        "passport_expires": days(2000),
        "available_from": days(0),
        "available_to": days(1100),
    }
    body.update(overrides)
    return body


async def wait_until(
    check: Callable[[], Awaitable[bool]], message: str, timeout_s: float = 30
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, message
        await asyncio.sleep(0.2)


# --- where the data could be -------------------------------------------------------------------
def deployment_database_url(infra: PostgresTarget) -> str:
    """The deployment service's database, as the administrator (for pg_dump)."""
    default = infra.admin_url.rsplit("/", 1)[0] + "/jiph_deployment"
    return os.environ.get("JIPH_E2E_DEPLOYMENT_DB", default)


def deployment_log(test_stack: StackConfig) -> Path:
    return Path(os.environ.get("JIPH_E2E_DEPLOYMENT_LOG", test_stack.log_dir / "deployment.log"))


async def published(bootstrap: str, key: str, expect: int, timeout_s: float = 30) -> list[Envelope]:
    """The events of `key` on the deployment topic, once at least `expect` have been published
    (the outbox relay publishes shortly after each commit)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        records = await read_all(bootstrap, [DEPLOYMENT_EVENTS])
        found = [e for e in (Envelope.from_bytes(r.value) for r in records) if e.key == key]
        if len(found) >= expect or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.3)


async def read_all(bootstrap: str, topics: list[str]) -> list[Any]:
    """Every record of `topics` from the beginning up to their current ends."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        # The project creates every topic with PARTITIONS partitions.
        partitions = [TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        records: list[Any] = []
        deadline = asyncio.get_running_loop().time() + 120
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            assert asyncio.get_running_loop().time() < deadline, "topics not read to their end"
            for batch in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()
