"""The Alembic step that gives a store written before the hash chain its chain.

Every service's revision `hash chain` calls `add_hash_chain`: the `chain_hash` column, the
`chain_heads` and `chain_checkpoints` tables, and the hash of every existing event computed in
stream order by the reference function (shared/history/chain.py). It says what it did in the
service's log. In one transaction, like every migration here: interrupted, it leaves nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from shared.backbone_tables import chain_checkpoints, chain_heads, events, metadata
from shared.history import chain

log = logging.getLogger("jiph.migrations")
BATCH = 1000


def add_hash_chain(connection: sa.Connection) -> tuple[int, int]:
    """Chain every unchained event; returns (events chained, streams)."""
    connection.exec_driver_sql("ALTER TABLE events ADD COLUMN IF NOT EXISTS chain_hash bytea")
    metadata.create_all(connection, tables=[chain_heads, chain_checkpoints])
    unchained = connection.scalar(
        sa.select(sa.func.count()).select_from(events).where(events.c.chain_hash.is_(None))
    )
    chained = streams = 0
    if unchained:
        # Read everything first (only the hashes are kept), then write.
        hashes = list(_hashes(connection))
        heads: dict[str, tuple[int, bytes]] = {}
        for start in range(0, len(hashes), BATCH):
            batch = hashes[start : start + BATCH]
            connection.execute(
                sa.text(
                    "UPDATE events SET chain_hash = :h WHERE stream_id = :s AND stream_version = :v"
                ),
                [{"s": s, "v": v, "h": h} for s, v, h in batch],
            )
            heads.update((s, (v, h)) for s, v, h in batch)
        chained, streams = len(hashes), len(heads)
        rows = [{"stream_id": s, "version": v, "hash": h} for s, (v, h) in heads.items()]
        for start in range(0, len(rows), BATCH):
            connection.execute(
                insert(chain_heads).values(rows[start : start + BATCH]).on_conflict_do_nothing()
            )
    connection.exec_driver_sql("ALTER TABLE events ALTER COLUMN chain_hash SET NOT NULL")
    log.info(
        "hash chain: chained %d existing events in %d streams; their heads await the first "
        "signed checkpoint (jiph audit verify checks them)",
        chained,
        streams,
    )
    return chained, streams


def _hashes(connection: sa.Connection) -> Iterator[tuple[str, int, bytes]]:
    """Each event's hash, stream by stream in version order, read in pages of BATCH rows."""
    stream: str | None = None
    previous = b""
    after: tuple[str, int] = ("", 0)
    while True:
        page = connection.execute(
            sa.select(events.c.stream_id, events.c.stream_version, events.c.envelope)
            .where(sa.tuple_(events.c.stream_id, events.c.stream_version) > sa.tuple_(*after))
            .order_by(events.c.stream_id, events.c.stream_version)
            .limit(BATCH)
        ).all()
        for stream_id, version, envelope in page:
            if stream_id != stream:
                stream, previous = stream_id, chain.genesis(stream_id)
            previous = chain.link(previous, bytes(envelope))
            yield stream_id, version, previous
        if len(page) < BATCH:
            return
        after = (page[-1].stream_id, page[-1].stream_version)
