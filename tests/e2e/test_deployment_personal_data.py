"""Officers' personal data: sealed per officer under a key on the key store, disclosed on a need
to know basis with a justification and logged, exported for the officer (subject access), and
erased everywhere by destroying the officer's key: on request or by the retention rule."""

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
    days,
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
    extra = {} if why is None else {"X-Justification": why.encode()}  # UTF-8, as clients send
    return await api.client.get(
        f"/v1/officers/{ref}", headers={**(headers or api.manager), **extra}
    )


async def access_log(api: Api, ref: str) -> list[dict[str, Any]]:
    response = await api.client.get(
        "/v1/access-log", params={"officer_ref": ref}, headers=api.admin
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def staffed(api: Api, bootstrap: str, force: str) -> tuple[str, str]:
    """An officer of `force` nominated to a deployment `api.manager` planned: (ref, deployment)."""
    ref = (await api.offer(force))["officer_ref"]
    did = (await api.plan(await api.requirement(bootstrap, headcount=1)))["id"]
    nominated = await api.post(f"/v1/deployments/{did}/nominations", officer_ref=ref)
    assert nominated.status_code == 201, nominated.text
    return ref, did


async def test_a_justification_must_say_something_and_each_read_is_logged(
    api: Api, bootstrap: str
) -> None:
    force = home()
    ref, _ = await staffed(api, bootstrap, force)

    missing = await read(api, ref, why=None)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "header.X-Justification"
    for empty in ("because", "\u00a0" * 9 + "x", "\u2003\u200b" * 20 + "abc", "x" * 501):
        refused = await read(api, ref, why=empty)
        assert refused.status_code == 422, empty
        assert refused.json()["errors"][0]["field"] == "header.X-Justification"
    assert await access_log(api, ref) == []

    first = await read(api, ref)
    assert first.status_code == 200, first.text
    assert first.headers["Cache-Control"] == "no-store"
    officer = first.json()
    assert officer["name"] == "Jo Smith"
    assert officer["contact"]["email"] == "jo.smith@police.example"
    assert officer["next_of_kin"]["relationship"] == "spouse" and officer["erased_at"] is None
    liaison = await read(
        api, ref, why="Confirming next of kin — before the flight", headers=api.liaison(force)
    )
    assert liaison.status_code == 200 and liaison.json()["name"] == "Jo Smith"

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
    assert entries[0]["id"] == liaison.json()["access_log_id"]
    assert (entries[0]["actor"], entries[0]["actor_role"]) == (f"liaison-{force}", "force_liaison")
    assert entries[0]["justification"] == "Confirming next of kin — before the flight"
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


async def test_the_access_log_holds_every_read_and_nothing_else(
    api: Api, bootstrap: str, token: TokenFactory
) -> None:
    """s.62 completeness: concurrent reads by everyone entitled, mixed with refused ones; every
    disclosure has exactly one entry, with the reader, the reason and the fields."""
    force = home()
    ref, _ = await staffed(api, bootstrap, force)
    other_manager = bearer(token("deployment_manager", sub="manager-2", clearance="sc"))
    readers = [api.manager, api.liaison(force)] * 6
    refused = [other_manager, api.liaison(home()), api.admin] * 2
    reasons = [f"{WHY} (#{i})" for i in range(len(readers) + len(refused))]
    answers = await asyncio.gather(
        *(read(api, ref, why=w, headers=h) for w, h in zip(reasons, readers + refused, strict=True))
    )
    statuses = [a.status_code for a in answers]
    assert statuses == [200] * len(readers) + [403, 404, 403] * 2, statuses
    entries = await access_log(api, ref)
    assert sorted(e["id"] for e in entries) == sorted(
        a.json()["access_log_id"] for a in answers[:12]
    )
    assert sorted(e["justification"] for e in entries) == sorted(reasons[: len(readers)])
    assert {(e["action"], tuple(e["fields"])) for e in entries} == {
        ("read", ("name", "contact", "next_of_kin"))
    }


async def test_personal_data_only_for_who_needs_to_know(
    api: Api, bootstrap: str, token: TokenFactory
) -> None:
    force = home()
    ref, did = await staffed(api, bootstrap, force)
    bystander_ref = (await api.offer(force))["officer_ref"]  # offered, on no deployment
    other_manager = bearer(token("deployment_manager", sub="manager-2", clearance="sc"))

    assert (await read(api, ref)).status_code == 200  # the manager of the officer's deployment
    assert (await read(api, ref, headers=api.liaison(force))).status_code == 200  # own force
    assert (await read(api, bystander_ref, headers=api.liaison(force))).status_code == 200
    denied = await read(api, ref, headers=other_manager)
    assert denied.status_code == 403 and denied.json()["type"] == "/problems/need-to-know"
    assert (await read(api, bystander_ref)).status_code == 403  # on none of manager-1's
    # Another force's liaison officer cannot tell the officer from one that does not exist.
    stranger = await read(api, ref, headers=api.liaison(home()))
    missing = await read(api, "OFF-NOSUCHOFFICER", headers=api.liaison(home()))
    assert stranger.status_code == missing.status_code == 404
    assert (stranger.json()["type"], stranger.json()["detail"]) == (
        missing.json()["type"],
        missing.json()["detail"],
    )
    for role in ("admin", "analyst", "triage_officer", "operator"):
        assert (await read(api, ref, headers=bearer(token(role)))).status_code == 403, role
    assert (await api.client.get("/v1/access-log", headers=api.manager)).status_code == 403

    # Once the officer is no longer on a live deployment, its manager's need to know ends.
    cancelled = await api.post(f"/v1/deployments/{did}/cancellation", reason="Mandate ended")
    assert cancelled.status_code == 200, cancelled.text
    after = await read(api, ref)
    assert after.status_code == 403 and after.json()["type"] == "/problems/need-to-know"
    assert (await read(api, ref, headers=api.liaison(force))).status_code == 200


async def test_another_forces_liaison_learns_nothing_of_a_deployment(
    api: Api, bootstrap: str
) -> None:
    force, stranger = home(), api.liaison(home())
    ref, did = await staffed(api, bootstrap, force)
    for path in (
        f"/v1/deployments/{did}/officers/{ref}/release",
        f"/v1/deployments/{did}/officers/OFF-NOSUCHOFFICER/release",
        f"/v1/deployments/{uuid.uuid4()}/officers/{ref}/release",
    ):
        answer = await api.post(path, headers=stranger)
        assert answer.status_code == 404, (path, answer.text)
    assert (await api.client.get(f"/v1/deployments/{did}", headers=stranger)).status_code == 404
    listing = await api.client.get("/v1/deployments", headers=stranger)
    assert did not in {d["id"] for d in listing.json()["items"]}


async def test_the_subject_access_export_holds_everything_and_is_logged(
    api: Api, bootstrap: str
) -> None:
    force = home()
    ref, did = await staffed(api, bootstrap, force)
    assert (await read(api, ref)).status_code == 200
    assert (
        await api.client.get(f"/v1/officers/{ref}/subject-access", headers=api.manager)
    ).status_code == 403
    no_reason = await api.client.get(f"/v1/officers/{ref}/subject-access", headers=api.admin)
    assert no_reason.status_code == 422

    why = "Subject access request SAR-2026-0042 from the officer"
    export = await api.client.get(
        f"/v1/officers/{ref}/subject-access", headers=api.admin | {"X-Justification": why}
    )
    assert export.status_code == 200, export.text
    assert export.headers["Cache-Control"] == "no-store"
    assert "attachment" in export.headers["Content-Disposition"]
    held = export.json()
    assert held["officer_ref"] == ref and held["force"] == force
    assert held["personal_data"]["name"] == "Jo Smith"
    assert [o["officer_ref"] for o in held["offers"]] == [ref]
    assert [t["deployment_id"] for t in held["deployments"]] == [did]
    assert held["deployments"][0]["status"] == "nominated"
    assert [b["deployment_id"] for b in held["bookings"]] == [did]
    assert [e["event"] for e in held["events"]] == ["CapabilityOffered", "OfficerNominated"]
    assert all("personal_data" not in e["data"] for e in held["events"])
    # Who consulted the data: the earlier read, and this export itself.
    assert [(e["action"], e["actor"]) for e in held["access_log"]] == [
        ("read", "manager-1"),
        ("export", "admin-1"),
    ]
    assert held["access_log"][-1]["id"] == held["export_log_id"]
    [entry] = [e for e in await access_log(api, ref) if e["action"] == "export"]
    assert entry["justification"] == why and "s.45" in entry["recipient"]

    erased = await api.client.delete(f"/v1/officers/{ref}/personal-data", headers=api.admin)
    assert erased.status_code == 200, erased.text
    after = await api.client.get(
        f"/v1/officers/{ref}/subject-access", headers=api.admin | {"X-Justification": why}
    )
    assert after.status_code == 200 and after.json()["erased_at"] is not None
    assert set(after.json()["personal_data"].values()) == {"erased"}


async def test_the_retention_rule_erases_what_is_past_its_period(
    api: Api, bootstrap: str, services: dict[str, str]
) -> None:
    """Officers last in use (tour, offer) more than the retention period (730 days by default)
    before "today" are erased, each with an access-log entry; the others are untouched."""
    force = home()
    stale = (await api.offer(force, available_to=days(100)))["officer_ref"]
    current = (await api.offer(force, available_to=days(1100)))["officer_ref"]
    erasures_before = await metric(
        services, 'jiph_personal_data_erasures_total{reason="retention"}'
    )

    today = days(100 + 731)
    done = await api.client.post(
        "/v1/admin/retention",
        params={"force": force},
        headers=api.admin | {"X-Jiph-Today": today},
    )
    assert done.status_code == 200, done.text
    assert done.json() | {"cutoff": ""} == {
        "retention_days": 730,
        "cutoff": "",
        "erased": [stale],
        "remaining": 0,
    }
    assert [e["actor"] for e in await access_log(api, stale)] == ["retention"]
    assert await access_log(api, current) == []
    liaison = api.liaison(force)
    assert (await read(api, stale, headers=liaison)).json()["name"] == "erased"
    assert (await read(api, current, headers=liaison)).json()["name"] == "Jo Smith"
    again = await api.client.post(
        "/v1/admin/retention",
        params={"force": force},
        headers=api.admin | {"X-Jiph-Today": today},
    )
    assert again.json()["erased"] == []
    erasures_after = await metric(services, 'jiph_personal_data_erasures_total{reason="retention"}')
    assert erasures_after == erasures_before + 1
    assert await metric(services, "jiph_personal_data_due_for_erasure") == 0


async def metric(services: dict[str, str], name: str) -> float:
    async with httpx.AsyncClient(base_url=services["deployment"]) as client:
        text = (await client.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


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
    assert before.json()["name"] == canary, before.text  # readable while the key exists...
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
