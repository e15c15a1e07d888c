"""Migrations on a real PostgreSQL: a database at an older revision upgrades and keeps what it
must (deployment's reactions taken before the backbone kept them)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.catalogue.intake import RequestWithdrawn
from shared.db import create_engine, migrate
from shared.events import Actor, Envelope
from shared.eventstore import CommandContext
from shared.history import chain

pytestmark = pytest.mark.integration
SERVICES = Path(__file__).resolve().parents[2] / "services"


def _upgrade_to(connection: sa.Connection, script_location: Path, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def test_deployments_reactions_taken_before_0002_are_carried_over(
    fresh_database: str,
) -> None:
    migrations = SERVICES / "deployment" / "migrations"
    engine = create_engine(fresh_database)
    triggers = [uuid.uuid4(), uuid.uuid4()]
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade_to, migrations, "0001")
            # The table as revision 0001 made it before the backbone had one of its own.
            await conn.execute(sa.text("DROP TABLE reactions"))
            await conn.execute(
                sa.text(
                    "CREATE TABLE reactions (trigger_event_id uuid PRIMARY KEY,"
                    " reacted_at timestamptz NOT NULL DEFAULT now())"
                )
            )
            for trigger in triggers:
                await conn.execute(
                    sa.text("INSERT INTO reactions (trigger_event_id) VALUES (:t)"), {"t": trigger}
                )
        await migrate(engine, migrations)
        async with engine.connect() as conn:
            rows = (
                await conn.execute(sa.text("SELECT reaction, trigger_event_id FROM reactions"))
            ).all()
            leftover = await conn.scalar(sa.text("SELECT to_regclass('reactions_before_0002')"))
            inbox = await conn.scalar(sa.text("SELECT to_regclass('projection.inbox')"))
        assert sorted(rows) == sorted(("cancel-deployments", t) for t in triggers)
        assert leftover is None and inbox is not None
    finally:
        await engine.dispose()


@pytest.mark.parametrize("service", ["intake", "triage", "deployment", "reporting"])
async def test_a_new_database_migrates_to_head_twice_without_error(
    fresh_database: str, service: str
) -> None:
    engine = create_engine(fresh_database)
    try:
        await migrate(engine, SERVICES / service / "migrations")
        await migrate(engine, SERVICES / service / "migrations")
        async with engine.connect() as conn:
            version = await conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
            generation = await conn.scalar(
                sa.text("SELECT generation FROM projection.projection_meta")
            )
        head = ScriptDirectory(str(SERVICES / service / "migrations")).get_current_head()
        assert version == head and generation >= 2  # 0002 reset the projection (at least) once
    finally:
        await engine.dispose()


async def test_a_store_written_before_the_hash_chain_gets_its_chain_and_says_so(
    fresh_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    migrations = SERVICES / "intake" / "migrations"
    engine = create_engine(fresh_database)
    streams = dict(zip((f"request-{uuid.uuid4()}" for _ in range(2)), (3, 1), strict=True))
    context = CommandContext(actor=Actor(subject="tester", role="operator"), correlation_id="c")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade_to, migrations, "0004")
            # The store as revision 0004 left it: no chain column, no heads, no checkpoints.
            await conn.execute(sa.text("ALTER TABLE events DROP COLUMN chain_hash"))
            await conn.execute(sa.text("DROP TABLE chain_heads, chain_checkpoints"))
            for stream_id, count in streams.items():
                for version in range(1, count + 1):
                    env = Envelope.wrap(
                        RequestWithdrawn(
                            request_id=uuid.uuid4(), partner_id="un-x", reason=f"r{version}"
                        ),
                        stream_id=stream_id,
                        stream_version=version,
                        producer="intake",
                        actor=context.actor,
                        correlation_id=context.correlation_id,
                    )
                    await conn.execute(
                        sa.text(
                            "INSERT INTO events (stream_id, stream_version, event_id, event_type,"
                            " schema_version, occurred_at, envelope) VALUES (:s, :v, :id, :t,"
                            " :sv, :at, :e)"
                        ),
                        {
                            "s": stream_id,
                            "v": version,
                            "id": env.event_id,
                            "t": env.event_type,
                            "sv": env.schema_version,
                            "at": env.occurred_at,
                            "e": env.to_bytes(),
                        },
                    )
        with caplog.at_level("INFO", logger="jiph.migrations"):
            await migrate(engine, migrations)
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.text(
                        "SELECT stream_id, envelope, chain_hash FROM events"
                        " ORDER BY stream_id, stream_version"
                    )
                )
            ).all()
            heads = dict(
                (await conn.execute(sa.text("SELECT stream_id, version FROM chain_heads"))).all()
            )
            nullable = await conn.scalar(
                sa.text(
                    "SELECT is_nullable FROM information_schema.columns"
                    " WHERE table_name = 'events' AND column_name = 'chain_hash'"
                )
            )
        for stream_id in streams:
            mine = [r for r in rows if r.stream_id == stream_id]
            expected = list(chain.chain(stream_id, [bytes(r.envelope) for r in mine]))
            assert [bytes(r.chain_hash) for r in mine] == expected
        assert heads == streams and nullable == "NO"
        assert "chained 4 existing events in 2 streams" in caplog.text
    finally:
        await engine.dispose()


#: The statement trigger every service's revision 0001 made on its outbox before it was dropped.
OLD_OUTBOX_TRIGGER = (
    """CREATE OR REPLACE FUNCTION jiph_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN PERFORM pg_notify('jiph_outbox', ''); RETURN NULL; END $$""",
    """CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION jiph_outbox_notify()""",
)


async def _outbox_trigger_and_function(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.connect() as conn:
        triggers = await conn.scalar(
            sa.text(
                "SELECT count(*) FROM pg_trigger WHERE tgname = 'outbox_notify'"
                " AND tgrelid = 'public.outbox'::regclass"
            )
        )
        functions = await conn.scalar(
            sa.text("SELECT count(*) FROM pg_proc WHERE proname = 'jiph_outbox_notify'")
        )
    return int(triggers or 0), int(functions or 0)


@pytest.mark.parametrize("service", ["intake", "triage", "deployment", "reporting"])
async def test_the_outbox_notify_trigger_of_a_database_made_before_is_dropped_by_the_upgrade(
    fresh_database: str, service: str
) -> None:
    migrations = SERVICES / service / "migrations"
    script = ScriptDirectory(str(migrations))
    dropping = next(
        r for r in script.walk_revisions() if r.path.endswith("_drop_outbox_notify_trigger.py")
    )
    assert isinstance(dropping.down_revision, str)
    engine = create_engine(fresh_database)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade_to, migrations, dropping.down_revision)
            for statement in OLD_OUTBOX_TRIGGER:  # as revision 0001 made it then
                await conn.exec_driver_sql(statement)
        assert await _outbox_trigger_and_function(engine) == (1, 1)
        await migrate(engine, migrations)
        assert await _outbox_trigger_and_function(engine) == (0, 0)
        async with engine.connect() as conn:
            version = await conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
        assert version == script.get_current_head()
    finally:
        await engine.dispose()


async def test_a_new_database_has_no_trigger_on_its_outbox(fresh_database: str) -> None:
    engine = create_engine(fresh_database)
    try:
        await migrate(engine, SERVICES / "intake" / "migrations")
        assert await _outbox_trigger_and_function(engine) == (0, 0)
    finally:
        await engine.dispose()
