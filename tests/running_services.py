"""Fixtures of the running services (end-to-end and fuzzing tests): the four services as processes
against the test stack, a trace collector, and tokens they accept. Registered for every test group by
`tests/conftest.py`, so that each session starts the services once."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from jiph.stack import lifecycle, seed
from jiph.stack import services as stack_services
from jiph.stack.config import StackConfig
from jiph.stack.postgres import PostgresTarget
from jiph.stack.processes import StackError
from shared.auth import Role, load_or_create_dev_key, mint_token
from shared.settings import AUDIENCE, DEV_ISSUER
from tests.e2e.collector import Collector

TokenFactory = Callable[..., str]


@pytest.fixture(scope="session")
def collector() -> Iterator[Collector]:
    """Receives the services' traces (they export to it: see `services`)."""
    running = Collector().start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def services(
    test_stack: StackConfig, infra: PostgresTarget, collector: Collector
) -> dict[str, str]:
    """Base URLs of intake, triage, deployment and reporting, freshly started from this tree,
    exporting their traces to the tests' collector."""
    exporting = {
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://127.0.0.1:{collector.port}/v1/traces",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    }
    for name in stack_services.all_services():
        stack_services.service_process(test_stack, name).stop()
    os.environ.update(exporting)  # read by the service processes started now, and only by them
    try:
        lifecycle.up(test_stack, with_services=True, say=lambda _: None)
    finally:
        for variable in exporting:
            os.environ.pop(variable, None)
    return {name: f"http://127.0.0.1:{port}" for name, port in test_stack.service_ports.items()}


@pytest.fixture(scope="session")
def token(test_stack: StackConfig) -> TokenFactory:
    """`token("partner", partner_id="un-dpo")` → a bearer token the running services accept.
    A partner not registered yet is registered first (as `partner_type`, default `un`, and
    `organisation`, default "UN Police Division"), as the hub would before its first request;
    `register=False` leaves it unregistered."""
    key = load_or_create_dev_key(test_stack.dev_key_file)
    registered: set[str] = set()

    def mint(role: str, **claims: Any) -> str:
        subject = claims.pop("sub", None) or claims.pop("subject", None) or f"{role}-tester"
        return mint_token(
            key, role=Role(role), subject=subject, issuer=DEV_ISSUER, audience=AUDIENCE, **claims
        )

    def make(role: str, **claims: Any) -> str:
        register = claims.pop("register", True)
        partner_type = claims.pop("partner_type", "un")
        organisation = claims.pop("organisation", "UN Police Division")
        partner_id = claims.get("partner_id")
        if register and role == "partner" and partner_id and partner_id not in registered:
            # Not for a test that never reaches intake, nor for an id the registry refuses.
            with contextlib.suppress(httpx.HTTPError, StackError):
                seed.register_partners(
                    test_stack, [seed.partner(partner_id, partner_type, organisation)]
                )
                registered.add(partner_id)
        return mint(role, **claims)

    return make


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
