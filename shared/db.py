"""Engines and migrations. Each service owns its database and its Alembic revisions."""

from __future__ import annotations

import functools
import zlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        # No pre-ping: it costs a round trip on every checkout, a third of a command's time.
        # A connection broken by a database restart fails once; SQLAlchemy then invalidates
        # the whole pool and the next checkout reconnects (the consumer and relay retry).
        pool_pre_ping=False,
        pool_recycle=1800,
        # With the database away a request waits at most this long for a connection, then
        # answers 503 (shared.outages), instead of holding the caller for 30 s.
        pool_timeout=5,
        # Errors (logs, dead letters) must never carry the values of a statement: they may be
        # personal data that erasure has to reach.
        hide_parameters=True,
        # asyncpg's prepared-statement cache is per connection; keep it.
        # Times rendered by the server (JSON built in SQL, date_trunc) are in UTC, whatever
        # the server's own zone.
        connect_args={
            "server_settings": {"application_name": "jiph", "timezone": "UTC"},
            "timeout": 5,  # connecting
            "command_timeout": 60,  # a statement that hangs (a paused server) ends
        },
    )


async def migrate(engine: AsyncEngine, script_location: Path) -> None:
    """Apply the service's migrations to head. Serialised by an advisory lock, so that several
    processes of one service starting together do not race each other."""
    lock_id = zlib.crc32(f"migrate:{script_location}".encode())
    async with engine.begin() as conn:
        await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})
        await conn.run_sync(_upgrade, script_location)


def _upgrade(connection: sa.Connection, script_location: Path) -> None:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def driver(conn: AsyncConnection) -> Any:
    """The asyncpg connection under `conn`, inside the transaction SQLAlchemy opened on it.

    For the few statements every command runs: SQLAlchemy costs ~0.2 ms of CPU per statement
    (compilation cache, result wrapping, a greenlet switch), asyncpg alone ~0.03 ms. JSON
    parameters go in as text (SQLAlchemy's codec on the connection); results come back parsed.
    """
    sync = conn.sync_connection
    if sync is not None and not sync.closed and not sync.invalidated:
        raw = sync.connection  # checked out already: no I/O, no greenlet hop
    else:
        raw = await conn.get_raw_connection()
    adapter: Any = raw.dbapi_connection
    # SQLAlchemy sends BEGIN lazily, with its first statement; a statement sent here first
    # would otherwise run outside the transaction and commit on its own.
    if conn.in_transaction() and adapter._transaction is None:
        await adapter._start_transaction()
    return raw.driver_connection


def jsonb(value: object) -> str:
    """A JSONB parameter for SQL sent through `driver`: text, as SQLAlchemy's codec on the
    connection takes it."""
    return orjson.dumps(value).decode()


def qualified(conn: AsyncConnection, table: sa.Table) -> str:
    """`table`'s name for SQL sent through `driver`, in the schema this connection's
    `schema_translate_map` puts it (a projection rebuild writes into a schema of its own)."""
    schema = table.schema
    options = conn.sync_connection.get_execution_options() if conn.sync_connection else {}
    translate = options.get("schema_translate_map") or {}
    schema = translate.get(schema, schema)
    return f'"{schema}"."{table.name}"' if schema else f'"{table.name}"'


_POSTGRESQL = postgresql.dialect()  # type: ignore[no-untyped-call]


@functools.cache
def _array_of(column: sa.Column[Any]) -> str:
    return f"{column.type.compile(dialect=_POSTGRESQL)}[]"


async def insert_rows(
    conn: AsyncConnection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    on_conflict: str = "",
) -> None:
    """INSERT many rows (each with the same keys) in one statement: one array per column,
    `unnest`ed by the server. A list of rows through SQLAlchemy's executemany runs the statement
    once per row (server side and in Python); this runs it once. `on_conflict` is the statement's
    `ON CONFLICT ...` clause (see `upsert_clause`)."""
    if not rows:
        return
    columns = [table.c[name] for name in rows[0]]
    arrays = []
    for column in columns:
        values = [row[column.name] for row in rows]
        if isinstance(column.type, sa.JSON):
            values = [None if v is None else jsonb(v) for v in values]
        arrays.append(values)
    names = ", ".join(f'"{c.name}"' for c in columns)
    casts = ", ".join(f"${n}::{_array_of(c)}" for n, c in enumerate(columns, 1))
    await (await driver(conn)).execute(
        f"INSERT INTO {qualified(conn, table)} ({names})"
        f" SELECT * FROM unnest({casts}) {on_conflict}",
        *arrays,
    )


def upsert_clause(key: Sequence[str], columns: Iterable[str]) -> str:
    """`ON CONFLICT (key) DO UPDATE` setting every other one of `columns` to the new row's."""
    sets = ", ".join(f'"{c}" = excluded."{c}"' for c in columns if c not in key)
    return f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {sets}"


def any_of(column: sa.ColumnElement[Any], values: Iterable[Any]) -> sa.ColumnElement[bool]:
    """`column = ANY(:array)`: like `column.in_(values)`, but one SQL text for any number of
    values, so asyncpg's per-connection prepared-statement cache is not churned by batches of
    every size."""
    array = sa.bindparam("any_of", list(values), type_=ARRAY(column.type), unique=True)
    return column == sa.any_(array)


async def lock_until_commit(conn: AsyncConnection, key: str) -> None:
    """A transaction-scoped advisory lock on a text key: one writer per key until commit."""
    await (await driver(conn)).execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key)


def run_alembic_env(target_metadata: sa.MetaData | None = None) -> None:
    """The body of every service's `migrations/env.py`: run on the connection handed in."""
    from alembic import context

    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
