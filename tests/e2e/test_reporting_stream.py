"""The live feed's bounds: it ends when its reader's token expires, and one principal holds only
so many feeds at once."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import httpx
import pytest

from tests.running_services import TokenFactory, bearer

pytestmark = pytest.mark.e2e


async def test_the_stream_ends_when_its_token_expires(
    services: dict[str, str], token: TokenFactory
) -> None:
    short = token("operator", sub=f"op-{uuid.uuid4().hex[:6]}", ttl_seconds=3)
    async with httpx.AsyncClient(base_url=services["reporting"], timeout=30) as client:

        async def until_closed() -> list[str]:
            lines = []
            async with client.stream("GET", "/v1/stream", headers=bearer(short)) as response:
                assert response.status_code == 200
                async for line in response.aiter_lines():
                    lines.append(line)
            return lines

        lines = await asyncio.wait_for(until_closed(), 25)  # it ends by itself
    assert "event: token-expired" in lines
    async with httpx.AsyncClient(base_url=services["reporting"], timeout=10) as client:
        again = await client.get("/v1/stream", headers=bearer(short))
    assert again.status_code == 401  # and the token no longer opens it


async def test_a_principal_holds_a_bounded_number_of_streams(
    services: dict[str, str], token: TokenFactory
) -> None:
    mine = bearer(token("operator", sub=f"op-{uuid.uuid4().hex[:6]}"))
    theirs = bearer(token("operator", sub=f"op-{uuid.uuid4().hex[:6]}"))
    async with contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(
            httpx.AsyncClient(base_url=services["reporting"], timeout=30)
        )

        async def open_stream(headers: dict[str, str]) -> httpx.Response:
            return await stack.enter_async_context(
                client.stream("GET", "/v1/stream", headers=headers)
            )

        held = [await open_stream(mine) for _ in range(5)]
        assert [r.status_code for r in held] == [200] * 5
        refused = await client.get("/v1/stream", headers=mine)
        assert refused.status_code == 429 and refused.json()["type"] == "/problems/too-many-streams"
        assert "Retry-After" in refused.headers
        other = await open_stream(theirs)
        assert other.status_code == 200  # the bound is per principal
        await held[0].aclose()
        for _ in range(50):  # the server notices the closed connection and frees its slot
            async with client.stream("GET", "/v1/stream", headers=mine) as answer:
                status = answer.status_code
            if status != 429:
                break
            await asyncio.sleep(0.2)
    assert status == 200
