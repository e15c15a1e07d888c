"""Two deployment managers nominate one officer to overlapping tours at the same moment: real
concurrent HTTP requests, and exactly one of them may succeed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.e2e.test_deployment_support import Api, days
from tests.running_services import TokenFactory, bearer

pytestmark = pytest.mark.e2e
ROUNDS = 5


@pytest.fixture
async def api(services: dict[str, str], token: TokenFactory) -> AsyncIterator[Api]:
    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(
        base_url=services["deployment"], timeout=30, limits=limits
    ) as client:
        yield Api(client, token)


async def test_two_managers_cannot_book_one_officer_onto_overlapping_tours(
    api: Api, bootstrap: str, token: TokenFactory
) -> None:
    other_manager = bearer(token("deployment_manager", sub="manager-2"))
    for _ in range(ROUNDS):
        ref = (await api.offer(f"force-{uuid.uuid4().hex[:6]}"))["officer_ref"]
        a = (await api.plan(await api.requirement(bootstrap), tour_start=days(14)))["id"]
        b = (await api.plan(await api.requirement(bootstrap), tour_start=days(60)))["id"]

        answers = await asyncio.gather(
            api.post(f"/v1/deployments/{a}/nominations", officer_ref=ref),
            api.post(f"/v1/deployments/{b}/nominations", headers=other_manager, officer_ref=ref),
        )

        codes = sorted(r.status_code for r in answers)
        assert codes == [201, 409], [r.text for r in answers]
        refused = next(r for r in answers if r.status_code == 409)
        assert refused.json()["type"] == "/problems/officer-double-booked"
        booked = [
            d
            for d in (a, b)
            if any(o["officer_ref"] == ref for o in (await api.deployment(d))["officers"])
        ]
        assert len(booked) == 1


async def test_a_deployment_with_one_post_takes_one_of_two_simultaneous_nominations(
    api: Api, bootstrap: str
) -> None:
    home = f"force-{uuid.uuid4().hex[:6]}"
    refs = [(await api.offer(home))["officer_ref"] for _ in range(2)]
    did = (await api.plan(await api.requirement(bootstrap, headcount=1)))["id"]

    answers = await asyncio.gather(
        *(api.post(f"/v1/deployments/{did}/nominations", officer_ref=ref) for ref in refs)
    )

    assert sorted(r.status_code for r in answers) == [201, 409], [r.text for r in answers]
    assert len((await api.deployment(did))["officers"]) == 1
    # The loser's booking was rolled back with its nomination: the officer is free.
    loser = next(ref for ref, r in zip(refs, answers, strict=True) if r.status_code == 409)
    other = (await api.plan(await api.requirement(bootstrap, headcount=1)))["id"]
    assert (
        await api.post(f"/v1/deployments/{other}/nominations", officer_ref=loser)
    ).status_code == 201
