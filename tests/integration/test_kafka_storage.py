"""Formatting KRaft storage with Kafka's own storage tool, as `jiph up` does on a fresh stack."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from jiph.stack import kafka
from jiph.stack.config import StackConfig

pytestmark = pytest.mark.integration

# 0xF8 makes the first base64 character '-': the id the storage tool once took for an option.
DASH_FIRST = uuid.UUID(bytes=b"\xf8" + bytes(15))
RANDOM_UUID = uuid.uuid4  # kept before the tests replace it


def ids_starting_with_a_dash_first() -> Iterator[uuid.UUID]:
    yield DASH_FIRST
    while True:
        yield RANDOM_UUID()


def test_cluster_ids_never_start_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    ids = ids_starting_with_a_dash_first()
    monkeypatch.setattr(kafka.uuid, "uuid4", lambda: next(ids))
    cluster_id = kafka.new_cluster_id()
    assert not cluster_id.startswith("-")
    assert len(cluster_id) == 22
    assert kafka.base64.urlsafe_b64encode(DASH_FIRST.bytes).decode().startswith("-")


def test_storage_is_formatted_even_when_the_first_random_id_starts_with_a_dash(
    test_stack: StackConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = replace(test_stack, name="format-check", state_root=tmp_path)
    monkeypatch.delenv("JIPH_STATE_DIR", raising=False)
    ids = ids_starting_with_a_dash_first()
    monkeypatch.setattr(kafka.uuid, "uuid4", lambda: next(ids))
    cfg.log_dir.mkdir(parents=True)
    libs = kafka.fetch_kafka(cfg.log_dir)

    kafka._format_storage(libs, cfg, kafka._render_config(cfg))

    meta = (cfg.kafka_data_dir / "meta.properties").read_text()
    cluster_id = next(
        line.split("=", 1)[1] for line in meta.splitlines() if line.startswith("cluster.id=")
    )
    assert not cluster_id.startswith("-")
    assert len(cluster_id) == 22
