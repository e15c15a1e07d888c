"""Whatever the write side can commit, every read side can apply: events generated from the
catalogue's own JSON schemas (hypothesis-jsonschema), in stories of one request each, applied
through the real consumer path to each service's projection on the real PostgreSQL. Not one may
be dead-lettered for its content: a dead letter parks every later event of the request.

Strings come from all of Unicode, NUL included: the text rule refuses it at every boundary now,
but an event committed before may hold one, and projections must still apply it (the consumer
stands U+FFFD in for it; the log keeps the original bytes)."""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from sqlalchemy.ext.asyncio import AsyncEngine

import shared.catalogue  # noqa: F401  (registers every event type)
from jiph.stack.postgres import PostgresTarget
from services.deployment.main import DEFINITION as DEPLOYMENT
from services.intake.main import DEFINITION as INTAKE
from services.reporting.main import DEFINITION as REPORTING
from services.triage.main import DEFINITION as TRIAGE
from shared.backbone_tables import dead_letters
from shared.consumer import ProjectionApplier
from shared.db import create_engine, migrate
from shared.events import REGISTRY, Actor, Envelope, EventData
from shared.eventstore import EventStore
from shared.service import ServiceDefinition
from shared.topics import EVENT_TOPICS
from tests.support import record_of

pytestmark = pytest.mark.integration
SERVICES = (INTAKE, TRIAGE, DEPLOYMENT, REPORTING)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
GENERATED: Counter[str] = Counter()
_offsets = itertools.count()
_references = itertools.count(1)
# Every string from the whole of Unicode (NUL and other controls among them), as the schemas
# allow; formats the generator does not know come from hypothesis itself.
FORMATS = {"uuid": st.uuids().map(str), "email": st.emails()}


def _strategy(model: type[EventData]) -> st.SearchStrategy[dict[str, Any]]:
    schema = model.model_json_schema()
    return from_schema(schema, custom_formats=FORMATS)  # type: ignore[no-any-return]


#: The gateway's event types (not the ones tests register for themselves).
TYPES = tuple(t for t in REGISTRY.event_types() if REGISTRY.topic_of(t) in EVENT_TOPICS)
STRATEGIES = {t: _strategy(REGISTRY.model(t)) for t in TYPES}
REQUEST_TYPES = REGISTRY.event_types(with_field="request_id")


def envelope(event_type: str, data: dict[str, Any], key: str, version: int) -> Envelope:
    model = REGISTRY.model(event_type)
    return Envelope(
        event_id=uuid.uuid4(),
        event_type=event_type,
        schema_version=model.schema_version,
        stream_id=f"story-{key}",
        stream_version=version,
        occurred_at=datetime(2026, 12, 1, tzinfo=UTC).replace(microsecond=version),
        producer="property-test",
        actor=Actor(subject="tester", role="system"),
        correlation_id="property",
        key=key,
        data=data,
    )


@st.composite
def stories(draw: st.DrawFn, featuring: str | None = None) -> list[Envelope]:
    """One request's events: its submission, then events of any type about it (and now and
    then an event about something else: an offer, a partner); `featuring` three times."""
    request_id = str(uuid.uuid4())
    deployment_id = str(uuid.uuid4())
    others = draw(st.lists(st.sampled_from(TYPES), min_size=1, max_size=6))
    types = ["RequestSubmitted", *([featuring] * 3 if featuring else []), *others]
    story = []
    for version, event_type in enumerate(types, start=1):
        data = draw(STRATEGIES[event_type])
        key = request_id
        if event_type in REQUEST_TYPES:
            data["request_id"] = request_id
            if "deployment_id" in data:
                data["deployment_id"] = deployment_id
        else:  # keyed by what it is about
            key = str(data.get("offer_id") or data.get("partner_id") or uuid.uuid4())
        if event_type == "RequestSubmitted":  # unique by the write side's sequence
            data["reference"] = f"JIPH-2026-{next(_references):06d}"
        # The event as the write side would have produced it: the model's own JSON.
        data = REGISTRY.model(event_type).model_validate(data).model_dump(mode="json")
        GENERATED[event_type] += 1
        story.append(envelope(event_type, data, key, version))
    return story


@pytest.fixture(scope="module")
async def appliers(infra: PostgresTarget) -> AsyncIterator[dict[str, ProjectionApplier]]:
    """Each service's projection (reactions included), migrated on a database of its own."""
    names = {d.name: f"t_prop_{d.name}_{uuid.uuid4().hex[:8]}" for d in SERVICES}
    admin = await asyncpg.connect(infra.admin_url)
    try:
        for name in names.values():
            await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    base = infra.admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    engines: list[AsyncEngine] = []
    built = {}
    for definition in SERVICES:
        engine = create_engine(f"{base}/{names[definition.name]}")
        engines.append(engine)
        await migrate(engine, definition.migrations)
        built[definition.name] = _applier(engine, definition)
    yield built
    for engine in engines:
        await engine.dispose()
    admin = await asyncpg.connect(infra.admin_url)
    try:
        for name in names.values():
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "generated-events.json").write_text(json.dumps(dict(GENERATED), indent=2))


def _applier(engine: AsyncEngine, definition: ServiceDefinition) -> ProjectionApplier:
    assert definition.projection is not None
    return ProjectionApplier(
        engine,
        definition.projection,
        service=definition.name,
        max_retries=1,
        retry_backoff_s=0,
        store=EventStore(producer=definition.name),
    )


async def _dead_letters(applier: ProjectionApplier) -> list[str]:
    async with applier.engine.connect() as conn:
        rows = await conn.execute(sa.select(dead_letters.c.event_type, dead_letters.c.error))
        return [f"{t}: {e}" for t, e in rows]


def _examples(n: int) -> settings:
    # No shrinking: a shrink of schema-generated data takes many minutes, and the dead letter
    # says what failed and why.
    return settings(
        max_examples=n,
        deadline=None,
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


async def _apply_everywhere(appliers: dict[str, ProjectionApplier], story: list[Envelope]) -> None:
    # The services side by side, as they run (each on its own database): one's round trips to
    # PostgreSQL overlap another's work. Each still sees the story in order.
    await asyncio.gather(
        *(_apply(service, applier, story) for service, applier in appliers.items())
    )


async def _apply(service: str, applier: ProjectionApplier, story: list[Envelope]) -> None:
    for env in story:  # one batch per event, as a quiet consumer sees them
        await applier.apply_records([record_of(env, next(_offsets))])
    assert await _dead_letters(applier) == [], service


@pytest.mark.parametrize("event_type", TYPES)
@_examples(8)
@given(data=st.data())
async def test_every_read_side_applies_every_event_of_every_type(
    appliers: dict[str, ProjectionApplier], event_type: str, data: st.DataObject
) -> None:
    await _apply_everywhere(appliers, data.draw(stories(featuring=event_type)))


@_examples(30)
@given(story=stories())
async def test_every_read_side_applies_stories_of_any_events(
    appliers: dict[str, ProjectionApplier], story: list[Envelope]
) -> None:
    await _apply_everywhere(appliers, story)


async def test_the_generator_covered_every_event_type(
    appliers: dict[str, ProjectionApplier],
) -> None:
    # Runs after the property tests of this module: every type was generated and applied.
    missing = set(TYPES) - set(GENERATED)
    assert not missing, f"never generated: {sorted(missing)}"
