"""The event store on the real PostgreSQL: optimistic concurrency, load, idempotency keys."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import idempotency
from shared.backbone_tables import events, outbox
from shared.eventstore import ConcurrencyConflict, EventStore
from tests.support import CONTEXT, ThingHappened

pytestmark = pytest.mark.integration


async def test_thousand_racing_appends_at_one_version_exactly_one_wins(
    backbone_engine: AsyncEngine,
) -> None:
    store = EventStore(producer="test", topic_override="test.topic")
    async with backbone_engine.begin() as conn:
        await store.append(
            conn,
            "thing-1",
            [ThingHappened(thing_id="thing-1", n=1)],
            expected_version=0,
            context=CONTEXT,
        )

    async def attempt(i: int) -> bool:
        try:
            async with backbone_engine.begin() as conn:
                await store.append(
                    conn,
                    "thing-1",
                    [ThingHappened(thing_id="thing-1", n=100 + i)],
                    expected_version=1,
                    context=CONTEXT,
                )
            return True
        except ConcurrencyConflict:
            return False

    outcomes = await asyncio.gather(*(attempt(i) for i in range(1000)))
    assert outcomes.count(True) == 1
    assert outcomes.count(False) == 999
    async with backbone_engine.connect() as conn:
        loaded = await store.load(conn, "thing-1")
        queued = await conn.scalar(sa.select(sa.func.count()).select_from(outbox))
    assert [e.stream_version for e in loaded] == [1, 2]
    assert queued == 2  # nothing of the losers reached the outbox


async def test_append_at_a_stale_or_future_version_is_a_conflict(
    backbone_engine: AsyncEngine,
) -> None:
    store = EventStore(producer="test", topic_override="test.topic")
    async with backbone_engine.begin() as conn:
        await store.append(
            conn, "s", [ThingHappened(thing_id="s", n=1)], expected_version=0, context=CONTEXT
        )
    for wrong in (0, 2, 5):
        with pytest.raises(ConcurrencyConflict) as err:
            async with backbone_engine.begin() as conn:
                await store.append(
                    conn,
                    "s",
                    [ThingHappened(thing_id="s", n=9)],
                    expected_version=wrong,
                    context=CONTEXT,
                )
        assert err.value.actual_version == 1


async def test_load_returns_envelopes_in_stream_order_with_full_metadata(
    backbone_engine: AsyncEngine,
) -> None:
    store = EventStore(producer="intake", topic_override="test.topic")
    async with backbone_engine.begin() as conn:
        await store.append(
            conn,
            "s",
            [ThingHappened(thing_id="s", n=i) for i in range(1, 4)],
            expected_version=0,
            context=CONTEXT,
        )
    async with backbone_engine.connect() as conn:
        loaded = await store.load(conn, "s")
        types = (await conn.execute(sa.select(events.c.event_type))).scalars().all()
    assert [e.data["n"] for e in loaded] == [1, 2, 3]
    assert [e.stream_version for e in loaded] == [1, 2, 3]
    assert {e.producer for e in loaded} == {"intake"}
    assert loaded[0].actor.subject == "tester"
    assert loaded[0].event_id.version == 7
    assert loaded[0].event_id < loaded[1].event_id  # UUIDv7: time-ordered
    assert set(types) == {"TestThingHappened"}


async def test_idempotency_key_replays_first_response_and_refuses_other_body(
    backbone_engine: AsyncEngine,
) -> None:
    first = idempotency.StoredResponse(201, b'{"id": 1}', {"location": "/x/1"}, "")
    body_hash = idempotency.request_hash({"a": 1})
    async with backbone_engine.begin() as conn:
        assert await idempotency.lock_and_find(conn, "partner-a", "key-1", body_hash) is None
        await idempotency.remember(conn, "partner-a", "key-1", body_hash, first)
    async with backbone_engine.begin() as conn:
        again = await idempotency.lock_and_find(conn, "partner-a", "key-1", body_hash)
    assert again is not None and again.body == first.body and again.status_code == 201
    with pytest.raises(idempotency.IdempotencyKeyReused):
        async with backbone_engine.begin() as conn:
            await idempotency.lock_and_find(
                conn, "partner-a", "key-1", idempotency.request_hash({"a": 2})
            )
    async with backbone_engine.begin() as conn:  # keys are scoped per caller
        assert await idempotency.lock_and_find(conn, "partner-b", "key-1", body_hash) is None
