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

from shared.db import create_engine, migrate

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
