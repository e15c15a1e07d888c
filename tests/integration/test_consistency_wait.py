"""Reads that wait for a consistency token: answered when the event is applied, by this
process's consumer or any other writer, with one query per interval for all waiting reads."""

from __future__ import annotations

import asyncio
import uuid
from uuid import UUID

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.consistency import AppliedWatcher
from shared.consumer.state import mark_applied

pytestmark = pytest.mark.integration


async def apply_elsewhere(engine: AsyncEngine, event_id: UUID, after_s: float) -> None:
    """Another process of the service applies the event."""
    await asyncio.sleep(after_s)
    async with engine.begin() as conn:
        await mark_applied(conn, [event_id])


async def test_a_read_waits_until_another_process_applies_the_event(
    backbone_engine: AsyncEngine,
) -> None:
    watcher = AppliedWatcher(backbone_engine, interval_s=0.02)
    event_id = uuid.uuid4()
    writer = asyncio.create_task(apply_elsewhere(backbone_engine, event_id, 0.2))
    assert await watcher.wait(event_id, timeout_s=5.0)
    assert writer.done()  # it did wait for the write


async def test_this_processs_consumer_answers_a_waiting_read_at_once(
    backbone_engine: AsyncEngine,
) -> None:
    watcher = AppliedWatcher(backbone_engine, interval_s=60.0)  # the poll would come too late
    event_id = uuid.uuid4()
    waiting = asyncio.create_task(watcher.wait(event_id, timeout_s=5.0))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    watcher.applied([event_id])
    assert await asyncio.wait_for(waiting, 1.0)


async def test_a_read_gives_up_when_the_event_never_comes(backbone_engine: AsyncEngine) -> None:
    watcher = AppliedWatcher(backbone_engine, interval_s=0.02)
    assert not await watcher.wait(uuid.uuid4(), timeout_s=0.2)
    await asyncio.sleep(0.05)
    assert watcher._poller is None  # nobody waits: no polling either


async def test_many_waiting_reads_share_one_query_per_interval(
    backbone_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    watcher = AppliedWatcher(backbone_engine, interval_s=0.05)
    queries: list[int] = []
    ask = watcher._applied_among

    async def counted(event_ids: list[UUID]) -> set[UUID]:
        queries.append(len(event_ids))
        return await ask(event_ids)

    monkeypatch.setattr(watcher, "_applied_among", counted)
    ids = [uuid.uuid4() for _ in range(50)]
    reads = [asyncio.create_task(watcher.wait(i, timeout_s=5.0)) for i in ids]
    await asyncio.sleep(0.3)
    async with backbone_engine.begin() as conn:
        await mark_applied(conn, ids)
    assert all(await asyncio.gather(*reads))
    assert 1 <= len(queries) <= 15  # ~0.3 s / 0.05 s, not 50 reads x 6 intervals
    assert max(queries) == 50  # a poll asked about all the waiting reads at once


async def test_an_event_applied_here_lately_needs_no_query(
    backbone_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    watcher = AppliedWatcher(backbone_engine)
    event_id = uuid.uuid4()
    watcher.applied([event_id])

    async def no_query(event_ids: list[UUID]) -> set[UUID]:
        raise AssertionError("queried")

    monkeypatch.setattr(watcher, "_applied_among", no_query)
    assert await watcher.wait(event_id, timeout_s=1.0)
