"""Tables every service database holds for the backbone: event store, outbox, idempotency keys,
reactions taken (write side, schema `public`); consumer offsets, processed event ids, dead
letters and the events parked behind them, the inbox of other services' events (projection side,
schema `projection`).

Each service's first Alembic revision creates them (`create_backbone_tables`); the service's own
projection tables live in its `tables.py`.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import BYTEA, JSONB, UUID

metadata = sa.MetaData()

events = sa.Table(
    "events",
    metadata,
    # (stream_id, stream_version) is the optimistic-concurrency guard: a second writer at the
    # same expected version hits the primary key and gets a conflict.
    sa.Column("stream_id", sa.Text, primary_key=True),
    sa.Column("stream_version", sa.Integer, primary_key=True),
    sa.Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("schema_version", sa.Integer, nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("envelope", BYTEA, nullable=False),
    #: sha256(previous event's chain_hash || envelope): see shared/history/chain.py.
    sa.Column("chain_hash", BYTEA, nullable=False),
)

#: Each stream's latest version and hash, and the version the last signed checkpoint covered:
#: what the next checkpoint must sign (shared/history/checkpointer.py).
chain_heads = sa.Table(
    "chain_heads",
    metadata,
    sa.Column("stream_id", sa.Text, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("hash", BYTEA, nullable=False),
    sa.Column("checkpointed_version", sa.Integer, nullable=False, server_default="0"),
)

#: The signed checkpoints this service published (the copy on Kafka is the witness; this one
#: gives the next checkpoint its number and the digest it links to).
chain_checkpoints = sa.Table(
    "chain_checkpoints",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True),
    sa.Column("digest", BYTEA, nullable=False),
    sa.Column("record", BYTEA, nullable=False),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    ),
)

outbox = sa.Table(
    "outbox",
    metadata,
    # Rows are deleted once published, so the relay never tracks a high-water mark that a late
    # committing transaction could slip beneath (see shared/outbox.py).
    sa.Column("position", sa.BigInteger, sa.Identity(always=True), primary_key=True),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("value", BYTEA, nullable=False),
    sa.Column("headers", JSONB, nullable=False),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    ),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("scope", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("request_hash", sa.Text, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=False),
    sa.Column("body", BYTEA, nullable=False),
    sa.Column("headers", JSONB, nullable=False),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    ),
)

#: Events of other services this service has reacted to, by reaction: each reaction runs once per
#: triggering event, whichever consumer (live, a rebuild, a second instance) meets it first.
reactions = sa.Table(
    "reactions",
    metadata,
    sa.Column("reaction", sa.Text, primary_key=True),
    sa.Column("trigger_event_id", UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "reacted_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    ),
)

#: The projection side lives in its own PostgreSQL schema, so that a rebuild can fill a shadow
#: copy (same tables, schema `projection_rebuild`) and swap it in by renaming schemas.
PROJECTION_SCHEMA = "projection"
REBUILD_SCHEMA = "projection_rebuild"
consumer_metadata = sa.MetaData(schema=PROJECTION_SCHEMA)

consumer_offsets = sa.Table(
    "consumer_offsets",
    consumer_metadata,
    sa.Column("topic", sa.Text, primary_key=True),
    sa.Column("partition", sa.Integer, primary_key=True),
    sa.Column("next_offset", sa.BigInteger, nullable=False),
)

processed_events = sa.Table(
    "processed_events",
    consumer_metadata,
    sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
)

projection_meta = sa.Table(
    "projection_meta",
    consumer_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    # Bumped by each swap: a consumer that sees another generation re-seeks to the stored offsets.
    sa.Column("generation", sa.Integer, nullable=False),
)

dead_letters = sa.Table(
    "dead_letters",
    consumer_metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("partition", sa.Integer, nullable=False),
    sa.Column("offset", sa.BigInteger, nullable=False),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("event_id", sa.Text),
    sa.Column("event_type", sa.Text),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("value", BYTEA, nullable=False),
    sa.Column("headers", JSONB, nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # parked | redriven | skipped
    sa.Column(
        "failed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    ),
    sa.Column("resolved_at", sa.DateTime(timezone=True)),
    sa.Column("resolved_by", sa.Text),
)
sa.Index(
    "dead_letters_one_open_per_key",
    dead_letters.c.key,
    unique=True,
    postgresql_where=dead_letters.c.status == "parked",
)

parked_events = sa.Table(
    "parked_events",
    consumer_metadata,
    sa.Column("seq", sa.BigInteger, sa.Identity(always=True), primary_key=True),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("partition", sa.Integer, nullable=False),
    sa.Column("offset", sa.BigInteger, nullable=False),
    sa.Column("value", BYTEA, nullable=False),
    sa.Column("headers", JSONB, nullable=False),
    sa.Index("parked_events_by_key", "key", "seq"),
)


#: Other services' events, verbatim, by key (a request id): what commands decide from besides
#: their own stream (a command never decides from a read model). Kept by the consumer in the
#: batch's transaction, so it holds exactly what the projection has applied.
inbox = sa.Table(
    "inbox",
    consumer_metadata,
    sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("envelope", BYTEA, nullable=False),
    sa.Index("inbox_by_key", "key", "occurred_at"),
)


def create_backbone_tables(connection: sa.Connection) -> None:
    """Used by each service's first migration: the write side, then the projection schema.
    (No trigger on the outbox: the relay is woken after commit, see shared/outbox.py.)"""
    metadata.create_all(connection)
    create_projection_schema(connection, PROJECTION_SCHEMA)


def drop_outbox_notify_trigger(connection: sa.Connection) -> None:
    """The revision "drop the outbox NOTIFY trigger" of every service. Revision 0001 made a
    statement trigger that ran `pg_notify` in every transaction writing the outbox; PostgreSQL
    serialises the commits of transactions that notified (one lock on its notification queue),
    so concurrent writers committed one at a time. The relay is now woken after the commit
    (`shared.outbox.OutboxWake`). The outbox, and the trigger's function with it, live in the
    write side's schema, not the projection's."""
    schema = outbox.schema or "public"
    connection.exec_driver_sql(f'DROP TRIGGER IF EXISTS outbox_notify ON "{schema}".outbox')
    connection.exec_driver_sql(f'DROP FUNCTION IF EXISTS "{schema}".jiph_outbox_notify()')


def add_inbox_and_reactions(connection: sa.Connection, projection: sa.MetaData) -> None:
    """Revision 0002 of every service: the write side's `reactions` table, and the projection
    reset so that the inbox fills as the consumer replays the topics."""
    metadata.create_all(connection)
    reset_projection(connection, projection)


def reset_projection(connection: sa.Connection, *extra: sa.MetaData) -> None:
    """Drop the live projection and create it empty, one generation on: the consumer finds no
    stored offsets and replays every topic from the start. For migrations that change what a
    projection keeps (reactions already taken are on the write side and are not taken again)."""
    generation = connection.exec_driver_sql(
        f'SELECT generation FROM "{PROJECTION_SCHEMA}".projection_meta'
    ).scalar()
    connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{PROJECTION_SCHEMA}" CASCADE')
    create_projection_schema(
        connection, PROJECTION_SCHEMA, *extra, generation=int(generation or 0) + 1
    )


def create_projection_schema(
    connection: sa.Connection, schema: str, *extra: sa.MetaData, generation: int = 1
) -> None:
    """The consumer's tables (and a service's projection tables) in `schema`."""
    connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    translated = connection.execution_options(schema_translate_map={PROJECTION_SCHEMA: schema})
    for md in (consumer_metadata, *extra):
        md.create_all(translated)
    translated.execute(projection_meta.insert().values(id=1, generation=generation))
