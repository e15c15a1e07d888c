"""Intake's projection against the real database: the order in which the topics are read does
not change what a partner sees, and a repeated submission changes nothing."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.rebuild_rate import reporting_events
from services.intake.projection import PROJECTION
from services.intake.queries import get_request
from shared.backbone_tables import PROJECTION_SCHEMA, create_projection_schema
from shared.events import Envelope

pytestmark = pytest.mark.integration


async def project(engine: AsyncEngine, schema: str, envelopes: list[Envelope]) -> dict[str, Any]:
    """Apply the events one transaction each into `schema`; the partner's view afterwards."""
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: create_projection_schema(c, schema, PROJECTION.metadata))
    for env in envelopes:
        async with engine.begin() as conn:
            translated = await conn.execution_options(
                schema_translate_map={PROJECTION_SCHEMA: schema}
            )
            await PROJECTION.apply(translated, env)
    submitted = envelopes[0] if envelopes[0].event_type == "RequestSubmitted" else envelopes[-1]
    async with engine.connect() as conn:
        translated = await conn.execution_options(schema_translate_map={PROJECTION_SCHEMA: schema})
        view = await get_request(
            translated, submitted.data["partner_id"], UUID(submitted.data["request_id"])
        )
    assert view is not None
    return view


async def test_the_partners_view_does_not_depend_on_the_order_topics_are_read(
    backbone_engine: AsyncEngine,
) -> None:
    submitted, triaged, assessed = reporting_events(3)
    in_order = await project(backbone_engine, "in_order", [submitted, triaged, assessed])
    triage_first = await project(backbone_engine, "triage_first", [triaged, assessed, submitted])
    assert in_order["status"] != "submitted"  # triage's events moved it on
    assert triage_first["status"] == in_order["status"]
    assert [e["event"] for e in in_order["timeline"]] == [
        "RequestSubmitted",
        "RequestTriaged",
        "RequestAssessed",
    ]
    assert triage_first["timeline"] == in_order["timeline"]


async def test_a_repeated_submission_changes_nothing(backbone_engine: AsyncEngine) -> None:
    submitted, _, _ = reporting_events(3)
    once = await project(backbone_engine, "once", [submitted])
    twice = await project(backbone_engine, "twice", [submitted, submitted])
    assert once["status"] == twice["status"] == "submitted"
    assert len(twice["timeline"]) == 1
    assert twice["timeline"] == once["timeline"]
    assert twice["timeline"][0]["at"].endswith("+00:00")  # rendered in UTC by the server
