"""Readiness of a service's consumer: startup and long outages count, a routine rebalance not."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import TopicPartition

from shared.consumer import ProjectionConsumer
from shared.consumer import live as consumer_module

P0, P1 = TopicPartition("jiph.intake.events", 0), TopicPartition("jiph.intake.events", 1)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(consumer_module.time, "monotonic", lambda: now[0])
    return now


def make_consumer() -> ProjectionConsumer:
    applier: Any = object()  # never touched by the assignment bookkeeping
    return ProjectionConsumer(applier, bootstrap_servers="unused:1", group_id="jiph-test")


def test_never_assigned_is_not_ready(clock: list[float]) -> None:
    consumer = make_consumer()
    assert consumer.assignment_state() == (False, "not assigned")
    clock[0] += 5
    assert consumer.assignment_state()[0] is False


def test_assigned_is_ready_and_says_how_many(clock: list[float]) -> None:
    consumer = make_consumer()
    consumer.set_assigned({P0, P1})
    assert consumer.assignment_state() == (True, "assigned 2 partitions")


def test_rebalance_after_assignment_is_tolerated_for_the_grace_period(clock: list[float]) -> None:
    consumer = make_consumer()
    consumer.set_assigned({P0, P1})
    consumer.set_assigned(set())  # revoked: a rebalance begins
    clock[0] += 10
    assert consumer.assignment_state(rebalance_grace_s=30) == (True, "rebalancing for 10s")
    clock[0] += 25
    assert consumer.assignment_state(rebalance_grace_s=30) == (False, "not assigned")


def test_grace_restarts_from_each_revocation(clock: list[float]) -> None:
    consumer = make_consumer()
    consumer.set_assigned({P0})
    consumer.set_assigned(set())
    clock[0] += 29
    consumer.set_assigned({P1})
    clock[0] += 100
    consumer.set_assigned(set())
    clock[0] += 1
    assert consumer.assignment_state(rebalance_grace_s=30)[0] is True
