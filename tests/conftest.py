"""Fixtures shared by every test group.

Integration and end-to-end tests run against the *test* stack's real Kafka and PostgreSQL
(`make test` starts it; running pytest directly starts it too). Each test gets its own database
and its own topics, so tests never see each other's state.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy.ext.asyncio import AsyncEngine

from jiph.stack import lifecycle
from jiph.stack.config import StackConfig, stack_config
from jiph.stack.keystore import ensure_token
from jiph.stack.postgres import PostgresTarget
from services.deployment.keystore import Pkcs11KeyStore
from shared.backbone_tables import create_backbone_tables
from shared.db import create_engine

#: The running services' fixtures (`services`, `token`, `collector`), for end-to-end and fuzzing tests.
pytest_plugins = ["tests.running_services"]

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@pytest.fixture(scope="session")
def test_stack() -> StackConfig:
    return stack_config(os.environ.get("JIPH_TEST_STACK", "test"))


@pytest.fixture(scope="session")
def infra(test_stack: StackConfig) -> PostgresTarget:
    """The test stack's Kafka and PostgreSQL, started if they are not running."""
    return lifecycle.up(test_stack, with_services=False, say=lambda _: None)


@pytest.fixture(scope="session")
def bootstrap(infra: PostgresTarget, test_stack: StackConfig) -> str:
    return test_stack.kafka_bootstrap


@pytest.fixture
async def fresh_database(infra: PostgresTarget) -> AsyncIterator[str]:
    """A new empty database for one test; its SQLAlchemy URL. Dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(infra.admin_url)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    yield (
        infra.admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
        + f"/{name}"
    )
    admin = await asyncpg.connect(infra.admin_url)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


@pytest.fixture
async def backbone_engine(fresh_database: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a fresh database holding the backbone tables."""
    engine = create_engine(fresh_database, pool_size=20)
    async with engine.begin() as conn:
        await conn.run_sync(create_backbone_tables)
    yield engine
    await engine.dispose()


@pytest.fixture
async def new_topics(bootstrap: str) -> AsyncIterator[NewTopicFactory]:
    factory = NewTopicFactory(bootstrap)
    yield factory
    await factory.delete_all()


class NewTopicFactory:
    """Creates uniquely named 6-partition topics for one test."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.created: list[str] = []

    async def __call__(self, label: str = "events", partitions: int = 6) -> str:
        name = f"test.{label}.{uuid.uuid4().hex[:10]}"
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(name, partitions, 1)])
        finally:
            await admin.close()
        self.created.append(name)
        await asyncio.sleep(0.2)  # let the new partitions' leaders settle
        return name

    async def delete_all(self) -> None:
        if not self.created:
            return
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            await admin.delete_topics(self.created)
        except Exception:
            pass
        finally:
            await admin.close()


@pytest.fixture(scope="session")
def artifacts() -> Iterator[Path]:
    ARTIFACTS.mkdir(exist_ok=True)
    yield ARTIFACTS


@pytest.fixture
def officer_keys(tmp_path: Path) -> Iterator[Pkcs11KeyStore]:
    """A key store on a SoftHSM2 token of the test's own (made as the local stack makes one)."""
    before = os.environ.get("SOFTHSM2_CONF")
    token = ensure_token(tmp_path / "keystore")
    store = Pkcs11KeyStore(
        token.module_path, token.token_label, token.read_pin(), softhsm2_conf=token.conf_path
    )
    yield store
    store.close()
    if before is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = before
