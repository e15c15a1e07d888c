"""The HTTP edge of the real service apps, in-process (no lifespan: nothing is connected):
`/metrics` labels requests by route template, and a 405 names every method of the path.

FastAPI includes routers lazily, so a route table made by walking `app.router.routes` saw only
the included routers: every `/v1` request was counted under `route="/"` and a 405 named one
method of a path that has two. These tests use the apps the services run."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from services.deployment.main import DEFINITION as DEPLOYMENT
from services.intake.main import DEFINITION as INTAKE
from services.reporting.main import DEFINITION as REPORTING
from services.triage.main import DEFINITION as TRIAGE
from shared.route_table import UNMATCHED, RouteTable
from shared.service import ServiceDefinition, create_service_app
from shared.settings import ServiceSettings

DEFINITIONS = {d.name: d for d in (INTAKE, TRIAGE, DEPLOYMENT, REPORTING)}
SOME_ID = "0190a000-0000-7000-8000-000000000001"


def app_of(definition: ServiceDefinition, tmp_path: Path) -> FastAPI:
    settings = ServiceSettings(
        service_name=definition.name,
        database_url="postgresql+asyncpg://unused:unused@127.0.0.1:1/unused",
        dev_key_file=tmp_path / "dev-key.pem",
    )
    return create_service_app(definition, settings)


def client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://svc")


def requests_counted(text: str, service: str) -> dict[tuple[str, str, str], float]:
    return {
        (s.labels["method"], s.labels["route"], s.labels["status"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "jiph_http_requests_total" and s.labels["service"] == service
    }


def concrete(template: str) -> str:
    return re.sub(r"\{[^}]+\}", SOME_ID, template)


@pytest.mark.parametrize("name", sorted(DEFINITIONS))
def test_every_documented_route_is_labelled_with_its_own_template(
    name: str, tmp_path: Path
) -> None:
    app = app_of(DEFINITIONS[name], tmp_path)
    table = RouteTable.of(app)
    paths: dict[str, Any] = app.openapi()["paths"]
    assert any(p.startswith("/v1/") for p in paths)
    for template, operations in paths.items():
        for method in operations:
            assert table.template(concrete(template), method.upper()) == template


async def test_metrics_count_v1_requests_by_template_and_unknown_paths_under_one_label(
    tmp_path: Path,
) -> None:
    app = app_of(INTAKE, tmp_path)
    raw = "no-such-thing-4f1c2a"
    async with client(app) as http:
        assert (await http.get(f"/v1/requests/{SOME_ID}")).status_code == 401
        assert (await http.get("/v1/requests")).status_code == 401
        assert (await http.post(f"/v1/requests/{SOME_ID}/withdrawal")).status_code == 401
        assert (await http.get(f"/{raw}")).status_code == 404
        assert (await http.get(f"/v1/{raw}/deeper")).status_code == 404
        metrics = (await http.get("/metrics")).text
    counted = requests_counted(metrics, "intake")
    assert counted[("GET", "/v1/requests/{request_id}", "401")] >= 1
    assert counted[("GET", "/v1/requests", "401")] >= 1
    assert counted[("POST", "/v1/requests/{request_id}/withdrawal", "401")] >= 1
    assert counted[("GET", UNMATCHED, "404")] >= 2
    assert ("GET", "/", "401") not in counted
    assert raw not in metrics and SOME_ID not in metrics


async def test_a_405_names_every_method_the_path_allows_in_problem_json(tmp_path: Path) -> None:
    app = app_of(INTAKE, tmp_path)
    async with client(app) as http:
        both = await http.put("/v1/requests")
        one = await http.put(f"/v1/requests/{SOME_ID}")
    assert both.status_code == 405
    assert both.headers["allow"] == "GET, POST"
    assert both.headers["content-type"].startswith("application/problem+json")
    problem = both.json()
    assert problem["type"].endswith("/method-not-allowed") and problem["status"] == 405
    assert "GET, POST" in problem["detail"]
    assert one.status_code == 405 and one.headers["allow"] == "GET"


async def test_every_405_of_every_service_lists_what_the_openapi_document_says(
    tmp_path: Path,
) -> None:
    for definition in DEFINITIONS.values():
        app = app_of(definition, tmp_path)
        paths: dict[str, Any] = app.openapi()["paths"]
        async with client(app) as http:
            for template, operations in paths.items():
                documented = sorted(m.upper() for m in operations)
                if "PUT" in documented:
                    continue
                answer = await http.put(concrete(template))
                assert answer.status_code == 405, (definition.name, template)
                assert answer.headers["allow"].split(", ") == documented, (
                    definition.name,
                    template,
                )
