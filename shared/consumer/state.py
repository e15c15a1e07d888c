"""The consumer's own bookkeeping, read and written in each batch's transaction: the projection's
generation, the stored offsets, the ids of applied events, the parked keys.

Every batch runs these few statements whatever its size, so they go straight to asyncpg
(`shared.db.driver`): through SQLAlchemy each would cost ~0.2 ms of CPU, more than a small
batch's own work. Table names follow the connection's schema translation (a rebuild writes
into a schema of its own).
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.backbone_tables import (
    consumer_offsets,
    dead_letters,
    parked_events,
    processed_events,
    projection_meta,
    reactions,
)
from shared.consumer.records import Position, Record, decode, position
from shared.db import any_of, driver, qualified

Partition = tuple[str, int]


def projection_lock_id(service: str) -> int:
    """Batches hold it shared; a rebuild's swap holds it exclusively."""
    return zlib.crc32(f"projection:{service}".encode())


async def lock_keys(conn: AsyncConnection, keys: Collection[str]) -> None:
    """One writer per key (a request, an offer) until commit: consumer batches, reactions and
    commands alike. Taken in the order of their lock ids, in one round trip, so two writers
    locking overlapping sets never wait on each other in a cycle."""
    if not keys:
        return
    await (await driver(conn)).execute(
        "SELECT pg_advisory_xact_lock(id) FROM (SELECT DISTINCT hashtextextended('key:' || k, 0)"
        " AS id FROM unnest($1::text[]) AS k ORDER BY id) AS ids",
        list(keys),
    )


async def first_reaction(conn: AsyncConnection, reaction: str, trigger: UUID) -> bool:
    """Record that `reaction` is taken for the event `trigger`; False if it was already. The
    record is on the write side (never rebuilt) and in the reacting transaction."""
    inserted = await (await driver(conn)).fetchval(
        f"INSERT INTO {qualified(conn, reactions)} (reaction, trigger_event_id) VALUES ($1, $2)"
        " ON CONFLICT DO NOTHING RETURNING reaction",
        reaction,
        trigger,
    )
    return inserted is not None


async def lock_and_read_generation(conn: AsyncConnection, shared_lock_id: int | None) -> int:
    """The projection's generation, read after taking the swap lock shared (when given): a
    rebuild's swap holds it exclusively, so a batch never straddles a swap."""
    db = await driver(conn)
    if shared_lock_id is not None:
        await db.execute("SELECT pg_advisory_xact_lock_shared($1)", shared_lock_id)
    generation = await db.fetchval(f"SELECT generation FROM {qualified(conn, projection_meta)}")
    return int(generation or 0)


async def lock_and_read_offsets(
    conn: AsyncConnection, shared_lock_id: int | None
) -> tuple[int, dict[Partition, int]]:
    """`lock_and_read_generation` and `stored_offsets` in two round trips rather than three:
    what every batch starts with. (The lock is a statement of its own: a statement's snapshot
    is taken when it starts, so a read in the statement that waited for the lock could miss
    the swap it waited for.)"""
    db = await driver(conn)
    if shared_lock_id is not None:
        await db.execute("SELECT pg_advisory_xact_lock_shared($1)", shared_lock_id)
    rows = await db.fetch(
        f"SELECT (SELECT generation FROM {qualified(conn, projection_meta)}) AS generation,"
        " o.topic, o.partition, o.next_offset FROM (SELECT 1) AS one"
        f" LEFT JOIN {qualified(conn, consumer_offsets)} AS o ON true"
    )
    offsets = {(r["topic"], r["partition"]): r["next_offset"] for r in rows if r["topic"]}
    return int(rows[0]["generation"] or 0), offsets


async def stored_offsets(conn: AsyncConnection) -> dict[Partition, int]:
    rows = await (await driver(conn)).fetch(
        f"SELECT topic, partition, next_offset FROM {qualified(conn, consumer_offsets)}"
    )
    return {(r["topic"], r["partition"]): r["next_offset"] for r in rows}


async def applied_among(conn: AsyncConnection, event_ids: Collection[UUID]) -> set[UUID]:
    """Which of these events the projection has applied already."""
    if not event_ids:
        return set()
    rows = await (await driver(conn)).fetch(
        f"SELECT event_id FROM {qualified(conn, processed_events)}"
        " WHERE event_id = ANY($1::uuid[])",
        list(event_ids),
    )
    return {r["event_id"] for r in rows}


async def mark_applied(conn: AsyncConnection, event_ids: Collection[UUID]) -> None:
    if event_ids:
        await (await driver(conn)).execute(
            f"INSERT INTO {qualified(conn, processed_events)} (event_id)"
            " SELECT unnest($1::uuid[]) ON CONFLICT DO NOTHING",
            list(event_ids),
        )


async def parked_among(conn: AsyncConnection, keys: Collection[str]) -> set[str]:
    """Which of these keys have a parked dead letter. FOR SHARE: a redrive holding the row FOR
    UPDATE makes us wait, then see it released."""
    if not keys:
        return set()
    rows = await (await driver(conn)).fetch(
        f"SELECT key FROM {qualified(conn, dead_letters)}"
        " WHERE status = 'parked' AND key = ANY($1::text[]) FOR SHARE",
        list(keys),
    )
    return {r["key"] for r in rows}


async def store_offsets(
    conn: AsyncConnection,
    latest: Mapping[Partition, int],
    rewound: Collection[Partition],
    applied: Collection[UUID] = (),
) -> None:
    """Write each partition's next offset. It only moves forward, except on a partition whose
    log was found to be a new one (`rewound`), where it follows that log. The ids of the events
    `applied` are recorded in the same round trip (`mark_applied`)."""
    table = qualified(conn, consumer_offsets)
    db = await driver(conn)
    for follow_new_log in (False, True):
        rows = [(t, p, o) for (t, p), o in latest.items() if ((t, p) in rewound) == follow_new_log]
        if not rows:
            continue
        offset = (
            "excluded.next_offset"
            if follow_new_log
            else "greatest(o.next_offset, excluded.next_offset)"
        )
        marking = (
            f"WITH applied AS (INSERT INTO {qualified(conn, processed_events)} (event_id)"
            " SELECT unnest($4::uuid[]) ON CONFLICT DO NOTHING) "
            if applied
            else ""
        )
        await db.execute(
            f"{marking}INSERT INTO {table} AS o (topic, partition, next_offset)"
            " SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[])"
            f" ON CONFLICT (topic, partition) DO UPDATE SET next_offset = {offset}",
            *_columns(rows),
            *([list(applied)] if applied else []),
        )
        applied = ()
    await mark_applied(conn, applied)  # only when no offset was written


def _columns(rows: Iterable[tuple[str, int, int]]) -> tuple[list[str], list[int], list[int]]:
    topics, partitions, offsets = zip(*rows, strict=True)
    return list(topics), list(partitions), list(offsets)


async def seen_before(conn: AsyncConnection, records: Sequence[Record]) -> set[Position]:
    """Positions of these records whose event this projection has applied, parked or
    dead-lettered already (the same bytes at the same position)."""
    if not records:
        return set()
    # One event can stand at several positions (a producer's retry, a relay's re-send after a
    # crash): every position of an applied event is seen, or a re-read batch holding both
    # copies would look like a new log and move the stored offset back.
    by_id: dict[UUID, list[Position]] = {}
    for r in records:
        env = decode(r).envelope
        if env is not None:
            by_id.setdefault(env.event_id, []).append(position(r))
    applied = await applied_among(conn, list(by_id))
    seen = {at for event_id in applied for at in by_id[event_id]}
    values = {position(r): r.value or b"" for r in records}
    offsets = sorted({r.offset for r in records})
    for table in (parked_events, dead_letters):
        held = await conn.execute(
            sa.select(table.c.topic, table.c.partition, table.c.offset, table.c.value).where(
                any_of(table.c.offset, offsets)
            )
        )
        for topic, partition, offset, value in held:
            if values.get((topic, partition, offset)) == bytes(value):
                seen.add((topic, partition, offset))
    return seen


async def store_next_offsets(
    conn: AsyncConnection,
    records: Sequence[Record],
    rewound: Collection[tuple[str, int]] = (),
    deferred: dict[tuple[str, int], int] | None = None,
    applied: Collection[UUID] = (),
) -> None:
    """Next offset per partition (of these records, and those `deferred`); it only moves
    forward, except on a partition whose log was found to be a new one (`rewound`), where
    it follows that log."""
    latest: dict[tuple[str, int], int] = {
        partition: offset
        for partition, offset in (deferred or {}).items()
        if partition not in rewound
    }
    for r in records:
        latest[(r.topic, r.partition)] = max(latest.get((r.topic, r.partition), 0), r.offset + 1)
    await store_offsets(conn, latest, rewound, applied)
