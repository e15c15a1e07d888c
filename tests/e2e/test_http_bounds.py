"""What every service's HTTP edge holds to, whoever calls: protective headers on every answer,
API documentation without a CDN, bounded tokens, and no connection held open by a client that
never finishes its request headers (slowloris)."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from shared.http_protocol import HEADER_TIMEOUT_S
from tests.running_services import TokenFactory, bearer

pytestmark = pytest.mark.e2e


async def test_every_answer_says_nosniff_and_api_answers_are_not_stored(
    services: dict[str, str], token: TokenFactory
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for name, base in services.items():
            answers = [
                await client.get(f"{base}/healthz"),
                await client.get(f"{base}/v1/no-such-thing", headers=bearer(token("admin"))),
                await client.get(f"{base}/v1/admin/consumer"),  # 401
                await client.get(f"{base}/v1/admin/consumer", headers=bearer(token("operator"))),
            ]
            assert [a.status_code for a in answers] == [200, 404, 401, 200], name
            for answer in answers:
                assert answer.headers["x-content-type-options"] == "nosniff", answer.url
                assert answer.headers["x-frame-options"] == "DENY"
            for answer in answers[1:]:
                assert answer.headers["cache-control"] == "no-store", answer.url


async def test_the_api_documentation_is_served_by_the_service_itself(
    services: dict[str, str],
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for base in services.values():
            for page in ("/docs", "/redoc"):
                answer = await client.get(base + page)
                assert answer.status_code == 200
                assert "content-security-policy" in answer.headers
                sources = re.findall(r'(?:src|href)="([^"]+)"', answer.text)
                assert sources and all(s.startswith("/_docs/") for s in sources), sources
                for source in sources:
                    asset = await client.get(base + source)
                    assert asset.status_code == 200 and len(asset.content) > 1000, source


async def test_every_operation_refuses_a_query_parameter_it_does_not_declare(
    services: dict[str, str], token: TokenFactory
) -> None:
    """A misspelt filter must not answer as if no filter had been asked for: every GET of every
    service's API (as its own OpenAPI document lists them) names the unknown parameter in a 422;
    the dashboard page, outside the API's schema, takes what the browser keeps in its URL."""
    checked = 0
    async with httpx.AsyncClient(timeout=10) as client:
        for name, base in services.items():
            document = (await client.get(f"{base}/openapi.json")).json()
            for path, operations in document["paths"].items():
                if "get" not in operations:
                    continue
                concrete = re.sub(r"\{[^}]+\}", "00000000-0000-4000-8000-000000000000", path)
                answer = await client.get(
                    f"{base}{concrete}",
                    params={"contry": "SO"},
                    headers=bearer(token("admin")),
                )
                assert answer.status_code == 422, (name, path, answer.text)
                assert {"field": "query.contry", "message": "unknown query parameter"} in (
                    answer.json()["errors"]
                ), (name, path)
                checked += 1
        page = await client.get(f"{services['reporting']}/?country=SO&status=approved")
        assert page.status_code == 200
    assert checked >= 40  # every service's reads, not a handful


async def test_an_oversized_token_is_refused(services: dict[str, str]) -> None:
    huge = "eyJ" + "A" * 1_300_000
    async with httpx.AsyncClient(timeout=30) as client:
        answer = await client.get(
            f"{services['triage']}/v1/cases", headers={"Authorization": f"Bearer {huge}"}
        )
    assert answer.status_code == 401 and "longer than" in answer.json()["detail"]


async def test_connections_that_never_finish_their_headers_are_closed(
    services: dict[str, str],
) -> None:
    port = int(services["reporting"].rsplit(":", 1)[1])
    slow = []
    for i in range(30):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        if i % 2:  # half send part of a request; the other half nothing at all
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            await writer.drain()
        slow.append((reader, writer))
    # Meanwhile the service answers everyone else.
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.get(f"{services['reporting']}/healthz")).status_code == 200

    async def closed(reader: asyncio.StreamReader) -> bool:
        return await reader.read() == b""  # EOF: the server hung up

    ends = await asyncio.wait_for(
        asyncio.gather(*(closed(r) for r, _ in slow)), timeout=HEADER_TIMEOUT_S + 15
    )
    assert all(ends)
    for _, writer in slow:
        writer.close()
