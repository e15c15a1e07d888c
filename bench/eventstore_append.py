"""Event-store append: JIPH's EventStore against the `eventsourcing` library's PostgreSQL
application recorder, on the same server and database, in the same run.

Both write the same events (about 600 bytes of JSON each), each append in its own transaction,
1 and 10 events per append, 1 and 16 concurrent writers. Ours also writes the outbox row of every
event (it is part of an append here). Prints appends/s, events/s, p50/p99 latency and the ratio.
The tables are the backbone's as a service's migrations leave them: no trigger on the outbox
(until issue 20 one NOTIFYed inside every append, and PostgreSQL serialised the commits of
transactions that notified). The relay is woken after the commit (shared/outbox.py), outside
the transaction measured here.

The cost of the hash chain (issue 19) is measured beside it: the same EventStore running the
append statement as it was before the chain (no hash, no stream head), in the same run.

usage: python bench/eventstore_append.py ADMIN_URL [--appends N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar

import asyncpg
import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bench.targets import target
from shared import eventstore
from shared.backbone_tables import create_backbone_tables
from shared.db import create_engine
from shared.events import Actor, EventData
from shared.eventstore import CommandContext, EventStore

CONTEXT = CommandContext(actor=Actor(subject="bench", role="partner"), correlation_id="bench")
DESCRIPTION = "Two advisers to mentor the national police public order unit. " * 6


class BenchEvent(EventData):
    event_type: ClassVar[str] = "BenchEventHappened"
    topic: ClassVar[str] = "bench.events"
    request_id: str
    n: int
    description: str


@dataclass
class Result:
    appends: int
    events: int
    seconds: float
    latencies: list[float]

    @property
    def appends_per_s(self) -> float:
        return self.appends / self.seconds

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds

    def pct(self, q: float) -> float:
        return statistics.quantiles(self.latencies, n=100)[int(q) - 1] * 1000


async def fresh_database(admin_url: str, name: str) -> str:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


#: The append statement before the hash chain: the baseline of the chain's cost.
UNCHAINED_APPEND = """
    WITH current AS (
        SELECT coalesce(max(stream_version), 0) AS version FROM events WHERE stream_id = $1
    ), new AS (
        SELECT * FROM unnest(
            $3::int[], $4::uuid[], $5::text[], $6::int[], $7::timestamptz[], $8::bytea[],
            $9::text[], $10::text[], $11::text[]
        ) AS t(version, id, type, schema, at, value, topic, key, headers)
    ), stored AS (
        INSERT INTO events
            (stream_id, stream_version, event_id, event_type, schema_version, occurred_at, envelope)
        SELECT $1, new.version, new.id, new.type, new.schema, new.at, new.value
        FROM new, current
        WHERE current.version = $2
        RETURNING stream_version
    )
    INSERT INTO outbox (topic, key, value, headers)
    SELECT new.topic, new.key, new.value, new.headers::jsonb
    FROM new JOIN stored ON stored.stream_version = new.version
    ORDER BY new.version
    RETURNING position
"""


async def bench_ours(
    url: str, per_append: int, concurrency: int, appends: int, *, chained: bool = True
) -> Result:
    engine = create_engine(
        url.replace("postgresql://", "postgresql+asyncpg://", 1), pool_size=concurrency
    )
    async with engine.begin() as conn:
        await conn.run_sync(create_backbone_tables)
        # What the product's append does: nothing on the outbox fires inside the transaction.
        triggers = await conn.scalar(
            sa.text(
                "SELECT count(*) FROM pg_trigger"
                " WHERE tgrelid = 'outbox'::regclass AND NOT tgisinternal"
            )
        )
        assert triggers == 0, "the outbox has a trigger: the bench would not measure the product"
        if not chained:
            await conn.exec_driver_sql("ALTER TABLE events ALTER COLUMN chain_hash DROP NOT NULL")
    chained_sql = eventstore._APPEND
    if not chained:
        eventstore._APPEND = UNCHAINED_APPEND
    try:
        return await _run_ours(engine, per_append, concurrency, appends)
    finally:
        eventstore._APPEND = chained_sql
        await engine.dispose()


async def _run_ours(engine: Any, per_append: int, concurrency: int, appends: int) -> Result:
    store = EventStore(producer="bench", topic_override="bench.events")
    latencies: list[float] = []
    queue = list(range(appends))

    async def writer() -> None:
        while queue:
            queue.pop()
            stream = str(uuid.uuid4())
            events = [
                BenchEvent(request_id=stream, n=i, description=DESCRIPTION)
                for i in range(per_append)
            ]
            started = time.perf_counter()
            async with engine.begin() as conn:
                await store.append(conn, stream, events, expected_version=0, context=CONTEXT)
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(writer() for _ in range(min(concurrency, 4))))  # warm the pool
    latencies.clear()
    queue.extend(range(appends))
    started = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return Result(appends, appends * per_append, elapsed, latencies)


def bench_eventsourcing(url: str, per_append: int, concurrency: int, appends: int) -> Result:
    from eventsourcing.persistence import StoredEvent
    from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

    u = make_url(url)
    datastore = PostgresDatastore(
        dbname=u.database or "",
        host=u.host or "127.0.0.1",
        port=u.port or 5432,
        user=u.username or "",
        password=u.password or "",
        pool_size=concurrency,
    )
    recorder = PostgresApplicationRecorder(datastore)
    recorder.create_table()
    latencies: list[float] = []
    state = BenchEvent(request_id="x", n=0, description=DESCRIPTION).model_dump_json().encode()

    def append_one(_: int) -> None:
        stream = uuid.uuid4()
        events = [
            StoredEvent(
                originator_id=stream,
                originator_version=i + 1,
                topic="bench:BenchEventHappened",
                state=state,
            )
            for i in range(per_append)
        ]
        started = time.perf_counter()
        recorder.insert_events(events)
        latencies.append(time.perf_counter() - started)

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(append_one, range(min(concurrency, 4))))
        latencies.clear()
        started = time.perf_counter()
        list(pool.map(append_one, range(appends)))
        elapsed = time.perf_counter() - started
    datastore.close()
    return Result(appends, appends * per_append, elapsed, latencies)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("admin_url")
    parser.add_argument("--appends", type=int, default=1500)
    args = parser.parse_args()
    print(
        f"{'events/append':>13} {'writers':>7} | {'jiph ev/s':>10} {'p50 ms':>7} {'p99 ms':>7} | "
        f"{'unchained ev/s':>14} {'p99 ms':>7} {'chain':>6} | "
        f"{'eventsourcing ev/s':>18} {'p50 ms':>7} {'p99 ms':>7} | {'ratio':>6}"
    )
    print(f"eventsourcing on psycopg's {psycopg.pq.__impl__} implementation")
    for per_append in (1, 10):
        for concurrency in (1, 16):
            appends = args.appends if per_append == 1 else args.appends // 3
            ours_url = await fresh_database(args.admin_url, "jiph_bench_ours")
            ours = await bench_ours(ours_url, per_append, concurrency, appends)
            bare_url = await fresh_database(args.admin_url, "jiph_bench_unchained")
            bare = await bench_ours(bare_url, per_append, concurrency, appends, chained=False)
            theirs_url = await fresh_database(args.admin_url, "jiph_bench_es")
            theirs = await asyncio.to_thread(
                bench_eventsourcing, theirs_url, per_append, concurrency, appends
            )
            ratio = ours.events_per_s / theirs.events_per_s
            print(
                f"{per_append:>13} {concurrency:>7} | {ours.events_per_s:>10,.0f} "
                f"{ours.pct(50):>7.2f} {ours.pct(99):>7.2f} | {bare.events_per_s:>14,.0f} "
                f"{bare.pct(99):>7.2f} {ours.events_per_s / bare.events_per_s:>5.2f}x | "
                f"{theirs.events_per_s:>18,.0f} "
                f"{theirs.pct(50):>7.2f} {theirs.pct(99):>7.2f} | {ratio:>5.2f}x",
                flush=True,
            )
            label = (
                f"append, {concurrency} writer(s) x {per_append} event(s): ahead of "
                "eventsourcing, p99 no worse"
            )
            figure = f"{ratio:.2f}x, p99 {ours.pct(99):.1f} vs {theirs.pct(99):.1f} ms"
            print(target(label, figure, ratio >= 1.0 and ours.pct(99) <= theirs.pct(99)))


if __name__ == "__main__":
    asyncio.run(main())
