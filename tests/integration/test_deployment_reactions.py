"""The deployment service's reaction to a withdrawn request, on a real PostgreSQL: exactly one
cancellation, also when the withdrawal races a plan and when the projection is rebuilt."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.deployment import handlers
from services.deployment.commands import OfferCapability, PlanDeployment
from services.deployment.keystore import Pkcs11KeyStore
from services.deployment.projection import PROJECTION
from services.deployment.tables import (
    deployment_officers,
    deployment_timeline,
    deployments,
    metadata,
    offers,
    officer_bookings,
    requirements,
)
from shared.backbone_tables import (
    PROJECTION_SCHEMA,
    REBUILD_SCHEMA,
    create_projection_schema,
    events,
)
from shared.catalogue.intake import RequestWithdrawn
from shared.catalogue.triage import RequestApproved
from shared.commands import Writer
from shared.consumer import ProjectionApplier
from shared.db import create_engine, migrate
from shared.events import Actor, Envelope, EventData
from shared.eventstore import CommandContext, EventStore
from shared.reference.data import load_reference_data
from tests.support import record_of

pytestmark = pytest.mark.integration
MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "deployment" / "migrations"
CTX = CommandContext(actor=Actor(subject="manager", role="deployment_manager"), correlation_id="t")
TODAY = date.today()


@pytest.fixture
async def engine(fresh_database: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(fresh_database)
    await migrate(engine, MIGRATIONS)
    yield engine
    await engine.dispose()


@pytest.fixture
def deps(engine: AsyncEngine, officer_keys: Pkcs11KeyStore) -> handlers.Deps:
    store = EventStore(producer="deployment")
    applier = ProjectionApplier(engine, PROJECTION, service="deployment", store=store)
    return handlers.Deps(Writer(store, applier), load_reference_data(), officer_keys)


def envelope(data: EventData, stream: str, producer: str) -> Envelope:
    return Envelope.wrap(
        data,
        stream_id=stream,
        stream_version=1,
        producer=producer,
        actor=Actor(subject="test", role="approver"),
        correlation_id="t",
    )


def approval(request_id: uuid.UUID) -> Envelope:
    data = RequestApproved(
        request_id=request_id,
        reference="JIPH-2026-000001",
        country="SO",
        capability="public-order",
        headcount=1,
        classification="OFFICIAL",
        needed_by=TODAY + timedelta(days=60),
        tour_length_months=6,
    )
    return envelope(data, f"case-{request_id}", "triage")


def withdrawal(request_id: uuid.UUID) -> Envelope:
    data = RequestWithdrawn(request_id=request_id, partner_id="un-dpo", reason="Mandate ended.")
    return envelope(data, f"request-{request_id}", "intake")


_offsets = itertools.count()


async def consume(deps: handlers.Deps, env: Envelope) -> None:
    """What the consumer does with one record: apply it in a transaction of its own."""
    await deps.writer.applier.apply_records([record_of(env, next(_offsets))])


async def redeliver(deps: handlers.Deps, env: Envelope) -> None:
    """A delivery that got past the processed-events check: applied again regardless."""
    async with deps.writer.applier.transaction() as conn:
        await deps.writer.applier.apply_one(conn, env)


def an_offer() -> OfferCapability:
    d = TODAY
    return OfferCapability.model_validate(
        {
            "officer": {
                "name": "Jo Smith",
                "rank": "Inspector",
                "gender": "female",
                "contact": {"email": "jo@police.example"},
            },
            "capability": "public-order",
            "vetting_level": "sc",
            "vetting_expires": d + timedelta(days=900),
            "medical_expires": d + timedelta(days=900),
            "training_expires": d + timedelta(days=900),
            "passport_expires": d + timedelta(days=900),
            "available_from": d,
            "available_to": d + timedelta(days=800),
        }
    )


async def plan_with_nominee(
    engine: AsyncEngine, deps: handlers.Deps, request_id: uuid.UUID
) -> uuid.UUID:
    async with engine.begin() as conn:
        offered = await handlers.offer(conn, deps, "met", an_offer(), CTX, TODAY)
        body = PlanDeployment(request_id=request_id, tour_start=TODAY + timedelta(days=14))
        planned = await handlers.plan(conn, deps, body, CTX, TODAY)
        deployment_id = uuid.UUID(planned[0].data["deployment_id"])
        await handlers.nominate(conn, deps, deployment_id, offered[0].data["officer_ref"], CTX)
    return deployment_id


async def cancellations(engine: AsyncEngine, deployment_id: uuid.UUID) -> list[Envelope]:
    async with engine.connect() as conn:
        rows = await conn.scalars(
            sa.select(events.c.envelope).where(
                events.c.stream_id == f"deployment-{deployment_id}",
                events.c.event_type == "DeploymentCancelled",
            )
        )
        return [Envelope.from_bytes(r) for r in rows]


async def bookings(engine: AsyncEngine, deployment_id: uuid.UUID) -> int:
    async with engine.connect() as conn:
        count = await conn.scalar(
            sa.select(sa.func.count()).where(officer_bookings.c.deployment_id == deployment_id)
        )
        return int(count or 0)


async def test_a_withdrawal_cancels_once_even_when_delivered_twice(
    engine: AsyncEngine, deps: handlers.Deps
) -> None:
    request_id = uuid.uuid4()
    await consume(deps, approval(request_id))
    deployment_id = await plan_with_nominee(engine, deps, request_id)
    assert await bookings(engine, deployment_id) == 1

    gone = withdrawal(request_id)
    await consume(deps, gone)
    await redeliver(deps, gone)

    [cancelled] = await cancellations(engine, deployment_id)
    assert cancelled.causation_id == str(gone.event_id) and cancelled.actor.role == "system"
    assert await bookings(engine, deployment_id) == 0
    async with engine.connect() as conn:
        status = await conn.scalar(
            sa.select(deployments.c.status).where(deployments.c.deployment_id == deployment_id)
        )
    assert status == "cancelled"


async def test_a_withdrawal_consumed_while_a_plan_commits_still_cancels_it(
    engine: AsyncEngine, deps: handlers.Deps
) -> None:
    request_id = uuid.uuid4()
    await consume(deps, approval(request_id))
    async with engine.begin() as conn:
        body = PlanDeployment(request_id=request_id, tour_start=TODAY + timedelta(days=14))
        planned = await handlers.plan(conn, deps, body, CTX, TODAY)
        racing = asyncio.create_task(consume(deps, withdrawal(request_id)))
        await asyncio.sleep(0.5)
        assert not racing.done()  # it waits for the request's key, which the plan holds
    await racing
    assert len(await cancellations(engine, uuid.UUID(planned[0].data["deployment_id"]))) == 1


async def _table(engine: AsyncEngine, table: sa.Table, schema: str) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        conn = await conn.execution_options(schema_translate_map={PROJECTION_SCHEMA: schema})
        rows = await conn.execute(sa.select(table).order_by(*table.primary_key.columns))
        return [dict(r._mapping) for r in rows]


async def test_a_rebuild_replays_the_withdrawal_without_cancelling_again_and_comes_out_identical(
    engine: AsyncEngine, deps: handlers.Deps
) -> None:
    request_id = uuid.uuid4()
    history = [approval(request_id)]
    await consume(deps, history[0])
    deployment_id = await plan_with_nominee(engine, deps, request_id)
    history.append(withdrawal(request_id))
    await consume(deps, history[-1])

    async with engine.connect() as conn:
        stored = [
            Envelope.from_bytes(r)
            for r in await conn.scalars(
                sa.select(events.c.envelope).order_by(events.c.occurred_at, events.c.stream_version)
            )
        ]
    async with engine.begin() as conn:
        await conn.run_sync(create_projection_schema, REBUILD_SCHEMA, metadata, generation=2)
    shadow = ProjectionApplier(
        engine,
        PROJECTION,
        service="deployment",
        schema=REBUILD_SCHEMA,
        store=deps.writer.store,
    )
    # Topics interleave: the deployment events first, then the approval and the withdrawal.
    for env in [*stored, *history]:
        async with shadow.transaction() as conn:
            await shadow.apply_one(conn, env)

    assert len(await cancellations(engine, deployment_id)) == 1
    for table in (requirements, offers, deployments, deployment_officers, deployment_timeline):
        live = await _table(engine, table, PROJECTION_SCHEMA)
        rebuilt = await _table(engine, table, REBUILD_SCHEMA)
        assert rebuilt == live, table.name
