"""Officers' personal data: sealed per officer, disclosed only with a justification and logged,
and erased everywhere by destroying the officer's key."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from jiph.stack.config import StackConfig
from jiph.stack.postgres import PostgresTarget
from shared.topics import all_topics
from tests.e2e.test_deployment_support import (
    Api,
    an_offer,
    deployment_database_url,
    deployment_log,
    read_all,
)
from tests.running_services import TokenFactory, bearer

pytestmark = pytest.mark.e2e
WHY = "Arranging the pre-deployment briefing with the officer"


@pytest.fixture
async def api(services: dict[str, str], token: TokenFactory) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=services["deployment"], timeout=30) as client:
        yield Api(client, token)


def home() -> str:
    return f"force-{uuid.uuid4().hex[:8]}"


async def read(
    api: Api, ref: str, why: str | None = WHY, headers: dict[str, str] | None = None
) -> httpx.Response:
    extra = {} if why is None else {"X-Justification": why}
    return await api.client.get(
        f"/v1/officers/{ref}", headers={**(headers or api.manager), **extra}
    )


async def access_log(api: Api, ref: str) -> list[dict[str, Any]]:
    response = await api.client.get(
        "/v1/access-log", params={"officer_ref": ref}, headers=api.admin
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def test_personal_data_is_disclosed_only_with_a_justification_and_each_read_is_logged(
    api: Api,
) -> None:
    ref = (await api.offer(home()))["officer_ref"]

    missing = await read(api, ref, why=None)
    assert (
        missing.status_code == 422
        and missing.json()["errors"][0]["field"] == "header.X-Justification"
    )
    assert (await read(api, ref, why="because")).status_code == 422  # too short to say why
    assert (await read(api, ref, why="x" * 501)).status_code == 422
    assert await access_log(api, ref) == []

    first = await read(api, ref)
    assert first.status_code == 200, first.text
    assert first.headers["Cache-Control"] == "no-store"
    officer = first.json()
    assert (
        officer["name"] == "Jo Smith" and officer["contact"]["email"] == "jo.smith@police.example"
    )
    assert officer["next_of_kin"]["relationship"] == "spouse" and officer["erased_at"] is None
    assert (await read(api, ref, why="Confirming next of kin before the flight")).status_code == 200

    entries = await access_log(api, ref)
    assert len(entries) == 2  # one entry per read, newest first
    assert entries[1]["id"] == officer["access_log_id"]
    assert entries[1] | {"id": 0, "at": "", "correlation_id": ""} == {
        "id": 0,
        "at": "",
        "correlation_id": "",
        "actor": "manager-1",
        "actor_role": "deployment_manager",
        "action": "read",
        "officer_ref": ref,
        "justification": WHY,
        "fields": ["name", "contact", "next_of_kin"],
        "recipient": "manager-1",
    }
    assert entries[0]["justification"] == "Confirming next of kin before the flight"
    page = await api.client.get(
        "/v1/access-log",
        headers=api.admin,
        params={"officer_ref": ref, "limit": 1, "action": "read"},
    )
    assert [e["id"] for e in page.json()["items"]] == [entries[0]["id"]]
    rest = await api.client.get(
        "/v1/access-log",
        headers=api.admin,
        params={"officer_ref": ref, "cursor": page.json()["next_cursor"]},
    )
    assert [e["id"] for e in rest.json()["items"]] == [entries[1]["id"]]


async def test_only_deployment_managers_read_personal_data_and_only_admins_the_log(
    api: Api,
) -> None:
    force = home()
    ref = (await api.offer(force))["officer_ref"]
    assert (await read(api, ref, headers=api.liaison(force))).status_code == 403
    assert (await read(api, ref, headers=api.admin)).status_code == 403
    assert (await api.client.get("/v1/access-log", headers=api.manager)).status_code == 403
    assert (await read(api, "OFF-NOSUCHOFFICER")).status_code == 404
    assert await access_log(api, ref) == []


def pg_dump(url: str) -> bytes:
    done = subprocess.run(
        ["pg_dump", "--no-owner", url], capture_output=True, check=True, timeout=120
    )
    return done.stdout


async def test_erasure_leaves_the_personal_data_unreadable_everywhere(
    api: Api, bootstrap: str, infra: PostgresTarget, test_stack: StackConfig, token: TokenFactory
) -> None:
    canary = f"CANARY-{uuid.uuid4().hex}"
    force = home()
    officer = {
        "name": canary,
        "contact": {"email": f"{canary}@police.example", "phone": "+44 20 7946 0001"},
        "next_of_kin": {
            "name": f"{canary}-KIN",
            "relationship": "parent",
            "email": f"kin.{canary}@mail.example",
        },
    }
    # With an Idempotency-Key: the stored response must not hold the personal data either.
    headers = api.liaison(force) | {"Idempotency-Key": str(uuid.uuid4())}
    offered = await api.client.post("/v1/offers", json=an_offer(officer=officer), headers=headers)
    assert offered.status_code == 201, offered.text
    replayed = await api.client.post("/v1/offers", json=an_offer(officer=officer), headers=headers)
    assert replayed.headers.get("Idempotent-Replayed") == "true"
    assert replayed.json() == offered.json()
    ref = offered.json()["offer"]["officer_ref"]
    did = (await api.plan(await api.requirement(bootstrap, headcount=1)))["id"]
    nominated = await api.post(f"/v1/deployments/{did}/nominations", officer_ref=ref)
    assert nominated.status_code == 201, nominated.text
    before = await read(api, ref)
    assert before.json()["name"] == canary  # readable while the key exists...
    database = deployment_database_url(infra)
    assert canary.encode() not in await asyncio.to_thread(pg_dump, database)  # ...but never stored

    erased = await api.client.delete(f"/v1/officers/{ref}/personal-data", headers=api.admin)
    assert erased.status_code == 200, erased.text
    again = await api.client.delete(f"/v1/officers/{ref}/personal-data", headers=api.admin)
    assert again.status_code == 409 and again.json()["type"] == "/problems/already-erased"

    after = await read(api, ref)
    assert after.status_code == 200, after.text
    view = after.json()
    assert (view["name"], view["contact"], view["next_of_kin"]) == ("erased",) * 3
    assert view["erased_at"] is not None and view["access_log_id"] is None
    assert [e["action"] for e in await access_log(api, ref)] == ["erasure", "read"]

    # The deployment stays intact, and its stream still loads for the next command.
    deployment = await api.deployment(did)
    assert [(o["officer_ref"], o["personal_data"]) for o in deployment["officers"]] == [
        (ref, "erased")
    ]
    released = await api.post(
        f"/v1/deployments/{did}/officers/{ref}/release", headers=api.liaison(force)
    )
    assert released.status_code == 200, released.text

    needle = canary.split("-", 1)[1].encode()  # the unique part, in any surrounding form
    dump = await asyncio.to_thread(pg_dump, database)
    assert ref.encode() in dump  # the search looks where the officer is
    assert needle not in dump.lower()
    for record in await read_all(bootstrap, all_topics()):
        blob = (record.value or b"") + b"".join(v for _, v in record.headers or ())
        assert needle not in blob.lower(), f"found on {record.topic}"
    operator = bearer(token("operator", sub="operator-1"))
    for status in ("parked", "redriven", "skipped"):
        letters = await api.client.get(
            "/v1/admin/deadletters", params={"status": status}, headers=operator
        )
        assert letters.status_code == 200 and needle.decode() not in letters.text.lower()
    log = deployment_log(test_stack)
    assert log.exists() and needle not in log.read_bytes().lower()
