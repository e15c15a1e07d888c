"""Need to know, through every read endpoint of every service (from their OpenAPI documents):
OFFICIAL-SENSITIVE text reaches no reader without SC clearance, in JSON, CSV or the live stream,
while a cleared reader sees all that the same reader sees of OFFICIAL material; and internal text
reaches no partner. The data is one story per classification with a canary in every text field
(`tests/e2e/canaries.py`)."""

from __future__ import annotations

import asyncio
import itertools
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.e2e.canaries import (
    FIELDS,
    FOR_PARTNER,
    INTERNAL,
    OFFICIAL,
    SENSITIVE,
    Clients,
    Story,
    found,
    tell,
)
from tests.e2e.test_triage_flow import Hub
from tests.running_services import TokenFactory, bearer

pytestmark = pytest.mark.e2e
RUN = uuid.uuid4().hex[:10]
STAFF = (
    "triage_officer",
    "approver",
    "minister",
    "admin",
    "analyst",
    "deployment_manager",
    "force_liaison",
    "operator",
)
#: Reads that hold nothing of any request: liveness, the static event catalogue.
NOT_DATA = {
    "/healthz",
    "/readyz",
    "/asyncapi.json",
    "/dashboard/config.json",
    "/dashboard/reference.json",  # the filters' code lists: reference data only
}
#: Reads for partners alone (their own requests): `test_no_internal_text_reaches_a_partner`.
PARTNERS_ONLY = {
    ("intake", "/v1/requests"),
    ("intake", "/v1/requests/{request_id}"),
    ("intake", "/v1/webhook-endpoints"),  # a partner's own endpoints: no request text in them
}
#: A moment after every story: `as_of` it shows each story whole, made again from its events.
AFTER_EVERYTHING = "2190-01-01T00:00:00Z"
PAGES = 40  # cursors followed at most per listing
WHY = "Need-to-know matrix test of the gateway"
Seen = dict[tuple["Call", str, bool], set[tuple[str, str]]]


@dataclass
class World:
    services: dict[str, str]
    stories: dict[str, Story]
    hub: Hub
    force: str  # of every officer of both stories


@pytest.fixture(scope="module")
async def world(services: dict[str, str], token: TokenFactory) -> AsyncIterator[World]:
    hub, force = Hub(token), f"force-{RUN}"
    async with (
        httpx.AsyncClient(base_url=services["intake"], timeout=30) as intake,
        httpx.AsyncClient(base_url=services["triage"], timeout=30) as triage,
        httpx.AsyncClient(base_url=services["deployment"], timeout=30) as deployment,
    ):
        clients = Clients(intake, triage, deployment)
        stories = {
            tag: await tell(clients, token, hub, Story(tag, RUN), force)
            for tag in (SENSITIVE, OFFICIAL)
        }
    async with httpx.AsyncClient(base_url=services["reporting"], timeout=30) as reporting:
        analyst = bearer(token("analyst"))
        for story in stories.values():  # reporting has consumed both stories to their ends
            for _ in range(150):
                audit = await reporting.get(f"/v1/audit/{story.rejected_id}", headers=analyst)
                events = audit.json().get("events", []) if audit.status_code == 200 else []
                if any(e["event_type"] == "RequestRejected" for e in events):
                    break
                await asyncio.sleep(0.2)
    yield World(services, stories, hub, force)


# --- the routes --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Call:
    service: str
    base: str
    route: str
    path: str
    params: tuple[tuple[str, str], ...]
    about: str | None  # the story the path names (None: a listing of both)
    which: int = 0  # which of the story's objects of that kind it names


async def every_read(world: World) -> list[Call]:
    """Each GET route of each service's OpenAPI document, made concrete for both stories."""
    calls = []
    async with httpx.AsyncClient(timeout=10) as client:
        for service, base in world.services.items():
            document = (await client.get(f"{base}/openapi.json")).json()
            for route, operations in document["paths"].items():
                if "get" not in operations or route in NOT_DATA:
                    continue
                parameters = operations["get"].get("parameters", ())
                names = {p["name"] for p in parameters}
                required = tuple(
                    (p["name"], str(p["schema"]["enum"][0]))
                    for p in parameters
                    if p["in"] == "query" and p.get("required") and "enum" in p["schema"]
                )
                variants: list[tuple[tuple[str, str], ...]] = [required]
                if "format" in names:
                    variants.append((*required, ("format", "csv")))
                # A read of the past (`shared.as_of`): the first version, and a time after
                # everything (the whole story, made again from its events).
                if "as_of_version" in names:
                    variants.append((*required, ("as_of_version", "1")))
                if "as_of" in names:
                    variants.append((*required, ("as_of", AFTER_EVERYTHING)))
                for tag, story in world.stories.items():
                    about = tag if "{" in route else None
                    calls += [
                        Call(service, base, route, path, v, about, n)
                        for n, path in enumerate(fill(route, story))
                        for v in variants
                    ]
                    if about is None:
                        break  # a listing holds both stories
    return calls


def fill(route: str, story: Story) -> list[str]:
    """The route with each of the story's objects it can name (both requests, both deployments)."""
    values = {
        "request_id": [story.request_id, story.rejected_id],
        "deployment_id": [story.deployment_id, story.cancelled_deployment],
        "officer_ref": [story.officer_ref],
        "offer_id": [story.offer_id],
        "partner_id": [story.partner_id],
    }
    names = re.findall(r"{([a-z_]+)}", route)
    if any(n not in values for n in names):
        return []
    return [
        route.format(**dict(zip(names, chosen, strict=True)))
        for chosen in itertools.product(*(values[n] for n in names))
    ]


async def read(
    client: httpx.AsyncClient, call: Call, headers: dict[str, str], world: World
) -> tuple[int, str]:
    """The status and the whole body: every page of a listing, the stream's backlog."""
    if call.route.endswith("/stream"):
        return await read_stream(client, call, headers, world)
    params = dict(call.params)
    texts = []
    for _ in range(PAGES):
        answer = await client.get(call.base + call.path, params=params, headers=headers)
        if answer.status_code != 200:
            return answer.status_code, answer.text
        texts.append(answer.text)
        json = answer.headers.get("content-type", "").startswith("application/json")
        cursor = answer.json().get("next_cursor") if json else None
        if not cursor:
            break
        params["cursor"] = cursor
    return 200, "\n".join(texts)


async def read_stream(
    client: httpx.AsyncClient, call: Call, headers: dict[str, str], world: World
) -> tuple[int, str]:
    """The feed's backlog of each story's request, from its first event, until it goes quiet."""
    chunks: list[str] = []
    for story in world.stories.values():
        params = {"since": "0", "request_id": story.request_id}
        async with client.stream(
            "GET", call.base + call.path, params=params, headers=headers
        ) as answer:
            if answer.status_code != 200:
                return answer.status_code, (await answer.aread()).decode()
            text = answer.aiter_text()
            while True:
                try:
                    chunks.append(await asyncio.wait_for(anext(text), timeout=1.0))
                except (TimeoutError, StopAsyncIteration):
                    break
    return 200, "".join(chunks)


def reader(token: TokenFactory, role: str, cleared: bool, world: World) -> dict[str, str]:
    """A reader of `role`; the deployment manager and the liaison officer are those of the
    stories' deployments and officers, so that their need to know opens every read to them."""
    claims: dict[str, Any] = {"sub": f"{role}-{RUN}"}
    if cleared:
        claims["clearance"] = "sc"
    if role == "force_liaison":
        claims["force"] = world.force
    if role == "deployment_manager":
        claims["sub"] = world.hub.names["dave"]
    return bearer(token(role, **claims)) | {"X-Justification": WHY}


# --- the matrix ----------------------------------------------------------------------------------
async def test_no_official_sensitive_text_reaches_an_uncleared_reader_anywhere(
    world: World, token: TokenFactory
) -> None:
    calls = await every_read(world)
    assert len({(c.base, c.route) for c in calls}) >= 20  # every read, not a sample
    seen: Seen = {}
    async with httpx.AsyncClient(timeout=30) as client:
        for call in calls:
            for role in STAFF:
                for cleared in (False, True):
                    status, body = await read(
                        client, call, reader(token, role, cleared, world), world
                    )
                    if status == 200:
                        seen[(call, role, cleared)] = found(body, RUN)
    unread = {(c.service, c.route) for c in calls} - {(c.service, c.route) for c, _, _ in seen}
    assert unread == PARTNERS_ONLY, "a read no staff role made: the matrix would miss it"

    leaks = {
        (c.base + c.path, c.params, role): sorted(f for t, f in fields if t == SENSITIVE)
        for (c, role, cleared), fields in seen.items()
        if not cleared and any(t == SENSITIVE for t, _ in fields)
    }
    assert leaks == {}, f"OFFICIAL-SENSITIVE text reached uncleared readers: {leaks}"

    # A cleared reader sees of OFFICIAL-SENSITIVE material exactly the fields the same reader,
    # uncleared, sees of OFFICIAL material: redaction takes that away, and nothing more.
    differs = {}
    for (call, role, cleared), fields in seen.items():
        if not cleared or call.about == OFFICIAL:
            continue
        twin = call if call.about is None else _twin(call, calls)
        official = {f for t, f in seen.get((twin, role, False), set()) if t == OFFICIAL}
        sensitive = {f for t, f in fields if t == SENSITIVE}
        if sensitive != official:
            differs[(call.base, call.route, call.params, role)] = sorted(sensitive ^ official)
    assert differs == {}, differs
    shown = {f for (_, _, cleared), fs in seen.items() if cleared for t, f in fs if t == SENSITIVE}
    assert shown == FIELDS  # every canary reached a cleared reader somewhere: the test can fail


def _twin(call: Call, calls: list[Call]) -> Call:
    """The same read of the OFFICIAL story."""
    return next(
        c
        for c in calls
        if (c.base, c.route, c.params, c.which, c.about)
        == (call.base, call.route, call.params, call.which, OFFICIAL)
    )


# --- partners ------------------------------------------------------------------------------------
async def test_no_internal_text_reaches_a_partner(world: World) -> None:
    """Every decision, hold, cancellation and repatriation of both stories wrote internal text;
    the partner's own reads show none of it, nor who decided, and do show what staff wrote for
    the partner."""
    async with httpx.AsyncClient(base_url=world.services["intake"], timeout=30) as intake:
        for story in world.stories.values():
            bodies = []
            for path, params in (
                ("/v1/requests", {}),
                (f"/v1/requests/{story.request_id}", {}),
                (f"/v1/requests/{story.rejected_id}", {}),
                (f"/v1/requests/{story.request_id}", {"as_of": AFTER_EVERYTHING}),
                (f"/v1/requests/{story.request_id}", {"as_of_version": "1"}),
            ):
                answer = await intake.get(path, params=params, headers=story.partner)
                assert answer.status_code == 200, answer.text
                bodies.append(answer.text)
            text = "\n".join(bodies)
            fields = {f for t, f in found(text, RUN) if t == story.tag}
            assert fields & INTERNAL == set(), f"internal text reached the partner: {fields}"
            assert fields >= FOR_PARTNER, f"what staff wrote for the partner is missing: {fields}"
            assert {"questions", "answers", "title"} <= fields
            for name in world.hub.names.values():
                assert name not in text, f"the partner learns who decided: {name}"
