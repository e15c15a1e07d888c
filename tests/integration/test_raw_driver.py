"""Statements sent straight to asyncpg (`shared.db.driver`) stay inside SQLAlchemy's transaction."""

from __future__ import annotations

import secrets

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.intake import handlers
from services.intake.handlers import next_reference
from shared.backbone_tables import processed_events
from shared.db import driver, qualified

pytestmark = pytest.mark.integration


class Abort(Exception):
    pass


async def count_processed(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(processed_events)))


async def test_a_raw_statement_sent_first_is_rolled_back_with_the_transaction(
    backbone_engine: AsyncEngine,
) -> None:
    with pytest.raises(Abort):
        async with backbone_engine.begin() as conn:
            db = await driver(conn)  # before any SQLAlchemy statement: BEGIN is still owed
            await db.execute(
                f"INSERT INTO {qualified(conn, processed_events)} VALUES (gen_random_uuid())"
            )
            raise Abort
    assert await count_processed(backbone_engine) == 0

    async with backbone_engine.begin() as conn:
        db = await driver(conn)
        await db.execute(
            f"INSERT INTO {qualified(conn, processed_events)} VALUES (gen_random_uuid())"
        )
    assert await count_processed(backbone_engine) == 1


async def test_qualified_names_follow_the_connections_schema_translation(
    backbone_engine: AsyncEngine,
) -> None:
    async with backbone_engine.connect() as conn:
        assert qualified(conn, processed_events) == '"projection"."processed_events"'
        moved = await conn.execution_options(schema_translate_map={"projection": "elsewhere"})
        assert qualified(moved, processed_events) == '"elsewhere"."processed_events"'


async def test_a_rolled_back_first_submission_of_the_year_leaves_its_reference_sequence(
    backbone_engine: AsyncEngine,
) -> None:
    year = 3000 + secrets.randbelow(6000)  # a year no other test (or process cache) has seen
    with pytest.raises(Abort):
        async with backbone_engine.begin() as conn:
            assert await next_reference(conn, year) == f"JIPH-{year}-000001"
            raise Abort
    async with backbone_engine.begin() as conn:
        # Sequences do not roll back: the number is spent, never handed out twice.
        assert await next_reference(conn, year) == f"JIPH-{year}-000002"


async def test_references_come_in_blocks_and_no_two_processes_share_one(
    backbone_engine: AsyncEngine,
) -> None:
    # A second process is this one with its block forgotten: it claims the next block.
    year = 3000 + secrets.randbelow(6000)
    async with backbone_engine.begin() as conn:
        first = [await next_reference(conn, year) for _ in range(3)]
        handlers._blocks.pop(year)
        other = [await next_reference(conn, year) for _ in range(2)]
    assert first == [f"JIPH-{year}-{n:06d}" for n in (1, 2, 3)]
    block = handlers.REFERENCE_BLOCK
    assert other == [f"JIPH-{year}-{n:06d}" for n in (block + 1, block + 2)]
